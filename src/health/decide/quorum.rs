//! The quorum rule: how the regions' verdicts on one target make one decision. Pure: no
//! clock, no I/O. Which verdicts are fresh and trusted is decided before this is called.
//!
//! The rule counts down votes against the regions that have a fresh verdict: `majority`
//! needs more than half of them, `any` one, `all` every one, and a number that many. With
//! no fresh region, or fewer than a numeric quorum needs, there is no decision and the
//! caller keeps the last one: a silent world must not read as a dead one. [`tally`]
//! counts the regions from the votes, setting aside stale and suspected ones.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::vantage::Vote;
use crate::health::snapshot::Health;
use crate::zone::Quorum;

/// Regions with a fresh verdict on one target, counted by what they say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub up: usize,
    pub down: usize,
}

impl Tally {
    pub fn regions(self) -> usize {
        self.up + self.down
    }

    /// Regions disagree about the target.
    pub fn split(self) -> bool {
        self.up > 0 && self.down > 0
    }
}

/// Down votes needed for `down`, given `n` regions with a fresh verdict; `None` when no
/// decision is possible.
pub fn down_needed(rule: Quorum, n: usize) -> Option<usize> {
    if n == 0 {
        return None;
    }
    match rule {
        Quorum::Majority => Some(n / 2 + 1),
        Quorum::Any => Some(1),
        Quorum::All => Some(n),
        Quorum::AtLeast(k) => (n >= k as usize).then_some(k as usize),
    }
}

/// The decision, or `None` to keep the last one.
pub fn decide(rule: Quorum, t: Tally) -> Option<Health> {
    let needed = down_needed(rule, t.regions())?;
    Some(if t.down >= needed {
        Health::Down
    } else {
        Health::Up
    })
}

/// The regions' verdicts from fresh (within `window`), trusted votes, kept grouped by
/// region. A region is up when any of its vantage points sees the target up: one
/// prober's broken path must not speak for it.
pub(super) fn tally(votes: &[Vote], now: Instant, window: Duration) -> Tally {
    let mut t = Tally::default();
    // One pass over region groups: (region, any counting vote, any up).
    let mut group: Option<(&Arc<str>, bool, bool)> = None;
    let close = |g: Option<(&Arc<str>, bool, bool)>, t: &mut Tally| match g {
        Some((_, true, true)) => t.up += 1,
        Some((_, true, false)) => t.down += 1,
        _ => {}
    };
    for v in votes {
        let counts = !v.suspected
            && v.state.health() != Health::Unknown
            && now.saturating_duration_since(v.last_seen) <= window;
        match &mut group {
            Some((region, any, up)) if Arc::ptr_eq(region, &v.vantage.region) => {
                *any |= counts;
                *up |= counts && v.state.health() == Health::Up;
            }
            _ => {
                close(group.take(), &mut t);
                group = Some((
                    &v.vantage.region,
                    counts,
                    counts && v.state.health() == Health::Up,
                ));
            }
        }
    }
    close(group, &mut t);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::{Down, Up};
    use Quorum::*;

    fn d(rule: Quorum, up: usize, down: usize) -> Option<Health> {
        decide(rule, Tally { up, down })
    }

    #[test]
    fn majority_needs_more_than_half_and_a_tie_stays_up() {
        assert_eq!(d(Majority, 1, 0), Some(Up));
        assert_eq!(d(Majority, 0, 1), Some(Down));
        assert_eq!(d(Majority, 2, 1), Some(Up));
        assert_eq!(d(Majority, 1, 2), Some(Down));
        // One region of two can't tell "backend down" from "my path down".
        assert_eq!(d(Majority, 1, 1), Some(Up));
        assert_eq!(d(Majority, 2, 2), Some(Up));
        assert_eq!(d(Majority, 2, 3), Some(Down));
    }

    #[test]
    fn any_and_all_are_the_two_extremes() {
        assert_eq!(d(Any, 4, 1), Some(Down));
        assert_eq!(d(Any, 5, 0), Some(Up));
        assert_eq!(d(All, 1, 4), Some(Up));
        assert_eq!(d(All, 0, 5), Some(Down));
        assert_eq!(d(All, 0, 1), Some(Down));
    }

    #[test]
    fn a_number_counts_down_votes_and_needs_that_many_fresh_regions() {
        assert_eq!(d(AtLeast(2), 1, 2), Some(Down));
        assert_eq!(d(AtLeast(2), 3, 2), Some(Down));
        assert_eq!(d(AtLeast(2), 2, 1), Some(Up));
        // One fresh region can't make a quorum of two, whichever way it votes.
        assert_eq!(d(AtLeast(2), 0, 1), None);
        assert_eq!(d(AtLeast(2), 1, 0), None);
    }

    #[test]
    fn no_fresh_region_decides_nothing_under_any_rule() {
        for rule in [Majority, Any, All, AtLeast(1)] {
            assert_eq!(d(rule, 0, 0), None, "{rule}");
        }
    }

    #[test]
    fn a_split_is_reported() {
        assert!(Tally { up: 2, down: 1 }.split());
        assert!(!Tally { up: 3, down: 0 }.split());
    }
}
