//! DNSSEC online signing (issue 12): keys, RRSIGs, compact denial, the signature cache.
//! Self-contained: it depends on hickory-proto's types and ring only, so the query path can
//! adopt it without this module knowing the routing table.
//!
//! # The API the query path uses
//!
//! ```text
//! // At zone load (config): the zone file's `[dnssec] keys = ["Kexample.com.+013+12345"]`,
//! // paths relative to the zone file. Every error has file(:line) and a plain message;
//! // `check` prints them all, `serve` refuses to start on any.
//! let keys: KeySet = KeySet::load(&zone, &bases)?;          // Err(Vec<KeyError>)
//! for p in keys.problems(unix_now()) { /* a signing gap in the rollover: warn or refuse */ }
//! let signer = Arc::new(ZoneSigner::new(keys, SignerConfig::default()));
//!
//! // At table build (routing), for each distinct RRset an answer can carry (static RRsets,
//! // each policy answer per health state and client group, CNAME steps, DS at signed
//! // delegations; not NS or glue at a delegation):
//! let rrset = Rrset::new(owner, RecordType::A, ttl, rdata);      // or Rrset::from_records
//! let rrset = rrset.as_wildcard_of(labels)?;  // only for a wildcard expansion: signs `*.zone`
//! let sigs: Arc<[Record]> = signer.sign(&rrset)?;   // cached by content; one RRSIG per key
//! // For a wildcard, the RRSIG owner is `*.zone`: rename to the query name when answering
//! // (`Rrset::records_at(qname)` does it for the data).
//! let (dnskey, dnskey_sigs) = signer.signed_dnskey()?;   // apex DNSKEY, signed by KSKs
//!
//! // On a DO query with a negative answer (on demand; cached, bounded):
//! let (nsec, nsec_sigs) = signer.deny(&qname, None, neg_ttl)?;            // NXDOMAIN
//! let (nsec, nsec_sigs) = signer.deny(&qname, Some(&types_at_qname), neg_ttl)?; // NODATA
//! //   empty non-terminal: Some(&[]); DS at an unsigned delegation: Some(&[RecordType::NS]).
//! //   rcode: NOERROR, or NXDOMAIN only if the client set EDNS CO (`Denial::rcode_is_nxdomain`);
//! //   the signed SOA goes in the authority section beside the NSEC as usual.
//!
//! // Metrics: signer.stats().snapshot() -> signatures, cache_hits, cache_misses,
//! // signing_nanos, evictions. Status: signer.keys().keys() with tag, flags, algorithm,
//! // timing.is_published(now)/is_active(now).
//! ```
//!
//! Signatures are refreshed by asking again: `sign` returns the cached RRSIGs while more
//! than a quarter of their validity is left and re-signs after that, so a table rebuilt at
//! least every day or so (or a periodic re-sign task calling `sign` on the table's RRsets)
//! never serves an expired signature, without a restart. Key roles follow the timing in the
//! key files at the time of signing, and the cache key includes the signing keys, so a
//! rollover step takes effect on the next `sign` after its time.
//!
//! # Choices
//!
//! - Keys: BIND's files as `dnssec-keygen` writes them; algorithms 13 and 15 only (see
//!   `keys`). Several nameservers can share the same key files and sign independently:
//!   ECDSA signatures differ from run to run but each one validates, and nothing here keeps
//!   state beyond the cache.
//! - Canonical form: built here (see `signer`) because hickory's TBS orders RDATA by
//!   non-canonical bytes and keeps duplicates; checked against BIND's `dnssec-verify`.
//! - Inception one hour in the past (clock skew), expiration 7 days on, configurable in
//!   `SignerConfig`.
//! - Denial: compact denial of existence, RFC 9824 (see `denial` for why not RFC 4470).
//! - Cache: by RRset content and signing keys, two generations per shard (see `cache` for
//!   why not LRU or clear-on-overflow); no lock held while signing.
//! - `switchyard dnssec ds <key files or key dir>` prints DS (SHA-256) like
//!   `dnssec-dsfromkey -2` (see `ds`).
pub mod cache;
pub mod denial;
pub mod ds;
pub mod keys;
pub mod keyset;
pub mod rrset;
pub mod signer;

pub use cache::{SigCache, SignStats, StatsSnapshot};
pub use denial::Denial;
pub use keys::{Key, KeyError, PublicKeyFile, Timing};
pub use keyset::KeySet;
pub use rrset::{Rrset, SignError};
pub use signer::{sign_rrset, unix_now, SignerConfig, ZoneSigner};

#[cfg(test)]
mod tests;
