//! Weighted answers end to end: the observed shares over many queries match the weights
//! within a stated bound (the server's RNG is seeded, so the run is reproducible); a
//! weight-0 pool serves only when the weighted pools are down; sticky mode gives each
//! client subnet one pool and spreads subnets by weight.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use common::{wait_for, Layout, Server};
use switchyard::demo::backend::{Backend, BackendHandle, Mode};

const A: &str = "127.0.0.61";
const B: &str = "127.0.0.62";
const C: &str = "10.9.9.9";

/// Queries per share test: with p = 0.7 the standard deviation of the observed share is
/// sqrt(0.7 * 0.3 / 2000) = 1.02 percentage points, so the ±5 point bound below is
/// about 4.9 standard deviations: a correct server fails it with probability ~1e-6 (and,
/// seeded, never); a server ignoring the weights (50/50) misses it by 15 points.
const N: usize = 2000;
const BOUND: f64 = 0.05;

fn zone(port_a: u16, port_b: u16) -> String {
    format!(
        r#"[zone]
origin = "w.test."
nameservers = ["ns1.w.test."]
soa = {{ mname = "ns1.w.test.", rname = "hostmaster.w.test." }}

[checks.a]
kind = "http"
port = {port_a}
interval = "100ms"
timeout = "100ms"
fall = 1
rise = 1

[checks.b]
kind = "http"
port = {port_b}
interval = "100ms"
timeout = "100ms"
fall = 1
rise = 1

[pools.a]
region = "local"
addresses = ["{A}"]
check = "a"

[pools.b]
region = "local"
addresses = ["{B}"]
check = "b"

[pools.spare]
region = "local"
addresses = ["{C}"]

[[policies]]
name = "api"
policy = "weighted"
weights = {{ a = 70, b = 30, spare = 0 }}

[[policies]]
name = "sticky"
policy = "weighted"
weights = {{ a = 1, b = 1 }}
sticky = true
"#
    )
}

fn start() -> (
    tokio::runtime::Runtime,
    BackendHandle,
    BackendHandle,
    Server,
) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        let a = Backend::start(SocketAddr::new(A.parse::<IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        let b = Backend::start(SocketAddr::new(B.parse::<IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        (a, b)
    });
    let l = Layout::new();
    std::fs::write(
        l.config(),
        "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 2\nrng_seed = 20240601\n",
    )
    .unwrap();
    l.zone("w.test.toml", &zone(a.addr().port(), b.addr().port()));
    let s = l.serve();
    (rt, a, b, s)
}

/// Many queries in one dig process (`dig -f`): one answer line per query.
fn batch(s: &Server, lines: &[String]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = Command::new("dig")
        .arg(format!("@{}", s.addr.ip()))
        .args(["-p", &s.addr.port().to_string()])
        .args(["+time=2", "+tries=2", "+norec", "+short", "-f"])
        .arg(&file)
        .output()
        .expect("dig");
    let answers: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        answers.len(),
        lines.len(),
        "one answer per query: {answers:?}"
    );
    answers
}

fn both_up(s: &Server) {
    wait_for(Duration::from_secs(10), "a and b up", || {
        let got = batch(s, &vec!["api.w.test A".to_string(); 50]);
        (got.iter().any(|x| x == A) && got.iter().any(|x| x == B)).then_some(())
    });
}

#[test]
fn shares_match_the_weights_and_weight_zero_waits_for_the_others_to_fail() {
    let (rt, a, b, s) = start();
    both_up(&s);

    let answers = batch(&s, &vec!["api.w.test A".to_string(); N]);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for x in &answers {
        *counts.entry(x.as_str()).or_default() += 1;
    }
    let share = |ip: &str| *counts.get(ip).unwrap_or(&0) as f64 / N as f64;
    println!(
        "weighted 70/30/0 over {N} queries: a {:.1}%, b {:.1}%, spare {:.1}% (bound ±{:.0} points)",
        share(A) * 100.0,
        share(B) * 100.0,
        share(C) * 100.0,
        BOUND * 100.0
    );
    assert_eq!(counts.values().sum::<usize>(), N, "{counts:?}");
    assert!((share(A) - 0.7).abs() < BOUND, "{counts:?}");
    assert!((share(B) - 0.3).abs() < BOUND, "{counts:?}");
    assert_eq!(
        share(C),
        0.0,
        "weight 0 served while weighted pools were up"
    );

    // One weighted pool down: all traffic to the other, still none to the spare.
    rt.block_on(a.set_mode(Mode::Status(503))).unwrap();
    wait_for(Duration::from_secs(10), "only b", || {
        batch(&s, &vec!["api.w.test A".to_string(); 50])
            .iter()
            .all(|x| x == B)
            .then_some(())
    });
    // Both down: the weight-0 pool takes over.
    rt.block_on(b.set_mode(Mode::Status(503))).unwrap();
    wait_for(Duration::from_secs(10), "the spare", || {
        batch(&s, &vec!["api.w.test A".to_string(); 20])
            .iter()
            .all(|x| x == C)
            .then_some(())
    });
    // And it steps back when a weighted pool recovers.
    rt.block_on(b.set_mode(Mode::Healthy)).unwrap();
    wait_for(Duration::from_secs(10), "b again", || {
        batch(&s, &vec!["api.w.test A".to_string(); 20])
            .iter()
            .all(|x| x == B)
            .then_some(())
    });
}

#[test]
fn sticky_mode_keeps_each_subnet_on_one_pool_and_moves_only_the_lost_pools_subnets() {
    let (rt, a, _b, s) = start();
    both_up(&s);
    const SUBNETS: usize = 300;
    let lines: Vec<String> = (0..SUBNETS)
        .flat_map(|i| {
            let q = format!("sticky.w.test A +subnet=10.{}.{}.0/24", i / 256, i % 256);
            [q.clone(), q]
        })
        .collect();
    let answers = batch(&s, &lines);
    let mut on_a = 0;
    let mut first = Vec::new();
    for pair in answers.chunks(2) {
        assert_eq!(pair[0], pair[1], "one subnet, two answers");
        on_a += usize::from(pair[0] == A);
        first.push(pair[0].clone());
    }
    // 1:1 weights over 300 subnets: sd 8.7 subnets; ±45 is over 5 of them.
    assert!((on_a as i64 - 150).abs() < 45, "{on_a} of {SUBNETS} on a");

    // The answer carries the hashed prefix as its scope.
    let d = s.dig("sticky.w.test A +subnet=10.1.2.0/24");
    assert!(d.raw.contains("CLIENT-SUBNET: 10.1.2.0/24/24"), "{}", d.raw);

    // Pool a goes down: its subnets move to b, b's stay where they were.
    rt.block_on(a.set_mode(Mode::Status(503))).unwrap();
    wait_for(
        Duration::from_secs(10),
        "a out of the sticky answers",
        || batch(&s, &lines[..40]).iter().all(|x| x == B).then_some(()),
    );
    rt.block_on(a.set_mode(Mode::Healthy)).unwrap();
    wait_for(Duration::from_secs(10), "a back", || {
        (batch(&s, &lines)
            .iter()
            .step_by(2)
            .cloned()
            .collect::<Vec<_>>()
            == first)
            .then_some(())
    });
}
