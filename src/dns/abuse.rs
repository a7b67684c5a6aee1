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
    /// Queries over `max_query_size`: UDP ones dropped, TCP ones closing the connection.
    pub udp_oversize: AtomicU64,
    pub tcp_oversize: AtomicU64,
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

/// `switchyard_dns_dropped_total{transport,reason}`: every query dropped or connection
/// closed unanswered, the reason a label; and `switchyard_rrl_slipped_total`, responses
/// that RRL still sent (truncated). Names without `_total`, which prometheus-client appends.
impl Collector for AbuseCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut e = encoder.encode_descriptor(
            "switchyard_dns_dropped",
            "Queries dropped or TCP connections closed unanswered, by transport and reason: connection_limit, timeout, oversize (over max_query_size), rrl (response rate limiting).",
            None,
            MetricType::Counter,
        )?;
        for (transport, reason, v) in [
            ("tcp", "connection_limit", &self.tcp_refused),
            ("tcp", "timeout", &self.tcp_timeouts),
            ("tcp", "oversize", &self.tcp_oversize),
            ("udp", "oversize", &self.udp_oversize),
            ("udp", "rrl", &self.rrl_dropped),
        ] {
            e.encode_family(&[("transport", transport), ("reason", reason)])?
                .encode_counter::<NoLabelSet, _, u64>(&v.load(Relaxed), None)?;
        }
        encoder
            .encode_descriptor(
                "switchyard_rrl_slipped",
                "Responses sent truncated (TC) by response rate limiting.",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, _, u64>(&self.rrl_slipped.load(Relaxed), None)?;
        encoder
            .encode_descriptor(
                "switchyard_panics",
                "Panics caught while answering a query; the query got no answer.",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, _, u64>(&self.panics.load(Relaxed), None)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text::encode;
    use prometheus_client::registry::Registry;

    use super::*;

    #[test]
    fn every_reason_is_a_label_of_one_family() {
        let abuse = std::sync::Arc::new(AbuseCounters::default());
        AbuseCounters::bump(&abuse.rrl_slipped);
        AbuseCounters::bump(&abuse.tcp_timeouts);
        let mut r = Registry::default();
        r.register_collector(Box::new(abuse.clone()));
        let mut text = String::new();
        encode(&mut text, &r).unwrap();
        assert!(text.contains(
            "# HELP switchyard_rrl_slipped_total Responses sent truncated (TC) by response rate limiting.\n\
             # TYPE switchyard_rrl_slipped_total counter\n\
             switchyard_rrl_slipped_total 1\n"
        ), "{text}");
        assert!(text
            .contains("\nswitchyard_dns_dropped_total{transport=\"tcp\",reason=\"timeout\"} 1\n"));
        assert!(text.contains(
            "\nswitchyard_dns_dropped_total{transport=\"tcp\",reason=\"connection_limit\"} 0\n"
        ));
        assert!(text.contains("\nswitchyard_panics_total 0\n"));
        assert_eq!(text.lines().count(), 13, "{text}");
    }
}
