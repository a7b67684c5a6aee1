//! Hold-down: a target the quorum decided is up again takes traffic only after the
//! check's `hold_down` has passed without a relapse, so a flapping backend is not
//! handed traffic at every brief recovery. Going down is never held; neither is the
//! first decision, since there is no traffic to protect yet. Time comes in as an argument.

use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use crate::health::snapshot::Health;
use crate::zone::Target;

/// One target's hold-down, running while a recovered target waits to be published up.
#[derive(Debug, Default)]
pub(super) struct Hold {
    /// A recovered target takes traffic again at this time.
    until: Option<Instant>,
}

impl Hold {
    /// What to publish, given the quorum's decision and what is published now. A decision
    /// other than a recovery ends any running hold, so a relapse restarts it next time.
    pub(super) fn apply(
        &mut self,
        target: &Target,
        decided: Health,
        published: Health,
        hold: Duration,
        now: Instant,
    ) -> Health {
        match (decided, published) {
            (Health::Up, Health::Down) if !hold.is_zero() => {
                let until = *self.until.get_or_insert_with(|| {
                    info!(target = %target, hold_down = ?hold, "target recovered; holding it down before it takes traffic again");
                    now + hold
                });
                if now >= until {
                    self.until = None;
                    Health::Up
                } else {
                    Health::Down
                }
            }
            (decided, _) => {
                self.until = None;
                decided
            }
        }
    }

    /// Time left before the held target is published up; `None` when nothing is held.
    pub(super) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until.map(|u| u.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use Health::{Down, Unknown, Up};

    const HOLD: Duration = Duration::from_secs(30);

    fn target() -> Target {
        Target {
            check: "test.example./web".into(),
            addr: IpAddr::from([10, 0, 0, 1]),
        }
    }

    #[test]
    fn a_recovery_is_published_once_the_hold_has_passed() {
        let (t, t0) = (target(), Instant::now());
        let mut h = Hold::default();
        assert_eq!(h.apply(&t, Up, Down, HOLD, t0), Down);
        assert_eq!(h.remaining(t0), Some(HOLD));
        let late = t0 + HOLD - Duration::from_millis(1);
        assert_eq!(h.apply(&t, Up, Down, HOLD, late), Down);
        assert_eq!(h.apply(&t, Up, Down, HOLD, t0 + HOLD), Up);
        assert_eq!(h.remaining(t0 + HOLD), None);
    }

    #[test]
    fn a_relapse_ends_the_hold_and_the_next_recovery_starts_over() {
        let (t, t0) = (target(), Instant::now());
        let mut h = Hold::default();
        h.apply(&t, Up, Down, HOLD, t0);
        assert_eq!(h.apply(&t, Down, Down, HOLD, t0 + HOLD / 2), Down);
        assert_eq!(h.remaining(t0 + HOLD / 2), None);
        let again = t0 + HOLD;
        assert_eq!(h.apply(&t, Up, Down, HOLD, again), Down);
        assert_eq!(h.remaining(again), Some(HOLD));
    }

    #[test]
    fn going_down_the_first_decision_and_a_zero_hold_are_never_held() {
        let (t, t0) = (target(), Instant::now());
        let mut h = Hold::default();
        assert_eq!(h.apply(&t, Down, Up, HOLD, t0), Down);
        assert_eq!(h.apply(&t, Up, Unknown, HOLD, t0), Up);
        assert_eq!(h.apply(&t, Up, Down, Duration::ZERO, t0), Up);
        assert_eq!(h.remaining(t0), None);
    }
}
