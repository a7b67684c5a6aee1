//! Health checking: probes every target a zone asks for, collects the verdicts of every
//! probe region, decides by quorum, and publishes a [`HealthSnapshot`] on a watch channel
//! for routing to rebuild from.
//!
//! `check` runs one probe, `state` is the pure fall/rise rule, `quorum` the pure
//! cross-region rule, `guard` the pure mass-failure rule, `aggregate` holds every vote and
//! applies them with the clock, `latency` smooths probe durations into RTT estimates,
//! `monitor` runs the probers and the aggregator, `snapshot` is what routing sees, `view`
//! what an operator sees, and `persist` the state file. Nothing here knows about DNS
//! answers.

pub mod aggregate;
mod check;
pub mod guard;
pub mod latency;
pub mod metrics;
pub mod monitor;
pub mod persist;
pub mod probe;
pub mod quorum;
pub mod snapshot;
pub mod state;
pub mod view;

pub use aggregate::{DecisionConfig, Vantage};
pub use metrics::HealthMetrics;
pub use monitor::{HealthMonitor, MonitorOptions, Observation, QuorumHandle};
pub use probe::{ProbeOutcome, ProbeReason, Prober, ProberError};
pub use snapshot::{HealthSnapshot, TargetStatus};
pub use state::{Health, TargetState};
pub use view::QuorumView;
