//! `switchyard check` prints each policy's worst-case failover time and fails when a
//! declared `max_failover` cannot be met, pointing at the key.

mod common;

use std::process::Command;

use common::{Layout, BIN};

fn zone(max: &str) -> String {
    format!(
        r#"[zone]
origin = "budget.test."
nameservers = ["ns1.budget.test."]
soa = {{ mname = "ns1.budget.test.", rname = "h.budget.test." }}

[checks.api]
kind = "http"
port = 8080
interval = "5s"
timeout = "2s"
fall = 3

[pools.east]
region = "us-east"
addresses = ["192.0.2.10"]
check = "api"

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10"]
check = "api"

[[policies]]
name = "api"
policy = "failover"
ttl = 30
pools = ["east", "west"]
{max}
"#
    )
}

fn check(l: &Layout) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("check")
        .arg(l.dir.path().join("zones"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_prints_the_budget_and_enforces_max_failover() {
    let l = Layout::new();
    l.zone("budget.test.toml", &zone("max_failover = \"60s\""));
    let (ok, out, err) = check(&l);
    assert!(ok, "{err}");
    // 3 x 5s x 1.1 + 2s + 20ms publication = 18.52s to the answer, + 30s TTL for
    // resolvers, + 30s more behind serve-stale.
    println!("{out}");
    assert!(
        out.contains("policy api (api.budget.test.): answer changes within 18.52s, resolvers see it within 48.52s (78.52s with serve-stale)"),
        "{out}"
    );
    assert!(out.contains("max_failover 60s: ok"), "{out}");

    l.zone("budget.test.toml", &zone("max_failover = \"45s\""));
    let (ok, _, err) = check(&l);
    assert!(!ok, "a budget the checks cannot meet must fail the check");
    let text = zone("max_failover = \"45s\"");
    let line = text
        .lines()
        .position(|l| l.starts_with("max_failover"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("budget.test.toml:{line}:16: policy api: worst-case failover 48.52s exceeds max_failover 45s")), "{err}");
    // serve refuses the same file.
    assert!(l.serve_fails().contains("exceeds max_failover"));
}
