//! The one writer of the routing table: rebuilds it whenever health or zones change,
//! logs what changed, and swaps it in whole.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::dns::SharedTable;
use crate::health::HealthSnapshot;
use crate::policy::Choice;
use crate::routing::{self, RoutingTable};
use crate::zone::ZoneSet;

/// Build a table from the current inputs and swap it in, logging every change of pool
/// state and of answer against the table it replaces.
pub fn rebuild(table: &SharedTable, zones: &ZoneSet, health: &HealthSnapshot) -> Arc<RoutingTable> {
    let old = table.load_full();
    let started = Instant::now();
    let new = Arc::new(routing::build_next(&old, zones, health));
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
    for zone in &new.zones {
        let before = old.zones.iter().find(|z| z.origin == zone.origin);
        for (pool, region, state) in &zone.pools {
            let prev = before.and_then(|z| z.pools.iter().find(|(p, _, _)| p == pool));
            if let Some((_, _, prev)) = prev {
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
        for p in &zone.policies {
            let prev = before.and_then(|z| z.policies.iter().find(|q| q.name == p.name));
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
