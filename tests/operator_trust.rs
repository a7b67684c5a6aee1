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
    wait_for(
        Duration::from_secs(5),
        "the restored-override log line",
        || s.log().contains("override restored").then_some(()),
    );

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

const GEO_ZONE: &str = r#"[zone]
origin = "geo.test."
nameservers = ["ns1.geo.test."]
soa = { mname = "ns1.geo.test.", rname = "hostmaster.geo.test." }

[pools.east]
region = "us-east"
location = { lat = 39.0, lon = -77.5 }
addresses = ["10.0.1.1", "fd00::1"]

[pools.west]
region = "eu-west"
location = { lat = 53.35, lon = -6.26 }
addresses = ["10.0.2.1", "10.0.2.2", "10.0.2.3"]

[pools.tokyo]
region = "tokyo"
location = { lat = 35.68, lon = 139.69 }
addresses = ["10.0.4.1", "10.0.4.2", "10.0.4.3"]

[[geo_overrides]]
network = "198.51.100.0/24"
country = "JP"

[[geo_overrides]]
network = "192.0.2.0/24"
location = { lat = 52.0, lon = -7.0 }

[[policies]]
name = "fo"
policy = "failover"
pools = ["east", "west"]

[[policies]]
name = "geo"
policy = "geolocation"
countries = { JP = "tokyo" }
continents = { EU = "west" }
default = "east"

[[policies]]
name = "prox"
policy = "geoproximity"
pools = ["east", "west", "tokyo"]
fallback = "east"

[[policies]]
name = "lat"
policy = "latency"
pools = ["east", "west", "tokyo"]
static_rtt_ms = { us-east = { east = 5, west = 80, tokyo = 150 }, eu-west = { east = 80, west = 5, tokyo = 220 }, tokyo = { east = 150, west = 220, tokyo = 5 } }

[[policies]]
name = "wsticky"
policy = "weighted"
weights = { east = 1, tokyo = 3 }
sticky = true

[[policies]]
name = "wrand"
policy = "weighted"
weights = { east = 1, tokyo = 3 }

[[policies]]
name = "multi"
policy = "multivalue"
pools = ["west", "tokyo"]
max_answers = 8
"#;

#[test]
fn explain_names_the_real_kind_and_the_rule_and_matches_dig() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        dir.path(),
        "region = \"us-east\"\n[regions]\nus-east = { lat = 39.0, lon = -77.5 }\neu-west = { lat = 53.35, lon = -6.26 }\ntokyo = { lat = 35.68, lon = 139.69 }",
        "",
        GEO_ZONE,
    );
    let api = Api::new(s.control.unwrap());
    let explain = |name: &str, net: &str| {
        api.get(&format!(
            "/v1/explain?name={name}.geo.test&type=A&ecs={net}"
        ))
    };
    let dig = |name: &str, net: &str| {
        let mut v = s
            .dig(&format!("{name}.geo.test A +subnet={net}"))
            .rdata("A");
        v.sort();
        v
    };
    let served = |e: &Value| {
        let mut v: Vec<String> = e["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().rsplit(' ').next().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    // Deterministic kinds: explain's answer is dig's, and the rule says why.
    for (name, net, kind, choice) in [
        ("fo", "192.0.2.0/24", "failover", "pool east"),
        ("geo", "198.51.100.0/24", "geolocation", "pool tokyo"),
        ("geo", "192.0.2.0/24", "geolocation", "pool east"),
        ("prox", "192.0.2.0/24", "geoproximity", "pool west"),
        ("prox", "198.51.100.0/24", "geoproximity", "pool east"),
        ("lat", "192.0.2.0/24", "latency", "pool west"),
        ("wsticky", "192.0.2.0/24", "weighted", ""),
    ] {
        let e = explain(name, net);
        let p = &e["policy"];
        assert_eq!(p["kind"], kind, "{name}: {e}");
        if !choice.is_empty() {
            assert_eq!(p["choice"], choice, "{name} {net}: {e}");
        }
        assert_eq!(served(&e), dig(name, net), "{name} {net}: explain vs dig");
        assert!(
            !p["why"].as_str().unwrap().contains("failover over") || kind == "failover",
            "{name}: {e}"
        );
    }
    let g = explain("geo", "198.51.100.0/24");
    assert_eq!(g["policy"]["rule"]["matched"], "country JP", "{g}");
    assert_eq!(g["policy"]["rule"]["location"]["country"], "JP", "{g}");
    // 192.0.2.0/24 has coordinates but no country: the default rule.
    let g = explain("geo", "192.0.2.0/24");
    assert_eq!(g["policy"]["rule"]["matched"], "default", "{g}");
    let p = explain("prox", "192.0.2.0/24");
    let d = p["policy"]["rule"]["distances"].as_array().unwrap();
    assert_eq!(d.len(), 3, "{p}");
    let l = explain("lat", "192.0.2.0/24");
    assert_eq!(
        l["policy"]["rule"]["latency_row"]["region"], "eu-west",
        "{l}"
    );
    let w = explain("wsticky", "192.0.2.0/24");
    assert_eq!(
        w["policy"]["rule"]["weights"][1]["chance_percent"], 75.0,
        "{w}"
    );
    // Random kinds: one selection, so the explained choice is the answer listed.
    for _ in 0..20 {
        let e = explain("wrand", "192.0.2.0/24");
        let want = match e["policy"]["choice"].as_str().unwrap() {
            "pool east" => vec!["10.0.1.1".to_string()],
            "pool tokyo" => vec!["10.0.4.1".into(), "10.0.4.2".into(), "10.0.4.3".into()],
            other => panic!("{other}"),
        };
        assert_eq!(served(&e), want, "{e}");
        assert!(e["policy"]["rule"]["draw"]
            .as_str()
            .unwrap()
            .contains("random draw"));
    }
    let m = explain("multi", "192.0.2.0/24");
    assert_eq!(m["policy"]["kind"], "multivalue", "{m}");
    assert_eq!(
        served(&m),
        dig("multi", "192.0.2.0/24"),
        "the same eligible set"
    );
    // ECS without a length: the family's full length.
    let v6 = api.get("/v1/explain?name=fo.geo.test&type=AAAA&ecs=2001:db8::1");
    assert_eq!(v6["ecs"], "2001:db8::1");
    assert_eq!(v6["scope"], 0, "no client-dependent decision: {v6}");
    assert_eq!(served(&v6), vec!["fd00::1"]);
    let bad = api.request(
        "GET",
        "/v1/explain?name=fo.geo.test&ecs=192.0.2.1/33",
        Some(TOKEN),
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
}
