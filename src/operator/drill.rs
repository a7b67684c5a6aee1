//! Failover drills: take a pool out for N seconds as if it had failed (a forced-down
//! override that expires by itself), and watch each nameserver over DNS to report when
//! its answer moved and when it came back.
//!
//! The watch asks real DNS questions, so the report measures what resolvers would see
//! from each nameserver listed, not what this process believes it serves.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{OpError, Operator, Scope, Source};
use crate::alerts::{Event, Severity};
use crate::routing::Forced;

/// Longest drill: a drill is a test, not a maintenance window (use an override).
pub const MAX_DRILL: Duration = Duration::from_secs(3600);
/// How often each nameserver is asked while a drill runs, unless the request says.
pub const DEFAULT_POLL: Duration = Duration::from_millis(100);
/// After the drill ends, how long we keep watching for answers to come back.
pub const GRACE: Duration = Duration::from_secs(30);
const QUERY_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillRequest {
    pub zone: Option<String>,
    pub pool: String,
    pub seconds: u64,
    #[serde(default)]
    pub reason: Option<String>,
    /// Nameservers to watch (`ip:port`); default: this server's own DNS addresses.
    #[serde(default)]
    pub nameservers: Option<Vec<SocketAddr>>,
    #[serde(default)]
    pub poll_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub id: u64,
    pub zone: String,
    pub pool: String,
    pub seconds: u64,
    pub reason: String,
    /// `running`, `recovering` (the pool is back, answers not yet all) or `finished`.
    pub state: &'static str,
    pub started_at: String,
    pub ends_at: String,
    pub override_id: u64,
    /// One per (nameserver, policy name, address type).
    pub watches: Vec<Watch>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    pub nameserver: SocketAddr,
    pub name: String,
    #[serde(rename = "type")]
    pub qtype: String,
    pub before: Option<Vec<IpAddr>>,
    /// The answer once it moved.
    pub during: Option<Vec<IpAddr>>,
    /// From the drill's start to the first answer that differed from `before`.
    pub moved_after_ms: Option<u64>,
    /// From the drill's start to the first answer equal to `before` again.
    pub back_after_ms: Option<u64>,
    /// From the drill's end (the pool restored) to the answer being back.
    pub back_after_end_ms: Option<u64>,
    pub errors: u32,
}

impl Operator {
    /// Starts a drill and its watcher task; returns the report as it stands.
    pub async fn start_drill(
        self: &Arc<Self>,
        req: DrillRequest,
        default_nameservers: &[SocketAddr],
        shutdown: CancellationToken,
    ) -> Result<DrillReport, OpError> {
        let (duration, poll) = timing(&req)?;
        let scope = self.resolve(req.zone.as_deref(), &req.pool, None)?;
        if self.overrides().iter().any(|o| {
            o.scope.address.is_none() && o.scope.zone == scope.zone && o.scope.pool == scope.pool
        }) {
            return Err(OpError::Conflict(format!(
                "pool {} already has an override; clear it first",
                scope
            )));
        }
        let nameservers = req
            .nameservers
            .clone()
            .unwrap_or_else(|| default_nameservers.iter().map(|a| reachable(*a)).collect());
        let questions = self.questions(&scope)?;
        let watches = baselines(&nameservers, &questions).await;

        let id = {
            let mut st = self.lock();
            st.next_drill += 1;
            st.next_drill
        };
        let reason = req
            .reason
            .clone()
            .unwrap_or_else(|| "failover drill".to_string());
        let started = Instant::now();
        let o = self.set(
            scope.clone(),
            Forced::Down,
            format!("drill {id}: {reason}"),
            Source::Drill(id),
            duration,
        )?;
        self.metrics.drill_started();
        let report = Arc::new(Mutex::new(DrillReport {
            id,
            zone: scope.zone.to_string(),
            pool: scope.pool.to_string(),
            seconds: req.seconds,
            reason,
            state: "running",
            started_at: humantime::format_rfc3339_millis(o.created).to_string(),
            ends_at: humantime::format_rfc3339_millis(o.expires).to_string(),
            override_id: o.id,
            watches,
        }));
        self.lock().drills.insert(id, report.clone());
        info!(id, scope = %scope, seconds = req.seconds, "drill started");

        let op = self.clone();
        let questions = Arc::new(questions);
        tokio::spawn(async move {
            watch(op, report, questions, started, duration, poll, shutdown).await;
        });
        self.drill(id)
    }

    /// The names whose answers can move when the pool goes out: policies that list it,
    /// asked for each address family the pool has.
    fn questions(&self, scope: &Scope) -> Result<Vec<(Name, RecordType)>, OpError> {
        let zones = self.zones.borrow().clone();
        let zone = zones
            .zones
            .iter()
            .find(|z| z.origin == scope.zone)
            .cloned()
            .ok_or_else(|| OpError::UnknownZone(scope.zone.to_string()))?;
        let pool = &zone.pools[&scope.pool];
        let mut questions: Vec<(Name, RecordType)> = Vec::new();
        for p in &zone.policies {
            if crate::zone::pools_of(p, &zone.policies).contains(&scope.pool) {
                if pool.addresses.iter().any(IpAddr::is_ipv4) {
                    questions.push((p.name.clone(), RecordType::A));
                }
                if pool.addresses.iter().any(IpAddr::is_ipv6) {
                    questions.push((p.name.clone(), RecordType::AAAA));
                }
            }
        }
        Ok(questions)
    }

    pub fn drill(&self, id: u64) -> Result<DrillReport, OpError> {
        let r = self
            .lock()
            .drills
            .get(&id)
            .cloned()
            .ok_or(OpError::NoSuchDrill(id))?;
        let r = r.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(r)
    }

    pub fn drills(&self) -> Vec<DrillReport> {
        let all: Vec<_> = self.lock().drills.values().cloned().collect();
        all.iter()
            .map(|r| r.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }
}

/// A wildcard listen address is reached through loopback.
fn reachable(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        IpAddr::V6(v6) if v6.is_unspecified() => {
            SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), a.port())
        }
        _ => a,
    }
}

/// How long the drill lasts and how often it asks, from the request.
fn timing(req: &DrillRequest) -> Result<(Duration, Duration), OpError> {
    let duration = Duration::from_secs(req.seconds);
    if duration.is_zero() || duration > MAX_DRILL {
        return Err(OpError::Invalid(format!(
            "a drill lasts 1..={} seconds",
            MAX_DRILL.as_secs()
        )));
    }
    let poll = req
        .poll_ms
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_POLL)
        .clamp(Duration::from_millis(10), Duration::from_secs(5));
    Ok((duration, poll))
}

/// One watch per (nameserver, question), with the answer before the pool goes out.
async fn baselines(nameservers: &[SocketAddr], questions: &[(Name, RecordType)]) -> Vec<Watch> {
    let mut watches = Vec::new();
    for ns in nameservers {
        for (name, qtype) in questions {
            let before = query(*ns, name, *qtype).await.ok();
            watches.push(Watch {
                nameserver: *ns,
                name: name.to_string(),
                qtype: qtype.to_string(),
                errors: u32::from(before.is_none()),
                before,
                during: None,
                moved_after_ms: None,
                back_after_ms: None,
                back_after_end_ms: None,
            });
        }
    }
    watches
}

/// What one watch asks: its index in the report, the nameserver and the question.
type Target = (usize, SocketAddr, Name, RecordType);

/// Ask every watch's question each `poll` until the drill is over and the answers are
/// back (or `GRACE` has passed), then report.
async fn watch(
    op: Arc<Operator>,
    report: Arc<Mutex<DrillReport>>,
    questions: Arc<Vec<(Name, RecordType)>>,
    started: Instant,
    duration: Duration,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let end = started + duration;
    let targets = targets(&report, &questions);
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        for target in &targets {
            ask(&report, target, started, end).await;
        }
        if finished(&report, now, end) {
            break;
        }
    }
    announce(&op, &report);
}

/// The watches in report order, each with its question (the report holds them per
/// nameserver, in the order of `questions`).
fn targets(report: &Mutex<DrillReport>, questions: &[(Name, RecordType)]) -> Vec<Target> {
    let r = report.lock().unwrap_or_else(|e| e.into_inner());
    let per_ns = questions.len().max(1);
    r.watches
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (name, t) = questions[i % per_ns].clone();
            (i, w.nameserver, name, t)
        })
        .collect()
}

/// Ask one watch's question, unless it is done, and note when its answer moved or came
/// back.
async fn ask(report: &Mutex<DrillReport>, target: &Target, started: Instant, end: Instant) {
    let (i, ns, name, qtype) = target;
    let done = {
        let r = report.lock().unwrap_or_else(|e| e.into_inner());
        let w = &r.watches[*i];
        w.back_after_ms.is_some() || w.before.is_none()
    };
    if done {
        return;
    }
    let answer = query(*ns, name, *qtype).await;
    let at = Instant::now();
    let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
    let w = &mut r.watches[*i];
    match answer {
        Err(_) => w.errors += 1,
        Ok(a) if Some(&a) != w.before.as_ref() && w.moved_after_ms.is_none() => {
            w.moved_after_ms = Some(ms(at - started));
            w.during = Some(a);
        }
        Ok(a) if Some(&a) == w.before.as_ref() && w.moved_after_ms.is_some() => {
            w.back_after_ms = Some(ms(at - started));
            w.back_after_end_ms = Some(ms(at.saturating_duration_since(end)));
        }
        Ok(_) => {}
    }
}

/// Move the report's state on as of `now` (a round began then); true once finished.
fn finished(report: &Mutex<DrillReport>, now: Instant, end: Instant) -> bool {
    let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
    if now >= end {
        r.state = "recovering";
    }
    // A name that never moved (the pool was not serving it) has nothing to await
    // once the drill is over.
    let waiting = r
        .watches
        .iter()
        .any(|w| w.before.is_some() && w.moved_after_ms.is_some() && w.back_after_ms.is_none());
    if now >= end && (!waiting || now >= end + GRACE) {
        r.state = "finished";
        return true;
    }
    false
}

/// Log the results and send them as an alert event.
fn announce(op: &Operator, report: &Mutex<DrillReport>) {
    let r = report.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let summary: Vec<String> = r
        .watches
        .iter()
        .map(|w| {
            format!(
                "{} {} {}: moved {} back {}",
                w.nameserver,
                w.name,
                w.qtype,
                w.moved_after_ms
                    .map_or("never".into(), |m| format!("after {m} ms")),
                w.back_after_ms
                    .map_or("never".into(), |m| format!("after {m} ms")),
            )
        })
        .collect();
    info!(id = r.id, results = %summary.join("; "), "drill finished");
    let mut e = Event::new(
        "drill",
        Severity::Info,
        format!(
            "drill {} of {}/{} finished: {}",
            r.id,
            r.zone,
            r.pool,
            summary.join("; ")
        ),
    );
    e.zone = Some(r.zone.clone());
    e.pool = Some(r.pool.clone());
    e.reason = Some(r.reason.clone());
    op.alerts.send(e);
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// One UDP question; the sorted addresses of the answer.
pub async fn query(ns: SocketAddr, name: &Name, qtype: RecordType) -> std::io::Result<Vec<IpAddr>> {
    let bind: SocketAddr = if ns.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind).await?;
    sock.connect(ns).await?;
    let mut m = Message::query();
    m.add_query(Query::query(name.clone(), qtype));
    let id = m.metadata.id;
    let bytes = m
        .to_vec()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    sock.send(&bytes).await?;
    let mut buf = vec![0u8; 4096];
    let deadline = Instant::now() + QUERY_TIMEOUT;
    loop {
        let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
        let Ok(reply) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if reply.metadata.id != id {
            continue;
        }
        let mut out: Vec<IpAddr> = reply
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        out.sort();
        return Ok(out);
    }
}
