//! The zone's static records in wire form: owner names and RDATA in two byte arenas and
//! a 16-octet entry per record. A zone may hold millions of records; as hickory
//! `Record`s each cost about 290 octets (a `Name` of inline labels plus its RData enum),
//! here a typical A record costs about 40. The general path decodes the few records it
//! touches (`RecordRef::to_record`); the fast path and the builders read the bytes.

use std::hash::{BuildHasher, Hasher};

use hashbrown::HashTable;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict,
};
use rustc_hash::FxBuildHasher;

/// Why a record could not be stored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("the zone's records exceed 4 GiB")]
    Full,
    #[error("RDATA of {0} octets exceeds 65535")]
    RdataTooLong(usize),
    #[error("{0:?} is not a wire-format domain name")]
    BadOwner(Vec<u8>),
    #[error("cannot encode record: {0}")]
    Encode(String),
}

/// Every static record of one zone, in the order they were added.
#[derive(Default, Clone)]
pub struct RecordStore {
    /// Owner names, uncompressed wire form, case as written, each once.
    names: Vec<u8>,
    /// RDATA end to end; names inside are uncompressed, case as written.
    data: Vec<u8>,
    entries: Vec<Entry>,
    /// Each distinct owner (compared without case) once, by its offset in `names`: owners
    /// are shared between records and "is there data at this name" is one probe.
    owners: HashTable<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    owner: u32,
    data: u32,
    ttl: u32,
    rtype: u16,
    len: u16,
}

impl std::fmt::Debug for RecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStore")
            .field("records", &self.entries.len())
            .field("owners", &self.owners.len())
            .finish()
    }
}

/// One stored record.
#[derive(Clone, Copy)]
pub struct RecordRef<'s> {
    store: &'s RecordStore,
    entry: Entry,
}

/// The length of the wire name at the start of `b`, if it is one (labels of at most 63
/// octets, 255 in all, ending with the root).
pub fn wire_name_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let n = *b.get(i)? as usize;
        if n > 63 {
            return None;
        }
        i += 1 + n;
        if i > 255 {
            return None;
        }
        if n == 0 {
            return (i <= b.len()).then_some(i);
        }
    }
}

/// Hash a wire name as its lowercase form: the hash every table keyed by names uses, so a
/// lowercase key from a query finds a stored name of any case.
pub fn hash_name(build: &FxBuildHasher, name: &[u8]) -> u64 {
    let mut h = build.build_hasher();
    for chunk in name.chunks(8) {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(chunk) {
            *d = s.to_ascii_lowercase();
        }
        h.write_u64(u64::from_le_bytes(w));
    }
    h.finish()
}

/// Wire names compare without case (RFC 4343); length octets are below 64, so they are
/// never letters and a byte-wise ASCII comparison is exact.
#[inline]
pub fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `name` is `origin` or below it (both wire form, any case).
pub fn is_within(name: &[u8], origin: &[u8]) -> bool {
    let mut n = name;
    while n.len() > origin.len() {
        match n.first() {
            Some(&l) if l > 0 && (l as usize) < n.len() => n = &n[1 + l as usize..],
            _ => return false,
        }
    }
    same_name(n, origin)
}

/// A wire name as hickory's type (the root for bytes that are not one).
pub fn name_of(wire: &[u8]) -> Name {
    decode_name(wire)
}

/// A wire name in presentation form, for messages.
pub fn name_text(wire: &[u8]) -> String {
    decode_name(wire).to_string()
}

/// The stored name at `off` in the owner arena. Every stored name was checked by
/// `wire_name_len` when it went in.
fn name_in(names: &[u8], off: u32) -> &[u8] {
    let b = &names[off as usize..];
    &b[..wire_name_len(b).unwrap_or(b.len())]
}

/// The owners table's hash of the name at `off` (for rehashing as it grows).
fn owner_hash(names: &[u8], off: u32) -> u64 {
    hash_name(&FxBuildHasher, name_in(names, off))
}

impl RecordStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of distinct owner names.
    pub fn owner_count(&self) -> usize {
        self.owners.len()
    }

    fn name_at(&self, off: u32) -> &[u8] {
        name_in(&self.names, off)
    }

    /// Where the owner `name` (any case) is in `names`, if stored.
    fn find_owner(&self, hash: u64, name: &[u8]) -> Option<u32> {
        self.owners
            .find(hash, |&o| same_name(self.name_at(o), name))
            .copied()
    }

    /// The owner name of an owner id.
    pub fn owner_by_id(&self, id: u32) -> &[u8] {
        self.name_at(id)
    }

    /// Whether any record is owned by `name` (wire form, any case).
    pub fn has_owner(&self, name: &[u8]) -> bool {
        self.owner_id(name).is_some()
    }

    /// The owner id (see `RecordRef::owner_id`) of `name` (wire form, any case).
    pub fn owner_id(&self, name: &[u8]) -> Option<u32> {
        self.find_owner(hash_name(&FxBuildHasher, name), name)
    }

    /// Add one record in wire form. `rdata` holds no compression pointers.
    pub fn push_wire(
        &mut self,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), StoreError> {
        if wire_name_len(owner) != Some(owner.len()) {
            return Err(StoreError::BadOwner(owner.to_vec()));
        }
        let len = u16::try_from(rdata.len()).map_err(|_| StoreError::RdataTooLong(rdata.len()))?;
        // The common file keeps a name's records together: the last owner is the one.
        let last = self.entries.last().map(|e| e.owner);
        let owner_off = match last {
            Some(o) if self.name_at(o) == owner => o,
            _ => {
                let hash = hash_name(&FxBuildHasher, owner);
                match self.find_owner(hash, owner) {
                    Some(o) => o,
                    None => {
                        let o = u32::try_from(self.names.len()).map_err(|_| StoreError::Full)?;
                        self.names.extend_from_slice(owner);
                        let RecordStore { names, owners, .. } = self;
                        owners.insert_unique(hash, o, |&x| owner_hash(names, x));
                        o
                    }
                }
            }
        };
        let data = u32::try_from(self.data.len()).map_err(|_| StoreError::Full)?;
        self.data.extend_from_slice(rdata);
        self.entries.push(Entry {
            owner: owner_off,
            data,
            ttl,
            rtype,
            len,
        });
        Ok(())
    }

    /// Add a hickory record (class IN assumed: the store keeps no class).
    pub fn push(&mut self, r: &Record) -> Result<(), StoreError> {
        let mut owner = Vec::with_capacity(64);
        let mut rdata = Vec::with_capacity(64);
        encode_name(&r.name, &mut owner)?;
        encode_rdata(&r.data, &mut rdata)?;
        self.push_wire(&owner, u16::from(r.record_type()), r.ttl, &rdata)
    }

    pub fn get(&self, i: usize) -> Option<RecordRef<'_>> {
        self.entries
            .get(i)
            .map(|&entry| RecordRef { store: self, entry })
    }

    /// Every record, in the order added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> + '_ {
        self.entries
            .iter()
            .map(move |&entry| RecordRef { store: self, entry })
    }

    /// Every record decoded: for tests and small zones, never on a query path.
    pub fn to_records(&self) -> Vec<Record> {
        self.iter().map(|r| r.to_record()).collect()
    }

    /// Release spare capacity once the zone is complete.
    pub fn shrink_to_fit(&mut self) {
        self.names.shrink_to_fit();
        self.data.shrink_to_fit();
        self.entries.shrink_to_fit();
        let RecordStore { names, owners, .. } = self;
        owners.shrink_to_fit(|&x| owner_hash(names, x));
    }
}

impl<'s> RecordRef<'s> {
    /// The owner in uncompressed wire form, case as written.
    pub fn owner(&self) -> &'s [u8] {
        self.store.name_at(self.entry.owner)
    }

    /// Records with the same owner offset share one stored name.
    pub fn owner_id(&self) -> u32 {
        self.entry.owner
    }

    pub fn rtype(&self) -> RecordType {
        RecordType::from(self.entry.rtype)
    }

    pub fn ttl(&self) -> u32 {
        self.entry.ttl
    }

    /// Uncompressed RDATA.
    pub fn rdata(&self) -> &'s [u8] {
        &self.store.data[self.entry.data as usize..][..self.entry.len as usize]
    }

    pub fn owner_name(&self) -> Name {
        decode_name(self.owner())
    }

    /// The record as hickory's type, for the general path, transfers and messages.
    pub fn to_record(&self) -> Record {
        self.to_record_with_ttl(self.entry.ttl)
    }

    pub fn to_record_with_ttl(&self, ttl: u32) -> Record {
        let rtype = self.rtype();
        let data = decode_rdata(rtype, self.rdata());
        Record::from_rdata(self.owner_name(), ttl, data)
    }
}

/// `name` in uncompressed wire form, appended to `out`.
pub fn encode_name(name: &Name, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let mut enc = BinEncoder::new(out);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    let mut fqdn = name.clone();
    fqdn.set_fqdn(true);
    fqdn.emit(&mut enc)
        .map_err(|e| StoreError::Encode(e.to_string()))
}

/// `data` in uncompressed wire form (names inside as written), appended to `out`.
pub fn encode_rdata(data: &RData, out: &mut Vec<u8>) -> Result<(), StoreError> {
    let mut enc = BinEncoder::new(out);
    enc.set_name_encoding(NameEncoding::Uncompressed);
    data.emit(&mut enc)
        .map_err(|e| StoreError::Encode(e.to_string()))
}

fn decode_name(wire: &[u8]) -> Name {
    let mut dec = BinDecoder::new(wire);
    Name::read(&mut dec).unwrap_or_else(|_| Name::root())
}

/// Stored RDATA went in through `encode_rdata` or a loader checked against it, so it
/// decodes; should it not, it is kept as opaque data rather than lost.
fn decode_rdata(rtype: RecordType, wire: &[u8]) -> RData {
    let mut dec = BinDecoder::new(wire);
    match RData::read(&mut dec, rtype, Restrict::new(wire.len() as u16)) {
        Ok(d) => d,
        Err(_) => RData::Unknown {
            code: rtype,
            rdata: hickory_proto::rr::rdata::NULL::with(wire.to_vec()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::rr::rdata::{A, MX, TXT};

    use super::*;

    fn rec(name: &str, data: RData) -> Record {
        // from_ascii keeps the case (from_str lowercases, as IDNA does).
        Record::from_rdata(Name::from_ascii(name).unwrap(), 300, data)
    }

    #[test]
    fn records_round_trip_and_owners_are_shared_without_case() {
        let mut s = RecordStore::new();
        let recs = [
            rec(
                "www.Example.test.",
                RData::A(A::from_str("192.0.2.1").unwrap()),
            ),
            rec(
                "www.Example.test.",
                RData::A(A::from_str("192.0.2.2").unwrap()),
            ),
            rec(
                "mail.example.test.",
                RData::MX(MX::new(10, Name::from_ascii("Mx.example.test.").unwrap())),
            ),
            rec(
                "WWW.example.TEST.",
                RData::TXT(TXT::new(vec!["a b".into()])),
            ),
        ];
        for r in &recs {
            s.push(r).unwrap();
        }
        assert_eq!(s.len(), 4);
        assert_eq!(s.owner_count(), 2);
        let back: Vec<Record> = s.iter().map(|r| r.to_record()).collect();
        for (a, b) in recs.iter().zip(&back) {
            assert_eq!(a.data, b.data);
            assert_eq!(a.ttl, b.ttl);
            assert!(a.name == b.name, "{} vs {}", a.name, b.name);
        }
        // The first spelling of an owner is the one kept; the MX target keeps its case.
        assert_eq!(back[3].name.to_string(), "www.Example.test.");
        assert_eq!(back[2].data.to_string(), "10 Mx.example.test.");
        assert!(s.has_owner(b"\x03www\x07example\x04test\x00"));
        assert!(s.has_owner(b"\x04MAIL\x07example\x04test\x00"));
        assert!(!s.has_owner(b"\x03ftp\x07example\x04test\x00"));
    }

    #[test]
    fn malformed_input_is_refused() {
        let mut s = RecordStore::new();
        assert!(matches!(
            s.push_wire(b"\x03www", 1, 0, &[1, 2, 3, 4]),
            Err(StoreError::BadOwner(_))
        ));
        assert_eq!(
            s.push_wire(b"\x00", 16, 0, &vec![0; 70_000]),
            Err(StoreError::RdataTooLong(70_000))
        );
        assert!(s.is_empty());
    }

    #[test]
    fn wire_names_are_measured_and_bounded() {
        assert_eq!(wire_name_len(b"\x03www\x00rest"), Some(5));
        assert_eq!(wire_name_len(b"\x00"), Some(1));
        assert_eq!(wire_name_len(b"\x03ww"), None);
        assert_eq!(wire_name_len(&[64]), None);
        let long: Vec<u8> = std::iter::repeat_n([63u8; 64], 5).flatten().collect();
        assert_eq!(wire_name_len(&long), None);
    }
}
