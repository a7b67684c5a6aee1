//! What an authoritative server owes its clients, checked end to end against the real
//! binary: `dig` over UDP and TCP for records and negative answers, raw packets for
//! the RFC corner cases dig can't produce.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::{Layout, Server, UdpPath};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RecordType};

fn zone() -> String {
    let big: Vec<String> = (0..30)
        .map(|i| format!("\"{i:02}-{}\"", "x".repeat(60)))
        .collect();
    format!(
        r#"
[zone]
origin = "example.test."
ttl = 3600
nameservers = ["ns1.example.test.", "ns2.example.test."]
soa = {{ mname = "ns1.example.test.", rname = "hostmaster.example.test.", serial = 2026112201, minimum = 120 }}

[[records]]
name = "@"
MX = ["10 mail", "20 mail2.example.test."]
TXT = ["v=spf1 -all"]
CAA = ['0 issue "ca.example.net"']

[[records]]
name = "ns1"
A = ["192.0.2.1"]
AAAA = ["2001:db8::1"]

[[records]]
name = "ns2"
A = ["192.0.2.2"]

[[records]]
name = "mail"
A = ["192.0.2.25"]

[[records]]
name = "www"
CNAME = "host"

[[records]]
name = "host"
A = ["192.0.2.80"]
AAAA = ["2001:db8::80"]

[[records]]
name = "outside"
CNAME = "www.example.net."

[[records]]
name = "_sip._tcp"
SRV = ["10 60 5060 host"]

[[records]]
name = "ptr"
PTR = ["host"]

[[records]]
name = "a.b.c"
A = ["192.0.2.3"]

[[records]]
name = "*.wild"
A = ["192.0.2.99"]
TXT = ["wildcard"]

[[records]]
name = "child"
NS = ["ns.child", "ns.elsewhere.example.net."]

[[records]]
name = "ns.child"
A = ["192.0.2.53"]

[[records]]
name = "big"
ttl = 60
TXT = [{}]
"#,
        big.join(", ")
    )
}

/// A zone without wildcards or delegations, where the fast path answers negatives too.
fn plain() -> String {
    let many: String = (1..=6)
        .map(|i| format!("\n[[records]]\nname = \"m{i}\"\nA = [\"192.0.2.{i}1\", \"192.0.2.{i}2\", \"192.0.2.{i}3\", \"192.0.2.{i}4\"]\nAAAA = [\"2001:db8::{i}:1\", \"2001:db8::{i}:2\", \"2001:db8::{i}:3\", \"2001:db8::{i}:4\"]\n"))
        .collect();
    format!(
        r#"
[zone]
origin = "plain.test."
nameservers = ["ns1.plain.test."]
soa = {{ mname = "ns1.plain.test.", rname = "hostmaster.plain.test.", serial = 5, minimum = 90 }}

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[[records]]
name = "a.b"
A = ["192.0.2.3"]

[pools.east]
region = "us-east"
addresses = ["203.0.113.10", "203.0.113.11"]

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10", "2001:db8::10"]

[[policies]]
name = "api"
policy = "failover"
ttl = 20
pools = ["east", "west"]

# Targets that are a policy name: their addresses come from the policy, for the client.
[[records]]
name = "@"
MX = ["10 api", "20 ns1"]

[[records]]
name = "_https._tcp"
SRV = ["0 0 443 api"]

# Many targets with many addresses: the additional section cannot fit 512 bytes.
[[records]]
name = "many"
MX = ["10 m1", "20 m2", "30 m3", "40 m4", "50 m5", "60 m6"]
{many}
"#
    )
}

fn server(path: UdpPath) -> Server {
    let l = Layout::with_udp_path(path);
    l.zone("example.test.toml", &zone());
    l.zone("plain.test.toml", &plain());
    l.serve()
}

/// Every test runs against both UDP paths (`fast::` and `general::`): they must give
/// the same answers.
macro_rules! on_both_paths {
    ($($name:ident),* $(,)?) => {
        mod fast {
            $(#[test] fn $name() { super::$name(super::server(super::UdpPath::Fast)) })*
        }
        mod general {
            $(#[test] fn $name() { super::$name(super::server(super::UdpPath::General)) })*
        }
    };
}

on_both_paths!(
    static_records_of_every_type_over_udp_and_tcp,
    nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl,
    names_outside_our_zones_are_refused,
    wildcards_synthesize_the_question_name,
    delegations_are_referrals_with_glue_and_without_aa,
    cname_chains_are_followed_inside_the_zone,
    large_answers_are_truncated_over_udp_and_whole_over_tcp,
    matching_ignores_case_and_keeps_the_question_spelling,
    other_opcodes_get_notimp,
    edns_version_above_zero_gets_badvers,
    only_class_in_is_served,
    malformed_queries_get_formerr_and_responses_get_nothing,
    client_subnet_is_echoed_with_scope_zero_for_static_answers,
    zone_transfers_are_refused,
    policy_and_negative_answers_in_a_zone_without_wildcards,
    any_at_a_policy_name_gets_its_answer,
    additional_addresses_for_mx_srv_and_ns_targets,
    additional_data_is_dropped_before_it_would_truncate,
    notify_gets_notauth,
);

fn any_at_a_policy_name_gets_its_answer(s: Server) {
    for tcp in ["+notcp", "+tcp"] {
        let r = s.dig(&format!("{tcp} api.plain.test ANY"));
        assert_eq!(r.status(), "NOERROR", "{}", r.raw);
        assert!(r.has_flag("aa"), "{}", r.raw);
        assert_eq!(
            r.rdata("A"),
            vec!["203.0.113.10", "203.0.113.11"],
            "{}",
            r.raw
        );
    }
}

/// The A and AAAA records of each additional-section owner, as "owner TYPE data".
fn additional(d: &common::Dig) -> Vec<String> {
    let mut v: Vec<String> = d
        .section("ADDITIONAL")
        .iter()
        .filter(|r| r.len() >= 5 && (r[3] == "A" || r[3] == "AAAA"))
        .map(|r| format!("{} {} {}", r[0], r[3], r[4]))
        .collect();
    v.sort();
    v
}

fn additional_addresses_for_mx_srv_and_ns_targets(s: Server) {
    for tcp in ["+notcp", "+tcp"] {
        let q = |args: &str| s.dig(&format!("{tcp} {args}"));
        // MX: a policy target (its answer now: the east pool) and a static one.
        let mx = q("plain.test MX");
        assert_eq!(
            mx.rdata("MX"),
            vec!["10 api.plain.test.", "20 ns1.plain.test."]
        );
        assert_eq!(
            additional(&mx),
            vec![
                "api.plain.test. A 203.0.113.10",
                "api.plain.test. A 203.0.113.11",
                "ns1.plain.test. A 192.0.2.1",
            ],
            "{}",
            mx.raw
        );
        let srv = q("_https._tcp.plain.test SRV");
        assert_eq!(
            additional(&srv),
            vec![
                "api.plain.test. A 203.0.113.10",
                "api.plain.test. A 203.0.113.11"
            ],
            "{}",
            srv.raw
        );
        // Static targets in the other zone: both addresses of ns1, the A of mail.
        let ns = q("example.test NS");
        assert!(additional(&ns).contains(&"ns1.example.test. AAAA 2001:db8::1".to_string()));
        let mx = q("example.test MX");
        assert_eq!(
            additional(&mx),
            vec!["mail.example.test. A 192.0.2.25"],
            "{}",
            mx.raw
        );
        let srv = q("_sip._tcp.example.test SRV");
        assert_eq!(
            additional(&srv),
            vec![
                "host.example.test. A 192.0.2.80",
                "host.example.test. AAAA 2001:db8::80"
            ],
            "{}",
            srv.raw
        );
    }
}

fn additional_data_is_dropped_before_it_would_truncate(s: Server) {
    // 48 addresses do not fit 512 bytes: the answer comes whole, without them and
    // without TC; over TCP every one of them is there.
    let udp = s.dig("+notcp +noedns many.plain.test MX");
    assert_eq!(udp.status(), "NOERROR", "{}", udp.raw);
    assert!(!udp.has_flag("tc"), "{}", udp.raw);
    assert_eq!(udp.rdata("MX").len(), 6, "{}", udp.raw);
    assert!(additional(&udp).is_empty(), "{}", udp.raw);
    let tcp = s.dig("+tcp many.plain.test MX");
    assert_eq!(additional(&tcp).len(), 48, "{}", tcp.raw);
    // At 1232 bytes: either all of it or none, never part of an RRset.
    let edns = s.dig("+notcp +bufsize=1232 many.plain.test MX");
    assert!(!edns.has_flag("tc"), "{}", edns.raw);
    let n = additional(&edns).len();
    assert!(n == 0 || n == 48, "{n} additional records:\n{}", edns.raw);
}

fn notify_gets_notauth(s: Server) {
    // As knot answers a NOTIFY sent to a primary: NOTAUTH, never NOTIMP.
    let mut m = query("plain.test.", RecordType::SOA);
    m.metadata.op_code = OpCode::Notify;
    m.metadata.authoritative = true;
    for r in both(s.addr, &m) {
        assert_eq!(r.metadata.response_code, ResponseCode::NotAuth, "{r:?}");
        assert_eq!(r.metadata.op_code, OpCode::Notify);
        assert_eq!(r.metadata.id, 0x4242);
    }
}

/// Both UDP paths, side by side: the prepared replies (with additional data) are the
/// general path's bytes exactly.
#[test]
fn fast_and_general_paths_give_the_same_bytes_with_additional_data() {
    let fast = server(UdpPath::Fast);
    let general = server(UdpPath::General);
    for (name, t) in [
        ("example.test.", RecordType::MX),
        ("example.test.", RecordType::NS),
        ("_sip._tcp.example.test.", RecordType::SRV),
        ("plain.test.", RecordType::MX),
        ("_https._tcp.plain.test.", RecordType::SRV),
        ("many.plain.test.", RecordType::MX),
        ("api.plain.test.", RecordType::ANY),
    ] {
        for edns in [false, true] {
            let mut m = query(name, t);
            if edns {
                m.set_edns(Edns::new());
            }
            let bytes = m.to_vec().unwrap();
            let f = udp(fast.addr, &bytes).expect("fast reply");
            let g = udp(general.addr, &bytes).expect("general reply");
            assert_eq!(f, g, "{name} {t} edns={edns}");
        }
    }
}

fn static_records_of_every_type_over_udp_and_tcp(s: Server) {
    for tcp in ["+notcp", "+tcp"] {
        let q = |args: &str| s.dig(&format!("{tcp} {args}"));
        let a = q("host.example.test A");
        assert_eq!(a.status(), "NOERROR", "{}", a.raw);
        assert!(a.has_flag("aa"), "{}", a.raw);
        assert!(
            !a.has_flag("ra"),
            "recursion must never be offered: {}",
            a.raw
        );
        assert_eq!(a.rdata("A"), vec!["192.0.2.80"]);
        assert_eq!(
            q("host.example.test AAAA").rdata("AAAA"),
            vec!["2001:db8::80"]
        );
        assert_eq!(
            q("example.test MX").rdata("MX"),
            vec!["10 mail.example.test.", "20 mail2.example.test."]
        );
        assert_eq!(q("example.test TXT").rdata("TXT"), vec!["\"v=spf1 -all\""]);
        assert_eq!(
            q("example.test CAA").rdata("CAA"),
            vec!["0 issue \"ca.example.net\""]
        );
        assert_eq!(
            q("_sip._tcp.example.test SRV").rdata("SRV"),
            vec!["10 60 5060 host.example.test."]
        );
        assert_eq!(
            q("ptr.example.test PTR").rdata("PTR"),
            vec!["host.example.test."]
        );
        let soa = q("example.test SOA");
        assert_eq!(
            soa.rdata("SOA"),
            vec!["ns1.example.test. hostmaster.example.test. 2026112201 3600 600 604800 120"]
        );
        let ns = q("example.test NS");
        assert_eq!(
            ns.rdata("NS"),
            vec!["ns1.example.test.", "ns2.example.test."]
        );
        let glue: Vec<String> = ns
            .section("ADDITIONAL")
            .iter()
            .map(|r| r.join(" "))
            .collect();
        assert!(
            glue.iter()
                .any(|g| g.contains("ns1.example.test.") && g.contains("192.0.2.1")),
            "{}",
            ns.raw
        );
        assert!(glue.iter().any(|g| g.contains("2001:db8::1")), "{}", ns.raw);
    }
}

fn nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl(s: Server) {
    for tcp in ["+notcp", "+tcp"] {
        let nx = s.dig(&format!("{tcp} nope.example.test A"));
        assert_eq!(nx.status(), "NXDOMAIN", "{}", nx.raw);
        assert!(nx.has_flag("aa"));
        let auth = nx.section("AUTHORITY");
        assert_eq!(auth.len(), 1, "{}", nx.raw);
        assert_eq!(auth[0][3], "SOA");
        // RFC 2308 §3: the SOA's TTL in a negative answer is min(TTL, MINIMUM).
        assert_eq!(auth[0][1], "120", "{}", nx.raw);

        let nodata = s.dig(&format!("{tcp} host.example.test MX"));
        assert_eq!(nodata.status(), "NOERROR", "{}", nodata.raw);
        assert!(nodata.answer().is_empty());
        assert_eq!(nodata.section("AUTHORITY")[0][3], "SOA");

        // Empty non-terminals exist: NODATA, not NXDOMAIN (RFC 8020).
        for ent in ["b.c.example.test", "c.example.test"] {
            let e = s.dig(&format!("{tcp} {ent} A"));
            assert_eq!(e.status(), "NOERROR", "{ent}: {}", e.raw);
            assert_eq!(e.section("AUTHORITY")[0][3], "SOA");
        }
        let below = s.dig(&format!("{tcp} x.a.b.c.example.test A"));
        assert_eq!(below.status(), "NXDOMAIN");
    }
}

fn names_outside_our_zones_are_refused(s: Server) {
    for q in ["example.net A", "test A", ". NS", "xexample.test A"] {
        let r = s.dig(q);
        assert_eq!(r.status(), "REFUSED", "{q}: {}", r.raw);
        assert!(!r.has_flag("aa"));
        assert!(r.answer().is_empty());
    }
}

fn wildcards_synthesize_the_question_name(s: Server) {
    let r = s.dig("foo.wild.example.test A");
    assert_eq!(r.status(), "NOERROR");
    assert_eq!(r.answer()[0][0], "foo.wild.example.test.");
    assert_eq!(r.rdata("A"), vec!["192.0.2.99"]);
    let deep = s.dig("a.b.wild.example.test TXT");
    assert_eq!(deep.rdata("TXT"), vec!["\"wildcard\""]);
    // The wildcard's own type set decides NODATA.
    let nodata = s.dig("foo.wild.example.test MX");
    assert_eq!(nodata.status(), "NOERROR");
    assert!(nodata.answer().is_empty());
    // The parent of the wildcard is an empty non-terminal, not covered by it.
    assert_eq!(s.dig("wild.example.test A").status(), "NOERROR");
    assert!(s.dig("wild.example.test A").answer().is_empty());
}

fn delegations_are_referrals_with_glue_and_without_aa(s: Server) {
    for tcp in ["+notcp", "+tcp"] {
        let r = s.dig(&format!("{tcp} www.child.example.test A"));
        assert_eq!(r.status(), "NOERROR", "{}", r.raw);
        assert!(
            !r.has_flag("aa"),
            "a referral is not authoritative: {}",
            r.raw
        );
        assert!(r.answer().is_empty());
        let auth: Vec<String> = r.section("AUTHORITY").iter().map(|x| x.join(" ")).collect();
        assert_eq!(auth.len(), 2, "{}", r.raw);
        assert!(auth
            .iter()
            .all(|a| a.starts_with("child.example.test.") && a.contains(" NS ")));
        let add: Vec<String> = r
            .section("ADDITIONAL")
            .iter()
            .map(|x| x.join(" "))
            .collect();
        assert!(
            add.iter()
                .any(|a| a.starts_with("ns.child.example.test.") && a.ends_with("192.0.2.53")),
            "{}",
            r.raw
        );
        // The cut itself is referred too.
        assert!(!s
            .dig(&format!("{tcp} child.example.test NS"))
            .has_flag("aa"));
    }
}

fn cname_chains_are_followed_inside_the_zone(s: Server) {
    let r = s.dig("www.example.test A");
    assert_eq!(r.status(), "NOERROR");
    let ans = r.answer();
    assert_eq!(ans.len(), 2, "{}", r.raw);
    assert_eq!(ans[0][3], "CNAME");
    assert_eq!(ans[0][4], "host.example.test.");
    assert_eq!(ans[1][0], "host.example.test.");
    assert_eq!(ans[1][4], "192.0.2.80");
    // A CNAME query gets the CNAME alone; an out-of-zone target is left to the resolver.
    assert_eq!(s.dig("www.example.test CNAME").answer().len(), 1);
    let out = s.dig("outside.example.test A");
    assert_eq!(out.status(), "NOERROR");
    assert_eq!(out.answer().len(), 1);
    assert_eq!(out.rdata("CNAME"), vec!["www.example.net."]);
}

fn large_answers_are_truncated_over_udp_and_whole_over_tcp(s: Server) {
    let udp = s.dig("+notcp +ignore big.example.test TXT");
    assert!(udp.has_flag("tc"), "{}", udp.raw);
    assert!(
        udp.answer().is_empty(),
        "a truncated answer carries no partial RRset: {}",
        udp.raw
    );
    let small_buf = s.dig("+notcp +ignore +bufsize=512 big.example.test TXT");
    assert!(small_buf.has_flag("tc"));
    let noedns = s.dig("+notcp +ignore +noedns host.example.test A");
    assert!(
        !noedns.has_flag("tc"),
        "small answers fit 512 bytes: {}",
        noedns.raw
    );
    let tcp = s.dig("+tcp big.example.test TXT");
    assert!(!tcp.has_flag("tc"));
    assert_eq!(tcp.rdata("TXT").len(), 30, "{}", tcp.raw);
    // dig's default: retry over TCP after TC.
    assert_eq!(s.dig("big.example.test TXT").rdata("TXT").len(), 30);
}

fn matching_ignores_case_and_keeps_the_question_spelling(s: Server) {
    let r = s.dig("HoSt.ExAmPlE.TeSt A");
    assert_eq!(r.rdata("A"), vec!["192.0.2.80"]);
    assert!(
        r.raw.contains(";HoSt.ExAmPlE.TeSt.\t"),
        "question spelling kept: {}",
        r.raw
    );
    assert_eq!(r.answer()[0][0], "HoSt.ExAmPlE.TeSt.");
}

fn policy_and_negative_answers_in_a_zone_without_wildcards(s: Server) {
    for tcp in ["+notcp", "+tcp"] {
        let q = |args: &str| s.dig(&format!("{tcp} {args}"));
        let api = q("api.plain.test A");
        assert_eq!(api.status(), "NOERROR", "{}", api.raw);
        assert!(api.has_flag("aa"));
        assert_eq!(api.rdata("A"), vec!["203.0.113.10", "203.0.113.11"]);
        assert!(api
            .answer()
            .iter()
            .all(|r| r[0] == "api.plain.test." && r[1] == "20"));
        // The first pool has no IPv6 address: NODATA with the negative SOA.
        let v6 = q("api.plain.test AAAA");
        assert_eq!(v6.status(), "NOERROR", "{}", v6.raw);
        assert!(v6.answer().is_empty());
        assert_eq!(v6.section("AUTHORITY")[0][1], "90", "{}", v6.raw);
        let nx = q("nope.plain.test A");
        assert_eq!(nx.status(), "NXDOMAIN", "{}", nx.raw);
        let soa = nx.section("AUTHORITY");
        assert_eq!(soa[0][0], "plain.test.");
        assert_eq!(soa[0][3], "SOA");
        assert_eq!(
            soa[0][4..].join(" "),
            "ns1.plain.test. hostmaster.plain.test. 5 3600 600 604800 90"
        );
        assert_eq!(
            q("b.plain.test A").status(),
            "NOERROR",
            "empty non-terminal"
        );
        assert_eq!(q("x.a.b.plain.test A").status(), "NXDOMAIN");
        assert_eq!(
            q("ns1.plain.test AAAA").section("AUTHORITY")[0][3],
            "SOA",
            "NODATA below the MNAME"
        );
    }
    // The question's spelling is kept in policy answers, as for static ones.
    let r = s.dig("ApI.pLaIn.TeSt A");
    assert_eq!(r.answer()[0][0], "ApI.pLaIn.TeSt.", "{}", r.raw);
    // ECS on a policy name: echoed with the policy's scope (failover: 0).
    let mut m = query("api.plain.test.", RecordType::A);
    let mut e = Edns::new();
    e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
        "2001:db8:77::".parse().unwrap(),
        48,
        0,
    )));
    m.set_edns(e);
    for r in both(s.addr, &m) {
        assert_eq!(r.answers.len(), 2);
        match r
            .edns
            .as_ref()
            .and_then(|e| e.option(hickory_proto::rr::rdata::opt::EdnsCode::Subnet))
        {
            Some(EdnsOption::Subnet(cs)) => {
                assert_eq!(cs.source_prefix(), 48);
                assert_eq!(cs.scope_prefix(), 0);
                assert_eq!(
                    cs.addr(),
                    "2001:db8:77::".parse::<std::net::IpAddr>().unwrap()
                );
            }
            other => panic!("ECS not echoed: {other:?}"),
        }
    }
}

// ---- raw packets ----------------------------------------------------------------

fn query(name: &str, t: RecordType) -> Message {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    m
}

fn udp(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    sock.send_to(packet, addr).unwrap();
    let mut buf = vec![0u8; 65535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn tcp(addr: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    buf
}

fn both(addr: SocketAddr, m: &Message) -> Vec<Message> {
    let bytes = m.to_vec().unwrap();
    let u = udp(addr, &bytes).expect("udp reply");
    let t = tcp(addr, &bytes);
    vec![
        Message::from_vec(&u).unwrap(),
        Message::from_vec(&t).unwrap(),
    ]
}

fn other_opcodes_get_notimp(s: Server) {
    let mut m = query("host.example.test.", RecordType::A);
    m.metadata.op_code = OpCode::Status;
    for r in both(s.addr, &m) {
        assert_eq!(r.metadata.response_code, ResponseCode::NotImp);
        assert_eq!(r.metadata.id, 0x4242);
    }
}

fn edns_version_above_zero_gets_badvers(s: Server) {
    let mut m = query("host.example.test.", RecordType::A);
    let mut e = Edns::new();
    e.set_version(1);
    m.set_edns(e);
    for r in both(s.addr, &m) {
        // 16 is BADVERS (RFC 6891) and BADSIG (RFC 8945) alike; decoders pick one name.
        assert_eq!(u16::from(r.metadata.response_code), 16, "{r:?}");
        assert_eq!(r.edns.as_ref().map(|e| e.version()), Some(0));
        assert!(r.answers.is_empty());
    }
}

fn only_class_in_is_served(s: Server) {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    let mut q = Query::query(
        Name::from_ascii("host.example.test.").unwrap(),
        RecordType::A,
    );
    q.set_query_class(DNSClass::CH);
    m.add_query(q);
    for r in both(s.addr, &m) {
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    }
}

fn malformed_queries_get_formerr_and_responses_get_nothing(s: Server) {
    // Two questions.
    let mut m = query("host.example.test.", RecordType::A);
    m.add_query(Query::query(
        Name::from_ascii("mail.example.test.").unwrap(),
        RecordType::A,
    ));
    for r in both(s.addr, &m) {
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    }
    // A header that promises a question that isn't there.
    let mut bad = query("host.example.test.", RecordType::A).to_vec().unwrap();
    bad.truncate(14);
    let r = Message::from_vec(&udp(s.addr, &bad).expect("formerr reply")).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(r.metadata.id, 0x4242);
    // Shorter than a header: dropped.
    assert!(udp(s.addr, &[1, 2, 3]).is_none());
    // QR=1: never answered (reflection).
    let mut resp = query("host.example.test.", RecordType::A);
    resp.metadata.message_type = MessageType::Response;
    assert!(udp(s.addr, &resp.to_vec().unwrap()).is_none());
    // Still serving after all that.
    assert_eq!(s.dig("host.example.test A").rdata("A"), vec!["192.0.2.80"]);
}

fn client_subnet_is_echoed_with_scope_zero_for_static_answers(s: Server) {
    let mut m = query("host.example.test.", RecordType::A);
    let mut e = Edns::new();
    e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
        "198.51.100.0".parse().unwrap(),
        24,
        0,
    )));
    m.set_edns(e);
    for r in both(s.addr, &m) {
        let edns = r.edns.as_ref().expect("OPT in reply");
        match edns.option(hickory_proto::rr::rdata::opt::EdnsCode::Subnet) {
            Some(EdnsOption::Subnet(cs)) => {
                assert_eq!(cs.source_prefix(), 24);
                assert_eq!(cs.scope_prefix(), 0);
            }
            other => panic!("ECS not echoed: {other:?}"),
        }
        assert_eq!(edns.max_payload(), 1232);
    }
}

fn zone_transfers_are_refused(s: Server) {
    let r = s.dig("+tcp example.test AXFR");
    assert!(
        r.raw.contains("Transfer failed") || r.status() == "REFUSED",
        "{}",
        r.raw
    );
}
