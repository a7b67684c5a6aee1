//! Signing: the RFC 4034 §6 canonical form of an RRset, one RRSIG per signing key, and the
//! `ZoneSigner` that the query path holds per zone (key roles, validity, the cache).
//!
//! The to-be-signed bytes are built here rather than with `hickory_proto::dnssec::TBS`:
//! hickory orders an RRset by the non-canonical wire form of its RDATA (names keep their
//! case) and does not drop duplicates, both of which RFC 4034 §6.3 requires. The RRSIG RDATA
//! prefix is still hickory's `SigInput::emit`, and the tests check our bytes against
//! hickory's where the two must agree and against BIND's `dnssec-verify` where they differ.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::dnssec::TBS;
use hickory_proto::rr::{Name, RData, Record, RecordType, SerialNumber};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::cache::{SigCache, SignStats};
use super::denial;
use super::keys::Key;
use super::keyset::KeySet;
use super::rrset::{Rrset, SignError};

/// Signs `rrset` with `key`, valid from `inception` to `expiration` (Unix seconds; RRSIG
/// times are serial numbers mod 2^32, RFC 4034 §3.1.5). The RRSIG record's owner and TTL are
/// the RRset's.
pub fn sign_rrset(
    key: &Key,
    signer_name: &Name,
    rrset: &Rrset,
    inception: u64,
    expiration: u64,
) -> Result<Record, SignError> {
    let canonical = rrset.canonical_bytes()?;
    sign_canonical(key, signer_name, rrset, &canonical, inception, expiration)
}

fn sign_canonical(
    key: &Key,
    signer_name: &Name,
    rrset: &Rrset,
    canonical: &[u8],
    inception: u64,
    expiration: u64,
) -> Result<Record, SignError> {
    let input = SigInput {
        type_covered: rrset.rtype,
        algorithm: key.algorithm(),
        // hickory's num_labels leaves out a leading `*`, which is what the field wants.
        num_labels: rrset.name.num_labels(),
        original_ttl: rrset.ttl,
        sig_expiration: SerialNumber::new(expiration as u32),
        sig_inception: SerialNumber::new(inception as u32),
        key_tag: key.tag(),
        signer_name: signer_name.to_lowercase(),
    };
    let mut buf = Vec::with_capacity(canonical.len() + 64);
    {
        let mut enc = BinEncoder::new(&mut buf);
        enc.set_canonical_form(true);
        enc.set_name_encoding(NameEncoding::Uncompressed);
        input.emit(&mut enc).map_err(|e| rrset.encode_error(e))?;
    }
    buf.extend_from_slice(canonical);
    let tbs = TBS::from(buf.as_slice());
    let sig = key
        .signing_key()
        .sign(&tbs)
        .map_err(|e| SignError::Crypto {
            tag: key.tag(),
            message: e.to_string(),
        })?;
    let rdata = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig)));
    let mut record = Record::from_rdata(rrset.name.clone(), rrset.ttl, rdata);
    record.dns_class = rrset.class;
    Ok(record)
}

/// How long signatures live. Defaults: 7 days validity, inception 1 hour in the past so
/// resolvers with a slow clock accept them, DNSKEY TTL 1 hour.
#[derive(Clone, Debug)]
pub struct SignerConfig {
    pub validity: Duration,
    pub inception_skew: Duration,
    pub dnskey_ttl: u32,
    /// Signed RRsets kept in the cache (see `cache` for the bound).
    pub cache_capacity: usize,
}

impl Default for SignerConfig {
    fn default() -> Self {
        Self {
            validity: Duration::from_secs(7 * 86_400),
            inception_skew: Duration::from_secs(3600),
            dnskey_ttl: 3600,
            cache_capacity: 100_000,
        }
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Everything the query path needs to sign one zone. Cheap to share (`Arc<ZoneSigner>`):
/// all methods take `&self`, the cache is internally synchronized.
pub struct ZoneSigner {
    keys: KeySet,
    config: SignerConfig,
    cache: SigCache,
}

impl std::fmt::Debug for ZoneSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneSigner")
            .field("zone", self.zone())
            .field("keys", &self.keys.keys().len())
            .finish()
    }
}

impl ZoneSigner {
    pub fn new(keys: KeySet, config: SignerConfig) -> Self {
        let cache = SigCache::new(config.cache_capacity);
        Self {
            keys,
            config,
            cache,
        }
    }

    pub fn zone(&self) -> &Name {
        self.keys.zone()
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn config(&self) -> &SignerConfig {
        &self.config
    }

    /// Counters for the metrics module.
    pub fn stats(&self) -> &SignStats {
        self.cache.stats()
    }

    /// The apex DNSKEY RRset at `now`: every published key.
    pub fn dnskey_rrset_at(&self, now: u64) -> Rrset {
        let rdata = self
            .keys
            .published(now)
            .iter()
            .map(|k| RData::DNSSEC(DNSSECRData::DNSKEY(k.dnskey().clone())))
            .collect();
        Rrset::new(
            self.zone().clone(),
            RecordType::DNSKEY,
            self.config.dnskey_ttl,
            rdata,
        )
    }

    pub fn dnskey_rrset(&self) -> Rrset {
        self.dnskey_rrset_at(unix_now())
    }

    /// The RRSIGs for `rrset`: one per signing key, from the cache when a signature made
    /// earlier still has more than a quarter of its validity left.
    pub fn sign(&self, rrset: &Rrset) -> Result<Arc<[Record]>, SignError> {
        self.sign_at(rrset, unix_now())
    }

    pub fn sign_at(&self, rrset: &Rrset, now: u64) -> Result<Arc<[Record]>, SignError> {
        self.sign_until(rrset, now).map(|(sigs, _)| sigs)
    }

    /// The RRSIGs for `rrset` at `now`, and the time (Unix seconds) until which `sign`
    /// keeps returning these same signatures: a reply prepared with them is good until
    /// then, and must be made again after.
    pub fn sign_until(&self, rrset: &Rrset, now: u64) -> Result<(Arc<[Record]>, u64), SignError> {
        // RRSIGs are never signed themselves (RFC 4035 §2.2).
        if rrset.rtype == RecordType::RRSIG {
            return Err(rrset.encode_error("an RRSIG RRset is not signed"));
        }
        // RFC 4035 §2.2 / RFC 6840 §5.10: the DNSKEY RRset (and the CDS/CDNSKEY that the
        // parent reads beside it) is signed by the key-signing keys.
        let apex_keyset = matches!(
            rrset.rtype,
            RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY
        ) && super::keys::same_name(&rrset.name, self.zone());
        let signers = if apex_keyset {
            self.keys.dnskey_signers(now)
        } else {
            self.keys.zone_signers(now)
        };
        if signers.is_empty() {
            return Err(SignError::NoActiveKey(self.zone().to_ascii()));
        }
        let canonical = rrset.canonical_bytes()?;
        // The cache key is the content plus which keys sign it, so a key becoming active or
        // inactive in a rollover makes new signatures instead of reusing the old key's.
        let mut key = Vec::with_capacity(canonical.len() + 3 * signers.len() + 1);
        key.push(signers.len() as u8);
        for k in &signers {
            key.push(u8::from(k.algorithm()));
            key.extend_from_slice(&k.tag().to_be_bytes());
        }
        key.extend_from_slice(&canonical);
        if let Some(hit) = self.cache.get(&key, now) {
            return Ok(hit);
        }
        // No lock is held here: two threads missing on the same RRset both sign it, which
        // costs a signature and is cheaper than making the second one wait.
        let started = Instant::now();
        let inception = now.saturating_sub(self.config.inception_skew.as_secs());
        let validity = self.config.validity.as_secs();
        let expiration = now + validity;
        let mut sigs = Vec::with_capacity(signers.len());
        for k in &signers {
            sigs.push(sign_canonical(
                k,
                self.zone(),
                rrset,
                &canonical,
                inception,
                expiration,
            )?);
        }
        let sigs: Arc<[Record]> = sigs.into();
        // Refresh once less than a quarter of the validity is left, so a resolver that
        // caches the answer for its TTL never holds an expired signature.
        let refresh_at = expiration - validity / 4;
        self.cache.insert(
            key.into(),
            sigs.clone(),
            refresh_at,
            signers.len(),
            started.elapsed(),
        );
        Ok((sigs, refresh_at))
    }

    /// The DNSKEY RRset and its RRSIGs.
    pub fn signed_dnskey(&self) -> Result<(Rrset, Arc<[Record]>), SignError> {
        let now = unix_now();
        let rrset = self.dnskey_rrset_at(now);
        let sigs = self.sign_at(&rrset, now)?;
        Ok((rrset, sigs))
    }

    /// Authenticated denial for `qname` (compact denial, see `denial`): `types` are the
    /// types at `qname` (`None`: the name does not exist). Returns the NSEC RRset and its
    /// RRSIGs for the authority section; `ttl` is the negative TTL (RFC 9077: the smaller
    /// of the SOA TTL and SOA MINIMUM).
    pub fn deny(
        &self,
        qname: &Name,
        types: Option<&[RecordType]>,
        ttl: u32,
    ) -> Result<(Rrset, Arc<[Record]>), SignError> {
        let nsec = denial::deny(qname, types, ttl);
        let sigs = self.sign(&nsec)?;
        Ok((nsec, sigs))
    }
}
