//! Counters for what the transports refused, dropped or cut short: the evidence that a
//! limit is working (or biting real clients). Atomics only; bumped on the query path,
//! read at scrape time through its [`Collector`], which the server registers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

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
    /// Panics caught while answering (a UDP datagram dropped, a TCP connection closed):
    /// a bug, never a client's fault, so a test can require zero.
    pub panics: AtomicU64,
}

impl AbuseCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// One counter family each; names without `_total`, which prometheus-client appends.
impl Collector for AbuseCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        for (name, help, v) in [
            (
                "switchyard_tcp_connections_refused",
                "TCP connections closed at accept: the connection limit was reached.",
                &self.tcp_refused,
            ),
            (
                "switchyard_tcp_timeouts",
                "TCP connections closed for idling or sending a message too slowly.",
                &self.tcp_timeouts,
            ),
            (
                "switchyard_oversize_queries",
                "Queries larger than max_query_size, dropped (UDP) or cut off (TCP).",
                &self.oversize,
            ),
            (
                "switchyard_rrl_dropped",
                "Responses dropped by response rate limiting.",
                &self.rrl_dropped,
            ),
            (
                "switchyard_rrl_slipped",
                "Responses sent truncated (TC) by response rate limiting.",
                &self.rrl_slipped,
            ),
            (
                "switchyard_panics",
                "Panics caught while answering a query; the query got no answer.",
                &self.panics,
            ),
        ] {
            encoder
                .encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, _, u64>(&v.load(Relaxed), None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text::encode;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn every_counter_is_exposed_under_its_total_name() {
        let abuse = std::sync::Arc::new(AbuseCounters::default());
        AbuseCounters::bump(&abuse.rrl_slipped);
        let mut r = Registry::default();
        r.register_collector(Box::new(abuse.clone()));
        let mut text = String::new();
        encode(&mut text, &r).unwrap();
        assert!(text.contains(
            "# HELP switchyard_rrl_slipped_total Responses sent truncated (TC) by response rate limiting.\n\
             # TYPE switchyard_rrl_slipped_total counter\n\
             switchyard_rrl_slipped_total 1\n"
        ), "{text}");
        assert!(text.contains("\nswitchyard_tcp_connections_refused_total 0\n"));
        assert!(text.contains("\nswitchyard_panics_total 0\n"));
        assert_eq!(text.lines().count(), 18, "{text}");
    }
}
