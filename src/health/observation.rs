//! One probe result as the deciding wing receives it, from this process's probers or
//! from a probe agent's signed report: the type both wings and the report path share,
//! so none of them has to import another to name it.

use std::sync::Arc;
use std::time::Duration;

use crate::zone::Target;

/// One probe result, from this process or from a probe agent in another region.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub target: Target,
    pub region: Arc<str>,
    /// The process that probed: each has its own fall/rise run (see `decide`).
    pub sender: Arc<str>,
    pub ok: bool,
    pub reason: String,
    pub latency: Duration,
}
