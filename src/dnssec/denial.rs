//! Authenticated denial of existence, by compact denial (RFC 9824, the "black lies" that
//! Cloudflare and NS1 answer with): every negative answer carries one NSEC owned by the
//! query name itself, whose next name is the immediate successor `\000.qname`, so it covers
//! nothing but the query name and no other name of the zone is ever revealed.
//!
//! - NXDOMAIN: the name is answered as if it existed with no data: rcode NOERROR, NSEC at
//!   qname with types `RRSIG NSEC NXNAME`. NXNAME (type 128) marks it as a non-existent name
//!   for resolvers that know RFC 9824; the rcode is NXDOMAIN only when the client sets the
//!   EDNS CO ("compact answers OK") flag, as RFC 9824 §3.1 says.
//! - NODATA (and a policy name's missing type, a wildcard name's missing type): NSEC at
//!   qname with the types that exist there, plus `RRSIG NSEC`.
//! - Empty non-terminal: NODATA with only `RRSIG NSEC`.
//! - DS at an unsigned delegation: NSEC at the delegation with `NS RRSIG NSEC` and no DS:
//!   the parent side of the cut proves the child is unsigned (RFC 4035 §3.1.4.1).
//!
//! Why compact denial rather than minimally covering NSEC (RFC 4470, knot's onlinesign):
//! - One NSEC and one signature per negative answer. RFC 4470 needs up to three NSECs for an
//!   NXDOMAIN (covering the name, the closest encloser's wildcard, the closest encloser),
//!   each signed on demand: more signing work per query and bigger answers (more TC).
//! - It needs nothing from the zone but "does this name exist, and with which types", which
//!   the routing table already answers. RFC 4470 needs the predecessor and successor names
//!   and the closest encloser, with the zone's canonical order and its wildcards, all of
//!   which must stay consistent with policy names and rebuilds.
//! - Validators need nothing new: an NSEC at the query name without the query type is the
//!   plain RFC 4035 NODATA proof. BIND 9.18's delv and unbound 1.17 (this machine's) do not
//!   know NXNAME and treat it as an unknown type bit, which is harmless: they validate a
//!   "negative response" either way. The cost is that clients without CO see NOERROR
//!   instead of NXDOMAIN, and that resolvers cannot reuse the NSEC for other names (RFC 8198
//!   aggressive caching), the same trade Cloudflare and NS1 make.
//!
//! Queries for NXNAME itself are a meta-type query; RFC 9824 §3.4 has them answered FORMERR,
//! which is the query path's job.

use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC};
use hickory_proto::rr::{Name, RData, RecordType};

use super::rrset::Rrset;

/// RFC 9824 NXNAME meta-type.
pub const NXNAME: RecordType = RecordType::Unknown(128);

/// The EDNS header flag bit a client sets to accept NXDOMAIN with compact denial
/// (RFC 9824 §4: "CO", the bit after DO).
pub const EDNS_FLAG_CO: u16 = 0x4000;

/// What kind of negative answer this is, which only matters for the rcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    NxDomain,
    NoData,
}

impl Denial {
    /// RFC 9824 §3.1: NOERROR unless the client said it understands compact answers.
    pub fn rcode_is_nxdomain(self, client_co: bool) -> bool {
        self == Denial::NxDomain && client_co
    }
}

/// The immediate successor of `name` in canonical order (RFC 4034 §6.1): `\000.name`, or,
/// when that would exceed 255 octets, the name with its first label's last octet increased
/// (RFC 4471 §3.1.2), which still sorts after `name` and before every name under it.
pub fn successor(name: &Name) -> Name {
    // Name::len is the wire length less one (no root octet); `\000.` adds two octets.
    if name.len() + 3 <= 255 {
        if let Ok(n) = name.prepend_label(b"\x00" as &[u8]) {
            return n;
        }
    }
    let mut labels: Vec<Vec<u8>> = name.iter().map(|l| l.to_vec()).collect();
    if let Some(first) = labels.first_mut() {
        // Skip past the uppercase letters: they sort as lowercase, so 'A'..'Z' would not
        // be after a label ending in '@'..'Y'.
        while let Some(last) = first.pop() {
            if last < 0xff {
                let mut next = last.to_ascii_lowercase() + 1;
                if next.is_ascii_uppercase() {
                    next = b'Z' + 1;
                }
                first.push(next);
                break;
            }
        }
        if first.is_empty() {
            labels.remove(0);
        }
    }
    Name::from_labels(labels).unwrap_or_else(|_| name.clone())
}

/// The NSEC RRset to sign for a negative answer at `qname`: `types` are the types that
/// exist there, `None` when the name does not exist at all. `ttl` is the negative TTL.
pub fn deny(qname: &Name, types: Option<&[RecordType]>, ttl: u32) -> Rrset {
    let bitmap: Vec<RecordType> = match types {
        None => vec![RecordType::RRSIG, RecordType::NSEC, NXNAME],
        Some(types) => types
            .iter()
            .copied()
            // An NSEC must not claim the meta-types or an RRSIG of its own it has not got;
            // RRSIG and NSEC are added once below.
            .filter(|t| !matches!(t, RecordType::RRSIG | RecordType::NSEC) && *t != NXNAME)
            .chain([RecordType::RRSIG, RecordType::NSEC])
            .collect(),
    };
    let nsec = NSEC::new(successor(qname), bitmap);
    Rrset::new(
        qname.clone(),
        RecordType::NSEC,
        ttl,
        vec![RData::DNSSEC(DNSSECRData::NSEC(nsec))],
    )
}

/// The proof beside a wildcard expansion at `qname` (RFC 4035 §3.1.3.3): an NSEC that
/// covers `qname`, and nothing else a resolver could mistake for a denial of the wildcard
/// or of a real name. Its owner is just before `qname` (the first label's last octet
/// decremented and padded with `\255`, RFC 4471 §3.1.2.2 style), its next name just after
/// `qname` and its descendants (`\000` appended to the first label), both siblings of
/// `qname`, so a validator finds the wildcard's closest encloser as the shared parent.
/// `None` for the rare first labels that have no such neighbours (a label of 63 octets,
/// or one ending in `\000`).
pub fn wildcard_proof(qname: &Name, ttl: u32) -> Option<Rrset> {
    let mut labels: Vec<Vec<u8>> = qname.iter().map(|l| l.to_ascii_lowercase()).collect();
    let first = labels.first()?.clone();
    if first.len() >= 63 || first.last().is_none_or(|&b| b == 0) {
        return None;
    }
    let mut before = first.clone();
    let last = before.pop()?;
    let mut dec = last - 1;
    // Uppercase letters sort as lowercase: step below them instead.
    if dec.is_ascii_uppercase() {
        dec = b'A' - 1;
    }
    before.push(dec);
    before.resize(63, 0xff);
    let mut after = first;
    after.push(0);
    labels[0] = before;
    let owner = Name::from_labels(labels.clone()).ok()?;
    labels[0] = after;
    let next = Name::from_labels(labels).ok()?;
    let nsec = NSEC::new(next, vec![RecordType::RRSIG, RecordType::NSEC]);
    Some(Rrset::new(
        owner,
        RecordType::NSEC,
        ttl,
        vec![RData::DNSSEC(DNSSECRData::NSEC(nsec))],
    ))
}

/// NXDOMAIN at `qname`.
pub fn nxdomain(qname: &Name, ttl: u32) -> Rrset {
    deny(qname, None, ttl)
}

/// NODATA at `qname`, which holds `types`.
pub fn nodata(qname: &Name, types: &[RecordType], ttl: u32) -> Rrset {
    deny(qname, Some(types), ttl)
}

/// An empty non-terminal (a name with no records but names below it).
pub fn empty_non_terminal(qname: &Name, ttl: u32) -> Rrset {
    deny(qname, Some(&[]), ttl)
}

/// DS query at a delegation to an unsigned child: the parent's NSEC has NS and no DS.
pub fn unsigned_delegation(cut: &Name, ttl: u32) -> Rrset {
    deny(cut, Some(&[RecordType::NS]), ttl)
}
