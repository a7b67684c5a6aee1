//! The master file named by `records_file`, loaded straight into the zone's wire-format
//! store. A file may hold millions of records, so nothing here keeps a per-record value
//! beside the store: the few facts the later passes need (the SOA, whether the apex has
//! NS, the delegations, the CNAME owners) are picked out as the records go by.

use std::path::Path;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::super::masterfile;
use super::super::zonefile::S;
use super::ctx::Ctx;
use crate::zone::store::{self, RecordStore};

/// What the master file holds, for the passes after it.
#[derive(Default)]
pub(super) struct FileRecords {
    /// Every record but the SOA.
    pub(super) store: RecordStore,
    /// SOA records, decoded: the header pass decides which SOA the zone has.
    pub(super) soas: Vec<hickory_proto::rr::Record>,
    /// Some NS record is at the apex.
    pub(super) apex_ns: bool,
    /// Owners of NS records below the apex (each once per run of its NS records).
    pub(super) delegations: Vec<Name>,
    /// Owners (`RecordStore` owner ids) holding a CNAME.
    pub(super) cname_owners: Vec<u32>,
}

/// Collects records as the loader hands them over.
struct Collect<'a> {
    origin: &'a [u8],
    path: &'a Path,
    out: FileRecords,
    /// Out-of-zone and wrong-class records: reported, not stored.
    problems: Vec<String>,
}

impl Collect<'_> {
    fn add(&mut self, rec: masterfile::WireRecord<'_>) -> Result<(), String> {
        if !store::is_within(rec.owner, self.origin) {
            let name = store::name_text(rec.owner);
            let origin = store::name_text(self.origin);
            self.problems.push(format!(
                "{}:{}: record {name} is outside zone {origin}",
                self.path.display(),
                rec.line
            ));
            return Ok(());
        }
        if rec.class != u16::from(DNSClass::IN) {
            let name = store::name_text(rec.owner);
            self.problems.push(format!(
                "{}:{}: {name} is not class IN",
                self.path.display(),
                rec.line
            ));
            return Ok(());
        }
        let rtype = RecordType::from(rec.rtype);
        if rtype == RecordType::SOA {
            self.out.soas.push(masterfile::decode_record(&rec)?);
            return Ok(());
        }
        let apex = store::same_name(rec.owner, self.origin);
        if rtype == RecordType::NS {
            if apex {
                self.out.apex_ns = true;
            } else {
                // A cut's NS records usually stand together: one entry per run (a
                // repeat elsewhere costs a duplicate, not a scan of every cut).
                let name = store::name_of(rec.owner);
                if self.out.delegations.last() != Some(&name) {
                    self.out.delegations.push(name);
                }
            }
        }
        self.out
            .store
            .push_wire(rec.owner, rec.rtype, rec.ttl, rec.rdata)
            .map_err(|e| e.to_string())?;
        if rtype == RecordType::CNAME {
            if let Some(r) = self.out.store.get(self.out.store.len() - 1) {
                self.out.cname_owners.push(r.owner_id());
            }
        }
        Ok(())
    }
}

impl masterfile::Sink for Collect<'_> {
    fn record(&mut self, rec: masterfile::WireRecord<'_>) -> Result<(), String> {
        self.add(rec)
    }
}

/// Load the file into a store; errors go to `cx` at the `records_file` entry.
pub(super) fn load(cx: &mut Ctx<'_>, file: &Path, rf: &S<String>, origin: &Name) -> FileRecords {
    let path = file.parent().unwrap_or(Path::new(".")).join(rf.get_ref());
    let mut origin_wire = Vec::new();
    if store::encode_name(origin, &mut origin_wire).is_err() {
        return FileRecords::default();
    }
    let mut collect = Collect {
        origin: &origin_wire,
        path: &path,
        out: FileRecords::default(),
        problems: Vec::new(),
    };
    let loaded = masterfile::load_into(&path, origin, &mut collect);
    for p in std::mem::take(&mut collect.problems) {
        cx.err::<()>(rf.span(), p);
    }
    if let Err(e) = loaded {
        cx.err::<()>(rf.span(), format!("records_file: {e}"));
    }
    collect.out
}
