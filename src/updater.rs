//! The one writer of the routing table: rebuilds it whenever health or zones change,
//! logs what changed, and swaps it in whole.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::rr::Name;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::dns::SharedTable;
use crate::health::HealthSnapshot;
use crate::policy::{Choice, Compiled, PoolState};
use crate::routing::{self, RoutingTable, ZoneTable};
use crate::zone::ZoneSet;

/// Build a table from the current inputs and swap it in, logging every change of pool
/// state and of answer against the table it replaces.
pub fn rebuild(table: &SharedTable, zones: &ZoneSet, health: &HealthSnapshot) -> Arc<RoutingTable> {
    let old = table.load_full();
    let started = Instant::now();
    // Reuses the old table's static names when only health changed.
    let new = Arc::new(routing::rebuild(&old, zones, health, old.epoch + 1));
    let build_us = started.elapsed().as_micros() as u64;
    log_changes(&old, &new);
    table.store(new.clone());
    info!(
        epoch = new.epoch,
        build_us,
        health_generation = health.generation,
        "routing table swapped"
    );
    new
}

fn log_changes(old: &RoutingTable, new: &RoutingTable) {
    // Paired by position when the zone set is unchanged (the health-change case), by
    // name otherwise: either way linear, as a table may hold thousands of policies.
    let same = old.same_names(new);
    let old_zones: HashMap<&Name, &ZoneTable> = if same {
        HashMap::new()
    } else {
        old.zones.iter().map(|z| (&z.origin, z)).collect()
    };
    for (zi, zone) in new.zones.iter().enumerate() {
        let before = if same {
            old.zones.get(zi)
        } else {
            old_zones.get(&zone.origin).copied()
        };
        let old_pools: HashMap<&str, &PoolState> = before
            .map(|z| z.pools.iter().map(|(p, _, s)| (&**p, s)).collect())
            .unwrap_or_default();
        for (pool, region, state) in &zone.pools {
            if let Some(prev) = old_pools.get(&**pool) {
                if prev.up != state.up || prev.healthy != state.healthy {
                    let line = format!(
                        "{} -> {}",
                        if prev.up { "up" } else { "down" },
                        if state.up { "up" } else { "down" }
                    );
                    let healthy = format!("{}/{}", state.healthy.len(), state.configured.len());
                    if state.up {
                        info!(zone = %zone.origin, pool = %pool, region = %region, transition = %line, healthy, "pool state");
                    } else {
                        warn!(zone = %zone.origin, pool = %pool, region = %region, transition = %line, healthy, "pool state");
                    }
                }
            }
        }
        let old_policies: HashMap<&Name, &Compiled> = match before {
            Some(z) if !same => z.policies.iter().map(|q| (&q.name, q)).collect(),
            _ => HashMap::new(),
        };
        for (pi, p) in zone.policies.iter().enumerate() {
            let prev = match before {
                Some(z) if same => z.policies.get(pi),
                _ => old_policies.get(&p.name).copied(),
            };
            let now = p.summary();
            let changed = prev.is_none_or(|q| q.summary() != now);
            if !changed {
                continue;
            }
            let addresses = format!("{:?}", now.addresses);
            let from = prev
                .map(|q| q.summary().choice.to_string())
                .unwrap_or_else(|| "-".into());
            if let Choice::AllDown(mode) = &now.choice {
                error!(name = %p.name, policy = %p.label, from = %from, to = %now.choice, addresses, mode = mode.as_str(), "ALL POOLS DOWN: answering with the all-down fallback");
            } else {
                info!(name = %p.name, policy = %p.label, from = %from, to = %now.choice, addresses, "answer changed");
            }
        }
    }
}

/// Rebuild on every new health snapshot or zone set until `shutdown`.
pub async fn run(
    table: SharedTable,
    mut zones: watch::Receiver<Arc<ZoneSet>>,
    mut health: watch::Receiver<Arc<HealthSnapshot>>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            r = zones.changed() => if r.is_err() { return },
            r = health.changed() => if r.is_err() { return },
            _ = shutdown.cancelled() => return,
        }
        let z = zones.borrow_and_update().clone();
        let h = health.borrow_and_update().clone();
        rebuild(&table, &z, &h);
    }
}
