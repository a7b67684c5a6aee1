//! The mass-failure guard's rule: when a vantage point's own outage is the likelier story
//! than many targets failing together. Pure counts in, a verdict out; the aggregator
//! gathers the counts.
//!
//! A vantage point is suspected when, within the window, it saw more than `fraction` of
//! the targets it votes on (and at least `min_targets`) go down, most of those are also
//! judged by another region, and most of those other regions still see them up. A real
//! outage of many targets shows in every region, so it is corroborated and never
//! suspected; with no other region to compare against, nobody is suspected.

use crate::config::agents::MassFailure;

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
