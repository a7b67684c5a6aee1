//! The nameserver's end of probe reports, as an `axum::Router` to mount on whichever HTTP
//! listener serves control traffic: `POST /v1/reports` takes signed batches from probe
//! agents into the aggregator; `GET /v1/quorum` shows the votes and the report counters.
//!
//! Every report is authenticated before anything in it is read (see `auth`); rejected
//! ones are counted by reason and logged at most every few seconds per reason, so a
//! misconfigured agent can't flood the log.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::auth::{self, AuthError, ReplayGuard, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::report::{Report, QUORUM_PATH, REPORTS_PATH};
use crate::config::agents::AgentsConfig;
use crate::health::{Observation, QuorumHandle, QuorumView};

/// Far above a real report (10,000 results are about 1 MB); the reporter splits larger
/// batches, so anything bigger is not ours.
pub const MAX_REPORT_BYTES: usize = 8 * 1024 * 1024;

/// Why a report was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Unsigned,
    BadSignature,
    Expired,
    Replayed,
    Malformed,
    UnknownRegion,
    TooLarge,
}

impl Reject {
    pub const ALL: [Reject; 7] = [
        Reject::Unsigned,
        Reject::BadSignature,
        Reject::Expired,
        Reject::Replayed,
        Reject::Malformed,
        Reject::UnknownRegion,
        Reject::TooLarge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reject::Unsigned => "unsigned",
            Reject::BadSignature => "bad_signature",
            Reject::Expired => "expired",
            Reject::Replayed => "replayed",
            Reject::Malformed => "malformed",
            Reject::UnknownRegion => "unknown_region",
            Reject::TooLarge => "too_large",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Reject::Unsigned | Reject::BadSignature | Reject::Expired => StatusCode::UNAUTHORIZED,
            Reject::Replayed => StatusCode::CONFLICT,
            Reject::Malformed => StatusCode::BAD_REQUEST,
            Reject::UnknownRegion => StatusCode::FORBIDDEN,
            Reject::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

/// Report counters, readable by metrics and status without a lock.
#[derive(Debug, Default)]
pub struct IngestStats {
    pub accepted: AtomicU64,
    pub observations: AtomicU64,
    /// Our own results, forwarded to every nameserver including this one, and skipped.
    pub own: AtomicU64,
    rejected: [AtomicU64; Reject::ALL.len()],
    /// Unix seconds of the last warning per reason.
    logged: [AtomicU64; Reject::ALL.len()],
}

/// Warn about one kind of rejection at most this often.
const LOG_EVERY_SECS: u64 = 10;

impl IngestStats {
    pub fn rejected(&self, why: Reject) -> u64 {
        self.rejected[why as usize].load(Ordering::Relaxed)
    }

    pub fn view(&self) -> IngestView {
        let rejected: BTreeMap<&'static str, u64> = Reject::ALL
            .iter()
            .map(|r| (r.as_str(), self.rejected(*r)))
            .collect();
        IngestView {
            accepted: self.accepted.load(Ordering::Relaxed),
            observations: self.observations.load(Ordering::Relaxed),
            own: self.own.load(Ordering::Relaxed),
            rejected_total: rejected.values().sum(),
            rejected,
        }
    }

    fn reject(&self, why: Reject, detail: &dyn std::fmt::Display) -> Response {
        self.rejected[why as usize].fetch_add(1, Ordering::Relaxed);
        let now = auth::unix_ms() / 1000;
        let last = &self.logged[why as usize];
        let prev = last.load(Ordering::Relaxed);
        if now >= prev + LOG_EVERY_SECS
            && last
                .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                reason = why.as_str(),
                detail = %detail,
                total = self.rejected(why),
                "probe report rejected"
            );
        }
        (why.status(), why.as_str()).into_response()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IngestView {
    pub accepted: u64,
    pub observations: u64,
    pub own: u64,
    pub rejected_total: u64,
    pub rejected: BTreeMap<&'static str, u64>,
}

/// What `GET /v1/quorum` returns.
#[derive(Debug, Clone, Serialize)]
pub struct QuorumStatus {
    #[serde(flatten)]
    pub quorum: QuorumView,
    pub reports: IngestView,
}

/// Everything the report endpoint needs.
pub struct IngestState {
    agents: AgentsConfig,
    /// This nameserver's own sender name: its forwarded results come back to it.
    own_sender: Arc<str>,
    reports: mpsc::Sender<Vec<Observation>>,
    quorum: QuorumHandle,
    replay: Mutex<ReplayGuard>,
    pub stats: Arc<IngestStats>,
    /// Told of every report, accepted (`None`) or rejected and why: the control API's metrics.
    on_report: Option<ReportHook>,
}

pub type ReportHook = Box<dyn Fn(Option<Reject>) + Send + Sync>;

impl IngestState {
    pub fn new(
        agents: AgentsConfig,
        own_sender: Arc<str>,
        reports: mpsc::Sender<Vec<Observation>>,
        quorum: QuorumHandle,
    ) -> Arc<IngestState> {
        Arc::new(IngestState {
            agents,
            own_sender,
            reports,
            quorum,
            replay: Mutex::new(ReplayGuard::default()),
            stats: Arc::new(IngestStats::default()),
            on_report: None,
        })
    }

    /// Like `new`, and `hook` hears of every report accepted (`None`) or rejected (the reason).
    pub fn with_hook(
        agents: AgentsConfig,
        own_sender: Arc<str>,
        reports: mpsc::Sender<Vec<Observation>>,
        quorum: QuorumHandle,
        hook: ReportHook,
    ) -> Arc<IngestState> {
        let mut st = Arc::into_inner(Self::new(agents, own_sender, reports, quorum))
            .expect("just built, not shared");
        st.on_report = Some(hook);
        Arc::new(st)
    }

    fn reject(&self, why: Reject, detail: &dyn std::fmt::Display) -> Response {
        if let Some(hook) = &self.on_report {
            hook(Some(why));
        }
        self.stats.reject(why, detail)
    }
}

/// `POST /v1/reports` and `GET /v1/quorum`.
pub fn router(state: Arc<IngestState>) -> Router {
    reports_router(state.clone()).merge(quorum_router(state))
}

/// `POST /v1/reports` alone: authenticated by its own signature, so it must not sit
/// behind a bearer-token guard.
pub fn reports_router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route(REPORTS_PATH, post(post_report))
        .with_state(state)
}

/// `GET /v1/quorum` alone, for a host to put behind its read policy.
pub fn quorum_router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route(QUORUM_PATH, get(get_quorum))
        .with_state(state)
}

async fn post_report(
    State(st): State<Arc<IngestState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let stats = &st.stats;
    let bytes = match axum::body::to_bytes(body, MAX_REPORT_BYTES).await {
        Ok(b) => b,
        Err(e) => return st.reject(Reject::TooLarge, &e),
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(e) = auth::verify(
        &st.agents.secret,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &bytes,
        auth::unix_ms(),
    ) {
        let why = match e {
            AuthError::Unsigned | AuthError::Malformed => Reject::Unsigned,
            AuthError::BadSignature => Reject::BadSignature,
            AuthError::Expired { .. } => Reject::Expired,
        };
        return st.reject(why, &e);
    }
    // Authenticated from here on.
    let report: Report<'_> = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => return st.reject(Reject::Malformed, &e),
    };
    if *report.sender == *st.own_sender {
        stats.own.fetch_add(1, Ordering::Relaxed);
        return StatusCode::NO_CONTENT.into_response();
    }
    if !st.agents.allows(&report.region) {
        return st.reject(
            Reject::UnknownRegion,
            &format_args!("region {:?} is not in [agents] regions", report.region),
        );
    }
    let fresh = st.replay.lock().unwrap_or_else(|p| p.into_inner()).accept(
        &report.sender,
        report.seq,
        Instant::now(),
    );
    if !fresh {
        return st.reject(
            Reject::Replayed,
            &format_args!("sender {} seq {}", report.sender, report.seq),
        );
    }
    let batch = report.into_observations();
    let n = batch.len() as u64;
    if st.reports.send(batch).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    stats.observations.fetch_add(n, Ordering::Relaxed);
    if let Some(hook) = &st.on_report {
        hook(None);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_quorum(State(st): State<Arc<IngestState>>) -> Response {
    match st.quorum.view().await {
        Some(quorum) => Json(QuorumStatus {
            quorum,
            reports: st.stats.view(),
        })
        .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "health monitor stopped").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::agent::reporter::{self, ReporterConfig};
    use crate::config::agents::Secret;
    use crate::health::{DecisionConfig, HealthMonitor, MonitorOptions};
    use crate::zone::{CheckKind, CheckSpec, Quorum, StartupState, Target};
    use tokio_util::sync::CancellationToken;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn agents() -> AgentsConfig {
        AgentsConfig {
            secret: Secret::new(KEY),
            regions: Some(vec!["r1".into(), "r2".into()]),
            ..AgentsConfig::default()
        }
    }

    async fn wait_until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn reports_are_authenticated_checked_for_replay_counted_and_voted() {
        // A TCP target this process probes as region r1: its listener accepts.
        let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let spec = Arc::new(CheckSpec {
            id: "t./tcp".into(),
            kind: CheckKind::Tcp,
            port: backend.local_addr().unwrap().port(),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(100),
            fall: 1,
            rise: 1,
            startup: StartupState::Down,
            quorum: Quorum::Majority,
            hold_down: Duration::ZERO,
        });
        let target = Target {
            check: spec.id.clone(),
            addr: "127.0.0.1".parse().unwrap(),
        };
        let (monitor, _rx) = HealthMonitor::start_with(
            MonitorOptions {
                region: "r1".into(),
                sender: "ns1".into(),
                decisions: DecisionConfig::default(),
                tee: None,
                local_probes: true,
            },
            BTreeMap::from([(target.clone(), spec)]),
        );
        let state = IngestState::new(agents(), "ns1".into(), monitor.reports(), monitor.quorum());
        let stats = state.stats.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(state)).await });

        // An agent in r2 reports the target down through the real reporter.
        let (tx, rx) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let (_task, sent) = reporter::spawn(
            ReporterConfig {
                region: "r2".into(),
                sender: "agent-2".into(),
                secret: Secret::new(KEY),
                destinations: vec![format!("{base}{REPORTS_PATH}").parse().unwrap()],
                batch: Duration::from_millis(20),
            },
            rx,
            stop.clone(),
        );
        tx.send(Observation {
            target: target.clone(),
            region: "r2".into(),
            sender: "agent-2".into(),
            ok: false,
            reason: "timed out".into(),
            latency: Duration::from_millis(100),
        })
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let quorum = || async {
            let r = client
                .get(format!("{base}{QUORUM_PATH}"))
                .send()
                .await
                .ok()?;
            serde_json::from_slice::<serde_json::Value>(&r.bytes().await.ok()?).ok()
        };
        let view = wait_until("r2's vote", async || {
            let v = quorum().await?;
            let votes = v["targets"][0]["votes"].as_array()?.clone();
            votes
                .iter()
                .any(|x| x["region"] == "r2" && x["health"] == "down")
                .then_some(v)
        })
        .await;
        assert_eq!(sent.sent.load(Ordering::Relaxed), 1);
        assert_eq!(view["reports"]["accepted"], 1);
        assert_eq!(view["reports"]["observations"], 1);

        let post = |body: &'static str, ts: u64, sig: Option<String>| {
            let mut req = client
                .post(format!("{base}{REPORTS_PATH}"))
                .header(TIMESTAMP_HEADER, ts.to_string())
                .body(body);
            if let Some(sig) = sig {
                req = req.header(SIGNATURE_HEADER, sig);
            }
            async move { req.send().await.unwrap().status().as_u16() }
        };
        let body = r#"{"region":"r2","sender":"agent-x","seq":1,"observations":[]}"#;
        let now = auth::unix_ms();
        let good = auth::sign(&Secret::new(KEY), now, body.as_bytes());
        let wrong = auth::sign(
            &Secret::new(b"not the shared secret at all..."),
            now,
            body.as_bytes(),
        );
        assert_eq!(post(body, now, Some(wrong)).await, 401);
        assert_eq!(post(body, now, None).await, 401);
        let old = now - 60_000;
        let stale = auth::sign(&Secret::new(KEY), old, body.as_bytes());
        assert_eq!(post(body, old, Some(stale)).await, 401);
        assert_eq!(post(body, now, Some(good.clone())).await, 204);
        assert_eq!(post(body, now, Some(good)).await, 409, "replayed");
        let foreign = r#"{"region":"r9","sender":"agent-9","seq":1,"observations":[]}"#;
        let sig = auth::sign(&Secret::new(KEY), now, foreign.as_bytes());
        assert_eq!(post(foreign, now, Some(sig)).await, 403);
        let mine = r#"{"region":"r1","sender":"ns1","seq":1,"observations":[]}"#;
        let sig = auth::sign(&Secret::new(KEY), now, mine.as_bytes());
        assert_eq!(post(mine, now, Some(sig)).await, 204);
        let junk = "{not json";
        let sig = auth::sign(&Secret::new(KEY), now, junk.as_bytes());
        assert_eq!(post(junk, now, Some(sig)).await, 400);

        let v = stats.view();
        assert_eq!(v.accepted, 2);
        assert_eq!(v.own, 1);
        for (why, n) in [
            (Reject::BadSignature, 1),
            (Reject::Unsigned, 1),
            (Reject::Expired, 1),
            (Reject::Replayed, 1),
            (Reject::UnknownRegion, 1),
            (Reject::Malformed, 1),
        ] {
            assert_eq!(stats.rejected(why), n, "{}", why.as_str());
        }
        assert_eq!(v.rejected_total, 6);
        // No rejected report left a trace in the votes.
        let v = quorum().await.unwrap();
        let senders: Vec<&str> = v["vantages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["sender"].as_str().unwrap())
            .collect();
        assert!(
            !senders.contains(&"agent-9") && !senders.contains(&"agent-x"),
            "{senders:?}"
        );
        stop.cancel();
        monitor.shutdown().await;
    }
}
