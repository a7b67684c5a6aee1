//! Counters for what the transports refused, dropped or cut short: the evidence that a
//! limit is working (or biting real clients). Atomics only; bumped on the query path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::metrics::text::Exposition;

#[derive(Debug, Default)]
pub struct AbuseCounters {
    /// TCP connections closed at accept because `tcp_connections` were already open.
    pub tcp_refused: AtomicU64,
    /// TCP connections closed for idling or for sending a message too slowly.
    pub tcp_timeouts: AtomicU64,
    /// Queries over `max_query_size` (UDP dropped, TCP connection closed).
    pub oversize: AtomicU64,
    /// RRL: responses dropped, and responses slipped (sent truncated).
    pub rrl_dropped: AtomicU64,
    pub rrl_slipped: AtomicU64,
}

impl AbuseCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub fn render(&self, e: &mut Exposition) {
        for (name, help, v) in [
            (
                "switchyard_tcp_connections_refused_total",
                "TCP connections closed at accept: the connection limit was reached.",
                &self.tcp_refused,
            ),
            (
                "switchyard_tcp_timeouts_total",
                "TCP connections closed for idling or sending a message too slowly.",
                &self.tcp_timeouts,
            ),
            (
                "switchyard_oversize_queries_total",
                "Queries larger than max_query_size, dropped (UDP) or cut off (TCP).",
                &self.oversize,
            ),
            (
                "switchyard_rrl_dropped_total",
                "Responses dropped by response rate limiting.",
                &self.rrl_dropped,
            ),
            (
                "switchyard_rrl_slipped_total",
                "Responses sent truncated (TC) by response rate limiting.",
                &self.rrl_slipped,
            ),
        ] {
            e.family(name, "counter", help);
            e.sample(name, &[], v.load(Relaxed) as f64);
        }
    }
}
