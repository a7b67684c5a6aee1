//! Prometheus metrics for `GET /metrics`: the query counters (lock-free, bumped on the
//! query path), and the counters the updater, reloads, alerts and agents record.
//!
//! One [`Metrics`] value per server, shared by `Arc`; rendering walks it all.

pub mod histogram;
pub mod query;
pub mod text;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use histogram::Histogram;
use query::QueryRegistry;
use text::Exposition;

use crate::health::HealthMetrics;

#[derive(Debug, Default)]
pub struct Metrics {
    pub queries: QueryRegistry,
    /// What the DNS transports refused or cut short (limits, RRL).
    pub abuse: Arc<crate::dns::abuse::AbuseCounters>,
    pub health: Arc<HealthMetrics>,
    /// (zone, policy) -> times its answer changed.
    answer_changes: Mutex<BTreeMap<(String, String), u64>>,
    /// (zone, pool, "up"|"down") -> pool state changes.
    pool_transitions: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    epoch: AtomicU64,
    rebuild: Histogram,
    last_rebuild_ns: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    agent_reports_accepted: AtomicU64,
    agent_reports_rejected: AtomicU64,
    alerts_sent: AtomicU64,
    alerts_failed: AtomicU64,
    alerts_dropped: AtomicU64,
    overrides_active: AtomicU64,
    drills: AtomicU64,
}

impl Metrics {
    pub fn new(health: Arc<HealthMetrics>) -> Self {
        Self {
            health,
            ..Self::default()
        }
    }

    pub fn table_built(&self, epoch: u64, took: Duration) {
        self.epoch.store(epoch, Relaxed);
        self.rebuild.observe(took);
        self.last_rebuild_ns
            .store(took.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    pub fn answer_changed(&self, zone: &str, policy: &str) {
        let mut m = self
            .answer_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *m.entry((zone.into(), policy.into())).or_default() += 1;
    }

    pub fn pool_transition(&self, zone: &str, pool: &str, up: bool) {
        let mut m = self
            .pool_transitions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let to = if up { "up" } else { "down" };
        *m.entry((zone.into(), pool.into(), to)).or_default() += 1;
    }

    pub fn reload(&self, ok: bool) {
        if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        }
        .fetch_add(1, Relaxed);
    }

    /// For the probe-agent ingestion endpoint: one report accepted or rejected.
    pub fn agent_report(&self, accepted: bool) {
        if accepted {
            &self.agent_reports_accepted
        } else {
            &self.agent_reports_rejected
        }
        .fetch_add(1, Relaxed);
    }

    pub fn alert_sent(&self) {
        self.alerts_sent.fetch_add(1, Relaxed);
    }

    pub fn alert_failed(&self) {
        self.alerts_failed.fetch_add(1, Relaxed);
    }

    pub fn alert_dropped(&self) {
        self.alerts_dropped.fetch_add(1, Relaxed);
    }

    pub fn set_overrides_active(&self, n: usize) {
        self.overrides_active.store(n as u64, Relaxed);
    }

    pub fn drill_started(&self) {
        self.drills.fetch_add(1, Relaxed);
    }

    /// The whole exposition, in Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut e = Exposition::new();
        self.queries.render(&mut e);

        e.family(
            "switchyard_answer_changes_total",
            "counter",
            "Times a policy's answer changed (failovers and failbacks).",
        );
        for ((zone, policy), n) in self
            .answer_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            e.sample(
                "switchyard_answer_changes_total",
                &[("zone", zone), ("policy", policy)],
                *n as f64,
            );
        }
        e.family(
            "switchyard_pool_transitions_total",
            "counter",
            "Pool state changes, health and overrides together.",
        );
        for ((zone, pool, to), n) in self
            .pool_transitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            e.sample(
                "switchyard_pool_transitions_total",
                &[("zone", zone), ("pool", pool), ("to", to)],
                *n as f64,
            );
        }
        self.health.render(&mut e);
        self.abuse.render(&mut e);

        e.family(
            "switchyard_table_epoch",
            "gauge",
            "Epoch of the routing table being served.",
        );
        e.sample(
            "switchyard_table_epoch",
            &[],
            self.epoch.load(Relaxed) as f64,
        );
        e.family(
            "switchyard_table_rebuild_seconds",
            "histogram",
            "Time to build a routing table.",
        );
        self.rebuild
            .render(&mut e, "switchyard_table_rebuild_seconds", &[]);
        e.family(
            "switchyard_table_last_rebuild_seconds",
            "gauge",
            "Time the latest routing table took to build.",
        );
        e.sample(
            "switchyard_table_last_rebuild_seconds",
            &[],
            self.last_rebuild_ns.load(Relaxed) as f64 / 1e9,
        );

        let counter = |e: &mut Exposition,
                       name: &str,
                       help: &str,
                       key: &str,
                       pairs: &[(&str, &AtomicU64)]| {
            e.family(name, "counter", help);
            for (v, n) in pairs {
                e.sample(name, &[(key, v)], n.load(Relaxed) as f64);
            }
        };
        counter(
            &mut e,
            "switchyard_reloads_total",
            "Zone reloads by result; a failed one changed nothing.",
            "result",
            &[
                ("success", &self.reloads_ok),
                ("failure", &self.reloads_failed),
            ],
        );
        counter(
            &mut e,
            "switchyard_agent_reports_total",
            "Probe-agent reports by result.",
            "result",
            &[
                ("accepted", &self.agent_reports_accepted),
                ("rejected", &self.agent_reports_rejected),
            ],
        );
        counter(
            &mut e,
            "switchyard_alerts_total",
            "Webhook deliveries: sent, failed after every retry, or dropped on a full queue.",
            "result",
            &[
                ("sent", &self.alerts_sent),
                ("failed", &self.alerts_failed),
                ("dropped", &self.alerts_dropped),
            ],
        );
        e.family(
            "switchyard_overrides_active",
            "gauge",
            "Operator overrides and drills in force.",
        );
        e.sample(
            "switchyard_overrides_active",
            &[],
            self.overrides_active.load(Relaxed) as f64,
        );
        e.family(
            "switchyard_drills_total",
            "counter",
            "Failover drills started.",
        );
        e.sample(
            "switchyard_drills_total",
            &[],
            self.drills.load(Relaxed) as f64,
        );
        e.finish()
    }
}
