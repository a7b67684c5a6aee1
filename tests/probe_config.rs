//! The configuration of distributed probing: the zone keys `quorum` and `hold_down`, and
//! the server file's `[agents]` section, each mistake rejected with file:line:column.

mod common;

use std::path::Path;
use std::time::Duration;

use switchyard::config::agents::Staleness;
use switchyard::config::{parse_zone, ServerConfig};
use switchyard::zone::Quorum;

use common::ZONE_HEAD;

/// What every case adds to the common zone header: one check.
const CHECK: &str = r#"
[checks.web]
kind = "http"
port = 8080
"#;

fn check_with(extra: &str) -> Result<switchyard::zone::Zone, String> {
    parse_zone(Path::new("z.toml"), &format!("{ZONE_HEAD}{CHECK}{extra}\n")).map_err(|e| {
        e.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
fn quorum_and_hold_down_default_to_majority_and_none() {
    let z = check_with("").unwrap();
    let spec = &z.checks["web"];
    assert_eq!(spec.quorum, Quorum::Majority);
    assert_eq!(spec.hold_down, Duration::ZERO);
}

#[test]
fn quorum_takes_a_word_or_a_number_and_hold_down_a_duration() {
    for (text, want) in [
        ("\"majority\"", Quorum::Majority),
        ("\"any\"", Quorum::Any),
        ("\"all\"", Quorum::All),
        ("2", Quorum::AtLeast(2)),
    ] {
        let z = check_with(&format!("quorum = {text}\nhold_down = \"30s\"")).unwrap();
        assert_eq!(z.checks["web"].quorum, want);
        assert_eq!(z.checks["web"].hold_down, Duration::from_secs(30));
    }
}

#[test]
fn bad_quorum_and_hold_down_are_located() {
    for (extra, words) in [
        (
            "quorum = \"most\"",
            "quorum \"most\": expected \"majority\"",
        ),
        (
            "quorum = 0",
            "quorum 0: a number of regions must be within 1..=64",
        ),
        ("hold_down = \"soon\"", "hold_down \"soon\""),
        ("hold_down = \"2d\"", "out of range 0s..=24h"),
    ] {
        let err = check_with(extra).unwrap_err();
        assert!(err.contains("z.toml:9:"), "{extra}: {err}");
        assert!(err.contains(words), "{extra}: {err}");
    }
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(secret: &str) -> Dir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("agents.key"), secret).unwrap();
        Dir(d)
    }

    fn parse(&self, agents: &str) -> Result<ServerConfig, String> {
        let path = self.0.path().join("switchyard.toml");
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"zones\"\nregion = \"r1\"\nreport_listen = \"127.0.0.1:8054\"\n\n[agents]\n{agents}\n"
        );
        ServerConfig::parse(&path, &text).map_err(|e| e.to_string())
    }
}

const KEY: &str = "0123456789abcdef0123456789abcdef\n";

#[test]
fn a_complete_agents_section_parses() {
    let d = Dir::new(KEY);
    let c = d
        .parse(
            r#"secret_file = "agents.key"
report_to = ["http://10.0.0.1:8054", "https://ns2.example.test:8443/"]
regions = ["r1", "r2", "r3"]
staleness = "4x"
batch = "100ms"
mass_failure = { fraction = 0.6, min_targets = 5, window = "1m" }"#,
        )
        .unwrap();
    assert_eq!(c.report_listen, Some("127.0.0.1:8054".parse().unwrap()));
    let a = c.agents.unwrap();
    assert_eq!(a.secret.bytes(), KEY.trim().as_bytes(), "newline trimmed");
    assert_eq!(
        a.report_to.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        [
            "http://10.0.0.1:8054/v1/reports",
            "https://ns2.example.test:8443/v1/reports"
        ]
    );
    assert!(a.allows("r2") && !a.allows("r4"));
    assert_eq!(a.staleness, Staleness::Intervals(4));
    assert_eq!(a.batch, Duration::from_millis(100));
    assert_eq!(a.mass_failure.min_targets, 5);
    assert_eq!(a.mass_failure.window, Some(Duration::from_secs(60)));
}

#[test]
fn agents_section_mistakes_are_located() {
    let d = Dir::new(KEY);
    for (agents, line, words) in [
        ("secret_file = \"missing.key\"", 8, "cannot read"),
        (
            "secret_file = \"agents.key\"\nreport_to = [\"ftp://x\"]",
            9,
            "expected an http:// or https:// URL",
        ),
        (
            "secret_file = \"agents.key\"\nreport_to = [\"not a url\"]",
            9,
            "report_to \"not a url\"",
        ),
        (
            "secret_file = \"agents.key\"\nregions = [\"r1\", \"r1\"]",
            9,
            "region \"r1\" listed twice",
        ),
        (
            "secret_file = \"agents.key\"\nstaleness = \"often\"",
            9,
            "staleness \"often\"",
        ),
        (
            "secret_file = \"agents.key\"\nmass_failure = { fraction = 1.5 }",
            9,
            "fraction 1.5 out of range",
        ),
        (
            "secret_file = \"agents.key\"\nbatch = \"1h\"",
            9,
            "batch \"1h\" out of range",
        ),
        (
            "secret_file = \"agents.key\"\nsecret = \"x\"",
            9,
            "unknown key `secret`",
        ),
    ] {
        let err = d.parse(agents).unwrap_err();
        assert!(
            err.contains(&format!("switchyard.toml:{line}:")),
            "{agents}: {err}"
        );
        assert!(err.contains(words), "{agents}: {err}");
    }
}

#[test]
fn a_short_secret_is_refused() {
    let err = Dir::new("short\n")
        .parse("secret_file = \"agents.key\"")
        .unwrap_err();
    assert!(err.contains("at least 16 are needed"), "{err}");
}
