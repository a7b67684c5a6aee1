//! The old path of the probe results, kept only because `metrics.rs` (converted to
//! prometheus-client on another branch) still imports them from here; new code uses
//! [`crate::health::probe`]. Delete once `metrics.rs` imports `probe::ProbeOutcome`.

pub use crate::health::probe::ProbeOutcome;
