//! `switchyard ctl` end to end: every verb against a running server, through
//! `--config` and through `--url`/`--token-file`; a wrong token exits 4, a stopped
//! server 3, bad arguments 2, a refusal 1.

mod common;
mod control;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{wait_for, Server, BIN};
use control::{layout, static_zone, TOKEN};

const PRIMARY: &str = "192.0.2.1";
const SECONDARY: &str = "198.51.100.1";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ctl(args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .arg("ctl")
        .args(args)
        .output()
        .expect("run switchyard ctl");
    Run {
        code: out.status.code().expect("ctl exited by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `ctl --config CFG ARGS...`, expecting exit `code`.
fn ok(cfg: &Path, args: &[&str], code: i32) -> Run {
    let mut all = vec!["--config", cfg.to_str().unwrap()];
    all.extend_from_slice(args);
    let r = ctl(&all);
    assert_eq!(
        r.code, code,
        "ctl {args:?}: exit {}\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    );
    r
}

fn answer(s: &Server) -> Vec<String> {
    s.dig("api.ops.test A").rdata("A")
}

fn answer_becomes(s: &Server, want: &str) {
    wait_for(
        Duration::from_secs(10),
        &format!("the answer {want}"),
        || (answer(s) == vec![want.to_string()]).then_some(()),
    );
}

#[test]
fn every_verb_against_a_running_server() {
    let l = layout(false, "");
    let zone = l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let cfg = l.config();
    let s = l.serve();
    // The server bound port 0; point the file at the port it got, as an operator's is.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let bound = format!("listen = \"{}\"", s.control.unwrap());
    std::fs::write(
        &cfg,
        text.replace(
            "listen = \"127.0.0.1:0\"\ntoken",
            &format!("{bound}\ntoken"),
        ),
    )
    .unwrap();

    let st = ok(&cfg, &["status"], 0).stdout;
    println!("switchyard ctl status:\n{st}");
    assert!(st.contains("zone ops.test."), "{st}");
    let api_line = st
        .lines()
        .find(|l| l.trim_start().starts_with("api "))
        .unwrap();
    assert!(
        api_line.contains("pool primary") && api_line.contains(PRIMARY),
        "{st}"
    );
    assert!(
        st.lines()
            .any(|l| l.contains("secondary") && l.contains(" UP ")),
        "{st}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&cfg, &["status", "--json"], 0).stdout).unwrap();
    assert_eq!(json["zones"][0]["origin"], "ops.test.");

    // drain, overrides, clear.
    let r = ok(
        &cfg,
        &[
            "drain",
            "primary",
            "--for",
            "30m",
            "--reason",
            "kernel upgrade",
        ],
        0,
    );
    assert!(
        r.stdout.contains("set override") && r.stdout.contains("kernel upgrade"),
        "{}",
        r.stdout
    );
    answer_becomes(&s, SECONDARY);
    let st = ok(&cfg, &["status"], 0).stdout;
    assert!(
        st.lines()
            .any(|l| l.contains("primary") && l.contains("DOWN (forced)")),
        "{st}"
    );
    let o = ok(&cfg, &["overrides"], 0).stdout;
    assert!(
        o.contains("primary") && o.contains("down") && o.contains("kernel upgrade"),
        "{o}"
    );
    assert!(o.contains("29m") || o.contains("30m"), "time left: {o}");
    ok(&cfg, &["clear", "primary"], 0);
    answer_becomes(&s, PRIMARY);
    assert_eq!(ok(&cfg, &["overrides"], 0).stdout, "no overrides\n");

    // down an address, up a pool, then clear both.
    let r = ok(
        &cfg,
        &[
            "down", "primary", PRIMARY, "--for", "2h", "--reason", "bad disk",
        ],
        0,
    );
    assert!(r.stdout.contains(PRIMARY), "{}", r.stdout);
    answer_becomes(&s, SECONDARY);
    ok(
        &cfg,
        &[
            "up",
            "secondary",
            "--for",
            "10m",
            "--reason",
            "checks are wrong",
        ],
        0,
    );
    let o = ok(&cfg, &["overrides", "--json"], 0).stdout;
    let list: serde_json::Value = serde_json::from_str(&o).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{o}");
    ok(&cfg, &["clear", "primary", PRIMARY], 0);
    ok(&cfg, &["clear", "secondary"], 0);
    answer_becomes(&s, PRIMARY);

    // The server says no: exit 1 with its reason.
    let r = ok(
        &cfg,
        &["drain", "nosuch", "--for", "1m", "--reason", "x"],
        1,
    );
    assert!(
        r.stderr.contains("the server said no (404)") && r.stderr.contains("nosuch"),
        "{}",
        r.stderr
    );
    // Usage: exit 2.
    let r = ok(
        &cfg,
        &["drain", "primary", "--for", "soon", "--reason", "x"],
        2,
    );
    assert!(r.stderr.contains("--for \"soon\""), "{}", r.stderr);
    ok(&cfg, &["frobnicate"], 2);

    // explain
    let e = ok(
        &cfg,
        &["explain", "www.ops.test", "A", "--client", "203.0.113.9"],
        0,
    )
    .stdout;
    assert!(e.contains("for client 203.0.113.9"), "{e}");
    assert!(e.contains("CNAME for api.ops.test."), "{e}");
    assert!(e.contains("policy api (failover): pool primary"), "{e}");
    assert!(e.contains(PRIMARY), "{e}");
    let e = ok(
        &cfg,
        &[
            "explain",
            "api.ops.test",
            "--ecs",
            "198.51.100.0/24",
            "--json",
        ],
        0,
    )
    .stdout;
    let e: serde_json::Value = serde_json::from_str(&e).unwrap();
    assert_eq!(e["ecs"], "198.51.100.0/24");

    // reload: the epoch, then every error with file:line and exit 1.
    let r = ok(&cfg, &["reload"], 0);
    assert!(
        r.stdout.starts_with("reloaded 1 zone(s); epoch "),
        "{}",
        r.stdout
    );
    std::fs::write(
        &zone,
        static_zone(PRIMARY, SECONDARY, 5).replace("ttl = 5", "ttl = \"x\""),
    )
    .unwrap();
    let r = ok(&cfg, &["reload"], 1);
    assert!(
        r.stderr.contains(&format!("{}:", zone.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("reload failed with 1 error(s)"),
        "{}",
        r.stderr
    );
    let st = ok(&cfg, &["status"], 0).stdout;
    assert!(st.contains("last reload: FAILED"), "{st}");
    std::fs::write(&zone, static_zone(PRIMARY, SECONDARY, 5)).unwrap();
    ok(&cfg, &["reload"], 0);

    // drill: waits for the report.
    let r = ok(
        &cfg,
        &[
            "drill",
            "primary",
            "--seconds",
            "1",
            "--poll-ms",
            "20",
            "--reason",
            "test drill",
        ],
        0,
    );
    println!("switchyard ctl drill:\n{}", r.stdout);
    assert!(
        r.stdout.contains("drill 1:") && r.stdout.contains("finished"),
        "{}",
        r.stdout
    );
    let row = r
        .stdout
        .lines()
        .find(|l| l.contains("api.ops.test.") && l.contains(" A "))
        .unwrap();
    assert!(
        row.contains(PRIMARY) && row.contains(SECONDARY),
        "{}",
        r.stdout
    );
    assert!(
        row.contains("after the start") && row.contains("after the end"),
        "{row}"
    );

    // --url and --token-file instead of --config.
    let token = s.control.unwrap();
    let url = format!("http://{token}");
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("t");
    std::fs::write(&tf, TOKEN).unwrap();
    let r = ctl(&[
        "--url",
        &url,
        "--token-file",
        tf.to_str().unwrap(),
        "overrides",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_wrong_token_exits_4_and_a_stopped_server_3() {
    let l = layout(false, "");
    l.zone("ops.test.toml", &static_zone(PRIMARY, SECONDARY, 5));
    let s = l.serve();
    let url = format!("http://{}", s.control.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-token\n").unwrap();
    let r = ctl(&[
        "--url",
        &url,
        "--token-file",
        wrong.to_str().unwrap(),
        "status",
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("the control API refused the token (401)"),
        "{}",
        r.stderr
    );
    let r = ctl(&["--url", &url, "status"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("none was given"), "{}", r.stderr);
    let r = ctl(&[
        "--url",
        &url,
        "--token-file",
        dir.path().join("missing").to_str().unwrap(),
        "status",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot read the token file"),
        "{}",
        r.stderr
    );

    drop(s);
    let r = ctl(&[
        "--url",
        &url,
        "--token-file",
        wrong.to_str().unwrap(),
        "status",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        r.stderr.trim(),
        format!("switchyard ctl: cannot reach the control API at {url}: connection refused")
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let r = ctl(&["--help"]);
    assert_eq!(r.code, 0);
    for line in [
        "3  the control API cannot be reached",
        "4  the control API refused the token",
    ] {
        assert!(r.stdout.contains(line), "{}", r.stdout);
    }
}
