//! Answers in wire form, prepared when the static names are built, and the lookup the
//! UDP fast path uses to find them without allocating.
//!
//! Each prepared reply is made by running the general lookup and hickory's encoder on the
//! question in lowercase, then keeping what follows the question. The fast path writes
//! the header and copies the query's own question in front of it, so both paths give
//! the same bytes. Anything not prepared here (wildcards, delegations, CNAME chains,
//! ANY) is left to the general path.

use std::borrow::Cow;
use std::iter;
use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{emit_message_parts, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;

use super::lookup::{general, Lookup};
use super::names::{Names, ZoneNames};
use super::{key, RoutingTable};
use crate::metrics::query::QueryCounters;
use crate::policy::Client;

/// Length of the DNS header.
const HEADER: usize = 12;

/// Prepared replies larger than this are not kept: they would not fit a UDP reply
/// (at most 1232 bytes), and the general path truncates them anyway.
const MAX_PREPARED: usize = 1232;

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
            let target = (HEADER + qname_len) as i64 + i64::from(rel);
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

/// What the fast path sends after the question.
#[derive(Debug)]
pub enum Body<'t> {
    Bytes(&'t [u8]),
    Negative(&'t Negative),
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
            if zone.has_cuts || zone.has_wildcards {
                return None;
            }
            return negative(zone, key, ResponseCode::NXDomain, None)
                .map(|a| a.counted(static_counters));
        };
        if node.occluded {
            return None;
        }
        if let Some(pi) = node.policy {
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
        if let Some((_, p)) = node.prepared.iter().find(|(t, _)| *t == qtype) {
            return Some(FastAnswer {
                flags: p.flags,
                counts: p.counts,
                body: Body::Bytes(&p.body),
                scope: None,
                case_free: p.case_free,
                counters: static_counters,
            });
        }
        // RFC 8482 ANY, CNAME chains, and RRsets too big to prepare.
        if qtype == RecordType::ANY
            || node.rrset(qtype).is_some()
            || node.rrset(RecordType::CNAME).is_some()
        {
            return None;
        }
        negative(zone, key, ResponseCode::NoError, None).map(|a| a.counted(static_counters))
    }
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

// ---- preparation ---------------------------------------------------------------

/// A client for building static answers, which never depend on who asks.
const NOBODY: Client = Client {
    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    subnet: None,
};

/// Encode the reply to (`qname`, `qtype`) with no EDNS; returns the header and the
/// bytes after the question.
fn encode(qname: &Name, qtype: RecordType, lookup: &Lookup<'_>) -> Option<(Prepared, usize)> {
    let mut metadata = Metadata::new(0, MessageType::Response, OpCode::Query);
    metadata.authoritative = lookup.authoritative;
    metadata.response_code = lookup.rcode;
    let query = Query::query(qname.clone(), qtype);
    let mut buf = Vec::with_capacity(512);
    let header = {
        let mut enc = BinEncoder::new(&mut buf);
        emit_message_parts(
            &metadata,
            &mut iter::once(&query),
            &mut lookup.answers.iter().map(AsRef::as_ref),
            &mut lookup.authority.iter().map(AsRef::as_ref),
            &mut lookup.additional.iter().map(AsRef::as_ref),
            None,
            None,
            &mut enc,
        )
        .ok()?
    };
    let mut kbuf = key::new_buf();
    let qlen = key::of(qname, &mut kbuf)?.len();
    let body_start = HEADER + qlen + 4;
    if header.metadata.truncation || buf.len() < body_start || buf.len() > MAX_PREPARED {
        return None;
    }
    let c = header.counts;
    Some((
        Prepared {
            flags: [buf[2], buf[3]],
            counts: [c.answers, c.authorities, c.additionals],
            body: buf[body_start..].into(),
            case_free: false,
        },
        qlen,
    ))
}

/// A name from its key, with every letter upper or lower case.
fn name_of(k: &[u8], upper: bool) -> Option<Name> {
    let mut labels = Vec::new();
    let mut rest = k;
    while rest.len() > 1 {
        let n = rest[0] as usize;
        let mut label = rest[1..1 + n].to_vec();
        if upper {
            label.make_ascii_uppercase();
        }
        labels.push(label);
        rest = key::parent(rest);
    }
    Name::from_labels(labels).ok()
}

/// Records whose data holds no domain name: their only name is the owner, which the
/// encoder points at the question as a whole.
fn name_free(r: &Record) -> bool {
    matches!(
        r.data,
        RData::A(_)
            | RData::AAAA(_)
            | RData::TXT(_)
            | RData::CAA(_)
            | RData::SSHFP(_)
            | RData::TLSA(_)
            | RData::HINFO(_)
            | RData::Unknown { .. }
    )
}

fn prepare_one(names: &Names, k: &[u8], qtype: RecordType) -> Option<Prepared> {
    let lower = name_of(k, false)?;
    let lookup = general(names, &[], &lower, qtype, &NOBODY);
    let (mut p, _) = encode(&lower, qtype, &lookup)?;
    p.case_free = lookup.authority.is_empty()
        && lookup.additional.is_empty()
        && lookup.answers.iter().all(|r| name_free(r));
    if !p.case_free {
        // Names in the data may have been compressed against the question's suffix:
        // then the body reads differently after another spelling. Find out by asking.
        let upper = name_of(k, true)?;
        let lookup = general(names, &[], &upper, qtype, &NOBODY);
        let (u, _) = encode(&upper, qtype, &lookup)?;
        p.case_free = u.body == p.body;
    }
    Some(p)
}

/// The zone's negative reply, with the pointers that move with the question's length.
/// Derived from three encodings after questions of different lengths: the bytes that
/// change are exactly the pointers, each by the length difference.
fn prepare_negative(zone: &ZoneNames) -> Option<Negative> {
    let encode_after = |label: &[u8]| -> Option<(Box<[u8]>, usize)> {
        let mut k = vec![label.len() as u8];
        k.extend_from_slice(label);
        k.extend_from_slice(&zone.origin_key);
        let qname = name_of(&k, false)?;
        let lookup = Lookup {
            rcode: ResponseCode::NXDomain,
            authoritative: true,
            answers: Vec::new(),
            authority: vec![Cow::Borrowed(&zone.negative_soa)],
            additional: Vec::new(),
            scope: None,
            counters: None,
        };
        let (p, qlen) = encode(&qname, RecordType::A, &lookup)?;
        Some((p.body, qlen))
    };
    // Labels no SOA name will share, so nothing is compressed against them.
    let (b1, l1) = encode_after(&[0xFF])?;
    let (b2, l2) = encode_after(&[0xFF, 0xFE])?;
    let (b3, l3) = encode_after(&[0xFF, 0xFE, 0xFD, 0xFC])?;
    if b1.len() != b2.len() || b1.len() != b3.len() {
        return None;
    }
    let ptr = |b: &[u8], i: usize| -> Option<u16> {
        let v = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]);
        (v & 0xC000 == 0xC000).then_some(v & 0x3FFF)
    };
    let shift = (l2 - l1) as u16;
    let mut fixups = Vec::new();
    let mut i = 0;
    while i < b1.len() {
        if b1[i] == b2[i] && b1.get(i + 1) == b2.get(i + 1) {
            i += 1;
            continue;
        }
        // A pointer starts here when its low byte changed, or at the next byte when
        // both of its bytes changed (a carry).
        let moved = |j: usize| match (ptr(&b1, j), ptr(&b2, j)) {
            (Some(p1), Some(p2)) if p2 == p1 + shift => Some(p1),
            _ => None,
        };
        let (at, p1) = match moved(i) {
            Some(p1) => (i, p1),
            None if b1[i] == b2[i] => (i + 1, moved(i + 1)?),
            None => return None,
        };
        let rel = i32::from(p1) - (HEADER + l1) as i32;
        fixups.push((u16::try_from(at).ok()?, i16::try_from(rel).ok()?));
        i = at + 2;
    }
    let mut avoid: Vec<Box<[u8]>> = Vec::new();
    if let RData::SOA(soa) = &zone.negative_soa.data {
        for name in [&soa.mname, &soa.rname] {
            let mut buf = key::new_buf();
            let Some(mut k) = key::of(name, &mut buf) else {
                continue;
            };
            if k.len() <= zone.origin_key.len() || !key::within(k, &zone.origin_key) {
                continue;
            }
            // The ancestor one label below the origin covers every shared suffix.
            while key::parent(k).len() > zone.origin_key.len() {
                k = key::parent(k);
            }
            avoid.push(k.into());
        }
    }
    let neg = Negative {
        body: b1,
        fixups: fixups.into(),
        avoid: avoid.into(),
    };
    // The fixups must predict the third encoding exactly.
    let mut check = Vec::new();
    neg.write(l3, &mut check)?;
    (*check == *b3).then_some(neg)
}

/// Prepare replies for every static RRset of every zone, and each zone's negative reply.
pub(super) fn prepare(names: &mut Names) {
    let mut all: Vec<Vec<Vec<(RecordType, Prepared)>>> = Vec::with_capacity(names.zones.len());
    for zone in &names.zones {
        let mut per_zone = Vec::with_capacity(zone.nodes.len());
        for (k, node) in zone.nodes.iter() {
            let mut v = Vec::new();
            if !node.occluded && node.policy.is_none() {
                for (t, _) in &node.rrsets {
                    if let Some(p) = prepare_one(names, k, *t) {
                        v.push((*t, p));
                    }
                }
            }
            per_zone.push(v);
        }
        all.push(per_zone);
    }
    // Same maps, unchanged since: iteration visits the nodes in the same order.
    for (zone, prepared) in names.zones.iter_mut().zip(all) {
        zone.negative = prepare_negative(zone);
        for (node, p) in zone.nodes.values_mut().zip(prepared) {
            node.prepared = p;
        }
    }
}
