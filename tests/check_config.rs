//! `switchyard check --config`: the server file and everything it names, with
//! file:line:col errors; `serve` refuses on the same errors before it binds a socket; the
//! systemd unit runs the same check; warnings of what real resolvers do to the answers.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Layout, BIN, ZONE_HEAD as HEAD};

const ZONE: &str = r#"
[checks.web]
kind = "tcp"
port = 8080
interval = "1s"
timeout = "500ms"

[pools.east]
region = "us-east"
addresses = ["192.0.2.10"]
check = "web"

[[policies]]
name = "api"
policy = "failover"
ttl = 30
pools = ["east"]
"#;

fn check_config(config: &Path) -> Output {
    Command::new(BIN)
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A layout whose server file adds `extra`, with the zone above.
fn layout(extra: &str) -> Layout {
    let l = Layout::new();
    l.zone("example.toml", &format!("{HEAD}{ZONE}"));
    let cfg = l.config();
    let mut s = std::fs::read_to_string(&cfg).unwrap();
    s.push_str(extra);
    std::fs::write(&cfg, s).unwrap();
    l
}

#[test]
fn a_good_server_file_passes_with_its_zones_and_budget() {
    let l = layout("state_file = \"state.json\"\n\n[control]\ntoken_file = \"token\"\n");
    std::fs::write(l.dir.path().join("token"), "a-token\n").unwrap();
    let out = check_config(&l.config());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("zone example.test."), "{stdout}");
    // 3 x 1s x 1.1 + 0.5s + 0.02s publication; + 30s ttl.
    assert!(
        stdout.contains(
            "answer changes within 3.82s, resolvers see it within 33.82s (63.82s with serve-stale)"
        ),
        "{stdout}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn the_agents_batch_is_in_the_budget() {
    let l = layout(
        "\n[control]\nopen_reads = true\n\n[agents]\nsecret_file = \"agents.key\"\nreport_to = [\"http://127.0.0.1:9\"]\nbatch = \"300ms\"\n",
    );
    std::fs::write(l.dir.path().join("agents.key"), "0123456789abcdef0123").unwrap();
    let out = check_config(&l.config());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("answer changes within 4.12s, resolvers see it within 34.12s"),
        "{stdout}"
    );
    assert!(
        stdout.contains("timeout 0.50s + agents' batch 0.30s + publication 0.02s, + ttl 30s"),
        "{stdout}"
    );
}

#[test]
fn a_bad_server_file_and_its_files_are_reported_at_their_keys() {
    // An unknown key in the server file: located, in words.
    let l = layout("[control]\nopen_reads = \"yes\"\n");
    let out = check_config(&l.config());
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    let cfg = l.config();
    assert!(
        stderr.contains(&format!(
            "{}:8:14: `open_reads` must be true or false (got the string \"yes\")",
            cfg.display()
        )),
        "{stderr}"
    );

    // An empty token file, an unwritable state path and a bad zone: all at once.
    let l = layout("state_file = \"missing/state.json\"\n\n[control]\ntoken_file = \"token\"\n");
    std::fs::write(l.dir.path().join("token"), "  \n").unwrap();
    let zone = l.zone(
        "example.toml",
        &format!("{HEAD}{ZONE}").replace("port = 8080", "port = 99999"),
    );
    let out = check_config(&l.config());
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let cfg = l.config();
    let expect = [
        format!(
            "{}:10:14: token_file {} is empty",
            cfg.display(),
            l.dir.path().join("token").display()
        ),
        format!(
            "{}:7:14: state_file {}: directory {} does not exist",
            cfg.display(),
            l.dir.path().join("missing/state.json").display(),
            l.dir.path().join("missing").display()
        ),
        format!("{}:8:8: port 99999 out of range 1..=65535", zone.display()),
    ];
    for e in &expect {
        assert!(
            stderr.lines().any(|l| l.starts_with(e.as_str())),
            "missing {e:?} in:\n{stderr}"
        );
    }
    // The overrides file defaults to beside the state file: the same missing directory.
    // The broken check is one error: no pool or policy errors follow from it.
    assert!(
        stderr.contains("4 error(s); nothing was loaded"),
        "{stderr}"
    );
}

#[test]
fn a_latin1_zone_file_is_located_at_its_first_bad_byte() {
    let l = layout("");
    let zone = l.dir.path().join("zones/example.toml");
    let mut bytes = format!("{HEAD}# caf").into_bytes();
    bytes.push(0xe9);
    bytes.extend_from_slice(format!("\n{ZONE}").as_bytes());
    std::fs::write(&zone, bytes).unwrap();
    let out = check_config(&l.config());
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "{}:5:6: byte 0xE9 is not valid UTF-8 (it looks like Latin-1): the file must be saved as UTF-8",
            zone.display()
        )),
        "{stderr}"
    );
}

#[test]
fn resolver_limits_are_warned_of() {
    let l = layout("");
    l.zone(
        "example.toml",
        &format!(
            "{HEAD}{}\n[[geo_overrides]]\nnetwork = \"192.0.2.128/25\"\ncountry = \"FR\"\n\n[[geo_overrides]]\nnetwork = \"2001:db8::/48\"\ncountry = \"FR\"\n",
            ZONE.replace("ttl = 30", "ttl = 2")
        ),
    );
    let out = check_config(&l.config());
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].contains(
            "policy api (api.example.test.): ttl 2s is under 5s: knot-resolver raises it to 5s"
        ),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("geo override 192.0.2.128/25 is narrower than /24"),
        "{stderr}"
    );
    // The budget counts the raised TTL.
    assert!(
        text(&out.stdout).contains("resolvers see it within 8.82s"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn serve_refuses_an_empty_token_file_before_binding_anything() {
    // Hold the DNS port ourselves: a server that bound first would fail on the bind.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let _tcp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let l = layout("\n[control]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n");
    let cfg = l.config();
    let s = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("127.0.0.1:0\"]", &format!("127.0.0.1:{port}\"]"));
    std::fs::write(&cfg, s).unwrap();
    std::fs::write(l.dir.path().join("token"), "").unwrap();
    let refused = l.serve_fails();
    assert!(
        refused.contains(&format!("{}:10:14: token_file", cfg.display())),
        "{refused}"
    );
    assert!(refused.contains("is empty"), "{refused}");
    assert!(refused.contains("refusing to start"), "{refused}");
    assert!(
        !refused.contains("bind"),
        "it tried to bind first:\n{refused}"
    );
}

#[test]
fn the_systemd_unit_checks_the_server_file_before_start() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/switchyard.service"),
    )
    .unwrap();
    let pre: Vec<&str> = unit
        .lines()
        .filter(|l| l.starts_with("ExecStartPre="))
        .collect();
    let start: Vec<&str> = unit
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(
        pre,
        ["ExecStartPre=/usr/bin/switchyard check --config /etc/switchyard/switchyard.toml"]
    );
    assert_eq!(
        start,
        ["ExecStart=/usr/bin/switchyard serve --config /etc/switchyard/switchyard.toml"]
    );
}
