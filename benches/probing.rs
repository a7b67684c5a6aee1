//! Probing at scale (figures, not a timed test): 10,000 HTTP targets probed every second
//! by the real health monitor on one core, against a local HTTP server on the other
//! core. Reports how late probes start (the lag distribution), probes done against
//! probes due, the monitor's CPU use, and the health it published.
//!
//! `cargo bench --bench probing`. PROBE_TARGETS (10000), PROBE_SECS (30),
//! PROBE_INTERVAL_MS (1000). Targets are 127.0.x.y, one per address.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard::health::monitor::PROBE_LAG_TARGET;
use switchyard::health::{Health, HealthMonitor};
use switchyard::zone::{CheckKind, CheckSpec, HttpCheck, StartupState, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{filter::Targets, Layer};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Pin the calling thread to one core (best effort).
fn pin(core: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within it for core < 1024.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// CPU seconds used by thread `tid` of this process.
fn thread_cpu(tid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the 12th, stime 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// (busy, total) jiffies of one core, all processes together, from /proc/stat.
fn core_jiffies(core: usize) -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let name = format!("cpu{core} ");
    let Some(line) = stat.lines().find(|l| l.starts_with(&name)) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The local HTTP test server: one listener on every loopback address, `200 ok` to
/// anything, then close (as a probe asks).
async fn http_server(listener: tokio::net::TcpListener) -> io::Result<()> {
    loop {
        let (mut s, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let mut seen = 0;
            loop {
                match s.read(&mut buf[seen..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen += n,
                }
                if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") || seen == buf.len() {
                    break;
                }
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
            let _ = s.shutdown().await;
        });
    }
}

/// Collects `lag_us` of the monitor's lag events.
struct LagLayer(Arc<Mutex<Vec<u64>>>);

impl<S: Subscriber> Layer<S> for LagLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        struct V(Option<u64>);
        impl Visit for V {
            fn record_u64(&mut self, field: &Field, value: u64) {
                if field.name() == "lag_us" {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        let mut v = V(None);
        event.record(&mut v);
        if let Some(lag) = v.0 {
            self.0.lock().unwrap().push(lag);
        }
    }
}

fn pct(sorted: &[u64], p: f64) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    format!("{:.1} ms", sorted[i] as f64 / 1000.0)
}

fn main() {
    // `cargo test --all-targets` runs this too (without `--bench`): a small smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    if smoke {
        println!("smoke run (cargo test); `cargo bench --bench probing` gives the figures");
    }
    let n = env("PROBE_TARGETS", if smoke { 50 } else { 10_000 }) as usize;
    let secs = env("PROBE_SECS", if smoke { 1 } else { 30 });
    let interval = Duration::from_millis(env("PROBE_INTERVAL_MS", if smoke { 200 } else { 1000 }));

    let lags = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(
        LagLayer(lags.clone())
            .with_filter(Targets::new().with_target(PROBE_LAG_TARGET, Level::TRACE)),
    );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    // The HTTP server on core 1.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        pin(1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = http_server(l).await;
        });
    });

    let spec = Arc::new(CheckSpec {
        id: "probe.bench./web".into(),
        kind: CheckKind::Http(HttpCheck {
            host: None,
            path: "/health".into(),
            expect_status: 200..=299,
            body_contains: None,
            tls_verify: true,
            tls_ca: None,
        }),
        port,
        interval,
        timeout: interval.min(Duration::from_millis(500)),
        fall: 3,
        rise: 2,
        startup: StartupState::Down,
        quorum: switchyard::zone::Quorum::Majority,
        hold_down: Duration::ZERO,
    });
    let targets: BTreeMap<Target, Arc<CheckSpec>> = (0..n)
        .map(|i| {
            let addr = IpAddr::V4(Ipv4Addr::new(
                127,
                1 + (i / 250 / 250) as u8,
                (i / 250 % 250) as u8,
                (1 + i % 250) as u8,
            ));
            (
                Target {
                    check: spec.id.clone(),
                    addr,
                },
                spec.clone(),
            )
        })
        .collect();

    // The monitor on core 0, alone on a current-thread runtime.
    pin(0);
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let started = Instant::now();
        let (monitor, health) = HealthMonitor::start("bench".into(), targets);
        // Every prober starts at a random phase within one interval; let them all begin.
        tokio::time::sleep(interval * 3).await;
        println!(
            "{n} targets started in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        lags.lock().unwrap().clear();
        let cpu0 = thread_cpu(tid);
        let core0 = core_jiffies(0);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = thread_cpu(tid) - cpu0;
        let core1 = core_jiffies(0);
        let core_busy = (core1.0 - core0.0) as f64 / (core1.1 - core0.1).max(1) as f64;
        let mut v = std::mem::take(&mut *lags.lock().unwrap());
        v.sort_unstable();
        let snap = health.borrow().clone();
        let up = snap
            .targets
            .values()
            .filter(|s| s.health == Health::Up)
            .count();
        let mut lat: Vec<u64> = snap
            .targets
            .values()
            .filter_map(|s| s.latency.map(|d| d.as_micros() as u64))
            .collect();
        lat.sort_unstable();
        let due = n as f64 * wall / interval.as_secs_f64();
        println!(
            "probes started: {} in {wall:.1} s ({:.0}/s; {:.1}% of those due)",
            v.len(),
            v.len() as f64 / wall,
            100.0 * v.len() as f64 / due
        );
        println!(
            "start lag: p50 {} p90 {} p99 {} p99.9 {} max {}",
            pct(&v, 0.5),
            pct(&v, 0.9),
            pct(&v, 0.99),
            pct(&v, 0.999),
            pct(&v, 1.0)
        );
        println!(
            "probe latency (last per target): p50 {} p99 {} max {}",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 1.0)
        );
        println!(
            "monitor thread: {:.0}% of core 0; core 0 busy with everything on it: {:.0}%",
            100.0 * cpu / wall,
            100.0 * core_busy
        );
        println!("targets up: {up} of {}", snap.targets.len());
        let rss = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if let Some(l) = rss.lines().find(|l| l.starts_with("VmRSS:")) {
            println!("{}", l.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        monitor.shutdown().await;
    });
}
