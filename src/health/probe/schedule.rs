//! When a target is probed: a prober task per target that probes at a random phase, then
//! every interval with jitter, never two probes at once, and sends each result as an
//! [`Observation`]. The nameserver's monitor and the probe agents run the same loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::{ProbeOutcome, ProbeReason, Prober};
use crate::health::metrics::{CheckLabels, HealthMetrics};
use crate::health::observation::Observation;
use crate::zone::{CheckSpec, Target};

/// Jitter applied to each interval, as a fraction: enough to spread probes that started
/// together, small enough to keep the configured rate. The failover budget counts it.
const JITTER: f64 = crate::zone::PROBE_JITTER;

/// Starts probing one target, sending each result to `tx` until `stop`. Probe agents use
/// this directly; the monitor uses it for its own region.
pub fn spawn_prober(
    target: Target,
    spec: Arc<CheckSpec>,
    region: Arc<str>,
    sender: Arc<str>,
    tx: mpsc::Sender<Observation>,
    stop: CancellationToken,
    metrics: Arc<HealthMetrics>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Built once here rather than per tick: it holds the TLS config and root store.
        let prober = match Prober::new(spec.clone(), target.addr) {
            Ok(p) => Ok(Arc::new(p)),
            Err(e) => {
                tracing::error!(target = %target, error = %e, "cannot build the prober; the target will be reported down");
                Err(ProbeReason::Setup(e.to_string()))
            }
        };
        let (check, kind) = (CheckLabels::new(&spec.id), spec.kind.name());
        let probe = move || {
            let prober = prober.clone();
            let (metrics, check) = (metrics.clone(), check.clone());
            async move {
                let outcome = match prober {
                    Ok(p) => p.probe().await,
                    Err(reason) => ProbeOutcome {
                        ok: false,
                        reason,
                        latency: Duration::ZERO,
                    },
                };
                metrics.record_probe(&check, kind, &outcome);
                outcome
            }
        };
        let from = (region, sender);
        probe_loop(target, from, spec.interval, probe, tx, stop).await;
    })
}

/// The first probe of each target starts within this of the prober's start: a start
/// decides from a first round of real results, and a round of thousands of targets is
/// still spread over a moment rather than fired at once.
pub const FIRST_PROBE_SPREAD: Duration = Duration::from_millis(200);

/// Probes once within [`FIRST_PROBE_SPREAD`], again after a random `[0.5, 1.5)` of
/// `interval` (which spreads targets that started together over the interval), then
/// every `interval` ± 10%, measured from the start of one probe to the start of the
/// next, and never two probes at once.
async fn probe_loop<F, Fut>(
    target: Target,
    (region, sender): (Arc<str>, Arc<str>),
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
        _ = sleep(first_phase(interval.min(FIRST_PROBE_SPREAD))) => {}
    }
    let mut first = true;
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
            sender: sender.clone(),
            ok: outcome.ok,
            reason: outcome.reason.to_string(),
            latency: outcome.latency,
        };
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            sent = tx.send(obs) => if sent.is_err() { return },
        }
        let due = started
            + if std::mem::take(&mut first) {
                interval.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
            } else {
                jittered(interval)
            };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::testing::{http_spec, target};
    use std::collections::HashMap;
    use std::net::{IpAddr, Ipv4Addr};
    use tokio::time::timeout;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[tokio::test(start_paused = true)]
    async fn probes_start_at_once_then_at_a_random_phase_then_follow_the_interval_with_jitter() {
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
                ("here".into(), "me".into()),
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
            // The first probe comes at once (a quiet start needs a first round), the
            // second at a random phase that spreads the probers over the interval. Tokio's
            // timer rounds up to the millisecond, so a draw just under the spread lands on it.
            assert!(
                times[0] <= FIRST_PROBE_SPREAD,
                "first probe at {:?}",
                times[0]
            );
            let second = times[1] - times[0];
            assert!(
                (interval.mul_f64(0.5)..interval.mul_f64(1.5)).contains(&second),
                "second probe after {second:?}"
            );
            firsts.push(times[1]);
            gaps.extend(times[1..].windows(2).map(|w| w[1] - w[0]));
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
            ("here".into(), "me".into()),
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
}
