//! Build-time preparation of wire replies: for every static RRset, the reply the
//! general lookup gives, encoded once; for every zone, its negative reply with the
//! compression pointers that move with the question's length.
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

use super::key;
use super::lookup::{addresses, general, Lookup};
use super::names::{
    Names, Negative, Prepared, Stored, ZoneNames, HEADER_LEN, MAX_BODY, MAX_PREPARED,
};
use crate::policy::Client;

/// A client for building static answers, which never depend on who asks.
pub(super) const NOBODY: Client = Client {
    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    subnet: None,
};

/// Encode the reply to (`qname`, `qtype`) with no EDNS; returns the header and the
/// bytes after the question.
pub(super) fn encode(
    qname: &Name,
    qtype: RecordType,
    lookup: &Lookup<'_>,
) -> Option<(Prepared, usize)> {
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
    let body_start = HEADER_LEN + qlen + 4;
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
pub(super) fn name_of(k: &[u8], upper: bool) -> Option<Name> {
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
    if lookup.needs_client {
        return None;
    }
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

/// In debug builds (the tests), that the fast path's address answer equals what the
/// general path encodes, whenever the general path's fits a prepared reply. Release
/// builds skip the encoding, which cost most of a big zone's build.
fn check_addresses(names: &Names, k: &[u8], t: RecordType, a: super::lookup::Addresses<'_>) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Some(p) = prepare_one(names, k, t) else {
        // Too big for a prepared reply at this question's length: the UDP writer's own
        // size check sends such a reply to the general path.
        return;
    };
    let mut body = Vec::new();
    a.write(&mut body);
    assert_eq!(
        (p.flags, p.counts, &*p.body, p.case_free),
        ([0x84, 0], [a.count(), 0, 0], &body[..], true),
        "the fast path's address answer and the encoder's differ"
    );
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
            needs_client: false,
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
        let rel = i32::from(p1) - (HEADER_LEN + l1) as i32;
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
/// Each zone's replies go into its flat tables (`prepared`, `bodies`), node by node.
pub(super) fn prepare(names: &mut Names) {
    for zi in 0..names.zones.len() {
        let zone = &names.zones[zi];
        let mut table = Vec::new();
        let mut bodies = Vec::new();
        // Per node, in the map's iteration order (the map is not changed in between).
        // Only nodes that get a prepared reply: in a big zone of addresses, few do.
        let mut ranges: Vec<(usize, (u32, u16))> = Vec::new();
        for (ni, (k, node)) in zone.nodes.iter().enumerate() {
            let start = table.len();
            if !node.occluded && node.policy.is_none() {
                // A CNAME's chain, for the address questions, when it ends in static data.
                let chain = zone
                    .rrset(node, RecordType::CNAME)
                    .map(|_| [RecordType::A, RecordType::AAAA]);
                for t in zone.types(node).chain(chain.into_iter().flatten()) {
                    // Unsigned address sets are written by the fast path from the store
                    // at query time; debug builds (the tests) hold that to the encoder's
                    // bytes here. Signed zones prepare them, for their signed twins.
                    if let Some(a) = zone.rrset(node, t).and_then(|s| addresses(s, MAX_BODY)) {
                        check_addresses(names, k, t, a);
                        if zone.signer.is_none() {
                            continue;
                        }
                    }
                    let Some(p) = prepare_one(names, k, t) else {
                        continue;
                    };
                    let (Ok(at), Ok(len)) =
                        (u32::try_from(bodies.len()), u16::try_from(p.body.len()))
                    else {
                        continue;
                    };
                    bodies.extend_from_slice(&p.body);
                    let stored = Stored {
                        flags: p.flags,
                        counts: p.counts,
                        case_free: p.case_free,
                        start: at,
                        len,
                    };
                    table.push((t, stored));
                }
            }
            if table.len() > start {
                ranges.push((ni, (start as u32, (table.len() - start) as u16)));
            }
        }
        table.shrink_to_fit();
        bodies.shrink_to_fit();
        let zone = &mut names.zones[zi];
        zone.negative = prepare_negative(zone);
        for (ni, r) in ranges {
            zone.nodes.at_mut(ni).prepared = r;
        }
        zone.prepared = table;
        zone.bodies = bodies;
    }
}
