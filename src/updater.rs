//! The one writer of the routing table: rebuilds it whenever zones, health or operator
//! overrides change, logs what changed, and swaps it in whole.
//!
//! Each change it sees is also counted for `/metrics` and raised as an alert; both are
//! non-blocking. After each swap it publishes a [`Built`] record for status and for
//! reloads that wait until their zones are being served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::rr::Name;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::alerts::{Alerts, Event, Severity};
use crate::dns::SharedTable;
use crate::health::{Health, HealthSnapshot};
use crate::metrics::Metrics;
use crate::policy::{Choice, Compiled, PoolState};
use crate::routing::{self, Overlay, RoutingTable, ZoneTable};
use crate::zone::ZoneSet;

/// What the latest rebuild produced.
#[derive(Debug, Clone)]
pub struct Built {
    pub epoch: u64,
    pub at: SystemTime,
    pub took: Duration,
    pub zones: Arc<ZoneSet>,
    pub health: Arc<HealthSnapshot>,
    pub overlay: Arc<Overlay>,
    /// When answers and pools last changed: one map shared with the updater, never
    /// copied per rebuild (at 10,000 policies a copy cost more than the rebuild).
    pub since: Arc<Mutex<Since>>,
}

/// When each answer and pool last changed; written by the updater, read by status.
#[derive(Debug, Default)]
pub struct Since {
    /// (zone origin, policy label) -> when its answer last changed.
    pub answer: HashMap<(String, String), SystemTime>,
    /// (zone origin, pool) -> when its state last changed.
    pub pool: HashMap<(String, String), SystemTime>,
}

impl Built {
    /// The change times, for reading (status); a poisoned lock still has good data.
    pub fn since(&self) -> std::sync::MutexGuard<'_, Since> {
        self.since.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Updater {
    table: SharedTable,
    metrics: Arc<Metrics>,
    alerts: Alerts,
    built: watch::Sender<Arc<Built>>,
    since: Arc<Mutex<Since>>,
    last_health: Option<Arc<HealthSnapshot>>,
}

impl Updater {
    pub fn new(
        table: SharedTable,
        metrics: Arc<Metrics>,
        alerts: Alerts,
        zones: Arc<ZoneSet>,
    ) -> (Updater, watch::Receiver<Arc<Built>>) {
        let since: Arc<Mutex<Since>> = Arc::default();
        let (built, rx) = watch::channel(Arc::new(Built {
            epoch: 0,
            at: SystemTime::now(),
            took: Duration::ZERO,
            zones,
            health: Arc::default(),
            overlay: Arc::default(),
            since: since.clone(),
        }));
        let u = Updater {
            table,
            metrics,
            alerts,
            built,
            since,
            last_health: None,
        };
        (u, rx)
    }

    /// Build a table from the current inputs and swap it in, reporting every change of
    /// target health, pool state and answer against what it replaces.
    pub fn rebuild(
        &mut self,
        zones: &Arc<ZoneSet>,
        health: &Arc<HealthSnapshot>,
        overlay: &Arc<Overlay>,
    ) -> (Arc<RoutingTable>, Duration) {
        let old = self.table.load_full();
        let started = Instant::now();
        let new = Arc::new(routing::build_next(&old, zones, health, overlay));
        let took = started.elapsed();
        if let Some(prev) = self.last_health.replace(health.clone()) {
            self.health_changes(&prev, health);
        }
        self.changes(&old, &new);
        self.table.store(new.clone());
        self.metrics.table_built(new.epoch, took);
        info!(
            epoch = new.epoch,
            build_us = took.as_micros() as u64,
            health_generation = health.generation,
            overlay_generation = overlay.generation,
            "routing table swapped"
        );
        self.built.send_replace(Arc::new(Built {
            epoch: new.epoch,
            at: SystemTime::now(),
            took,
            zones: zones.clone(),
            health: health.clone(),
            overlay: overlay.clone(),
            since: self.since.clone(),
        }));
        (new, took)
    }

    /// Target transitions, for alerts (the log line and the counter are the health
    /// module's). Startup results (from unknown) are not news.
    fn health_changes(&self, old: &HealthSnapshot, new: &HealthSnapshot) {
        for (t, s) in &new.targets {
            let Some(prev) = old.targets.get(t) else {
                continue;
            };
            if prev.health == s.health || prev.health == Health::Unknown {
                continue;
            }
            let (sev, verb) = match s.health {
                Health::Down => (Severity::Warning, "DOWN"),
                _ => (Severity::Info, "up"),
            };
            let mut e = Event::new("health", sev, format!("{} is {verb}: {}", t, s.last_reason));
            e.check = Some(t.check.to_string());
            e.address = Some(t.addr.to_string());
            e.from = Some(prev.health.to_string());
            e.to = Some(s.health.to_string());
            e.reason = Some(s.last_reason.clone());
            self.alerts.send(e);
        }
    }

    fn changes(&mut self, old: &RoutingTable, new: &RoutingTable) {
        let now = SystemTime::now();
        let since_lock = self.since.clone();
        let mut since = since_lock.lock().unwrap_or_else(|e| e.into_inner());
        // Zones, pools and policies are paired by name through maps, never by scanning:
        // a table may hold thousands of policies, and this runs on every health change.
        let old_zones: HashMap<&Name, &ZoneTable> =
            old.zones.iter().map(|z| (&z.origin, z)).collect();
        for zone in &new.zones {
            let origin = zone.origin.to_string();
            let before = old_zones.get(&zone.origin).copied();
            let old_pools: HashMap<&str, &PoolState> = before
                .map(|z| z.pools.iter().map(|(p, _, s)| (&**p, s)).collect())
                .unwrap_or_default();
            let old_policies: HashMap<&Name, &Compiled> = before
                .map(|z| z.policies.iter().map(|q| (&q.name, q)).collect())
                .unwrap_or_default();
            for (pool, region, state) in &zone.pools {
                let prev = old_pools.get(&**pool).copied();
                let Some(prev) = prev else {
                    let key = (origin.clone(), pool.to_string());
                    since.pool.entry(key).or_insert(now);
                    continue;
                };
                if prev.up == state.up && prev.healthy == state.healthy {
                    continue;
                }
                since.pool.insert((origin.clone(), pool.to_string()), now);
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
                if prev.up != state.up {
                    self.metrics.pool_transition(&origin, pool, state.up);
                    let mut e = Event::new(
                        "pool",
                        if state.up { Severity::Info } else { Severity::Warning },
                        format!(
                            "pool {pool} ({region}) in {origin} is {} ({healthy} addresses healthy)",
                            if state.up { "up" } else { "DOWN" }
                        ),
                    );
                    e.zone = Some(origin.clone());
                    e.pool = Some(pool.to_string());
                    e.region = Some(region.to_string());
                    e.from = Some(if prev.up { "up" } else { "down" }.into());
                    e.to = Some(if state.up { "up" } else { "down" }.into());
                    self.alerts.send(e);
                }
            }
            for p in &zone.policies {
                let prev = old_policies.get(&p.name).copied();
                let now_answer = p.summary();
                // Choice and addresses are the answer; its records and wire bytes derive
                // from them; comparing those too cost ~5 ms a rebuild at 10,000 policies.
                let changed = prev.is_none_or(|q| {
                    let before = q.summary();
                    before.choice != now_answer.choice || before.addresses != now_answer.addresses
                });
                if !changed {
                    continue;
                }
                since
                    .answer
                    .insert((origin.clone(), p.label.to_string()), now);
                let addresses = format!("{:?}", now_answer.addresses);
                let from = prev
                    .map(|q| q.summary().choice.to_string())
                    .unwrap_or_else(|| "-".into());
                if let Choice::AllDown(mode) = &now_answer.choice {
                    error!(name = %p.name, policy = %p.label, from = %from, to = %now_answer.choice, addresses, mode = mode.as_str(), "ALL POOLS DOWN: answering with the all-down fallback");
                } else {
                    info!(name = %p.name, policy = %p.label, from = %from, to = %now_answer.choice, addresses, "answer changed");
                }
                let Some(prev) = prev else { continue };
                self.metrics.answer_changed(&origin, &p.label);
                if prev.summary().choice == now_answer.choice {
                    continue;
                }
                let (kind, sev, text) = match &now_answer.choice {
                    Choice::AllDown(mode) => (
                        "all_down",
                        Severity::Critical,
                        format!(
                            "ALL POOLS DOWN for {} ({}): answering {} {addresses}",
                            p.name,
                            p.label,
                            mode.as_str()
                        ),
                    ),
                    Choice::Pool(_) | Choice::Pools(_) => (
                        "failover",
                        Severity::Warning,
                        format!(
                            "{} ({}) moved from {from} to {}: {addresses}",
                            p.name, p.label, now_answer.choice
                        ),
                    ),
                };
                let mut e = Event::new(kind, sev, text);
                e.zone = Some(origin.clone());
                e.policy = Some(p.label.to_string());
                e.from = Some(from);
                e.to = Some(now_answer.choice.to_string());
                self.alerts.send(e);
            }
        }
    }

    /// Rebuild on every new zone set, health snapshot or overlay until `shutdown`.
    pub async fn run(
        mut self,
        mut zones: watch::Receiver<Arc<ZoneSet>>,
        mut health: watch::Receiver<Arc<HealthSnapshot>>,
        mut overlay: watch::Receiver<Arc<Overlay>>,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                r = zones.changed() => if r.is_err() { return },
                r = health.changed() => if r.is_err() { return },
                r = overlay.changed() => if r.is_err() { return },
                _ = shutdown.cancelled() => return,
            }
            let z = zones.borrow_and_update().clone();
            let h = health.borrow_and_update().clone();
            let o = overlay.borrow_and_update().clone();
            self.rebuild(&z, &h, &o);
        }
    }
}
