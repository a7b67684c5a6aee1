//! The one writer of the routing table: rebuilds it whenever zones, health or operator
//! overrides change, logs what changed, and swaps it in whole.
//!
//! Each change it sees is also counted for `/metrics` and raised as an alert; both are
//! non-blocking. After each swap it publishes a [`Built`] record for status and for
//! reloads that wait until their zones are being served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::alerts::{Alerts, Event, Severity};
use crate::health::{Delta, Health, HealthSnapshot};
use crate::metrics::Metrics;
use crate::policy::{Choice, Compiled};
use crate::routing::diff::{diff, AnswerChange, Change, PoolChange};
use crate::routing::{self, Overlay, RoutingTable, TableWriter};
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
    table: TableWriter,
    metrics: Arc<Metrics>,
    alerts: Alerts,
    built: watch::Sender<Arc<Built>>,
    since: Arc<Mutex<Since>>,
    last_health: Option<Arc<HealthSnapshot>>,
}

impl Updater {
    pub fn new(
        table: TableWriter,
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
    /// target health, pool state and answer against what it replaces. Only the policies
    /// that read a pool whose state changed are compiled anew (`build_incremental`).
    pub fn rebuild(
        &mut self,
        zones: &Arc<ZoneSet>,
        health: &Arc<HealthSnapshot>,
        overlay: &Arc<Overlay>,
    ) -> (Arc<RoutingTable>, Duration) {
        let old = self.table.current();
        let started = Instant::now();
        let (new, report) = routing::build_incremental(&old, zones, health, overlay);
        let new = Arc::new(new);
        let took = started.elapsed();
        let prev_health = self.last_health.replace(health.clone());
        let first = match &prev_health {
            Some(prev) => {
                // The build compared health with the snapshot the old table came from:
                // usually the one seen last, whose comparison is then not made twice.
                let own;
                let delta = match &report.delta {
                    Some((from, d)) if Arc::ptr_eq(from, prev) => d,
                    _ => {
                        own = Delta::between(prev, health);
                        &own
                    }
                };
                self.health_changes(delta, health);
                first_results_only(delta)
            }
            None => false,
        };
        let changes = diff(&old, &new);
        if routing::diff::same_decisions_given(&old, &new, &changes) {
            // No decision changed (e.g. only RTTs moved, or a multivalue reshuffle):
            // the served table stays, with its epoch; status still sees the new inputs.
            self.built.send_modify(|b| {
                let mut next = (**b).clone();
                next.health = health.clone();
                next.overlay = overlay.clone();
                *b = Arc::new(next);
            });
            return (old, took);
        }
        // Only an all-down answer's log line asks, and it costs a scan of every target.
        let all_down = changes
            .iter()
            .filter_map(answer_after)
            .any(|p| matches!(p.summary().choice, Choice::AllDown(_)));
        let unknown = all_down && health.targets.values().any(|s| s.health == Health::Unknown);
        self.changes(&changes, first, unknown);
        drop(changes);
        self.table.store(new.clone());
        self.metrics.table_built(new.epoch, took);
        info!(
            epoch = new.epoch,
            build_us = took.as_micros() as u64,
            compiled = report.compiled,
            shared = report.shared,
            zones_built_whole = report.full_zones,
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
    fn health_changes(&self, delta: &Delta, new: &HealthSnapshot) {
        for c in &delta.health {
            if c.was == Health::Unknown {
                continue;
            }
            let (t, Some(s)) = (&c.target, new.targets.get(&c.target)) else {
                continue;
            };
            let (sev, verb) = match s.health {
                Health::Down => (Severity::Warning, "DOWN"),
                _ => (Severity::Info, "up"),
            };
            let mut e = Event::new("health", sev, format!("{} is {verb}: {}", t, s.last_reason));
            e.check = Some(t.check.to_string());
            e.address = Some(t.addr.to_string());
            e.from = Some(c.was.to_string());
            e.to = Some(s.health.to_string());
            e.reason = Some(s.last_reason.clone());
            self.alerts.send(e);
        }
    }

    /// Record, log, count and alert each change (from `diff`). With `first`, the
    /// changes come from first results only (targets leaving `Unknown`): logged, never
    /// counted or alerted as failovers. With `unknown`, some target has no result yet,
    /// so an all-down answer is not known to be one.
    fn changes(&mut self, changes: &[Change<'_>], first: bool, unknown: bool) {
        let now = SystemTime::now();
        let since_lock = self.since.clone();
        let mut since = since_lock.lock().unwrap_or_else(|e| e.into_inner());
        for &change in changes {
            match change {
                Change::PoolAdded { zone, pool } => {
                    let key = (zone.to_string(), pool.to_string());
                    since.pool.entry(key).or_insert(now);
                }
                Change::PoolHealthy(c) => {
                    since
                        .pool
                        .insert((c.zone.to_string(), c.pool.to_string()), now);
                    log_pool(&c);
                }
                Change::PoolTransition(c) => {
                    let origin = c.zone.to_string();
                    since.pool.insert((origin.clone(), c.pool.to_string()), now);
                    log_pool(&c);
                    if first {
                        continue;
                    }
                    self.metrics.pool_transition(&origin, c.pool, c.after.up);
                    self.alerts.send(pool_event(&c, origin));
                }
                Change::AnswerAdded { zone, policy } => {
                    since
                        .answer
                        .insert((zone.to_string(), policy.label.to_string()), now);
                    log_answer(policy, "-", unknown);
                }
                Change::AnswerAddresses(c) | Change::Failover(c) | Change::AllDown(c) => {
                    let origin = c.zone.to_string();
                    since
                        .answer
                        .insert((origin.clone(), c.after.label.to_string()), now);
                    let from = c.before.summary().choice.to_string();
                    log_answer(c.after, &from, unknown);
                    if first {
                        continue;
                    }
                    self.metrics.answer_changed(&origin, &c.after.label);
                    if !matches!(change, Change::AnswerAddresses(_)) {
                        self.alerts.send(answer_event(&c, origin, from));
                    }
                }
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
            // Prepared signed replies stop being served when their first signature is
            // due for refresh; rebuilding then signs anew (only what is due).
            let refresh = resign_delay(&self.table.current());
            tokio::select! {
                r = zones.changed() => if r.is_err() { return },
                r = health.changed() => if r.is_err() { return },
                r = overlay.changed() => if r.is_err() { return },
                _ = sleep_for(refresh) => {}
                _ = shutdown.cancelled() => return,
            }
            let z = zones.borrow_and_update().clone();
            let h = health.borrow_and_update().clone();
            let o = overlay.borrow_and_update().clone();
            self.rebuild(&z, &h, &o);
        }
    }
}

/// How long until `table`'s prepared signatures are due (`None`: nothing signed). A
/// little past the second they are due, since the signer counts whole seconds.
fn resign_delay(table: &RoutingTable) -> Option<Duration> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(table.signatures_refresh_at()?);
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Some(left + Duration::from_millis(50))
}

async fn sleep_for(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn up_down(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

/// The "pool state" line: info when the pool is up, a warning when it is down.
fn log_pool(c: &PoolChange<'_>) {
    let (zone, pool, region) = (c.zone, c.pool, c.region);
    let line = format!("{} -> {}", up_down(c.before.up), up_down(c.after.up));
    let healthy = format!("{}/{}", c.after.healthy.len(), c.after.configured.len());
    if c.after.up {
        info!(zone = %zone, pool = %pool, region = %region, transition = %line, healthy, "pool state");
    } else {
        warn!(zone = %zone, pool = %pool, region = %region, transition = %line, healthy, "pool state");
    }
}

/// The alert for a pool that went up or down.
fn pool_event(c: &PoolChange<'_>, origin: String) -> Event {
    let (pool, region, up) = (c.pool, c.region, c.after.up);
    let healthy = format!("{}/{}", c.after.healthy.len(), c.after.configured.len());
    let mut e = Event::new(
        "pool",
        if up {
            Severity::Info
        } else {
            Severity::Warning
        },
        format!(
            "pool {pool} ({region}) in {origin} is {} ({healthy} addresses healthy)",
            if up { "up" } else { "DOWN" }
        ),
    );
    e.zone = Some(origin);
    e.pool = Some(pool.to_string());
    e.region = Some(region.to_string());
    e.from = Some(up_down(c.before.up).into());
    e.to = Some(up_down(up).into());
    e
}

/// The new compilation of a policy whose answer `c` reports changed.
fn answer_after<'t>(c: &Change<'t>) -> Option<&'t Compiled> {
    match *c {
        Change::AnswerAdded { policy, .. } => Some(policy),
        Change::AnswerAddresses(a) | Change::Failover(a) | Change::AllDown(a) => Some(a.after),
        Change::PoolAdded { .. } | Change::PoolHealthy(_) | Change::PoolTransition(_) => None,
    }
}

/// Whether every target whose health differs (`delta`, leaving aside targets no longer
/// probed) had no result before: a first result is a first result, not a failover.
fn first_results_only(delta: &Delta) -> bool {
    let mut any = false;
    for c in delta.health.iter().filter(|c| c.now.is_some()) {
        if c.was != Health::Unknown {
            return false;
        }
        any = true;
    }
    any
}

/// The line for a changed answer: an error when it is the all-down fallback while
/// every target has a result (`unknown`: some have none yet, so nothing is known down).
fn log_answer(p: &Compiled, from: &str, unknown: bool) {
    let now_answer = p.summary();
    let addresses = format!("{:?}", now_answer.addresses);
    if let (Choice::AllDown(mode), true) = (&now_answer.choice, unknown) {
        warn!(name = %p.name, policy = %p.label, from = %from, to = %now_answer.choice, addresses, mode = mode.as_str(), "no pool known up yet (first results pending): answering with the all-down fallback");
    } else if let Choice::AllDown(mode) = &now_answer.choice {
        error!(name = %p.name, policy = %p.label, from = %from, to = %now_answer.choice, addresses, mode = mode.as_str(), "ALL POOLS DOWN: answering with the all-down fallback");
    } else {
        info!(name = %p.name, policy = %p.label, from = %from, to = %now_answer.choice, addresses, "answer changed");
    }
}

/// The alert for an answer that moved to another choice: a failover, or all-down.
fn answer_event(c: &AnswerChange<'_>, origin: String, from: String) -> Event {
    let p = c.after;
    let now_answer = p.summary();
    let addresses = format!("{:?}", now_answer.addresses);
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
    e.zone = Some(origin);
    e.policy = Some(p.label.to_string());
    e.from = Some(from);
    e.to = Some(now_answer.choice.to_string());
    e
}
