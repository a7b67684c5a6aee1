//! The key set of one zone: which keys are in DNSKEY and which sign what at a given time,
//! from their flags and BIND timing metadata.

use std::path::PathBuf;
use std::sync::Arc;

use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::Name;

use super::keys::{fqdn, normalize, same_name, Key, KeyError};

/// All keys of one zone, with the roles derived from their flags and timing.
///
/// A zone has either a CSK (one SEP key that signs everything) or KSKs + ZSKs, and may hold
/// more during a rollover. At any time: every published key is in DNSKEY; active KSKs sign
/// DNSKEY; active ZSKs sign everything else, and where an algorithm has no active ZSK its
/// active KSK does (that is the CSK case). Roles are chosen per algorithm because RFC 4035
/// §2.2 wants every RRset signed by each algorithm present in DNSKEY.
#[derive(Debug, Clone)]
pub struct KeySet {
    zone: Name,
    keys: Vec<Arc<Key>>,
}

impl KeySet {
    /// Loads every named key; returns all errors, not just the first, so `check` can list
    /// them together.
    pub fn load(zone: &Name, bases: &[PathBuf]) -> Result<Self, Vec<KeyError>> {
        let mut keys = Vec::new();
        let mut errors = Vec::new();
        for base in bases {
            match Key::load(base, zone) {
                Ok(k) => keys.push(Arc::new(k)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Self::new(zone.clone(), keys).map_err(|e| vec![e])
    }

    pub fn new(zone: Name, keys: Vec<Arc<Key>>) -> Result<Self, KeyError> {
        let path = keys
            .first()
            .map(|k| k.public.path.clone())
            .unwrap_or_default();
        if keys.is_empty() {
            return Err(KeyError::Invalid {
                path,
                message: format!("no keys for zone {}", fqdn(&zone)),
            });
        }
        if let Some(k) = keys.iter().find(|k| !same_name(k.zone(), &zone)) {
            return Err(KeyError::OtherZone {
                path: k.public.path.clone(),
                line: k.public.line,
                found: fqdn(k.zone()),
                expected: fqdn(&zone),
            });
        }
        Ok(Self {
            zone: normalize(&zone),
            keys,
        })
    }

    pub fn zone(&self) -> &Name {
        &self.zone
    }

    pub fn keys(&self) -> &[Arc<Key>] {
        &self.keys
    }

    /// Problems at `now` that make the zone unverifiable (a signing gap in a rollover
    /// schedule): no active key, or an algorithm in DNSKEY without an active key.
    pub fn problems(&self, now: u64) -> Vec<String> {
        let mut out = Vec::new();
        if self.dnskey_signers(now).is_empty() {
            out.push(format!(
                "no active key for {} at this time",
                fqdn(&self.zone)
            ));
        }
        for alg in self.algorithms(now) {
            if !self
                .keys
                .iter()
                .any(|k| k.algorithm() == alg && k.timing.is_active(now))
            {
                out.push(format!(
                    "algorithm {} is published in DNSKEY but no key of it is active",
                    u8::from(alg)
                ));
            }
        }
        out
    }

    fn algorithms(&self, now: u64) -> Vec<Algorithm> {
        let mut algs: Vec<Algorithm> = Vec::new();
        for k in self.keys.iter().filter(|k| k.timing.is_published(now)) {
            if !algs.contains(&k.algorithm()) {
                algs.push(k.algorithm());
            }
        }
        algs
    }

    /// Keys whose DNSKEY is in the apex RRset at `now`.
    pub fn published(&self, now: u64) -> Vec<Arc<Key>> {
        self.keys
            .iter()
            .filter(|k| k.timing.is_published(now))
            .cloned()
            .collect()
    }

    /// Keys that sign the DNSKEY RRset at `now`: active KSKs, per algorithm; an algorithm
    /// without an active KSK falls back to its active ZSK so DNSKEY is never unsigned.
    pub fn dnskey_signers(&self, now: u64) -> Vec<Arc<Key>> {
        self.signers(now, true)
    }

    /// Keys that sign every other RRset at `now`: active ZSKs, per algorithm; an algorithm
    /// without an active ZSK uses its active KSK (a CSK).
    pub fn zone_signers(&self, now: u64) -> Vec<Arc<Key>> {
        self.signers(now, false)
    }

    fn signers(&self, now: u64, want_ksk: bool) -> Vec<Arc<Key>> {
        let mut out = Vec::new();
        for alg in self.algorithms(now) {
            let active = |k: &&Arc<Key>| k.algorithm() == alg && k.timing.is_active(now);
            let preferred: Vec<_> = self
                .keys
                .iter()
                .filter(active)
                .filter(|k| k.is_ksk() == want_ksk)
                .cloned()
                .collect();
            if preferred.is_empty() {
                out.extend(self.keys.iter().filter(active).cloned());
            } else {
                out.extend(preferred);
            }
        }
        out
    }
}
