//! The running part of health checking: one prober task per target (its loop is
//! `probe::schedule`), and one aggregator task that owns every vote and publishes a
//! [`HealthSnapshot`] when health changes.
//!
//! Probers only send [`Observation`]s; the aggregator (`decide`) is the single writer of
//! health, so no lock is shared and no prober can stall another. Observations carry their
//! region and sender, so probe agents elsewhere feed the same aggregator through
//! [`HealthMonitor::reports`]; a sweep on a timer applies what time alone changes
//! (staleness, hold-downs, suspicions).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::decide::{Aggregator, DecisionConfig};
use super::metrics::HealthMetrics;
use super::observation::Observation;
// The prober loop lives with the probing wing; agents and benches name it from here.
pub use super::probe::schedule::{spawn_prober, PROBE_LAG_TARGET};
use super::snapshot::HealthSnapshot;
use super::view::QuorumView;
use crate::zone::{CheckSpec, Target};

/// Room for a burst of results from every prober at once; beyond that probers wait, which
/// only delays their next probe.
const OBSERVATION_QUEUE: usize = 1024;

/// Reports waiting for the aggregator; beyond that the report endpoint waits, which pushes
/// back on the agents instead of buffering without bound.
const REPORT_QUEUE: usize = 256;

/// How often the aggregator looks at what time alone changes: staleness, hold-downs and
/// suspicions move within this of their due time.
pub const SWEEP: Duration = Duration::from_millis(250);

/// This process's name as a prober: host, pid and a random tag, so a restarted agent is a
/// new vantage point and a nameserver can recognise its own reports.
pub fn process_sender() -> Arc<str> {
    static ID: OnceLock<Arc<str>> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        let tag: u16 = rand::thread_rng().gen();
        format!("{host}-{}-{tag:04x}", std::process::id()).into()
    })
    .clone()
}

/// How a monitor probes and decides.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// The region this process's probes speak for.
    pub region: Arc<str>,
    pub sender: Arc<str>,
    pub decisions: DecisionConfig,
    /// Also hand every local result to this sender (the reporter that shares them with
    /// the other nameservers); dropped when it is full rather than slowing the probers.
    pub tee: Option<mpsc::Sender<Observation>>,
    /// Probe the targets from here (the default). Off, this process only aggregates what
    /// is reported to it: benchmarks of the report path.
    pub local_probes: bool,
}

impl MonitorOptions {
    pub fn local(region: Arc<str>) -> MonitorOptions {
        MonitorOptions {
            region,
            sender: process_sender(),
            decisions: DecisionConfig::default(),
            tee: None,
            local_probes: true,
        }
    }
}

/// Least time between two health publications: short beside any probe interval, long
/// enough that a burst of transitions is published together.
const PUBLISH_SPACING: Duration = crate::zone::budget::PUBLISH_SPACING;

/// Runs the probers and the aggregator. Dropping it stops them all.
pub struct HealthMonitor {
    local_region: Arc<str>,
    sender: Arc<str>,
    observations: mpsc::Sender<Observation>,
    /// Where probers send: the aggregator, or the relay that also feeds the tee.
    probe_tx: mpsc::Sender<Observation>,
    reports: mpsc::Sender<Vec<Observation>>,
    views: mpsc::Sender<oneshot::Sender<QuorumView>>,
    targets_tx: mpsc::UnboundedSender<BTreeMap<Target, Arc<CheckSpec>>>,
    probers: HashMap<Target, ProberTask>,
    stop: CancellationToken,
    aggregator: JoinHandle<()>,
    metrics: Arc<HealthMetrics>,
    local_probes: bool,
}

struct ProberTask {
    spec: Arc<CheckSpec>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Asks the aggregator for its current view; cheap to clone, usable from any task.
#[derive(Clone)]
pub struct QuorumHandle {
    views: mpsc::Sender<oneshot::Sender<QuorumView>>,
}

impl QuorumHandle {
    /// `None` once the monitor has stopped.
    pub async fn view(&self) -> Option<QuorumView> {
        let (tx, rx) = oneshot::channel();
        self.views.send(tx).await.ok()?;
        rx.await.ok()
    }
}

impl HealthMonitor {
    /// Starts probing `targets` from `local_region`, deciding from this region alone
    /// unless other regions report. Must be called inside a Tokio runtime.
    ///
    /// The receiver holds a generation-0 snapshot with every target `Unknown` right away.
    pub fn start(
        local_region: Arc<str>,
        targets: BTreeMap<Target, Arc<CheckSpec>>,
    ) -> (HealthMonitor, watch::Receiver<Arc<HealthSnapshot>>) {
        Self::start_with(MonitorOptions::local(local_region), targets)
    }

    pub fn start_with(
        opts: MonitorOptions,
        targets: BTreeMap<Target, Arc<CheckSpec>>,
    ) -> (HealthMonitor, watch::Receiver<Arc<HealthSnapshot>>) {
        let stop = CancellationToken::new();
        let metrics = Arc::new(HealthMetrics::default());
        let agg = spawn_aggregator(
            opts.region.clone(),
            opts.decisions,
            &targets,
            stop.clone(),
            metrics.clone(),
        );
        let local_probes = opts.local_probes;
        let probe_tx = match opts.tee {
            None => agg.observations.clone(),
            Some(tee) => relay(agg.observations.clone(), tee, stop.clone()),
        };
        let mut monitor = HealthMonitor {
            local_region: opts.region,
            sender: opts.sender,
            observations: agg.observations,
            probe_tx,
            reports: agg.reports,
            views: agg.views,
            targets_tx: agg.targets,
            probers: HashMap::new(),
            stop,
            aggregator: agg.task,
            metrics,
            local_probes,
        };
        if local_probes {
            for (target, spec) in targets {
                monitor.spawn_prober(target, spec);
            }
        }
        (monitor, agg.snapshots)
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
            if self.local_probes && !self.probers.contains_key(&target) {
                self.spawn_prober(target, spec);
            }
        }
    }

    /// A sender into the aggregator, for single observations made elsewhere.
    pub fn observations(&self) -> mpsc::Sender<Observation> {
        self.observations.clone()
    }

    /// A sender into the aggregator for a whole report at once (one sender, one region).
    pub fn reports(&self) -> mpsc::Sender<Vec<Observation>> {
        self.reports.clone()
    }

    /// Probe latencies, results and transitions, for `/metrics`.
    pub fn metrics(&self) -> Arc<HealthMetrics> {
        self.metrics.clone()
    }

    /// A handle for status: the votes and how they were decided.
    pub fn quorum(&self) -> QuorumHandle {
        QuorumHandle {
            views: self.views.clone(),
        }
    }

    /// This process's name as a prober.
    pub fn sender(&self) -> &Arc<str> {
        &self.sender
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
        let task = spawn_prober(
            target.clone(),
            spec.clone(),
            self.local_region.clone(),
            self.sender.clone(),
            self.probe_tx.clone(),
            stop.clone(),
            self.metrics.clone(),
        );
        self.probers.insert(target, ProberTask { spec, stop, task });
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Forwards local results to the aggregator, and a copy to `tee` when it has room.
fn relay(
    to: mpsc::Sender<Observation>,
    tee: mpsc::Sender<Observation>,
    stop: CancellationToken,
) -> mpsc::Sender<Observation> {
    let (tx, mut rx) = mpsc::channel::<Observation>(OBSERVATION_QUEUE);
    tokio::spawn(async move {
        loop {
            let obs = tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                o = rx.recv() => match o { Some(o) => o, None => return },
            };
            if let Err(mpsc::error::TrySendError::Full(_)) = tee.try_send(obs.clone()) {
                tracing::debug!("reporter queue full: a local result is not shared");
            }
            if to.send(obs).await.is_err() {
                return;
            }
        }
    });
    tx
}

enum Input {
    One(Observation),
    Many(Vec<Observation>),
}

/// The next local result or remote report, taken fairly: neither source can starve the
/// other (`select!` without `biased` picks among the ready ones at random).
async fn next_input(
    obs: &mut mpsc::Receiver<Observation>,
    reports: &mut mpsc::Receiver<Vec<Observation>>,
) -> Option<Input> {
    tokio::select! {
        Some(o) = obs.recv() => Some(Input::One(o)),
        Some(b) = reports.recv() => Some(Input::Many(b)),
        else => None,
    }
}

/// The aggregator task's inputs and output.
struct SpawnedAggregator {
    observations: mpsc::Sender<Observation>,
    reports: mpsc::Sender<Vec<Observation>>,
    views: mpsc::Sender<oneshot::Sender<QuorumView>>,
    targets: mpsc::UnboundedSender<BTreeMap<Target, Arc<CheckSpec>>>,
    snapshots: watch::Receiver<Arc<HealthSnapshot>>,
    task: JoinHandle<()>,
}

fn spawn_aggregator(
    local_region: Arc<str>,
    decisions: DecisionConfig,
    targets: &BTreeMap<Target, Arc<CheckSpec>>,
    stop: CancellationToken,
    metrics: Arc<HealthMetrics>,
) -> SpawnedAggregator {
    let mut agg = Aggregator::new(local_region, decisions, metrics);
    agg.set_targets(targets.clone());
    let (snap_tx, snap_rx) = watch::channel(Arc::new(agg.snapshot()));
    let (obs_tx, mut obs_rx) = mpsc::channel(OBSERVATION_QUEUE);
    let (rep_tx, mut rep_rx) = mpsc::channel::<Vec<Observation>>(REPORT_QUEUE);
    let (view_tx, mut view_rx) = mpsc::channel::<oneshot::Sender<QuorumView>>(16);
    let (targets_tx, mut targets_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
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
                    snap_tx.send_replace(Arc::new(agg.publish()));
                    continue;
                }
                // Target changes first: a removed target's late results are then dropped.
                Some(targets) = targets_rx.recv() => agg.set_targets(targets),
                // Time and status before results, so a flood of reports can't hold them off.
                _ = sweep.tick() => agg.sweep(Instant::now()),
                Some(reply) = view_rx.recv() => {
                    let _ = reply.send(agg.view(Instant::now()));
                    false
                }
                Some(input) = next_input(&mut obs_rx, &mut rep_rx) => {
                    let now = Instant::now();
                    match input {
                        Input::One(obs) => agg.observe(obs, now),
                        Input::Many(batch) => {
                            let mut changed = false;
                            for obs in batch {
                                changed |= agg.observe(obs, now);
                            }
                            changed
                        }
                    }
                }
            };
            if changed {
                pending = true;
            }
        }
    });
    SpawnedAggregator {
        observations: obs_tx,
        reports: rep_tx,
        views: view_tx,
        targets: targets_tx,
        snapshots: snap_rx,
        task,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::backend::{Backend, BackendHandle, Mode};
    use crate::health::testing::{http_spec, target};
    use crate::zone::CheckKind;
    use std::net::{IpAddr, Ipv4Addr};
    use tokio::time::{sleep, timeout};

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn obs(t: &Target, region: &str, ok: bool, reason: &str, ms: u64) -> Observation {
        Observation {
            target: t.clone(),
            region: region.into(),
            sender: format!("{region}-prober").into(),
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

    #[tokio::test(start_paused = true)]
    async fn aggregator_task_applies_fall_and_rise_and_publishes_each_transition() {
        let spec = http_spec(80, 1000, 3, 2);
        let t = target(LOCAL, &spec);
        let stop = CancellationToken::new();
        let SpawnedAggregator {
            observations: tx,
            snapshots: mut rx,
            task,
            ..
        } = spawn_aggregator(
            "here".into(),
            DecisionConfig::default(),
            &BTreeMap::from([(t.clone(), spec)]),
            stop.clone(),
            Arc::default(),
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
        let SpawnedAggregator {
            observations: tx,
            snapshots: mut rx,
            task,
            ..
        } = spawn_aggregator(
            "here".into(),
            DecisionConfig::default(),
            &targets,
            stop.clone(),
            Arc::default(),
        );
        for t in targets.keys() {
            tx.send(obs(t, "here", true, "HTTP 200", 1)).await.unwrap();
        }
        let s = wait_for(&mut rx, Duration::from_secs(1), "all up", |s| {
            s.targets
                .values()
                .all(|t| t.health == crate::health::Health::Up)
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
                .filter(|t| t.health == crate::health::Health::Up)
                .count(),
            199
        );
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
    async fn a_hung_target_never_delays_another_targets_probes() {
        let (hung, healthy) = (healthy_backend().await, healthy_backend().await);
        hung.set_mode(Mode::Hang).await.unwrap();
        // Both probe every 100 ms with a 3 s timeout: were probes serialized behind the
        // hung one, the healthy target could not be up before that timeout fires.
        let probe_timeout = Duration::from_secs(3);
        let with = |port: u16, name: &str| {
            Arc::new(CheckSpec {
                id: format!("test.example./{name}").into(),
                timeout: probe_timeout,
                ..(*http_spec(port, 100, 1, 1)).clone()
            })
        };
        let (spec_h, spec_ok) = (
            with(hung.addr().port(), "hung"),
            with(healthy.addr().port(), "ok"),
        );
        let (th, tok) = (target(LOCAL, &spec_h), target(LOCAL, &spec_ok));
        let started = Instant::now();
        let (monitor, mut rx) = HealthMonitor::start(
            "local".into(),
            BTreeMap::from([(th.clone(), spec_h), (tok.clone(), spec_ok)]),
        );
        let s = wait_for(
            &mut rx,
            probe_timeout - Duration::from_millis(500),
            "healthy up",
            |s| s.is_up(&tok) == Some(true),
        )
        .await;
        assert!(started.elapsed() < probe_timeout, "{:?}", started.elapsed());
        // The hung target's first probe is still waiting for its timeout.
        assert_eq!(s.is_up(&th), None, "{:?}", s.targets.get(&th));

        let s = wait_for(&mut rx, REAL, "hung down", |s| s.is_up(&th) == Some(false)).await;
        assert_eq!(s.targets[&th].last_reason, "timed out");
        assert!(started.elapsed() >= probe_timeout);
        // And the healthy one stayed up all along.
        assert_eq!(s.is_up(&tok), Some(true));
        monitor.shutdown().await;
        hung.stop();
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
