//! Signed answers on the UDP fast path: for DO queries to a signed zone the fast path
//! gives exactly the general path's bytes (static names, every policy kind, with and
//! without ECS, in two health states, mixed case), takes the positive answers itself,
//! leaves negative answers and DNSKEY to the general path, steps aside once a prepared
//! signature is due, and a health rebuild signs only the answers that changed.

mod common;
mod dnssec;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use switchyard::dns::udp::{handle, AnswerPath};
use switchyard::health::{Health, HealthSnapshot, TargetStatus};
use switchyard::policy::Client;
use switchyard::routing::{build, build_next, Overlay, RoutingTable};
use switchyard::zone::{Target, ZoneSet};

fn zone_text(keys: &[String]) -> String {
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
name = "mail"
A = ["192.0.2.25"]

[[records]]
name = "Mixed"
A = ["192.0.2.26"]

[[records]]
name = "big"
TXT = ["{big}", "{big}2", "{big}3", "{big}4", "{big}5", "{big}6", "{big}7", "{big}8", "{big}9"]

[checks.web]
kind = "tcp"
port = 80

[pools.p1]
region = "r1"
addresses = ["192.0.2.11", "2001:db8::11"]
check = "web"

[pools.p2]
region = "r2"
addresses = ["192.0.2.12"]
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
name = "multi"
policy = "multivalue"
pools = ["p1", "p2"]

[[policies]]
name = "geo"
policy = "geolocation"
countries = {{ FR = "p1" }}
default = "p2"
"#,
        keys = keys.join(", "),
        big = "b".repeat(120),
    )
}

/// The zone signed by a dnssec-keygen KSK and ZSK, or `None` after a loud skip.
fn zones(dir: &Path) -> Option<ZoneSet> {
    if !dnssec::tools_present(&[]) {
        return None;
    }
    let ksk = dnssec::keygen(dir, "example.com", &["-a", "ECDSAP256SHA256", "-f", "KSK"]);
    let zsk = dnssec::keygen(dir, "example.com", &["-a", "ECDSAP256SHA256"]);
    let path = dir.join("example.com.toml");
    let text = zone_text(&[ksk, zsk]);
    let zone = switchyard::config::parse_zone(&path, &text).expect("valid signed zone");
    Some(ZoneSet {
        zones: vec![Arc::new(zone)],
    })
}

fn health(p1_up: bool) -> HealthSnapshot {
    let mut h = HealthSnapshot::default();
    for (addr, up) in [
        ("192.0.2.11", p1_up),
        ("2001:db8::11", p1_up),
        ("192.0.2.12", true),
    ] {
        h.targets.insert(
            Target {
                check: "example.com./web".into(),
                addr: addr.parse().unwrap(),
            },
            TargetStatus {
                health: if up { Health::Up } else { Health::Down },
                since: SystemTime::UNIX_EPOCH,
                last_reason: String::new(),
                latency: None,
            },
        );
    }
    h
}

#[derive(Clone, Copy)]
enum Opt {
    Do,
    DoEcs(&'static str, u8),
    /// DO with a payload too small for a signed answer (512).
    DoSmall,
}

fn packet(name: &str, t: RecordType, opt: Opt) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    m.metadata.recursion_desired = true;
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true);
    match opt {
        Opt::Do => {}
        Opt::DoSmall => {
            e.set_max_payload(512);
        }
        Opt::DoEcs(addr, prefix) => {
            e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
                addr.parse().unwrap(),
                prefix,
                0,
            )));
        }
    }
    m.set_edns(e);
    m.to_vec().unwrap()
}

/// Names whose answer is drawn per query.
const RANDOM: &[&str] = &["weighted.example.com.", "multi.example.com."];

const SRC: &str = "192.0.2.200:5300";

/// The fast path's reply and path, and the general path's reply.
fn both(t: &RoutingTable, p: &[u8]) -> ((AnswerPath, Vec<u8>), Vec<u8>) {
    let src: SocketAddr = SRC.parse().unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let fast = handle(t, p, src, &mut a, true).expect("an answer");
    assert_eq!(handle(t, p, src, &mut b, false), Some(AnswerPath::General));
    ((fast, a), b)
}

fn rrsigs(reply: &[u8]) -> usize {
    Message::from_vec(reply)
        .unwrap()
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::RRSIG)
        .count()
}

#[test]
fn do_queries_get_the_general_paths_signed_bytes_from_the_fast_path() {
    let dir = tempfile::tempdir().unwrap();
    let Some(zones) = zones(dir.path()) else {
        return;
    };
    let first = build(&zones, &health(true), 1);
    let failed = build_next(&first, &zones, &health(false), &Overlay::default());
    let names = [
        "example.com.",
        "ns1.example.com.",
        "host.example.com.",
        "HOST.example.com.",
        "mail.example.com.",
        "mixed.example.com.",
        "Mixed.example.com.",
        "big.example.com.",
        "fo.example.com.",
        "FO.example.com.",
        "weighted.example.com.",
        "multi.example.com.",
        "geo.example.com.",
        "nope.example.com.",
    ];
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::MX,
        RecordType::TXT,
        RecordType::NS,
        RecordType::SOA,
        RecordType::DNSKEY,
        RecordType::SRV,
    ];
    let opts = [
        Opt::Do,
        Opt::DoSmall,
        Opt::DoEcs("198.51.100.0", 24), // France in geoip/test.mmdb
        Opt::DoEcs("2001:db8:1::", 56),
        Opt::DoEcs("0.0.0.0", 0),
    ];
    let (mut fast, mut total, mut signed_fast) = (0, 0, 0);
    for table in [&first, &failed] {
        for name in names {
            for t in types {
                for opt in opts {
                    let p = packet(name, t, opt);
                    let ((path, f), mut g) = both(table, &p);
                    total += 1;
                    // A weighted or multivalue draw differs from query to query: the
                    // fast path's reply must be one the general path gives.
                    if RANDOM.contains(&name) {
                        let src: SocketAddr = SRC.parse().unwrap();
                        for _ in 0..200 {
                            if f == g {
                                break;
                            }
                            handle(table, &p, src, &mut g, false);
                        }
                    }
                    assert_eq!(
                        f,
                        g,
                        "{name} {t} {path:?}\nfast:    {:?}\ngeneral: {:?}",
                        Message::from_vec(&f),
                        Message::from_vec(&g)
                    );
                    if path == AnswerPath::Fast {
                        fast += 1;
                        if rrsigs(&f) > 0 {
                            signed_fast += 1;
                        }
                        let m = Message::from_vec(&f).unwrap();
                        assert!(
                            !m.answers.is_empty(),
                            "{name} {t}: only positive signed answers are prepared"
                        );
                    }
                }
            }
        }
    }
    // If the fast path stepped aside everywhere, the comparison would prove nothing.
    assert!(
        signed_fast == fast && fast * 6 > total,
        "fast {fast} of {total}"
    );
}

#[test]
fn the_fast_path_takes_signed_positive_answers_and_leaves_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let Some(zones) = zones(dir.path()) else {
        return;
    };
    let t = build(&zones, &health(true), 1);
    let path = |name: &str, ty: RecordType| both(&t, &packet(name, ty, Opt::Do)).0;
    for (name, ty) in [
        ("host.example.com.", RecordType::A),
        ("host.example.com.", RecordType::AAAA),
        ("host.example.com.", RecordType::MX),
        ("host.example.com.", RecordType::TXT),
        ("example.com.", RecordType::SOA),
        ("example.com.", RecordType::NS),
        ("fo.example.com.", RecordType::A),
        ("fo.example.com.", RecordType::AAAA),
        ("weighted.example.com.", RecordType::A),
        ("multi.example.com.", RecordType::A),
        ("geo.example.com.", RecordType::A),
    ] {
        let (p, reply) = path(name, ty);
        assert_eq!(p, AnswerPath::Fast, "{name} {ty}");
        assert_eq!(rrsigs(&reply), 1, "{name} {ty}: one RRSIG by the ZSK");
    }
    for (name, ty, why) in [
        (
            "nope.example.com.",
            RecordType::A,
            "NXDOMAIN: denial per name",
        ),
        (
            "host.example.com.",
            RecordType::SRV,
            "NODATA: denial per name",
        ),
        ("fo.example.com.", RecordType::TXT, "policy NODATA"),
        ("example.com.", RecordType::DNSKEY, "DNSKEY"),
        ("big.example.com.", RecordType::TXT, "too big for 1232"),
    ] {
        assert_eq!(path(name, ty).0, AnswerPath::General, "{why}");
    }
}

#[test]
fn a_prepared_reply_is_not_served_once_its_signatures_are_due() {
    let dir = tempfile::tempdir().unwrap();
    let Some(zones) = zones(dir.path()) else {
        return;
    };
    let t = build(&zones, &health(true), 1);
    let due = t.signatures_refresh_at().expect("signed replies prepared");
    let now = switchyard::dnssec::unix_now();
    // Seven days of validity, refreshed with a quarter left.
    assert!(
        due > now + 5 * 86_400 && due <= now + 6 * 86_400,
        "due {due}, now {now}"
    );
    let client = Client {
        addr: "192.0.2.200".parse().unwrap(),
        subnet: None,
    };
    for name in ["host.example.com.", "fo.example.com."] {
        let key = switchyard::routing::key::owned(&Name::from_ascii(name).unwrap());
        assert!(t
            .fast_signed(&key, RecordType::A, &client, due - 1)
            .is_some());
        assert!(t.fast_signed(&key, RecordType::A, &client, due).is_none());
    }
}

#[test]
fn a_health_rebuild_signs_only_the_answers_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(zones) = zones(dir.path()) else {
        return;
    };
    let signatures = |t: &RoutingTable| {
        t.signers()
            .map(|s| s.stats().snapshot().signatures)
            .sum::<u64>()
    };
    let first = build(&zones, &health(true), 1);
    let at_first = signatures(&first);
    assert!(at_first > 10, "static and policy RRsets signed: {at_first}");
    // The same health again: every RRset is in the cache.
    let same = build_next(&first, &zones, &health(true), &Overlay::default());
    assert_eq!(signatures(&same), at_first);
    // p1 fails: failover and geolocation answer p2's A, which weighted and multivalue
    // already signed; the only new RRsets are what multivalue and weighted now give
    // (p2 alone) at most. Static names are not signed again.
    let failed = build_next(&same, &zones, &health(false), &Overlay::default());
    let new = signatures(&failed) - at_first;
    assert!(new <= 2, "{new} signatures for one pool failing");
    assert_eq!(
        failed.signatures_refresh_at(),
        first.signatures_refresh_at()
    );
}
