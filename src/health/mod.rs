//! Health checking: probes every target a zone asks for, applies fall/rise, and publishes
//! a [`HealthSnapshot`] on a watch channel for routing to rebuild from.
//!
//! `check` runs one probe, `state` is the pure threshold rule, `monitor` schedules the
//! probes and owns the states, `snapshot` is what the rest of the server sees. Nothing
//! here knows about DNS answers.

pub mod check;
mod http1;
pub mod monitor;
pub mod snapshot;
pub mod state;

pub use check::{ProbeOutcome, ProbeReason, Prober, ProberError};
pub use monitor::{HealthMonitor, Observation};
pub use snapshot::{HealthSnapshot, TargetStatus};
pub use state::{Health, TargetState};
