//! The static half of the routing table, and the types it stores: every zone's names,
//! RRsets, delegations and the wire replies prepared for them. It depends on the zone
//! set alone, so it is built when zones load and shared (`Arc`) by every table built
//! after a health change. `prepare` fills in the wire replies; `lookup` reads them.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{RData, Record, RecordType};
use rustc_hash::FxBuildHasher;

use super::key;
use crate::zone::{Zone, ZoneSet};

/// Length of the DNS header (RFC 1035 §4.1.1): prepared replies are laid out after it.
pub const HEADER_LEN: usize = 12;

pub(super) type KeyMap<V> = HashMap<Box<[u8]>, V, FxBuildHasher>;

/// Every zone's static data, in `ZoneSet` order.
#[derive(Debug, Default)]
pub struct Names {
    /// The zones this was built from: reused as long as the same `Arc`s come back.
    pub(super) sources: Vec<Arc<Zone>>,
    pub(super) zones: Vec<ZoneNames>,
    /// Origin key → index in `zones`.
    origins: KeyMap<usize>,
    /// Label counts of the shortest and longest origin: the suffix walk looks only there.
    origin_labels: (usize, usize),
}

/// One zone's names.
#[derive(Debug)]
pub(super) struct ZoneNames {
    pub origin_key: Box<[u8]>,
    /// The SOA for negative answers: TTL is min(SOA TTL, MINIMUM) (RFC 2308 §3).
    pub negative_soa: Record,
    pub nodes: KeyMap<NameEntry>,
    /// Any delegation below the apex: lets lookups skip the cut search when there is none.
    pub has_cuts: bool,
    pub has_wildcards: bool,
    /// NXDOMAIN/NODATA in wire form, when it could be prepared.
    pub negative: Option<Negative>,
}

/// What the table holds for one owner name.
#[derive(Debug, Default)]
pub(super) struct NameEntry {
    /// Static RRsets; empty for an empty non-terminal or a policy name.
    pub rrsets: Vec<(RecordType, Vec<Record>)>,
    /// Index into the zone's policies (`ZoneTable::policies`).
    pub policy: Option<usize>,
    /// A delegation point (NS below the apex).
    pub cut: bool,
    /// At or below a delegation point: always answered by the general path.
    pub occluded: bool,
    /// Replies prepared for each RRset type held here.
    pub prepared: Vec<(RecordType, Prepared)>,
}

impl NameEntry {
    pub fn rrset(&self, t: RecordType) -> Option<&[Record]> {
        self.rrsets
            .iter()
            .find(|(rt, _)| *rt == t)
            .map(|(_, v)| v.as_slice())
    }
}

/// A reply prepared for one (name, type): everything but the query's ID, RD and CD bits
/// and its spelling of the question.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Header bytes 2 and 3 with RD and CD clear.
    pub flags: [u8; 2],
    /// Answer, authority and additional counts.
    pub counts: [u16; 3],
    /// The sections after the question.
    pub body: Box<[u8]>,
    /// True when the body doesn't depend on the question's letter case (its names
    /// point at the question only as a whole). Otherwise only a lowercase question
    /// may use it.
    pub case_free: bool,
}

/// A zone's negative reply (NXDOMAIN or NODATA: the SOA in the authority section).
/// Its compression pointers depend on the question's length and are moved per query.
#[derive(Debug, Clone)]
pub struct Negative {
    /// The authority section as encoded after a question of `base_len` octets.
    pub body: Box<[u8]>,
    /// (position in `body`, pointer target relative to the end of the question name).
    pub fixups: Box<[(u16, i16)]>,
    /// Questions at or below these names share more than the origin with the SOA's
    /// MNAME or RNAME, so the encoder would point deeper into them: those are left to
    /// the general path.
    pub avoid: Box<[Box<[u8]>]>,
}

impl Negative {
    /// Append the body as it reads after a question name of `qname_len` octets.
    pub fn write(&self, qname_len: usize, out: &mut Vec<u8>) -> Option<()> {
        let start = out.len();
        out.extend_from_slice(&self.body);
        for &(pos, rel) in self.fixups.iter() {
            let target = (HEADER_LEN + qname_len) as i64 + i64::from(rel);
            if !(0..=0x3FFF).contains(&target) {
                return None;
            }
            let ptr = 0xC000 | target as u16;
            let p = start + pos as usize;
            out[p..p + 2].copy_from_slice(&ptr.to_be_bytes());
        }
        Some(())
    }
}

impl Names {
    /// The index of the deepest zone holding `key`.
    pub(super) fn zone_for(&self, key: &[u8]) -> Option<usize> {
        let (min, max) = self.origin_labels;
        let mut k = key;
        let mut n = key::labels(key);
        while n > max {
            k = key::parent(k);
            n -= 1;
        }
        loop {
            if let Some(&z) = self.origins.get(k) {
                return Some(z);
            }
            if n <= min {
                return None;
            }
            k = key::parent(k);
            n -= 1;
        }
    }

    /// Whether this was built from exactly these zones (the same loaded values).
    pub(super) fn built_from(&self, zones: &ZoneSet) -> bool {
        self.sources.len() == zones.zones.len()
            && self
                .sources
                .iter()
                .zip(&zones.zones)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

/// Build the static half: nodes, empty non-terminals, cuts. Prepared answers are added
/// by `prepare::prepare` once the whole set exists (CNAME targets may cross zones).
pub(super) fn build(zones: &ZoneSet) -> Names {
    let built: Vec<ZoneNames> = zones.zones.iter().map(|z| build_zone(z)).collect();
    let mut origins = KeyMap::default();
    let mut min = usize::MAX;
    let mut max = 0;
    for (i, z) in built.iter().enumerate() {
        // Two files for one origin are rejected by validation; the first would win here.
        origins.entry(z.origin_key.clone()).or_insert(i);
        let n = key::labels(&z.origin_key);
        min = min.min(n);
        max = max.max(n);
    }
    Names {
        sources: zones.zones.clone(),
        zones: built,
        origins,
        origin_labels: (min.min(max), max),
    }
}

fn build_zone(zone: &Zone) -> ZoneNames {
    let origin_key = key::owned(&zone.origin);
    let mut nodes: KeyMap<NameEntry> =
        KeyMap::with_capacity_and_hasher(zone.records.len() + zone.policies.len(), FxBuildHasher);

    // Every ancestor between a name and the apex exists as at least an empty
    // non-terminal, so it answers NODATA rather than NXDOMAIN (RFC 8020).
    let ensure = |nodes: &mut KeyMap<NameEntry>, k: &[u8]| {
        let mut k = k;
        while k.len() > origin_key.len() {
            k = key::parent(k);
            if !nodes.contains_key(k) {
                nodes.insert(k.into(), NameEntry::default());
            }
        }
    };

    for r in &zone.records {
        let k = key::owned(&r.name);
        ensure(&mut nodes, &k);
        let node = nodes.entry(k).or_default();
        let t = r.record_type();
        match node.rrsets.iter_mut().find(|(rt, _)| *rt == t) {
            Some((_, v)) => {
                // RFC 2181 §5: an RRset holds no duplicate records.
                if !v.iter().any(|x| x.data == r.data) {
                    v.push(r.clone())
                }
            }
            None => node.rrsets.push((t, vec![r.clone()])),
        }
    }
    for (k, node) in nodes.iter_mut() {
        if **k != *origin_key && node.rrset(RecordType::NS).is_some() {
            node.cut = true;
        }
        // RFC 2181 §5.2: all records of an RRset share one TTL; serve the lowest.
        for (_, set) in node.rrsets.iter_mut() {
            let ttl = set.iter().map(|r| r.ttl).min().unwrap_or(0);
            for r in set.iter_mut() {
                r.ttl = ttl;
            }
        }
    }

    for (i, p) in zone.policies.iter().enumerate() {
        let k = key::owned(&p.name);
        ensure(&mut nodes, &k);
        nodes.entry(k).or_default().policy = Some(i);
    }

    let has_cuts = nodes.values().any(|n| n.cut);
    if has_cuts {
        let cuts: std::collections::HashSet<Box<[u8]>, FxBuildHasher> = nodes
            .iter()
            .filter(|(_, n)| n.cut)
            .map(|(k, _)| k.clone())
            .collect();
        for (k, node) in nodes.iter_mut() {
            let mut a: &[u8] = k;
            while a.len() > origin_key.len() && !node.occluded {
                node.occluded = cuts.contains(a);
                a = key::parent(a);
            }
        }
    }

    let negative_soa = {
        let mut soa = zone.soa.clone();
        if let RData::SOA(s) = &zone.soa.data {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        soa
    };

    ZoneNames {
        has_cuts,
        has_wildcards: nodes.keys().any(|k| k.starts_with(b"\x01*")),
        origin_key,
        negative_soa,
        nodes,
        negative: None,
    }
}
