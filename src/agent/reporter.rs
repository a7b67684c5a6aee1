//! The sending end of reports: gathers results for one batch period, then signs and posts
//! them to every nameserver, each through its own outbox so a slow or dead nameserver
//! never delays the others.
//!
//! Results are perishable: a batch that can't be delivered is dropped, not retried, since
//! by the time it could be the next results are on their way, and old results replayed
//! as new would make a silent prober look alive.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::auth::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::ingest::Reject;
use super::report::{Report, WireObservation};
use crate::config::agents::Secret;
use crate::health::Observation;

/// Results per report: keeps each request far below the receiver's size limit.
const MAX_PER_REPORT: usize = 5_000;
/// Results waiting for one nameserver; beyond that the oldest go first.
const MAX_PENDING: usize = 100_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Who reports, and where to.
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    pub region: Arc<str>,
    pub sender: Arc<str>,
    pub secret: Secret,
    pub destinations: Vec<Url>,
    pub batch: Duration,
}

/// Delivery counters, for the agent's `/metrics` (see `agent::serve`), logs and tests.
#[derive(Debug, Default)]
pub struct ReporterStats {
    /// Reports a nameserver accepted.
    pub sent: AtomicU64,
    /// Reports refused or not answered.
    pub failed: AtomicU64,
    /// Results dropped: undeliverable, or pushed out of a full outbox.
    pub dropped: AtomicU64,
    /// Probe results handed to the reporter: one per probe run.
    pub probes: AtomicU64,
    /// Results in reports a nameserver accepted.
    pub results_sent: AtomicU64,
    /// Unix milliseconds of the last accepted report; 0 before the first.
    pub last_success_ms: AtomicU64,
    /// Reports by outcome: accepted, refused (with the nameserver's reason), failed.
    pub outcomes: Family<SendOutcome, Counter>,
}

/// How one report fared; every value is from a fixed set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendOutcome {
    pub result: &'static str,
    pub reason: &'static str,
}

impl SendOutcome {
    /// The nameserver refused with `body`: its reason word (`ingest::Reject`), plain on
    /// a report listener, `{"error": "..."}` on a control listener. Anything else is
    /// `other`, so a label never takes a new value.
    fn refused(body: &str) -> SendOutcome {
        let json = serde_json::from_str::<serde_json::Value>(body).ok();
        let word = json
            .as_ref()
            .and_then(|v| v["error"].as_str())
            .unwrap_or(body)
            .trim();
        let reason = Reject::ALL
            .iter()
            .map(|r| r.as_str())
            .find(|r| *r == word)
            .unwrap_or("other");
        SendOutcome {
            result: "refused",
            reason,
        }
    }
}

#[derive(Default)]
struct Outbox {
    pending: Mutex<VecDeque<WireObservation<'static>>>,
    ready: Notify,
}

/// Starts reporting what arrives on `rx` until `stop` or until every sender is gone.
pub fn spawn(
    cfg: ReporterConfig,
    mut rx: mpsc::Receiver<Observation>,
    stop: CancellationToken,
) -> (tokio::task::JoinHandle<()>, Arc<ReporterStats>) {
    let stats = Arc::new(ReporterStats::default());
    let task_stats = stats.clone();
    let task = tokio::spawn(async move {
        let stats = task_stats;
        let client = match reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the report client; nothing will be reported");
                return;
            }
        };
        // Grows across restarts too: a restarted sender picks a new name, but a clock
        // start keeps the numbers meaningful in logs.
        let seq = Arc::new(AtomicU64::new(auth::unix_ms()));
        let mut senders = JoinSet::new();
        let mut outboxes = Vec::new();
        for url in &cfg.destinations {
            let outbox = Arc::new(Outbox::default());
            outboxes.push(outbox.clone());
            senders.spawn(deliver(
                url.clone(),
                outbox,
                client.clone(),
                cfg.clone(),
                seq.clone(),
                stats.clone(),
                stop.clone(),
            ));
        }
        let mut batch: Vec<WireObservation<'static>> = Vec::new();
        let mut tick = tokio::time::interval(cfg.batch);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The tick before the queue: under a steady stream of results the batch must
            // still go out on time.
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                _ = tick.tick() => {
                    if batch.is_empty() {
                        continue;
                    }
                    for outbox in &outboxes {
                        let mut pending = outbox.pending.lock().unwrap_or_else(|p| p.into_inner());
                        pending.extend(batch.iter().cloned());
                        let excess = pending.len().saturating_sub(MAX_PENDING);
                        if excess > 0 {
                            pending.drain(..excess);
                            stats.dropped.fetch_add(excess as u64, Ordering::Relaxed);
                        }
                        drop(pending);
                        outbox.ready.notify_one();
                    }
                    batch.clear();
                }
                o = rx.recv() => match o {
                    Some(o) => {
                        stats.probes.fetch_add(1, Ordering::Relaxed);
                        batch.push(WireObservation::from_observation(&o));
                    }
                    None => break,
                },
            }
        }
        stop.cancel();
        while senders.join_next().await.is_some() {}
    });
    (task, stats)
}

/// Sends everything that gathers in `outbox` to one nameserver, one request at a time so
/// its sequence numbers arrive in order.
async fn deliver(
    url: Url,
    outbox: Arc<Outbox>,
    client: reqwest::Client,
    cfg: ReporterConfig,
    seq: Arc<AtomicU64>,
    stats: Arc<ReporterStats>,
    stop: CancellationToken,
) {
    let mut healthy = true;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = outbox.ready.notified() => {}
        }
        let pending: Vec<WireObservation<'static>> = {
            let mut p = outbox.pending.lock().unwrap_or_else(|p| p.into_inner());
            p.drain(..).collect()
        };
        for chunk in pending.chunks(MAX_PER_REPORT) {
            let report = Report {
                region: cfg.region.as_ref().into(),
                sender: cfg.sender.as_ref().into(),
                seq: seq.fetch_add(1, Ordering::Relaxed),
                observations: chunk.to_vec(),
            };
            let body = match serde_json::to_vec(&report) {
                Ok(b) => b,
                Err(e) => {
                    warn!(error = %e, "cannot encode a report");
                    continue;
                }
            };
            let ts = auth::unix_ms();
            let signature = auth::sign(&cfg.secret, ts, &body);
            let sent = tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                r = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(TIMESTAMP_HEADER, ts.to_string())
                    .header(SIGNATURE_HEADER, signature)
                    .body(body)
                    .send() => r,
            };
            let outcome = match sent {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    stats
                        .outcomes
                        .get_or_create(&SendOutcome::refused(&body))
                        .inc();
                    Err(format!("HTTP {status}: {}", body.trim()))
                }
                Err(e) => {
                    let failed = SendOutcome {
                        result: "failed",
                        reason: if e.is_timeout() {
                            "timeout"
                        } else {
                            "unreachable"
                        },
                    };
                    stats.outcomes.get_or_create(&failed).inc();
                    Err(error_text(&e))
                }
            };
            match outcome {
                Ok(()) => {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    stats
                        .results_sent
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    stats
                        .last_success_ms
                        .store(auth::unix_ms(), Ordering::Relaxed);
                    stats
                        .outcomes
                        .get_or_create(&SendOutcome {
                            result: "accepted",
                            reason: "",
                        })
                        .inc();
                    if !healthy {
                        info!(nameserver = %url, "reporting again");
                        healthy = true;
                    }
                    debug!(nameserver = %url, results = chunk.len(), "report sent");
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    stats
                        .dropped
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if healthy {
                        warn!(nameserver = %url, error = %e, "cannot report; results are dropped until it answers");
                        healthy = false;
                    }
                }
            }
        }
    }
}

fn error_text(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::SendOutcome;

    #[test]
    fn a_refusal_reason_is_read_from_plain_or_json_bodies_and_only_known_words_count() {
        assert_eq!(
            SendOutcome::refused("bad_signature").reason,
            "bad_signature"
        );
        assert_eq!(
            SendOutcome::refused(r#"{"error":"replayed"}"#).reason,
            "replayed"
        );
        assert_eq!(
            SendOutcome::refused(r#"{"error":"anything new"}"#).reason,
            "other"
        );
        assert_eq!(
            SendOutcome::refused("<html>proxy error</html>").reason,
            "other"
        );
    }
}
