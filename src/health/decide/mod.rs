//! The single writer of health: every target's votes from every vantage point, and the
//! decision made from them. Time comes in as an argument, so every rule here is tested
//! with a paused clock; `monitor` runs this as a task and feeds it.
//!
//! This file holds the [`Aggregator`] (the vote store, the snapshot it publishes and the
//! operator view); `vantage` is one vantage point's fall/rise run, `quorum` the
//! cross-region rule, `guard` the mass-failure guard, `hold` the hold-down, `latency` the
//! RTT smoothing and `intern` the name table that makes vantage points cheap to compare.
//!
//! For each target: each vantage point (a nameserver or probe agent, in one region) runs
//! its own fall/rise state. A vote counts while it is fresh (reported within the staleness
//! window) and its vantage point is not suspected by the mass-failure guard. A region says
//! up if any of its counting vantage points does. The check's quorum rule turns the
//! regions' verdicts into a decision; with no decision possible, the last one stands. A
//! decision to come back up waits out the check's hold-down before routing sees it.

pub mod guard;
mod hold;
mod intern;
pub mod latency;
pub mod quorum;
pub mod vantage;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use self::guard::VantageState;
use self::hold::Hold;
use self::intern::Interner;
use self::latency::Rtt;
use self::quorum::Tally;
use self::vantage::Vote;
pub use self::vantage::{TargetState, Vantage};
use crate::config::agents::{MassFailure, Staleness};
use crate::health::metrics::HealthMetrics;
use crate::health::observation::Observation;
use crate::health::snapshot::{Changed, Health, HealthSnapshot, Lineage, TargetStatus};
use crate::health::view::{
    QuorumView, RegionHealth, RegionView, TargetView, VantageView, VoteView,
};
use crate::zone::{CheckSpec, Target};

pub(crate) const NOT_PROBED: &str = "not probed yet";

/// A vote that has been silent this many staleness windows is forgotten, so agents that
/// were renamed or retired don't accumulate.
const FORGET_AFTER_WINDOWS: u32 = 10;

/// How votes age and when a vantage point is distrusted.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DecisionConfig {
    pub staleness: Staleness,
    pub mass_failure: MassFailure,
}

pub(crate) struct Aggregator {
    local_region: Arc<str>,
    config: DecisionConfig,
    entries: HashMap<Target, Entry>,
    vantages: HashMap<Vantage, VantageState>,
    /// The guard's window: configured, or derived from the checks.
    guard_window: Duration,
    /// Raised by [`Aggregator::publish`] only: one per snapshot routing sees.
    generation: u64,
    lineage: Lineage,
    /// Targets whose published health or RTT changed since the last publication, sent
    /// with the next one so routing compares only those; `None` when that is not known
    /// (nothing published yet, a new target set).
    changed: Option<HashSet<Target>>,
    unknown_observations: u64,
    metrics: Arc<HealthMetrics>,
    regions: Interner,
    senders: Interner,
}

struct Entry {
    spec: Arc<CheckSpec>,
    /// Kept grouped by region, so a region's votes are neighbours.
    votes: Vec<Vote>,
    /// The quorum's latest decision.
    decided: Health,
    /// No decision is possible and `decided` is being kept.
    frozen: bool,
    /// Holds a recovered target down before it takes traffic again.
    hold: Hold,
    /// What is published; `status.health` is the decision after the hold-down.
    status: TargetStatus,
    /// Smoothed RTT per region, from successful probes, for latency routing.
    rtt: HashMap<Arc<str>, Rtt>,
}

impl Entry {
    fn new(spec: Arc<CheckSpec>) -> Entry {
        Entry {
            spec,
            votes: Vec::new(),
            decided: Health::Unknown,
            frozen: false,
            hold: Hold::default(),
            status: TargetStatus {
                health: Health::Unknown,
                since: SystemTime::now(),
                last_reason: NOT_PROBED.to_string(),
                latency: None,
            },
            rtt: HashMap::new(),
        }
    }

    /// The votes and how long one stays fresh, for the guard.
    fn votes_and_window(&self, staleness: Staleness) -> (&[Vote], Duration) {
        (&self.votes, staleness.window(self.spec.interval))
    }

    fn fresh(&self, vote: &Vote, now: Instant, staleness: Staleness) -> bool {
        now.saturating_duration_since(vote.last_seen) <= staleness.window(self.spec.interval)
    }

    /// The regions' verdicts from fresh, trusted votes (see [`quorum::tally`]).
    fn tally(&self, now: Instant, staleness: Staleness) -> Tally {
        quorum::tally(&self.votes, now, staleness.window(self.spec.interval))
    }

    /// Applies the quorum rule and the hold-down; true when the published health changed.
    fn decide(&mut self, target: &Target, now: Instant, staleness: Staleness) -> bool {
        let tally = self.tally(now, staleness);
        match quorum::decide(self.spec.quorum, tally) {
            // Before any decision there is nothing to keep: the startup state applies.
            None if self.decided == Health::Unknown => {}
            None => {
                if !self.frozen {
                    self.frozen = true;
                    error!(
                        target = %target, check = %target.check, address = %target.addr,
                        kept = %self.decided, fresh_regions = tally.regions(), quorum = %self.spec.quorum,
                        "NO QUORUM: not enough regions have reported recently; keeping the last decision"
                    );
                }
            }
            Some(h) => {
                if self.frozen {
                    self.frozen = false;
                    info!(target = %target, fresh_regions = tally.regions(), "quorum possible again");
                }
                if h != self.decided {
                    log_decision(target, self.decided, h, tally, &self.spec);
                    self.decided = h;
                }
            }
        }
        let published = self.status.health;
        let next = self
            .hold
            .apply(target, self.decided, published, self.spec.hold_down, now);
        if next == published {
            return false;
        }
        self.status.health = next;
        self.status.since = SystemTime::now();
        true
    }
}

impl Aggregator {
    /// An aggregator with no targets yet, counting transitions into `metrics`.
    pub(crate) fn new(
        local_region: Arc<str>,
        config: DecisionConfig,
        metrics: Arc<HealthMetrics>,
    ) -> Aggregator {
        let mut regions = Interner::default();
        let local_region = regions.intern(&local_region);
        Aggregator {
            local_region,
            config,
            entries: HashMap::new(),
            vantages: HashMap::new(),
            guard_window: config.mass_failure.window.unwrap_or(Duration::ZERO),
            generation: 0,
            lineage: Lineage::new(),
            changed: None,
            unknown_observations: 0,
            metrics,
            regions,
            senders: Interner::default(),
        }
    }

    /// Applies one result; true when the published health or a smoothed RTT changed.
    ///
    /// A result that changes neither is kept (reason, latency) for the next snapshot but not
    /// published: each publication makes routing rebuild its whole table. An RTT estimate
    /// is republished only when it moves by more than `latency::PUBLISH_*`.
    pub(crate) fn observe(&mut self, obs: Observation, now: Instant) -> bool {
        let region = self.regions.intern(&obs.region);
        let sender = self.senders.intern(&obs.sender);
        let Self {
            entries,
            vantages,
            local_region,
            config,
            metrics,
            changed,
            ..
        } = self;
        let Some(entry) = entries.get_mut(&obs.target) else {
            self.unknown_observations += 1;
            debug!(target = %obs.target, region = %obs.region, "observation for a target not probed here");
            return false;
        };
        let rtt_moved = obs.ok
            && entry
                .rtt
                .entry(region.clone())
                .or_default()
                .sample(obs.latency);
        if rtt_moved {
            note(changed, &obs.target);
        }
        let i = match entry
            .votes
            .iter()
            .position(|v| v.vantage.is(&region, &sender))
        {
            Some(i) => i,
            None => {
                let vantage = Vantage { region, sender };
                let vs = vantages.entry(vantage.clone()).or_insert_with(|| {
                    info!(region = %obs.region, sender = %obs.sender, "new probe vantage point");
                    VantageState::default()
                });
                vs.votes += 1;
                // Beside its region's other votes, for `tally`.
                let at = entry
                    .votes
                    .iter()
                    .rposition(|v| Arc::ptr_eq(&v.vantage.region, &vantage.region))
                    .map_or(entry.votes.len(), |i| i + 1);
                let suspected = vs.suspicion.is_some();
                entry.votes.insert(
                    at,
                    Vote {
                        vantage,
                        state: TargetState::new(),
                        last_seen: now,
                        suspected,
                        reason: String::new(),
                        latency: Duration::ZERO,
                    },
                );
                at
            }
        };
        let (fall, rise) = (entry.spec.fall, entry.spec.rise);
        let vote = &mut entry.votes[i];
        let transition = vote.state.observe(obs.ok, fall, rise);
        vote.last_seen = now;
        vote.latency = obs.latency;
        if Arc::ptr_eq(&vote.vantage.region, local_region) {
            entry.status.last_reason.clone_from(&obs.reason);
            entry.status.latency = Some(obs.latency);
        }
        if let Some((old, new)) = transition {
            log_transition(&obs, old, new);
            metrics.record_transition(&obs.target.check, &obs.region, new);
        }
        vote.reason = obs.reason;
        if !matches!(transition, Some((_, Health::Down))) {
            let decided = entry.decide(&obs.target, now, config.staleness);
            if decided {
                note(changed, &obs.target);
            }
            return decided || rtt_moved;
        }
        // A vantage point saw a target go down: before that vote counts, ask whether it is
        // the vantage point that failed.
        let vantage = vote.vantage.clone();
        if let Some(vs) = vantages.get_mut(&vantage) {
            vs.recent_downs.push_back((now, obs.target.clone()));
        }
        if self.check_guard(&vantage, now) {
            return self.decide_all(now);
        }
        let staleness = self.config.staleness;
        let decided = self
            .entries
            .get_mut(&obs.target)
            .is_some_and(|e| e.decide(&obs.target, now, staleness));
        if decided {
            note(&mut self.changed, &obs.target);
        }
        decided
    }

    /// Time-driven changes: votes going stale, hold-downs ending, suspicions clearing.
    /// True when the published health changed.
    pub(crate) fn sweep(&mut self, now: Instant) -> bool {
        self.forget_silent(now);
        let suspected: Vec<Vantage> = self
            .vantages
            .iter()
            .filter(|(_, s)| s.suspicion.is_some())
            .map(|(v, _)| v.clone())
            .collect();
        for v in suspected {
            self.check_clear(&v, now);
        }
        let candidates: Vec<Vantage> = self
            .vantages
            .iter()
            .filter(|(_, s)| s.suspicion.is_none() && !s.recent_downs.is_empty())
            .map(|(v, _)| v.clone())
            .collect();
        for v in candidates {
            self.check_guard(&v, now);
        }
        self.decide_all(now)
    }

    fn decide_all(&mut self, now: Instant) -> bool {
        let staleness = self.config.staleness;
        let mut any = false;
        for (t, e) in self.entries.iter_mut() {
            if e.decide(t, now, staleness) {
                note(&mut self.changed, t);
                any = true;
            }
        }
        any
    }

    /// Evaluates the mass-failure guard for a vantage point not yet suspected; true when
    /// it becomes suspected.
    fn check_guard(&mut self, vantage: &Vantage, now: Instant) -> bool {
        let Some(vs) = self.vantages.get_mut(vantage) else {
            return false;
        };
        let (entries, staleness) = (&self.entries, self.config.staleness);
        let votes_of = |t: &Target| Some(entries.get(t)?.votes_and_window(staleness));
        let cfg = self.config.mass_failure;
        if !guard::check_guard(vs, vantage, &cfg, self.guard_window, now, &votes_of) {
            return false;
        }
        self.mark_suspected(vantage, true);
        true
    }

    /// Trusts a suspected vantage point again when the guard says so.
    fn check_clear(&mut self, vantage: &Vantage, now: Instant) {
        let Some(vs) = self.vantages.get_mut(vantage) else {
            return;
        };
        let (entries, staleness) = (&self.entries, self.config.staleness);
        let votes_of = |t: &Target| Some(entries.get(t)?.votes_and_window(staleness));
        if guard::check_clear(vs, vantage, now, &votes_of) {
            self.mark_suspected(vantage, false);
        }
    }

    fn mark_suspected(&mut self, vantage: &Vantage, suspected: bool) {
        for e in self.entries.values_mut() {
            for v in e.votes.iter_mut().filter(|v| v.vantage == *vantage) {
                v.suspected = suspected;
            }
        }
    }

    fn forget_silent(&mut self, now: Instant) {
        let staleness = self.config.staleness;
        let vantages = &mut self.vantages;
        for e in self.entries.values_mut() {
            let forget = staleness.window(e.spec.interval) * FORGET_AFTER_WINDOWS;
            e.votes.retain(|v| {
                let keep = now.saturating_duration_since(v.last_seen) <= forget;
                if !keep {
                    if let Some(vs) = vantages.get_mut(&v.vantage) {
                        vs.votes = vs.votes.saturating_sub(1);
                    }
                }
                keep
            });
        }
        // A name only the table itself holds belongs to nobody any more.
        self.regions.forget_unused();
        self.senders.forget_unused();
        vantages.retain(|v, s| {
            let keep = s.votes > 0;
            if !keep {
                info!(region = %v.region, sender = %v.sender, "probe vantage point forgotten after a long silence");
            }
            keep
        });
    }

    /// Adopts a new target set; true when the snapshot would differ.
    pub(crate) fn set_targets(
        &mut self,
        targets: std::collections::BTreeMap<Target, Arc<CheckSpec>>,
    ) -> bool {
        let before = self.entries.len();
        self.entries.retain(|t, _| targets.contains_key(t));
        let mut changed = self.entries.len() != before;
        for (target, spec) in targets {
            match self.entries.get_mut(&target) {
                Some(entry) if same_probe(&entry.spec, &spec) => entry.spec = spec,
                Some(entry) => {
                    *entry = Entry::new(spec);
                    changed = true;
                }
                None => {
                    self.entries.insert(target, Entry::new(spec));
                    changed = true;
                }
            }
        }
        // Rare (start and reload): recount rather than track every removal.
        for vs in self.vantages.values_mut() {
            vs.votes = 0;
        }
        for e in self.entries.values() {
            for v in &e.votes {
                if let Some(vs) = self.vantages.get_mut(&v.vantage) {
                    vs.votes += 1;
                }
            }
        }
        self.vantages.retain(|_, s| s.votes > 0);
        self.guard_window = self.config.mass_failure.window.unwrap_or_else(|| {
            self.entries
                .values()
                .map(|e| e.spec.interval * (e.spec.fall + 1))
                .max()
                .unwrap_or(Duration::ZERO)
        });
        if changed {
            // Rare (start and reload): the next publication is compared whole.
            self.changed = None;
        }
        changed
    }

    /// The snapshot to publish next: a new generation, so routing can tell it apart.
    pub(crate) fn publish(&mut self) -> HealthSnapshot {
        let after = self.generation;
        self.generation += 1;
        let mut snap = self.snapshot();
        snap.changed = self.changed.replace(HashSet::new()).map(|set| Changed {
            after,
            targets: set.into_iter().collect(),
        });
        snap
    }

    /// The current state as a snapshot of the last published generation (the first one,
    /// generation 0, before anything was published).
    pub(crate) fn snapshot(&self) -> HealthSnapshot {
        let mut rtt: HashMap<Arc<str>, HashMap<Target, Duration>> = HashMap::new();
        for (t, e) in &self.entries {
            for (region, r) in &e.rtt {
                if let Some(d) = r.published() {
                    rtt.entry(region.clone()).or_default().insert(t.clone(), d);
                }
            }
        }
        HealthSnapshot {
            generation: self.generation,
            targets: self
                .entries
                .iter()
                .map(|(t, e)| (t.clone(), e.status.clone()))
                .collect(),
            rtt,
            lineage: self.lineage,
            changed: None,
        }
    }

    pub(crate) fn view(&self, now: Instant) -> QuorumView {
        let staleness = self.config.staleness;
        let ms = |d: Duration| d.as_millis() as u64;
        let mut targets: Vec<TargetView> = self
            .entries
            .iter()
            .map(|(t, e)| {
                let tally = e.tally(now, staleness);
                let mut votes: Vec<VoteView> = e
                    .votes
                    .iter()
                    .map(|v| VoteView {
                        region: v.vantage.region.to_string(),
                        sender: v.vantage.sender.to_string(),
                        health: v.state.health(),
                        fresh: e.fresh(v, now, staleness),
                        suspected: v.suspected,
                        reason: v.reason.clone(),
                        latency_ms: v.latency.as_secs_f64() * 1000.0,
                        age_ms: ms(now.saturating_duration_since(v.last_seen)),
                    })
                    .collect();
                votes.sort_by(|a, b| (&a.region, &a.sender).cmp(&(&b.region, &b.sender)));
                let mut regions: Vec<RegionView> = Vec::new();
                for v in &votes {
                    if regions.iter().any(|r| r.region == v.region) {
                        continue;
                    }
                    let same = || votes.iter().filter(|x| x.region == v.region);
                    let counted = || same().filter(|x| x.fresh && !x.suspected);
                    let health = if counted().any(|x| x.health == Health::Up) {
                        RegionHealth::Up
                    } else if counted().any(|x| x.health == Health::Down) {
                        RegionHealth::Down
                    } else if same().any(|x| x.fresh && x.suspected) {
                        RegionHealth::Suspected
                    } else {
                        RegionHealth::Unknown
                    };
                    regions.push(RegionView {
                        region: v.region.clone(),
                        health,
                    });
                }
                TargetView {
                    target: t.to_string(),
                    check: t.check.to_string(),
                    address: t.addr.to_string(),
                    health: e.status.health,
                    decided: e.decided,
                    quorum: e.spec.quorum.to_string(),
                    up_regions: tally.up,
                    down_regions: tally.down,
                    disagreement: tally.split(),
                    frozen: e.frozen,
                    held_down_ms: e.hold.remaining(now).map(ms),
                    regions,
                    votes,
                }
            })
            .collect();
        targets.sort_by(|a, b| a.target.cmp(&b.target));
        let mut vantages: Vec<VantageView> = self
            .vantages
            .iter()
            .map(|(v, s)| {
                let mine = || {
                    self.entries
                        .values()
                        .flat_map(|e| e.votes.iter().map(move |x| (e, x)))
                        .filter(|(_, x)| x.vantage == *v)
                };
                VantageView {
                    region: v.region.to_string(),
                    sender: v.sender.to_string(),
                    votes: s.votes,
                    fresh_votes: mine().filter(|(e, x)| e.fresh(x, now, staleness)).count(),
                    last_report_ms: mine()
                        .map(|(_, x)| now.saturating_duration_since(x.last_seen))
                        .min()
                        .map(ms),
                    suspected: s.suspicion.is_some(),
                    suspected_for_ms: s
                        .suspicion
                        .as_ref()
                        .map(|x| ms(now.saturating_duration_since(x.since))),
                    flagged: s.suspicion.as_ref().map_or(0, |x| x.flagged.len()),
                }
            })
            .collect();
        vantages.sort_by(|a, b| (&a.region, &a.sender).cmp(&(&b.region, &b.sender)));
        QuorumView {
            region: self.local_region.to_string(),
            generation: self.generation,
            frozen_targets: targets.iter().filter(|t| t.frozen).count(),
            suspected_vantages: vantages.iter().filter(|v| v.suspected).count(),
            unknown_target_observations: self.unknown_observations,
            vantages,
            targets,
        }
    }
}

/// Whether two specs probe the same thing, so the health measured by one holds for the
/// other; timing and thresholds may differ.
/// Lists `t` as changed for the next publication (unless everything is already).
fn note(changed: &mut Option<HashSet<Target>>, t: &Target) {
    if let Some(set) = changed {
        set.insert(t.clone());
    }
}

fn same_probe(a: &CheckSpec, b: &CheckSpec) -> bool {
    a.kind == b.kind && a.port == b.port
}

fn log_transition(obs: &Observation, old: Health, new: Health) {
    let t = &obs.target;
    if new == Health::Up {
        info!(
            target = %t, check = %t.check, address = %t.addr, region = %obs.region,
            sender = %obs.sender, old = %old, new = %new, reason = %obs.reason,
            "health target up"
        );
    } else {
        warn!(
            target = %t, check = %t.check, address = %t.addr, region = %obs.region,
            sender = %obs.sender, old = %old, new = %new, reason = %obs.reason,
            "health target down"
        );
    }
}

fn log_decision(t: &Target, old: Health, new: Health, tally: Tally, spec: &CheckSpec) {
    if new == Health::Up {
        info!(
            target = %t, check = %t.check, address = %t.addr, old = %old, new = %new,
            up_regions = tally.up, down_regions = tally.down, quorum = %spec.quorum,
            "health decision"
        );
    } else {
        warn!(
            target = %t, check = %t.check, address = %t.addr, old = %old, new = %new,
            up_regions = tally.up, down_regions = tally.down, quorum = %spec.quorum,
            "health decision"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::IpAddr;
    use std::sync::Mutex;

    use tokio::time::advance;

    use super::*;
    use crate::health::Delta;
    use crate::zone::{CheckKind, HttpCheck, Quorum, StartupState};

    const SECOND: Duration = Duration::from_secs(1);

    fn spec(fall: u32, rise: u32, quorum: Quorum, hold_down: Duration) -> Arc<CheckSpec> {
        Arc::new(CheckSpec {
            id: "test.example./web".into(),
            kind: CheckKind::Http(HttpCheck {
                host: None,
                path: "/health".into(),
                expect_status: 200..=299,
                body_contains: None,
                tls_verify: true,
                tls_ca: None,
            }),
            port: 80,
            interval: SECOND,
            timeout: Duration::from_millis(500),
            fall,
            rise,
            startup: StartupState::Down,
            quorum,
            hold_down,
        })
    }

    fn simple() -> Arc<CheckSpec> {
        spec(1, 1, Quorum::Majority, Duration::ZERO)
    }

    fn target(n: u8, spec: &CheckSpec) -> Target {
        Target {
            check: spec.id.clone(),
            addr: IpAddr::from([10, 0, 0, n]),
        }
    }

    /// From the prober `<region>-1`.
    fn obs(t: &Target, region: &str, ok: bool) -> Observation {
        obs_from(
            t,
            region,
            &format!("{region}-1"),
            ok,
            if ok { "HTTP 200" } else { "timed out" },
        )
    }

    fn obs_from(t: &Target, region: &str, sender: &str, ok: bool, reason: &str) -> Observation {
        Observation {
            target: t.clone(),
            region: region.into(),
            sender: sender.into(),
            ok,
            reason: reason.into(),
            latency: Duration::from_millis(3),
        }
    }

    fn aggregator(targets: &[(Target, Arc<CheckSpec>)], config: DecisionConfig) -> Aggregator {
        let mut agg = Aggregator::new("r1".into(), config, Arc::default());
        agg.set_targets(targets.iter().cloned().collect());
        agg
    }

    fn one(spec: Arc<CheckSpec>) -> (Target, Aggregator) {
        let t = target(1, &spec);
        let agg = aggregator(&[(t.clone(), spec)], DecisionConfig::default());
        (t, agg)
    }

    fn see(agg: &mut Aggregator, t: &Target, region: &str, ok: bool) -> bool {
        agg.observe(obs(t, region, ok), Instant::now())
    }

    fn up(agg: &Aggregator, t: &Target) -> Option<bool> {
        agg.snapshot().is_up(t)
    }

    fn target_view(agg: &Aggregator, t: &Target) -> TargetView {
        let v = agg.view(Instant::now());
        v.targets
            .into_iter()
            .find(|x| x.target == t.to_string())
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn each_publication_lists_the_targets_that_moved_since_the_previous_one() {
        let spec = spec(1, 1, Quorum::Majority, Duration::ZERO);
        let (t1, t2) = (target(1, &spec), target(2, &spec));
        let mut agg = aggregator(
            &[(t1.clone(), spec.clone()), (t2.clone(), spec.clone())],
            DecisionConfig::default(),
        );
        let listed = |s: &HealthSnapshot| {
            let mut v = s.changed.as_ref().map(|c| (c.after, c.targets.clone()));
            if let Some((_, ts)) = &mut v {
                ts.sort();
            }
            v
        };
        // Before anything was published the previous state is not known.
        let s1 = agg.publish();
        assert_eq!(listed(&s1), None);
        assert!(see(&mut agg, &t1, "r1", true));
        let s2 = agg.publish();
        assert_eq!(listed(&s2), Some((1, vec![t1.clone()])));
        assert_eq!(s2.changed_since(&s1), Some(&[t1.clone()][..]));
        assert_eq!(Delta::between(&s1, &s2).health.len(), 1);
        // A result that changes nothing published (t1 up again, same RTT) is not listed;
        // t2's first result is.
        assert!(!see(&mut agg, &t1, "r1", true));
        assert!(see(&mut agg, &t2, "r1", true));
        let s3 = agg.publish();
        assert_eq!(listed(&s3), Some((2, vec![t2.clone()])));
        // A new target set: the next publication is compared whole.
        assert!(agg.set_targets([(t1.clone(), spec.clone())].into_iter().collect()));
        assert_eq!(listed(&agg.publish()), None);
        assert_eq!(listed(&agg.publish()), Some((4, vec![])));
    }

    #[tokio::test(start_paused = true)]
    async fn smoothed_rtt_is_published_per_region_when_it_moves() {
        let spec = spec(2, 2, Quorum::Majority, Duration::ZERO);
        let (t, mut agg) = one(spec);
        let at = |region: &str, ok: bool, ms: u64| Observation {
            latency: Duration::from_millis(ms),
            ..obs_from(
                &t,
                region,
                region,
                ok,
                if ok { "HTTP 200" } else { "timed out" },
            )
        };
        let rtt = |agg: &Aggregator, region: &str| {
            agg.snapshot()
                .rtt
                .get(region)
                .and_then(|m| m.get(&t).copied())
        };
        assert!(agg.observe(at("r1", true, 20), Instant::now()));
        assert_eq!(rtt(&agg, "r1"), Some(Duration::from_millis(20)));
        // Jitter: kept in the average, not published.
        assert!(!agg.observe(at("r1", true, 21), Instant::now()));
        assert_eq!(rtt(&agg, "r1"), Some(Duration::from_millis(20)));
        // Another region's first estimate is news, even without a health change.
        assert!(agg.observe(at("r2", true, 80), Instant::now()));
        assert_eq!(rtt(&agg, "r2"), Some(Duration::from_millis(80)));
        // A slow probe moves the local estimate by a third of the difference.
        assert!(agg.observe(at("r1", true, 100), Instant::now()));
        let here = rtt(&agg, "r1").unwrap();
        assert!(
            here > Duration::from_millis(40) && here < Duration::from_millis(50),
            "{here:?}"
        );
        // A failed probe's duration is not an RTT.
        assert!(!agg.observe(at("r1", false, 1000), Instant::now()));
        assert_eq!(rtt(&agg, "r1"), Some(here));
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_only_changes_but_keeps_the_latest_local_result() {
        let spec = spec(2, 2, Quorum::Majority, Duration::ZERO);
        let (t, mut agg) = one(spec);
        let s = agg.snapshot();
        assert_eq!(s.targets[&t].health, Health::Unknown);
        assert_eq!(s.targets[&t].last_reason, NOT_PROBED);
        assert_eq!(s.targets[&t].latency, None);

        assert!(agg.observe(obs_from(&t, "r1", "a", true, "HTTP 200"), Instant::now()));
        assert!(!agg.observe(obs_from(&t, "r1", "a", false, "timed out"), Instant::now()));
        let s = agg.snapshot();
        assert_eq!(s.targets[&t].health, Health::Up);
        assert_eq!(s.targets[&t].last_reason, "timed out");
        // Remote results don't replace the local reason. (Published all the same: r2's
        // first RTT estimate is news for latency routing.)
        assert!(agg.observe(obs_from(&t, "r2", "b", true, "HTTP 204"), Instant::now()));
        assert_eq!(agg.snapshot().targets[&t].last_reason, "timed out");
        // r1 down, r2 up: a tie of two is not a majority for down.
        assert!(!agg.observe(obs_from(&t, "r1", "a", false, "refused"), Instant::now()));
        assert_eq!(up(&agg, &t), Some(true));
        // fall = 2 holds for each region's own run.
        assert!(!agg.observe(obs_from(&t, "r2", "b", false, "refused"), Instant::now()));
        assert!(agg.observe(obs_from(&t, "r2", "b", false, "refused"), Instant::now()));
        assert_eq!(up(&agg, &t), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn one_region_of_three_cannot_fail_a_target_over_by_majority() {
        let (t, mut agg) = one(simple());
        for r in ["r1", "r2", "r3"] {
            see(&mut agg, &t, r, true);
        }
        assert_eq!(up(&agg, &t), Some(true));
        // r3's path breaks: it says down, for as long as it likes.
        for _ in 0..5 {
            assert!(!see(&mut agg, &t, "r3", false));
            see(&mut agg, &t, "r1", true);
            see(&mut agg, &t, "r2", true);
        }
        assert_eq!(up(&agg, &t), Some(true));
        let v = target_view(&agg, &t);
        assert!(v.disagreement, "{v:?}");
        assert_eq!((v.up_regions, v.down_regions), (2, 1));
        assert_eq!(
            v.votes
                .iter()
                .map(|x| (x.region.as_str(), x.health.as_str()))
                .collect::<Vec<_>>(),
            [("r1", "up"), ("r2", "up"), ("r3", "down")]
        );
        // A second region agreeing makes a majority.
        assert!(see(&mut agg, &t, "r2", false));
        assert_eq!(up(&agg, &t), Some(false));
        assert_eq!(target_view(&agg, &t).decided, Health::Down);
    }

    #[tokio::test(start_paused = true)]
    async fn any_all_and_a_number_count_down_votes_differently() {
        for (rule, downs_to_fail) in [(Quorum::Any, 1), (Quorum::AtLeast(2), 2), (Quorum::All, 3)] {
            let (t, mut agg) = one(spec(1, 1, rule, Duration::ZERO));
            for r in ["r1", "r2", "r3"] {
                see(&mut agg, &t, r, true);
            }
            for (i, r) in ["r1", "r2", "r3"].iter().enumerate() {
                see(&mut agg, &t, r, false);
                let want = i + 1 < downs_to_fail;
                assert_eq!(up(&agg, &t), Some(want), "{rule} after {} down", i + 1);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_region_is_up_while_any_of_its_probers_sees_the_target_up() {
        let (t, mut agg) = one(spec(1, 1, Quorum::Any, Duration::ZERO));
        let now = Instant::now;
        agg.observe(obs_from(&t, "r1", "ns1", true, "ok"), now());
        agg.observe(obs_from(&t, "r1", "agent", true, "ok"), now());
        // One prober of the region loses its path: the region still says up.
        assert!(!agg.observe(obs_from(&t, "r1", "agent", false, "timed out"), now()));
        assert_eq!(up(&agg, &t), Some(true));
        assert_eq!(target_view(&agg, &t).votes.len(), 2);
        assert!(agg.observe(obs_from(&t, "r1", "ns1", false, "refused"), now()));
        assert_eq!(up(&agg, &t), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_region_counts_as_unknown_after_the_staleness_window_not_as_down() {
        // Default staleness: 3 × the 1 s interval.
        let (t, mut agg) = one(simple());
        see(&mut agg, &t, "r1", true);
        see(&mut agg, &t, "r2", false);
        see(&mut agg, &t, "r3", false);
        assert_eq!(up(&agg, &t), Some(false));
        // r3 falls silent; r1 and r2 keep reporting what they see.
        for _ in 0..3 {
            advance(SECOND).await;
            see(&mut agg, &t, "r1", true);
            see(&mut agg, &t, "r2", false);
        }
        // Exactly at the window r3 still counts.
        assert!(!agg.sweep(Instant::now()));
        assert_eq!(up(&agg, &t), Some(false));
        advance(Duration::from_millis(1)).await;
        // Now 1 up, 1 down of 2 fresh regions: no majority for down.
        assert!(agg.sweep(Instant::now()));
        assert_eq!(up(&agg, &t), Some(true));
        let v = target_view(&agg, &t);
        let r3 = v.votes.iter().find(|x| x.region == "r3").unwrap();
        assert!(!r3.fresh && r3.health == Health::Down, "{r3:?}");
        assert_eq!((v.up_regions, v.down_regions), (1, 1));
        let vantage = agg
            .view(Instant::now())
            .vantages
            .into_iter()
            .find(|x| x.region == "r3")
            .unwrap();
        assert_eq!(vantage.fresh_votes, 0);
        // It speaks again: it counts again at once.
        assert!(see(&mut agg, &t, "r3", false));
        assert_eq!(up(&agg, &t), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_staleness_window_applies_to_every_check() {
        let config = DecisionConfig {
            staleness: Staleness::Fixed(Duration::from_secs(10)),
            ..DecisionConfig::default()
        };
        let spec = simple();
        let t = target(1, &spec);
        let mut agg = aggregator(&[(t.clone(), spec)], config);
        see(&mut agg, &t, "r1", false);
        see(&mut agg, &t, "r2", true);
        see(&mut agg, &t, "r3", true);
        advance(Duration::from_secs(9)).await;
        see(&mut agg, &t, "r1", false);
        see(&mut agg, &t, "r2", false);
        assert_eq!(up(&agg, &t), Some(false));
        advance(Duration::from_secs(2)).await;
        see(&mut agg, &t, "r1", false);
        see(&mut agg, &t, "r2", false);
        agg.sweep(Instant::now());
        assert_eq!(target_view(&agg, &t).up_regions, 0);
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(f: impl FnOnce()) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_fresh_region_the_last_decision_stands_and_says_so() {
        let (t, mut agg) = one(simple());
        see(&mut agg, &t, "r1", true);
        see(&mut agg, &t, "r2", true);
        // Everyone falls silent, longer than the window.
        advance(SECOND * 4).await;
        let log = logged(|| assert!(!agg.sweep(Instant::now())));
        assert_eq!(up(&agg, &t), Some(true), "kept, not dropped to unknown");
        let v = agg.view(Instant::now());
        assert_eq!(v.frozen_targets, 1);
        assert!(v.targets[0].frozen);
        assert!(log.contains("ERROR") && log.contains("NO QUORUM"), "{log}");
        assert!(log.contains("kept=up"), "{log}");
        // Said once, not at every sweep.
        advance(SECOND).await;
        assert!(!logged(|| {
            agg.sweep(Instant::now());
        })
        .contains("NO QUORUM"));
        // A fresh result decides again.
        assert!(see(&mut agg, &t, "r2", false));
        assert_eq!(up(&agg, &t), Some(false));
        assert_eq!(agg.view(Instant::now()).frozen_targets, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_numeric_quorum_with_too_few_regions_waits_instead_of_guessing() {
        let (t, mut agg) = one(spec(1, 1, Quorum::AtLeast(2), Duration::ZERO));
        assert!(!see(&mut agg, &t, "r1", false));
        // Not decided yet: routing still applies the startup state, nothing is frozen.
        assert_eq!(up(&agg, &t), None);
        assert!(!target_view(&agg, &t).frozen);
        assert!(see(&mut agg, &t, "r2", false));
        assert_eq!(up(&agg, &t), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_recovered_target_is_held_down_and_a_relapse_restarts_the_hold() {
        let hold = Duration::from_secs(30);
        let (t, mut agg) = one(spec(1, 1, Quorum::Majority, hold));
        // The first decision is not held: there is no traffic to protect yet.
        assert!(see(&mut agg, &t, "r1", true));
        assert!(see(&mut agg, &t, "r1", false));
        assert_eq!(up(&agg, &t), Some(false));

        assert!(!see(&mut agg, &t, "r1", true), "held, not published");
        assert_eq!(target_view(&agg, &t).decided, Health::Up);
        assert_eq!(target_view(&agg, &t).held_down_ms, Some(30_000));
        advance(Duration::from_secs(20)).await;
        see(&mut agg, &t, "r1", true);
        // Flaps: the hold starts over from the next recovery.
        see(&mut agg, &t, "r1", false);
        assert_eq!(target_view(&agg, &t).held_down_ms, None);
        advance(Duration::from_secs(15)).await;
        see(&mut agg, &t, "r1", true);
        advance(Duration::from_secs(29)).await;
        see(&mut agg, &t, "r1", true);
        assert!(!agg.sweep(Instant::now()));
        assert_eq!(up(&agg, &t), Some(false));
        advance(SECOND).await;
        see(&mut agg, &t, "r1", true);
        // The sweep releases it even between results.
        assert!(agg.sweep(Instant::now()) || up(&agg, &t) == Some(true));
        assert_eq!(up(&agg, &t), Some(true));
        // Going down is never held.
        assert!(see(&mut agg, &t, "r1", false));
    }

    /// Six targets probed from three regions, everything up.
    fn fleet(rule: Quorum) -> (Vec<Target>, Aggregator) {
        let s = spec(1, 1, rule, Duration::ZERO);
        let targets: Vec<(Target, Arc<CheckSpec>)> =
            (1..=6).map(|n| (target(n, &s), s.clone())).collect();
        let mut agg = aggregator(&targets, DecisionConfig::default());
        let ts: Vec<Target> = targets.into_iter().map(|(t, _)| t).collect();
        for t in &ts {
            for r in ["r1", "r2", "r3"] {
                see(&mut agg, t, r, true);
            }
        }
        (ts, agg)
    }

    fn suspected(agg: &Aggregator, region: &str) -> bool {
        agg.view(Instant::now())
            .vantages
            .iter()
            .any(|v| v.region == region && v.suspected)
    }

    #[tokio::test(start_paused = true)]
    async fn a_region_that_suddenly_sees_most_targets_fail_alone_is_set_aside() {
        let (ts, mut agg) = fleet(Quorum::Any);
        let log = logged(|| {
            for t in &ts[..5] {
                see(&mut agg, t, "r3", false);
            }
        });
        assert!(suspected(&agg, "r3"));
        assert!(log.contains("PROBE REGION SUSPECTED"), "{log}");
        // Its votes are set aside: every target is up, though `any` region would do.
        for t in &ts {
            assert_eq!(up(&agg, t), Some(true), "{t}");
        }
        let v = agg.view(Instant::now());
        assert_eq!(v.suspected_vantages, 1);
        assert!(v.targets[0]
            .votes
            .iter()
            .any(|x| x.region == "r3" && x.suspected));
        // Even its later votes, and long after the window.
        advance(SECOND * 30).await;
        for t in &ts {
            see(&mut agg, t, "r1", true);
            see(&mut agg, t, "r2", true);
            see(&mut agg, t, "r3", false);
        }
        agg.sweep(Instant::now());
        assert!(suspected(&agg, "r3"));
        assert!(ts.iter().all(|t| up(&agg, t) == Some(true)));

        // Its own trouble ends: trusted again, and its votes count.
        for t in &ts {
            see(&mut agg, t, "r3", true);
        }
        agg.sweep(Instant::now());
        assert!(!suspected(&agg, "r3"));
        assert!(see(&mut agg, &ts[0], "r3", false));
        assert_eq!(up(&agg, &ts[0]), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_every_region_sees_are_real_and_fail_over() {
        let (ts, mut agg) = fleet(Quorum::Majority);
        // The datacenter of five targets goes dark; the regions notice one after another.
        for r in ["r1", "r2", "r3"] {
            for t in &ts[..5] {
                see(&mut agg, t, r, false);
            }
            advance(Duration::from_millis(300)).await;
            agg.sweep(Instant::now());
        }
        assert_eq!(agg.view(Instant::now()).suspected_vantages, 0);
        for t in &ts[..5] {
            assert_eq!(up(&agg, t), Some(false), "{t}");
        }
        assert_eq!(up(&agg, &ts[5]), Some(true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_region_suspected_first_is_cleared_when_the_others_catch_up() {
        let (ts, mut agg) = fleet(Quorum::Majority);
        for t in &ts[..5] {
            see(&mut agg, t, "r1", false);
        }
        assert!(suspected(&agg, "r1"), "alone so far");
        for t in &ts[..5] {
            see(&mut agg, t, "r2", false);
        }
        agg.sweep(Instant::now());
        assert!(!suspected(&agg, "r1"), "r2 sees it too");
        for t in &ts[..5] {
            assert_eq!(up(&agg, t), Some(false), "{t}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_few_failures_or_a_lone_region_never_trigger_the_guard() {
        let (ts, mut agg) = fleet(Quorum::Any);
        // Half of the targets is not most of them.
        for t in &ts[..3] {
            see(&mut agg, t, "r3", false);
        }
        assert!(!suspected(&agg, "r3"));
        assert_eq!(up(&agg, &ts[0]), Some(false));

        // One region alone has nobody to compare with: it decides.
        let s = simple();
        let targets: Vec<(Target, Arc<CheckSpec>)> =
            (1..=6).map(|n| (target(n, &s), s.clone())).collect();
        let mut alone = aggregator(&targets, DecisionConfig::default());
        for (t, _) in &targets {
            see(&mut alone, t, "r1", true);
        }
        for (t, _) in &targets {
            see(&mut alone, t, "r1", false);
        }
        assert_eq!(alone.view(Instant::now()).suspected_vantages, 0);
        assert!(targets.iter().all(|(t, _)| up(&alone, t) == Some(false)));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_spread_wider_than_the_window_are_not_sudden() {
        let (ts, mut agg) = fleet(Quorum::Any);
        // Default window: interval × (fall + 1) = 2 s.
        for t in &ts[..5] {
            see(&mut agg, t, "r3", false);
            advance(Duration::from_millis(1500)).await;
            for u in &ts {
                see(&mut agg, u, "r1", true);
                see(&mut agg, u, "r2", true);
            }
        }
        assert!(!suspected(&agg, "r3"));
    }

    #[tokio::test(start_paused = true)]
    async fn observations_for_unknown_targets_are_counted_and_ignored() {
        let (t, mut agg) = one(simple());
        let other = Target {
            check: "elsewhere./web".into(),
            addr: t.addr,
        };
        assert!(!see(&mut agg, &other, "r2", false));
        assert_eq!(agg.view(Instant::now()).unknown_target_observations, 1);
        assert_eq!(agg.snapshot().targets.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn target_changes_keep_state_unless_the_probe_itself_changed() {
        let s = simple();
        let (t, mut agg) = one(s.clone());
        see(&mut agg, &t, "r1", true);
        let since = agg.entries[&t].status.since;

        assert!(!agg.set_targets(BTreeMap::from([(t.clone(), s.clone())])));
        let slower = Arc::new(CheckSpec {
            interval: Duration::from_secs(9),
            fall: 2,
            ..(*s).clone()
        });
        assert!(!agg.set_targets(BTreeMap::from([(t.clone(), slower)])));
        assert_eq!(agg.entries[&t].status.health, Health::Up);
        assert_eq!(agg.entries[&t].status.since, since);
        assert!(!see(&mut agg, &t, "r1", false));
        let moved = Arc::new(CheckSpec {
            port: 8080,
            ..(*s).clone()
        });
        assert!(agg.set_targets(BTreeMap::from([(t.clone(), moved)])));
        assert_eq!(agg.snapshot().targets[&t].health, Health::Unknown);
        assert!(agg.set_targets(BTreeMap::new()));
        assert!(agg.snapshot().targets.is_empty());
        assert!(agg.view(Instant::now()).vantages.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn silent_probers_are_forgotten_after_ten_windows() {
        let (t, mut agg) = one(simple());
        see(&mut agg, &t, "r1", true);
        see(&mut agg, &t, "r2", true);
        for _ in 0..31 {
            advance(SECOND).await;
            see(&mut agg, &t, "r1", true);
            agg.sweep(Instant::now());
        }
        let v = agg.view(Instant::now());
        assert_eq!(
            v.vantages
                .iter()
                .map(|x| x.region.as_str())
                .collect::<Vec<_>>(),
            ["r1"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_transition_logs_one_line_per_region_and_one_per_decision() {
        let s = spec(2, 1, Quorum::Majority, Duration::ZERO);
        let (t, mut agg) = one(s);
        let text = logged(|| {
            let now = Instant::now();
            agg.observe(obs_from(&t, "r1", "a", true, "HTTP 200"), now);
            agg.observe(obs_from(&t, "r1", "a", true, "HTTP 200"), now);
            agg.observe(obs_from(&t, "r1", "a", false, "HTTP 503"), now);
            agg.observe(
                obs_from(&t, "r1", "a", false, "unexpected HTTP status 503"),
                now,
            );
        });
        let region: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("health target"))
            .collect();
        assert_eq!(region.len(), 2, "{text}");
        assert!(
            region[0].contains(" INFO ") && region[1].contains(" WARN "),
            "{text}"
        );
        for (line, old, new) in [(region[0], "unknown", "up"), (region[1], "up", "down")] {
            for field in [
                "target=test.example./web@10.0.0.1".to_string(),
                "check=test.example./web".to_string(),
                "address=10.0.0.1".to_string(),
                "region=r1".to_string(),
                "sender=a".to_string(),
                format!("old={old}"),
                format!("new={new}"),
            ] {
                assert!(line.contains(&field), "{field} missing in {line}");
            }
        }
        assert!(region[1].contains("reason=unexpected HTTP status 503"));
        let decisions: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("health decision"))
            .collect();
        assert_eq!(decisions.len(), 2, "{text}");
        assert!(decisions[1].contains(" WARN ") && decisions[1].contains("down_regions=1"));
        assert!(decisions[1].contains("quorum=majority"), "{}", decisions[1]);
    }
}
