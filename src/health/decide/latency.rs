//! Smoothing probe latency into an RTT estimate per (target, region), and deciding when
//! the estimate has moved enough to be worth a routing rebuild.
//!
//! A probe's duration is noisy (scheduling, a slow accept), so latency routing reads an
//! exponentially weighted moving average of successful probes only: a failed probe's
//! duration is a timeout or a refusal, not a path's RTT.

use std::time::Duration;

/// Weight of the newest sample: about the last three probes dominate, so a real change
/// shows within a few intervals while one outlier moves the estimate by under a third.
pub const ALPHA: f64 = 0.3;

/// The estimate is republished when it has moved this far from the published value...
pub const PUBLISH_MIN: Duration = Duration::from_millis(1);
/// ...or this fraction of it, whichever is larger: routing's hysteresis decides what a
/// change means; this only keeps sub-millisecond jitter from rebuilding the table.
pub const PUBLISH_FRACTION: f64 = 0.10;

/// One target's smoothed RTT from one region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rtt {
    /// Seconds; `None` before the first successful probe.
    ewma: Option<f64>,
    /// What routing last saw.
    published: Option<Duration>,
}

impl Rtt {
    /// Feed one successful probe; true when the estimate should be republished.
    pub fn sample(&mut self, d: Duration) -> bool {
        let x = d.as_secs_f64();
        let e = match self.ewma {
            None => x,
            Some(prev) => prev + ALPHA * (x - prev),
        };
        self.ewma = Some(e);
        let now = Duration::from_secs_f64(e);
        let moved = match self.published {
            None => true,
            Some(p) => {
                let threshold = PUBLISH_MIN.max(p.mul_f64(PUBLISH_FRACTION));
                now.abs_diff(p) >= threshold
            }
        };
        if moved {
            self.published = Some(now);
        }
        moved
    }

    /// The estimate routing sees.
    pub fn published(&self) -> Option<Duration> {
        self.published
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn the_first_sample_publishes_at_once() {
        let mut r = Rtt::default();
        assert_eq!(r.published(), None);
        assert!(r.sample(ms(40)));
        assert_eq!(r.published(), Some(ms(40)));
    }

    #[test]
    fn jitter_is_smoothed_and_not_republished() {
        let mut r = Rtt::default();
        r.sample(ms(40));
        // ±2 ms around 40: never 10% (4 ms) away from what was published.
        for v in [42, 38, 41, 39, 42, 38] {
            assert!(!r.sample(ms(v)), "republished on {v} ms");
        }
        assert_eq!(r.published(), Some(ms(40)));
    }

    #[test]
    fn one_outlier_moves_the_estimate_by_alpha_only() {
        let mut r = Rtt::default();
        r.sample(ms(40));
        // 40 + 0.3 * (200 - 40) = 88 ms: republished, but far from 200.
        assert!(r.sample(ms(200)));
        let p = r.published().unwrap().as_secs_f64() * 1e3;
        assert!((p - 88.0).abs() < 0.01, "{p}");
    }

    #[test]
    fn a_real_change_converges_within_a_few_probes() {
        let mut r = Rtt::default();
        r.sample(ms(20));
        for _ in 0..8 {
            r.sample(ms(120));
        }
        // 100 ms of change, 0.7^8 = 5.8% left: the average is within 6 ms of 120, and
        // what is published within 10% of the average.
        let p = r.published().unwrap();
        assert!(p >= ms(100) && p <= ms(120), "{p:?}");
    }

    #[test]
    fn small_rtts_need_a_millisecond_to_republish() {
        let mut r = Rtt::default();
        r.sample(Duration::from_micros(300));
        assert!(!r.sample(Duration::from_micros(600)));
        assert!(!r.sample(Duration::from_micros(900)));
        // The estimate creeps up; it publishes once 1 ms away from 0.3 ms.
        let mut published = false;
        for _ in 0..20 {
            published |= r.sample(ms(3));
        }
        assert!(published);
    }
}
