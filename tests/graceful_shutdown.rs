//! SIGTERM while a TCP query is in flight: the server stops accepting, finishes the
//! answer, then exits cleanly. The query is sent in two halves around the signal, so
//! "in flight" is certain rather than a race.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{wait_for, Layout};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

const ZONE: &str = r#"[zone]
origin = "stop.test."
nameservers = ["ns1.stop.test."]
soa = { mname = "ns1.stop.test.", rname = "h.stop.test." }

[[records]]
name = "ns1"
A = ["192.0.2.53"]

[[records]]
name = "host"
A = ["192.0.2.7"]
"#;

#[test]
fn sigterm_finishes_the_tcp_answer_in_flight_then_exits() {
    let l = Layout::new();
    l.zone("stop.test.toml", ZONE);
    let mut s = l.serve();

    let mut m = Message::query();
    m.add_query(Query::query(
        Name::from_ascii("host.stop.test.").unwrap(),
        RecordType::A,
    ));
    let q = m.to_vec().unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    let half = framed.len() / 2;

    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // One whole query first: its answer proves the server holds this connection.
    c.write_all(&framed).unwrap();
    read_answer(&mut c, m.metadata.id);
    // Over loopback the half is in the server's socket buffer once write returns.
    c.write_all(&framed[..half]).unwrap();

    s.signal("TERM");
    let log = s.log.clone();
    let started = std::time::Instant::now();
    while !log.lock().unwrap().contains("shutting down") {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no shutdown:\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // New connections are refused from now on.
    wait_for(Duration::from_secs(5), "the listener to close", || {
        TcpStream::connect(s.addr).is_err().then_some(())
    });

    c.write_all(&framed[half..]).unwrap();
    read_answer(&mut c, m.metadata.id);
    // Then the server closes the connection: it was the last message in flight.
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).unwrap(), 0);

    let status = s.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}\n{}", s.log());
    assert!(s.log().contains("stopped"));
}

fn read_answer(c: &mut TcpStream, id: u16) {
    let mut len = [0u8; 2];
    c.read_exact(&mut len).expect("the in-flight answer");
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    c.read_exact(&mut body).unwrap();
    let reply = Message::from_vec(&body).unwrap();
    assert_eq!(reply.metadata.id, id);
    assert!(
        matches!(reply.answers[0].data, RData::A(a) if a.0 == std::net::Ipv4Addr::new(192, 0, 2, 7))
    );
}
