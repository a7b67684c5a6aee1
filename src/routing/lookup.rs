//! Answering one question from the table, at query time. `general` handles every case:
//! zone selection, delegations, exact names, empty non-terminals, wildcards (RFC 4592)
//! and CNAME chains (RFC 1034 §4.3.2). `fast` finds the common replies that `prepare`
//! made at build time, without allocating, for the UDP fast path.

use std::borrow::Cow;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::names::{NameEntry, Names, Negative, RrSet, ZoneNames};
use super::{key, RoutingTable, ZoneTable};
use crate::metrics::query::QueryCounters;
use crate::policy::Client;

/// A record borrowed from the table, or synthesized for this query (wildcard owner,
/// the question's spelling of the owner name).
pub type Rec<'t> = Cow<'t, Record>;

/// Longest CNAME chain followed inside our zones before answering with what we have.
const MAX_CHAIN: usize = 8;

/// The outcome of a lookup, ready for the DNS layer to put on the wire.
#[derive(Debug)]
pub struct Lookup<'t> {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Rec<'t>>,
    pub authority: Vec<Rec<'t>>,
    pub additional: Vec<Rec<'t>>,
    /// ECS scope prefix length of the answer, when a policy decided it.
    pub scope: Option<u8>,
    /// The query counters of the zone, or of the policy, that answered; `None` when no
    /// zone did (the table's `unmatched` block counts those).
    pub counters: Option<&'t QueryCounters>,
    /// Some additional data depends on the client (a policy name is a target) and was
    /// left out because the lookup had no policies: such a reply is never prepared.
    pub needs_client: bool,
}

impl Lookup<'_> {
    pub(super) fn new(rcode: ResponseCode, authoritative: bool) -> Self {
        Self {
            rcode,
            authoritative,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            scope: None,
            counters: None,
            needs_client: false,
        }
    }
}

enum Found<'t> {
    Exact(&'t NameEntry),
    Wildcard(&'t NameEntry),
    Referral(&'t NameEntry),
    NxDomain,
}

impl ZoneNames {
    fn find(&self, name: &[u8], qtype: RecordType) -> Found<'_> {
        let origin_len = self.origin_key.len();
        if self.has_cuts {
            // The highest cut between the apex and the name wins.
            let mut cut = None;
            let mut n = name;
            while n.len() > origin_len {
                if let Some(node) = self.nodes.get(n) {
                    // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1).
                    let parent_side = qtype == RecordType::DS && n.len() == name.len();
                    if node.cut && !parent_side {
                        cut = Some(node);
                    }
                }
                n = key::parent(n);
            }
            if let Some(node) = cut {
                return Found::Referral(node);
            }
        }
        if let Some(node) = self.nodes.get(name) {
            return Found::Exact(node);
        }
        if self.has_wildcards {
            // The closest encloser is the longest existing ancestor; only `*.` of it
            // may match (RFC 4592 §3.3.1).
            let mut child = name;
            while child.len() > origin_len {
                let parent = key::parent(child);
                if parent.len() == origin_len || self.nodes.contains_key(parent) {
                    // `*.parent`: the child's first label replaced by `*`.
                    let mut buf = key::new_buf();
                    let node = key::wildcard_of(parent, &mut buf).and_then(|w| self.nodes.get(w));
                    return match node {
                        Some(node) => Found::Wildcard(node),
                        None => Found::NxDomain,
                    };
                }
                child = parent;
            }
        }
        Found::NxDomain
    }

    /// A and AAAA records for `target` held in this zone, for glue and additional data.
    fn addresses_of<'t>(&'t self, target: &Name, out: &mut Vec<Rec<'t>>) {
        let mut buf = key::new_buf();
        let Some(k) = key::of(target, &mut buf) else {
            return;
        };
        if !key::within(k, &self.origin_key) {
            return;
        }
        if let Some(node) = self.nodes.get(k) {
            for t in [RecordType::A, RecordType::AAAA] {
                if let Some(set) = self.rrset(node, t) {
                    out.extend(set.records().into_iter().map(Cow::Owned));
                }
            }
        }
    }
}

/// Put `set` in `out` under the owner name the question used (or a CNAME target's),
/// decoded from the store.
fn push_set_as<'t>(out: &mut Vec<Rec<'t>>, set: RrSet<'t>, owner: &Name) {
    out.extend(set.records_as(owner).into_iter().map(Cow::Owned));
}

/// Put `records` in `out` under the owner name the question used: borrowed when the
/// stored spelling already matches, so the common case copies nothing.
fn push_as<'t>(out: &mut Vec<Rec<'t>>, records: &'t [Record], owner: &Name, synthesize: bool) {
    for r in records {
        if !synthesize && r.name.eq_case(owner) {
            out.push(Cow::Borrowed(r));
        } else {
            let mut r = r.clone();
            r.name = owner.clone();
            out.push(Cow::Owned(r));
        }
    }
}

impl RoutingTable {
    /// Answer `qname`/`qtype` (class IN) for `client`.
    pub fn lookup<'t>(&'t self, qname: &Name, qtype: RecordType, client: &Client) -> Lookup<'t> {
        general(&self.names, &self.zones, qname, qtype, client)
    }
}

/// The general lookup: every case, the reference the prepared answers are made from.
/// `dynamic` holds the policies; a lookup that reaches no policy may pass none.
pub(super) fn general<'t>(
    names: &'t Names,
    dynamic: &'t [ZoneTable],
    qname: &Name,
    qtype: RecordType,
    client: &Client,
) -> Lookup<'t> {
    let mut buf = key::new_buf();
    let mut len = match key::of(qname, &mut buf) {
        Some(k) => k.len(),
        None => return Lookup::new(ResponseCode::Refused, false),
    };
    let Some(mut zi) = names.zone_for(&buf[..len]) else {
        return Lookup::new(ResponseCode::Refused, false);
    };
    let mut out = Lookup::new(ResponseCode::NoError, true);
    out.counters = dynamic
        .get(zi)
        .and_then(|z| z.counters.first())
        .map(AsRef::as_ref);
    let mut owner: Cow<'_, Name> = Cow::Borrowed(qname);

    for hop in 0..MAX_CHAIN {
        let zone = &names.zones[zi];
        let (entry, synthesized) = match zone.find(&buf[..len], qtype) {
            Found::Exact(n) => (n, false),
            Found::Wildcard(n) => (n, true),
            Found::Referral(cut) => {
                if hop == 0 {
                    refer(zone, cut, &mut out);
                }
                return out;
            }
            Found::NxDomain => {
                out.rcode = ResponseCode::NXDomain;
                out.authority.push(Cow::Borrowed(&zone.negative_soa));
                return out;
            }
        };
        let at = At {
            zone,
            entry,
            owner: &owner,
            synthesized,
        };
        if let Some(pi) = entry.policy {
            // Preparing replies passes no policies: a chain that reaches one depends on
            // the client and is never prepared.
            let Some(d) = dynamic.get(zi) else {
                out.needs_client = true;
                return out;
            };
            answer_policy(&at, d, pi as usize, qtype, client, &mut out);
            return out;
        }
        let Some(target) = answer_static(&at, qtype, &mut out) else {
            if matches!(qtype, RecordType::MX | RecordType::SRV | RecordType::NS) {
                target_addresses(zone, dynamic.get(zi), client, &mut out);
            }
            return out;
        };
        // Follow the chain only inside our own zones; past them the resolver goes on.
        len = match key::of(&target, &mut buf) {
            Some(k) => k.len(),
            None => return out,
        };
        match names.zone_for(&buf[..len]) {
            Some(z) => zi = z,
            None => return out,
        }
        owner = Cow::Owned(target);
    }
    out
}

/// Where one hop of a lookup landed: the name's entry, and the owner name to answer
/// under (the question's, or a CNAME target's).
struct At<'t, 'o> {
    zone: &'t ZoneNames,
    entry: &'t NameEntry,
    owner: &'o Name,
    /// Matched through a wildcard: records are copied under `owner`.
    synthesized: bool,
}

/// A referral to the delegation at `cut`: its NS records and any glue we hold. Not an
/// authoritative answer (RFC 1034 §4.3.2 3b).
fn refer<'t>(zone: &'t ZoneNames, cut: &'t NameEntry, out: &mut Lookup<'t>) {
    out.authoritative = false;
    if let Some(ns) = zone.rrset(cut, RecordType::NS) {
        let ns = ns.records();
        for r in &ns {
            if let RData::NS(target) = &r.data {
                zone.addresses_of(&target.0, &mut out.additional);
            }
        }
        out.authority.extend(ns.into_iter().map(Cow::Owned));
    }
}

/// Additional data for an MX, SRV or NS answer: the A and AAAA RRsets this zone holds
/// for each exchange, target or host, static or a policy's answer for this same client
/// (which widens the ECS scope like the answer's own). Whole RRsets only; `encode` drops
/// the section rather than truncate when it does not fit.
fn target_addresses<'t>(
    zone: &'t ZoneNames,
    dynamic: Option<&'t ZoneTable>,
    client: &Client,
    out: &mut Lookup<'t>,
) {
    // Name equality ignores case.
    let mut targets: Vec<Name> = Vec::new();
    for r in &out.answers {
        let t = match &r.data {
            RData::MX(mx) => &mx.exchange,
            RData::SRV(srv) => &srv.target,
            RData::NS(ns) => &ns.0,
            _ => continue,
        };
        if !t.is_root() && !targets.contains(t) {
            targets.push(t.clone());
        }
    }
    for target in &targets {
        let mut buf = key::new_buf();
        let Some(k) = key::of(target, &mut buf) else {
            continue;
        };
        if !key::within(k, &zone.origin_key) {
            continue;
        }
        let Some(node) = zone.nodes.get(k) else {
            continue;
        };
        if node.occluded {
            continue;
        }
        match node.policy {
            Some(pi) => {
                let Some(policy) = dynamic.and_then(|d| d.policies.get(pi as usize)) else {
                    out.needs_client = true;
                    continue;
                };
                let (answer, scope) = policy.select(client);
                out.additional.extend(answer.a.iter().map(Cow::Borrowed));
                out.additional.extend(answer.aaaa.iter().map(Cow::Borrowed));
                out.scope = Some(out.scope.map_or(scope, |s: u8| s.max(scope)));
            }
            None => zone.addresses_of(target, &mut out.additional),
        }
    }
}

/// The answer of policy `pi` for `client`: its A or AAAA records, or NODATA.
fn answer_policy<'t>(
    at: &At<'t, '_>,
    dynamic: &'t ZoneTable,
    pi: usize,
    qtype: RecordType,
    client: &Client,
    out: &mut Lookup<'t>,
) {
    let policy = &dynamic.policies[pi];
    if let Some(c) = dynamic.counters.get(pi + 1) {
        out.counters = Some(c);
    }
    let (answer, scope) = policy.select(client);
    let records: &[Record] = match qtype {
        RecordType::A => &answer.a,
        RecordType::AAAA => &answer.aaaa,
        // RFC 8482: ANY gets one RRset of the name, the one an A query would get (the
        // AAAA set when there is no A). Never nothing: a resolver would cache NODATA.
        RecordType::ANY if !answer.a.is_empty() => &answer.a,
        RecordType::ANY => &answer.aaaa,
        _ => &[],
    };
    out.scope = Some(out.scope.map_or(scope, |s: u8| s.max(scope)));
    if records.is_empty() {
        out.authority.push(Cow::Borrowed(&at.zone.negative_soa));
    } else {
        push_as(&mut out.answers, records, at.owner, at.synthesized);
    }
}

/// Answer from the static RRsets at `at`. Returns the CNAME target when the chain goes
/// on; `None` when the lookup is complete (an answer, or NODATA).
fn answer_static<'t>(at: &At<'t, '_>, qtype: RecordType, out: &mut Lookup<'t>) -> Option<Name> {
    let (zone, entry, owner) = (at.zone, at.entry, at.owner);
    if let Some(set) = zone.rrset(entry, qtype) {
        push_set_as(&mut out.answers, set, owner);
        return None;
    }
    if qtype == RecordType::ANY {
        if let Some(set) = zone.first_rrset(entry) {
            // RFC 8482: answer ANY with one RRset rather than everything.
            push_set_as(&mut out.answers, set, owner);
            return None;
        }
    }

    let cname_target = zone.rrset(entry, RecordType::CNAME).and_then(|set| {
        if qtype == RecordType::CNAME {
            return None;
        }
        let records = set.records_as(owner);
        let target = match records.first().map(|r| &r.data) {
            Some(RData::CNAME(c)) => Some(c.0.clone()),
            _ => None,
        };
        out.answers.extend(records.into_iter().map(Cow::Owned));
        target
    });
    if cname_target.is_none() {
        // NODATA: the name exists (possibly as an empty non-terminal).
        out.authority.push(Cow::Borrowed(&zone.negative_soa));
    }
    cname_target
}

// ---- the fast path ------------------------------------------------------------

/// What the fast path sends after the question.
#[derive(Debug)]
pub enum Body<'t> {
    Bytes(&'t [u8]),
    Negative(&'t Negative),
    /// A static A or AAAA RRset, written from the store under a pointer to the question.
    Addresses(Addresses<'t>),
}

/// A static address RRset as the fast path writes it: nothing is prepared for these
/// (a big zone is mostly them, and the bytes cost less to write than to keep).
#[derive(Clone, Copy)]
pub struct Addresses<'t>(RrSet<'t>);

impl std::fmt::Debug for Addresses<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Addresses({} records)", self.0.len())
    }
}

impl Addresses<'_> {
    /// Append the answer section: each record as `prepare_one` would encode it.
    pub fn write(&self, out: &mut Vec<u8>) {
        let set = self.0;
        let rtype = u16::from(set.rtype()).to_be_bytes();
        let ttl = set.ttl().to_be_bytes();
        for r in set.iter() {
            let data = r.rdata();
            out.extend_from_slice(&[0xC0, super::names::HEADER_LEN as u8]);
            out.extend_from_slice(&rtype);
            out.extend_from_slice(&[0, 1]);
            out.extend_from_slice(&ttl);
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
    }

    /// Records `write` appends.
    pub fn count(&self) -> u16 {
        self.0.len() as u16
    }

    /// Octets `write` appends.
    pub fn len(&self) -> usize {
        self.0.iter().map(|r| 12 + r.rdata().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
}

/// The fast-path body for a static A or AAAA RRset of at most `max` octets.
pub(super) fn addresses(set: RrSet<'_>, max: usize) -> Option<Addresses<'_>> {
    if !matches!(set.rtype(), RecordType::A | RecordType::AAAA) || set.len() > usize::from(u16::MAX)
    {
        return None;
    }
    let a = Addresses(set);
    (a.len() <= max).then_some(a)
}

/// A reply found without allocating.
#[derive(Debug)]
pub struct FastAnswer<'t> {
    /// Header bytes 2 and 3 with RD and CD clear.
    pub flags: [u8; 2],
    pub counts: [u16; 3],
    pub body: Body<'t>,
    /// The ECS scope of a policy answer (`None`: not a policy name).
    pub scope: Option<u8>,
    /// See `Prepared::case_free`.
    pub case_free: bool,
    /// The query counters this answer counts against (zone, policy, or unmatched).
    pub counters: Option<&'t QueryCounters>,
}

fn flags(authoritative: bool, rcode: ResponseCode) -> [u8; 2] {
    [0x80 | if authoritative { 0x04 } else { 0 }, rcode.low()]
}

impl RoutingTable {
    /// The reply to `key` (a lowercase wire name) and `qtype` (class IN), when it can be
    /// given without the general lookup; `None` sends the query there.
    #[inline]
    pub fn fast(&self, key: &[u8], qtype: RecordType, client: &Client) -> Option<FastAnswer<'_>> {
        let names = &*self.names;
        let Some(zi) = names.zone_for(key) else {
            return Some(FastAnswer {
                flags: flags(false, ResponseCode::Refused),
                counts: [0; 3],
                body: Body::Bytes(&[]),
                scope: None,
                case_free: true,
                counters: Some(&self.unmatched),
            });
        };
        let counters = &self.zones[zi].counters;
        let static_counters = counters.first().map(AsRef::as_ref);
        let zone = &names.zones[zi];
        let Some(node) = zone.nodes.get(key) else {
            return match zone.find(key, qtype) {
                Found::NxDomain => negative(zone, key, ResponseCode::NXDomain, None),
                Found::Wildcard(w) => wildcard(zone, w, key, qtype),
                // Referrals are the general path's.
                Found::Referral(_) | Found::Exact(_) => None,
            }
            .map(|a| a.counted(static_counters));
        };
        if node.occluded {
            return None;
        }
        if let Some(pi) = node.policy {
            let pi = pi as usize;
            let policy_counters = counters.get(pi + 1).map(AsRef::as_ref);
            let (answer, scope) = self.zones[zi].policies[pi].select(client);
            let (rrs, count) = match qtype {
                RecordType::A => (&answer.wire.a, answer.a.len()),
                RecordType::AAAA => (&answer.wire.aaaa, answer.aaaa.len()),
                _ => {
                    return negative(zone, key, ResponseCode::NoError, Some(scope))
                        .map(|a| a.counted(policy_counters))
                }
            };
            if count == 0 {
                return negative(zone, key, ResponseCode::NoError, Some(scope))
                    .map(|a| a.counted(policy_counters));
            }
            return Some(FastAnswer {
                flags: flags(true, ResponseCode::NoError),
                counts: [count as u16, 0, 0],
                body: Body::Bytes(rrs),
                scope: Some(scope),
                case_free: true,
                counters: policy_counters,
            });
        }
        if matches!(qtype, RecordType::A | RecordType::AAAA) {
            if let Some(a) = zone.rrset(node, qtype).and_then(address_answer) {
                return Some(a.counted(static_counters));
            }
        }
        if let Some((p, body)) = zone.prepared(node, qtype) {
            return Some(FastAnswer {
                flags: p.flags,
                counts: p.counts,
                body: Body::Bytes(body),
                scope: None,
                case_free: p.case_free,
                counters: static_counters,
            });
        }
        // RFC 8482 ANY, CNAME chains, and RRsets too big to prepare.
        if qtype == RecordType::ANY
            || zone.rrset(node, qtype).is_some()
            || zone.rrset(node, RecordType::CNAME).is_some()
        {
            return None;
        }
        negative(zone, key, ResponseCode::NoError, None).map(|a| a.counted(static_counters))
    }
}

/// The reply synthesized from the wildcard `w` (RFC 4592) for the missing name `key`,
/// when it does not depend on the name: an address RRset (its owner is a pointer to the
/// question) or NODATA. Other types may compress names against the question, and a
/// wildcard CNAME starts a chain: those are the general path's.
fn wildcard<'t>(
    zone: &'t ZoneNames,
    w: &'t NameEntry,
    key: &[u8],
    qtype: RecordType,
) -> Option<FastAnswer<'t>> {
    if w.occluded || w.policy.is_some() || qtype == RecordType::ANY {
        return None;
    }
    if let Some(set) = zone.rrset(w, qtype) {
        return address_answer(set);
    }
    if zone.rrset(w, RecordType::CNAME).is_some() {
        return None;
    }
    negative(zone, key, ResponseCode::NoError, None)
}

/// The fast reply holding a static address RRset, when it is one and fits.
fn address_answer(set: RrSet<'_>) -> Option<FastAnswer<'_>> {
    let a = addresses(set, super::names::MAX_BODY)?;
    Some(FastAnswer {
        flags: flags(true, ResponseCode::NoError),
        counts: [a.count(), 0, 0],
        body: Body::Addresses(a),
        scope: None,
        case_free: true,
        counters: None,
    })
}

impl<'t> FastAnswer<'t> {
    fn counted(mut self, counters: Option<&'t QueryCounters>) -> Self {
        self.counters = counters;
        self
    }
}

fn negative<'t>(
    zone: &'t ZoneNames,
    key: &[u8],
    rcode: ResponseCode,
    scope: Option<u8>,
) -> Option<FastAnswer<'t>> {
    let n = zone.negative.as_ref()?;
    if n.avoid.iter().any(|a| key::within(key, a)) {
        return None;
    }
    Some(FastAnswer {
        flags: flags(true, rcode),
        counts: [0, 1, 0],
        body: Body::Negative(n),
        scope,
        case_free: false,
        counters: None,
    })
}
