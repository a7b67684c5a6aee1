//! Restart safety against the real binary: health is unknown until the first checks
//! complete, and until then the server answers with its configured start-up behaviour:
//! the last decided state from the state file, or all pools, or each check's own
//! start-up state. A state file that can't be read is reported, never fatal.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{wait_for, Layout, Server, ZONE_HEAD};
use switchyard::demo::backend::{BackendHandle, Mode};

const PRIMARY: &str = "127.0.0.31";
const SECONDARY: &str = "127.0.0.32";

/// Probes of the primary hang until the 2 s timeout: no result for it can arrive in
/// the first two seconds after a start, so early answers show the start-up behaviour.
fn zone(port: u16) -> String {
    format!(
        r#"{ZONE_HEAD}
[checks.web]
kind = "http"
port = {port}
interval = "3s"
timeout = "2s"
fall = 1
rise = 1

[pools.primary]
region = "us-east"
addresses = ["{PRIMARY}"]
check = "web"

[pools.secondary]
region = "eu-west"
addresses = ["{SECONDARY}"]
check = "web"

[[policies]]
name = "api"
policy = "failover"
pools = ["primary", "secondary"]
"#
    )
}

async fn backends() -> (BackendHandle, BackendHandle) {
    let (a, b) = common::backends_on_one_port(PRIMARY, SECONDARY).await;
    a.set_mode(Mode::Hang).await.unwrap();
    (a, b)
}

fn start(port: u16, state: &Path, startup: &str) -> Server {
    let l = Layout::new();
    std::fs::write(
        l.config(),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 1\nlog = \"info\"\n\
             state_file = \"{}\"\nstartup = \"{startup}\"\n",
            state.display()
        ),
    )
    .unwrap();
    l.zone("example.test.toml", &zone(port));
    l.serve()
}

fn answer(s: &Server) -> Vec<String> {
    s.dig("api.example.test A").rdata("A")
}

#[test]
fn restarts_answer_from_the_state_file_or_the_configured_fallback() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (primary, _secondary) = rt.block_on(backends());
    let port = primary.addr().port();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("health.json");

    // First run: learns that the primary is down, and saves it.
    let mut first = start(port, &state, "state-file");
    assert!(first.log().contains("no state file yet"), "{}", first.log());
    wait_for(Duration::from_secs(15), "failover to the secondary", || {
        (answer(&first) == vec![SECONDARY.to_string()]).then_some(())
    });
    wait_for(
        Duration::from_secs(10),
        "the state file to record the primary down",
        || {
            let text = std::fs::read_to_string(&state).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            v["targets"]
                .as_array()?
                .iter()
                .any(|t| t["address"] == PRIMARY && t["health"] == "down")
                .then_some(())
        },
    );
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(15)).success());

    // With the state file: the secondary from the first answer on.
    let second = start(port, &state, "state-file");
    assert_eq!(
        answer(&second),
        vec![SECONDARY.to_string()],
        "{}",
        second.log()
    );
    assert!(second.log().contains("start-up health from the state file"));
    drop(second);

    // Without a state file, all pools: the primary until its probe says otherwise.
    std::fs::remove_file(&state).unwrap();
    let third = start(port, &state, "all-pools");
    assert_eq!(answer(&third), vec![PRIMARY.to_string()], "{}", third.log());
    drop(third);

    // A torn state file is ignored (and said so); with nothing known, the start is a
    // quiet one: a first probe round (the primary's probe times out: down) before any
    // answer, so the first answer is already the secondary.
    std::fs::write(&state, b"{\"version\":1,\"saved_at\":17,\"tar").unwrap();
    let fourth = start(port, &state, "state-file");
    assert_eq!(
        answer(&fourth),
        vec![SECONDARY.to_string()],
        "{}",
        fourth.log()
    );
    assert!(!fourth.log().contains("ALL POOLS DOWN"), "{}", fourth.log());
    assert!(
        fourth.log().contains("state file ignored"),
        "{}",
        fourth.log()
    );
}

#[test]
fn a_state_file_startup_without_a_state_file_is_rejected_with_its_position() {
    let l = Layout::new();
    std::fs::write(
        l.config(),
        "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nstartup = \"state-file\"\n",
    )
    .unwrap();
    l.zone("example.test.toml", &zone(8080));
    let err = l.serve_fails();
    assert!(
        err.contains("switchyard.toml:4:") && err.contains("needs `state_file`"),
        "{err}"
    );
}
