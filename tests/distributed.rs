//! Distributed probing end to end on loopback, without namespaces: a nameserver in
//! region us-east probing its own backends, with other regions' votes arriving as
//! signed reports at `POST /v1/reports` on its `report_listen`. The reports are crafted
//! here, signed with an HMAC written from the README's description (not the crate's own
//! signer), and one region is a real `switchyard probe` agent started by the test.
//!
//! - A region that falls silent is unknown, not down: it never tips a quorum.
//! - The mass-failure guard: one region suddenly seeing every target fail is suspected,
//!   and answers do not move.
//! - A hold-down delays a recovered target's return.

mod common;
mod control;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{wait_for, Layout, Server, BIN, ZONE_HEAD};
use control::Api;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchyard::demo::backend::{Backend, BackendHandle};

const SECRET: &str = "a-shared-secret-for-the-distributed-tests";
const SECONDARY: &str = "192.0.2.200";
/// What `POST /v1/reports` answers to a report it took.
const ACCEPTED: u16 = 204;

/// One nameserver's world: its backends (all on one port), its report listener.
struct World {
    _backends: Vec<BackendHandle>,
    addrs: Vec<IpAddr>,
    server: Server,
    api: Api,
    reports: SocketAddr,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
    config: std::path::PathBuf,
}

/// `check` options beyond the timers, and `[agents]` options beyond the basics.
fn start(backends: &[&str], report: &str, check: &str, agents: &str) -> World {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut handles: Vec<BackendHandle> = Vec::new();
    for b in backends {
        let port = handles.first().map_or(0, |h| h.addr().port());
        let h = rt
            .block_on(Backend::start(SocketAddr::new(b.parse().unwrap(), port)))
            .expect("backend");
        handles.push(h);
    }
    let port = handles[0].addr().port();
    let addrs: Vec<IpAddr> = handles.iter().map(|h| h.addr().ip()).collect();
    let list = addrs
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let l = Layout::new();
    std::fs::write(l.dir.path().join("agents.key"), format!("{SECRET}\n")).unwrap();
    std::fs::write(
        l.config(),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nregion = \"us-east\"\nudp_sockets = 1\nlog = \"info\"\nreport_listen = \"{report}\"\n\
             [control]\nlisten = \"127.0.0.1:0\"\nopen_reads = true\n\
             [agents]\nsecret_file = \"agents.key\"\nreport_to = [\"http://{report}\"]\nregions = [\"us-east\", \"eu-west\", \"ap-south\"]\nbatch = \"50ms\"\n{agents}\n"
        ),
    )
    .unwrap();
    l.zone(
        "example.test.toml",
        &format!(
            "{ZONE_HEAD}\n[checks.web]\nkind = \"http\"\nport = {port}\ninterval = \"200ms\"\ntimeout = \"200ms\"\nfall = 1\nrise = 1\n{check}\n\
             [pools.p1]\nregion = \"us-east\"\naddresses = [{list}]\ncheck = \"web\"\n\
             [pools.p2]\nregion = \"eu-west\"\naddresses = [\"{SECONDARY}\"]\n\
             [[policies]]\nname = \"api\"\npolicy = \"failover\"\nttl = 1\npools = [\"p1\", \"p2\"]\n"
        ),
    );
    let config = l.config();
    let server = l.serve();
    let api = Api::new(server.control.expect("control listener"));
    World {
        _backends: handles,
        addrs,
        server,
        api,
        reports: report.parse().unwrap(),
        client: reqwest::Client::new(),
        rt,
        config,
    }
}

impl World {
    /// Post a report from `region`/`sender`: each address with `ok`. The HTTP status.
    fn report(&self, region: &str, sender: &str, seq: u64, ok: bool) -> u16 {
        let observations: Vec<Value> = self
            .addrs
            .iter()
            .map(|a| {
                json!({"check": "example.test./web", "address": a, "ok": ok,
                       "reason": if ok { "HTTP 200" } else { "connection refused" },
                       "latency_us": 900})
            })
            .collect();
        let body = json!({"region": region, "sender": sender, "seq": seq,
                          "observations": observations})
        .to_string();
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        // HMAC-SHA256(secret, timestamp "\n" body), hex, behind "v1=" (README).
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(b"\n");
        mac.update(body.as_bytes());
        let sig: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let req = self
            .client
            .post(format!("http://{}/v1/reports", self.reports))
            .header("content-type", "application/json")
            .header("x-switchyard-timestamp", ts)
            .header("x-switchyard-signature", format!("v1={sig}"))
            .body(body);
        self.rt
            .block_on(async { req.send().await.expect("report").status().as_u16() })
    }

    fn answer(&self) -> Vec<String> {
        self.server.dig("api.example.test A").rdata("A")
    }

    fn primaries(&self) -> Vec<String> {
        let mut v: Vec<String> = self.addrs.iter().map(|a| a.to_string()).collect();
        v.sort();
        v
    }

    /// The quorum view of the first backend.
    fn target(&self) -> Value {
        let q = self.api.get("/v1/quorum");
        let addr = self.addrs[0].to_string();
        q["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["address"] == addr.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no target {addr}: {q}"))
    }

    fn vantage(&self, sender: &str) -> Option<Value> {
        let q = self.api.get("/v1/quorum");
        q["vantages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["sender"] == sender)
            .cloned()
    }
}

fn region_health(target: &Value, region: &str) -> String {
    target["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == region)
        .map_or("absent".into(), |r| {
            r["health"].as_str().unwrap().to_string()
        })
}

/// A `switchyard probe` agent, killed on drop.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(config: &std::path::Path, region: &str) -> Agent {
    let mut child = Command::new(BIN)
        .args(["probe", "--region", region, "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn switchyard probe");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("probing ") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the agent did not start probing");
    Agent(child)
}

/// Keeps `sender` of `region` reporting `ok` every 150 ms until dropped.
struct Reporter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // A refused report fails the test, not just the reporting thread.
            if let Err(e) = t.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(e);
                }
            }
        }
    }
}

fn keep_reporting(
    w: &Arc<World>,
    region: &'static str,
    sender: &'static str,
    ok: bool,
    from_seq: u64,
) -> Reporter {
    let stop = Arc::new(AtomicBool::new(false));
    let (s, w) = (stop.clone(), w.clone());
    let thread = std::thread::spawn(move || {
        let mut seq = from_seq;
        while !s.load(Ordering::Relaxed) {
            assert_eq!(w.report(region, sender, seq, ok), ACCEPTED);
            seq += 1;
            std::thread::sleep(Duration::from_millis(150));
        }
    });
    Reporter {
        stop,
        thread: Some(thread),
    }
}

#[test]
fn a_silent_region_is_unknown_not_down() {
    let w = Arc::new(start(
        &["127.0.0.101"],
        "127.0.0.109:8053",
        "",
        "staleness = \"1s\"\n",
    ));
    let deadline = Duration::from_secs(20);
    // eu-west is a real agent probing the (healthy) backend; ap-south is crafted.
    let eu = agent(&w.config, "eu-west");
    let ap_up = keep_reporting(&w, "ap-south", "crafted-ap", true, 1);
    wait_for(deadline, "three regions up", || {
        let t = w.target();
        (["us-east", "eu-west", "ap-south"]
            .iter()
            .all(|r| region_health(&t, r) == "up"))
        .then_some(())
    });
    assert_eq!(w.answer(), w.primaries());

    // The agent dies; ap-south now says down. Fresh: us-east up, ap-south down, a 1-1
    // split that majority keeps up. Counting the silent eu-west as down would make it
    // 2 of 3 and fail over.
    drop(eu);
    drop(ap_up);
    let ap_down = keep_reporting(&w, "ap-south", "crafted-ap", false, 1_000);
    let (t, _) = wait_for(deadline, "eu-west unknown and ap-south down", || {
        let t = w.target();
        (region_health(&t, "eu-west") == "unknown" && region_health(&t, "ap-south") == "down")
            .then_some(t)
    });
    assert_eq!(t["decided"], "up", "{t}");
    assert_eq!(t["down_regions"], 1, "{t}");
    assert_eq!(
        w.answer(),
        w.primaries(),
        "a silent region tipped the quorum"
    );

    // The same vote from a second fresh region does fail over: the setup can move.
    let eu_down = keep_reporting(&w, "eu-west", "crafted-eu", false, 1);
    wait_for(deadline, "failover once two regions say down", || {
        (w.answer() == [SECONDARY]).then_some(())
    });
    drop((ap_down, eu_down));
    assert_eq!(w.api.metric("switchyard_panics_total"), 0.0);
}

#[test]
fn the_guard_keeps_serving_when_one_region_suddenly_sees_everything_fail() {
    let w = start(
        &["127.0.0.111", "127.0.0.112", "127.0.0.113"],
        "127.0.0.119:8053",
        "quorum = \"any\"\n",
        "staleness = \"60s\"\nmass_failure = { fraction = 0.5, min_targets = 3, window = \"30s\" }\n",
    );
    let deadline = Duration::from_secs(20);
    assert_eq!(w.report("ap-south", "crafted-ap", 1, true), ACCEPTED);
    assert_eq!(w.report("eu-west", "crafted-eu", 1, true), ACCEPTED);
    wait_for(deadline, "every region up", || {
        let t = w.target();
        (region_health(&t, "eu-west") == "up" && region_health(&t, "ap-south") == "up")
            .then_some(())
    });
    assert_eq!(w.answer(), w.primaries());

    // eu-west suddenly sees all three fail; us-east and ap-south still see them up.
    // Under quorum "any" a trusted eu-west would take every primary out.
    assert_eq!(w.report("eu-west", "crafted-eu", 2, false), ACCEPTED);
    let (v, _) = wait_for(deadline, "eu-west suspected", || {
        w.vantage("crafted-eu").filter(|v| v["suspected"] == true)
    });
    assert_eq!(v["flagged"], 3, "{v}");
    let t = w.target();
    assert_eq!(region_health(&t, "eu-west"), "suspected", "{t}");
    assert_eq!(t["health"], "up", "{t}");
    assert_eq!(
        w.answer(),
        w.primaries(),
        "the guard let one region move answers"
    );
    wait_for(
        Duration::from_secs(5),
        "the suspected-region log line",
        || {
            w.server
                .log()
                .contains("PROBE REGION SUSPECTED")
                .then_some(())
        },
    );

    // Corroborated by ap-south, it was right early: trusted again, and the primaries go.
    assert_eq!(w.report("ap-south", "crafted-ap", 2, false), ACCEPTED);
    wait_for(deadline, "failover once corroborated", || {
        (w.answer() == [SECONDARY]).then_some(())
    });
    wait_for(deadline, "eu-west trusted again", || {
        w.vantage("crafted-eu")
            .filter(|v| v["suspected"] == false)
            .map(|_| ())
    });
}

#[test]
fn a_hold_down_delays_a_return() {
    let w = start(
        &["127.0.0.121"],
        "127.0.0.129:8053",
        "quorum = \"any\"\nhold_down = \"3s\"\n",
        "staleness = \"60s\"\n",
    );
    let deadline = Duration::from_secs(20);
    wait_for(deadline, "the primary", || {
        (w.answer() == w.primaries()).then_some(())
    });
    // One region down is enough under "any": failover.
    assert_eq!(w.report("eu-west", "crafted-eu", 1, false), ACCEPTED);
    wait_for(deadline, "failover", || {
        (w.answer() == [SECONDARY]).then_some(())
    });
    // It recovers: decided up at once, but held down, and answers stay on the secondary.
    assert_eq!(w.report("eu-west", "crafted-eu", 2, true), ACCEPTED);
    let (t, _) = wait_for(deadline, "decided up, held down", || {
        let t = w.target();
        (t["decided"] == "up").then_some(t)
    });
    assert_eq!(t["health"], "down", "{t}");
    assert!(t["held_down_ms"].as_u64().is_some_and(|ms| ms > 0), "{t}");
    assert_eq!(w.answer(), [SECONDARY], "returned before the hold-down");
    // Then it returns, and the hold-down is over.
    wait_for(deadline, "the primary back", || {
        (w.answer() == w.primaries()).then_some(())
    });
    let t = w.target();
    assert_eq!(t["health"], "up", "{t}");
    assert!(t["held_down_ms"].is_null(), "{t}");
}
