//! The `Vec<Record>` view of a master file for callers that want hickory records: a
//! sink that decodes each wire record and files it the way hickory's zone parser does
//! (duplicates merge, a second SOA is an error).

use std::collections::btree_map::{BTreeMap, Entry};

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, Restrict};

use super::{Sink, WireRecord};

#[derive(Default)]
pub(super) struct RecordSets {
    sets: BTreeMap<RrKey, RecordSet>,
}

impl RecordSets {
    pub(super) fn into_records(self) -> Vec<Record> {
        self.sets.into_values().flatten().collect()
    }
}

impl Sink for RecordSets {
    fn record(&mut self, rec: WireRecord<'_>) -> Result<(), String> {
        let record = decode(&rec)?;
        let key = RrKey::new(LowerName::new(&record.name), record.record_type());
        match self.sets.entry(key) {
            Entry::Vacant(e) => {
                e.insert(RecordSet::from(record));
            }
            Entry::Occupied(_) if record.record_type() == RecordType::SOA => {
                return Err("SOA is already specified".into());
            }
            Entry::Occupied(mut e) => {
                e.get_mut().insert(record, 0);
            }
        }
        Ok(())
    }
}

/// A hickory record from a wire record.
pub fn decode(rec: &WireRecord<'_>) -> Result<Record, String> {
    let name = Name::read(&mut BinDecoder::new(rec.owner)).map_err(|e| e.to_string())?;
    let rtype = RecordType::from(rec.rtype);
    let data = match rtype {
        // NULL::with debug-asserts on empty data; NULL::new is the empty form.
        RecordType::Unknown(_) if rec.rdata.is_empty() => RData::Unknown {
            code: rtype,
            rdata: NULL::new(),
        },
        _ => {
            let length = u16::try_from(rec.rdata.len()).map_err(|_| "rdata too long")?;
            let mut decoder = BinDecoder::new(rec.rdata);
            RData::read(&mut decoder, rtype, Restrict::new(length))
                .map_err(|e| format!("cannot decode {rtype}: {e}"))?
        }
    };
    let mut record = Record::from_rdata(name, rec.ttl, data);
    record.dns_class = DNSClass::from(rec.class);
    Ok(record)
}
