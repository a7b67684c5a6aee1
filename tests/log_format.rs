//! `log_format = "json"` in `[server]`: every line the server writes to stderr is one
//! JSON object with a timestamp, a level and the event's fields (message included), for
//! log shippers; a bad value is refused with its file:line:col.

mod common;

use std::time::Duration;

use common::{wait_for, Layout, HOST_ZONE};
use serde_json::Value;

fn layout(format: &str) -> Layout {
    let l = Layout::new();
    std::fs::write(
        l.config(),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 1\nlog = \"info\"\nlog_format = \"{format}\"\n"
        ),
    )
    .unwrap();
    l.zone("example.com.toml", HOST_ZONE);
    l
}

#[test]
fn json_logs_are_one_object_a_line_with_level_and_fields() {
    let s = layout("json").serve();
    let (log, _) = wait_for(Duration::from_secs(10), "the table-swap log line", || {
        let log = s.log();
        log.contains("routing table swapped").then_some(log)
    });
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l["timestamp"].is_string(), "{l}");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&l["level"].as_str().unwrap()),
            "{l}"
        );
        assert!(l["fields"]["message"].is_string(), "{l}");
    }
    let swap = lines
        .iter()
        .find(|l| l["fields"]["message"] == "routing table swapped")
        .unwrap();
    assert_eq!(swap["level"], "INFO");
    assert!(swap["fields"]["epoch"].as_u64().unwrap() >= 1, "{swap}");
    assert!(
        swap["target"].as_str().unwrap().starts_with("switchyard"),
        "{swap}"
    );
}

#[test]
fn text_logs_stay_text_and_a_bad_format_is_located() {
    let s = layout("text").serve();
    let (log, _) = wait_for(Duration::from_secs(10), "the table-swap log line", || {
        let log = s.log();
        log.contains("routing table swapped").then_some(log)
    });
    let line = log
        .lines()
        .find(|l| l.contains("routing table swapped"))
        .unwrap();
    assert!(serde_json::from_str::<Value>(line).is_err(), "{line}");
    assert!(line.contains(" INFO ") && line.contains("epoch="), "{line}");

    let err = layout("yaml").serve_fails();
    assert!(
        err.contains(
            "switchyard.toml:6:14: log_format \"yaml\": expected \"text\" (default) or \"json\""
        ),
        "{err}"
    );
}
