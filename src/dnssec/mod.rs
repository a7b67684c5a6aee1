//! DNSSEC online signing (issue 12): keys, RRSIGs, compact denial, the signature cache.
//! Self-contained: it depends on hickory-proto's types and ring only, so the query path can
//! adopt it without this module knowing the routing table.
pub mod ds;
pub mod keys;

pub use keys::{Key, KeyError, KeySet, PublicKeyFile, Timing};

#[cfg(test)]
mod tests;
