//! The README's control API examples run as printed: the override and drill `curl` lines
//! are read from README.md and run by `sh` against a server with the README's control
//! section and example zone; only the address is the test server's. curl is told to
//! fail on an HTTP error (through its config file, not the lines), so a 415 or a 400
//! fails the test. The README's failover budget line is what `check` prints.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Layout, BIN};

const README_CONTROL: &str = "127.0.0.1:8053";

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The lines of the README's ```sh blocks that talk to the control API, with the
/// `T=...` line that sets the token header.
fn control_lines(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh && (l.starts_with("T=") || l.contains(&format!("{README_CONTROL}/v1/"))) => {
                out.push(l.to_string())
            }
            _ => {}
        }
    }
    out
}

fn curl_installed() -> bool {
    Command::new("curl").arg("--version").output().is_ok()
}

#[test]
fn the_readme_override_and_drill_lines_run_as_printed() {
    if !curl_installed() {
        assert!(std::env::var("CI").is_err(), "curl is missing under CI");
        eprintln!("SKIPPED: curl is not installed");
        return;
    }
    let lines = control_lines(&readme());
    let curls = lines.iter().filter(|l| l.starts_with("curl ")).count();
    assert_eq!(
        curls, 6,
        "the README's control examples changed: {lines:#?}"
    );
    assert!(lines[0].starts_with("T="), "{lines:#?}");

    let l = Layout::new();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/example.com.toml"),
    )
    .unwrap();
    l.zone("example.com.toml", &example);
    let dir = l.dir.path().to_path_buf();
    std::fs::write(dir.join("control.token"), "readme-token\n").unwrap();
    let mut cfg = std::fs::read_to_string(l.config()).unwrap();
    cfg.push_str(
        "\n[control]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"control.token\"\nopen_reads = true\n",
    );
    std::fs::write(l.config(), cfg).unwrap();
    let curl_home = tempfile::tempdir().unwrap();
    std::fs::write(
        curl_home.path().join(".curlrc"),
        "fail-with-body\nsilent\nshow-error\n",
    )
    .unwrap();
    let server = l.serve();
    let control = server.control.expect("control address").to_string();

    let mut outputs = Vec::new();
    for line in &lines[1..] {
        let script = format!(
            "set -e\n{}\n{}\n",
            lines[0],
            line.replace(README_CONTROL, &control)
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(&dir)
            .env("CURL_HOME", curl_home.path())
            .output()
            .unwrap();
        let body = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{line}\nexit {:?}\n{body}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(body);
    }
    // The last line reads back the drill the one before it started.
    let drill = outputs.last().unwrap();
    assert!(
        drill.contains("us-east") && drill.contains("quarterly drill"),
        "{drill}"
    );
}

#[test]
fn the_readme_budget_line_is_what_check_prints() {
    let readme = readme();
    let printed = readme
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("policy api (api.example.com.): answer changes within")
        })
        .expect("the README shows a budget line");
    let out = Command::new(BIN)
        .arg("check")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("zones"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == printed),
        "README: {printed}\ncheck:\n{stdout}"
    );
}

#[test]
fn the_readme_states_the_resolver_limits_check_warns_of() {
    let readme = readme();
    for words in [
        "knot-resolver raises every TTL under 5 s to 5 s",
        "serve-stale",
        "at most a /24 (IPv4) or /56 (IPv6) client subnet",
    ] {
        assert!(readme.contains(words), "README lacks {words:?}");
    }
    for stale in [
        "There\nare no hold-downs yet",
        "AXFR/IXFR are refused",
        "runs the other end-to-end tests",
    ] {
        assert!(!readme.contains(stale), "README still says {stale:?}");
    }
}
