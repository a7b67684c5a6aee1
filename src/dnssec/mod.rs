//! DNSSEC online signing (issue 12): keys, RRSIGs, compact denial, the signature cache.
//! Self-contained: it depends on hickory-proto's types and ring only, so the query path can
//! adopt it without this module knowing the routing table.
//!
//! PLACEHOLDER
pub mod cache;
pub mod denial;
pub mod ds;
pub mod keys;
pub mod signer;

pub use cache::{SigCache, SignStats, StatsSnapshot};
pub use denial::Denial;
pub use keys::{Key, KeyError, KeySet, PublicKeyFile, Timing};
pub use signer::{sign_rrset, Rrset, SignError, SignerConfig, ZoneSigner};

#[cfg(test)]
mod tests;
