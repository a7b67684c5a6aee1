//! Online signing end to end, checked by real validators: delv with the zone's key as
//! trust anchor validates every kind of answer (DNSKEY, static data, a CNAME into a
//! policy, a wildcard, each policy kind, the answer after a failover) and every kind of
//! authenticated denial (NXDOMAIN, NODATA, a policy name's missing type, DS at an unsigned
//! delegation), over UDP and TCP; unbound, stubbed to the server with the zone's anchor,
//! sets AD on the same names with and without EDNS Client Subnet, and SERVFAILs when the
//! server signs with a key that is not the anchor. Bad keys are refused with file:line.

mod common;
mod control;
mod dnssec;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{wait_for, Layout, Server};
use switchyard::demo::backend::{BackendHandle, Mode};

const GEOIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/geoip/test.mmdb");
const P1: &str = "127.0.0.81";
const P2: &str = "127.0.0.82";
/// A client network in France (geoip/test.mmdb).
const FRANCE: &str = "198.51.100.0/26";

fn zone(keys: &[&str], port: u16) -> String {
    let keys: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    format!(
        r#"[zone]
origin = "example.com."
nameservers = ["ns1.example.com."]
soa = {{ mname = "ns1.example.com.", rname = "hostmaster.example.com.", minimum = 300 }}

[dnssec]
keys = [{keys}]

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[[records]]
name = "host"
A = ["192.0.2.80"]
AAAA = ["2001:db8::80"]
MX = ["10 mail"]
TXT = ["signed text"]

[[records]]
name = "www"
CNAME = "fo"

[[records]]
name = "big"
TXT = ["{big}", "{big}2", "{big}3"]

[[records]]
name = "*.wild"
A = ["192.0.2.99"]

[[records]]
name = "deep.ent"
A = ["192.0.2.7"]

[[records]]
name = "child"
NS = ["ns.child"]

[[records]]
name = "ns.child"
A = ["192.0.2.53"]

[checks.web]
kind = "http"
port = {port}
interval = "100ms"
timeout = "100ms"
fall = 1
rise = 1

[pools.p1]
region = "r1"
location = {{ lat = 48.86, lon = 2.35 }}
addresses = ["{P1}"]
check = "web"

[pools.p2]
region = "r2"
location = {{ lat = 40.71, lon = -74.0 }}
addresses = ["{P2}"]
check = "web"

[[policies]]
name = "fo"
policy = "failover"
pools = ["p1", "p2"]

[[policies]]
name = "weighted"
policy = "weighted"
weights = {{ p1 = 1, p2 = 1 }}

[[policies]]
name = "lat"
policy = "latency"
pools = ["p1", "p2"]
static_rtt_ms = {{ r1 = {{ p1 = 5, p2 = 50 }} }}

[[policies]]
name = "geo"
policy = "geolocation"
countries = {{ FR = "p1" }}
default = "p2"

[[policies]]
name = "prox"
policy = "geoproximity"
pools = ["p1", "p2"]

[[policies]]
name = "multi"
policy = "multivalue"
pools = ["p1", "p2"]
"#,
        keys = keys.join(", "),
        big = "b".repeat(120),
    )
}

/// Positive answers delv must fully validate.
const POSITIVE: &[(&str, &str)] = &[
    ("example.com", "DNSKEY"),
    ("example.com", "SOA"),
    ("example.com", "NS"),
    ("host.example.com", "A"),
    ("host.example.com", "AAAA"),
    ("host.example.com", "MX"),
    ("host.example.com", "TXT"),
    ("www.example.com", "A"),
    ("x.wild.example.com", "A"),
    ("a.b.wild.example.com", "A"),
    ("fo.example.com", "A"),
    ("weighted.example.com", "A"),
    ("lat.example.com", "A"),
    ("geo.example.com", "A"),
    ("prox.example.com", "A"),
    ("multi.example.com", "A"),
    ("child.example.com", "DS"),
];

/// Negative answers delv must validate as negative.
const NEGATIVE: &[(&str, &str)] = &[
    ("nope.example.com", "A"),
    ("nope.wild.example.com.", "MX"),
    ("host.example.com", "SRV"),
    ("ent.example.com", "A"),
    ("fo.example.com", "TXT"),
    ("fo.example.com", "AAAA"),
    ("x.wild.example.com", "AAAA"),
    ("child.example.com", "DS"),
];

struct Signed {
    server: Server,
    backends: Vec<BackendHandle>,
    rt: tokio::runtime::Runtime,
    anchors: std::path::PathBuf,
    ksk_key: String,
    _keys: tempfile::TempDir,
}

/// A server with the zone signed by a KSK and a ZSK made by dnssec-keygen, both pools'
/// backends up, and every policy answering.
fn signed() -> Signed {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // One check port for both pools.
    let (b1, b2) = rt.block_on(common::backends_on_one_port(P1, P2));
    let port = b1.addr().port();
    let backends = vec![b1, b2];
    let l = Layout::new();
    std::fs::write(
        l.config(),
        format!("[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 2\nregion = \"r1\"\ngeoip = \"{GEOIP}\"\n\n[control]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n"),
    )
    .unwrap();
    std::fs::write(l.dir.path().join("token"), format!("{}\n", control::TOKEN)).unwrap();
    let zones = l.dir.path().join("zones");
    let ksk = dnssec::keygen(
        &zones,
        "example.com",
        &["-a", "ECDSAP256SHA256", "-f", "KSK"],
    );
    let zsk = dnssec::keygen(&zones, "example.com", &["-a", "ECDSAP256SHA256"]);
    l.zone("example.com.toml", &zone(&[&ksk, &zsk], port));
    let ksk_key = dnssec::public_key(&zones, &ksk);
    let keys = tempfile::tempdir().unwrap();
    let anchors = dnssec::anchors(keys.path(), "example.com.", 13, &ksk_key);
    let server = l.serve();
    wait_for(Duration::from_secs(15), "fo to answer from p1", || {
        (server.dig("fo.example.com A").rdata("A") == [P1]).then_some(())
    });
    Signed {
        server,
        backends,
        rt,
        anchors,
        ksk_key,
        _keys: keys,
    }
}

fn assert_validates(s: &Signed, list: &[(&str, &str)], verdict: &str) {
    for tcp in [false, true] {
        for (name, rtype) in list {
            let out = dnssec::delv(s.server.addr, &s.anchors, "example.com", name, rtype, tcp);
            assert!(
                out.lines().any(|l| l.trim() == verdict),
                "{name} {rtype} (tcp: {tcp}): expected {verdict:?}, delv said:\n{out}"
            );
        }
    }
}

#[test]
fn delv_validates_every_answer_and_every_denial_over_udp_and_tcp() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let s = signed();
    // child.example.com DS is the unsigned delegation's proof: only in the negative list.
    let positive: Vec<_> = POSITIVE
        .iter()
        .copied()
        .filter(|(n, _)| !n.starts_with("child"))
        .collect();
    assert_validates(&s, &positive, "; fully validated");
    assert_validates(&s, NEGATIVE, "; negative response, fully validated");

    // A signature must be there to check: the DO answer carries RRSIGs, the plain one not.
    let with_do = s.server.dig("host.example.com A +dnssec");
    assert!(!with_do.rdata("RRSIG").is_empty(), "{}", with_do.raw);
    assert!(s.server.dig("host.example.com A").rdata("RRSIG").is_empty());
    // The wildcard's signature says how many labels the wildcard has (3: wild.example.com).
    let wild = s.server.dig("a.b.wild.example.com A +dnssec");
    let sig = wild.rdata("RRSIG");
    assert!(
        sig.first().is_some_and(|r| r.starts_with("A 13 3 ")),
        "{}",
        wild.raw
    );

    // After a failover the new answer validates too.
    s.rt.block_on(s.backends[0].set_mode(Mode::Status(503)))
        .unwrap();
    wait_for(Duration::from_secs(15), "fo to fail over to p2", || {
        (s.server.dig("fo.example.com A").rdata("A") == [P2]).then_some(())
    });
    assert_validates(
        &s,
        &[("fo.example.com", "A"), ("www.example.com", "A")],
        "; fully validated",
    );
}

#[test]
fn nxname_queries_get_formerr_and_nxdomain_is_noerror_unless_co() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let s = signed();
    assert_eq!(s.server.dig("host.example.com TYPE128").status(), "FORMERR");
    assert_eq!(
        s.server.dig("host.example.com TYPE128 +tcp").status(),
        "FORMERR"
    );
    // Compact denial (RFC 9824): NOERROR with an NSEC at the name itself, NXNAME in its
    // bitmap; without DO the plain NXDOMAIN.
    let d = s.server.dig("nope.example.com A +dnssec");
    assert_eq!(d.status(), "NOERROR", "{}", d.raw);
    let nsec = "IN\tNSEC\t\\000.nope.example.com. RRSIG NSEC TYPE128\n";
    assert!(d.raw.contains(nsec), "{}", d.raw);
    assert_eq!(s.server.dig("nope.example.com A").status(), "NXDOMAIN");
    // Nothing to walk: the NSEC of a name that exists names only its own successor.
    let d = s.server.dig("host.example.com SRV +dnssec");
    let nsec = "IN\tNSEC\t\\000.host.example.com. A MX TXT AAAA RRSIG NSEC\n";
    assert!(d.raw.contains(nsec), "{}", d.raw);
}

#[test]
fn signed_answers_too_big_for_udp_are_truncated_and_whole_over_tcp() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let s = signed();
    // Three TXT strings of 120 octets and their signature: over 512, under 1232.
    let small = s
        .server
        .dig("big.example.com TXT +dnssec +bufsize=512 +ignore");
    assert!(small.has_flag("tc"), "{}", small.raw);
    assert!(small.answer().is_empty(), "no partial RRset: {}", small.raw);
    let udp = s.server.dig("big.example.com TXT +dnssec +ignore");
    assert!(!udp.has_flag("tc"), "{}", udp.raw);
    let tcp = s.server.dig("big.example.com TXT +dnssec +tcp");
    assert_eq!(tcp.rdata("TXT").len(), 3, "{}", tcp.raw);
    assert_eq!(tcp.rdata("RRSIG").len(), 1, "{}", tcp.raw);
    // Unsigned, the same RRset fits 512.
    assert!(!s
        .server
        .dig("big.example.com TXT +bufsize=512 +ignore")
        .has_flag("tc"));
}

fn unbound_status(u: &dnssec::Unbound, q: &str) -> common::Dig {
    common::dig(u.addr, &format!("+rec +dnssec {q}"))
}

#[test]
fn unbound_validates_with_ad_and_servfails_on_a_key_that_is_not_the_anchor() {
    if !dnssec::tools_present(&["unbound"]) {
        return;
    }
    let s = signed();
    let u = dnssec::Unbound::start("example.com.", s.server.addr, &s.ksk_key);
    for (name, rtype) in POSITIVE.iter().chain(NEGATIVE) {
        if *name == "child.example.com" {
            continue; // a delegation: unbound goes on to the child, which is not there
        }
        let d = unbound_status(&u, &format!("{name} {rtype}"));
        assert_eq!(d.status(), "NOERROR", "{name} {rtype}: {}", d.raw);
        assert!(d.has_flag("ad"), "{name} {rtype}: no AD:\n{}", d.raw);
    }
    for name in ["geo", "prox", "lat", "multi", "fo"] {
        let d = unbound_status(&u, &format!("{name}.example.com A +subnet={FRANCE}"));
        assert!(d.has_flag("ad"), "{name} with ECS: {}", d.raw);
        assert!(!d.rdata("A").is_empty(), "{name} with ECS: {}", d.raw);
    }

    // The same zone signed with keys the resolver does not trust: bogus, SERVFAIL.
    let other = dnssec::Unbound::start("example.com.", s.server.addr, &wrong_anchor());
    let d = unbound_status(&other, "host.example.com A");
    assert_eq!(d.status(), "SERVFAIL", "{}", d.raw);
    assert!(!d.has_flag("ad"));
}

/// The public key of a fresh KSK the server does not have.
fn wrong_anchor() -> String {
    let dir = tempfile::tempdir().unwrap();
    let base = dnssec::keygen(
        dir.path(),
        "example.com",
        &["-a", "ECDSAP256SHA256", "-f", "KSK"],
    );
    dnssec::public_key(dir.path(), &base)
}

/// A zone file naming one key, for the refusal tests: line 7 holds `keys = [...]`.
fn key_zone(key: &str) -> String {
    format!(
        "[zone]\norigin = \"example.com.\"\nnameservers = [\"ns1.example.com.\"]\nsoa = {{ mname = \"ns1.example.com.\", rname = \"hostmaster.example.com.\" }}\n\n[dnssec]\nkeys = [{key:?}]\n"
    )
}

fn refused(setup: impl FnOnce(&Path) -> String, words: &str, what: &str) {
    let l = Layout::new();
    let zones = l.dir.path().join("zones");
    let key = setup(&zones);
    let file = l.zone("example.com.toml", &key_zone(&key));
    common::assert_rejected(&l, &file, 7, words, what);
}

#[test]
fn bad_keys_are_refused_by_check_and_serve_with_file_and_line() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let gen = |d: &Path, alg: &str| dnssec::keygen(d, "example.com", &["-a", alg, "-f", "KSK"]);
    refused(
        |_| "Kexample.com.+013+00001".into(),
        "missing file",
        "missing key",
    );
    refused(
        |d| {
            let k = gen(d, "ECDSAP256SHA256");
            let p = d.join(format!("{k}.private"));
            std::fs::remove_file(&p).unwrap();
            // Readable by no one as a file, even root.
            std::fs::create_dir(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
            k
        },
        "cannot read",
        "unreadable private file",
    );
    refused(
        |d| {
            let k = gen(d, "ECDSAP256SHA256");
            let p = d.join(format!("{k}.private"));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            k
        },
        "readable by group or others",
        "world-readable private file",
    );
    refused(
        |d| dnssec::keygen(d, "example.net", &["-a", "ECDSAP256SHA256", "-f", "KSK"]),
        "not example.com.",
        "another zone's key",
    );
    refused(
        |d| gen(d, "RSASHA256"),
        "not supported",
        "unsupported algorithm",
    );
}

#[test]
fn dnssec_ds_of_a_zone_file_prints_its_ksk_as_dnssec_dsfromkey_does() {
    if !dnssec::tools_present(&["dnssec-dsfromkey"]) {
        return;
    }
    let l = Layout::new();
    let zones = l.dir.path().join("zones");
    let ksk = dnssec::keygen(&zones, "example.com", &["-a", "ED25519", "-f", "KSK"]);
    let zsk = dnssec::keygen(&zones, "example.com", &["-a", "ED25519"]);
    let file = l.zone("example.com.toml", &zone(&[&ksk, &zsk], 80));
    let ours = std::process::Command::new(common::BIN)
        .args(["dnssec", "ds"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let bind = std::process::Command::new("dnssec-dsfromkey")
        .arg("-2")
        .arg(zones.join(format!("{ksk}.key")))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&bind.stdout)
    );
}

#[test]
fn metrics_count_signatures_and_cache_hits_and_status_lists_the_keys() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let s = signed();
    let api = control::Api::new(s.server.control.expect("control address"));
    let zone = "zone=\"example.com.\"";
    let made = api.metric(&format!("switchyard_dnssec_signatures_total{{{zone}}}"));
    let hits = api.metric(&format!("switchyard_dnssec_cache_hits_total{{{zone}}}"));
    // Positive answers were signed at table build; a denial is signed when first asked.
    s.server.dig("metrics-nope.example.com A +dnssec");
    let made2 = api.metric(&format!("switchyard_dnssec_signatures_total{{{zone}}}"));
    s.server.dig("metrics-nope.example.com A +dnssec");
    let hits2 = api.metric(&format!("switchyard_dnssec_cache_hits_total{{{zone}}}"));
    assert_eq!(made2, made + 1.0, "one new NSEC, one ZSK: one signature");
    assert!(hits2 > hits, "the second query is a cache hit");
    assert!(
        api.metric(&format!(
            "switchyard_dnssec_signing_seconds_total{{{zone}}}"
        )) > 0.0
    );

    let status = api.get("/v1/status");
    let keys = &status["zones"][0]["dnssec_keys"];
    let roles: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["KSK", "ZSK"], "{status}");
    for k in keys.as_array().unwrap() {
        assert_eq!(k["algorithm"], 13);
        assert_eq!(k["published"], true);
        assert_eq!(k["active"], true);
        assert!(k["tag"].as_u64().is_some());
    }
}
