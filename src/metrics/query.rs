//! Query counters: one block of atomics per (zone, policy), indexed by qtype and rcode.
//!
//! The query path bumps one `AtomicU64` through a reference the routing table already
//! holds: no lock, no map, no allocation. Blocks live in a [`QueryRegistry`] keyed by
//! name, so a rebuild or a reload hands the same block to the new table and counts
//! carry on; only rendering takes the registry's lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::text::Exposition;
use crate::routing::RoutingTable;

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

    fn render(&self, e: &mut Exposition, zone: &str, policy: &str) {
        for q in 0..N_QTYPES {
            for r in 0..N_RCODES {
                let v = self.cells[q * N_RCODES + r].load(Relaxed);
                if v == 0 {
                    continue;
                }
                let qtype = QTYPES.get(q).map_or("other", |x| x.1);
                let rcode = RCODES.get(r).map_or("other", |x| x.1);
                e.sample(
                    "switchyard_queries_total",
                    &[
                        ("zone", zone),
                        ("policy", policy),
                        ("qtype", qtype),
                        ("rcode", rcode),
                    ],
                    v as f64,
                );
            }
        }
    }
}

/// Count one answered query against the block the lookup pointed at, or the table's
/// block for queries outside every zone (and those rejected before any lookup).
#[inline]
pub fn count(
    table: &RoutingTable,
    counters: Option<&QueryCounters>,
    qtype: Option<RecordType>,
    rcode: ResponseCode,
) {
    counters.unwrap_or(&table.unmatched).bump(qtype, rcode);
}

/// Every counter block ever handed out, by (zone origin, policy label; "" for static
/// names). Blocks of removed zones stay: Prometheus counters must not go backwards.
#[derive(Debug, Default)]
pub struct QueryRegistry {
    blocks: Mutex<BTreeMap<(String, String), Arc<QueryCounters>>>,
    unmatched: Arc<QueryCounters>,
}

impl QueryRegistry {
    fn block(&self, zone: &str, policy: &str) -> Arc<QueryCounters> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks
            .entry((zone.to_string(), policy.to_string()))
            .or_default()
            .clone()
    }

    /// Gives a freshly built table the registry's blocks before it is published.
    pub fn attach(&self, table: &mut RoutingTable) {
        table.unmatched = self.unmatched.clone();
        for zone in &mut table.zones {
            let origin = zone.origin.to_string();
            let mut blocks = Vec::with_capacity(zone.policies.len() + 1);
            blocks.push(self.block(&origin, ""));
            for p in &zone.policies {
                blocks.push(self.block(&origin, &p.label));
            }
            zone.counters = blocks;
        }
    }

    pub fn render(&self, e: &mut Exposition) {
        e.family(
            "switchyard_queries_total",
            "counter",
            "DNS queries answered, by zone, policy (empty for static names), qtype and rcode.",
        );
        self.unmatched.render(e, "", "");
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        for ((zone, policy), block) in blocks.iter() {
            block.render(e, zone, policy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_qtype_and_rcode_has_its_own_cell() {
        for (i, (t, _)) in QTYPES.iter().enumerate() {
            assert_eq!(qtype_index(*t), i);
        }
        for (i, (r, _)) in RCODES.iter().enumerate() {
            assert_eq!(rcode_index(*r), i);
        }
        let c = QueryCounters::default();
        c.bump(Some(RecordType::A), ResponseCode::NoError);
        c.bump(Some(RecordType::A), ResponseCode::NoError);
        c.bump(Some(RecordType::NULL), ResponseCode::YXDomain);
        c.bump(None, ResponseCode::FormErr);
        let mut e = Exposition::new();
        c.render(&mut e, "z.", "api");
        let text = e.finish();
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
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn the_same_names_get_the_same_block_across_tables() {
        let r = QueryRegistry::default();
        let a = r.block("z.", "api");
        let b = r.block("z.", "api");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &r.block("z.", "")));
    }
}
