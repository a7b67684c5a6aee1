//! Query counters: one block of atomics per (zone, policy), indexed by qtype and rcode.
//!
//! The query path bumps one `AtomicU64` through a reference the routing table already
//! holds: no lock, no map, no allocation. Blocks live in a [`QueryRegistry`] keyed by
//! name, which routing asks for a zone's blocks when it builds a table, so a rebuild or
//! a reload hands the same block to the new table and counts carry on. Only building and
//! scraping take the registry's lock; a scrape reads the atomics through the registry's
//! [`Collector`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// The qtypes counted by name; everything else is `other`.
const QTYPES: [(RecordType, &str); 13] = [
    (RecordType::A, "A"),
    (RecordType::AAAA, "AAAA"),
    (RecordType::CNAME, "CNAME"),
    (RecordType::MX, "MX"),
    (RecordType::TXT, "TXT"),
    (RecordType::NS, "NS"),
    (RecordType::SOA, "SOA"),
    (RecordType::SRV, "SRV"),
    (RecordType::CAA, "CAA"),
    (RecordType::PTR, "PTR"),
    (RecordType::DS, "DS"),
    (RecordType::HTTPS, "HTTPS"),
    (RecordType::ANY, "ANY"),
];
const N_QTYPES: usize = QTYPES.len() + 1;

const RCODES: [(ResponseCode, &str); 7] = [
    (ResponseCode::NoError, "NOERROR"),
    (ResponseCode::NXDomain, "NXDOMAIN"),
    (ResponseCode::Refused, "REFUSED"),
    (ResponseCode::FormErr, "FORMERR"),
    (ResponseCode::NotImp, "NOTIMP"),
    (ResponseCode::ServFail, "SERVFAIL"),
    (ResponseCode::BADVERS, "BADVERS"),
];
const N_RCODES: usize = RCODES.len() + 1;

#[inline]
fn qtype_index(t: RecordType) -> usize {
    match t {
        RecordType::A => 0,
        RecordType::AAAA => 1,
        RecordType::CNAME => 2,
        RecordType::MX => 3,
        RecordType::TXT => 4,
        RecordType::NS => 5,
        RecordType::SOA => 6,
        RecordType::SRV => 7,
        RecordType::CAA => 8,
        RecordType::PTR => 9,
        RecordType::DS => 10,
        RecordType::HTTPS => 11,
        RecordType::ANY => 12,
        _ => QTYPES.len(),
    }
}

#[inline]
fn rcode_index(r: ResponseCode) -> usize {
    match r {
        ResponseCode::NoError => 0,
        ResponseCode::NXDomain => 1,
        ResponseCode::Refused => 2,
        ResponseCode::FormErr => 3,
        ResponseCode::NotImp => 4,
        ResponseCode::ServFail => 5,
        ResponseCode::BADVERS => 6,
        _ => RCODES.len(),
    }
}

/// Counts for one (zone, policy): every (qtype, rcode) pair has its own atomic.
#[derive(Debug)]
pub struct QueryCounters {
    cells: [AtomicU64; N_QTYPES * N_RCODES],
}

impl Default for QueryCounters {
    fn default() -> Self {
        Self {
            cells: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl QueryCounters {
    #[inline]
    pub fn bump(&self, qtype: Option<RecordType>, rcode: ResponseCode) {
        let q = qtype.map_or(QTYPES.len(), qtype_index);
        self.cells[q * N_RCODES + rcode_index(rcode)].fetch_add(1, Relaxed);
    }

    /// One sample per (qtype, rcode) pair counted at least once.
    fn encode(&self, e: &mut MetricEncoder, zone: &str, policy: &str) -> std::fmt::Result {
        for q in 0..N_QTYPES {
            for r in 0..N_RCODES {
                let v = self.cells[q * N_RCODES + r].load(Relaxed);
                if v == 0 {
                    continue;
                }
                let qtype = QTYPES.get(q).map_or("other", |x| x.1);
                let rcode = RCODES.get(r).map_or("other", |x| x.1);
                let labels = [
                    ("zone", zone),
                    ("policy", policy),
                    ("qtype", qtype),
                    ("rcode", rcode),
                ];
                e.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
            }
        }
        Ok(())
    }
}

/// zone origin -> policy label ("" for static names) -> block.
type Blocks = BTreeMap<String, BTreeMap<String, Arc<QueryCounters>>>;

/// Every counter block ever handed out, by (zone origin, policy label; "" for static
/// names). Blocks of removed zones stay: Prometheus counters must not go backwards.
#[derive(Debug, Default)]
pub struct QueryRegistry {
    blocks: Mutex<Blocks>,
    unmatched: Arc<QueryCounters>,
}

impl QueryRegistry {
    /// The block for queries outside every zone (and those rejected before a lookup).
    pub fn unmatched(&self) -> Arc<QueryCounters> {
        self.unmatched.clone()
    }

    /// One zone's blocks for a table being built: `[0]` for its static names, then one
    /// per policy label in the order given. One lock per zone; no allocation for names
    /// already registered.
    pub fn zone_blocks<'a>(
        &self,
        origin: &str,
        policies: impl ExactSizeIterator<Item = &'a str>,
    ) -> Vec<Arc<QueryCounters>> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        if !blocks.contains_key(origin) {
            blocks.insert(origin.to_string(), BTreeMap::new());
        }
        let zone = blocks.get_mut(origin).expect("inserted above");
        let mut out = Vec::with_capacity(policies.len() + 1);
        for label in std::iter::once("").chain(policies) {
            let block = match zone.get(label) {
                Some(b) => b.clone(),
                None => zone.entry(label.to_string()).or_default().clone(),
            };
            out.push(block);
        }
        out
    }
}

/// `switchyard_queries_total`, read from the atomics at scrape time.
impl Collector for QueryRegistry {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut e = encoder.encode_descriptor(
            "switchyard_queries",
            "DNS queries answered, by zone, policy (empty for static names), qtype and rcode.",
            None,
            MetricType::Counter,
        )?;
        self.unmatched.encode(&mut e, "", "")?;
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        for (zone, policies) in blocks.iter() {
            for (policy, block) in policies {
                block.encode(&mut e, zone, policy)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text::encode;
    use prometheus_client::registry::Registry;

    use super::*;

    fn scrape(r: &Arc<QueryRegistry>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(r.clone()));
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn every_named_qtype_and_rcode_has_its_own_cell() {
        for (i, (t, _)) in QTYPES.iter().enumerate() {
            assert_eq!(qtype_index(*t), i);
        }
        for (i, (r, _)) in RCODES.iter().enumerate() {
            assert_eq!(rcode_index(*r), i);
        }
        let r = Arc::new(QueryRegistry::default());
        let c = r.zone_blocks("z.", ["api"].into_iter()).remove(1);
        c.bump(Some(RecordType::A), ResponseCode::NoError);
        c.bump(Some(RecordType::A), ResponseCode::NoError);
        c.bump(Some(RecordType::NULL), ResponseCode::YXDomain);
        c.bump(None, ResponseCode::FormErr);
        let text = scrape(&r);
        assert!(text.contains(
            "switchyard_queries_total{zone=\"z.\",policy=\"api\",qtype=\"A\",rcode=\"NOERROR\"} 2\n"
        ));
        assert!(
            text.contains("qtype=\"other\",rcode=\"other\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("qtype=\"other\",rcode=\"FORMERR\"} 1\n"),
            "{text}"
        );
        assert!(text.starts_with(
            "# HELP switchyard_queries_total DNS queries answered, by zone, policy (empty for static names), qtype and rcode.\n\
             # TYPE switchyard_queries_total counter\n"
        ));
        assert_eq!(text.lines().count(), 5, "{text}");
    }

    #[test]
    fn the_same_names_get_the_same_block_across_tables() {
        let r = QueryRegistry::default();
        let a = r.zone_blocks("z.", ["api", "www"].into_iter());
        let b = r.zone_blocks("z.", ["www", "api"].into_iter());
        assert_eq!(a.len(), 3);
        assert!(Arc::ptr_eq(&a[0], &b[0]));
        assert!(Arc::ptr_eq(&a[1], &b[2]));
        assert!(Arc::ptr_eq(&a[2], &b[1]));
        assert!(!Arc::ptr_eq(&a[0], &a[1]));
        assert!(!Arc::ptr_eq(
            &a[0],
            &r.zone_blocks("y.", std::iter::empty())[0]
        ));
    }

    #[test]
    fn an_empty_registry_still_declares_the_family() {
        let text = scrape(&Arc::default());
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
