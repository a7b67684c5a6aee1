//! Answering one question from the table: zone selection, delegations, exact names,
//! empty non-terminals, wildcards (RFC 4592) and CNAME chains (RFC 1034 §4.3.2).

use std::borrow::Cow;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::names::{Names, Node, ZoneNames};
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
}

impl Lookup<'_> {
    fn new(rcode: ResponseCode, authoritative: bool) -> Self {
        Self {
            rcode,
            authoritative,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            scope: None,
            counters: None,
        }
    }
}

enum Found<'t> {
    Exact(&'t Node),
    Wildcard(&'t Node),
    Referral(&'t Node),
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
                if let Some(set) = node.rrset(t) {
                    out.extend(set.iter().map(Cow::Borrowed));
                }
            }
        }
    }
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
        let (node, synthesized) = match zone.find(&buf[..len], qtype) {
            Found::Exact(n) => (n, false),
            Found::Wildcard(n) => (n, true),
            Found::Referral(cut) => {
                if hop == 0 {
                    // A referral is not an authoritative answer (RFC 1034 §4.3.2 3b).
                    out.authoritative = false;
                    if let Some(ns) = cut.rrset(RecordType::NS) {
                        out.authority.extend(ns.iter().map(Cow::Borrowed));
                        for r in ns {
                            if let RData::NS(target) = &r.data {
                                zone.addresses_of(&target.0, &mut out.additional);
                            }
                        }
                    }
                }
                return out;
            }
            Found::NxDomain => {
                out.rcode = ResponseCode::NXDomain;
                out.authority.push(Cow::Borrowed(&zone.negative_soa));
                return out;
            }
        };

        if let Some(pi) = node.policy {
            let policy = &dynamic[zi].policies[pi];
            if let Some(c) = dynamic[zi].counters.get(pi + 1) {
                out.counters = Some(c);
            }
            let (answer, scope) = policy.select(client);
            let records: &[Record] = match qtype {
                RecordType::A => &answer.a,
                RecordType::AAAA => &answer.aaaa,
                _ => &[],
            };
            out.scope = Some(out.scope.map_or(scope, |s: u8| s.max(scope)));
            if records.is_empty() {
                out.authority.push(Cow::Borrowed(&zone.negative_soa));
            } else {
                push_as(&mut out.answers, records, &owner, synthesized);
            }
            return out;
        }

        if let Some(set) = node.rrset(qtype) {
            push_as(&mut out.answers, set, &owner, synthesized);
            if qtype == RecordType::NS {
                for r in set {
                    if let RData::NS(t) = &r.data {
                        zone.addresses_of(&t.0, &mut out.additional);
                    }
                }
            }
            return out;
        }
        if qtype == RecordType::ANY && !node.rrsets.is_empty() {
            // RFC 8482: answer ANY with one RRset rather than everything.
            let (_, set) = &node.rrsets[0];
            push_as(&mut out.answers, set, &owner, synthesized);
            return out;
        }

        let cname_target = node.rrset(RecordType::CNAME).and_then(|set| {
            if qtype == RecordType::CNAME {
                return None;
            }
            push_as(&mut out.answers, set, &owner, synthesized);
            match &set[0].data {
                RData::CNAME(c) => Some(c.0.clone()),
                _ => None,
            }
        });
        let Some(target) = cname_target else {
            // NODATA: the name exists (possibly as an empty non-terminal).
            out.authority.push(Cow::Borrowed(&zone.negative_soa));
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
