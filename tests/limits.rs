//! Transport limits against the real binary: a TCP connection flood is bounded (extra
//! connections are closed at once, the ones already open and UDP keep working), a
//! client trickling a query is cut off at the request deadline, an oversized query
//! closes its connection; each is counted in /metrics.

mod common;
mod control;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::{wait_for, Server, HOST_ZONE as ZONE};
use control::{layout, Api};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

const MAX_CONNS: usize = 8;

fn server() -> Server {
    let l = layout(
        true,
        &format!(
            "[limits]\ntcp_connections = {MAX_CONNS}\ntcp_idle_timeout = \"30s\"\ntcp_request_timeout = \"400ms\"\nmax_query_size = 1024\n"
        ),
    );
    l.zone("example.test.toml", ZONE);
    l.serve()
}

fn query() -> Vec<u8> {
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("host.example.test.").unwrap(),
        RecordType::A,
    ));
    m.to_vec().unwrap()
}

fn framed(q: &[u8]) -> Vec<u8> {
    let mut f = (q.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(q);
    f
}

/// Send a query on an open connection and read one answer.
fn ask(conn: &mut TcpStream) -> std::io::Result<Message> {
    conn.write_all(&framed(&query()))?;
    let mut len = [0u8; 2];
    conn.read_exact(&mut len)?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    conn.read_exact(&mut buf)?;
    Ok(Message::from_vec(&buf).expect("a DNS reply"))
}

fn udp_answers(addr: SocketAddr) -> bool {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(&query(), addr).unwrap();
    let mut buf = [0u8; 512];
    s.recv_from(&mut buf)
        .map(|(n, _)| {
            Message::from_vec(&buf[..n])
                .map(|m| m.answers.len() == 1)
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// True when the server closes `conn` (EOF or reset) before `within`.
fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    conn.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 1];
    match conn.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn a_connection_flood_is_bounded_and_the_server_keeps_answering() {
    let s = server();
    let api = Api::new(s.control.expect("control address"));
    // Fill every slot, and prove each one is being served.
    let mut held: Vec<TcpStream> = (0..MAX_CONNS)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    for c in held.iter_mut() {
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(ask(c).unwrap().answers.len(), 1);
    }
    // The flood: every further connection is closed at once, without an answer.
    let flood = 40;
    for i in 0..flood {
        let mut c = TcpStream::connect(s.addr).unwrap();
        assert!(
            closed_within(&mut c, Duration::from_secs(2)),
            "connection {i} over the limit was kept open"
        );
    }
    wait_for(Duration::from_secs(5), "the refusals to be counted", || {
        (api.metric("switchyard_dns_dropped_total{transport=\"tcp\",reason=\"connection_limit\"}")
            >= flood as f64)
            .then_some(())
    });
    // Meanwhile UDP and the connections already open are served.
    assert!(udp_answers(s.addr), "UDP stalled during a TCP flood");
    for c in held.iter_mut() {
        assert_eq!(
            ask(c).unwrap().answers.len(),
            1,
            "an open connection stopped being served"
        );
    }
    // Freed slots are usable again.
    held.clear();
    let (mut fresh, _) = wait_for(Duration::from_secs(5), "a free slot", || {
        let mut c = TcpStream::connect(s.addr).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        ask(&mut c).ok().map(|_| c)
    });
    assert_eq!(ask(&mut fresh).unwrap().answers.len(), 1);
}

#[test]
fn a_trickled_query_is_cut_off_at_the_request_deadline() {
    let s = server();
    let api = Api::new(s.control.expect("control address"));
    let before = api.metric("switchyard_dns_dropped_total{transport=\"tcp\",reason=\"timeout\"}");
    let mut slow = TcpStream::connect(s.addr).unwrap();
    let q = framed(&query());
    // Half a message, then nothing: the server must not wait for the rest forever.
    slow.write_all(&q[..q.len() / 2]).unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)),
        "a trickling client held its connection"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "closed after {took:?}: before the 400 ms deadline"
    );
    wait_for(Duration::from_secs(5), "the timeout to be counted", || {
        (api.metric("switchyard_dns_dropped_total{transport=\"tcp\",reason=\"timeout\"}") > before)
            .then_some(())
    });
    assert!(udp_answers(s.addr));
}

#[test]
fn an_oversized_query_closes_its_connection() {
    let s = server();
    let api = Api::new(s.control.expect("control address"));
    let mut c = TcpStream::connect(s.addr).unwrap();
    // A length prefix over max_query_size (1024): no need to read what follows.
    c.write_all(&[0x08, 0x00, 0x00, 0x01]).unwrap();
    assert!(closed_within(&mut c, Duration::from_secs(2)));
    assert!(
        api.metric("switchyard_dns_dropped_total{transport=\"tcp\",reason=\"oversize\"}") >= 1.0
    );
    // A normal query on a new connection is fine.
    let mut ok = TcpStream::connect(s.addr).unwrap();
    ok.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(ask(&mut ok).unwrap().answers.len(), 1);
}

#[test]
fn the_control_api_refuses_oversized_requests() {
    let s = server();
    let api = Api::new(s.control.expect("control address"));
    let huge = serde_json::json!({ "pool": "p", "reason": "x".repeat(200_000), "ttl": "1m" });
    let r = api.post("/v1/overrides", huge);
    assert_eq!(r.status, 413, "{}", r.text);
    // The server closed that connection without reading the body; a new client is
    // served as usual.
    let api = Api::new(s.control.expect("control address"));
    assert_eq!(api.post("/v1/reload", serde_json::json!({})).status, 200);
}

#[test]
fn limits_are_validated_with_their_position() {
    let l = layout(true, "[limits]\ntcp_connections = 0\n");
    l.zone("example.test.toml", ZONE);
    let err = l.serve_fails();
    assert!(
        err.contains("switchyard.toml:11:") && err.contains("tcp_connections 0 out of range"),
        "{err}"
    );
}
