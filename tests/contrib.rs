//! contrib/: the Prometheus alert rules pass `promtool check rules`, the Grafana
//! dashboard is valid JSON whose queries use only the metrics listed here, and the
//! rules use only those too. `REFERENCED` is the list a /metrics scrape must serve, and
//! a real scrape of a running server (parsed with prometheus-parse) serves every one of
//! them while a failed pool's `switchyard_pool_up` turns 0 and back to 1.

mod common;
mod control;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{tools, wait_for};
use prometheus_parse::{Sample, Scrape, Value};
use switchyard::demo::backend::Mode;

/// Every metric the dashboard and the alert rules reference.
const REFERENCED: &[&str] = &[
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "switchyard_agent_reports_total",
    "switchyard_answer_changes_total",
    "switchyard_build_info",
    "switchyard_check_duration_seconds_bucket",
    "switchyard_check_errors_total",
    "switchyard_dns_dropped_total",
    "switchyard_policy_pools_up",
    "switchyard_pool_up",
    "switchyard_queries_total",
    "switchyard_reload_last_success_timestamp_seconds",
    "switchyard_reloads_total",
    "switchyard_rrl_slipped_total",
    "switchyard_table_rebuild_seconds_bucket",
    "switchyard_target_up",
    "up",
];

fn contrib(p: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib")
            .join(p),
    )
    .unwrap()
}

/// Identifiers in a PromQL expression that name metrics (not functions, labels or keywords).
fn metrics_in(expr: &str) -> BTreeSet<String> {
    // Drop label matchers, strings, ranges and `by (...)`-style label lists first.
    let mut plain = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        let close = match c {
            '{' => '}',
            '"' => '"',
            '[' => ']',
            _ => {
                plain.push(c);
                continue;
            }
        };
        for d in chars.by_ref() {
            if d == close {
                break;
            }
        }
        plain.push(' ');
    }
    for grouping in ["by", "on", "without"] {
        while let Some(at) = find_word_then_paren(&plain, grouping) {
            let end = plain[at..].find(')').map_or(plain.len(), |e| at + e + 1);
            plain.replace_range(at..end, " ");
        }
    }
    let keywords = ["and", "or", "unless"];
    let mut out = BTreeSet::new();
    let mut rest = plain.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let word_len = rest[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        let after = rest[start + word_len..].trim_start();
        let is_number = start > 0 && rest.as_bytes()[start - 1].is_ascii_digit();
        if !after.starts_with('(') && !keywords.contains(&word) && !is_number {
            out.insert(word.to_string());
        }
        rest = &rest[start + word_len..];
    }
    out
}

/// Where `word (` starts in `s`, as a whole word.
fn find_word_then_paren(s: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(word).map(|i| i + from) {
        let before_ok =
            i == 0 || !s.as_bytes()[i - 1].is_ascii_alphanumeric() && s.as_bytes()[i - 1] != b'_';
        let after = &s[i + word.len()..];
        if before_ok && after.trim_start().starts_with('(') {
            return Some(i);
        }
        from = i + word.len();
    }
    None
}

#[test]
fn dashboard_and_rules_use_only_the_listed_metrics() {
    let dash: serde_json::Value =
        serde_json::from_str(&contrib("grafana/switchyard.json")).unwrap();
    let mut used = BTreeSet::new();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    let rules = contrib("prometheus/alerts.yml");
    for line in rules.lines() {
        if let Some(e) = line.trim().strip_prefix("expr:") {
            exprs.push(e.trim().to_string());
        }
    }
    // The one folded (>-) expression: its lines follow an `expr: >-`.
    let mut lines = rules.lines().peekable();
    while let Some(l) = lines.next() {
        if l.trim() == "expr: >-" {
            while let Some(n) = lines.next_if(|n| !n.trim().contains(':')) {
                exprs.push(n.trim().to_string());
            }
        }
    }
    for e in &exprs {
        used.extend(metrics_in(e));
    }
    let listed: BTreeSet<String> = REFERENCED.iter().map(|s| s.to_string()).collect();
    let unlisted: Vec<_> = used.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "metrics used but not listed: {unlisted:?}"
    );
    let unused: Vec<_> = listed.difference(&used).collect();
    assert!(unused.is_empty(), "listed but used nowhere: {unused:?}");
    for title in [
        "Queries per second by policy and rcode",
        "Answer changes",
        "Pools up",
        "Check latency (p50, p95)",
        "Routing table rebuild time (p50, p99)",
        "RRL: dropped and slipped responses",
    ] {
        assert!(
            dash["panels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["title"] == title),
            "{title}"
        );
    }
}

#[test]
fn alert_rules_pass_promtool() {
    let Some(promtool) = tools::require("promtool", "apt-get install -y prometheus") else {
        return;
    };
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus/alerts.yml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SUCCESS: 7 rules found"), "{text}");
}

#[test]
fn metric_names_are_found_in_expressions() {
    assert_eq!(
        metrics_in(
            r#"sum by (zone, le) (rate(foo_total{a="b"}[5m])) > 0 and on (instance) bar == 0"#
        ),
        ["bar", "foo_total"].iter().map(|s| s.to_string()).collect()
    );
}

const PRIMARY: &str = "127.0.0.51";
const SECONDARY: &str = "127.0.0.52";

fn zone(port: u16) -> String {
    common::failover_zone("metrics.test.", port, PRIMARY, SECONDARY)
}

fn scrape(api: &control::Api) -> Vec<Sample> {
    let text = api.text("/metrics");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("a parsable exposition")
        .samples
}

/// The value of the one sample of `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let s = samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))?;
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        _ => None,
    }
}

/// Whether the scrape has a sample of `name` (a `_bucket` name: of its histogram).
fn served(samples: &[Sample], name: &str) -> bool {
    samples.iter().any(|s| {
        s.metric == name
            || name.strip_suffix("_bucket").is_some_and(|base| {
                s.metric == base && matches!(s.value, Value::Histogram(ref b) if !b.is_empty())
            })
    })
}

fn pool_up(samples: &[Sample], pool: &str) -> Option<f64> {
    value(
        samples,
        "switchyard_pool_up",
        &[("zone", "metrics.test."), ("pool", pool)],
    )
}

#[test]
fn a_real_scrape_serves_every_referenced_metric_and_pool_up_follows_a_failed_pool() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (primary, _secondary) = rt.block_on(common::backends_on_one_port(PRIMARY, SECONDARY));
    let l = control::layout(true, "");
    l.zone("metrics.test.toml", &zone(primary.addr().port()));
    let s = l.serve();
    let api = control::Api::new(s.control.unwrap());
    let deadline = Duration::from_secs(20);
    let target = [
        ("zone", "metrics.test."),
        ("check", "web"),
        ("address", PRIMARY),
    ];

    let samples = wait_for(deadline, "both pools up and the primary target up", || {
        let m = scrape(&api);
        (pool_up(&m, "primary") == Some(1.0)
            && pool_up(&m, "secondary") == Some(1.0)
            && value(&m, "switchyard_target_up", &target) == Some(1.0))
        .then_some(m)
    })
    .0;
    let policy = [("zone", "metrics.test."), ("policy", "api")];
    assert_eq!(
        value(&samples, "switchyard_policy_pools_up", &policy),
        Some(2.0)
    );
    assert_eq!(
        value(
            &samples,
            "switchyard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.dig("api.metrics.test A").rdata("A"),
        vec![PRIMARY.to_string()]
    );

    rt.block_on(primary.set_mode(Mode::Status(503))).unwrap();
    let samples = wait_for(deadline, "primary's switchyard_pool_up to turn 0", || {
        let m = scrape(&api);
        (pool_up(&m, "primary") == Some(0.0)).then_some(m)
    })
    .0;
    assert_eq!(pool_up(&samples, "secondary"), Some(1.0));
    assert_eq!(
        value(&samples, "switchyard_policy_pools_up", &policy),
        Some(1.0)
    );
    assert_eq!(value(&samples, "switchyard_target_up", &target), Some(0.0));
    assert_eq!(
        s.dig("api.metrics.test A").rdata("A"),
        vec![SECONDARY.to_string()]
    );

    // Zone and check are separate labels wherever a check is named.
    for s in &samples {
        if let Some(check) = s.labels.get("check") {
            assert!(!check.contains('/'), "{} has check={check}", s.metric);
            assert_eq!(s.labels.get("zone"), Some("metrics.test."), "{}", s.metric);
        }
    }
    assert!(
        value(
            &samples,
            "switchyard_check_errors_total",
            &[
                ("zone", "metrics.test."),
                ("check", "web"),
                ("kind", "bad_status")
            ],
        )
        .is_some_and(|v| v >= 1.0),
        "{:?}",
        samples
            .iter()
            .filter(|s| s.metric.starts_with("switchyard_check_errors"))
            .collect::<Vec<_>>()
    );
    // Every metric the dashboard and the rules use is served (`up` is Prometheus's own).
    let missing: Vec<_> = REFERENCED
        .iter()
        .filter(|m| **m != "up" && !served(&samples, m))
        .collect();
    assert!(missing.is_empty(), "not in a real scrape: {missing:?}");
    let started = value(&samples, "process_start_time_seconds", &[]).unwrap();
    let loaded = value(
        &samples,
        "switchyard_reload_last_success_timestamp_seconds",
        &[],
    )
    .unwrap();
    assert!(
        loaded >= started.floor(),
        "zones loaded at {loaded}, process started {started}"
    );
    assert!(value(&samples, "process_open_fds", &[]).unwrap() >= 3.0);
    assert!(value(&samples, "process_resident_memory_bytes", &[]).unwrap() > 1e6);

    rt.block_on(primary.set_mode(Mode::Healthy)).unwrap();
    let samples = wait_for(deadline, "primary's switchyard_pool_up back to 1", || {
        let m = scrape(&api);
        (pool_up(&m, "primary") == Some(1.0)).then_some(m)
    })
    .0;
    assert_eq!(
        value(&samples, "switchyard_policy_pools_up", &policy),
        Some(2.0)
    );
    assert_eq!(value(&samples, "switchyard_target_up", &target), Some(1.0));
}
