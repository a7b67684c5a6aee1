//! Hot reload and alerts end to end: a good reload changes the answer, a broken file
//! changes nothing and is reported, health state carries over, SIGHUP and file changes
//! trigger reloads, and a local webhook receiver gets the alerts.

mod common;
mod control;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{wait_for, Server};
use control::{layout, static_zone, Api, TOKEN};
use serde_json::{json, Value};
use switchyard::demo::backend::Backend;

const PRIMARY: &str = "192.0.2.1";
const MOVED: &str = "192.0.2.2";
const SECONDARY: &str = "198.51.100.1";
const CHECKED: &str = "127.0.0.41";

fn answer(s: &Server) -> Vec<String> {
    s.dig("api.ops.test A").rdata("A")
}

/// A second zone whose pool is probed for real, to see health survive reloads.
fn checked_zone(port: u16, ttl: u32, interval_ms: u32) -> String {
    format!(
        r#"[zone]
origin = "checked.test."
nameservers = ["ns1.checked.test."]
soa = {{ mname = "ns1.checked.test.", rname = "hostmaster.checked.test." }}

[checks.web]
kind = "http"
port = {port}
path = "/health"
interval = "{interval_ms}ms"
timeout = "150ms"

[pools.only]
region = "us-east"
addresses = ["{CHECKED}"]
check = "web"

[[policies]]
name = "www"
policy = "failover"
ttl = {ttl}
pools = ["only"]
"#
    )
}

fn checked_target(st: &Value) -> Value {
    let z = st["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["origin"] == "checked.test.")
        .unwrap();
    z["pools"][0]["addresses"][0].clone()
}

#[test]
fn reloads_apply_good_files_reject_broken_ones_and_keep_health() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let backend = rt
        .block_on(Backend::start(SocketAddr::new(CHECKED.parse().unwrap(), 0)))
        .unwrap();
    let l = layout(false, "");
    let ops_file = l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let checked_file = l.zone(
        "checked.test.toml",
        &checked_zone(backend.addr().port(), 5, 200),
    );
    let s = l.serve();
    let api = Api::new(s.control.unwrap());
    assert_eq!(answer(&s), vec![PRIMARY]);
    let (target, _) = wait_for(Duration::from_secs(10), "the checked target up", || {
        let t = checked_target(&api.get("/v1/status"));
        (t["health"] == "up").then_some(t)
    });
    let since = target["since"].clone();
    assert_eq!(target["last_result"], "HTTP 200");
    assert!(target["latency_ms"].as_f64().is_some());

    // A good file, reloaded through the API: served by the time the reply comes.
    std::fs::write(&ops_file, static_zone(MOVED, SECONDARY, 5)).unwrap();
    let r = api.post("/v1/reload", json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let a = r.json();
    assert_eq!(a["ok"], true);
    assert!(a["epoch"].as_u64().is_some(), "{a}");
    assert_eq!(answer(&s), vec![MOVED]);

    // A changed check timing (same probe) keeps the target's state and its since.
    std::fs::write(&checked_file, checked_zone(backend.addr().port(), 7, 300)).unwrap();
    assert_eq!(api.post("/v1/reload", json!({})).status, 200);
    assert_eq!(s.dig("www.checked.test A").answer()[0][1], "7");
    let t = checked_target(&api.get("/v1/status"));
    assert_eq!(t["health"], "up", "{t}");
    assert_eq!(
        t["since"], since,
        "health state did not carry over the reload"
    );

    // A broken file: nothing changes, and status says why with file:line:col.
    let broken = static_zone(PRIMARY, SECONDARY, 5).replace(
        "pools = [\"primary\", \"secondary\"]",
        "pools = [\"primary\", \"nowhere\"]",
    );
    std::fs::write(&ops_file, &broken).unwrap();
    let r = api.post("/v1/reload", json!({}));
    assert_eq!(r.status, 422, "{}", r.text);
    let a = r.json();
    assert_eq!(a["ok"], false);
    let err = a["errors"][0].as_str().unwrap();
    let line = broken.lines().position(|l| l.contains("nowhere")).unwrap() + 1;
    assert!(err.contains(&format!("ops.test.toml:{line}:")), "{err}");
    assert!(err.contains("nowhere"), "{err}");
    assert_eq!(answer(&s), vec![MOVED], "a broken file changed the answers");
    let st = api.get("/v1/status");
    assert!(st["reload"]["failures"].as_u64().unwrap() >= 1);
    assert!(st["reload"]["last_failure"]["errors"][0]
        .as_str()
        .unwrap()
        .contains("nowhere"));
    // `metric` panics when the sample is missing, so an absent family fails too.
    assert!(api.metric("switchyard_reloads_total{result=\"failure\"}") >= 1.0);
    assert!(s
        .log()
        .contains("reload rejected; still serving the previous zones"));

    // Fixed by editing the file: the watcher reloads it without being asked.
    std::fs::write(&ops_file, static_zone(PRIMARY, SECONDARY, 5)).unwrap();
    let (_, took) = wait_for(
        Duration::from_secs(10),
        "the file change to be reloaded",
        || (answer(&s) == vec![PRIMARY]).then_some(()),
    );
    println!(
        "reload on file change: served after {} ms",
        took.as_millis()
    );
    let st = api.get("/v1/status");
    assert_eq!(st["reload"]["last"]["ok"], true, "{}", st["reload"]);

    // SIGHUP reloads too (and does not kill the server).
    s.signal("HUP");
    wait_for(
        Duration::from_secs(10),
        "a reload triggered by SIGHUP",
        || (api.get("/v1/status")["reload"]["last"]["trigger"] == "sighup").then_some(()),
    );
    assert_eq!(answer(&s), vec![PRIMARY]);
    drop(backend);
}

/// A webhook receiver on loopback that records every JSON body it gets.
fn receiver(rt: &tokio::runtime::Runtime) -> (SocketAddr, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    (addr, got)
}

#[test]
fn webhooks_receive_overrides_and_failovers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (hook, got) = receiver(&rt);
    let l = layout(
        false,
        &format!("[alerts]\nwebhooks = [\"http://{hook}/hook\"]\n"),
    );
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let api = Api::new(s.control.unwrap());
    let r = api.request(
        "POST",
        "/v1/overrides",
        Some(TOKEN),
        Some(
            json!({"pool": "primary", "action": "drain", "reason": "patching", "expires_in": "1h"}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let (events, _) = wait_for(
        Duration::from_secs(10),
        "the override and failover alerts",
        || {
            let g = got.lock().unwrap();
            let kinds: Vec<&str> = g.iter().filter_map(|v| v["event"].as_str()).collect();
            (kinds.contains(&"override") && kinds.contains(&"failover")).then(|| g.clone())
        },
    );
    let o = events.iter().find(|v| v["event"] == "override").unwrap();
    assert_eq!(o["zone"], "ops.test.");
    assert_eq!(o["pool"], "primary");
    assert_eq!(o["reason"], "patching");
    assert_eq!(o["to"], "down");
    assert_eq!(o["severity"], "warning");
    assert_eq!(o["server"], "local");
    assert!(o["at"].as_str().unwrap().ends_with('Z'));
    assert!(
        o["text"]
            .as_str()
            .unwrap()
            .contains("ops.test./primary forced down"),
        "{o}"
    );
    let f = events.iter().find(|v| v["event"] == "failover").unwrap();
    assert_eq!(f["policy"], "api");
    assert_eq!(f["from"], "pool primary");
    assert_eq!(f["to"], "pool secondary");
    assert!(
        f["text"]
            .as_str()
            .unwrap()
            .contains("moved from pool primary to pool secondary"),
        "{f}"
    );

    // Every pool down: a critical all-down alert.
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "secondary", "action": "drain", "reason": "both", "expires_in": "1h"}),
    );
    assert_eq!(r.status, 201);
    let (all, _) = wait_for(Duration::from_secs(10), "the all-down alert", || {
        got.lock()
            .unwrap()
            .iter()
            .find(|v| v["event"] == "all_down")
            .cloned()
    });
    assert_eq!(all["severity"], "critical");
    assert!(api.metric("switchyard_alerts_total{result=\"sent\"}") >= 1.0);
}
