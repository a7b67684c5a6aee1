//! The static half of the routing table: every zone's names, RRsets, delegations and
//! prepared wire answers. It depends on the zone set alone, so it is built when zones
//! load and shared (`Arc`) by every table built after a health change.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{RData, Record, RecordType};
use rustc_hash::FxBuildHasher;

use super::key;
use super::wire::{Negative, Prepared};
use crate::zone::{Zone, ZoneSet};

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
    pub nodes: KeyMap<Node>,
    /// Any delegation below the apex: lets lookups skip the cut search when there is none.
    pub has_cuts: bool,
    pub has_wildcards: bool,
    /// NXDOMAIN/NODATA in wire form, when it could be prepared.
    pub negative: Option<Negative>,
}

#[derive(Debug, Default)]
pub(super) struct Node {
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

impl Node {
    pub fn rrset(&self, t: RecordType) -> Option<&[Record]> {
        self.rrsets
            .iter()
            .find(|(rt, _)| *rt == t)
            .map(|(_, v)| v.as_slice())
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
/// by `wire::prepare` once the whole set exists (CNAME targets may cross zones).
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
    let mut nodes: KeyMap<Node> =
        KeyMap::with_capacity_and_hasher(zone.records.len() + zone.policies.len(), FxBuildHasher);

    // Every ancestor between a name and the apex exists as at least an empty
    // non-terminal, so it answers NODATA rather than NXDOMAIN (RFC 8020).
    let ensure = |nodes: &mut KeyMap<Node>, k: &[u8]| {
        let mut k = k;
        while k.len() > origin_key.len() {
            k = key::parent(k);
            if !nodes.contains_key(k) {
                nodes.insert(k.into(), Node::default());
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
