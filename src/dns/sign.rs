//! DNSSEC on the general path: after the lookup, for a query with DO to a signed zone,
//! an RRSIG after every RRset the reply carries (wildcard expansions signed as the
//! wildcard, with the covering proof), the DS or the no-DS proof of a referral, and the
//! compact denial (RFC 9824) of a negative answer. The apex DNSKEY RRset is answered
//! here whether DO is set or not, since the routing table holds no DNSKEY records.
//! Signatures come from the zone's `ZoneSigner`, whose cache makes each distinct RRset
//! cost one signature per refresh period.

use std::borrow::Cow;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::dnssec::{denial, keys::same_name, Rrset, ZoneSigner};
use crate::policy::Client;
use crate::routing::{Lookup, NameFacts, Rec, RoutingTable};

/// What the query asked for, as far as signing goes.
pub struct Ask<'q> {
    pub qname: &'q Name,
    pub qtype: RecordType,
    pub client: &'q Client,
    /// EDNS DO: the client wants RRSIGs.
    pub dnssec_ok: bool,
    /// EDNS CO (RFC 9824 §4): the client accepts NXDOMAIN with compact denial.
    pub compact_ok: bool,
}

/// Add DNSKEY and signatures to `lookup` as `ask` needs; a zone without keys is left alone.
pub fn apply<'t>(table: &'t RoutingTable, ask: &Ask<'_>, lookup: &mut Lookup<'t>) {
    if !matches!(lookup.rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
        return;
    }
    let Some(signer) = table.signer_of(ask.qname) else {
        return;
    };
    if ask.qtype == RecordType::DNSKEY
        && same_name(ask.qname, signer.zone())
        && lookup.answers.is_empty()
    {
        let rrset = signer.dnskey_rrset();
        lookup.answers = owned(rrset.records_at(ask.qname));
        lookup.authority.clear();
    }
    if !ask.dnssec_ok {
        return;
    }
    let mut proofs = Vec::new();
    let answers = std::mem::take(&mut lookup.answers);
    lookup.answers = sign_section(table, ask.client, answers, Some(&mut proofs));

    let referral = !lookup.authoritative
        && lookup
            .authority
            .iter()
            .any(|r| r.record_type() == RecordType::NS);
    if referral {
        delegation(table, ask.client, lookup);
        return;
    }
    let neg_ttl = lookup
        .authority
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .map(|r| r.ttl);
    let authority = std::mem::take(&mut lookup.authority);
    lookup.authority = sign_section(table, ask.client, authority, None);
    if let Some(ttl) = neg_ttl {
        deny(table, ask, ttl, lookup);
    }
    for p in proofs {
        push_signed(signer, p, None, &mut lookup.authority);
    }
    let additional = std::mem::take(&mut lookup.additional);
    lookup.additional = sign_section(table, ask.client, additional, None);
}

fn owned<'t>(records: Vec<Record>) -> Vec<Rec<'t>> {
    records.into_iter().map(Cow::Owned).collect()
}

/// `rrset`'s records (under `owner`, or its own name) followed by its RRSIGs.
fn push_signed<'t>(
    signer: &ZoneSigner,
    rrset: Rrset,
    owner: Option<&Name>,
    out: &mut Vec<Rec<'t>>,
) {
    let owner = owner.unwrap_or(&rrset.name).clone();
    let sigs = signer.sign(&rrset);
    out.extend(owned(rrset.records_at(&owner)));
    match sigs {
        Ok(sigs) => out.extend(sigs.iter().map(|s| {
            let mut s = s.clone();
            s.name = owner.clone();
            Cow::Owned(s)
        })),
        Err(e) => tracing::warn!(zone = %signer.zone(), "cannot sign {owner} {}: {e}", rrset.rtype),
    }
}

/// Each RRset of a section followed by its RRSIGs. Records outside signed zones, glue,
/// and what is never signed (RRSIG, OPT) pass as they are. A wildcard expansion in the
/// answer section adds its covering proof to `proofs`.
fn sign_section<'t>(
    table: &'t RoutingTable,
    client: &Client,
    records: Vec<Rec<'t>>,
    mut proofs: Option<&mut Vec<Rrset>>,
) -> Vec<Rec<'t>> {
    let mut out = Vec::with_capacity(records.len() * 2);
    let mut i = 0;
    while i < records.len() {
        let first = &records[i];
        let (name, rtype) = (first.name.clone(), first.record_type());
        let mut j = i + 1;
        while j < records.len()
            && records[j].record_type() == rtype
            && same_name(&records[j].name, &name)
        {
            j += 1;
        }
        let run = &records[i..j];
        let signer = table
            .signer_of(&name)
            .filter(|_| rtype != RecordType::RRSIG);
        let facts = signer.and(table.facts(&name, client));
        let skip = matches!(facts, Some(NameFacts::At { occluded: true, .. }) | None);
        match (signer, skip) {
            (Some(signer), false) => {
                let set: Vec<Record> = run.iter().map(|r| r.as_ref().clone()).collect();
                if let Some(mut rrset) = Rrset::from_records(&set) {
                    if let Some(NameFacts::At {
                        wildcard: Some(w), ..
                    }) = &facts
                    {
                        let labels = w.iter().count().saturating_sub(1) as u8;
                        if let Ok(r) = rrset.clone().as_wildcard_of(labels) {
                            rrset = r;
                        }
                        // The proof covers the next closer name: the question cut to
                        // one label below the wildcard's parent (RFC 5155 §1.3 terms).
                        if let Some(p) = proofs.as_deref_mut() {
                            let next_closer = name.trim_to(labels as usize + 1);
                            p.extend(denial::wildcard_proof(&next_closer, rrset.ttl));
                        }
                    }
                    push_signed(signer, rrset, Some(&name), &mut out);
                }
            }
            _ => out.extend(run.iter().cloned()),
        }
        i = j;
    }
    out
}

/// A referral: the DS RRset of the cut with its RRSIGs, or the NSEC proving there is
/// none (RFC 4035 §3.1.4). NS and glue stay unsigned: they are the child's.
fn delegation<'t>(table: &'t RoutingTable, client: &Client, lookup: &mut Lookup<'t>) {
    let Some(cut) = lookup
        .authority
        .iter()
        .find(|r| r.record_type() == RecordType::NS)
        .map(|r| r.name.clone())
    else {
        return;
    };
    let Some(signer) = table.signer_of(&cut) else {
        return;
    };
    if let Some(ds) = table.rrset_at(&cut, RecordType::DS) {
        if let Some(rrset) = Rrset::from_records(&ds) {
            push_signed(signer, rrset, Some(&cut), &mut lookup.authority);
        }
        return;
    }
    let types = match table.facts(&cut, client) {
        Some(NameFacts::At { types, .. }) => types,
        _ => vec![RecordType::NS],
    };
    let ttl = table
        .rrset_at(&cut, RecordType::NS)
        .and_then(|ns| ns.first().map(|r| r.ttl))
        .unwrap_or(3600);
    push_signed(
        signer,
        denial::deny(&cut, Some(&types), ttl),
        None,
        &mut lookup.authority,
    );
}

/// The compact denial of a negative answer: one NSEC at the name the answer ends at (the
/// question, or the last CNAME target), with the types that exist there.
fn deny<'t>(table: &'t RoutingTable, ask: &Ask<'_>, ttl: u32, lookup: &mut Lookup<'t>) {
    let end = lookup
        .answers
        .iter()
        .rev()
        .find_map(|r| match &r.data {
            RData::CNAME(c) => Some(c.0.clone()),
            _ => None,
        })
        .unwrap_or_else(|| ask.qname.clone());
    let Some(signer) = table.signer_of(&end) else {
        return;
    };
    let nsec = match table.facts(&end, ask.client) {
        Some(NameFacts::At { types, .. }) => denial::deny(&end, Some(&types), ttl),
        _ => {
            if !ask.compact_ok {
                lookup.rcode = ResponseCode::NoError;
            }
            denial::deny(&end, None, ttl)
        }
    };
    push_signed(signer, nsec, None, &mut lookup.authority);
}
