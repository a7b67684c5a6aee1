//! Operators moving from BIND, knot or NSD keep their RFC 1035 zone file: it loads
//! whole (RFC 3597 unknown types included, answered byte for byte) and the TOML adds
//! policies on top.

mod common;

use std::process::Command;

use common::{Layout, BIN};

const MASTER: &str = r#"$ORIGIN example.test.
$TTL 3600
@       IN SOA ns1 hostmaster ( 2026112201 7200 900 1209600 300 )
        IN NS  ns1
        IN NS  ns2.example.net.
        IN MX  10 mail
ns1     IN A   192.0.2.1
mail    IN A   192.0.2.25
www  60 IN CNAME api
txt     IN TXT "semi;colon" "hash \# inside"
unk     IN TYPE65280 \# 4 0A000001
gen     IN A \# 4 C0000202
child   IN NS  ns.child
ns.child IN A  192.0.2.53
child   IN DS  12345 8 2 49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD
"#;

const POLICY: &str = r#"[zone]
origin = "example.test."
records_file = "example.test.zone"

[pools.main]
region = "local"
addresses = ["192.0.2.80", "2001:db8::80"]

[[policies]]
name = "api"
policy = "failover"
pools = ["main"]
"#;

#[test]
fn a_bind_zone_file_loads_whole_and_policies_sit_on_top() {
    let l = Layout::new();
    std::fs::write(l.dir.path().join("zones/example.test.zone"), MASTER).unwrap();
    l.zone("example.test.toml", POLICY);
    let s = l.serve();

    let soa = s.dig("example.test SOA");
    assert_eq!(
        soa.rdata("SOA"),
        vec!["ns1.example.test. hostmaster.example.test. 2026112201 7200 900 1209600 300"]
    );
    assert_eq!(
        s.dig("example.test NS").rdata("NS"),
        vec!["ns1.example.test.", "ns2.example.net."]
    );
    assert_eq!(
        s.dig("example.test MX").rdata("MX"),
        vec!["10 mail.example.test."]
    );
    let txt = s.dig("txt.example.test TXT");
    assert_eq!(
        txt.rdata("TXT"),
        vec!["\"semi;colon\" \"hash # inside\""],
        "{}",
        txt.raw
    );
    // RFC 3597: the unknown type comes back byte for byte.
    let unk = s.dig("unk.example.test TYPE65280");
    assert_eq!(
        unk.rdata("TYPE65280"),
        vec!["\\# 4 0A000001"],
        "{}",
        unk.raw
    );
    // A known type written generically becomes the real record.
    assert_eq!(s.dig("gen.example.test A").rdata("A"), vec!["192.0.2.2"]);
    // CNAME from the file to the TOML policy.
    let www = s.dig("www.example.test A");
    assert_eq!(www.answer()[0][3], "CNAME");
    assert_eq!(www.rdata("A"), vec!["192.0.2.80"]);
    assert_eq!(
        s.dig("api.example.test AAAA").rdata("AAAA"),
        vec!["2001:db8::80"]
    );
    // DS is answered by the parent side of the cut, authoritatively.
    let ds = s.dig("child.example.test DS");
    assert!(ds.has_flag("aa"), "{}", ds.raw);
    assert_eq!(ds.rdata("DS").len(), 1, "{}", ds.raw);
    assert!(!s.dig("host.child.example.test A").has_flag("aa"));
}

#[test]
fn a_broken_zone_file_is_reported_with_both_positions() {
    let l = Layout::new();
    let broken = MASTER.replace("mail    IN A   192.0.2.25", "mail    IN A   192.0.2.999");
    std::fs::write(l.dir.path().join("zones/example.test.zone"), broken).unwrap();
    let file = l.zone("example.test.toml", POLICY);
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("{}:3:", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("example.test.zone:8:"), "{stderr}");
    // A generic record whose length disagrees with its data.
    let bad_len = MASTER.replace("\\# 4 0A000001", "\\# 5 0A000001");
    std::fs::write(l.dir.path().join("zones/example.test.zone"), bad_len).unwrap();
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("example.test.zone:11:"), "{stderr}");
}

#[test]
fn policy_names_may_not_shadow_zone_file_records() {
    let l = Layout::new();
    std::fs::write(l.dir.path().join("zones/example.test.zone"), MASTER).unwrap();
    let file = l.zone(
        "example.test.toml",
        &POLICY.replace("name = \"api\"", "name = \"mail\""),
    );
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "policy name mail.example.test. collides with static records in records_file"
        ),
        "{stderr}"
    );
}
