//! The published view of every target's health: an immutable value the routing updater
//! rebuilds its table from, replaced whole on each change.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::zone::Target;

/// What the probes say about a target. Serialized as its name (`up`, `down`, `unknown`), as in the status endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Not probed yet. Routing applies the check's `startup` state meanwhile.
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Health of every probed target at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthSnapshot {
    /// Raised by one at each publication, so consumers can tell snapshots apart cheaply.
    pub generation: u64,
    pub targets: HashMap<Target, TargetStatus>,
    /// Smoothed RTT of successful probes, per probe region and target, as last published
    /// (see `health::decide::latency`): what latency routing reads.
    pub rtt: HashMap<Arc<str>, HashMap<Target, Duration>>,
    /// The publisher whose generations these are (`Lineage::NONE`: a snapshot made by
    /// hand, which no change list refers to).
    pub lineage: Lineage,
    /// What changed since the publisher's previous snapshot, so a consumer that has that
    /// one compares a few targets instead of all of them (`health::Delta::between`).
    /// `None`: not known (the first snapshot, a new target set), compare everything.
    pub changed: Option<Changed>,
}

/// One publisher of snapshots (an aggregator): generations count within a lineage only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Lineage(u64);

impl Lineage {
    pub const NONE: Lineage = Lineage(0);

    /// A lineage no other publisher in this process has.
    pub fn new() -> Lineage {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Lineage(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    pub fn is_none(self) -> bool {
        self == Lineage::NONE
    }
}

/// The targets of a snapshot that may differ from the one it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The generation (of the same lineage) these changes are counted from.
    pub after: u64,
    /// Every target whose health, presence or RTT from any region may differ from
    /// generation `after`; every other target is exactly as it was there.
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetStatus {
    pub health: Health,
    /// When `health` last changed (or the target was first seen).
    pub since: SystemTime,
    /// The latest probe's verdict, even when it did not change `health`.
    pub last_reason: String,
    /// The latest probe's duration; `None` before the first probe.
    pub latency: Option<Duration>,
}

impl HealthSnapshot {
    /// The targets that may differ from `prev`, when this snapshot's change list counts
    /// from `prev` itself (same publisher, the generation just before); `None` otherwise
    /// (a missing list, a skipped generation, another publisher), when only comparing
    /// every target tells.
    pub fn changed_since(&self, prev: &HealthSnapshot) -> Option<&[Target]> {
        let c = self.changed.as_ref()?;
        let follows = !self.lineage.is_none()
            && self.lineage == prev.lineage
            && c.after == prev.generation
            && self.generation > prev.generation;
        follows.then_some(c.targets.as_slice())
    }

    /// `Some(up)` once probed; `None` for a target not probed yet or unknown here, where
    /// the caller applies the check's `startup` state.
    pub fn is_up(&self, t: &Target) -> Option<bool> {
        match self.targets.get(t)?.health {
            Health::Up => Some(true),
            Health::Down => Some(false),
            Health::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(n: u8) -> Target {
        Target {
            check: "z./web".into(),
            addr: std::net::IpAddr::from([127, 0, 0, n]),
        }
    }

    #[test]
    fn is_up_distinguishes_up_down_unknown_and_absent() {
        let status = |health| TargetStatus {
            health,
            since: SystemTime::UNIX_EPOCH,
            last_reason: String::new(),
            latency: None,
        };
        let snap = HealthSnapshot {
            generation: 1,
            targets: HashMap::from([
                (target(1), status(Health::Up)),
                (target(2), status(Health::Down)),
                (target(3), status(Health::Unknown)),
            ]),
            ..Default::default()
        };
        assert_eq!(snap.is_up(&target(1)), Some(true));
        assert_eq!(snap.is_up(&target(2)), Some(false));
        assert_eq!(snap.is_up(&target(3)), None);
        assert_eq!(snap.is_up(&target(4)), None);
    }
}
