//! Prometheus metrics for `GET /metrics`, on the `prometheus-client` crate: one
//! [`Registry`] per server holding the updater's, reloads', alerts' and agents' families,
//! the query counters (lock-free blocks routing asks for, see [`query`]), the build and
//! process metrics ([`process`]), the state gauges (pools, policies, targets: a collector
//! control installs once the table exists), and whatever other modules register
//! themselves when the server starts (dns, health).
//!
//! A leaf module: it imports nothing else from the crate, so any module may count.
//! One [`Metrics`] value per server, shared by `Arc`; a scrape encodes the registry.

pub mod process;
pub mod query;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    prometheus_text, DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
pub use prometheus_client::registry::Registry;

use query::QueryRegistry;

/// The exposition's content type: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency bucket bounds in seconds: from a loopback probe (sub-millisecond) to a probe
/// timeout. Table rebuilds use them too.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A histogram on [`LATENCY_BUCKETS`] (a `fn` so a [`Family`] can make one per label set).
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A family that declares itself (`# HELP`, `# TYPE`) even before its first sample, as
/// the exposition always has: prometheus-client leaves empty families out.
#[derive(Debug, Clone)]
pub struct Declared<M>(pub M);

impl<M: EncodeMetric> EncodeMetric for Declared<M> {
    fn encode(&self, encoder: MetricEncoder) -> std::fmt::Result {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZonePolicy {
    zone: Arc<str>,
    policy: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZonePoolTo {
    zone: Arc<str>,
    pool: Arc<str>,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: &'static str,
}

type ByResult = Family<Outcome, Counter>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refusal {
    result: &'static str,
    /// Empty for accepted reports (an empty label is no label to Prometheus).
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: &'static str,
}

/// A check id (`<zone origin>/<check name>`) as the `zone` and `check` labels: an
/// origin holds no `/`, so the first one divides them.
pub fn zone_and_check(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or(("", id))
}

/// A collector installed after the registry is built: the state gauges read the routing
/// table, which exists only once the metrics it counts into do.
#[derive(Debug, Default)]
struct Late(OnceLock<Box<dyn Collector>>);

impl Collector for Late {
    fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
        match self.0.get() {
            Some(c) => c.encode(encoder),
            None => Ok(()),
        }
    }
}

pub struct Metrics {
    registry: Registry,
    /// The query counter blocks; routing takes a zone's blocks from here as it builds.
    pub queries: Arc<QueryRegistry>,
    answer_changes: Family<ZonePolicy, Counter>,
    pool_transitions: Family<ZonePoolTo, Counter>,
    epoch: Gauge<u64, AtomicU64>,
    rebuild: Histogram,
    last_rebuild: Gauge<f64, AtomicU64>,
    reloads: ByResult,
    last_reload: Gauge<f64, AtomicU64>,
    agent_reports: Family<Refusal, Counter>,
    build_info: Family<Version, Gauge>,
    state: Arc<Late>,
    alerts: ByResult,
    overrides_active: Gauge<u64, AtomicU64>,
    drills: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(|_| {})
    }
}

/// A counter by `result`, every result present from the start (at 0).
fn by_result(results: &[&'static str]) -> ByResult {
    let f = ByResult::default();
    for &result in results {
        let _ = f.get_or_create(&Outcome { result });
    }
    f
}

impl Metrics {
    /// A registry with this module's families; `register` adds other modules' own
    /// (called once, before anything is served).
    pub fn new(register: impl FnOnce(&mut Registry)) -> Self {
        let m = Self {
            registry: Registry::default(),
            queries: Arc::default(),
            answer_changes: Family::default(),
            pool_transitions: Family::default(),
            epoch: Gauge::default(),
            rebuild: latency_histogram(),
            last_rebuild: Gauge::default(),
            reloads: by_result(&["success", "failure"]),
            last_reload: Gauge::default(),
            agent_reports: Family::default(),
            build_info: Family::default(),
            state: Arc::default(),
            alerts: by_result(&["sent", "failed", "dropped"]),
            overrides_active: Gauge::default(),
            drills: Counter::default(),
        };
        m.build_info
            .get_or_create(&Version {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        let _ = m.agent_reports.get_or_create(&Refusal {
            result: "accepted",
            reason: "",
        });
        let mut registry = Registry::default();
        m.register(&mut registry);
        register(&mut registry);
        Self { registry, ..m }
    }

    /// This module's families. prometheus-client appends `_total` to counter names and
    /// a full stop to help texts, so neither is written here.
    fn register(&self, r: &mut Registry) {
        r.register_collector(Box::new(self.queries.clone()));
        r.register_collector(Box::new(self.state.clone()));
        r.register_collector(Box::new(process::ProcessCollector));
        r.register(
            "switchyard_build_info",
            "The running version: always 1",
            self.build_info.clone(),
        );
        r.register(
            "switchyard_answer_changes",
            "Times a policy's answer changed (failovers and failbacks)",
            Declared(self.answer_changes.clone()),
        );
        r.register(
            "switchyard_pool_transitions",
            "Pool state changes, health and overrides together",
            Declared(self.pool_transitions.clone()),
        );
        r.register(
            "switchyard_table_epoch",
            "Epoch of the routing table being served",
            self.epoch.clone(),
        );
        r.register(
            "switchyard_table_rebuild_seconds",
            "Time to build a routing table",
            self.rebuild.clone(),
        );
        r.register(
            "switchyard_table_last_rebuild_duration_seconds",
            "Time the latest routing table took to build",
            self.last_rebuild.clone(),
        );
        r.register(
            "switchyard_reloads",
            "Zone reloads by result; a failed one changed nothing",
            self.reloads.clone(),
        );
        r.register(
            "switchyard_reload_last_success_timestamp_seconds",
            "When the zones being served were loaded (start-up or the last good reload), Unix time",
            self.last_reload.clone(),
        );
        r.register(
            "switchyard_agent_reports",
            "Probe-agent reports by result, and for rejected ones the reason",
            self.agent_reports.clone(),
        );
        r.register(
            "switchyard_alerts",
            "Webhook deliveries: sent, failed after every retry, or dropped on a full queue",
            self.alerts.clone(),
        );
        r.register(
            "switchyard_overrides_active",
            "Operator overrides and drills in force",
            self.overrides_active.clone(),
        );
        r.register(
            "switchyard_drills",
            "Failover drills started",
            self.drills.clone(),
        );
    }

    pub fn table_built(&self, epoch: u64, took: Duration) {
        self.epoch.set(epoch);
        self.rebuild.observe(took.as_secs_f64());
        self.last_rebuild.set(took.as_secs_f64());
    }

    pub fn answer_changed(&self, zone: &str, policy: &str) {
        let labels = ZonePolicy {
            zone: zone.into(),
            policy: policy.into(),
        };
        self.answer_changes.get_or_create(&labels).inc();
    }

    pub fn pool_transition(&self, zone: &str, pool: &str, up: bool) {
        let labels = ZonePoolTo {
            zone: zone.into(),
            pool: pool.into(),
            to: if up { "up" } else { "down" },
        };
        self.pool_transitions.get_or_create(&labels).inc();
    }

    pub fn reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.reloads.get_or_create(&Outcome { result }).inc();
        if ok {
            self.zones_loaded();
        }
    }

    /// The zones being served were loaded now (at start-up, or by a good reload).
    pub fn zones_loaded(&self) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        self.last_reload.set(now.as_secs_f64());
    }

    /// Installs the collector of the state gauges (pools, policies, targets); once.
    pub fn set_state_collector(&self, c: Box<dyn Collector>) {
        if self.state.0.set(c).is_err() {
            tracing::warn!("the state gauges were installed twice; the first stays");
        }
    }

    /// Rejection reasons to show at 0 before any report is refused.
    pub fn agent_reasons(&self, reasons: &[&'static str]) {
        for &reason in reasons {
            let _ = self.agent_reports.get_or_create(&Refusal {
                result: "rejected",
                reason,
            });
        }
    }

    /// For the probe-agent ingestion endpoint: one report accepted (`None`) or rejected
    /// for a reason (a fixed word, never anything a sender chose).
    pub fn agent_report(&self, rejected: Option<&'static str>) {
        let labels = match rejected {
            None => Refusal {
                result: "accepted",
                reason: "",
            },
            Some(reason) => Refusal {
                result: "rejected",
                reason,
            },
        };
        self.agent_reports.get_or_create(&labels).inc();
    }

    pub fn alert_sent(&self) {
        self.alert("sent");
    }

    pub fn alert_failed(&self) {
        self.alert("failed");
    }

    pub fn alert_dropped(&self) {
        self.alert("dropped");
    }

    fn alert(&self, result: &'static str) {
        self.alerts.get_or_create(&Outcome { result }).inc();
    }

    pub fn set_overrides_active(&self, n: usize) {
        self.overrides_active.set(n as u64);
    }

    pub fn drill_started(&self) {
        self.drills.inc();
    }

    /// The whole exposition, in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_help_and_labels_are_the_exposition_of_before() {
        let m = Metrics::default();
        m.table_built(7, Duration::from_millis(3));
        m.answer_changed("z.", "api");
        m.pool_transition("z.", "primary", false);
        m.reload(false);
        m.alert_sent();
        m.drill_started();
        let text = m.render();
        for line in [
            "# HELP switchyard_answer_changes_total Times a policy's answer changed (failovers and failbacks).",
            "# TYPE switchyard_answer_changes_total counter",
            "switchyard_answer_changes_total{zone=\"z.\",policy=\"api\"} 1",
            "switchyard_pool_transitions_total{zone=\"z.\",pool=\"primary\",to=\"down\"} 1",
            "# TYPE switchyard_table_epoch gauge",
            "switchyard_table_epoch 7",
            "# TYPE switchyard_table_rebuild_seconds histogram",
            "switchyard_table_rebuild_seconds_bucket{le=\"0.0025\"} 0",
            "switchyard_table_rebuild_seconds_bucket{le=\"0.005\"} 1",
            "switchyard_table_rebuild_seconds_bucket{le=\"10\"} 1",
            "switchyard_table_rebuild_seconds_bucket{le=\"+Inf\"} 1",
            "switchyard_table_rebuild_seconds_count 1",
            "switchyard_table_last_rebuild_duration_seconds 0.003",
            "switchyard_build_info{version=\"0.1.0\"} 1",
            "switchyard_agent_reports_total{result=\"accepted\",reason=\"\"} 0",
            "# TYPE process_cpu_seconds_total counter",
            "# TYPE process_open_fds gauge",
            "# HELP switchyard_reloads_total Zone reloads by result; a failed one changed nothing.",
            "switchyard_reloads_total{result=\"success\"} 0",
            "switchyard_reloads_total{result=\"failure\"} 1",
            "switchyard_alerts_total{result=\"sent\"} 1",
            "switchyard_alerts_total{result=\"dropped\"} 0",
            "switchyard_overrides_active 0",
            "# TYPE switchyard_drills_total counter",
            "switchyard_drills_total 1",
            "# TYPE switchyard_queries_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }

    #[test]
    fn empty_families_are_declared_and_others_can_register() {
        let extra = Counter::<u64>::default();
        let m = Metrics::new(|r| r.register("switchyard_extra", "Extra", extra.clone()));
        extra.inc();
        let text = m.render();
        assert!(text.contains("# TYPE switchyard_pool_transitions_total counter\n"));
        assert!(text.contains("\nswitchyard_extra_total 1\n"), "{text}");
    }
}
