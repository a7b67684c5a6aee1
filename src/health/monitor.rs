//! The running part of health checking: one prober task per target, and one aggregator task
//! that owns every fall/rise state and publishes a [`HealthSnapshot`] when health changes.
//!
//! Probers only send [`Observation`]s; the aggregator is the single writer of health, so no
//! lock is shared and no prober can stall another. Observations carry their region so probe
//! agents elsewhere can later feed the same channel: the aggregator already keeps one state
//! per (target, region), and publishes the local region's verdict until a quorum rule
//! replaces `Aggregator::published`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::check::{ProbeOutcome, ProbeReason, Prober};
use super::snapshot::{HealthSnapshot, TargetStatus};
use super::state::{Health, TargetState};
use crate::zone::{CheckSpec, Target};

/// One probe result, from this process or (later) from a probe agent in another region.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub target: Target,
    pub region: Arc<str>,
    pub ok: bool,
    pub reason: String,
    pub latency: Duration,
}

/// Room for a burst of results from every prober at once; beyond that probers wait, which
/// only delays their next probe.
const OBSERVATION_QUEUE: usize = 1024;

/// Jitter applied to each interval, as a fraction: enough to spread probes that started
/// together, small enough to keep the configured rate.
const JITTER: f64 = 0.10;

const NOT_PROBED: &str = "not probed yet";

/// Least time between two health publications: short beside any probe interval, long
/// enough that a burst of transitions is published together.
const PUBLISH_SPACING: Duration = Duration::from_millis(20);

/// Runs the probers and the aggregator. Dropping it stops them all.
pub struct HealthMonitor {
    local_region: Arc<str>,
    observations: mpsc::Sender<Observation>,
    targets_tx: mpsc::UnboundedSender<BTreeMap<Target, Arc<CheckSpec>>>,
    probers: HashMap<Target, ProberTask>,
    stop: CancellationToken,
    aggregator: JoinHandle<()>,
}

struct ProberTask {
    spec: Arc<CheckSpec>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl HealthMonitor {
    /// Starts probing `targets` from `local_region`. Must be called inside a Tokio runtime.
    ///
    /// The receiver holds a generation-0 snapshot with every target `Unknown` right away.
    pub fn start(
        local_region: Arc<str>,
        targets: BTreeMap<Target, Arc<CheckSpec>>,
    ) -> (HealthMonitor, watch::Receiver<Arc<HealthSnapshot>>) {
        let stop = CancellationToken::new();
        let (observations, targets_tx, snapshots, aggregator) =
            spawn_aggregator(local_region.clone(), &targets, stop.clone());
        let mut monitor = HealthMonitor {
            local_region,
            observations,
            targets_tx,
            probers: HashMap::new(),
            stop,
            aggregator,
        };
        for (target, spec) in targets {
            monitor.spawn_prober(target, spec);
        }
        (monitor, snapshots)
    }

    /// Brings the running probers in line with `targets` (a reload): removed targets stop,
    /// new ones start, changed ones restart. Unchanged targets keep their probe schedule and
    /// health; a changed one keeps its health too unless what is probed (kind, port, path,
    /// host...) changed, in which case it starts over from `Unknown`.
    pub fn reconcile(&mut self, targets: BTreeMap<Target, Arc<CheckSpec>>) {
        self.probers.retain(|target, p| {
            let keep = targets.get(target).is_some_and(|spec| *spec == p.spec);
            if !keep {
                p.stop.cancel();
            }
            keep
        });
        // Sent before the new probers exist, so their first result never finds the
        // aggregator unaware of them.
        let _ = self.targets_tx.send(targets.clone());
        for (target, spec) in targets {
            if !self.probers.contains_key(&target) {
                self.spawn_prober(target, spec);
            }
        }
    }

    /// A sender into the aggregator, for observations made elsewhere (probe agents).
    pub fn observations(&self) -> mpsc::Sender<Observation> {
        self.observations.clone()
    }

    pub fn local_region(&self) -> &Arc<str> {
        &self.local_region
    }

    /// The targets being probed from here.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.probers.keys()
    }

    /// Stops every task and waits for them to end.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        for (_, p) in self.probers.drain() {
            let _ = p.task.await;
        }
        let _ = (&mut self.aggregator).await;
    }

    fn spawn_prober(&mut self, target: Target, spec: Arc<CheckSpec>) {
        let stop = self.stop.child_token();
        let region = self.local_region.clone();
        let tx = self.observations.clone();
        let task_spec = spec.clone();
        let task_stop = stop.clone();
        let task_target = target.clone();
        let task = tokio::spawn(async move {
            let target = task_target;
            // Built once here rather than per tick: it holds the TLS config and root store.
            let prober = match Prober::new(task_spec.clone(), target.addr) {
                Ok(p) => Ok(Arc::new(p)),
                Err(e) => {
                    tracing::error!(target = %target, error = %e, "cannot build the prober; the target will be reported down");
                    Err(ProbeReason::Setup(e.to_string()))
                }
            };
            let probe = move || {
                let prober = prober.clone();
                async move {
                    match prober {
                        Ok(p) => p.probe().await,
                        Err(reason) => ProbeOutcome {
                            ok: false,
                            reason,
                            latency: Duration::ZERO,
                        },
                    }
                }
            };
            probe_loop(target, region, task_spec.interval, probe, tx, task_stop).await;
        });
        self.probers.insert(target, ProberTask { spec, stop, task });
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Probes at a random phase in `[0, interval)`, then every `interval` ± 10%, measured from
/// the start of one probe to the start of the next, and never two probes at once.
async fn probe_loop<F, Fut>(
    target: Target,
    region: Arc<str>,
    interval: Duration,
    probe: F,
    tx: mpsc::Sender<Observation>,
    stop: CancellationToken,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = ProbeOutcome>,
{
    tokio::select! {
        biased;
        _ = stop.cancelled() => return,
        _ = sleep(first_phase(interval)) => {}
    }
    loop {
        let started = Instant::now();
        let outcome = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            outcome = probe() => outcome,
        };
        let obs = Observation {
            target: target.clone(),
            region: region.clone(),
            ok: outcome.ok,
            reason: outcome.reason.to_string(),
            latency: outcome.latency,
        };
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            sent = tx.send(obs) => if sent.is_err() { return },
        }
        let due = started + jittered(interval);
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = sleep_until(due) => {}
        }
        // How late this probe starts: the measure of probers falling behind (see
        // benches/probing.rs). Free unless a subscriber enables this target.
        tracing::trace!(target: PROBE_LAG_TARGET, lag_us = due.elapsed().as_micros() as u64);
    }
}

/// The tracing target of the per-probe lag event (field `lag_us`).
pub const PROBE_LAG_TARGET: &str = "switchyard::probe_lag";

fn first_phase(interval: Duration) -> Duration {
    if interval.is_zero() {
        return Duration::ZERO;
    }
    interval.mul_f64(rand::thread_rng().gen_range(0.0..1.0))
}

fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::thread_rng().gen_range(1.0 - JITTER..=1.0 + JITTER))
}

type Spawned = (
    mpsc::Sender<Observation>,
    mpsc::UnboundedSender<BTreeMap<Target, Arc<CheckSpec>>>,
    watch::Receiver<Arc<HealthSnapshot>>,
    JoinHandle<()>,
);

fn spawn_aggregator(
    local_region: Arc<str>,
    targets: &BTreeMap<Target, Arc<CheckSpec>>,
    stop: CancellationToken,
) -> Spawned {
    let mut agg = Aggregator::new(local_region);
    agg.set_targets(targets.clone());
    let (snap_tx, snap_rx) = watch::channel(Arc::new(agg.snapshot()));
    let (obs_tx, mut obs_rx) = mpsc::channel(OBSERVATION_QUEUE);
    let (targets_tx, mut targets_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        // A change is published at once unless one was published less than
        // PUBLISH_SPACING ago; then it waits for the end of that spacing, together with
        // whatever else changed meanwhile. Each publication copies every target and
        // makes routing rebuild, so a mass event (startup, a partition) of thousands of
        // transitions costs a few publications, not thousands.
        let mut last: Option<Instant> = None;
        let mut pending = false;
        loop {
            let publish_at = last.map_or_else(Instant::now, |t| t + PUBLISH_SPACING);
            let changed = tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                _ = sleep_until(publish_at), if pending => {
                    pending = false;
                    last = Some(Instant::now());
                    agg.generation += 1;
                    snap_tx.send_replace(Arc::new(agg.snapshot()));
                    continue;
                }
                // Target changes first: a removed target's late results are then dropped.
                Some(targets) = targets_rx.recv() => agg.set_targets(targets),
                Some(obs) = obs_rx.recv() => agg.observe(obs),
                else => return,
            };
            if changed {
                pending = true;
            }
        }
    });
    (obs_tx, targets_tx, snap_rx, task)
}

/// Every target's states and last result; the single writer of health.
struct Aggregator {
    local_region: Arc<str>,
    entries: HashMap<Target, Entry>,
    generation: u64,
}

struct Entry {
    spec: Arc<CheckSpec>,
    /// Fall/rise per region: results from different vantage points are separate runs, or
    /// one region's failures would keep resetting another's successes.
    regions: HashMap<Arc<str>, TargetState>,
    status: TargetStatus,
}

impl Entry {
    fn new(spec: Arc<CheckSpec>) -> Entry {
        Entry {
            spec,
            regions: HashMap::new(),
            status: TargetStatus {
                health: Health::Unknown,
                since: SystemTime::now(),
                last_reason: NOT_PROBED.to_string(),
                latency: None,
            },
        }
    }
}

impl Aggregator {
    fn new(local_region: Arc<str>) -> Aggregator {
        Aggregator {
            local_region,
            entries: HashMap::new(),
            generation: 0,
        }
    }

    /// Applies one result; true when the published health changed.
    ///
    /// A result that changes nothing is kept (reason, latency) for the next snapshot but not
    /// published: each publication makes routing rebuild its whole table.
    fn observe(&mut self, obs: Observation) -> bool {
        let Some(entry) = self.entries.get_mut(&obs.target) else {
            tracing::debug!(target = %obs.target, region = %obs.region, "observation for a target no longer probed");
            return false;
        };
        let state = entry.regions.entry(obs.region.clone()).or_default();
        let transition = state.observe(obs.ok, entry.spec.fall, entry.spec.rise);
        let local = obs.region == self.local_region;
        if local {
            entry.status.last_reason.clone_from(&obs.reason);
            entry.status.latency = Some(obs.latency);
        }
        if let Some((old, new)) = transition {
            log_transition(&obs, old, new);
        }
        let published = Self::published(&self.local_region, entry);
        if published == entry.status.health {
            return false;
        }
        entry.status.health = published;
        entry.status.since = SystemTime::now();
        true
    }

    /// The health routing sees: today the local region's own verdict.
    fn published(local_region: &Arc<str>, entry: &Entry) -> Health {
        entry
            .regions
            .get(local_region)
            .map_or(Health::Unknown, TargetState::health)
    }

    /// Adopts a new target set; true when the snapshot would differ.
    fn set_targets(&mut self, targets: BTreeMap<Target, Arc<CheckSpec>>) -> bool {
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
        changed
    }

    fn snapshot(&self) -> HealthSnapshot {
        HealthSnapshot {
            generation: self.generation,
            targets: self
                .entries
                .iter()
                .map(|(t, e)| (t.clone(), e.status.clone()))
                .collect(),
        }
    }
}

/// Whether two specs probe the same thing, so the health measured by one holds for the
/// other; timing and thresholds may differ.
fn same_probe(a: &CheckSpec, b: &CheckSpec) -> bool {
    a.kind == b.kind && a.port == b.port
}

fn log_transition(obs: &Observation, old: Health, new: Health) {
    let t = &obs.target;
    if new == Health::Up {
        tracing::info!(
            target = %t, check = %t.check, address = %t.addr, region = %obs.region,
            old = %old, new = %new, reason = %obs.reason,
            "health target up"
        );
    } else {
        tracing::warn!(
            target = %t, check = %t.check, address = %t.addr, region = %obs.region,
            old = %old, new = %new, reason = %obs.reason,
            "health target down"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::backend::{Backend, BackendHandle, Mode};
    use crate::zone::{CheckKind, HttpCheck, StartupState};
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Mutex;
    use tokio::time::timeout;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn http_spec(port: u16, interval_ms: u64, fall: u32, rise: u32) -> Arc<CheckSpec> {
        Arc::new(CheckSpec {
            id: "test.example./web".into(),
            kind: CheckKind::Http(HttpCheck {
                host: None,
                path: "/health".into(),
                expect_status: 200..=299,
                body_contains: None,
                tls_verify: true,
            }),
            port,
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(1000),
            fall,
            rise,
            startup: StartupState::Down,
        })
    }

    fn target(addr: IpAddr, spec: &CheckSpec) -> Target {
        Target {
            check: spec.id.clone(),
            addr,
        }
    }

    fn obs(t: &Target, region: &str, ok: bool, reason: &str, ms: u64) -> Observation {
        Observation {
            target: t.clone(),
            region: region.into(),
            ok,
            reason: reason.into(),
            latency: Duration::from_millis(ms),
        }
    }

    /// Waits for a snapshot satisfying `pred`, failing the test after `within`.
    async fn wait_for(
        rx: &mut watch::Receiver<Arc<HealthSnapshot>>,
        within: Duration,
        what: &str,
        pred: impl FnMut(&Arc<HealthSnapshot>) -> bool,
    ) -> Arc<HealthSnapshot> {
        let found = match timeout(within, rx.wait_for(pred)).await {
            Ok(Ok(snap)) => Some(snap.clone()),
            Ok(Err(_)) => panic!("snapshot channel closed while waiting for {what}"),
            Err(_) => None,
        };
        found.unwrap_or_else(|| {
            panic!(
                "no snapshot with {what} within {within:?}: {:?}",
                rx.borrow()
            )
        })
    }

    #[test]
    fn aggregator_publishes_only_transitions_but_keeps_the_latest_result() {
        let spec = http_spec(80, 1000, 2, 2);
        let t = target(LOCAL, &spec);
        let mut agg = Aggregator::new("here".into());
        assert!(agg.set_targets(BTreeMap::from([(t.clone(), spec.clone())])));
        let s = agg.snapshot();
        assert_eq!(s.targets[&t].health, Health::Unknown);
        assert_eq!(s.targets[&t].last_reason, NOT_PROBED);
        assert_eq!(s.targets[&t].latency, None);

        assert!(agg.observe(obs(&t, "here", true, "HTTP 200", 3)));
        assert!(!agg.observe(obs(&t, "here", false, "timed out", 1000)));
        // Not published, but what the next snapshot will carry.
        let s = agg.snapshot();
        assert_eq!(s.targets[&t].health, Health::Up);
        assert_eq!(s.targets[&t].last_reason, "timed out");
        assert_eq!(s.targets[&t].latency, Some(Duration::from_millis(1000)));
        assert!(agg.observe(obs(&t, "here", false, "connection refused", 0)));
        assert_eq!(agg.snapshot().is_up(&t), Some(false));
    }

    #[test]
    fn other_regions_keep_their_own_streaks_and_do_not_publish_yet() {
        let spec = http_spec(80, 1000, 2, 2);
        let t = target(LOCAL, &spec);
        let mut agg = Aggregator::new("here".into());
        agg.set_targets(BTreeMap::from([(t.clone(), spec)]));
        assert!(agg.observe(obs(&t, "here", true, "HTTP 200", 3)));
        // Interleaved remote failures neither reset the local run nor change the verdict.
        for _ in 0..3 {
            assert!(!agg.observe(obs(&t, "there", false, "timed out", 1000)));
            assert!(!agg.observe(obs(&t, "here", true, "HTTP 200", 3)));
        }
        let entry = &agg.entries[&t];
        assert_eq!(entry.regions["there"].health(), Health::Down);
        assert_eq!(entry.status.health, Health::Up);
        assert_eq!(entry.status.last_reason, "HTTP 200");
    }

    #[test]
    fn observations_for_unknown_targets_are_ignored() {
        let spec = http_spec(80, 1000, 1, 1);
        let mut agg = Aggregator::new("here".into());
        assert!(!agg.observe(obs(&target(LOCAL, &spec), "here", true, "HTTP 200", 1)));
        assert!(agg.snapshot().targets.is_empty());
    }

    #[test]
    fn target_changes_keep_state_unless_the_probe_itself_changed() {
        let spec = http_spec(80, 1000, 1, 1);
        let t = target(LOCAL, &spec);
        let mut agg = Aggregator::new("here".into());
        agg.set_targets(BTreeMap::from([(t.clone(), spec.clone())]));
        agg.observe(obs(&t, "here", true, "HTTP 200", 1));
        let since = agg.entries[&t].status.since;

        // Same set: nothing to publish.
        assert!(!agg.set_targets(BTreeMap::from([(t.clone(), spec.clone())])));
        // Slower interval, higher fall: same probe, state kept, new thresholds used.
        let slower = Arc::new(CheckSpec {
            interval: Duration::from_secs(9),
            fall: 2,
            ..(*spec).clone()
        });
        assert!(!agg.set_targets(BTreeMap::from([(t.clone(), slower)])));
        assert_eq!(agg.entries[&t].status.health, Health::Up);
        assert_eq!(agg.entries[&t].status.since, since);
        assert!(!agg.observe(obs(&t, "here", false, "timed out", 1000)));
        // Another port: what was measured no longer applies.
        let moved = Arc::new(CheckSpec {
            port: 8080,
            ..(*spec).clone()
        });
        assert!(agg.set_targets(BTreeMap::from([(t.clone(), moved)])));
        assert_eq!(agg.snapshot().targets[&t].health, Health::Unknown);
        // Removal.
        assert!(agg.set_targets(BTreeMap::new()));
        assert!(agg.snapshot().targets.is_empty());
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

    #[test]
    fn each_transition_logs_one_line_at_info_for_up_and_warn_for_down() {
        let spec = http_spec(80, 1000, 2, 1);
        let t = target(LOCAL, &spec);
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut agg = Aggregator::new("eu-west".into());
            agg.set_targets(BTreeMap::from([(t.clone(), spec)]));
            agg.observe(obs(&t, "eu-west", true, "HTTP 200", 3));
            agg.observe(obs(&t, "eu-west", true, "HTTP 200", 3));
            agg.observe(obs(&t, "eu-west", false, "HTTP 503", 3));
            agg.observe(obs(&t, "eu-west", false, "unexpected HTTP status 503", 3));
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains(" INFO "), "{}", lines[0]);
        assert!(lines[1].contains(" WARN "), "{}", lines[1]);
        for (line, old, new) in [(lines[0], "unknown", "up"), (lines[1], "up", "down")] {
            for field in [
                "target=test.example./web@127.0.0.1".to_string(),
                "check=test.example./web".to_string(),
                "address=127.0.0.1".to_string(),
                "region=eu-west".to_string(),
                format!("old={old}"),
                format!("new={new}"),
            ] {
                assert!(line.contains(&field), "{field} missing in {line}");
            }
        }
        assert!(
            lines[1].contains("reason=unexpected HTTP status 503"),
            "{}",
            lines[1]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn aggregator_task_applies_fall_and_rise_and_publishes_each_transition() {
        let spec = http_spec(80, 1000, 3, 2);
        let t = target(LOCAL, &spec);
        let stop = CancellationToken::new();
        let (tx, _targets, mut rx, task) = spawn_aggregator(
            "here".into(),
            &BTreeMap::from([(t.clone(), spec)]),
            stop.clone(),
        );
        assert_eq!(rx.borrow_and_update().generation, 0);
        let within = Duration::from_secs(1);
        let send = |ok, reason: &'static str| {
            let tx = tx.clone();
            let t = t.clone();
            async move { tx.send(obs(&t, "here", ok, reason, 5)).await.unwrap() }
        };

        send(true, "HTTP 200").await;
        let s = wait_for(&mut rx, within, "first up", |s| s.generation == 1).await;
        assert_eq!(s.is_up(&t), Some(true));

        // Two failures, a success, then three failures: only the third of those publishes.
        for (ok, reason) in [(false, "a"), (false, "b"), (true, "c")] {
            send(ok, reason).await;
        }
        for reason in ["d", "e", "timed out"] {
            send(false, reason).await;
        }
        let s = wait_for(&mut rx, within, "down", |s| s.generation >= 2).await;
        assert_eq!(s.generation, 2, "a non-transition was published");
        assert_eq!(s.is_up(&t), Some(false));
        assert_eq!(s.targets[&t].last_reason, "timed out");

        // rise = 2, with a failure in between resetting the run.
        for (ok, reason) in [(true, "f"), (false, "g"), (true, "h"), (true, "HTTP 204")] {
            send(ok, reason).await;
        }
        let s = wait_for(&mut rx, within, "up again", |s| s.generation >= 3).await;
        assert_eq!(s.generation, 3);
        assert_eq!(s.is_up(&t), Some(true));
        assert_eq!(s.targets[&t].last_reason, "HTTP 204");
        assert_eq!(s.targets[&t].latency, Some(Duration::from_millis(5)));

        stop.cancel();
        timeout(within, task).await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_transitions_is_published_together() {
        let spec = http_spec(80, 1000, 3, 2);
        let targets: BTreeMap<Target, Arc<CheckSpec>> = (1..=200u8)
            .map(|n| (target(IpAddr::from([127, 0, 1, n]), &spec), spec.clone()))
            .collect();
        let stop = CancellationToken::new();
        let (tx, _targets, mut rx, task) = spawn_aggregator("here".into(), &targets, stop.clone());
        for t in targets.keys() {
            tx.send(obs(t, "here", true, "HTTP 200", 1)).await.unwrap();
        }
        let s = wait_for(&mut rx, Duration::from_secs(1), "all up", |s| {
            s.targets.values().all(|t| t.health == Health::Up)
        })
        .await;
        // The first transition at once, the other 199 in one more publication or two.
        assert!(s.generation <= 3, "{} publications", s.generation);
        // A lone change later is published at once again.
        let first = targets.keys().next().unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        for _ in 0..3 {
            tx.send(obs(first, "here", false, "HTTP 503", 1))
                .await
                .unwrap();
        }
        let before = Instant::now();
        let s = wait_for(&mut rx, Duration::from_secs(1), "down", |s| {
            s.is_up(first) == Some(false)
        })
        .await;
        assert_eq!(Instant::now(), before, "published without waiting");
        assert_eq!(
            s.targets
                .values()
                .filter(|t| t.health == Health::Up)
                .count(),
            199
        );
        stop.cancel();
        timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn probes_start_at_a_random_phase_then_follow_the_interval_with_jitter() {
        let interval = Duration::from_secs(10);
        let spec = http_spec(80, 10_000, 1, 1);
        let stop = CancellationToken::new();
        let (tx, mut rx) = mpsc::channel(16);
        let start = Instant::now();
        let mut loops = Vec::new();
        for i in 1..=8u8 {
            let t = target(IpAddr::from([127, 0, 0, i]), &spec);
            let probe = || async {
                ProbeOutcome {
                    ok: true,
                    reason: ProbeReason::Connected,
                    latency: Duration::ZERO,
                }
            };
            loops.push(tokio::spawn(probe_loop(
                t,
                "here".into(),
                interval,
                probe,
                tx.clone(),
                stop.clone(),
            )));
        }
        let mut seen: HashMap<Target, Vec<Duration>> = HashMap::new();
        while seen.values().map(Vec::len).sum::<usize>() < 8 * 20 {
            let o = timeout(interval * 2, rx.recv()).await.unwrap().unwrap();
            seen.entry(o.target).or_default().push(start.elapsed());
        }
        assert_eq!(seen.len(), 8);
        let mut firsts = Vec::new();
        let mut gaps = Vec::new();
        for times in seen.values() {
            firsts.push(times[0]);
            assert!(times[0] < interval, "first probe at {:?}", times[0]);
            gaps.extend(times.windows(2).map(|w| w[1] - w[0]));
        }
        for gap in &gaps {
            assert!(
                (interval.mul_f64(0.9)..=interval.mul_f64(1.1)).contains(gap),
                "gap {gap:?}"
            );
        }
        firsts.sort();
        firsts.dedup();
        assert!(firsts.len() > 1, "every prober started in phase");
        gaps.sort();
        assert!(gaps[gaps.len() - 1] - gaps[0] > interval / 100, "no jitter");

        stop.cancel();
        for l in loops {
            timeout(Duration::from_secs(1), l).await.unwrap().unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_longer_than_the_interval_delays_the_next_instead_of_overlapping() {
        let interval = Duration::from_secs(1);
        let spec = http_spec(80, 1000, 1, 1);
        let t = target(LOCAL, &spec);
        let running = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = running.clone();
        let probe = move || {
            let flag = flag.clone();
            async move {
                assert!(
                    !flag.swap(true, std::sync::atomic::Ordering::SeqCst),
                    "overlap"
                );
                sleep(Duration::from_secs(3)).await;
                flag.store(false, std::sync::atomic::Ordering::SeqCst);
                ProbeOutcome {
                    ok: false,
                    reason: ProbeReason::Timeout,
                    latency: Duration::from_secs(3),
                }
            }
        };
        let (tx, mut rx) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let task = tokio::spawn(probe_loop(
            t,
            "here".into(),
            interval,
            probe,
            tx,
            stop.clone(),
        ));
        let mut last = None;
        for _ in 0..4 {
            timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap()
                .unwrap();
            let now = Instant::now();
            if let Some(prev) = last {
                assert_eq!(now - prev, Duration::from_secs(3));
            }
            last = Some(now);
        }
        stop.cancel();
        timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }

    async fn healthy_backend() -> BackendHandle {
        Backend::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }

    const REAL: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_real_target_goes_up_then_down_then_up_with_its_backend() {
        let backend = healthy_backend().await;
        let spec = http_spec(backend.addr().port(), 50, 2, 2);
        let t = target(LOCAL, &spec);
        let (monitor, mut rx) =
            HealthMonitor::start("local".into(), BTreeMap::from([(t.clone(), spec)]));
        assert_eq!(rx.borrow().is_up(&t), None);

        let s = wait_for(&mut rx, REAL, "up", |s| s.is_up(&t) == Some(true)).await;
        assert_eq!(s.targets[&t].last_reason, "HTTP 200");
        assert!(s.targets[&t].latency.is_some());

        backend.set_mode(Mode::Status(503)).await.unwrap();
        let s = wait_for(&mut rx, REAL, "down", |s| s.is_up(&t) == Some(false)).await;
        assert_eq!(s.targets[&t].last_reason, "unexpected HTTP status 503");

        backend.set_mode(Mode::Refuse).await.unwrap();
        backend.set_mode(Mode::Healthy).await.unwrap();
        wait_for(&mut rx, REAL, "up again", |s| s.is_up(&t) == Some(true)).await;
        assert!(backend.hits() >= 5, "hits: {}", backend.hits());

        // Stopping closes the channel once the aggregator has gone.
        drop(monitor);
        let closed = timeout(REAL, async { while rx.changed().await.is_ok() {} }).await;
        assert!(closed.is_ok(), "aggregator still running after drop");
    }

    #[tokio::test]
    async fn a_refusing_target_is_reported_down_with_the_reason() {
        let backend = healthy_backend().await;
        backend.set_mode(Mode::Refuse).await.unwrap();
        let spec = http_spec(backend.addr().port(), 50, 1, 1);
        let t = target(LOCAL, &spec);
        let (monitor, mut rx) =
            HealthMonitor::start("local".into(), BTreeMap::from([(t.clone(), spec)]));
        let s = wait_for(&mut rx, REAL, "down", |s| s.is_up(&t) == Some(false)).await;
        assert_eq!(s.targets[&t].last_reason, "connection refused");
        monitor.shutdown().await;
    }

    #[tokio::test]
    async fn reconcile_starts_stops_and_restarts_probers_keeping_unchanged_state() {
        let (a, b) = (healthy_backend().await, healthy_backend().await);
        let spec_a = http_spec(a.addr().port(), 50, 1, 1);
        let spec_b = http_spec(b.addr().port(), 50, 1, 1);
        let ta = Target {
            check: "test.example./a".into(),
            addr: LOCAL,
        };
        let tb = Target {
            check: "test.example./b".into(),
            addr: LOCAL,
        };
        let (mut monitor, mut rx) = HealthMonitor::start(
            "local".into(),
            BTreeMap::from([(ta.clone(), spec_a.clone())]),
        );
        let s = wait_for(&mut rx, REAL, "a up", |s| s.is_up(&ta) == Some(true)).await;
        let a_since = s.targets[&ta].since;
        let a_task = monitor.probers[&ta].task.abort_handle();

        // Add b; a is untouched: same task, same state.
        monitor.reconcile(BTreeMap::from([
            (ta.clone(), spec_a.clone()),
            (tb.clone(), spec_b.clone()),
        ]));
        let s = wait_for(&mut rx, REAL, "b up", |s| s.is_up(&tb) == Some(true)).await;
        assert_eq!(s.targets[&ta].since, a_since);
        assert_eq!(monitor.probers[&ta].task.id(), a_task.id());
        assert_eq!(monitor.targets().count(), 2);

        // Remove a, and slow b's interval: a's prober ends, b's restarts and stays up.
        let b_task = monitor.probers[&tb].task.abort_handle();
        let spec_b2 = Arc::new(CheckSpec {
            interval: Duration::from_millis(60),
            ..(*spec_b).clone()
        });
        monitor.reconcile(BTreeMap::from([(tb.clone(), spec_b2.clone())]));
        let s = wait_for(&mut rx, REAL, "a gone", |s| !s.targets.contains_key(&ta)).await;
        assert_eq!(s.is_up(&tb), Some(true));
        assert_ne!(monitor.probers[&tb].task.id(), b_task.id());
        let deadline = Instant::now() + REAL;
        while !(a_task.is_finished() && b_task.is_finished()) {
            assert!(Instant::now() < deadline, "old probers still running");
            sleep(Duration::from_millis(10)).await;
        }

        // A changed path is a different probe: b starts over, then is measured again.
        let mut spec_b3 = (*spec_b2).clone();
        if let CheckKind::Http(http) = &mut spec_b3.kind {
            http.path = "/ready".into();
        }
        // The reset and the new first result may be published together (publications
        // are spaced), so look for the end state: up again, since a later moment.
        let (g, old_since) = {
            let s = rx.borrow_and_update();
            (s.generation, s.targets[&tb].since)
        };
        monitor.reconcile(BTreeMap::from([(tb.clone(), Arc::new(spec_b3))]));
        let s = wait_for(&mut rx, REAL, "b up again after a reset", |s| {
            s.generation > g && s.is_up(&tb) == Some(true) && s.targets[&tb].since > old_since
        })
        .await;
        assert_eq!(s.targets[&tb].last_reason, "HTTP 200");
        monitor.shutdown().await;
    }
}
