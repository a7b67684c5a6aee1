//! The control API end to end against the real binary: the token, status, explain,
//! Prometheus metrics that parse and move with traffic, overrides that expire by
//! themselves, and a drill that moves dig's answer and back.

mod common;
mod control;

use std::time::Duration;

use common::wait_for;
use control::{layout, static_zone, Api, TOKEN};
use serde_json::json;

const PRIMARY: &str = "192.0.2.1";
const SECONDARY: &str = "198.51.100.1";

fn answer(s: &common::Server) -> Vec<String> {
    s.dig("api.ops.test A").rdata("A")
}

#[test]
fn the_token_is_required_and_reads_can_be_opened() {
    let l = layout(false, "");
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let api = Api::new(s.control.expect("control address announced"));
    for (method, path) in [
        ("GET", "/v1/status"),
        ("GET", "/metrics"),
        ("GET", "/v1/explain?name=api.ops.test"),
        ("POST", "/v1/reload"),
        ("POST", "/v1/overrides"),
        ("POST", "/v1/drills"),
        ("DELETE", "/v1/overrides/1"),
    ] {
        let body = (method == "POST").then(|| json!({}));
        let none = api.request(method, path, None, body.clone());
        assert_eq!(
            none.status, 401,
            "{method} {path} without a token: {}",
            none.text
        );
        let wrong = api.request(method, path, Some("s3cret-token-for-test"), body);
        assert_eq!(wrong.status, 401, "{method} {path} with a wrong token");
    }
    assert_eq!(
        api.request("GET", "/v1/status", Some(TOKEN), None).status,
        200
    );
    // The log line is written as the refusal goes out: wait for it, don't race it.
    wait_for(Duration::from_secs(5), "the refusal's log line", || {
        s.log()
            .contains("control request without a valid token")
            .then_some(())
    });
    drop(s);

    let l = layout(true, "");
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let api = Api::new(s.control.unwrap());
    assert_eq!(api.request("GET", "/v1/status", None, None).status, 200);
    assert_eq!(api.request("GET", "/metrics", None, None).status, 200);
    let r = api.request("POST", "/v1/reload", None, None);
    assert_eq!(r.status, 401, "open reads must not open writes");
    assert_eq!(
        api.request("POST", "/v1/reload", Some(TOKEN), None).status,
        200
    );
}

#[test]
fn status_and_explain_describe_the_answer() {
    let l = layout(false, "");
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let api = Api::new(s.control.unwrap());
    assert_eq!(answer(&s), vec![PRIMARY]);

    let st = api.get("/v1/status");
    assert!(st["table"]["epoch"].as_u64().unwrap() >= 1, "{st}");
    let zone = &st["zones"][0];
    assert_eq!(zone["origin"], "ops.test.");
    let policy = &zone["policies"][0];
    assert_eq!(policy["label"], "api");
    assert_eq!(policy["answer"], "pool primary");
    assert_eq!(policy["addresses"], json!([PRIMARY]));
    assert_eq!(policy["pools"], json!(["primary", "secondary"]));
    assert!(policy["since"].is_string());
    let pools = zone["pools"].as_array().unwrap();
    let primary = pools.iter().find(|p| p["name"] == "primary").unwrap();
    assert_eq!(primary["up"], true);
    assert_eq!(primary["region"], "us-east");
    assert_eq!(primary["addresses"][0]["address"], PRIMARY);
    assert_eq!(primary["addresses"][0]["health"], "unchecked");
    assert_eq!(primary["addresses"][0]["serving"], true);
    assert_eq!(st["reload"]["failures"], 0);

    // Through the CNAME, for some client: the path names every step.
    let e = api.get("/v1/explain?name=www.ops.test&type=A&client=203.0.113.9");
    assert_eq!(e["rcode"], "No Error", "{e}");
    assert_eq!(e["zone"], "ops.test.");
    assert_eq!(e["client"], "203.0.113.9");
    assert_eq!(e["epoch"], st["table"]["epoch"]);
    let path: Vec<&str> = e["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        path.iter().any(|p| p.contains("CNAME for api.ops.test.")),
        "{path:?}"
    );
    assert!(
        path.iter()
            .any(|p| p.contains("policy api (failover over primary > secondary)")),
        "{path:?}"
    );
    assert_eq!(e["policy"]["choice"], "pool primary");
    assert!(
        e["policy"]["why"]
            .as_str()
            .unwrap()
            .contains("primary is the first pool"),
        "{e}"
    );
    assert_eq!(e["policy"]["pools"][1]["name"], "secondary");
    assert!(
        e["answers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains(PRIMARY)),
        "{e}"
    );

    let e = api.get("/v1/explain?name=nope.ops.test&type=AAAA");
    assert_eq!(e["rcode"], "Non-Existent Domain", "{e}");
    assert!(e["policy"].is_null());
    let e = api.get("/v1/explain?name=example.org");
    assert_eq!(e["rcode"], "Query Refused", "{e}");
    let bad = api.request(
        "GET",
        "/v1/explain?name=api.ops.test&type=BOGUS",
        Some(TOKEN),
        None,
    );
    assert_eq!(bad.status, 400);
}

/// The value of one sample, 0 when absent.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("metrics parse as Prometheus text");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[test]
fn metrics_parse_and_move_with_traffic() {
    let l = layout(false, "");
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let api = Api::new(s.control.unwrap());
    let before = api.text("/metrics");
    let a = [
        ("zone", "ops.test."),
        ("policy", "api"),
        ("qtype", "A"),
        ("rcode", "NOERROR"),
    ];
    let nx = [
        ("zone", "ops.test."),
        ("policy", ""),
        ("qtype", "MX"),
        ("rcode", "NXDOMAIN"),
    ];
    let refused = [("zone", ""), ("qtype", "A"), ("rcode", "REFUSED")];
    let q = "switchyard_queries_total";
    let (a0, nx0, r0) = (
        sample(&before, q, &a),
        sample(&before, q, &nx),
        sample(&before, q, &refused),
    );
    for _ in 0..5 {
        assert_eq!(answer(&s), vec![PRIMARY]);
    }
    for _ in 0..3 {
        s.dig("+tcp nope.ops.test MX");
    }
    s.dig("example.org A");
    let after = api.text("/metrics");
    assert_eq!(sample(&after, q, &a) - a0, 5.0, "{after}");
    assert_eq!(sample(&after, q, &nx) - nx0, 3.0, "{after}");
    assert_eq!(sample(&after, q, &refused) - r0, 1.0, "{after}");

    // Every family the issue lists is exposed.
    for family in [
        "switchyard_answer_changes_total",
        "switchyard_health_transitions_total",
        "switchyard_check_duration_seconds",
        "switchyard_check_errors_total",
        "switchyard_table_epoch",
        "switchyard_table_rebuild_seconds",
        "switchyard_reloads_total",
        "switchyard_agent_reports_total",
    ] {
        assert!(
            after.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
    }
    let epoch = sample(&after, "switchyard_table_epoch", &[]);
    assert!(epoch >= 1.0);
    assert!(sample(&after, "switchyard_table_rebuild_seconds_count", &[]) >= 1.0);

    // A failover moves the answer-change counter and the epoch.
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "primary", "action": "drain", "reason": "metrics test", "expires_in": "1h"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    wait_for(Duration::from_secs(5), "the secondary", || {
        (answer(&s) == vec![SECONDARY]).then_some(())
    });
    let later = api.text("/metrics");
    let changes = [("zone", "ops.test."), ("policy", "api")];
    assert_eq!(
        sample(&later, "switchyard_answer_changes_total", &changes),
        1.0,
        "{later}"
    );
    assert!(sample(&later, "switchyard_table_epoch", &[]) > epoch);
    assert_eq!(sample(&later, "switchyard_overrides_active", &[]), 1.0);
}

#[test]
fn an_override_drains_a_pool_and_expires_by_itself() {
    let l = layout(false, "");
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let api = Api::new(s.control.unwrap());
    assert_eq!(answer(&s), vec![PRIMARY]);

    // Without a reason or an expiry, nothing happens.
    for body in [
        json!({"pool": "primary", "action": "drain", "expires_in": "2s"}),
        json!({"pool": "primary", "action": "drain", "reason": "x"}),
        json!({"pool": "primary", "action": "drain", "reason": "x", "expires_in": "soon"}),
        json!({"pool": "nowhere", "action": "drain", "reason": "x", "expires_in": "2s"}),
        json!({"pool": "primary", "address": "192.0.2.99", "action": "drain", "reason": "x", "expires_in": "2s"}),
    ] {
        let r = api.post("/v1/overrides", body.clone());
        assert!(
            r.status == 400 || r.status == 404,
            "{body}: {} {}",
            r.status,
            r.text
        );
    }
    assert!(api.get("/v1/overrides").as_array().unwrap().is_empty());

    let r = api.post(
        "/v1/overrides",
        json!({"zone": "ops.test", "pool": "primary", "action": "drain", "reason": "maintenance window", "expires_in": "3s"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["action"], "down");
    assert_eq!(o["reason"], "maintenance window");
    assert_eq!(o["source"]["kind"], "operator");
    let (_, moved) = wait_for(
        Duration::from_secs(3),
        "the drained primary to leave the answer",
        || (answer(&s) == vec![SECONDARY]).then_some(()),
    );
    println!(
        "override: answer moved {} ms after the request",
        moved.as_millis()
    );

    let st = api.get("/v1/status");
    assert_eq!(st["overrides"][0]["pool"], "primary");
    assert_eq!(st["overrides"][0]["reason"], "maintenance window");
    let primary = st["zones"][0]["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "primary")
        .unwrap()
        .clone();
    assert_eq!(primary["forced"], "down");
    assert_eq!(primary["up"], false);
    let e = api.get("/v1/explain?name=api.ops.test");
    assert!(
        e["policy"]["why"]
            .as_str()
            .unwrap()
            .contains("primary is down: forced down"),
        "{e}"
    );

    // Nobody clears it: it reverts on its own.
    let (_, back) = wait_for(Duration::from_secs(10), "the override to expire", || {
        (answer(&s) == vec![PRIMARY]).then_some(())
    });
    println!(
        "override: answer back {} ms after the drain was seen",
        back.as_millis()
    );
    assert!(
        back >= Duration::from_millis(1500),
        "expired early: {back:?}"
    );
    assert!(api.get("/v1/overrides").as_array().unwrap().is_empty());
    let log = s.log();
    assert!(
        log.contains("override set") && log.contains("maintenance window"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("override cleared") && l.contains("expired")),
        "{log}"
    );

    // Force up an address-level override, then clear it by hand.
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "secondary", "address": SECONDARY, "action": "down", "reason": "bad host", "expires_in": "1h"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "primary", "action": "drain", "reason": "both", "expires_in": "1h"}),
    );
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_u64().unwrap();
    // Every pool down: the all-down fallback (serve-all) answers.
    wait_for(Duration::from_secs(3), "all-down", || {
        (answer(&s) == vec![PRIMARY.to_string(), SECONDARY.to_string()]).then_some(())
    });
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "primary", "action": "up", "reason": "vouch", "expires_in": "1h"}),
    );
    assert_eq!(
        r.status, 201,
        "a new override on the same scope replaces the old: {}",
        r.text
    );
    wait_for(Duration::from_secs(3), "forced up", || {
        (answer(&s) == vec![PRIMARY]).then_some(())
    });
    assert_eq!(
        api.request("DELETE", &format!("/v1/overrides/{id}"), Some(TOKEN), None)
            .status,
        404
    );
    let r = api.post(
        "/v1/overrides",
        json!({"pool": "primary", "action": "clear"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.get("/v1/overrides").as_array().unwrap().len(), 1);
}

#[test]
fn a_drill_moves_the_answer_and_back_and_reports_when() {
    let l = layout(false, "");
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let api = Api::new(s.control.unwrap());
    assert_eq!(answer(&s), vec![PRIMARY]);

    let r = api.post(
        "/v1/drills",
        json!({"pool": "primary", "seconds": 2, "reason": "quarterly drill", "poll_ms": 20}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let d = r.json();
    let id = d["id"].as_u64().unwrap();
    assert_eq!(d["watches"][0]["before"], json!([PRIMARY]));
    assert_eq!(d["watches"][0]["nameserver"], s.addr.to_string());

    // dig sees it move, then come back.
    wait_for(
        Duration::from_secs(2),
        "the drill to move dig's answer",
        || (answer(&s) == vec![SECONDARY]).then_some(()),
    );
    let conflict = api.post("/v1/drills", json!({"pool": "primary", "seconds": 2}));
    assert_eq!(conflict.status, 409, "{}", conflict.text);
    wait_for(
        Duration::from_secs(10),
        "the answer back after the drill",
        || (answer(&s) == vec![PRIMARY]).then_some(()),
    );
    let (d, _) = wait_for(Duration::from_secs(10), "the drill report", || {
        let d = api.get(&format!("/v1/drills/{id}"));
        (d["state"] == "finished").then_some(d)
    });
    let w = &d["watches"][0];
    assert_eq!(w["during"], json!([SECONDARY]), "{d}");
    let moved = w["moved_after_ms"].as_u64().expect("moved");
    let back = w["back_after_ms"].as_u64().expect("back");
    println!(
        "drill: answer moved after {moved} ms, back after {back} ms ({} ms after the drill ended)",
        w["back_after_end_ms"]
    );
    assert!(moved < 1000, "{d}");
    assert!((2000..6000).contains(&back), "{d}");
    assert_eq!(api.get("/v1/status")["drills"][0]["id"], id);
    assert_eq!(
        api.request("GET", "/v1/drills/99", Some(TOKEN), None)
            .status,
        404
    );
    let bad = api.post("/v1/drills", json!({"pool": "primary", "seconds": 0}));
    assert_eq!(bad.status, 400);
}
