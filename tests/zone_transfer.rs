//! Zone transfers against the real binary: AXFR over TCP from an `allow_transfer`
//! address gets the whole zone (SOA first and last, static records, policy answers),
//! over several messages when it is large; everything else is REFUSED (another
//! address, UDP, IXFR, a zone without `allow_transfer`), and a bad entry is a config
//! error with its position.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{Layout, Server};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

/// Enough TXT records to need more than one 64 KiB message.
const BULK: usize = 800;

fn zone(origin: &str, allow: &str) -> String {
    let mut z = format!(
        r#"[zone]
origin = "{origin}"
nameservers = ["ns1.{origin}"]
soa = {{ mname = "ns1.{origin}", rname = "hostmaster.{origin}" }}
{allow}

[[records]]
name = "host"
A = ["192.0.2.80"]
MX = ["10 mail"]

[pools.east]
region = "us-east"
addresses = ["192.0.2.10", "2001:db8::10"]

[pools.west]
region = "us-west"
addresses = ["192.0.2.20"]

[[policies]]
name = "api"
policy = "failover"
ttl = 30
pools = ["east", "west"]
"#
    );
    for i in 0..BULK {
        z.push_str(&format!(
            "\n[[records]]\nname = \"bulk{i}\"\nTXT = [\"{}\"]\n",
            "x".repeat(100)
        ));
    }
    z
}

fn server() -> Server {
    let l = Layout::new();
    l.zone(
        "open.toml",
        &zone(
            "example.test.",
            r#"allow_transfer = ["127.0.0.1", "198.51.100.0/24"]"#,
        ),
    );
    l.zone("closed.toml", &zone("closed.test.", ""));
    l.zone(
        "other.toml",
        &zone("other.test.", r#"allow_transfer = ["192.0.2.0/24", "::1"]"#),
    );
    l.serve()
}

/// The transferred records as (owner, type, rdata) from dig's AXFR output.
fn records(raw: &str) -> Vec<(String, String, String)> {
    raw.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[3].to_string(), f[4..].join(" "))
        })
        .collect()
}

#[test]
fn allowed_address_gets_the_whole_zone_over_several_messages() {
    let s = server();
    let d = s.dig("example.test AXFR");
    let recs = records(&d.raw);
    assert!(recs.len() > BULK, "transfer too short:\n{}", d.raw);
    let soa = |r: &(String, String, String)| r.0 == "example.test." && r.1 == "SOA";
    assert!(soa(&recs[0]), "first record is not the SOA: {:?}", recs[0]);
    assert!(soa(recs.last().unwrap()), "last record is not the SOA");
    assert_eq!(recs.iter().filter(|r| soa(r)).count(), 2, "SOA twice only");
    let has = |name: &str, t: &str, data: &str| {
        recs.iter().any(|r| r.0 == name && r.1 == t && r.2 == data)
    };
    assert!(has("example.test.", "NS", "ns1.example.test."));
    assert!(has("host.example.test.", "A", "192.0.2.80"));
    assert!(has("host.example.test.", "MX", "10 mail.example.test."));
    // The policy name as the table answers it now: the first pool of the failover.
    assert!(has("api.example.test.", "A", "192.0.2.10"));
    assert!(has("api.example.test.", "AAAA", "2001:db8::10"));
    assert!(!has("api.example.test.", "A", "192.0.2.20"));
    let bulk = recs.iter().filter(|r| r.0.starts_with("bulk")).count();
    assert_eq!(bulk, BULK, "every static record is sent");
    // dig: ";; XFR size: N records (messages M, bytes B)"
    let messages: usize = d
        .raw
        .split("(messages ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no XFR size line:\n{}", d.raw));
    assert!(messages > 1, "a large zone spans several messages");
}

#[test]
fn transfers_are_refused_elsewhere() {
    let s = server();
    // No allow_transfer: nobody.
    let d = s.dig("closed.test AXFR");
    assert!(d.raw.contains("Transfer failed"), "{}", d.raw);
    assert!(records(&d.raw).is_empty(), "{}", d.raw);
    // 127.0.0.1 is not in this zone's list.
    let d = s.dig("other.test AXFR");
    assert!(d.raw.contains("Transfer failed"), "{}", d.raw);
    // IXFR is refused even to an allowed address (no fall back to AXFR).
    let d = s.dig("example.test IXFR=1");
    assert!(d.raw.contains("Transfer failed"), "{}", d.raw);
    assert!(records(&d.raw).is_empty(), "{}", d.raw);
    // A name below the apex is not a zone.
    let d = s.dig("host.example.test AXFR");
    assert!(d.raw.contains("Transfer failed"), "{}", d.raw);

    // Over UDP, even from an allowed address.
    let mut q = Message::new(0x7171, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(
        Name::from_ascii("example.test.").unwrap(),
        RecordType::AXFR,
    ));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&q.to_vec().unwrap(), s.addr).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a UDP reply");
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(r.answers.is_empty());
}

#[test]
fn bad_allow_transfer_entry_is_a_located_error() {
    let l = Layout::new();
    l.zone(
        "bad.toml",
        &zone(
            "example.test.",
            r#"allow_transfer = ["127.0.0.1", "10.0.0.0/33", "not-an-address"]"#,
        ),
    );
    let err = l.serve_fails();
    assert!(
        err.contains("bad.toml:5:") && err.contains("allow_transfer") && err.contains("33"),
        "{err}"
    );
    assert!(err.contains("not-an-address"), "{err}");
}
