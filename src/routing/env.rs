//! What a routing table is built from besides zones and health: the MaxMind database,
//! where the probe regions are, and which one this nameserver speaks for. Set once at
//! start from the server file and carried from table to table, so the updater's rebuild
//! needs nothing new.

use std::sync::Arc;

use crate::geo::GeoDb;
use crate::policy::Regions;

#[derive(Debug, Default)]
pub struct Env {
    pub geo: Option<Arc<GeoDb>>,
    /// Probe region locations from the server file; regions not listed take the location
    /// of a pool in that region.
    pub regions: Regions,
    /// This nameserver's probe region.
    pub local_region: Arc<str>,
}
