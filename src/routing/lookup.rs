//! Answering one question from the table: zone selection, delegations, exact names,
//! empty non-terminals, wildcards (RFC 4592) and CNAME chains (RFC 1034 §4.3.2).

use std::borrow::Cow;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::{Node, RoutingTable, ZoneTable};
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
    /// Where this query is counted: its zone's static names or the policy that answered.
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

impl ZoneTable {
    fn find(&self, name: &LowerName, qtype: RecordType) -> Found<'_> {
        if self.has_cuts {
            // The highest cut between the apex and the name wins.
            let mut cut = None;
            let mut n = name.clone();
            while n.num_labels() > self.origin_lower.num_labels() {
                if let Some(node) = self.nodes.get(&n) {
                    // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1).
                    let parent_side = qtype == RecordType::DS && n == *name;
                    if node.cut && !parent_side {
                        cut = Some(node);
                    }
                }
                n = n.base_name();
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
            let mut child = name.clone();
            while child.num_labels() > self.origin_lower.num_labels() {
                let parent = child.base_name();
                if self.nodes.contains_key(&parent) || parent == self.origin_lower {
                    // `*.parent`: the child's first label replaced by `*`.
                    return match self.nodes.get(&child.into_wildcard()) {
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
        if !self.origin.zone_of(target) {
            return;
        }
        if let Some(node) = self.nodes.get(&LowerName::new(target)) {
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
    fn zone_for(&self, name: &LowerName) -> Option<&ZoneTable> {
        self.zones
            .iter()
            .filter(|z| z.origin_lower.zone_of(name))
            .max_by_key(|z| z.origin_lower.num_labels())
    }

    /// Answer `qname`/`qtype` (class IN) for `client`.
    pub fn lookup<'t>(&'t self, qname: &Name, qtype: RecordType, client: &Client) -> Lookup<'t> {
        let mut lower = LowerName::new(qname);
        let Some(mut zone) = self.zone_for(&lower) else {
            return Lookup::new(ResponseCode::Refused, false);
        };
        let mut out = Lookup::new(ResponseCode::NoError, true);
        out.counters = zone.counters.first().map(AsRef::as_ref);
        let mut owner: Cow<'_, Name> = Cow::Borrowed(qname);

        for hop in 0..MAX_CHAIN {
            let (node, synthesized) = match zone.find(&lower, qtype) {
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
                let policy = &zone.policies[pi];
                if let Some(c) = zone.counters.get(pi + 1) {
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
            lower = LowerName::new(&target);
            match self.zone_for(&lower) {
                Some(z) => zone = z,
                None => return out,
            }
            owner = Cow::Owned(target);
        }
        out
    }
}
