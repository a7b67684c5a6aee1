//! Operator intent applied on top of measured health when a table is built: pools and
//! addresses forced down (drains, drills) or up. An immutable value, like the health
//! snapshot: the operator module publishes a new one on every change or expiry.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name};

/// What an override imposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forced {
    Down,
    Up,
}

/// Every override in force, keyed for the build. Address overrides are per pool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay {
    /// Raised at each publication, for logs.
    pub generation: u64,
    pools: HashMap<(LowerName, Arc<str>), Forced>,
    addresses: HashMap<(LowerName, Arc<str>, IpAddr), Forced>,
}

impl Overlay {
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty() && self.addresses.is_empty()
    }

    pub fn force_pool(&mut self, zone: &Name, pool: &Arc<str>, f: Forced) {
        self.pools.insert((LowerName::new(zone), pool.clone()), f);
    }

    pub fn force_address(&mut self, zone: &Name, pool: &Arc<str>, addr: IpAddr, f: Forced) {
        self.addresses
            .insert((LowerName::new(zone), pool.clone(), addr), f);
    }

    pub fn pool(&self, zone: &LowerName, pool: &Arc<str>) -> Option<Forced> {
        if self.pools.is_empty() {
            return None;
        }
        self.pools.get(&(zone.clone(), pool.clone())).copied()
    }

    pub fn address(&self, zone: &LowerName, pool: &Arc<str>, addr: IpAddr) -> Option<Forced> {
        if self.addresses.is_empty() {
            return None;
        }
        self.addresses
            .get(&(zone.clone(), pool.clone(), addr))
            .copied()
    }
}
