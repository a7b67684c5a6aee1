//! Signatures are refreshed without a restart: with `[dnssec] signature_validity = "8s"`
//! the server signs anew before its first signatures expire (static names and policy
//! answers, which the UDP fast path serves from prepared replies), and delv still fully
//! validates once those first signatures have expired. A validity out of range is
//! refused with file:line.

mod common;
mod dnssec;

use std::time::{Duration, SystemTime};

use common::{wait_for, Layout};

fn zone(ksk: &str, zsk: &str, validity: &str) -> String {
    format!(
        r#"[zone]
origin = "example.com."
nameservers = ["ns1.example.com."]
soa = {{ mname = "ns1.example.com.", rname = "hostmaster.example.com.", minimum = 300 }}

[dnssec]
keys = ["{ksk}", "{zsk}"]
signature_validity = "{validity}"

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[[records]]
name = "host"
A = ["192.0.2.80"]

[pools.p1]
region = "r1"
addresses = ["192.0.2.11"]

[[policies]]
name = "fo"
policy = "failover"
pools = ["p1"]
"#
    )
}

/// The expiration of the RRSIG dig shows for `name A`, as Unix seconds.
fn expiration(server: &common::Server, name: &str) -> Option<u64> {
    let d = server.dig(&format!("{name} A +dnssec"));
    let sig = d.rdata("RRSIG").into_iter().next()?;
    let t = sig.split_whitespace().nth(4)?; // YYYYMMDDHHMMSS
    if t.len() != 14 {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &t[0..4],
        &t[4..6],
        &t[6..8],
        &t[8..10],
        &t[10..12],
        &t[12..14]
    );
    let at = humantime::parse_rfc3339(&rfc3339).ok()?;
    Some(at.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn signatures_are_made_again_before_they_expire_and_still_validate_after() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let l = Layout::new();
    std::fs::write(
        l.config(),
        "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 1\n",
    )
    .unwrap();
    let zones = l.dir.path().join("zones");
    let ksk = dnssec::keygen(
        &zones,
        "example.com",
        &["-a", "ECDSAP256SHA256", "-f", "KSK"],
    );
    let zsk = dnssec::keygen(&zones, "example.com", &["-a", "ECDSAP256SHA256"]);
    l.zone("example.com.toml", &zone(&ksk, &zsk, "8s"));
    let anchors_dir = tempfile::tempdir().unwrap();
    let anchors = dnssec::anchors(
        anchors_dir.path(),
        "example.com.",
        13,
        &dnssec::public_key(&zones, &ksk),
    );
    let server = l.serve();
    let validates = |name: &str| {
        let out = dnssec::delv(server.addr, &anchors, "example.com", name, "A", false);
        out.lines().any(|l| l.trim() == "; fully validated")
    };
    let names = ["host.example.com", "fo.example.com"];
    let first: Vec<u64> = names
        .iter()
        .map(|n| expiration(&server, n).expect("an RRSIG on the DO answer"))
        .collect();
    for (n, exp) in names.iter().zip(&first) {
        assert!(*exp <= now() + 8, "{n}: validity is 8s, expires at {exp}");
        assert!(validates(n), "{n} validates at first");
    }
    // Wait (no longer than validity needs) until the first signatures have expired and
    // the served ones are new; then they must still validate.
    let latest = *first.iter().max().unwrap();
    wait_for(
        Duration::from_secs(30),
        "the first signatures to expire and new ones to be served",
        || {
            let fresh = names
                .iter()
                .zip(&first)
                .all(|(n, exp)| expiration(&server, n).is_some_and(|e| e > *exp));
            (now() > latest && fresh).then_some(())
        },
    );
    for n in names {
        assert!(
            validates(n),
            "{n} validates after the first signatures expired"
        );
    }
}

#[test]
fn a_signature_validity_out_of_range_is_refused_with_file_and_line() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    for (bad, words) in [("2s", "out of range"), ("soon", "not a duration")] {
        let l = Layout::new();
        let zones = l.dir.path().join("zones");
        std::fs::create_dir_all(&zones).unwrap();
        let ksk = dnssec::keygen(
            &zones,
            "example.com",
            &["-a", "ECDSAP256SHA256", "-f", "KSK"],
        );
        let zsk = dnssec::keygen(&zones, "example.com", &["-a", "ECDSAP256SHA256"]);
        let path = l.zone("example.com.toml", &zone(&ksk, &zsk, bad));
        let text = std::fs::read_to_string(&path).unwrap();
        let err = switchyard::config::parse_zone(&path, &text).unwrap_err();
        let msg = err
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            msg.contains("example.com.toml:8:") && msg.contains(words),
            "{bad}: {msg}"
        );
    }
}
