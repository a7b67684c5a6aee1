//! Distributed probing end to end, in network namespaces this test makes: three regions,
//! each with a backend and a probe agent; nameservers in regions 1 and 2, each also a probe
//! of its own region. Every process is the real binary.
//!
//! - One agent's path to a healthy backend is cut: nothing fails over, the votes disagree.
//! - A backend really stops: both nameservers move within the bound the config implies.
//! - An agent is killed: its region ages out and decisions go on with the others.
//! - An agent with the wrong secret: every report refused, and counted.

mod common;
#[path = "multi_region/netns.rs"]
mod netns;

use std::time::{Duration, Instant};

use common::{wait_for, BIN};
use netns::{Net, Proc};
use serde_json::Value;

const INTERVAL_MS: u64 = 500;
const TIMEOUT_MS: u64 = 250;
const FALL: u64 = 2;
const BATCH_MS: u64 = 100;
/// Default staleness: 3 × the interval.
const STALE_MS: u64 = 3 * INTERVAL_MS;
/// The aggregator's sweep, which ages votes out between reports.
const SWEEP_MS: u64 = 250;
/// Probes run every interval ± 10%.
const JITTER: f64 = 1.1;

fn backend(i: usize) -> String {
    format!("10.99.0.1{i}")
}

fn nameserver(i: usize) -> String {
    format!("10.99.0.2{i}")
}

fn zone() -> String {
    let pools: String = (1..=3)
        .map(|i| {
            format!(
                "[pools.p{i}]\nregion = \"r{i}\"\naddresses = [\"{}\"]\ncheck = \"web\"\n\n",
                backend(i)
            )
        })
        .collect();
    format!(
        r#"[zone]
origin = "multi.test."
nameservers = ["ns1.multi.test."]
soa = {{ mname = "ns1.multi.test.", rname = "hostmaster.multi.test." }}

[checks.web]
kind = "http"
port = 8080
path = "/health"
interval = "{INTERVAL_MS}ms"
timeout = "{TIMEOUT_MS}ms"
fall = {FALL}
rise = 2
quorum = "majority"

{pools}[[policies]]
name = "api"
policy = "failover"
ttl = 1
pools = ["p1", "p2", "p3"]
"#
    )
}

/// The server file of nameserver `i`; agents use nameserver 1's, or one with `key`.
fn server_file(i: usize, key: &str) -> String {
    format!(
        r#"[server]
listen = ["{ns}:5353"]
zones = "zones"
region = "r{i}"
udp_sockets = 1
log = "info"

[control]
listen = "{ns}:8053"
open_reads = true

[agents]
secret_file = "{key}"
report_to = ["http://{ns1}:8053", "http://{ns2}:8053"]
regions = ["r1", "r2", "r3"]
batch = "{BATCH_MS}ms"
"#,
        ns = nameserver(i),
        ns1 = nameserver(1),
        ns2 = nameserver(2),
    )
}

struct World {
    dir: tempfile::TempDir,
    backends: Vec<Option<Proc>>,
    agents: Vec<Option<Proc>>,
    nameservers: Vec<Proc>,
    // Declared last: dropped last, after every process above is gone.
    net: Net,
}

impl World {
    fn start() -> World {
        let net = Net::new(3);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("zones")).unwrap();
        std::fs::write(d.join("zones/multi.test.toml"), zone()).unwrap();
        std::fs::write(
            d.join("agents.key"),
            "shared-secret-of-the-fleet-0123456789\n",
        )
        .unwrap();
        std::fs::write(
            d.join("wrong.key"),
            "not-the-secret-of-the-fleet-9876543210\n",
        )
        .unwrap();
        for i in 1..=2 {
            std::fs::write(d.join(format!("ns{i}.toml")), server_file(i, "agents.key")).unwrap();
        }
        std::fs::write(d.join("rogue.toml"), server_file(1, "wrong.key")).unwrap();

        let mut w = World {
            dir,
            backends: Vec::new(),
            agents: Vec::new(),
            nameservers: Vec::new(),
            net,
        };
        for i in 1..=3 {
            let mut c = w.net.cmd(i, BIN);
            c.args(["test-backend", "--listen", &format!("{}:8080", backend(i))]);
            let (p, _) = Proc::start(&format!("backend {i}"), c, "backend listening=");
            w.backends.push(Some(p));
        }
        for i in 1..=2 {
            let mut c = w.net.cmd(i, BIN);
            c.args(["serve", "--config"])
                .arg(w.dir.path().join(format!("ns{i}.toml")));
            let (p, _) = Proc::start(&format!("nameserver {i}"), c, "listening dns=");
            w.nameservers.push(p);
        }
        for i in 1..=3 {
            let p = w.agent(i, "ns1.toml");
            w.agents.push(Some(p));
        }
        w
    }

    fn agent(&self, i: usize, config: &str) -> Proc {
        let mut c = self.net.cmd(i, BIN);
        c.args(["probe", "--region", &format!("r{i}"), "--config"])
            .arg(self.dir.path().join(config));
        Proc::start(&format!("agent {i} ({config})"), c, "probing ").0
    }

    /// What nameserver `ns` answers for api.multi.test, asked from its own region.
    fn answer(&self, ns: usize) -> Option<String> {
        let out = self
            .net
            .cmd(ns, "dig")
            .arg(format!("@{}", nameserver(ns)))
            .args(["-p", "5353", "+short", "+time=1", "+tries=1", "+norec"])
            .args(["api.multi.test", "A"])
            .output()
            .expect("dig is required (scripts/test.sh installs it)");
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!text.is_empty() && !text.contains(';')).then_some(text)
    }

    /// Nameserver `ns`'s votes and report counters (`GET /v1/quorum`).
    fn quorum(&self, ns: usize) -> Option<Value> {
        self.get(ns, "/v1/quorum")
    }

    fn get(&self, ns: usize, path: &str) -> Option<Value> {
        let out = self
            .net
            .cmd(ns, "curl")
            .args(["-sf", "--max-time", "2"])
            .arg(format!("http://{}:8053{path}", nameserver(ns)))
            .output()
            .expect("curl is required (scripts/test.sh installs it)");
        serde_json::from_slice(&out.stdout).ok()
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for p in self.nameservers.iter() {
            s.push_str(&format!("--- {}\n{}", p.name, p.log()));
        }
        for p in self.agents.iter().flatten() {
            s.push_str(&format!("--- {}\n{}", p.name, p.log()));
        }
        s
    }
}

fn target<'a>(q: &'a Value, addr: &str) -> &'a Value {
    q["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["address"] == addr))
        .unwrap_or(&Value::Null)
}

/// The health each region's fresh votes give a target, as "region:health" pairs.
fn fresh_votes(q: &Value, addr: &str) -> Vec<String> {
    let mut v: Vec<String> = target(q, addr)["votes"]
        .as_array()
        .map(|votes| {
            votes
                .iter()
                .filter(|v| v["fresh"] == true)
                .map(|v| {
                    format!(
                        "{}:{}",
                        v["region"].as_str().unwrap(),
                        v["health"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

fn both_answer(w: &World, want: &str) -> bool {
    (1..=2).all(|ns| w.answer(ns).as_deref() == Some(want))
}

#[test]
fn quorum_across_three_regions_in_network_namespaces() {
    let test = "quorum_across_three_regions_in_network_namespaces";
    if !common::prerequisite(test, common::root_missing("creating network namespaces")) {
        return;
    }
    let mut w = World::start();
    let deadline = Duration::from_secs(30);

    // Everyone is up, every region has voted on every backend, both answer the primary.
    wait_for(
        deadline,
        "all three regions voting up on every backend",
        || {
            (1..=2)
                .all(|ns| {
                    w.quorum(ns).is_some_and(|q| {
                        (1..=3).all(|b| {
                            let v = fresh_votes(&q, &backend(b));
                            ["r1:up", "r2:up", "r3:up"]
                                .iter()
                                .all(|x| v.contains(&x.to_string()))
                        })
                    })
                })
                .then_some(())
        },
    );
    wait_for(deadline, "both nameservers answering backend 1", || {
        both_answer(&w, &backend(1)).then_some(())
    });

    // 1. Region 3's path to backend 1 is cut. It votes down; the others outvote it.
    w.net.blackhole(3, &backend(1));
    for ns in 1..=2 {
        let (q, _) = wait_for(deadline, "region 3 voting backend 1 down", || {
            w.quorum(ns)
                .filter(|q| fresh_votes(q, &backend(1)).contains(&"r3:down".to_string()))
        });
        let t = target(&q, &backend(1));
        assert_eq!(t["disagreement"], true, "nameserver {ns}: {t}");
        assert_eq!(t["decided"], "up", "nameserver {ns}: {t}");
        assert_eq!(
            (t["up_regions"].as_u64(), t["down_regions"].as_u64()),
            (Some(2), Some(1))
        );
        let reason = t["votes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["region"] == "r3")
            .map(|v| v["reason"].to_string())
            .unwrap();
        println!("nameserver {ns}: region 3 says backend 1 is down ({reason}); decided up by 2 of 3 regions");
    }
    // The operator's status shows the split per region too.
    let status = w.get(1, "/v1/status").unwrap();
    let regions = &status["zones"][0]["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "p1")
        .unwrap()["addresses"][0]["regions"];
    let mut split: Vec<String> = regions
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["region"].as_str().unwrap(),
                r["health"].as_str().unwrap()
            )
        })
        .collect();
    split.sort();
    assert_eq!(split, ["r1:up", "r2:up", "r3:down"], "{status}");
    // Region 3 has now seen `fall` failures and said so; had it decided alone, the answer
    // would have moved by now. Both still answer backend 1.
    assert!(both_answer(&w, &backend(1)), "{}", w.logs());
    w.net.restore(3, &backend(1));
    wait_for(deadline, "region 3 seeing backend 1 again", || {
        (1..=2)
            .all(|ns| {
                w.quorum(ns)
                    .is_some_and(|q| fresh_votes(&q, &backend(1)).contains(&"r3:up".to_string()))
            })
            .then_some(())
    });

    // 2. Backend 1 really stops: both nameservers move to backend 2.
    let bound = Duration::from_millis(
        (INTERVAL_MS as f64 * FALL as f64 * JITTER) as u64 + TIMEOUT_MS + BATCH_MS + 500,
    );
    let stopped = Instant::now();
    w.backends[0].take().unwrap().kill();
    let mut moved = [None, None];
    wait_for(deadline, "both nameservers answering backend 2", || {
        for ns in 1..=2 {
            if moved[ns - 1].is_none() && w.answer(ns).as_deref() == Some(&backend(2)) {
                moved[ns - 1] = Some(stopped.elapsed());
            }
        }
        moved.iter().all(Option::is_some).then_some(())
    });
    for (ns, took) in moved.iter().enumerate() {
        let took = took.unwrap();
        println!(
            "time to switch, nameserver {}: {} ms (bound {} ms = interval {INTERVAL_MS} x fall {FALL} x 1.1 jitter + timeout {TIMEOUT_MS} + batch {BATCH_MS} + 500 slack)",
            ns + 1,
            took.as_millis(),
            bound.as_millis()
        );
        assert!(
            took <= bound,
            "nameserver {} took {took:?} > {bound:?}\n{}",
            ns + 1,
            w.logs()
        );
    }

    // 3. Agent 3 dies. After the staleness window its region is unknown, not down.
    let killed = Instant::now();
    w.agents[2].take().unwrap().kill();
    let (_, aged) = wait_for(deadline, "region 3 aging out on both nameservers", || {
        (1..=2)
            .all(|ns| {
                w.quorum(ns).is_some_and(|q| {
                    q["vantages"].as_array().is_some_and(|vs| {
                        vs.iter()
                            .filter(|v| v["region"] == "r3")
                            .all(|v| v["fresh_votes"] == 0)
                    })
                })
            })
            .then_some(())
    });
    println!(
        "region 3 unknown {} ms after its agent died (staleness {STALE_MS} ms from its last report)",
        aged.as_millis()
    );
    let earliest =
        Duration::from_millis(STALE_MS - (INTERVAL_MS as f64 * JITTER) as u64 - BATCH_MS);
    assert!(
        aged >= earliest,
        "aged out after {aged:?}, before the window"
    );
    assert!(killed.elapsed() < Duration::from_millis(STALE_MS + SWEEP_MS + 2000));
    let q = w.quorum(1).unwrap();
    assert_eq!(target(&q, &backend(2))["decided"], "up");
    assert!(!fresh_votes(&q, &backend(2))
        .iter()
        .any(|v| v.starts_with("r3")));

    // Decisions go on with the two regions left: backend 2 stops, both move to 3.
    w.backends[1].take().unwrap().kill();
    wait_for(deadline, "both nameservers answering backend 3", || {
        both_answer(&w, &backend(3)).then_some(())
    });
    let q = w.quorum(2).unwrap();
    let t = target(&q, &backend(2));
    assert_eq!(
        (t["up_regions"].as_u64(), t["down_regions"].as_u64()),
        (Some(0), Some(2)),
        "{t}"
    );

    // 4. An agent with the wrong secret: refused by both, counted, never a vote.
    let rogue = w.agent(3, "rogue.toml");
    for ns in 1..=2 {
        let (q, _) = wait_for(deadline, "bad-signature rejections", || {
            w.quorum(ns).filter(|q| {
                q["reports"]["rejected"]["bad_signature"]
                    .as_u64()
                    .is_some_and(|n| n >= 3)
            })
        });
        assert!(q["reports"]["accepted"].as_u64().unwrap() > 0);
        let r3_fresh = q["vantages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["region"] == "r3" && v["fresh_votes"] != 0);
        assert!(!r3_fresh, "a rejected report counted: {q}");
        println!(
            "nameserver {ns}: {} reports with a wrong secret rejected",
            q["reports"]["rejected"]["bad_signature"]
        );
    }
    assert!(
        rogue.log().contains("cannot report") && rogue.log().contains("401"),
        "{}",
        rogue.log()
    );
    let log = w.nameservers[0].log();
    assert!(
        log.contains("probe report rejected") && log.contains("bad_signature"),
        "{log}"
    );
}
