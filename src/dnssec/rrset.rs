//! One RRset as it is signed, and its RFC 4034 §6 canonical form: the bytes an RRSIG
//! covers and the key the signature cache files it under. Its own file because both the
//! signer and the denial builder make RRsets.

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

/// Why an RRset could not be signed. These are programming or key errors, not client input:
/// the query path answers SERVFAIL and logs.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot encode {rtype} RRset at {name}: {message}")]
    Encode {
        name: String,
        rtype: RecordType,
        message: String,
    },
    #[error("key {tag} failed to sign: {message}")]
    Crypto { tag: u16, message: String },
    #[error("no active key for zone {0}")]
    NoActiveKey(String),
    #[error("labels {labels} is more than the {name} owner has")]
    Labels { name: String, labels: u8 },
}

/// One RRset as it is signed: the owner is the name in the zone, so for an answer made by
/// wildcard expansion it is the wildcard (`*.example.com`), not the query name. The RRSIG
/// labels field then comes out right (RFC 4034 §3.1.3), and one cached signature serves
/// every name the wildcard expands to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rrset {
    pub name: Name,
    pub class: DNSClass,
    pub rtype: RecordType,
    pub ttl: u32,
    pub rdata: Vec<RData>,
}

impl Rrset {
    pub fn new(name: Name, rtype: RecordType, ttl: u32, rdata: Vec<RData>) -> Self {
        Self {
            name,
            class: DNSClass::IN,
            rtype,
            ttl,
            rdata,
        }
    }

    /// The RRset of `records` (all of one owner, class and type; the first record decides,
    /// others are ignored). TTL is the smallest, as RFC 2181 §5.2 has servers treat it.
    pub fn from_records(records: &[Record]) -> Option<Self> {
        let first = records.first()?;
        let same: Vec<&Record> = records
            .iter()
            .filter(|r| {
                r.name == first.name
                    && r.dns_class == first.dns_class
                    && r.record_type() == first.record_type()
            })
            .collect();
        Some(Self {
            name: first.name.clone(),
            class: first.dns_class,
            rtype: first.record_type(),
            ttl: same.iter().map(|r| r.ttl).min().unwrap_or(first.ttl),
            rdata: same.iter().map(|r| r.data.clone()).collect(),
        })
    }

    /// The same RRset signed as a wildcard expansion with `labels` labels (the RRSIG field,
    /// which does not count the `*`): `a.b.example.com` with 2 becomes `*.example.com`.
    pub fn as_wildcard_of(mut self, labels: u8) -> Result<Self, SignError> {
        if labels > self.name.num_labels() {
            return Err(SignError::Labels {
                name: self.name.to_ascii(),
                labels,
            });
        }
        if labels < self.name.num_labels() {
            let star = Name::from_labels([b"*" as &[u8]]).expect("one-label name");
            self.name = star
                .append_name(&self.name.trim_to(labels as usize))
                .map_err(|e| self.encode_error(e))?;
        }
        Ok(self)
    }

    /// The records, with owner `owner` (the query name for a wildcard expansion).
    pub fn records_at(&self, owner: &Name) -> Vec<Record> {
        self.rdata
            .iter()
            .map(|d| {
                let mut r = Record::from_rdata(owner.clone(), self.ttl, d.clone());
                r.dns_class = self.class;
                r
            })
            .collect()
    }

    pub fn records(&self) -> Vec<Record> {
        self.records_at(&self.name)
    }

    /// RFC 4034 §6: `owner | type | class | ttl | rdlength | rdata` for each RR in
    /// canonical order, duplicates removed. This is both the tail of the to-be-signed data
    /// and the content key of the signature cache.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, SignError> {
        let mut rdatas: Vec<Vec<u8>> = Vec::with_capacity(self.rdata.len());
        for d in &self.rdata {
            let mut buf = Vec::with_capacity(64);
            let mut enc = BinEncoder::new(&mut buf);
            // Canonical form: no compression; names lowercased for the RFC 4034 §6.2 types
            // (as amended by RFC 6840 §5.1) and left alone for the others.
            enc.set_canonical_form(true);
            enc.set_name_encoding(NameEncoding::Uncompressed);
            d.emit(&mut enc).map_err(|e| self.encode_error(e))?;
            rdatas.push(buf);
        }
        // §6.3: RDATA as left-justified octet strings, which is Vec<u8>'s order.
        rdatas.sort();
        rdatas.dedup();
        let mut owner = Vec::with_capacity(self.name.len() + 2);
        {
            let mut enc = BinEncoder::new(&mut owner);
            enc.set_name_encoding(NameEncoding::UncompressedLowercase);
            self.name.emit(&mut enc).map_err(|e| self.encode_error(e))?;
        }
        let mut out = Vec::new();
        for rd in rdatas {
            let len = u16::try_from(rd.len()).map_err(|e| self.encode_error(e))?;
            out.extend_from_slice(&owner);
            out.extend_from_slice(&u16::from(self.rtype).to_be_bytes());
            out.extend_from_slice(&u16::from(self.class).to_be_bytes());
            out.extend_from_slice(&self.ttl.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&rd);
        }
        Ok(out)
    }

    pub(super) fn encode_error(&self, e: impl std::fmt::Display) -> SignError {
        SignError::Encode {
            name: self.name.to_ascii(),
            rtype: self.rtype,
            message: e.to_string(),
        }
    }
}
