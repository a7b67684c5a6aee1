//! What health checking counts for `/metrics`: probe latency per check, results by kind,
//! and transitions per target region. Recorded by the probers and the aggregator (never
//! by the query path), so prometheus-client's locked families are fine here; the server
//! registers them with the metrics registry through [`HealthMetrics::register`].
//!
//! A check is named by two labels, `zone` (its zone's origin) and `check` (its name in
//! that zone), never by its id `<origin>/<name>`: PromQL can then select by zone.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::probe::ProbeOutcome;
use super::snapshot::Health;
use crate::metrics::{latency_histogram, zone_and_check, Declared};

/// A check's `zone` and `check` labels, split from its id once per prober.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    zone: Arc<str>,
    check: Arc<str>,
}

impl CheckLabels {
    pub fn new(id: &str) -> CheckLabels {
        let (zone, check) = zone_and_check(id);
        CheckLabels {
            zone: zone.into(),
            check: check.into(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckKind {
    #[prometheus(flatten)]
    check: CheckLabels,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckResult {
    #[prometheus(flatten)]
    check: CheckLabels,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Transition {
    #[prometheus(flatten)]
    check: CheckLabels,
    region: Arc<str>,
    to: &'static str,
}

#[derive(Debug)]
pub struct HealthMetrics {
    /// By check and check kind ("http", "tcp"...).
    latency: Family<CheckKind, Histogram, fn() -> Histogram>,
    /// Probe results by `ProbeReason::kind` ("ok", "timeout", "refused"...).
    results: Family<CheckResult, Counter>,
    /// The failed results again, by check and kind of error.
    errors: Family<CheckKind, Counter>,
    transitions: Family<Transition, Counter>,
}

impl Default for HealthMetrics {
    fn default() -> Self {
        Self {
            latency: Family::new_with_constructor(latency_histogram),
            results: Family::default(),
            errors: Family::default(),
            transitions: Family::default(),
        }
    }
}

impl HealthMetrics {
    pub fn record_probe(&self, check: &CheckLabels, check_kind: &'static str, o: &ProbeOutcome) {
        let latency = CheckKind {
            check: check.clone(),
            kind: check_kind,
        };
        self.latency
            .get_or_create(&latency)
            .observe(o.latency.as_secs_f64());
        let result = o.reason.kind();
        self.results
            .get_or_create(&CheckResult {
                check: check.clone(),
                result,
            })
            .inc();
        if result != "ok" {
            self.errors
                .get_or_create(&CheckKind {
                    check: check.clone(),
                    kind: result,
                })
                .inc();
        }
    }

    /// `check` is the check's id (`<origin>/<name>`).
    pub fn record_transition(&self, check: &str, region: &Arc<str>, to: Health) {
        let labels = Transition {
            check: CheckLabels::new(check),
            region: region.clone(),
            to: to.as_str(),
        };
        self.transitions.get_or_create(&labels).inc();
    }

    /// Adds health's families to the server's registry (help texts without the full
    /// stop and counters without `_total`: prometheus-client adds both).
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "switchyard_check_duration_seconds",
            "Health probe latency, from connect to verdict (the timeout when it fired)",
            Declared(self.latency.clone()),
        );
        r.register(
            "switchyard_check_results",
            "Health probe results by outcome: ok, or the kind of failure",
            Declared(self.results.clone()),
        );
        r.register(
            "switchyard_check_errors",
            "Failed health probes by kind of error",
            Declared(self.errors.clone()),
        );
        r.register(
            "switchyard_health_transitions",
            "Fall/rise transitions of probed targets, per check, probing region and new state",
            Declared(self.transitions.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus_client::encoding::prometheus_text::encode;

    use super::*;
    use crate::health::probe::ProbeReason;

    fn probe(reason: ProbeReason, latency: Duration) -> ProbeOutcome {
        ProbeOutcome {
            ok: matches!(reason, ProbeReason::Connected),
            reason,
            latency,
        }
    }

    fn scrape(m: &HealthMetrics) -> String {
        let mut r = Registry::default();
        m.register(&mut r);
        let mut text = String::new();
        encode(&mut text, &r).unwrap();
        text
    }

    #[test]
    fn families_are_declared_before_any_probe() {
        let text = scrape(&HealthMetrics::default());
        for family in [
            "switchyard_check_duration_seconds histogram",
            "switchyard_check_results_total counter",
            "switchyard_check_errors_total counter",
            "switchyard_health_transitions_total counter",
        ] {
            assert!(text.contains(&format!("# TYPE {family}\n")), "{text}");
        }
        assert!(text.contains(
            "# HELP switchyard_check_errors_total Failed health probes by kind of error.\n"
        ));
    }

    #[test]
    fn buckets_are_cumulative_and_failures_count_as_errors() {
        let m = HealthMetrics::default();
        let c = CheckLabels::new("z./c");
        m.record_probe(
            &c,
            "tcp",
            &probe(ProbeReason::Connected, Duration::from_micros(300)),
        );
        m.record_probe(
            &c,
            "tcp",
            &probe(ProbeReason::Connected, Duration::from_millis(3)),
        );
        m.record_probe(
            &c,
            "tcp",
            &probe(ProbeReason::Timeout, Duration::from_secs(30)),
        );
        m.record_transition("z./c", &"eu".into(), Health::Down);
        let text = scrape(&m);
        for line in [
            "switchyard_check_duration_seconds_bucket{zone=\"z.\",check=\"c\",kind=\"tcp\",le=\"0.0005\"} 1",
            "switchyard_check_duration_seconds_bucket{zone=\"z.\",check=\"c\",kind=\"tcp\",le=\"0.005\"} 2",
            "switchyard_check_duration_seconds_bucket{zone=\"z.\",check=\"c\",kind=\"tcp\",le=\"10\"} 2",
            "switchyard_check_duration_seconds_bucket{zone=\"z.\",check=\"c\",kind=\"tcp\",le=\"+Inf\"} 3",
            "switchyard_check_duration_seconds_count{zone=\"z.\",check=\"c\",kind=\"tcp\"} 3",
            "switchyard_check_results_total{zone=\"z.\",check=\"c\",result=\"ok\"} 2",
            "switchyard_check_results_total{zone=\"z.\",check=\"c\",result=\"timeout\"} 1",
            "switchyard_check_errors_total{zone=\"z.\",check=\"c\",kind=\"timeout\"} 1",
            "switchyard_health_transitions_total{zone=\"z.\",check=\"c\",region=\"eu\",to=\"down\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("kind=\"ok\""), "{text}");
    }
}
