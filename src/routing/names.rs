//! The static half of the routing table, and the types it stores: every zone's names,
//! RRsets, delegations and the wire replies prepared for them. It depends on the zone
//! set alone, so it is built when zones load and shared (`Arc`) by every table built
//! after a health change. `prepare` fills in the wire replies; `lookup` reads them.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{RData, Record, RecordType};
use rustc_hash::FxBuildHasher;

use super::key;
use crate::dnssec::{SignerConfig, ZoneSigner};
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
///
/// Kept compact because a zone may hold millions of names: RRsets are ranges of the
/// zone's own `records` (copied into `extra` only when they are not one run of the
/// file with one TTL), and every node's RRsets and prepared replies are ranges of
/// flat per-zone tables, so a node costs a few words and no allocation of its own.
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
    /// The zone's signer when it has `[dnssec]` keys: shared by every table built from
    /// these names, so its signature cache survives health rebuilds.
    pub signer: Option<Arc<ZoneSigner>>,
    /// The zone whose `records` the RRsets point into.
    source: Arc<Zone>,
    /// RRsets that needed a change (duplicates dropped, one TTL) or were not
    /// contiguous in `source.records`.
    extra: Vec<Record>,
    /// Every node's RRsets, node after node.
    sets: Vec<Set>,
    /// Every node's prepared replies, node after node.
    pub(super) prepared: Vec<(RecordType, Stored)>,
    /// The prepared replies' bodies, end to end.
    pub(super) bodies: Vec<u8>,
}

/// One RRset: a range of the zone's records, or of its `extra` copies.
#[derive(Debug, Clone, Copy)]
struct Set {
    rtype: RecordType,
    copied: bool,
    start: u32,
    len: u32,
}

/// What the table holds for one owner name.
#[derive(Debug, Default)]
pub(super) struct NameEntry {
    /// Static RRsets (`ZoneNames::sets[sets.0..][..sets.1]`); none for an empty
    /// non-terminal or a policy name.
    sets: (u32, u16),
    /// Replies prepared for its RRsets (`ZoneNames::prepared`, same layout).
    pub(super) prepared: (u32, u16),
    /// Index into the zone's policies (`ZoneTable::policies`).
    pub policy: Option<u32>,
    /// A delegation point (NS below the apex).
    pub cut: bool,
    /// At or below a delegation point: always answered by the general path.
    pub occluded: bool,
}

/// A prepared reply as stored: `Prepared` with its body in `ZoneNames::bodies`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stored {
    pub flags: [u8; 2],
    pub counts: [u16; 3],
    pub case_free: bool,
    pub start: u32,
    pub len: u16,
}

impl ZoneNames {
    fn records_of(&self, s: &Set) -> &[Record] {
        let all = if s.copied {
            &self.extra
        } else {
            &self.source.records
        };
        &all[s.start as usize..(s.start + s.len) as usize]
    }

    fn sets_of(&self, e: &NameEntry) -> &[Set] {
        &self.sets[e.sets.0 as usize..][..e.sets.1 as usize]
    }

    /// The RRset of type `t` at `e`.
    pub fn rrset(&self, e: &NameEntry, t: RecordType) -> Option<&[Record]> {
        let s = self.sets_of(e).iter().find(|s| s.rtype == t)?;
        Some(self.records_of(s))
    }

    /// The first RRset at `e` (what ANY is answered with, RFC 8482).
    pub fn first_rrset(&self, e: &NameEntry) -> Option<&[Record]> {
        self.sets_of(e).first().map(|s| self.records_of(s))
    }

    /// The types of the RRsets at `e`, in order.
    pub fn types(&self, e: &NameEntry) -> impl Iterator<Item = RecordType> + '_ {
        self.sets_of(e).iter().map(|s| s.rtype)
    }

    /// Where the reply prepared for `t` at `e` is in `prepared`.
    pub fn prepared_index(&self, e: &NameEntry, t: RecordType) -> Option<usize> {
        let (start, n) = (e.prepared.0 as usize, e.prepared.1 as usize);
        let at = self.prepared[start..][..n]
            .iter()
            .position(|(rt, _)| *rt == t)?;
        Some(start + at)
    }

    /// The reply prepared for `t` at `e`: its header parts and body.
    pub fn prepared(&self, e: &NameEntry, t: RecordType) -> Option<(&Stored, &[u8])> {
        let (_, p) = self.prepared[e.prepared.0 as usize..][..e.prepared.1 as usize]
            .iter()
            .find(|(rt, _)| *rt == t)?;
        Some((p, &self.bodies[p.start as usize..][..p.len as usize]))
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
    let built: Vec<ZoneNames> = zones.zones.iter().map(build_zone).collect();
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

fn build_zone(zone: &Arc<Zone>) -> ZoneNames {
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

    // Each node's RRsets while building (`sets.0` indexes `building` until they are
    // laid out flat): runs of `zone.records` where the file keeps an RRset together,
    // as it usually does; index lists (in `lists`) where it does not.
    let mut building: Vec<Vec<Set>> = Vec::new();
    let mut lists: Vec<Vec<u32>> = Vec::new();
    let records = &zone.records;
    for (i, r) in records.iter().enumerate() {
        let i = i as u32;
        let k = key::owned(&r.name);
        ensure(&mut nodes, &k);
        let node = nodes.entry(k).or_default();
        if node.sets.1 == 0 {
            node.sets = (building.len() as u32, 1);
            building.push(Vec::new());
        }
        let sets = &mut building[node.sets.0 as usize];
        let t = r.record_type();
        let Some(s) = sets.iter_mut().find(|s| s.rtype == t) else {
            sets.push(Set {
                rtype: t,
                copied: false,
                start: i,
                len: 1,
            });
            continue;
        };
        let members: Vec<u32> = if s.copied {
            std::mem::take(&mut lists[s.start as usize])
        } else {
            (s.start..s.start + s.len).collect()
        };
        // RFC 2181 §5: an RRset holds no duplicate records.
        let dup = members.iter().any(|&j| records[j as usize].data == r.data);
        let run =
            !s.copied && !dup && s.start + s.len == i && records[s.start as usize].ttl == r.ttl;
        if run {
            s.len += 1;
            continue;
        }
        let mut members = members;
        if !dup {
            members.push(i);
        }
        if s.copied {
            lists[s.start as usize] = members;
        } else if !dup {
            s.copied = true;
            s.start = lists.len() as u32;
            lists.push(members);
        }
    }
    // Lay the sets out flat; copy the index lists into `extra`, every record of a set
    // with the set's lowest TTL (RFC 2181 §5.2: one TTL per RRset; serve the lowest).
    let mut flat = Vec::with_capacity(building.iter().map(Vec::len).sum());
    let mut extra = Vec::new();
    for (k, node) in nodes.iter_mut() {
        if node.sets.1 == 0 {
            continue;
        }
        let sets = std::mem::take(&mut building[node.sets.0 as usize]);
        node.sets = (flat.len() as u32, sets.len() as u16);
        for mut s in sets {
            if s.copied {
                let list = std::mem::take(&mut lists[s.start as usize]);
                let ttl = list
                    .iter()
                    .map(|&j| records[j as usize].ttl)
                    .min()
                    .unwrap_or(0);
                s.start = extra.len() as u32;
                s.len = list.len() as u32;
                extra.extend(list.iter().map(|&j| {
                    let mut r = records[j as usize].clone();
                    r.ttl = ttl;
                    r
                }));
            }
            if s.rtype == RecordType::NS && **k != *origin_key {
                node.cut = true;
            }
            flat.push(s);
        }
    }
    drop(building);
    drop(lists);

    for (i, p) in zone.policies.iter().enumerate() {
        let k = key::owned(&p.name);
        ensure(&mut nodes, &k);
        nodes.entry(k).or_default().policy = Some(i as u32);
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

    nodes.shrink_to_fit();
    ZoneNames {
        has_cuts,
        has_wildcards: nodes.keys().any(|k| k.starts_with(b"\x01*")),
        origin_key,
        negative_soa,
        nodes,
        negative: None,
        signer: zone.dnssec.as_ref().map(|k| {
            let mut config = SignerConfig::default();
            if let Some(v) = zone.signature_validity {
                config.validity = v;
            }
            Arc::new(ZoneSigner::new(k.clone(), config))
        }),
        source: zone.clone(),
        extra,
        sets: flat,
        prepared: Vec::new(),
        bodies: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::str::FromStr;

    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::Name;

    use super::*;

    const ZONE: &str = "[zone]\norigin = \"example.test.\"\nnameservers = [\"ns1.example.net.\"]\nsoa = { mname = \"ns1.example.net.\", rname = \"hostmaster.example.net.\" }\n";

    fn a(name: &str, ttl: u32, addr: &str) -> Record {
        let name = Name::from_str(name).unwrap();
        Record::from_rdata(name, ttl, RData::A(A::from_str(addr).unwrap()))
    }

    fn set(z: &ZoneNames, name: &str) -> Vec<(String, u32)> {
        let k = key::owned(&Name::from_str(name).unwrap());
        let e = z.nodes.get(&k).expect("node");
        let set = z.rrset(e, RecordType::A).expect("A set");
        set.iter().map(|r| (r.data.to_string(), r.ttl)).collect()
    }

    #[test]
    fn rrsets_are_runs_of_the_zone_or_corrected_copies() {
        let mut zone = crate::config::parse_zone(Path::new("t.toml"), ZONE).expect("zone");
        let apex = zone.records.clone();
        zone.records = vec![
            a("a.example.test.", 300, "192.0.2.1"),
            a("b.example.test.", 300, "192.0.2.9"),
            a("a.example.test.", 60, "192.0.2.2"),
            a("a.example.test.", 300, "192.0.2.1"),
            a("c.example.test.", 30, "192.0.2.3"),
            a("c.example.test.", 30, "192.0.2.4"),
            a("c.example.test.", 30, "192.0.2.3"),
            a("c.example.test.", 30, "192.0.2.5"),
        ];
        zone.records.extend(apex);
        let names = build(&ZoneSet {
            zones: vec![Arc::new(zone)],
        });
        let z = &names.zones[0];
        // Split, duplicated and with two TTLs: copied, once each, at the lowest TTL.
        let want = |v: &[(&str, u32)]| -> Vec<(String, u32)> {
            v.iter().map(|(a, t)| (a.to_string(), *t)).collect()
        };
        assert_eq!(
            set(z, "a.example.test."),
            want(&[("192.0.2.1", 60), ("192.0.2.2", 60)])
        );
        // A duplicate inside a run copies the set without it.
        assert_eq!(
            set(z, "c.example.test."),
            want(&[("192.0.2.3", 30), ("192.0.2.4", 30), ("192.0.2.5", 30)])
        );
        assert_eq!(set(z, "b.example.test."), want(&[("192.0.2.9", 300)]));
        // Only the two corrected sets were copied; b points into the zone's records.
        assert_eq!(z.extra.len(), 5);
    }
}
