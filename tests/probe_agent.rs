//! A probe agent's own listener: `switchyard probe --listen` serves `/healthz` (200) and
//! `/metrics` with its probe and delivery families, parsed with prometheus-parse. One
//! agent signs with the fleet's secret and its reports are accepted; another signs with
//! a wrong one, and both ends count the refusal with its reason as a label.

mod common;
mod control;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use common::{wait_for, BIN};
use prometheus_parse::{Sample, Scrape, Value};

const BACKEND: &str = "127.0.0.61";

fn zone(port: u16) -> String {
    format!(
        r#"[zone]
origin = "agent.test."
nameservers = ["ns1.agent.test."]
soa = {{ mname = "ns1.agent.test.", rname = "hostmaster.agent.test." }}

[checks.web]
kind = "http"
port = {port}
path = "/health"
interval = "200ms"
timeout = "150ms"

[pools.main]
region = "us-east"
addresses = ["{BACKEND}"]
check = "web"

[[policies]]
name = "api"
policy = "failover"
ttl = 5
pools = ["main"]
"#
    )
}

/// A running `switchyard probe`, killed on drop.
struct Agent {
    child: Child,
    metrics: SocketAddr,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn start(config: &Path, region: &str) -> Agent {
        let mut child = Command::new(BIN)
            .args([
                "probe",
                "--region",
                region,
                "--listen",
                "127.0.0.1:0",
                "--config",
            ])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn switchyard probe");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let metrics = lines
            .next()
            .and_then(Result::ok)
            .and_then(|l| l.strip_prefix("listening metrics=")?.parse().ok())
            .expect("the agent prints its metrics address first");
        // Keep reading so the agent never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Agent { child, metrics }
    }
}

fn samples(text: &str) -> Vec<Sample> {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("a parsable exposition")
        .samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let s = samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))?;
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        _ => None,
    }
}

fn agent_file(dir: &Path, name: &str, key: &str, control: SocketAddr) -> std::path::PathBuf {
    let f = dir.join(name);
    std::fs::write(
        &f,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\n\
             [agents]\nsecret_file = \"{key}\"\nreport_to = [\"http://{control}\"]\n\
             regions = [\"r1\", \"r2\"]\nbatch = \"50ms\"\n"
        ),
    )
    .unwrap();
    f
}

#[test]
fn an_agent_serves_healthz_and_its_probe_and_delivery_metrics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (backend, _other) = rt.block_on(common::backends_on_one_port(BACKEND, "127.0.0.62"));
    let l = control::layout(
        true,
        "[agents]\nsecret_file = \"agents.key\"\nregions = [\"r1\", \"r2\"]\n",
    );
    let dir = l.dir.path().to_path_buf();
    std::fs::write(
        dir.join("agents.key"),
        "shared-secret-of-the-fleet-0123456789\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("wrong.key"),
        "not-the-secret-of-the-fleet-9876543210\n",
    )
    .unwrap();
    l.zone("agent.test.toml", &zone(backend.addr().port()));
    let s = l.serve();
    let control = s.control.unwrap();
    let server = control::Api::new(control);
    let started = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();

    let good = Agent::start(&agent_file(&dir, "good.toml", "agents.key", control), "r1");
    let api = control::Api::new(good.metrics);
    let health = api.request("GET", "/healthz", None, None);
    assert_eq!((health.status, health.text.as_str()), (200, "ok\n"));

    let deadline = Duration::from_secs(20);
    let accepted = [("result", "accepted")];
    let m = wait_for(deadline, "the agent's reports to be accepted", || {
        let m = samples(&api.text("/metrics"));
        (value(&m, "switchyard_probe_reports_total", &accepted).is_some_and(|v| v >= 1.0))
            .then_some(m)
    })
    .0;
    assert!(value(&m, "switchyard_probe_checks_total", &[]).unwrap() >= 1.0);
    assert!(value(&m, "switchyard_probe_results_sent_total", &[]).unwrap() >= 1.0);
    let last = value(&m, "switchyard_probe_last_success_timestamp_seconds", &[]).unwrap();
    assert!(
        last >= started.floor() && last < started + 60.0,
        "{last} vs {started}"
    );
    assert_eq!(
        value(
            &m,
            "switchyard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert!(
        m.iter()
            .any(|s| s.metric == "switchyard_check_duration_seconds"
                && s.labels.get("zone") == Some("agent.test.")
                && s.labels.get("check") == Some("web")),
        "the agent's check latency"
    );
    assert!(value(&m, "process_resident_memory_bytes", &[]).unwrap() > 0.0);
    assert!(value(&m, "process_open_fds", &[]).unwrap() >= 3.0);

    // A wrong secret: the nameserver refuses, and says why; both ends count the reason.
    let rogue = Agent::start(&agent_file(&dir, "rogue.toml", "wrong.key", control), "r2");
    let rogue_api = control::Api::new(rogue.metrics);
    let refused = [("result", "refused"), ("reason", "bad_signature")];
    let m = wait_for(deadline, "the rogue agent's refusals", || {
        let m = samples(&rogue_api.text("/metrics"));
        (value(&m, "switchyard_probe_reports_total", &refused).is_some_and(|v| v >= 1.0))
            .then_some(m)
    })
    .0;
    assert!(value(&m, "switchyard_probe_results_dropped_total", &[]).unwrap() >= 1.0);
    assert_eq!(
        value(&m, "switchyard_probe_results_sent_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&m, "switchyard_probe_last_success_timestamp_seconds", &[]),
        None
    );
    let ns = samples(&server.text("/metrics"));
    let rejected = [("result", "rejected"), ("reason", "bad_signature")];
    assert!(value(&ns, "switchyard_agent_reports_total", &rejected).unwrap() >= 1.0);
    assert!(value(&ns, "switchyard_agent_reports_total", &accepted).unwrap() >= 1.0);
    assert_eq!(
        value(
            &ns,
            "switchyard_agent_reports_total",
            &[("result", "rejected"), ("reason", "replayed")]
        ),
        Some(0.0),
        "every reason is served from the start"
    );
}

#[test]
fn a_taken_listen_address_fails_the_start() {
    let l = control::layout(true, "");
    let dir = l.dir.path();
    std::fs::write(
        dir.join("agents.key"),
        "shared-secret-of-the-fleet-0123456789\n",
    )
    .unwrap();
    l.zone("agent.test.toml", &zone(9));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = agent_file(dir, "a.toml", "agents.key", "127.0.0.1:9".parse().unwrap());
    let out = Command::new(BIN)
        .args(["probe", "--region", "r1", "--listen"])
        .arg(taken.local_addr().unwrap().to_string())
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on") && err.contains("--listen"),
        "{err}"
    );
}
