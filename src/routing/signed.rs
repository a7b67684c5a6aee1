//! Signed wire replies for the UDP fast path: for a DO query to a signed zone, the
//! answer RRsets followed by their RRSIGs, prepared at table build so no query signs or
//! encodes. Static names get theirs once per zone set and keep them across health
//! rebuilds until the first signature they carry is due for refresh; every policy
//! answer (each health state, each client group) gets its own at every build. The
//! signatures all come through the zone's `ZoneSigner` cache, so a rebuild signs only
//! RRsets whose content changed or whose signatures are due.
//!
//! Each reply is made as `prepare` makes the unsigned ones: the general lookup in
//! lowercase, each RRset followed by its RRSIGs as `dns::sign` orders them, encoded by
//! hickory, the bytes after the question kept. A reply carries `valid_until`, the time the
//! signer would stop handing out those signatures; the fast path checks it (one integer
//! compare) and leaves a stale reply to the general path, and the updater rebuilds the
//! table at that time (`RoutingTable::signatures_refresh_at`).
//!
//! Left to the general path: negative answers (their denial is signed per name, on
//! demand), DNSKEY, wildcards, referrals, CNAME chains, and what does not fit.

use std::borrow::Cow;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};

use super::lookup::{general, Body, FastAnswer, Lookup, Rec};
use super::names::{Names, ZoneNames};
use super::prepare::{encode, name_of, NOBODY};
use super::{key, RoutingTable};
use crate::dnssec::keys::same_name;
use crate::dnssec::Rrset;
use crate::policy::answer_wire::SignedReply;
use crate::policy::{Client, Compiled};

/// The signed replies of every zone's static names.
#[derive(Debug, Default)]
pub struct SignedStatic {
    /// Per zone, in `Names` order: per entry of the zone's `prepared`, its signed form.
    zones: Vec<Vec<Option<SignedReply>>>,
    /// The earliest `valid_until` of them all (`u64::MAX`: nothing signed).
    pub(super) until: u64,
}

/// Sign the static replies of every signed zone at `now`.
pub(super) fn prepare_static(names: &Names, now: u64) -> SignedStatic {
    let mut until = u64::MAX;
    let zones = names
        .zones
        .iter()
        .map(|zone| {
            if zone.signer.is_none() {
                return Vec::new();
            }
            let mut out: Vec<Option<SignedReply>> = vec![None; zone.prepared.len()];
            for (k, node) in zone.nodes.iter() {
                let (start, n) = (node.prepared.0 as usize, node.prepared.1 as usize);
                for (i, slot) in out.iter_mut().enumerate().skip(start).take(n) {
                    let t = zone.prepared[i].0;
                    *slot = sign_static(names, k, t, now);
                    if let Some(r) = slot {
                        until = until.min(r.valid_until);
                    }
                }
            }
            out
        })
        .collect();
    SignedStatic { zones, until }
}

/// The signed reply to (`k`, `t`), a static RRset with an unsigned prepared reply.
fn sign_static(names: &Names, k: &[u8], t: RecordType, now: u64) -> Option<SignedReply> {
    let reply = |qname: &Name| {
        let lookup = general(names, &[], qname, t, &NOBODY);
        if lookup.needs_client || !lookup.authority.is_empty() || lookup.answers.is_empty() {
            return None;
        }
        signed_reply(names, qname, t, &lookup, now)
    };
    let lower = reply(&name_of(k, false)?)?;
    let upper = reply(&name_of(k, true)?)?;
    Some(SignedReply {
        case_free: upper.body == lower.body,
        ..lower
    })
}

/// Add the signed A and AAAA replies to every answer of `policy`, a policy of `zone`
/// (a zone of `names`). Returns the earliest `valid_until` (`u64::MAX`: none).
pub(super) fn sign_policy(names: &Names, zone: &ZoneNames, policy: &mut Compiled, now: u64) -> u64 {
    let mut until = u64::MAX;
    if zone.signer.is_none() {
        return until;
    }
    let name = policy.name.to_lowercase();
    let upper = name_of(&key::owned(&name), true);
    for answer in policy.answers_mut() {
        for (t, records) in [(RecordType::A, &answer.a), (RecordType::AAAA, &answer.aaaa)] {
            if records.is_empty() {
                continue;
            }
            let reply = |qname: &Name| {
                let mut lookup = Lookup::new(ResponseCode::NoError, true);
                lookup.answers = records
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        r.name = qname.clone();
                        Cow::Owned(r)
                    })
                    .collect();
                signed_reply(names, qname, t, &lookup, now)
            };
            let Some(lower) = reply(&name) else { continue };
            let case_free = upper
                .as_ref()
                .and_then(reply)
                .is_some_and(|u| u.body == lower.body);
            let signed = SignedReply { case_free, ..lower };
            until = until.min(signed.valid_until);
            match t {
                RecordType::A => answer.wire.signed_a = Some(signed),
                _ => answer.wire.signed_aaaa = Some(signed),
            }
        }
    }
    until
}

/// `lookup` (answer and additional sections) with each RRset followed by its RRSIGs,
/// encoded after `qname`; `None` when a signature fails or the reply is not preparable.
fn signed_reply(
    names: &Names,
    qname: &Name,
    qtype: RecordType,
    lookup: &Lookup<'_>,
    now: u64,
) -> Option<SignedReply> {
    let mut until = u64::MAX;
    let mut signed = Lookup::new(lookup.rcode, lookup.authoritative);
    signed.answers = with_signatures(names, &lookup.answers, now, &mut until)?;
    signed.additional = with_signatures(names, &lookup.additional, now, &mut until)?;
    let (p, _) = encode(qname, qtype, &signed)?;
    Some(SignedReply {
        flags: p.flags,
        counts: p.counts,
        body: p.body,
        case_free: false,
        valid_until: until,
    })
}

/// Each RRset of a section followed by its RRSIGs, as `dns::sign` does it: records in a
/// signed zone and not at or below a delegation are signed, the rest pass as they are.
fn with_signatures<'t>(
    names: &Names,
    records: &[Rec<'t>],
    now: u64,
    until: &mut u64,
) -> Option<Vec<Rec<'t>>> {
    let mut out = Vec::with_capacity(records.len() * 2);
    let mut i = 0;
    while i < records.len() {
        let (name, rtype) = (records[i].name.clone(), records[i].record_type());
        let mut j = i + 1;
        while j < records.len()
            && records[j].record_type() == rtype
            && same_name(&records[j].name, &name)
        {
            j += 1;
        }
        let run = &records[i..j];
        i = j;
        let mut buf = key::new_buf();
        let k = key::of(&name, &mut buf)?;
        let zone = names.zone_for(k).map(|zi| &names.zones[zi]);
        let signer = zone.and_then(|z| z.signer.as_deref());
        let occluded = zone
            .and_then(|z| z.nodes.get(k))
            .is_some_and(|n| n.occluded);
        let Some(signer) = signer.filter(|_| !occluded && rtype != RecordType::RRSIG) else {
            out.extend(run.iter().cloned());
            continue;
        };
        let set: Vec<_> = run.iter().map(|r| r.as_ref().clone()).collect();
        let rrset = Rrset::from_records(&set)?;
        let (sigs, valid_until) = signer.sign_until(&rrset, now).ok()?;
        *until = (*until).min(valid_until);
        out.extend(rrset.records_at(&name).into_iter().map(Cow::Owned));
        out.extend(sigs.iter().map(|s| {
            let mut s = s.clone();
            s.name = name.clone();
            Cow::Owned(s)
        }));
    }
    Some(out)
}

impl RoutingTable {
    /// The signed reply to a DO query for `key` (a lowercase wire name) and `qtype` in a
    /// signed zone, prepared and still fresh at `now`; `None` sends the query to the
    /// general path, which signs what it answers.
    #[inline]
    pub fn fast_signed(
        &self,
        key: &[u8],
        qtype: RecordType,
        client: &Client,
        now: u64,
    ) -> Option<FastAnswer<'_>> {
        let names = &*self.names;
        let zi = names.zone_for(key)?;
        let zone = &names.zones[zi];
        let node = zone.nodes.get(key)?;
        if node.occluded {
            return None;
        }
        let counters = &self.zones.get(zi)?.counters;
        let (reply, scope, counters) = match node.policy {
            Some(pi) => {
                let pi = pi as usize;
                let (answer, scope) = self.zones[zi].policies.get(pi)?.select(client);
                let reply = match qtype {
                    RecordType::A => answer.wire.signed_a.as_ref()?,
                    RecordType::AAAA => answer.wire.signed_aaaa.as_ref()?,
                    _ => return None,
                };
                (reply, Some(scope), counters.get(pi + 1))
            }
            None => {
                let at = zone.prepared_index(node, qtype)?;
                let reply = self.signed.zones.get(zi)?.get(at)?.as_ref()?;
                (reply, None, counters.first())
            }
        };
        if now >= reply.valid_until {
            return None;
        }
        Some(FastAnswer {
            flags: reply.flags,
            counts: reply.counts,
            body: Body::Bytes(&reply.body),
            scope,
            case_free: reply.case_free,
            counters: counters.map(AsRef::as_ref),
        })
    }

    /// When the first signature in this table's prepared replies is due for refresh
    /// (Unix seconds): the table must be rebuilt then for the fast path to keep serving
    /// signed answers. `None`: nothing here is signed.
    pub fn signatures_refresh_at(&self) -> Option<u64> {
        self.signed_until
    }
}
