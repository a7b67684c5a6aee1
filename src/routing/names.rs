//! The static half of the routing table, and the types it stores: every zone's names,
//! RRsets, delegations and the wire replies prepared for them. It depends on the zone
//! set alone, so it is built when zones load and shared (`Arc`) by every table built
//! after a health change. `prepare` fills in the wire replies; `lookup` reads them.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use rustc_hash::FxBuildHasher;

use super::key;
use super::nodes::NodeIndex;
use crate::dnssec::{SignerConfig, ZoneSigner};
use crate::zone::store::RecordRef;
use crate::zone::{Zone, ZoneSet};

/// Length of the DNS header (RFC 1035 §4.1.1): prepared replies are laid out after it.
pub const HEADER_LEN: usize = 12;

/// Prepared replies larger than this are not kept: they would not fit a UDP reply
/// (at most 1232 bytes), and the general path truncates them anyway.
pub(super) const MAX_PREPARED: usize = 1232;

/// The most a reply body after the question may hold to be answered by the fast path:
/// what a question of one octet (the root) leaves of `MAX_PREPARED`.
pub(super) const MAX_BODY: usize = MAX_PREPARED - HEADER_LEN - 1 - 4;

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
/// Kept compact because a zone may hold millions of names: RRsets are runs of the
/// zone's own wire-format store (listed in `lists` only when they are not one run of
/// the file), and every node's RRsets and prepared replies are ranges of flat per-zone
/// tables, so a node costs a few words and no allocation of its own.
#[derive(Debug)]
pub(super) struct ZoneNames {
    pub origin_key: Box<[u8]>,
    /// The SOA for negative answers: TTL is min(SOA TTL, MINIMUM) (RFC 2308 §3).
    pub negative_soa: Record,
    pub nodes: NodeIndex<NameEntry>,
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
    /// Record indices of the RRsets that are not one run of `source.records` (split by
    /// the file, or with a duplicate dropped).
    lists: Vec<u32>,
    /// Every node's RRsets, node after node.
    sets: Vec<Set>,
    /// Every node's prepared replies, node after node.
    pub(super) prepared: Vec<(RecordType, Stored)>,
    /// The prepared replies' bodies, end to end.
    pub(super) bodies: Vec<u8>,
}

/// One RRset: a run of the zone's records, or a run of `lists`, served at one TTL (the
/// lowest of its records: RFC 2181 §5.2).
#[derive(Debug, Clone, Copy)]
struct Set {
    rtype: RecordType,
    listed: bool,
    ttl: u32,
    start: u32,
    len: u32,
}

/// One RRset of the table, read from the zone's store.
#[derive(Clone, Copy)]
pub struct RrSet<'z> {
    zone: &'z ZoneNames,
    set: Set,
}

impl<'z> RrSet<'z> {
    pub fn len(&self) -> usize {
        self.set.len as usize
    }

    pub fn ttl(&self) -> u32 {
        self.set.ttl
    }

    pub fn rtype(&self) -> RecordType {
        self.set.rtype
    }

    /// The stored records, in file order.
    pub fn iter(&self) -> impl Iterator<Item = RecordRef<'z>> + 'z {
        let (store, lists, s) = (&self.zone.source.records, &self.zone.lists, self.set);
        (0..s.len).filter_map(move |j| {
            let i = if s.listed {
                lists[(s.start + j) as usize]
            } else {
                s.start + j
            };
            store.get(i as usize)
        })
    }

    /// The records decoded at the set's TTL, under their stored owner name.
    pub fn records(&self) -> Vec<Record> {
        self.iter()
            .map(|r| r.to_record_with_ttl(self.set.ttl))
            .collect()
    }

    /// The records decoded at the set's TTL, under `owner`.
    pub fn records_as(&self, owner: &Name) -> Vec<Record> {
        self.iter()
            .map(|r| {
                let mut rec = r.to_record_with_ttl(self.set.ttl);
                rec.name = owner.clone();
                rec
            })
            .collect()
    }
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
    fn sets_of(&self, e: &NameEntry) -> &[Set] {
        &self.sets[e.sets.0 as usize..][..e.sets.1 as usize]
    }

    /// The RRset of type `t` at `e`.
    pub fn rrset(&self, e: &NameEntry, t: RecordType) -> Option<RrSet<'_>> {
        let set = *self.sets_of(e).iter().find(|s| s.rtype == t)?;
        Some(RrSet { zone: self, set })
    }

    /// The first RRset at `e` (what ANY is answered with, RFC 8482).
    pub fn first_rrset(&self, e: &NameEntry) -> Option<RrSet<'_>> {
        let set = *self.sets_of(e).first()?;
        Some(RrSet { zone: self, set })
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
    let store = &zone.records;
    let mut nodes: NodeIndex<NameEntry> =
        NodeIndex::with_capacity(store.owner_count() + zone.policies.len());

    // Every ancestor between a name and the apex exists as at least an empty
    // non-terminal, so it answers NODATA rather than NXDOMAIN (RFC 8020). An existing
    // ancestor already has its own ancestors: the walk stops there.
    let ensure = |nodes: &mut NodeIndex<NameEntry>, k: &[u8]| {
        let mut k = k;
        while k.len() > origin_key.len() {
            k = key::parent(k);
            if nodes.contains_key(k) {
                break;
            }
            nodes.index_or_default(k);
        }
    };

    // The node of each run of one owner's records, looked up once per run.
    let mut buf = key::new_buf();
    let mut node_of = |nodes: &mut NodeIndex<NameEntry>, r: RecordRef<'_>| -> Option<u32> {
        let owner = r.owner();
        let k = &mut buf[..owner.len()];
        k.copy_from_slice(owner);
        k.make_ascii_lowercase();
        let k = &buf[..owner.len()];
        if !nodes.contains_key(k) {
            ensure(nodes, k);
        }
        nodes.index_or_default(k).map(|n| n as u32)
    };
    let mut sets: Vec<Set> = Vec::with_capacity(store.len());
    let mut lists: Vec<u32> = Vec::new();
    let mut group: Vec<u32> = Vec::new();
    if owners_contiguous(store) {
        // The usual file: each name's records together. One pass, nothing to sort.
        let mut at = 0;
        while let Some(r) = store.get(at) {
            let end = (at + 1..store.len())
                .find(|&j| store.get(j).is_none_or(|m| m.owner_id() != r.owner_id()))
                .unwrap_or(store.len());
            if let Some(node) = node_of(&mut nodes, r) {
                group.clear();
                group.extend(at as u32..end as u32);
                add_node_sets(
                    store,
                    nodes.at_mut(node as usize),
                    &group,
                    &mut sets,
                    &mut lists,
                );
            }
            at = end;
        }
    } else {
        // (node, record) for every record, sorted: each node's records together, in
        // file order.
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(store.len());
        let mut last: Option<(u32, u32)> = None;
        for (i, r) in store.iter().enumerate() {
            let node = match last {
                Some((owner, node)) if owner == r.owner_id() => node,
                _ => {
                    let Some(node) = node_of(&mut nodes, r) else {
                        continue;
                    };
                    last = Some((r.owner_id(), node));
                    node
                }
            };
            pairs.push((node, i as u32));
        }
        pairs.sort_unstable();
        let mut at = 0;
        while at < pairs.len() {
            let node = pairs[at].0;
            let end = at + pairs[at..].iter().take_while(|p| p.0 == node).count();
            group.clear();
            group.extend(pairs[at..end].iter().map(|p| p.1));
            add_node_sets(
                store,
                nodes.at_mut(node as usize),
                &group,
                &mut sets,
                &mut lists,
            );
            at = end;
        }
    }
    drop(group);
    sets.shrink_to_fit();

    // Delegations: NS below the apex.
    let cut_flags: Vec<bool> = nodes
        .iter()
        .map(|(k, n)| {
            k != &*origin_key
                && sets[n.sets.0 as usize..][..n.sets.1 as usize]
                    .iter()
                    .any(|s| s.rtype == RecordType::NS)
        })
        .collect();
    for (n, cut) in nodes.values_mut().zip(&cut_flags) {
        n.cut = *cut;
    }
    drop(cut_flags);

    for (i, p) in zone.policies.iter().enumerate() {
        let k = key::owned(&p.name);
        ensure(&mut nodes, &k);
        if let Some(n) = nodes.index_or_default(&k) {
            nodes.at_mut(n).policy = Some(i as u32);
        }
    }

    let has_cuts = nodes.values().any(|n| n.cut);
    if has_cuts {
        let occluded: Vec<bool> = nodes
            .keys()
            .map(|k| {
                let mut a: &[u8] = k;
                while a.len() > origin_key.len() {
                    if nodes.get(a).is_some_and(|n| n.cut) {
                        return true;
                    }
                    a = key::parent(a);
                }
                false
            })
            .collect();
        for (n, o) in nodes.values_mut().zip(occluded) {
            n.occluded = o;
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
    let has_wildcards = nodes.keys().any(|k| k.starts_with(b"\x01*"));
    ZoneNames {
        has_cuts,
        has_wildcards,
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
        lists,
        sets,
        prepared: Vec::new(),
        bodies: Vec::new(),
    }
}

/// Whether each owner's records are together in the store. A new owner's id is past
/// every earlier one (ids are offsets into the name arena), so an id that is neither
/// the last one nor new is an owner seen before, apart from its other records.
fn owners_contiguous(store: &crate::zone::store::RecordStore) -> bool {
    let mut last = None;
    let mut max = None;
    store.iter().all(|r| {
        let id = r.owner_id();
        let ok = last == Some(id) || max.is_none_or(|m| id > m);
        last = Some(id);
        max = max.max(Some(id));
        ok
    })
}

/// Lay out the RRsets of one node's records (`group`: store indices in file order).
fn add_node_sets(
    store: &crate::zone::store::RecordStore,
    node: &mut NameEntry,
    group: &[u32],
    sets: &mut Vec<Set>,
    lists: &mut Vec<u32>,
) {
    let first_set = sets.len();
    if let [i] = group {
        // Most names of a big zone hold one record: nothing to look through.
        if let Some(r) = store.get(*i as usize) {
            sets.push(Set {
                rtype: r.rtype(),
                listed: false,
                ttl: r.ttl(),
                start: *i,
                len: 1,
            });
        }
    } else {
        // Types in the order they first appear.
        let mut done: Vec<RecordType> = Vec::new();
        for &i in group {
            let Some(r) = store.get(i as usize) else {
                continue;
            };
            let t = r.rtype();
            if done.contains(&t) {
                continue;
            }
            done.push(t);
            let (indices, members): (Vec<u32>, Vec<RecordRef<'_>>) = group
                .iter()
                .filter_map(|&j| store.get(j as usize).map(|m| (j, m)))
                .filter(|(_, m)| m.rtype() == t)
                .unzip();
            sets.push(set_of(t, &members, &indices, lists));
        }
    }
    node.sets = (first_set as u32, (sets.len() - first_set) as u16);
}

/// The RRset of `members` (one type at one name, in file order, with their record
/// indices): a run of the store when it is one, else listed with duplicates dropped
/// (RFC 2181 §5: octet-equal RDATA), at the lowest TTL of its records.
fn set_of(
    rtype: RecordType,
    members: &[RecordRef<'_>],
    indices: &[u32],
    lists: &mut Vec<u32>,
) -> Set {
    let ttl = members.iter().map(|m| m.ttl()).min().unwrap_or(0);
    let contiguous = indices.windows(2).all(|w| w[1] == w[0] + 1);
    let one_ttl = members.iter().all(|m| m.ttl() == ttl);
    let mut keep: Vec<u32> = Vec::with_capacity(indices.len());
    let mut seen: Vec<&[u8]> = Vec::with_capacity(members.len());
    for (m, &i) in members.iter().zip(indices) {
        // Sets are small; a quadratic look costs less than hashing them.
        if !seen.contains(&m.rdata()) {
            seen.push(m.rdata());
            keep.push(i);
        }
    }
    if contiguous && one_ttl && keep.len() == indices.len() {
        return Set {
            rtype,
            listed: false,
            ttl,
            start: indices.first().copied().unwrap_or(0),
            len: indices.len() as u32,
        };
    }
    let start = lists.len() as u32;
    lists.extend_from_slice(&keep);
    Set {
        rtype,
        listed: true,
        ttl,
        start,
        len: keep.len() as u32,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::str::FromStr;

    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::Name;

    use super::*;
    use crate::zone::store::RecordStore;

    const ZONE: &str = "[zone]\norigin = \"example.test.\"\nnameservers = [\"ns1.example.net.\"]\nsoa = { mname = \"ns1.example.net.\", rname = \"hostmaster.example.net.\" }\n";

    fn a(name: &str, ttl: u32, addr: &str) -> Record {
        let name = Name::from_str(name).unwrap();
        Record::from_rdata(name, ttl, RData::A(A::from_str(addr).unwrap()))
    }

    fn set(z: &ZoneNames, name: &str) -> Vec<(String, u32)> {
        let k = key::owned(&Name::from_str(name).unwrap());
        let e = z.nodes.get(&k).expect("node");
        let set = z.rrset(e, RecordType::A).expect("A set");
        set.records()
            .iter()
            .map(|r| (r.data.to_string(), r.ttl))
            .collect()
    }

    #[test]
    fn owners_are_contiguous_only_when_no_name_comes_back() {
        let store = |names: &[&str]| {
            let mut s = RecordStore::new();
            for (i, n) in names.iter().enumerate() {
                s.push(&a(n, 300, &format!("192.0.2.{i}"))).unwrap();
            }
            s
        };
        assert!(owners_contiguous(&store(&["a.t.", "a.t.", "b.t.", "c.t."])));
        assert!(owners_contiguous(&store(&[])));
        assert!(!owners_contiguous(&store(&["a.t.", "b.t.", "a.t."])));
        assert!(!owners_contiguous(&store(&[
            "a.t.", "b.t.", "B.t.", "c.t.", "A.t."
        ])));
    }

    #[test]
    fn rrsets_are_runs_of_the_zone_or_corrected_copies() {
        let mut zone = crate::config::parse_zone(Path::new("t.toml"), ZONE).expect("zone");
        let apex = zone.records.to_records();
        let records = [
            a("a.example.test.", 300, "192.0.2.1"),
            a("b.example.test.", 300, "192.0.2.9"),
            a("a.example.test.", 60, "192.0.2.2"),
            a("a.example.test.", 300, "192.0.2.1"),
            a("c.example.test.", 30, "192.0.2.3"),
            a("c.example.test.", 30, "192.0.2.4"),
            a("c.example.test.", 30, "192.0.2.3"),
            a("c.example.test.", 30, "192.0.2.5"),
        ];
        zone.records = RecordStore::new();
        for r in records.iter().chain(&apex) {
            zone.records.push(r).unwrap();
        }
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
        // Only the two corrected sets were listed; b is a run of the zone's records.
        assert_eq!(z.lists.len(), 5);
    }
}
