//! Operator trust against the real binary: drains that survive SIGKILL and SIGTERM (and
//! one that expired while down), a quiet start with no failover alerts, an idle server
//! that does not rebuild, escaped and bounded reasons, a stale state file, one JSON
//! error shape and a case-insensitive bearer scheme, and explain against dig.

mod common;
mod control;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::{wait_for, Layout, Server};
use control::{static_zone, Api, TOKEN};
use serde_json::{json, Value};

const PRIMARY: &str = "192.0.2.1";
const SECONDARY: &str = "198.51.100.1";

/// A control-enabled server whose files live in `dir` (kept across restarts).
fn start(dir: &Path, server_extra: &str, extra: &str, zone: &str) -> Server {
    let l = Layout::new();
    std::fs::write(l.dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(
        l.config(),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 1\nlog = \"info\"\n\
             overrides_file = \"{}\"\n{server_extra}\n\
             [control]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n{extra}",
            dir.join("overrides.json").display()
        ),
    )
    .unwrap();
    l.zone("z.toml", zone);
    l.serve()
}

fn answer(s: &Server) -> Vec<String> {
    s.dig("api.ops.test A").rdata("A")
}

fn drain(api: &Api, pool: &str, for_: &str, reason: &str) -> Value {
    let r = api.post(
        "/v1/overrides",
        json!({"pool": pool, "action": "drain", "reason": reason, "expires_in": for_}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

#[test]
fn a_drain_survives_sigkill_and_sigterm_and_one_that_expired_while_down_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let zone = static_zone(PRIMARY, SECONDARY, 5);
    let s = start(dir.path(), "", "", &zone);
    let api = Api::new(s.control.unwrap());
    assert_eq!(answer(&s), vec![PRIMARY]);
    let set = drain(&api, "primary", "1h", "maintenance");
    assert_eq!(answer(&s), vec![SECONDARY]);
    drop(s); // SIGKILL: no chance to save anything on the way out.

    let mut s = start(dir.path(), "", "", &zone);
    assert_eq!(
        answer(&s),
        vec![SECONDARY],
        "first answer after SIGKILL: {}",
        s.log()
    );
    let api = Api::new(s.control.unwrap());
    let listed = api.get("/v1/overrides");
    assert_eq!(listed[0]["id"], set["id"]);
    assert_eq!(
        listed[0]["expires_at"], set["expires_at"],
        "the original expiry"
    );
    assert!(s.log().contains("override restored"), "{}", s.log());

    s.signal("TERM");
    assert!(s.wait_exit(Duration::from_secs(15)).success());
    let s = start(dir.path(), "", "", &zone);
    assert_eq!(answer(&s), vec![SECONDARY], "after SIGTERM: {}", s.log());

    // A short drain, then down past its expiry: dropped, logged, the primary answers.
    let api = Api::new(s.control.unwrap());
    let id = api.get("/v1/overrides")[0]["id"].as_u64().unwrap();
    assert_eq!(
        api.request("DELETE", &format!("/v1/overrides/{id}"), Some(TOKEN), None)
            .status,
        200
    );
    let short = drain(&api, "primary", "2s", "short");
    let until: SystemTime =
        humantime::parse_rfc3339(short["expires_at"].as_str().unwrap()).unwrap();
    drop(s);
    wait_for(
        Duration::from_secs(10),
        "the drain's expiry to pass",
        || (SystemTime::now() > until + Duration::from_secs(1)).then_some(()),
    );
    let s = start(dir.path(), "", "", &zone);
    assert_eq!(answer(&s), vec![PRIMARY], "{}", s.log());
    assert!(
        s.log()
            .contains("override expired while the server was down"),
        "{}",
        s.log()
    );
}

#[test]
fn reasons_are_escaped_in_the_log_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), "", "", &static_zone(PRIMARY, SECONDARY, 5));
    let api = Api::new(s.control.unwrap());
    drain(&api, "primary", "1h", "ok\nERROR forged line");
    wait_for(Duration::from_secs(5), "the override log line", || {
        s.log().contains("override set").then_some(())
    });
    let log = s.log();
    assert!(
        !log.lines().any(|l| l.starts_with("ERROR forged line")),
        "a newline forged a log line:\n{log}"
    );
    assert!(log.contains(r#"ok\nERROR forged line"#), "{log}");
    let long = "x".repeat(501);
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "secondary", "action": "drain", "reason": long, "expires_in": "1m"}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.json()["error"].as_str().unwrap().contains("at most 500"));
    let ok = "y".repeat(500);
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "secondary", "action": "drain", "reason": ok, "expires_in": "1m"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

#[test]
fn every_control_error_is_json_and_the_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), "", "", &static_zone(PRIMARY, SECONDARY, 5));
    let addr = s.control.unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder| {
        rt.block_on(async {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, ct, r.text().await.unwrap())
        })
    };
    let url = |p: &str| format!("http://{addr}{p}");
    let auth = format!("Bearer {TOKEN}");
    let cases = [
        (
            "404",
            c.get(url("/v1/nothing")).header("authorization", &auth),
            404,
        ),
        (
            "405",
            c.get(url("/v1/reload")).header("authorization", &auth),
            405,
        ),
        ("401", c.get(url("/v1/status")), 401),
        (
            "415",
            c.post(url("/v1/overrides"))
                .header("authorization", &auth)
                .body("{}"),
            415,
        ),
        (
            "400",
            c.post(url("/v1/overrides"))
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
        ),
        (
            "413",
            c.post(url("/v1/overrides"))
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(vec![b' '; 100 * 1024]),
            413,
        ),
        (
            "bad query",
            c.get(url("/v1/drills/notanumber"))
                .header("authorization", &auth),
            400,
        ),
    ];
    for (what, req, want) in cases {
        let (status, ct, text) = send(req);
        assert_eq!(status, want, "{what}: {text}");
        assert!(ct.starts_with("application/json"), "{what}: {ct} {text}");
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {text}"
        );
    }
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let (status, _, text) = send(
            c.get(url("/v1/status"))
                .header("authorization", format!("{scheme} {TOKEN}")),
        );
        assert_eq!(status, 200, "{scheme}: {text}");
    }
}

#[test]
fn a_state_file_older_than_its_maximum_age_is_ignored_and_a_bad_age_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("health.json");
    let month_ago = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 30 * 86400;
    std::fs::write(
        &state,
        format!(r#"{{"version":1,"saved_at":{month_ago},"targets":[]}}"#),
    )
    .unwrap();
    let extra = format!(
        "state_file = \"{}\"\nstartup = \"state-file\"\nstate_max_age = \"1h\"",
        state.display()
    );
    let s = start(dir.path(), &extra, "", &static_zone(PRIMARY, SECONDARY, 5));
    assert!(
        s.log()
            .contains("state file ignored: older than state_max_age"),
        "{}",
        s.log()
    );
    assert!(!s.log().contains("start-up health from the state file"));
    drop(s);

    let l = Layout::new();
    std::fs::write(
        l.config(),
        "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nstate_max_age = \"soon\"\n",
    )
    .unwrap();
    let err = l.serve_fails();
    assert!(
        err.contains("switchyard.toml:4:") && err.contains("state_max_age"),
        "{err}"
    );
}

/// Three checked pools of healthy backends: a failover name and a multivalue name of
/// six addresses (more than four: its orderings are drawn at each build).
fn checked_zone(ports: [u16; 3]) -> String {
    let mut z = String::from(common::ZONE_HEAD);
    for (i, port) in ports.iter().enumerate() {
        let n = i + 1;
        z.push_str(&format!(
            "\n[checks.web{n}]\nkind = \"http\"\nport = {port}\ninterval = \"1s\"\ntimeout = \"1s\"\n\n\
             [pools.p{n}]\nregion = \"r{n}\"\naddresses = [\"127.0.0.{}\", \"127.0.0.{}\"]\ncheck = \"web{n}\"\n",
            40 + 2 * n,
            41 + 2 * n
        ));
    }
    z.push_str(
        "\n[[policies]]\nname = \"api\"\npolicy = \"failover\"\npools = [\"p1\", \"p2\", \"p3\"]\n\n\
         [[policies]]\nname = \"multi\"\npolicy = \"multivalue\"\npools = [\"p1\", \"p2\", \"p3\"]\nmax_answers = 8\n",
    );
    z
}

#[test]
fn a_healthy_start_is_quiet_and_an_idle_server_does_not_rebuild() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut backends = Vec::new();
    let mut ports = [0; 3];
    for (i, port) in ports.iter_mut().enumerate() {
        let a = format!("127.0.0.{}", 42 + 2 * i);
        let b = format!("127.0.0.{}", 43 + 2 * i);
        let (x, y) = rt.block_on(common::backends_on_one_port(&a, &b));
        *port = x.addr().port();
        backends.push((x, y));
    }
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
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
    let hook = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let s = start(
        dir.path(),
        "",
        &format!("[alerts]\nwebhooks = [\"http://{hook}/hook\"]\n"),
        &checked_zone(ports),
    );
    // The very first answer already comes from probe results: the primary pool alone.
    let first = s.dig("api.example.test A").rdata("A");
    assert_eq!(first, vec!["127.0.0.42", "127.0.0.43"], "{}", s.log());
    let api = Api::new(s.control.unwrap());
    // An override event, then wait for it: the webhook queue is in order, so any
    // start-up alert would have arrived before it.
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "p3", "address": "127.0.0.47", "action": "up", "reason": "marker", "expires_in": "1h"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    wait_for(Duration::from_secs(10), "the marker alert", || {
        got.lock()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "override")
            .then_some(())
    });
    let events = got.lock().unwrap().clone();
    let noisy: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "failover" || e["event"] == "all_down")
        .collect();
    assert!(noisy.is_empty(), "start-up alerts: {noisy:?}");
    assert!(!s.log().contains("ALL POOLS DOWN"), "{}", s.log());

    // Idle: probes keep coming (RTTs move), no decision changes, the epoch stays.
    let epoch = |api: &Api| api.get("/v1/status")["table"]["epoch"].as_u64().unwrap();
    let at = epoch(&api);
    let mut seen = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        seen.push(epoch(&api));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(seen.iter().all(|e| *e == at), "epochs while idle: {seen:?}");
    let changes = api
        .text("/metrics")
        .lines()
        .find(|l| {
            l.starts_with("switchyard_answer_changes_total") && l.contains("policy=\"multi\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().to_string());
    assert!(
        changes.as_deref().is_none_or(|v| v == "0"),
        "multivalue answer changes with no health change: {changes:?}"
    );
    drop(backends);
}
