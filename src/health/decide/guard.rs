//! The mass-failure guard: when a vantage point's own outage is the likelier story than
//! many targets failing together. The rule is pure (counts in, a verdict out:
//! [`suspect`], [`clear`]); the aggregator's side gathers the counts from the votes and
//! sets a suspected vantage point's votes aside, and back.
//!
//! A vantage point is suspected when, within the window, it saw more than `fraction` of
//! the targets it votes on (and at least `min_targets`) go down, most of those are also
//! judged by another region, and most of those other regions still see them up. A real
//! outage of many targets shows in every region, so it is corroborated and never
//! suspected; with no other region to compare against, nobody is suspected.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{error, warn};

use super::vantage::{Vantage, Vote};
use crate::config::agents::MassFailure;
use crate::health::snapshot::Health;
use crate::zone::Target;

/// What one vantage point's recent failures look like next to the other regions' views.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Targets the vantage point votes on.
    pub votes: usize,
    /// Targets it saw go down within the window and still sees down.
    pub recent_down: usize,
    /// Of those, targets another region has a fresh verdict on.
    pub compared: usize,
    /// Of those, targets another region also sees down.
    pub corroborated: usize,
}

/// Whether to set the vantage point's votes aside.
pub fn suspect(cfg: &MassFailure, e: Evidence) -> bool {
    e.recent_down >= cfg.min_targets
        && e.recent_down as f64 > cfg.fraction * e.votes as f64
        && e.compared * 2 > e.recent_down
        && e.corroborated * 2 < e.compared
}

/// Whether a suspected vantage point is trusted again: it sees most of the targets it was
/// suspected for up again (its own trouble is over), or the other regions now see most
/// of them down too (it was right early).
pub fn clear(flagged: usize, still_down: usize, corroborated: usize) -> bool {
    still_down * 2 < flagged || (still_down > 0 && corroborated * 2 >= still_down)
}

#[derive(Default)]
/// What the aggregator remembers of one vantage point, for the guard.
pub(super) struct VantageState {
    /// Targets it votes on.
    pub(super) votes: usize,
    /// Targets this vantage point saw go down, oldest first, within the guard's window.
    pub(super) recent_downs: VecDeque<(Instant, Target)>,
    pub(super) suspicion: Option<Suspicion>,
}

pub(super) struct Suspicion {
    pub(super) since: Instant,
    /// The targets it was suspected for.
    pub(super) flagged: Vec<Target>,
}

/// A target's votes and their staleness window, as the aggregator holds them.
pub(super) type VotesOf<'a> = &'a dyn Fn(&Target) -> Option<(&'a [Vote], Duration)>;

/// Evaluates the guard for a vantage point not yet suspected; true when it becomes
/// suspected (the caller then sets its votes aside).
pub(super) fn check_guard(
    vs: &mut VantageState,
    vantage: &Vantage,
    cfg: &MassFailure,
    window: Duration,
    now: Instant,
    votes_of: VotesOf<'_>,
) -> bool {
    while vs
        .recent_downs
        .front()
        .is_some_and(|(at, _)| now.saturating_duration_since(*at) > window)
    {
        vs.recent_downs.pop_front();
    }
    // Cheap bound first: most calls end here.
    if vs.suspicion.is_some()
        || vs.recent_downs.len() < cfg.min_targets
        || vs.recent_downs.len() as f64 <= cfg.fraction * vs.votes as f64
    {
        return false;
    }
    let mut seen = HashSet::new();
    let mut flagged = Vec::new();
    let mut ev = Evidence {
        votes: vs.votes,
        ..Evidence::default()
    };
    for (_, t) in &vs.recent_downs {
        if !seen.insert(t) {
            continue;
        }
        let Some((votes, fresh)) = votes_of(t) else {
            continue;
        };
        let mine = votes.iter().find(|v| v.vantage == *vantage);
        if mine.is_none_or(|v| v.state.health() != Health::Down) {
            continue;
        }
        flagged.push(t.clone());
        ev.recent_down += 1;
        let (compared, corroborated) = others_view(votes, fresh, vantage, now);
        ev.compared += usize::from(compared);
        ev.corroborated += usize::from(corroborated);
    }
    if !suspect(cfg, ev) {
        return false;
    }
    error!(
        region = %vantage.region, sender = %vantage.sender,
        targets_down = ev.recent_down, of = ev.votes, also_down_elsewhere = ev.corroborated,
        "PROBE REGION SUSPECTED: most of its targets failed at once and other regions do not see it; its votes are set aside"
    );
    vs.suspicion = Some(Suspicion {
        since: now,
        flagged,
    });
    true
}

/// Clears a suspicion once the vantage point sees its flagged targets up again, or
/// other regions see them down too; true when it is trusted again (the caller then
/// counts its votes again).
pub(super) fn check_clear(
    vs: &mut VantageState,
    vantage: &Vantage,
    now: Instant,
    votes_of: VotesOf<'_>,
) -> bool {
    let Some(s) = vs.suspicion.as_ref() else {
        return false;
    };
    let (mut still_down, mut corroborated) = (0, 0);
    for t in &s.flagged {
        let Some((votes, fresh)) = votes_of(t) else {
            continue;
        };
        // Its latest verdict, fresh or not: going quiet must not end a suspicion.
        if votes
            .iter()
            .any(|v| v.vantage == *vantage && v.state.health() == Health::Down)
        {
            still_down += 1;
            corroborated += usize::from(others_view(votes, fresh, vantage, now).1);
        }
    }
    if !clear(s.flagged.len(), still_down, corroborated) {
        return false;
    }
    let why = if still_down * 2 < s.flagged.len() {
        "it sees its targets up again"
    } else {
        "other regions see the failures too"
    };
    warn!(region = %vantage.region, sender = %vantage.sender, reason = why, "probe region trusted again");
    vs.suspicion = None;
    vs.recent_downs.clear();
    true
}

/// Whether another region has a fresh verdict on the target, and whether one sees it down.
fn others_view(votes: &[Vote], fresh: Duration, vantage: &Vantage, now: Instant) -> (bool, bool) {
    let mut others = votes.iter().filter(|v| {
        v.vantage.region != vantage.region
            && v.state.health() != Health::Unknown
            && now.saturating_duration_since(v.last_seen) <= fresh
    });
    let mut compared = false;
    let mut down = false;
    for v in &mut others {
        compared = true;
        down |= v.state.health() == Health::Down;
    }
    (compared, down)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> MassFailure {
        MassFailure::default()
    }

    fn ev(votes: usize, recent_down: usize, compared: usize, corroborated: usize) -> Evidence {
        Evidence {
            votes,
            recent_down,
            compared,
            corroborated,
        }
    }

    #[test]
    fn most_targets_down_alone_is_suspect() {
        assert!(suspect(&cfg(), ev(10, 8, 8, 0)));
        assert!(suspect(&cfg(), ev(10, 6, 6, 2)));
    }

    #[test]
    fn a_minority_of_targets_or_too_few_is_not_a_mass_failure() {
        assert!(!suspect(&cfg(), ev(10, 5, 5, 0)), "half is not most");
        assert!(!suspect(&cfg(), ev(2, 2, 2, 0)), "below min_targets");
    }

    #[test]
    fn failures_other_regions_see_too_are_real() {
        assert!(!suspect(&cfg(), ev(10, 8, 8, 4)));
        assert!(!suspect(&cfg(), ev(10, 8, 8, 8)));
    }

    #[test]
    fn with_nobody_to_compare_against_nobody_is_suspected() {
        assert!(!suspect(&cfg(), ev(10, 10, 0, 0)));
        assert!(!suspect(&cfg(), ev(10, 10, 4, 0)));
    }

    #[test]
    fn fraction_one_turns_the_guard_off() {
        let off = MassFailure {
            fraction: 1.0,
            ..cfg()
        };
        assert!(!suspect(&off, ev(10, 10, 10, 0)));
    }

    #[test]
    fn suspicion_clears_on_recovery_or_corroboration() {
        assert!(!clear(8, 8, 0));
        assert!(!clear(8, 4, 1));
        assert!(clear(8, 3, 0), "most of them up again");
        assert!(clear(8, 8, 4), "others see them down now");
    }
}
