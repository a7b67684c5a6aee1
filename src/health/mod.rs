//! Health checking: probes every target a zone asks for, collects the verdicts of every
//! probe region, decides by quorum, and publishes a [`HealthSnapshot`] on a watch channel
//! for routing to rebuild from.
//!
//! Two wings meet at [`Observation`] (one probe result, `observation`): `probe` runs one
//! probe of one target and names its result; `decide` holds every vantage point's votes
//! and turns them into decisions with the clock as an argument (fall/rise per vantage
//! point, quorum across regions, the mass-failure guard, hold-down). `monitor` runs the
//! probers and the aggregator as tasks, `snapshot` is what routing sees
//! (`delta` what changed between two), `view` what an
//! operator sees, `metrics` the probe counters and `persist` the state file,
//! `first_round` the quiet start. Nothing here
//! knows about DNS answers.

pub mod decide;
pub mod delta;
pub mod first_round;
pub mod metrics;
pub mod monitor;
pub mod observation;
pub mod persist;
pub mod probe;
pub mod snapshot;
#[cfg(test)]
pub(crate) mod testing;
pub mod view;

pub use decide::{DecisionConfig, TargetState, Vantage};
pub use delta::{Delta, TargetChange};
pub use metrics::HealthMetrics;
pub use monitor::{HealthMonitor, MonitorOptions, QuorumHandle};
pub use observation::Observation;
pub use probe::{ProbeOutcome, ProbeReason, Prober, ProberError};
pub use snapshot::{Changed, Health, HealthSnapshot, Lineage, TargetStatus};
pub use view::{QuorumView, RegionHealth};
