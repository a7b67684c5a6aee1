//! The routing table: one immutable snapshot of every zone's names, with policy answers
//! already computed for one health state. Built off the query path, swapped whole.
//!
//! It has two halves: `names` (records, delegations, prepared wire answers) depends on
//! the zone set alone and is shared by `Arc` between tables; the per-zone policies and
//! pool states are rebuilt for each health change. A health rebuild therefore never
//! copies the static names.
//!
//! Build time: `names` (the store), `prepare` (wire replies), `build` (the health half).
//! Query time: `lookup`. Between tables: `diff` (what changed), `published` (the one
//! cell the updater writes and everyone else reads).

mod build;
mod deps;
pub mod diff;
mod env;
mod incremental;
pub mod key;
mod lookup;
mod names;
mod nodes;
pub mod overlay;
mod prepare;
mod published;
mod signed;
mod signing;

pub use build::{build, build_next};
pub use env::{Env, Identity, StartupSeed};
pub use incremental::{build_incremental, BuildReport};
pub use lookup::{Body, FastAnswer, Lookup, Rec};
pub use names::HEADER_LEN;
pub use overlay::{Forced, Overlay};
pub use published::{publish, TableReader, TableWriter};
pub use signing::NameFacts;

use std::sync::Arc;

use hickory_proto::rr::Name;

use crate::metrics::query::QueryCounters;
use crate::policy::{Compiled, PoolState};
use crate::zone::Zone;
use names::Names;

/// Everything the query path reads, for one epoch.
#[derive(Debug, Default)]
pub struct RoutingTable {
    /// Increases by one with every rebuild; logged and shown in status.
    pub epoch: u64,
    pub zones: Vec<ZoneTable>,
    /// Counts queries outside every zone, and those rejected before a lookup.
    pub unmatched: Arc<QueryCounters>,
    /// What the table was built with besides zones and health (geo database, probe
    /// region locations); every rebuild from this table inherits it.
    pub env: Arc<Env>,
    /// The static half, shared with the tables before and after this one.
    names: Arc<Names>,
    /// The static names' signed replies: shared with the tables before and after this
    /// one while the names are the same and the signatures fresh.
    signed: Arc<signed::SignedStatic>,
    /// When the first prepared signature is due for refresh (`None`: nothing signed).
    signed_until: Option<u64>,
    /// What this table was built from, for the next build to redo only what changed
    /// (`None`: unknown, the next build is a full one).
    basis: Option<Arc<incremental::Basis>>,
}

impl RoutingTable {
    /// A table with no zones yet, whose successors are built with `env`.
    pub fn empty(env: Env) -> Self {
        RoutingTable {
            env: Arc::new(env),
            ..RoutingTable::default()
        }
    }
}

/// A pool's name, region and state in a built table.
pub type PoolRow = (Arc<str>, Arc<str>, Arc<PoolState>);

/// One zone's health-dependent part. Every list, and each policy and pool state in
/// it, is shared by `Arc` with the previous table when nothing it depends on changed.
#[derive(Debug, Clone)]
pub struct ZoneTable {
    pub origin: Name,
    /// In the zone's policy order; static nodes refer to them by index.
    pub policies: Arc<Vec<Arc<Compiled>>>,
    /// Pool states at build time, in pool name order, for logs and status.
    pub pools: Arc<Vec<PoolRow>>,
    /// Query counters: `[0]` for static names, `[1 + i]` for `policies[i]`.
    pub counters: Arc<Vec<Arc<QueryCounters>>>,
}

impl RoutingTable {
    /// Whether `other` shares this table's static half (same zones, same order), so
    /// zones and policies can be paired by position.
    pub fn same_names(&self, other: &RoutingTable) -> bool {
        Arc::ptr_eq(&self.names, &other.names)
    }

    /// The loaded zones this table serves, in load order (for NOTIFY).
    pub fn zone_sources(&self) -> &[Arc<Zone>] {
        &self.names.sources
    }

    /// The loaded zone whose apex is `origin`, with its health-dependent half: what a
    /// zone transfer sends. Off the query path (TCP AXFR only), so a linear scan.
    pub fn zone_at_apex(&self, origin: &Name) -> Option<(&Arc<Zone>, &ZoneTable)> {
        let zone = self.names.sources.iter().find(|z| z.origin == *origin)?;
        let table = self.zones.iter().find(|t| t.origin == zone.origin)?;
        Some((zone, table))
    }
}
