//! Hostile input: a corpus of malformed packets sent over UDP and TCP. The server must
//! never crash or stall: after each packet it still answers a normal query on both
//! transports, and what it does answer is well-formed.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::{Layout, Server, HOST_ZONE as ZONE};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
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

// Cases are pushed one by one so each reads as its own labelled entry.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut c: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one byte", vec![0x42]),
        (
            "truncated header",
            header(1, 0x0100, 1, 0, 0, 0)[..7].to_vec(),
        ),
        (
            "header only, promises a question",
            header(2, 0x0100, 1, 0, 0, 0),
        ),
    ];
    let mut p = header(3, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
    c.push(("pointer to itself", p));
    let mut p = header(4, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[1, b'a', 0xC0, 0x0C, 0, 1, 0, 1]);
    c.push(("pointer loop through a label", p));
    let mut p = header(5, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 0xFF, 0, 1, 0, 1]);
    c.push(("pointer past the end", p));
    let mut p = header(6, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[63]);
    p.extend_from_slice(&[b'x'; 10]);
    c.push(("label longer than the packet", p));
    let mut p = header(7, 0x0100, 1, 0, 0, 0);
    for _ in 0..130 {
        p.extend_from_slice(&[1, b'a']);
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    c.push(("name longer than 255 octets", p));
    let mut p = header(8, 0x0100, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    c.push(("huge counts", p));
    let mut p = header(9, 0x8100, 1, 0, 0, 0);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    c.push(("QR=1 (a response)", p));
    let mut p = header(10, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0x12, 0x34]);
    c.push(("unknown class", p));
    let mut p = header(11, 0x0100, 2, 0, 0, 0);
    for _ in 0..2 {
        p.extend_from_slice(&qname());
        p.extend_from_slice(&[0, 1, 0, 1]);
    }
    c.push(("two questions", p));
    let mut p = header(12, 0x0100, 1, 0, 0, 2);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    for _ in 0..2 {
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }
    c.push(("two OPT records", p));
    let mut p = header(13, 0x0100, 1, 0, 0, 1);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 20, 0, 8, 0, 4]);
    c.push(("OPT with a truncated option", p));
    let mut p = header(14, 0x0100, 1, 0, 0, 1);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    // ECS claiming a /33 IPv4 source prefix.
    p.extend_from_slice(&[
        0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 12, 0, 8, 0, 8, 0, 1, 33, 0, 192, 0, 2, 1,
    ]);
    c.push(("ECS with an impossible prefix", p));
    let mut p = header(15, 0x7900, 1, 0, 0, 0);
    p.extend_from_slice(&qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    c.push(("reserved opcode 15", p));
    c.push((
        "random bytes",
        (0..512u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
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

/// Whatever comes back must parse and be a response to the same ID; silence is fine.
fn check_reply(what: &str, packet: &[u8], reply: Option<Vec<u8>>) {
    let Some(reply) = reply else { return };
    let m = Message::from_vec(&reply).unwrap_or_else(|e| panic!("{what}: unparseable reply: {e}"));
    assert_eq!(m.metadata.message_type, MessageType::Response, "{what}");
    if packet.len() >= 2 {
        assert_eq!(
            m.metadata.id,
            u16::from_be_bytes([packet[0], packet[1]]),
            "{what}"
        );
    }
    assert!(
        m.answers.is_empty(),
        "{what}: malformed input got an answer: {m:?}"
    );
}

#[test]
fn malformed_packets_over_udp_never_break_the_server() {
    let l = Layout::new();
    l.zone("example.test.toml", ZONE);
    let s = l.serve();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for (what, packet) in corpus() {
        sock.send_to(&packet, s.addr).unwrap();
        let mut buf = [0u8; 1500];
        let reply = sock
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| buf[..n].to_vec());
        if what == "QR=1 (a response)" {
            assert!(reply.is_none(), "a response must never be answered");
        }
        check_reply(what, &packet, reply);
        still_answers(&s, what);
    }
}

#[test]
fn malformed_packets_over_tcp_never_break_the_server() {
    let l = Layout::new();
    l.zone("example.test.toml", ZONE);
    let s = l.serve();
    for (what, packet) in corpus() {
        let reply = tcp_exchange(s.addr, &packet);
        check_reply(what, &packet, reply);
        still_answers(&s, what);
    }
    // A length prefix that promises more than is sent, then silence: the connection
    // is dropped by the idle timeout, not held forever, and others are served meanwhile.
    let mut half = TcpStream::connect(s.addr).unwrap();
    half.write_all(&[0x01, 0x00, 0xAB]).unwrap();
    still_answers(&s, "a half-sent TCP message");
}
