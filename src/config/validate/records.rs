//! Static records: the master file named by `records_file`, then the `[[records]]`
//! entries on top; CNAME exclusivity over both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::str::FromStr;

use hickory_proto::rr::rdata::{CNAME, NS, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::super::zonefile::{self, OneOrMany, S};
use super::ctx::{owner_name, rdata_name, ttl, Ctx, MAX_TTL};
use super::records_file::{self, FileRecords};
use crate::zone::store::{self, RecordStore};

/// The zone's static records, and where their names come from: what policy names are
/// checked against.
pub(super) struct Statics {
    /// The `[[records]]` entries, the header's apex records, and the file's SOA: few.
    pub(super) records: Vec<Record>,
    /// Where each `[[records]]` owner name was defined, for duplicate and collision messages.
    pub(super) defined_at: HashMap<LowerName, std::ops::Range<usize>>,
    /// The master file's records, in wire form.
    pub(super) file: FileRecords,
}

impl Statics {
    /// Every NS owner below the apex, from both sources.
    pub(super) fn delegations(&self, origin: &Name) -> Vec<Name> {
        let mut out = self.file.delegations.clone();
        for r in &self.records {
            if r.record_type() == RecordType::NS && r.name != *origin {
                out.push(r.name.clone());
            }
        }
        out
    }

    /// Whether the master file holds data at `name`.
    pub(super) fn file_has(&self, name: &Name) -> bool {
        let mut wire = Vec::new();
        store::encode_name(name, &mut wire).is_ok() && self.file.store.has_owner(&wire)
    }

    /// One store for the zone: the file's records, then the rest.
    pub(super) fn into_store(self, cx: &mut Ctx<'_>, span: std::ops::Range<usize>) -> RecordStore {
        let mut all = self.file.store;
        for r in &self.records {
            if let Err(e) = all.push(r) {
                cx.err::<()>(
                    span.clone(),
                    format!("record {} cannot be stored: {e}", r.name),
                );
            }
        }
        all.shrink_to_fit();
        all
    }
}

/// Static records: the master file first, then the TOML entries on top.
pub(super) fn statics(
    cx: &mut Ctx<'_>,
    file: &Path,
    header: &zonefile::ZoneHeader,
    raw: &[S<zonefile::RecordEntry>],
    origin: &Name,
    default_ttl: u32,
) -> Statics {
    let mut file_records = match &header.records_file {
        Some(rf) => records_file::load(cx, file, rf, origin),
        None => FileRecords::default(),
    };
    let mut records = std::mem::take(&mut file_records.soas);
    let defined_at = entries(cx, raw, origin, default_ttl, &mut records);
    Statics {
        records,
        defined_at,
        file: file_records,
    }
}

/// The `[[records]]` entries, one per owner name; returns where each name was defined.
fn entries(
    cx: &mut Ctx<'_>,
    raw: &[S<zonefile::RecordEntry>],
    origin: &Name,
    default_ttl: u32,
    records: &mut Vec<Record>,
) -> HashMap<LowerName, std::ops::Range<usize>> {
    let mut defined_at: HashMap<LowerName, std::ops::Range<usize>> = HashMap::new();
    for entry in raw {
        let span = entry.span();
        let entry = entry.get_ref();
        let Some(name) = owner_name(cx, &entry.name, origin) else {
            continue;
        };
        let key = LowerName::new(&name);
        if let Some(first) = defined_at.get(&key) {
            let (line, _) = cx.loc.line_col(first.start);
            cx.err::<()>(
                entry.name.span(),
                format!("duplicate name {name}: already defined at line {line}; put every type of one name in one [[records]] entry"),
            );
            continue;
        }
        defined_at.insert(key, span.clone());
        let rttl = match &entry.ttl {
            Some(t) => ttl(cx, t, MAX_TTL).unwrap_or(default_ttl),
            None => default_ttl,
        };
        entry_records(cx, entry, &name, origin, rttl, records);
    }
    defined_at
}

fn values(v: &S<OneOrMany>) -> Vec<(String, std::ops::Range<usize>)> {
    match v.get_ref() {
        OneOrMany::One(s) => vec![(s.clone(), v.span())],
        OneOrMany::Many(list) => list.iter().map(|s| (s.clone(), v.span())).collect(),
    }
}

fn entry_records(
    cx: &mut Ctx<'_>,
    e: &zonefile::RecordEntry,
    name: &Name,
    origin: &Name,
    ttl: u32,
    out: &mut Vec<Record>,
) {
    let push = |out: &mut Vec<Record>, data: RData| {
        out.push(Record::from_rdata(name.clone(), ttl, data));
    };
    if let Some(c) = &e.cname {
        let others = [
            e.a.is_some(),
            e.aaaa.is_some(),
            e.mx.is_some(),
            e.txt.is_some(),
            e.srv.is_some(),
            e.caa.is_some(),
            e.ns.is_some(),
            e.ptr.is_some(),
        ];
        if others.iter().any(|x| *x) {
            cx.err::<()>(c.span(), format!("CNAME at {name} beside other data: a CNAME must be the only record at its name (RFC 1034 §3.6.2)"));
        } else if name == origin {
            cx.err::<()>(
                c.span(),
                "CNAME at the zone apex: the apex must hold SOA and NS (RFC 1912 §2.4)",
            );
        } else if let Some(t) = rdata_name(cx, c, origin) {
            push(out, RData::CNAME(CNAME(t)));
        }
    }
    if let Some(v) = &e.a {
        for (s, span) in values(v) {
            match Ipv4Addr::from_str(&s) {
                Ok(ip) => push(out, RData::A(ip.into())),
                Err(_) => {
                    cx.err::<()>(span, format!("A {s:?} is not an IPv4 address"));
                }
            }
        }
    }
    if let Some(v) = &e.aaaa {
        for (s, span) in values(v) {
            match Ipv6Addr::from_str(&s) {
                Ok(ip) => push(out, RData::AAAA(ip.into())),
                Err(_) => {
                    cx.err::<()>(span, format!("AAAA {s:?} is not an IPv6 address"));
                }
            }
        }
    }
    if let Some(v) = &e.txt {
        for (s, _) in values(v) {
            // A TXT character-string holds at most 255 octets; longer text is split.
            let chunks: Vec<String> = s
                .as_bytes()
                .chunks(255)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            push(
                out,
                RData::TXT(TXT::new(if chunks.is_empty() {
                    vec![String::new()]
                } else {
                    chunks
                })),
            );
        }
    }
    let presented = [
        (RecordType::MX, &e.mx),
        (RecordType::SRV, &e.srv),
        (RecordType::CAA, &e.caa),
        (RecordType::NS, &e.ns),
        (RecordType::PTR, &e.ptr),
    ];
    for (rtype, v) in presented {
        let Some(v) = v else { continue };
        if rtype == RecordType::NS && name == origin {
            cx.err::<()>(
                v.span(),
                "apex NS records come from `nameservers` in [zone]",
            );
            continue;
        }
        for (s, span) in values(v) {
            match RData::try_from_str(rtype, &s) {
                Ok(data) => push(out, complete_names(data, origin)),
                Err(err) => {
                    cx.err::<()>(span, format!("{rtype} {s:?}: {err}"));
                }
            }
        }
    }
}

/// Presentation-format names without a trailing dot are relative to the origin.
fn complete_names(data: RData, origin: &Name) -> RData {
    let fix = |n: Name| -> Name {
        if n.is_fqdn() {
            n
        } else {
            n.append_domain(origin).unwrap_or_else(|_| origin.clone())
        }
    };
    match data {
        RData::MX(mx) => RData::MX(hickory_proto::rr::rdata::MX::new(
            mx.preference,
            fix(mx.exchange),
        )),
        RData::SRV(srv) => RData::SRV(hickory_proto::rr::rdata::SRV::new(
            srv.priority,
            srv.weight,
            srv.port,
            fix(srv.target),
        )),
        RData::NS(ns) => RData::NS(NS(fix(ns.0))),
        RData::PTR(p) => RData::PTR(hickory_proto::rr::rdata::PTR(fix(p.0))),
        other => other,
    }
}

pub(super) fn check_cname_exclusive(
    cx: &mut Ctx<'_>,
    statics: &Statics,
    fallback: std::ops::Range<usize>,
) {
    let (records, file) = (&statics.records, &statics.file);
    // Only names that hold a CNAME can break the rule: look at those alone (a zone
    // may have millions of other names).
    let mut cnames: HashSet<LowerName> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
        .map(|r| LowerName::new(&r.name))
        .collect();
    let mut owners: HashMap<u32, LowerName> = HashMap::new();
    for &id in &file.cname_owners {
        let name = LowerName::new(&store::name_of(file.store.owner_by_id(id)));
        cnames.insert(name.clone());
        owners.insert(id, name);
    }
    if cnames.is_empty() {
        return;
    }
    for name in &cnames {
        let mut wire = Vec::new();
        if store::encode_name(&Name::from(name.clone()), &mut wire).is_ok() {
            if let Some(id) = file.store.owner_id(&wire) {
                owners.insert(id, name.clone());
            }
        }
    }
    let mut types: BTreeMap<LowerName, HashSet<RecordType>> = BTreeMap::new();
    for r in records {
        let name = LowerName::new(&r.name);
        if cnames.contains(&name) {
            types.entry(name).or_default().insert(r.record_type());
        }
    }
    for r in file.store.iter() {
        if let Some(name) = owners.get(&r.owner_id()) {
            types.entry(name.clone()).or_default().insert(r.rtype());
        }
    }
    for (name, set) in types {
        if set.contains(&RecordType::CNAME) && set.len() > 1 {
            let span = statics
                .defined_at
                .get(&name)
                .cloned()
                .unwrap_or(fallback.clone());
            cx.err::<()>(span, format!("CNAME at {name} beside other data (from records_file and [[records]] together)"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{errors, zone, HEAD};
    use super::*;

    #[test]
    fn a_name_is_defined_in_one_entry() {
        let text = format!(
            "{HEAD}\n[[records]]\nname = \"www\"\nA = \"192.0.2.1\"\n\n[[records]]\nname = \"WWW\"\nTXT = \"x\"\n"
        );
        assert_eq!(
            errors(&text),
            ["z.toml:11:8: duplicate name www.t.test.: already defined at line 6; put every type of one name in one [[records]] entry"]
        );
    }

    #[test]
    fn a_cname_stands_alone_and_not_at_the_apex() {
        let beside =
            format!("{HEAD}\n[[records]]\nname = \"www\"\nA = \"192.0.2.1\"\nCNAME = \"other\"\n");
        assert_eq!(
            errors(&beside),
            ["z.toml:9:9: CNAME at www.t.test. beside other data: a CNAME must be the only record at its name (RFC 1034 §3.6.2)"]
        );
        let apex = format!("{HEAD}\n[[records]]\nname = \"@\"\nCNAME = \"other\"\n");
        assert_eq!(
            errors(&apex),
            ["z.toml:8:9: CNAME at the zone apex: the apex must hold SOA and NS (RFC 1912 §2.4)"]
        );
    }

    #[test]
    fn relative_names_are_completed_and_long_text_is_split() {
        let long = "x".repeat(300);
        let z = zone(&format!(
            "{HEAD}\n[[records]]\nname = \"mail\"\nMX = \"10 mx\"\nTXT = \"{long}\"\nttl = 60\n"
        ));
        let all = z.records.to_records();
        let mx = all
            .iter()
            .find(|r| r.record_type() == RecordType::MX)
            .unwrap();
        assert_eq!(mx.ttl, 60);
        assert_eq!(mx.data.to_string(), "10 mx.t.test.");
        let txt = all
            .iter()
            .find(|r| r.record_type() == RecordType::TXT)
            .unwrap();
        let RData::TXT(t) = &txt.data else {
            panic!("{txt:?}")
        };
        let lens: Vec<usize> = t.txt_data.iter().map(|c| c.len()).collect();
        assert_eq!(lens, [255, 45]);
    }

    #[test]
    fn bad_addresses_and_apex_ns_entries_are_reported() {
        let text = format!(
            "{HEAD}\n[[records]]\nname = \"www\"\nAAAA = \"192.0.2.1\"\n\n[[records]]\nname = \"@\"\nNS = \"ns2\"\n"
        );
        assert_eq!(
            errors(&text),
            [
                "z.toml:8:8: AAAA \"192.0.2.1\" is not an IPv6 address",
                "z.toml:12:6: apex NS records come from `nameservers` in [zone]",
            ]
        );
    }
}
