//! One vantage point's view of one target: who it is ([`Vantage`]), its vote, and the
//! fall/rise state machine that turns its run of results into up or down. Pure, no I/O;
//! time comes in as an argument.
//!
//! Results from different places are separate runs, so each vantage point has its own
//! state; the thresholds can be tested edge by edge here.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::health::snapshot::Health;

/// Who made an observation: a region, and the process within it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vantage {
    pub region: Arc<str>,
    pub sender: Arc<str>,
}

impl Vantage {
    /// Identity by pointer: every name in the aggregator is interned (see `Interner`).
    pub(super) fn is(&self, region: &Arc<str>, sender: &Arc<str>) -> bool {
        Arc::ptr_eq(&self.sender, sender) && Arc::ptr_eq(&self.region, region)
    }
}

pub(super) struct Vote {
    pub(super) vantage: Vantage,
    /// Fall/rise per vantage point: results from different places are separate runs, or
    /// one's failures would keep resetting another's successes.
    pub(super) state: TargetState,
    pub(super) last_seen: Instant,
    /// Mirrors the vantage point's suspicion, so counting votes needs no lookup.
    pub(super) suspected: bool,
    pub(super) reason: String,
    pub(super) latency: Duration,
}

/// Current health plus the run of results that disagree with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetState {
    health: Health,
    /// Consecutive results contradicting `health`; one agreeing result clears it, so only an
    /// unbroken run of `fall` failures (or `rise` successes) flips the state.
    streak: u32,
}

impl Default for TargetState {
    fn default() -> Self {
        Self::new()
    }
}

impl TargetState {
    pub fn new() -> Self {
        TargetState {
            health: Health::Unknown,
            streak: 0,
        }
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// Consecutive results so far that argue for leaving the current state.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Feeds one probe result; returns `(old, new)` when the health changes.
    ///
    /// From `Unknown` the first result decides at once: holding a fresh target in limbo for
    /// `rise` probes would only delay the startup state being replaced by a measured one.
    /// A `fall` or `rise` of 0 is taken as 1, since "flip after zero results" has no meaning.
    pub fn observe(&mut self, ok: bool, fall: u32, rise: u32) -> Option<(Health, Health)> {
        let old = self.health;
        let (agrees, needed, next) = match old {
            Health::Unknown => (false, 1, if ok { Health::Up } else { Health::Down }),
            Health::Up => (ok, fall.max(1), Health::Down),
            Health::Down => (!ok, rise.max(1), Health::Up),
        };
        if agrees {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak < needed {
            return None;
        }
        self.health = next;
        self.streak = 0;
        Some((old, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    fn run(results: &[bool], fall: u32, rise: u32) -> (TargetState, Vec<(Health, Health)>) {
        let mut s = TargetState::new();
        let transitions = results
            .iter()
            .filter_map(|&ok| s.observe(ok, fall, rise))
            .collect();
        (s, transitions)
    }

    #[test]
    fn starts_unknown() {
        let s = TargetState::default();
        assert_eq!(s.health(), Unknown);
        assert_eq!(s.streak(), 0);
    }

    #[test]
    fn first_result_decides_from_unknown_whatever_the_thresholds() {
        assert_eq!(run(&[true], 5, 5).1, vec![(Unknown, Up)]);
        assert_eq!(run(&[false], 5, 5).1, vec![(Unknown, Down)]);
    }

    #[test]
    fn up_needs_fall_consecutive_failures() {
        let (s, t) = run(&[true, false, false], 3, 2);
        assert_eq!(t, vec![(Unknown, Up)]);
        assert_eq!((s.health(), s.streak()), (Up, 2));
        let (s, t) = run(&[true, false, false, false], 3, 2);
        assert_eq!(t, vec![(Unknown, Up), (Up, Down)]);
        assert_eq!((s.health(), s.streak()), (Down, 0));
    }

    #[test]
    fn down_needs_rise_consecutive_successes() {
        let (s, t) = run(&[false, true], 3, 2);
        assert_eq!(t, vec![(Unknown, Down)]);
        assert_eq!((s.health(), s.streak()), (Down, 1));
        let (_, t) = run(&[false, true, true], 3, 2);
        assert_eq!(t, vec![(Unknown, Down), (Down, Up)]);
    }

    #[test]
    fn fall_one_and_rise_one_flip_on_every_change() {
        let (_, t) = run(&[true, false, true, true, false], 1, 1);
        assert_eq!(t, vec![(Unknown, Up), (Up, Down), (Down, Up), (Up, Down)]);
    }

    #[test]
    fn zero_thresholds_behave_as_one() {
        let (_, t) = run(&[true, false, true], 0, 0);
        assert_eq!(t, vec![(Unknown, Up), (Up, Down), (Down, Up)]);
    }

    #[test]
    fn a_success_resets_the_failure_streak() {
        // Two failures, a success, two failures: never three in a row.
        let (s, t) = run(&[true, false, false, true, false, false], 3, 2);
        assert_eq!(t, vec![(Unknown, Up)]);
        assert_eq!((s.health(), s.streak()), (Up, 2));
        // The third consecutive failure after the reset does it.
        let (_, t) = run(&[true, false, false, true, false, false, false], 3, 2);
        assert_eq!(t, vec![(Unknown, Up), (Up, Down)]);
    }

    #[test]
    fn a_failure_resets_the_success_streak() {
        let (s, t) = run(&[false, true, true, false, true, true], 1, 3);
        assert_eq!(t, vec![(Unknown, Down)]);
        assert_eq!((s.health(), s.streak()), (Down, 2));
        let (_, t) = run(&[false, true, true, false, true, true, true], 1, 3);
        assert_eq!(t, vec![(Unknown, Down), (Down, Up)]);
    }

    #[test]
    fn agreeing_results_never_transition() {
        let (s, t) = run(&[true; 10], 1, 1);
        assert_eq!(t.len(), 1);
        assert_eq!((s.health(), s.streak()), (Up, 0));
        let (s, t) = run(&[false; 10], 1, 1);
        assert_eq!(t.len(), 1);
        assert_eq!((s.health(), s.streak()), (Down, 0));
    }

    #[test]
    fn thresholds_are_read_at_each_call() {
        // A reload may lower `fall` while a streak is running: the next failure applies the
        // new value to the streak already counted.
        let mut s = TargetState::new();
        s.observe(true, 5, 5);
        assert_eq!(s.observe(false, 5, 5), None);
        assert_eq!(s.observe(false, 5, 5), None);
        assert_eq!(s.observe(false, 2, 5), Some((Up, Down)));
    }
}
