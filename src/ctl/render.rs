//! Text for people: the status table, overrides, a reload's outcome, an explanation and
//! a drill report, each from the control API's JSON.

use serde_json::Value;

/// Left-aligned columns, two spaces apart, each line indented by `indent`.
pub fn columns(indent: &str, rows: &[Vec<String>]) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; width];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::from(indent);
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                let pad = widths[i] - c.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list(v: &Value) -> String {
    let items: Vec<String> = v.as_array().into_iter().flatten().map(s).collect();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(" ")
    }
}

/// A pool's state in words: forced wins over health.
pub fn pool_state(p: &Value) -> &'static str {
    match (p["forced"].as_str(), p["up"].as_bool()) {
        (Some("down"), _) => "DOWN (forced)",
        (Some("up"), _) => "UP (forced)",
        (_, Some(true)) => "UP",
        _ => "DOWN",
    }
}

pub fn status(st: &Value) -> String {
    let mut out = format!(
        "region {}, version {}, table epoch {} built {}\n",
        s(&st["region"]),
        s(&st["version"]),
        s(&st["table"]["epoch"]),
        s(&st["table"]["built_at"])
    );
    for z in st["zones"].as_array().into_iter().flatten() {
        out.push_str(&format!("\nzone {} ({})\n", s(&z["origin"]), s(&z["file"])));
        let mut rows = vec![vec!["POLICY", "KIND", "ANSWER", "ADDRESSES", "SINCE"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()];
        for p in z["policies"].as_array().into_iter().flatten() {
            rows.push(vec![
                s(&p["label"]),
                s(&p["kind"]),
                s(&p["answer"]),
                list(&p["addresses"]),
                s(&p["since"]),
            ]);
        }
        out.push_str(&columns("  ", &rows));
        let mut rows = vec![vec!["POOL", "STATE", "HEALTHY", "REGION", "CHECK", "SINCE"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()];
        for p in z["pools"].as_array().into_iter().flatten() {
            rows.push(vec![
                s(&p["name"]),
                pool_state(p).into(),
                format!("{}/{}", s(&p["healthy"]), s(&p["configured"])),
                s(&p["region"]),
                s(&p["check"]),
                s(&p["since"]),
            ]);
        }
        out.push_str(&columns("  ", &rows));
    }
    let n = st["overrides"].as_array().map_or(0, Vec::len);
    out.push_str(&format!(
        "\noverrides: {n}{}\n",
        if n > 0 {
            " (switchyard ctl overrides)"
        } else {
            ""
        }
    ));
    let r = &st["reload"];
    match r["last"].as_object() {
        None => out.push_str("last reload: none since start\n"),
        Some(_) => {
            let l = &r["last"];
            let ok = l["ok"].as_bool() == Some(true);
            out.push_str(&format!(
                "last reload: {} at {} ({}){}\n",
                if ok { "ok" } else { "FAILED" },
                s(&l["at"]),
                s(&l["trigger"]),
                if ok {
                    format!(", epoch {}", s(&l["epoch"]))
                } else {
                    format!(", {} error(s)", l["errors"].as_array().map_or(0, Vec::len))
                }
            ));
        }
    }
    out
}

pub fn overrides(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "no overrides\n".into();
    }
    let mut rows = vec![
        ["ID", "ZONE", "POOL", "ADDRESS", "ACTION", "LEFT", "REASON"]
            .map(String::from)
            .to_vec(),
    ];
    for o in &items {
        rows.push(vec![
            s(&o["id"]),
            s(&o["zone"]),
            s(&o["pool"]),
            s(&o["address"]),
            s(&o["action"]),
            left(&o["remaining_seconds"]),
            s(&o["reason"]),
        ]);
    }
    columns("", &rows)
}

fn left(v: &Value) -> String {
    match v.as_u64() {
        Some(secs) => humantime::format_duration(std::time::Duration::from_secs(secs)).to_string(),
        None => "-".into(),
    }
}

/// One override as set or cleared.
pub fn override_line(verb: &str, o: &Value) -> String {
    let what = match o["address"].as_str() {
        Some(a) => format!("{} {} {}", s(&o["zone"]), s(&o["pool"]), a),
        None => format!("{} {}", s(&o["zone"]), s(&o["pool"])),
    };
    format!(
        "{verb} override {}: {what} {} for {} (until {}): {}\n",
        s(&o["id"]),
        s(&o["action"]),
        left(&o["remaining_seconds"]),
        s(&o["expires_at"]),
        s(&o["reason"])
    )
}

pub fn explain(e: &Value) -> String {
    let mut out = format!(
        "{} {} for client {}{}: {}, epoch {}\n",
        s(&e["name"]),
        s(&e["type"]),
        s(&e["client"]),
        e["ecs"]
            .as_str()
            .map(|c| format!(" (ECS {c})"))
            .unwrap_or_default(),
        s(&e["rcode"]),
        s(&e["epoch"])
    );
    for step in e["path"].as_array().into_iter().flatten() {
        out.push_str(&format!("  - {}\n", s(step)));
    }
    if let Some(p) = e["policy"].as_object() {
        out.push_str(&format!(
            "policy {} ({}): {}\n",
            s(&p["label"]),
            s(&p["kind"]),
            s(&p["choice"])
        ));
        let mut rows = Vec::new();
        for pool in p["pools"].as_array().into_iter().flatten() {
            rows.push(vec![
                s(&pool["name"]),
                pool_state(pool).into(),
                s(&pool["verdict"]),
                list(&pool["healthy"]),
            ]);
        }
        out.push_str(&columns("  ", &rows));
    }
    out.push_str("answer:\n");
    for a in e["answers"].as_array().into_iter().flatten() {
        out.push_str(&format!("  {}\n", s(a)));
    }
    for a in e["authority"].as_array().into_iter().flatten() {
        out.push_str(&format!("  (authority) {}\n", s(a)));
    }
    out
}

pub fn drill(d: &Value) -> String {
    let mut out = format!(
        "drill {}: {} {} out for {}s ({}), {}\n",
        s(&d["id"]),
        s(&d["zone"]),
        s(&d["pool"]),
        s(&d["seconds"]),
        s(&d["reason"]),
        s(&d["state"])
    );
    let mut rows = vec![[
        "NAMESERVER",
        "NAME",
        "TYPE",
        "BEFORE",
        "DURING",
        "MOVED",
        "BACK",
        "ERRORS",
    ]
    .map(String::from)
    .to_vec()];
    for w in d["watches"].as_array().into_iter().flatten() {
        rows.push(vec![
            s(&w["nameserver"]),
            s(&w["name"]),
            s(&w["type"]),
            list(&w["before"]),
            list(&w["during"]),
            ms(&w["moved_after_ms"], "after the start"),
            ms(&w["back_after_end_ms"], "after the end"),
            s(&w["errors"]),
        ]);
    }
    out.push_str(&columns("  ", &rows));
    out
}

fn ms(v: &Value, when: &str) -> String {
    match v.as_u64() {
        Some(n) => format!("{n} ms {when}"),
        None => "never".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_line_up() {
        let rows = vec![
            vec!["A".to_string(), "B".to_string()],
            vec!["long".to_string(), "x".to_string()],
        ];
        assert_eq!(columns("", &rows), "A     B\nlong  x\n");
    }

    #[test]
    fn forced_states_are_said_in_words() {
        assert_eq!(
            pool_state(&json!({"up": false, "forced": "down"})),
            "DOWN (forced)"
        );
        assert_eq!(pool_state(&json!({"up": false, "forced": null})), "DOWN");
        assert_eq!(pool_state(&json!({"up": true, "forced": null})), "UP");
    }
}
