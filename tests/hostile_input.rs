//! Hostile input: a corpus of malformed packets sent over UDP and TCP. Each case says
//! what the server must do with it (silence, or a well-formed reply with one rcode) and
//! that is checked on both transports; after each packet the server still answers a
//! normal query on both, and `switchyard_panics_total` stays 0 (a panic is caught and
//! costs only its packet, so without the count it would pass unseen).
//!
//! The rules, and where knot 3.2.6 (`knotd` on loopback, same packets) differs: a packet
//! without a full header, or a response (QR=1), gets silence (knot: the same). A packet
//! with a full query header whose question or OPT cannot be parsed gets a header-only
//! FORMERR, so the client learns quickly instead of retrying (knot: silence for a broken
//! question, FORMERR for a broken OPT; RFC 1035 §4.1.1 allows either). Two questions:
//! FORMERR echoing the first (knot: silence). An unknown class: REFUSED (knot: the
//! same). Opcode 15: NOTIMP (knot: the same). ECS with a /33 IPv4 source: FORMERR, as
//! RFC 7871 §7.1.1 asks (knot ignores the option and answers).

mod common;
mod control;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::{Server, HOST_ZONE as ZONE};
use control::Api;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [id, flags, qd, an, ns, ar] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

/// `host.example.test` as labels, for hand-made packets.
fn qname() -> Vec<u8> {
    let mut v = Vec::new();
    for l in ["host", "example", "test"] {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// What the server must send back for a case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Nothing at all (UDP: no datagram; TCP: no message before the connection closes
    /// or times out).
    Silence,
    /// A response with this ID echoed, this rcode, no records, and the question
    /// echoed when `question` (a header-only reply otherwise).
    Reply { rcode: ResponseCode, question: bool },
}

const FORMERR_BARE: Expect = Expect::Reply {
    rcode: ResponseCode::FormErr,
    question: false,
};

// Cases are pushed one by one so each reads as its own labelled entry, with its rule.
fn corpus() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::Silence;
    let mut c: Vec<(&'static str, Vec<u8>, Expect)> = vec![
        ("empty", vec![], Silence),
        ("one byte", vec![0x42], Silence),
        (
            "truncated header",
            header(1, 0x0100, 1, 0, 0, 0)[..7].to_vec(),
            Silence,
        ),
        (
            "header only, promises a question",
            header(2, 0x0100, 1, 0, 0, 0),
            FORMERR_BARE,
        ),
    ];
    let mut p = header(3, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
    c.push(("pointer to itself", p, FORMERR_BARE));
    let mut p = header(4, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[1, b'a', 0xC0, 0x0C, 0, 1, 0, 1]);
    c.push(("pointer loop through a label", p, FORMERR_BARE));
    let mut p = header(5, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 0xFF, 0, 1, 0, 1]);
    c.push(("pointer past the end", p, FORMERR_BARE));
    let mut p = header(6, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[63]);
    p.extend_from_slice(&[b'x'; 10]);
    c.push(("label longer than the packet", p, FORMERR_BARE));
    let mut p = header(7, 0x0100, 1, 0, 0, 0);
    for _ in 0..130 {
        p.extend_from_slice(&[1, b'a']);
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    c.push(("name longer than 255 octets", p, FORMERR_BARE));
    let mut p = header(8, 0x0100, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    c.push(("huge counts", p, FORMERR_BARE));
    let mut p = header(9, 0x8100, 1, 0, 0, 0);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    c.push(("QR=1 (a response)", p, Silence));
    let mut p = header(10, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0x12, 0x34]);
    c.push((
        "unknown class",
        p,
        Expect::Reply {
            rcode: ResponseCode::Refused,
            question: true,
        },
    ));
    let mut p = header(11, 0x0100, 2, 0, 0, 0);
    for _ in 0..2 {
        p.extend_from_slice(&qname());
        p.extend_from_slice(&[0, 1, 0, 1]);
    }
    c.push((
        "two questions",
        p,
        Expect::Reply {
            rcode: ResponseCode::FormErr,
            question: true,
        },
    ));
    let mut p = header(12, 0x0100, 1, 0, 0, 2);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    for _ in 0..2 {
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }
    c.push(("two OPT records", p, FORMERR_BARE));
    let mut p = header(13, 0x0100, 1, 0, 0, 1);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 20, 0, 8, 0, 4]);
    c.push(("OPT with a truncated option", p, FORMERR_BARE));
    let mut p = header(14, 0x0100, 1, 0, 0, 1);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    // ECS claiming a /33 IPv4 source prefix.
    p.extend_from_slice(&[
        0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 12, 0, 8, 0, 8, 0, 1, 33, 0, 192, 0, 2, 1,
    ]);
    c.push(("ECS with an impossible prefix", p, FORMERR_BARE));
    let mut p = header(15, 0x7900, 1, 0, 0, 0);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    c.push((
        "reserved opcode 15",
        p,
        Expect::Reply {
            rcode: ResponseCode::NotImp,
            question: true,
        },
    ));
    c.push((
        "random bytes",
        (0..512u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
        // A full header with QR=0: the question is unparseable.
        FORMERR_BARE,
    ));
    c
}

fn ok_query() -> Vec<u8> {
    let mut m = Message::new(0x7777, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("host.example.test.").unwrap(),
        RecordType::A,
    ));
    m.to_vec().unwrap()
}

fn still_answers(s: &Server, after: &str) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    sock.send_to(&ok_query(), s.addr).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no UDP answer after {after}: {e}"));
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.answers.len(), 1, "after {after}");
    let r =
        tcp_exchange(s.addr, &ok_query()).unwrap_or_else(|| panic!("no TCP answer after {after}"));
    assert_eq!(
        Message::from_vec(&r).unwrap().answers.len(),
        1,
        "after {after}"
    );
}

fn tcp_exchange(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// `reply` must be what `expect` says: silence, or a well-formed response to the same
/// ID with that rcode, no records, and the question echoed or not.
fn check_reply(what: &str, packet: &[u8], expect: Expect, reply: Option<Vec<u8>>) {
    let (rcode, question, reply) = match (expect, reply) {
        (Expect::Silence, None) => return,
        (Expect::Silence, Some(r)) => {
            panic!("{what}: expected silence, got {:?}", Message::from_vec(&r))
        }
        (Expect::Reply { .. }, None) => panic!("{what}: expected {expect:?}, got silence"),
        (Expect::Reply { rcode, question }, Some(r)) => (rcode, question, r),
    };
    let m = Message::from_vec(&reply).unwrap_or_else(|e| panic!("{what}: unparseable reply: {e}"));
    assert_eq!(m.metadata.message_type, MessageType::Response, "{what}");
    assert_eq!(
        m.metadata.id,
        u16::from_be_bytes([packet[0], packet[1]]),
        "{what}"
    );
    assert_eq!(m.metadata.response_code, rcode, "{what}: {m:?}");
    assert_eq!(m.queries.len(), usize::from(question), "{what}: {m:?}");
    assert!(
        m.answers.is_empty() && m.authorities.is_empty(),
        "{what}: malformed input got records: {m:?}"
    );
}

/// A server with the control API, to read `switchyard_panics_total`.
fn server() -> (Server, Api) {
    let l = control::layout(true, "");
    l.zone("example.test.toml", ZONE);
    let s = l.serve();
    let api = Api::new(s.control.expect("control listener"));
    assert_eq!(api.metric("switchyard_panics_total"), 0.0);
    (s, api)
}

#[test]
fn malformed_packets_over_udp_never_break_the_server() {
    let (s, api) = server();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for (what, packet, expect) in corpus() {
        sock.send_to(&packet, s.addr).unwrap();
        let mut buf = [0u8; 1500];
        let reply = sock
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| buf[..n].to_vec());
        check_reply(what, &packet, expect, reply);
        still_answers(&s, what);
    }
    assert_eq!(api.metric("switchyard_panics_total"), 0.0, "{}", s.log());
}

#[test]
fn malformed_packets_over_tcp_never_break_the_server() {
    let (s, api) = server();
    for (what, packet, expect) in corpus() {
        let reply = tcp_exchange(s.addr, &packet);
        check_reply(what, &packet, expect, reply);
        still_answers(&s, what);
    }
    // A length prefix that promises more than is sent, then silence: the connection
    // is dropped by the idle timeout, not held forever, and others are served meanwhile.
    let mut half = TcpStream::connect(s.addr).unwrap();
    half.write_all(&[0x01, 0x00, 0xAB]).unwrap();
    still_answers(&s, "a half-sent TCP message");
    assert_eq!(api.metric("switchyard_panics_total"), 0.0, "{}", s.log());
}
