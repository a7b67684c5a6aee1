//! The old path of [`Health`], kept only because `metrics.rs` (converted to
//! prometheus-client on another branch) still imports it from here; new code uses
//! [`crate::health::Health`]. Delete once `metrics.rs` imports `snapshot::Health`.

pub use crate::health::snapshot::Health;
