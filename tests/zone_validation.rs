//! Bad zone policy files: each mistake that would serve wrong answers is rejected with
//! file:line:column, `switchyard check` exits non-zero, and `serve` refuses to start.

mod common;

use std::process::Command;

use common::{Layout, BIN, ZONE_HEAD as HEAD};

const CHECK_AND_POOL: &str = r#"
[checks.web]
kind = "http"
port = 8080

[pools.east]
region = "us-east"
addresses = ["192.0.2.10"]
check = "web"
"#;

/// Each case: a body after HEAD, the line the error must point at, and words it must say.
fn cases() -> Vec<(&'static str, String, usize, &'static str)> {
    vec![
        ("unknown key", format!("{HEAD}colour = \"blue\"\n"), 5, "unknown key `colour`"),
        (
            "unknown key in a record",
            format!("{HEAD}\n[[records]]\nname = \"www\"\nAA = [\"192.0.2.1\"]\n"),
            8,
            "unknown key `AA`",
        ),
        (
            "duplicate name",
            format!("{HEAD}\n[[records]]\nname = \"www\"\nA = [\"192.0.2.1\"]\n\n[[records]]\nname = \"WWW\"\nTXT = [\"x\"]\n"),
            11,
            "duplicate name www.example.test.: already defined at line 6",
        ),
        (
            "CNAME beside other data",
            format!("{HEAD}\n[[records]]\nname = \"www\"\nA = [\"192.0.2.1\"]\nCNAME = \"other\"\n"),
            9,
            "CNAME at www.example.test. beside other data",
        ),
        (
            "policy collides with a static record",
            format!("{HEAD}{CHECK_AND_POOL}\n[[records]]\nname = \"api\"\nA = [\"192.0.2.1\"]\n\n[[policies]]\nname = \"api\"\npolicy = \"failover\"\npools = [\"east\"]\n"),
            20,
            "policy name api.example.test. collides with the static records at line 15",
        ),
        (
            "missing pool",
            format!("{HEAD}{CHECK_AND_POOL}\n[[policies]]\nname = \"api\"\npolicy = \"failover\"\npools = [\"east\", \"west\"]\n"),
            18,
            "names pool \"west\", which is not defined",
        ),
        (
            "missing check",
            format!("{HEAD}\n[pools.east]\nregion = \"us-east\"\naddresses = [\"192.0.2.10\"]\ncheck = \"nope\"\n"),
            9,
            "uses check \"nope\", which is not defined",
        ),
        (
            "bad address",
            format!("{HEAD}\n[pools.east]\nregion = \"us-east\"\naddresses = [\"192.0.2.300\"]\n"),
            8,
            "\"192.0.2.300\" is not an IP address",
        ),
        (
            "bad A record",
            format!("{HEAD}\n[[records]]\nname = \"www\"\nA = \"2001:db8::1\"\n"),
            8,
            "A \"2001:db8::1\" is not an IPv4 address",
        ),
        (
            "TTL out of range",
            format!("{HEAD}\n[[records]]\nname = \"www\"\nttl = 4294967296\nA = [\"192.0.2.1\"]\n"),
            8,
            "ttl 4294967296 out of range",
        ),
        (
            "policy TTL out of range",
            format!("{HEAD}{CHECK_AND_POOL}\n[[policies]]\nname = \"api\"\npolicy = \"failover\"\nttl = 604800\npools = [\"east\"]\n"),
            18,
            "ttl 604800 out of range 0..=86400",
        ),
        (
            "unknown policy kind",
            format!("{HEAD}{CHECK_AND_POOL}\n[[policies]]\nname = \"api\"\npolicy = \"roundrobin\"\npools = [\"east\"]\n"),
            17,
            "policy \"roundrobin\"",
        ),
        (
            "bad check kind",
            format!("{HEAD}\n[checks.web]\nkind = \"icmp\"\nport = 80\n"),
            7,
            "check kind \"icmp\"",
        ),
        (
            "timeout longer than interval",
            format!("{HEAD}\n[checks.web]\nkind = \"tcp\"\nport = 80\ninterval = \"1s\"\ntimeout = \"5s\"\n"),
            10,
            "timeout 5s is longer than interval 1s",
        ),
        (
            "record outside the zone",
            format!("{HEAD}\n[[records]]\nname = \"www.example.org.\"\nA = [\"192.0.2.1\"]\n"),
            7,
            "www.example.org. is outside zone example.test.",
        ),
        (
            "fall of zero",
            format!("{HEAD}\n[checks.web]\nkind = \"tcp\"\nport = 80\nfall = 0\n"),
            9,
            "fall 0 out of range 1..=100",
        ),
        (
            "TOML syntax",
            format!("{HEAD}\n[[records]]\nname = \"www\nA = []\n"),
            7,
            "",
        ),
    ]
}

#[test]
fn each_validation_error_names_file_line_and_problem() {
    for (what, text, line, words) in cases() {
        let l = Layout::new();
        let file = l.zone("example.test.toml", &text);
        common::assert_rejected(&l, &file, line, words, what);
    }
}

#[test]
fn every_error_in_a_file_is_reported_not_just_the_first() {
    let l = Layout::new();
    let file = l.zone(
        "example.test.toml",
        &format!("{HEAD}\n[[records]]\nname = \"a\"\nA = [\"bad\"]\n\n[[records]]\nname = \"b\"\nAAAA = [\"worse\"]\n"),
    );
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":8:") && stderr.contains(":12:"),
        "{stderr}"
    );
    assert!(stderr.contains("2 error(s)"), "{stderr}");
}

#[test]
fn check_summarizes_a_good_zone() {
    let l = Layout::new();
    let file = l.zone(
        "example.test.toml",
        &format!("{HEAD}{CHECK_AND_POOL}\n[[policies]]\nname = \"api\"\npolicy = \"failover\"\npools = [\"east\"]\n"),
    );
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("zone example.test."), "{stdout}");
    assert!(stdout.contains("check web: http port 8080"), "{stdout}");
    assert!(
        stdout.contains("pool east (region us-east): 192.0.2.10"),
        "{stdout}"
    );
    assert!(
        stdout.contains("policy api at api.example.test.: failover east"),
        "{stdout}"
    );
}

#[test]
fn two_files_for_one_zone_are_rejected() {
    let l = Layout::new();
    l.zone("a.toml", HEAD);
    l.zone("b.toml", HEAD);
    let out = Command::new(BIN)
        .arg("check")
        .arg(l.dir.path().join("zones"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("b.toml: zone example.test. is already defined in"),
        "{stderr}"
    );
}
