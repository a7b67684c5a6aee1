//! Each `ctl` verb: the request it makes, what it prints, and when it fails.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::Client;
use super::error::CtlError;
use super::{render, Change, Clear, Verb};

/// How often `drill` asks for its report while it waits.
const DRILL_POLL: Duration = Duration::from_millis(250);
/// How long past its end a drill may take to report `finished` (answers coming back).
const DRILL_GRACE: Duration = Duration::from_secs(120);

pub async fn run(api: &Client, verb: Verb) -> Result<(), CtlError> {
    match verb {
        Verb::Status { json } => {
            let st = api.get("/v1/status", &[]).await?;
            print_either(json, &st, render::status);
        }
        Verb::Drain(c) => change(api, "drain", c).await?,
        Verb::Down(c) => change(api, "down", c).await?,
        Verb::Up(c) => change(api, "up", c).await?,
        Verb::Clear(c) => clear(api, c).await?,
        Verb::Overrides { json } => {
            let list = api.get("/v1/overrides", &[]).await?;
            print_either(json, &list, render::overrides);
        }
        Verb::Reload { json } => reload(api, json).await?,
        Verb::Explain {
            name,
            qtype,
            client,
            ecs,
            json,
        } => {
            let mut q = vec![("name", name)];
            q.extend(qtype.map(|t| ("type", t)));
            q.extend(client.map(|c| ("client", c.to_string())));
            q.extend(ecs.map(|e| ("ecs", e)));
            let e = api.get("/v1/explain", &q).await?;
            print_either(json, &e, render::explain);
        }
        Verb::Drill {
            pool,
            seconds,
            reason,
            zone,
            poll_ms,
            json,
        } => {
            let body = json!({
                "pool": pool, "seconds": seconds, "zone": zone,
                "reason": reason, "poll_ms": poll_ms,
            });
            let report = drill(api, body, Duration::from_secs(seconds)).await?;
            print_either(json, &report, render::drill);
        }
    }
    Ok(())
}

fn print_either(json: bool, v: &Value, text: fn(&Value) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        print!("{}", text(v));
    }
}

/// One override per address, or one on the pool when no address is given.
async fn change(api: &Client, action: &str, c: Change) -> Result<(), CtlError> {
    humantime::parse_duration(&c.for_)
        .map_err(|e| CtlError::Usage(format!("--for {:?}: {e} (e.g. 30m, 2h)", c.for_)))?;
    for address in addresses(&c.addresses) {
        let body = json!({
            "zone": c.zone, "pool": c.pool, "address": address,
            "action": action, "reason": c.reason, "expires_in": c.for_,
        });
        let o = api.post("/v1/overrides", body).await?.ok()?;
        print!("{}", render::override_line("set", &o));
    }
    Ok(())
}

async fn clear(api: &Client, c: Clear) -> Result<(), CtlError> {
    for address in addresses(&c.addresses) {
        let body = json!({
            "zone": c.zone, "pool": c.pool, "address": address,
            "action": "clear", "reason": c.reason,
        });
        let o = api.post("/v1/overrides", body).await?.ok()?;
        print!("{}", render::override_line("cleared", &o));
    }
    Ok(())
}

/// The addresses to act on: each given one, or `None` for the whole pool.
fn addresses(given: &[std::net::IpAddr]) -> Vec<Option<String>> {
    if given.is_empty() {
        vec![None]
    } else {
        given.iter().map(|a| Some(a.to_string())).collect()
    }
}

async fn reload(api: &Client, json: bool) -> Result<(), CtlError> {
    let r = api.post("/v1/reload", json!({})).await?;
    if json && (r.status == 200 || r.status == 422) {
        println!(
            "{}",
            serde_json::to_string_pretty(&r.body).unwrap_or_default()
        );
    }
    match r.status {
        200 => {
            if !json {
                println!(
                    "reloaded {} zone(s); epoch {} serves them",
                    r.body["zones"], r.body["epoch"]
                );
            }
            Ok(())
        }
        422 => {
            let errors: Vec<&str> = r.body["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for e in &errors {
                eprintln!("{e}");
            }
            Err(CtlError::Failed(format!(
                "reload failed with {} error(s); the previous zones keep serving",
                errors.len()
            )))
        }
        _ => r.ok().map(drop),
    }
}

/// Starts a drill and waits for its report to say `finished`.
async fn drill(api: &Client, body: Value, length: Duration) -> Result<Value, CtlError> {
    let started = api.post("/v1/drills", body).await?.ok()?;
    let id = started["id"]
        .as_u64()
        .ok_or_else(|| CtlError::Failed(format!("the drill reply has no id: {started}")))?;
    eprintln!(
        "drill {id} started: {} {} out for {}s; waiting for its report",
        started["zone"].as_str().unwrap_or("?"),
        started["pool"].as_str().unwrap_or("?"),
        length.as_secs()
    );
    let deadline = Instant::now() + length + DRILL_GRACE;
    loop {
        let report = api.get(&format!("/v1/drills/{id}"), &[]).await?;
        if report["state"] == "finished" {
            return Ok(report);
        }
        if Instant::now() > deadline {
            print!("{}", render::drill(&report));
            return Err(CtlError::Failed(format!(
                "drill {id} had not finished {}s after its end",
                DRILL_GRACE.as_secs()
            )));
        }
        tokio::time::sleep(DRILL_POLL).await;
    }
}
