//! What health checking counts for `/metrics`: probe latency per check, results by kind,
//! and transitions per target region. Recorded by the probers and the aggregator (never
//! by the query path), so a plain mutex is fine here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::check::ProbeOutcome;
use super::state::Health;
use crate::metrics::histogram::Histogram;
use crate::metrics::text::Exposition;

#[derive(Debug, Default)]
pub struct HealthMetrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    checks: BTreeMap<Arc<str>, CheckStats>,
    /// (check, region, new health) -> count.
    transitions: BTreeMap<(Arc<str>, Arc<str>, &'static str), u64>,
}

#[derive(Debug, Default)]
struct CheckStats {
    kind: &'static str,
    latency: Histogram,
    /// Probe results by `ProbeReason::kind` ("ok", "timeout", "refused"...).
    results: BTreeMap<&'static str, u64>,
}

impl HealthMetrics {
    pub fn record_probe(&self, check: &Arc<str>, check_kind: &'static str, o: &ProbeOutcome) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let stats = inner.checks.entry(check.clone()).or_default();
        stats.kind = check_kind;
        stats.latency.observe(o.latency);
        *stats.results.entry(o.reason.kind()).or_default() += 1;
    }

    pub fn record_transition(&self, check: &Arc<str>, region: &Arc<str>, to: Health) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner
            .transitions
            .entry((check.clone(), region.clone(), to.as_str()))
            .or_default() += 1;
    }

    pub fn render(&self, e: &mut Exposition) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        e.family(
            "switchyard_check_duration_seconds",
            "histogram",
            "Health probe latency, from connect to verdict (the timeout when it fired).",
        );
        for (check, s) in &inner.checks {
            s.latency.render(
                e,
                "switchyard_check_duration_seconds",
                &[("check", check), ("kind", s.kind)],
            );
        }
        e.family(
            "switchyard_check_results_total",
            "counter",
            "Health probe results by outcome: ok, or the kind of failure.",
        );
        for (check, s) in &inner.checks {
            for (result, n) in &s.results {
                e.sample(
                    "switchyard_check_results_total",
                    &[("check", check), ("result", result)],
                    *n as f64,
                );
            }
        }
        e.family(
            "switchyard_check_errors_total",
            "counter",
            "Failed health probes by kind of error.",
        );
        for (check, s) in &inner.checks {
            for (result, n) in s.results.iter().filter(|(r, _)| **r != "ok") {
                e.sample(
                    "switchyard_check_errors_total",
                    &[("check", check), ("kind", result)],
                    *n as f64,
                );
            }
        }
        e.family(
            "switchyard_health_transitions_total",
            "counter",
            "Fall/rise transitions of probed targets, per check, probing region and new state.",
        );
        for ((check, region, to), n) in &inner.transitions {
            e.sample(
                "switchyard_health_transitions_total",
                &[("check", check), ("region", region), ("to", to)],
                *n as f64,
            );
        }
    }
}
