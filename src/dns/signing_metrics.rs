//! The signing counters as Prometheus families: signatures made, signature cache hits
//! and misses, and time spent signing, per signed zone, read from each zone's
//! `ZoneSigner` stats in the routing table published at scrape time.

use std::sync::OnceLock;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use crate::routing::TableReader;

/// Registered before the table is published; `attach` gives it the table once it is.
#[derive(Debug, Default)]
pub struct SigningMetrics {
    table: OnceLock<TableReader>,
}

impl SigningMetrics {
    pub fn attach(&self, table: TableReader) {
        let _ = self.table.set(table);
    }
}

impl Collector for SigningMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let Some(reader) = self.table.get() else {
            return Ok(());
        };
        let table = reader.load_full();
        let snaps: Vec<(String, crate::dnssec::StatsSnapshot)> = table
            .signers()
            .map(|s| (s.zone().to_ascii(), s.stats().snapshot()))
            .collect();
        type Pick = fn(&crate::dnssec::StatsSnapshot) -> f64;
        let families: [(&str, &str, Pick); 4] = [
            (
                "switchyard_dnssec_signatures",
                "RRSIGs made by online signing.",
                |s| s.signatures as f64,
            ),
            (
                "switchyard_dnssec_cache_hits",
                "RRsets whose signatures came from the signature cache.",
                |s| s.cache_hits as f64,
            ),
            (
                "switchyard_dnssec_cache_misses",
                "RRsets that had to be signed (not cached, or due for refresh).",
                |s| s.cache_misses as f64,
            ),
            (
                "switchyard_dnssec_signing_seconds",
                "Time spent making signatures.",
                |s| s.signing_nanos as f64 / 1e9,
            ),
        ];
        for (name, help, pick) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (zone, snap) in &snaps {
                let labels = [("zone", zone.as_str())];
                let metric = family.encode_family(&labels)?;
                ConstCounter::new(pick(snap)).encode(metric)?;
            }
        }
        Ok(())
    }
}
