//! How many probe reports one nameserver ingests per second on one core: the real report
//! endpoint (HTTP, HMAC check, replay check, JSON) and the real aggregator (votes, quorum)
//! on a single-threaded runtime, fed by many simulated agents from another thread.
//!
//! `cargo bench --bench ingest` prints a table, one row per report size. Under
//! `cargo test` it runs for a moment only, as a smoke test.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard::agent::auth::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use switchyard::agent::ingest::{self, IngestState, IngestStats};
use switchyard::agent::report::{Report, WireObservation, REPORTS_PATH};
use switchyard::config::agents::{AgentsConfig, Secret};
use switchyard::health::{DecisionConfig, HealthMonitor, MonitorOptions};
use switchyard::zone::{CheckKind, CheckSpec, Quorum, StartupState, Target};

const CHECKS: usize = 20;
const ADDRESSES: usize = 100;
const REGIONS: usize = 10;
const AGENTS_PER_REGION: usize = 5;
const KEY: &[u8] = b"benchmark-shared-secret-0123456789";

fn targets() -> BTreeMap<Target, Arc<CheckSpec>> {
    let mut out = BTreeMap::new();
    for c in 0..CHECKS {
        let spec = Arc::new(CheckSpec {
            id: format!("bench.test./check{c}").into(),
            kind: CheckKind::Tcp,
            port: 80,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            fall: 3,
            rise: 2,
            startup: StartupState::Down,
            quorum: Quorum::Majority,
            hold_down: Duration::ZERO,
        });
        for a in 0..ADDRESSES {
            let addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, a as u8));
            out.insert(
                Target {
                    check: spec.id.clone(),
                    addr,
                },
                spec.clone(),
            );
        }
    }
    out
}

/// Starts the endpoint and aggregator on one thread; returns its URL and counters.
fn server() -> (String, Arc<IngestStats>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (monitor, _snapshots) = HealthMonitor::start_with(
                MonitorOptions {
                    region: "home".into(),
                    sender: "ns".into(),
                    decisions: DecisionConfig::default(),
                    tee: None,
                    local_probes: false,
                },
                targets(),
            );
            let agents = AgentsConfig {
                secret: Secret::new(KEY),
                ..AgentsConfig::default()
            };
            let state = IngestState::new(agents, "ns".into(), monitor.reports(), monitor.quorum());
            let stats = state.stats.clone();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}{REPORTS_PATH}", listener.local_addr().unwrap());
            tx.send((url, stats)).unwrap();
            axum::serve(listener, ingest::router(state)).await.unwrap();
            drop(monitor);
        });
    });
    rx.recv().unwrap()
}

/// One simulated agent: posts reports of `size` results, one after another, until `until`.
async fn agent(
    client: reqwest::Client,
    url: String,
    region: String,
    sender: String,
    size: usize,
    until: Instant,
) {
    let all: Vec<Target> = targets().into_keys().collect();
    let secret = Secret::new(KEY);
    let mut seq = 0u64;
    let mut cursor = sender.len() * 7919;
    while Instant::now() < until {
        seq += 1;
        let observations = (0..size)
            .map(|i| {
                let t = &all[(cursor + i) % all.len()];
                WireObservation {
                    check: t.check.to_string().into(),
                    address: t.addr,
                    ok: true,
                    reason: "connected".into(),
                    latency_us: 800,
                }
            })
            .collect();
        cursor += size;
        let body = serde_json::to_vec(&Report {
            region: region.as_str().into(),
            sender: sender.as_str().into(),
            seq,
            observations,
        })
        .unwrap();
        let ts = auth::unix_ms();
        let sig = auth::sign(&secret, ts, &body);
        let r = client
            .post(&url)
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sig)
            .body(body)
            .send()
            .await
            .expect("report");
        assert!(r.status().is_success(), "{}", r.status());
    }
}

fn run(url: &str, stats: &IngestStats, size: usize, secs: f64) -> (f64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let before = (
        stats.accepted.load(Ordering::Relaxed),
        stats.observations.load(Ordering::Relaxed),
    );
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for r in 0..REGIONS {
            for a in 0..AGENTS_PER_REGION {
                tasks.push(tokio::spawn(agent(
                    client.clone(),
                    url.to_string(),
                    format!("region{r}"),
                    format!("agent-{size}-{r}-{a}"),
                    size,
                    until,
                )));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let reports = stats.accepted.load(Ordering::Relaxed) - before.0;
    let obs = stats.observations.load(Ordering::Relaxed) - before.1;
    (reports as f64 / secs, obs as f64 / secs)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (url, stats) = server();
    let (sizes, secs): (&[usize], f64) = if full {
        (&[1, 50, 500], 5.0)
    } else {
        (&[50], 0.3)
    };
    println!(
        "report ingestion on one core: {} targets ({CHECKS} checks x {ADDRESSES} addresses), {} agents in {REGIONS} regions",
        CHECKS * ADDRESSES,
        REGIONS * AGENTS_PER_REGION
    );
    println!(
        "{:>16} {:>14} {:>18}",
        "results/report", "reports/s", "results/s"
    );
    for &size in sizes {
        let (reports, results) = run(&url, &stats, size, secs);
        println!("{size:>16} {reports:>14.0} {results:>18.0}");
        assert!(reports > 0.0, "nothing was ingested");
    }
    let rejected = stats.view().rejected_total;
    assert_eq!(rejected, 0, "reports were rejected: {:?}", stats.view());
}
