//! What a routing table is built from besides zones and health: the MaxMind database,
//! where the probe regions are, which one this nameserver speaks for, and the registry
//! its query counter blocks come from. Set once at
//! start from the server file and carried from table to table, so the updater's rebuild
//! needs nothing new.

use std::collections::HashMap;
use std::sync::Arc;

use crate::geo::GeoDb;
use crate::metrics::query::QueryRegistry;
use crate::policy::Regions;
use crate::zone::Target;

#[derive(Debug, Default)]
pub struct Env {
    pub geo: Option<Arc<GeoDb>>,
    /// Probe region locations from the server file; regions not listed take the location
    /// of a pool in that region.
    pub regions: Regions,
    /// This nameserver's probe region.
    pub local_region: Arc<str>,
    /// What a target counts as before its first result here.
    pub startup: StartupSeed,
    /// Where each build takes its query counter blocks, by (zone, policy) name: the
    /// server's, so counts survive rebuilds and reloads (a fresh one by default).
    pub counters: Arc<QueryRegistry>,
    /// Who this nameserver says it is (CH TXT, NSID).
    pub identity: Identity,
}

/// The answers to "which nameserver is this": `id.server`, `hostname.bind` and NSID
/// carry `id`; `version.bind` and `version.server` carry `version` unless hidden.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub id: Arc<str>,
    pub version: Option<Arc<str>>,
}

/// Start-up knowledge: what to assume of a target until it has been probed, so a
/// restart answers from what was known instead of flapping through the first round.
#[derive(Debug, Default, Clone)]
pub struct StartupSeed {
    /// Every unprobed target counts as up ("all-pools").
    pub all_up: bool,
    /// Last decided states from the state file.
    pub saved: HashMap<Target, bool>,
}

impl StartupSeed {
    /// `None`: no start-up knowledge; the check's own `startup` state applies.
    pub fn get(&self, t: &Target) -> Option<bool> {
        self.saved.get(t).copied().or(self.all_up.then_some(true))
    }
}
