//! The quiet start: before the first table is built from probes, wait for each target's
//! first result, bounded by the checks' timeouts, so no answer is made from health that
//! was never seen (as gdnsd does its first round before it answers).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::probe::schedule::FIRST_PROBE_SPREAD;
use super::snapshot::{Health, HealthSnapshot};
use crate::zone::{CheckSpec, Target};

/// Room for the decision and its publication after the slowest first probe has ended.
const MARGIN: Duration = Duration::from_millis(500);

/// How long a first round may take: every first probe starts within
/// [`FIRST_PROBE_SPREAD`] and ends by its check's timeout.
pub fn bound(targets: &BTreeMap<Target, Arc<CheckSpec>>) -> Duration {
    targets
        .values()
        .map(|s| s.timeout)
        .max()
        .map_or(Duration::ZERO, |t| t + FIRST_PROBE_SPREAD + MARGIN)
}

/// What a first round ended with: how many targets are still unknown, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstRound {
    pub unknown: usize,
    pub took: Duration,
}

/// Waits until no target of `targets` is unknown in the published health, or `bound`.
pub async fn wait(
    health: &mut watch::Receiver<Arc<HealthSnapshot>>,
    targets: &BTreeMap<Target, Arc<CheckSpec>>,
    bound: Duration,
) -> FirstRound {
    let started = tokio::time::Instant::now();
    let unknown = |s: &HealthSnapshot| {
        targets
            .keys()
            .filter(|t| s.targets.get(t).is_none_or(|x| x.health == Health::Unknown))
            .count()
    };
    let _ = tokio::time::timeout(bound, health.wait_for(|s| unknown(s) == 0)).await;
    FirstRound {
        unknown: unknown(&health.borrow()),
        took: started.elapsed(),
    }
}
