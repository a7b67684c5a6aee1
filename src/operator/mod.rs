//! Operator intent: overrides (drain a pool or address, force it up) and failover drills.
//!
//! This is not health: nothing here is measured. The operator state is published as an
//! [`Overlay`] on a watch channel that the updater takes as one more input of the table
//! build, beside the zones and the health snapshot. Every override carries an expiry; a
//! timer task removes it when due and publishes the overlay again, so a forgotten drain
//! reverts on its own.

pub mod drill;
pub mod overrides;
pub mod persist;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use hickory_proto::rr::{LowerName, Name};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::alerts::{Alerts, Event, Severity};
use crate::metrics::Metrics;
use crate::routing::{Forced, Overlay};
use crate::zone::ZoneSet;
use drill::DrillReport;
pub use overrides::{Override, Overrides, Scope, Source};

/// The longest an override may last: long enough for a maintenance window, short
/// enough that a forgotten one is not forever.
pub const MAX_OVERRIDE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest reason an override or drill may give, in characters: room for a ticket
/// link and a sentence, not for a log flood.
pub const MAX_REASON: usize = 500;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpError {
    #[error("no zone {0} is served")]
    UnknownZone(String),
    #[error("no pool {pool:?} in {zones}")]
    UnknownPool { pool: String, zones: String },
    #[error("pool {pool:?} exists in several zones ({zones}): say which with \"zone\"")]
    AmbiguousPool { pool: String, zones: String },
    #[error("{address} is not an address of pool {pool:?}")]
    NotInPool { pool: String, address: IpAddr },
    #[error("{0}")]
    Invalid(String),
    #[error("no override {0}")]
    NoSuchOverride(String),
    #[error("no drill {0}")]
    NoSuchDrill(u64),
    #[error("{0}")]
    Conflict(String),
}

pub struct Operator {
    state: Mutex<State>,
    overlay_tx: watch::Sender<Arc<Overlay>>,
    /// Wakes the expiry task when the earliest deadline may have moved.
    wake: Notify,
    zones: watch::Receiver<Arc<ZoneSet>>,
    alerts: Alerts,
    metrics: Arc<Metrics>,
    /// Where the overrides are saved on every change, once [`Operator::restore`] set it.
    file: OnceLock<PathBuf>,
}

#[derive(Default)]
struct State {
    overrides: Overrides,
    generation: u64,
    drills: BTreeMap<u64, Arc<Mutex<DrillReport>>>,
    next_drill: u64,
}

impl Operator {
    pub fn new(
        zones: watch::Receiver<Arc<ZoneSet>>,
        alerts: Alerts,
        metrics: Arc<Metrics>,
    ) -> (Arc<Operator>, watch::Receiver<Arc<Overlay>>) {
        let (overlay_tx, overlay_rx) = watch::channel(Arc::new(Overlay::default()));
        let op = Operator {
            state: Mutex::default(),
            overlay_tx,
            wake: Notify::new(),
            zones,
            alerts,
            metrics,
            file: OnceLock::new(),
        };
        (Arc::new(op), overlay_rx)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finds the pool an operator means: by zone and name, or by name alone when only
    /// one zone has it.
    pub fn resolve(
        &self,
        zone: Option<&str>,
        pool: &str,
        address: Option<IpAddr>,
    ) -> Result<Scope, OpError> {
        let zones = self.zones.borrow().clone();
        let candidates: Vec<_> = match zone {
            Some(z) => {
                let fq = if z.ends_with('.') {
                    z.to_string()
                } else {
                    format!("{z}.")
                };
                let name = Name::from_ascii(&fq).map_err(|_| OpError::UnknownZone(z.into()))?;
                let key = LowerName::new(&name);
                let zone = zones
                    .zones
                    .iter()
                    .find(|x| LowerName::new(&x.origin) == key)
                    .ok_or_else(|| OpError::UnknownZone(z.into()))?;
                vec![zone.clone()]
            }
            None => zones.zones.clone(),
        };
        let names = |v: &[&Arc<crate::zone::Zone>]| {
            v.iter()
                .map(|z| z.origin.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let with: Vec<_> = candidates
            .iter()
            .filter(|z| z.pools.contains_key(pool))
            .collect();
        let zone = match with.as_slice() {
            [one] => *one,
            [] => {
                return Err(OpError::UnknownPool {
                    pool: pool.into(),
                    zones: names(&candidates.iter().collect::<Vec<_>>()),
                })
            }
            many => {
                return Err(OpError::AmbiguousPool {
                    pool: pool.into(),
                    zones: names(many),
                })
            }
        };
        let (name, p) = zone.pools.get_key_value(pool).expect("filtered above");
        if let Some(a) = address {
            if !p.addresses.contains(&a) {
                return Err(OpError::NotInPool {
                    pool: pool.into(),
                    address: a,
                });
            }
        }
        Ok(Scope {
            zone: zone.origin.clone(),
            pool: name.clone(),
            address,
        })
    }

    /// Puts an override in force now, for `ttl`.
    pub fn set(
        &self,
        scope: Scope,
        action: Forced,
        reason: String,
        source: Source,
        ttl: Duration,
    ) -> Result<Override, OpError> {
        check_reason(&reason)?;
        if ttl.is_zero() || ttl > MAX_OVERRIDE {
            return Err(OpError::Invalid(format!(
                "an override lasts more than 0s and at most {}",
                humantime::format_duration(MAX_OVERRIDE)
            )));
        }
        let (o, replaced) = {
            let mut st = self.lock();
            let r = st
                .overrides
                .set(scope, action, reason, source, ttl, Instant::now());
            self.publish(&mut st);
            r
        };
        self.wake.notify_one();
        if let Some(r) = replaced {
            info!(id = r.id, scope = %r.scope, "override replaced");
        }
        let verb = match action {
            Forced::Down => "forced down",
            Forced::Up => "forced up",
        };
        warn!(id = o.id, scope = %o.scope, action = verb, reason = ?o.reason, source = ?o.source,
              expires = %humantime::format_rfc3339_seconds(o.expires), "override set");
        self.alert(
            &o,
            match action {
                Forced::Down => Severity::Warning,
                Forced::Up => Severity::Info,
            },
            format!(
                "override: {} {verb} for {} ({:?}): {}",
                o.scope,
                humantime::format_duration(ttl),
                o.source,
                o.reason
            ),
        );
        Ok(o)
    }

    pub fn clear(&self, id: u64, why: &str) -> Result<Override, OpError> {
        let o = {
            let mut st = self.lock();
            let o = st
                .overrides
                .remove(id)
                .ok_or_else(|| OpError::NoSuchOverride(id.to_string()))?;
            self.publish(&mut st);
            o
        };
        self.wake.notify_one();
        self.cleared(&o, why);
        Ok(o)
    }

    pub fn clear_scope(&self, scope: &Scope, why: &str) -> Result<Override, OpError> {
        let o = {
            let mut st = self.lock();
            let o = st
                .overrides
                .remove_scope(scope)
                .ok_or_else(|| OpError::NoSuchOverride(scope.to_string()))?;
            self.publish(&mut st);
            o
        };
        self.wake.notify_one();
        self.cleared(&o, why);
        Ok(o)
    }

    fn cleared(&self, o: &Override, why: &str) {
        // Debug formatting: an operator's text is quoted and escaped, so a newline in it
        // cannot forge a log line.
        info!(id = o.id, scope = %o.scope, why = ?why, "override cleared");
        self.alert(
            o,
            Severity::Info,
            format!("override on {} cleared ({why}); was: {}", o.scope, o.reason),
        );
    }

    fn alert(&self, o: &Override, severity: Severity, text: String) {
        let mut e = Event::new("override", severity, text);
        e.zone = Some(o.scope.zone.to_string());
        e.pool = Some(o.scope.pool.to_string());
        e.address = o.scope.address.map(|a| a.to_string());
        e.to = Some(
            match o.action {
                Forced::Down => "down",
                Forced::Up => "up",
            }
            .into(),
        );
        e.reason = Some(o.reason.clone());
        self.alerts.send(e);
    }

    pub fn overrides(&self) -> Vec<Override> {
        self.lock().overrides.iter().cloned().collect()
    }

    fn publish(&self, st: &mut State) {
        st.generation += 1;
        self.metrics.set_overrides_active(st.overrides.len());
        // Saved before the overlay is published and before the API answers: once a
        // drain is acknowledged, a crash cannot lose it.
        if let Some(path) = self.file.get() {
            if let Err(e) = persist::save(path, st.overrides.iter()) {
                error!(error = %e, "cannot save the overrides file: overrides in force will not survive a restart");
            }
        }
        self.overlay_tx
            .send_replace(Arc::new(st.overrides.overlay(st.generation)));
    }

    /// Puts back the overrides saved in `path` (those still in force, with their
    /// original expiry), publishes them, and saves to `path` from now on. Call before
    /// the first table is built. An override that expired while the server was down,
    /// or names a pool the zones no longer have, is dropped and logged. An unreadable
    /// file is reported and set aside: a restart must not fail on it.
    pub fn restore(&self, path: PathBuf) -> usize {
        let saved = match persist::load(&path) {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "overrides file ignored: no override is restored");
                Vec::new()
            }
        };
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut restored = 0;
        let mut st = self.lock();
        for s in saved {
            let expires = s.expires_at();
            let Ok(left) = expires.duration_since(wall) else {
                info!(id = s.id, zone = %s.zone, pool = %s.pool, address = ?s.address, reason = ?s.reason,
                      expired = %humantime::format_rfc3339_seconds(expires),
                      "override expired while the server was down: dropped");
                continue;
            };
            let scope = match self.resolve(Some(&s.zone), &s.pool, s.address) {
                Ok(scope) => scope,
                Err(e) => {
                    warn!(id = s.id, error = %e, "saved override no longer applies: dropped");
                    continue;
                }
            };
            warn!(id = s.id, scope = %scope, action = ?s.action, reason = ?s.reason, source = ?s.source(),
                  expires = %humantime::format_rfc3339_seconds(expires), "override restored");
            st.overrides.restore(Override {
                id: s.id,
                scope,
                action: s.action,
                reason: s.reason.clone(),
                source: s.source(),
                created: s.created_at(),
                expires,
                deadline: now + left,
            });
            if let Source::Drill(d) = s.source() {
                st.next_drill = st.next_drill.max(d);
            }
            restored += 1;
        }
        let _ = self.file.set(path);
        self.publish(&mut st);
        drop(st);
        self.wake.notify_one();
        restored
    }

    /// Removes overrides as they fall due, until `shutdown`.
    pub async fn run_expiry(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            // Registered before reading the deadline, so a change in between still wakes us.
            let woken = self.wake.notified();
            let next = self.lock().overrides.next_deadline();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = woken => continue,
                _ = async {
                    match next {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
            let expired = {
                let mut st = self.lock();
                let expired = st.overrides.expire(Instant::now());
                if !expired.is_empty() {
                    self.publish(&mut st);
                }
                expired
            };
            for o in &expired {
                self.cleared(o, "expired");
            }
        }
    }
}

/// A reason is bounded: it goes into logs, alerts and the overrides file.
pub fn check_reason(reason: &str) -> Result<(), OpError> {
    let n = reason.chars().count();
    if n > MAX_REASON {
        return Err(OpError::Invalid(format!(
            "\"reason\" is {n} characters long; at most {MAX_REASON} are accepted"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const ZONE: &str = r#"
[zone]
origin = "example.test."
nameservers = ["ns1.example.test."]
soa = { mname = "ns1.example.test.", rname = "h.example.test." }

[pools.east]
region = "us-east"
addresses = ["192.0.2.10", "192.0.2.11"]

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10"]

[[policies]]
name = "api"
policy = "failover"
pools = ["east", "west"]
"#;

    fn operator() -> (Arc<Operator>, watch::Receiver<Arc<Overlay>>) {
        let z = crate::config::parse_zone(Path::new("t.toml"), ZONE).expect("valid zone");
        let zones = ZoneSet {
            zones: vec![Arc::new(z)],
        };
        // The sender may go: the operator only ever borrows the latest zone set.
        let (_, rx) = watch::channel(Arc::new(zones));
        Operator::new(rx, Alerts::default(), Arc::default())
    }

    #[test]
    fn resolve_finds_pools_and_rejects_strangers() {
        let (op, _) = operator();
        let s = op.resolve(None, "east", None).unwrap();
        assert_eq!(s.zone.to_string(), "example.test.");
        assert!(op.resolve(Some("EXAMPLE.test"), "west", None).is_ok());
        assert!(matches!(
            op.resolve(None, "north", None),
            Err(OpError::UnknownPool { .. })
        ));
        assert!(matches!(
            op.resolve(Some("other.test"), "east", None),
            Err(OpError::UnknownZone(_))
        ));
        assert!(matches!(
            op.resolve(None, "east", Some("198.51.100.10".parse().unwrap())),
            Err(OpError::NotInPool { .. })
        ));
        assert!(op
            .resolve(None, "east", Some("192.0.2.11".parse().unwrap()))
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_override_expires_by_itself_and_the_overlay_follows() {
        let (op, mut overlay) = operator();
        let stop = CancellationToken::new();
        let task = tokio::spawn(op.clone().run_expiry(stop.clone()));
        let scope = op.resolve(None, "east", None).unwrap();
        let zone = LowerName::new(&scope.zone);
        let start = Instant::now();
        op.set(
            scope.clone(),
            Forced::Down,
            "maintenance".into(),
            Source::Operator,
            Duration::from_secs(90),
        )
        .unwrap();
        // A shorter one set later must not be starved by the longer deadline.
        let addr = op
            .resolve(None, "west", Some("198.51.100.10".parse().unwrap()))
            .unwrap();
        op.set(
            addr,
            Forced::Up,
            "test".into(),
            Source::Operator,
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(
            overlay.borrow_and_update().pool(&zone, &"east".into()),
            Some(Forced::Down)
        );

        overlay.changed().await.unwrap();
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
        let o = overlay.borrow_and_update().clone();
        assert_eq!(o.pool(&zone, &"east".into()), Some(Forced::Down));
        assert_eq!(
            o.address(&zone, &"west".into(), "198.51.100.10".parse().unwrap()),
            None
        );

        overlay.changed().await.unwrap();
        assert_eq!(Instant::now() - start, Duration::from_secs(90));
        assert!(overlay.borrow_and_update().is_empty());
        assert!(op.overrides().is_empty());

        assert!(op
            .set(
                scope,
                Forced::Down,
                "x".into(),
                Source::Operator,
                Duration::ZERO
            )
            .is_err());
        stop.cancel();
        task.await.unwrap();
    }
}
