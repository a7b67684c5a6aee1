//! A fixed-bucket latency histogram on atomics: recording is a few relaxed increments,
//! so it can sit anywhere, and rendering reads a consistent-enough view for Prometheus.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::text::Exposition;

/// Upper bounds in seconds: from a loopback probe (sub-millisecond) to a probe timeout.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    /// Per bucket, not cumulative; the last slot counts observations above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// Writes `<name>_bucket`, `_sum` and `_count` with `labels` (the family is declared
    /// by the caller).
    pub fn render(&self, e: &mut Exposition, name: &str, labels: &[(&str, &str)]) {
        let mut cumulative = 0;
        let bucket = format!("{name}_bucket");
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let le = b.to_string();
            let mut l = labels.to_vec();
            l.push(("le", &le));
            e.sample(&bucket, &l, cumulative as f64);
        }
        cumulative += self.buckets[LATENCY_BUCKETS.len()].load(Relaxed);
        let mut l = labels.to_vec();
        l.push(("le", "+Inf"));
        e.sample(&bucket, &l, cumulative as f64);
        e.sample(
            &format!("{name}_sum"),
            labels,
            self.sum_ns.load(Relaxed) as f64 / 1e9,
        );
        e.sample(&format!("{name}_count"), labels, cumulative as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_overflow_lands_in_inf() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(30));
        let mut e = Exposition::new();
        h.render(&mut e, "l", &[("check", "c")]);
        let text = e.finish();
        assert!(
            text.contains("l_bucket{check=\"c\",le=\"0.0005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("l_bucket{check=\"c\",le=\"0.005\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("l_bucket{check=\"c\",le=\"10\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("l_bucket{check=\"c\",le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("l_count{check=\"c\"} 3\n"), "{text}");
        assert_eq!(h.count(), 3);
    }
}
