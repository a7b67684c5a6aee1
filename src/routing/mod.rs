//! The routing table: one immutable snapshot of every zone's names, with policy answers
//! already computed for one health state. Built off the query path, swapped whole.

mod build;
mod lookup;
pub mod overlay;

pub use build::{build, build_with};
pub use lookup::{Lookup, Rec};
pub use overlay::{Forced, Overlay};

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name, Record, RecordType};

use crate::metrics::query::QueryCounters;
use crate::policy::{Compiled, PoolState};

/// Everything the query path reads, for one epoch.
#[derive(Debug, Default)]
pub struct RoutingTable {
    /// Increases by one with every rebuild; logged and shown in status.
    pub epoch: u64,
    pub zones: Vec<ZoneTable>,
    /// Counts queries outside every zone, and those rejected before a lookup.
    pub unmatched: Arc<QueryCounters>,
}

/// One zone's names.
#[derive(Debug)]
pub struct ZoneTable {
    pub origin: Name,
    origin_lower: LowerName,
    /// The SOA for negative answers: TTL is min(SOA TTL, MINIMUM) (RFC 2308 §3).
    negative_soa: Record,
    nodes: HashMap<LowerName, Node>,
    /// Any delegation below the apex: lets lookups skip the cut search when there is none.
    has_cuts: bool,
    has_wildcards: bool,
    pub policies: Vec<Compiled>,
    /// Pool states at build time, for logs and status.
    pub pools: Vec<(Arc<str>, Arc<str>, PoolState)>,
    /// Query counters: `[0]` for static names, `[1 + i]` for `policies[i]`.
    pub counters: Vec<Arc<QueryCounters>>,
}

#[derive(Debug, Default)]
struct Node {
    /// Static RRsets; empty for an empty non-terminal or a policy name.
    rrsets: Vec<(RecordType, Vec<Record>)>,
    /// Index into `ZoneTable::policies`.
    policy: Option<usize>,
    /// A delegation point (NS below the apex).
    cut: bool,
}

impl Node {
    fn rrset(&self, t: RecordType) -> Option<&[Record]> {
        self.rrsets
            .iter()
            .find(|(rt, _)| *rt == t)
            .map(|(_, v)| v.as_slice())
    }
}

impl RoutingTable {
    /// The answers of every policy name as (name, summary), for change logs.
    pub fn policy_answers(&self) -> impl Iterator<Item = &Compiled> {
        self.zones.iter().flat_map(|z| z.policies.iter())
    }
}
