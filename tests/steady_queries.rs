//! No query is lost while the table swaps and zones reload: queries at a steady rate over
//! UDP (and a share over TCP) while a backend flaps (health transitions, table rebuilds)
//! and the zone file is rewritten (reloads). Every query must get an answer, none a
//! SERVFAIL, and every answer must be one the zone could give at some point: counts,
//! never times. The churn is counted too (reloads, transitions), so a quiet run where
//! nothing swapped cannot pass.

mod common;
mod control;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{wait_for, ZONE_HEAD};
use control::Api;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use switchyard::demo::backend::Mode;

const P1: &str = "127.0.0.81";
const P2: &str = "127.0.0.82";
/// Queries sent over UDP, one every [`PACE`], and over TCP, one in [`TCP_EVERY`].
const QUERIES: u16 = 4000;
const PACE: Duration = Duration::from_millis(1);
const TCP_EVERY: u16 = 20;

/// The zone at generation `g`: a failover policy over the two backends, and a static
/// record whose address and TTL change with every rewrite.
fn zone(port: u16, g: u32) -> String {
    format!(
        "{head}
[[records]]
name = \"static\"
ttl = {ttl}
A = [\"192.0.2.{last}\"]

[checks.web]
kind = \"http\"
port = {port}
interval = \"20ms\"
timeout = \"20ms\"
fall = 1
rise = 1

[pools.p1]
region = \"local\"
addresses = [\"{P1}\"]
check = \"web\"

[pools.p2]
region = \"local\"
addresses = [\"{P2}\"]
check = \"web\"

[[policies]]
name = \"api\"
policy = \"failover\"
pools = [\"p1\", \"p2\"]
",
        head = ZONE_HEAD,
        ttl = 60 + g % 100,
        last = 1 + g % 200,
    )
}

fn query(id: u16) -> Vec<u8> {
    let name = if id % 2 == 0 { "api" } else { "static" };
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii(format!("{name}.example.test.")).unwrap(),
        RecordType::A,
    ));
    m.to_vec().unwrap()
}

/// What was wrong with one reply, if anything.
fn judge(id: u16, reply: &[u8]) -> Option<String> {
    let m = match Message::from_vec(reply) {
        Ok(m) => m,
        Err(e) => return Some(format!("unparseable: {e}")),
    };
    if m.metadata.response_code == ResponseCode::ServFail {
        return Some("SERVFAIL".into());
    }
    if m.metadata.response_code != ResponseCode::NoError || m.answers.len() != 1 {
        return Some(format!("not one answer: {m:?}"));
    }
    let RData::A(a) = &m.answers[0].data else {
        return Some(format!("not an A: {m:?}"));
    };
    let a = a.to_string();
    let fine = if id % 2 == 0 {
        a == P1 || a == P2
    } else {
        a.starts_with("192.0.2.")
    };
    (!fine).then(|| format!("unexpected address {a}"))
}

fn tcp_query(addr: SocketAddr, id: u16) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let q = query(id);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

#[test]
fn no_query_lost_or_servfailed_while_backends_flap_and_zones_reload() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (b1, _b2) = rt.block_on(common::backends_on_one_port(P1, P2));
    let port = b1.addr().port();
    let l = control::layout(true, "");
    let file = l.zone("example.test.toml", &zone(port, 0));
    let s = l.serve();
    let api = Api::new(s.control.expect("control listener"));
    let dns = s.addr;
    wait_for(Duration::from_secs(10), "the primary up", || {
        (s.dig("api.example.test A").rdata("A") == [P1]).then_some(())
    });
    let reloads_before = api.metric("switchyard_reloads_total{result=\"success\"}");

    // Churn: the primary flaps; the zone file is rewritten (write, then rename, as
    // editors do) with a new generation each time.
    let stop = Arc::new(AtomicBool::new(false));
    let flapper = {
        let stop = stop.clone();
        let handle = rt.handle().clone();
        std::thread::spawn(move || {
            let mut flaps = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let mode = if flaps % 2 == 0 {
                    Mode::Status(503)
                } else {
                    Mode::Healthy
                };
                handle.block_on(b1.set_mode(mode)).unwrap();
                flaps += 1;
                std::thread::sleep(Duration::from_millis(60));
            }
            handle.block_on(b1.set_mode(Mode::Healthy)).unwrap();
            flaps
        })
    };
    let rewriter = {
        let stop = stop.clone();
        let file = file.clone();
        let control = s.control.unwrap();
        std::thread::spawn(move || {
            let api = Api::new(control);
            let reloads = || api.metric("switchyard_reloads_total{result=\"success\"}");
            let mut g = 0u32;
            while !stop.load(Ordering::Relaxed) {
                g += 1;
                let before = reloads();
                let tmp = file.with_extension("tmp");
                std::fs::write(&tmp, zone(port, g)).unwrap();
                std::fs::rename(&tmp, &file).unwrap();
                // Each rewrite is loaded before the next one (the watcher debounces).
                wait_for(
                    Duration::from_secs(10),
                    "the rewrite to be reloaded",
                    || (reloads() > before).then_some(()),
                );
            }
            g
        })
    };

    // Steady UDP queries; a receiver matches replies to IDs.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let replies: Arc<Mutex<HashMap<u16, Vec<u8>>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (sock, replies, done) = (sock.try_clone().unwrap(), replies.clone(), done.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !done.load(Ordering::Relaxed) {
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    let id = u16::from_be_bytes([buf[0], buf[1]]);
                    replies.lock().unwrap().insert(id, buf[..n].to_vec());
                }
            }
        })
    };
    let mut tcp_bad = Vec::new();
    let mut tcp_sent = 0;
    for id in 0..QUERIES {
        sock.send_to(&query(id), dns).unwrap();
        if id % TCP_EVERY == 0 {
            tcp_sent += 1;
            let tcp_id = id | 0x8000;
            match tcp_query(dns, tcp_id) {
                None => tcp_bad.push(format!("{tcp_id}: lost over TCP")),
                Some(r) => tcp_bad.extend(judge(tcp_id, &r).map(|e| format!("{tcp_id}: {e}"))),
            }
        }
        std::thread::sleep(PACE);
    }
    stop.store(true, Ordering::Relaxed);
    let flaps = flapper.join().unwrap();
    let generations = rewriter.join().unwrap();

    // Every reply in, or the deadline says how many were lost.
    let got = || replies.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got() < usize::from(QUERIES) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    done.store(true, Ordering::Relaxed);
    receiver.join().unwrap();
    let replies = replies.lock().unwrap();
    let lost = (0..QUERIES).filter(|id| !replies.contains_key(id)).count();
    let mut bad: Vec<String> = (0..QUERIES)
        .filter_map(|id| Some((id, replies.get(&id)?)))
        .filter_map(|(id, r)| judge(id, r).map(|e| format!("{id}: {e}")))
        .collect();
    let servfail = bad.iter().filter(|e| e.ends_with("SERVFAIL")).count();
    bad.extend(tcp_bad);
    eprintln!(
        "{QUERIES} UDP + {tcp_sent} TCP queries; {flaps} flaps, {generations} rewrites; lost {lost}, SERVFAIL {servfail}, wrong {}",
        bad.len()
    );
    assert_eq!(lost, 0, "UDP queries without an answer");
    assert!(
        bad.is_empty(),
        "bad answers: {:?}",
        &bad[..bad.len().min(20)]
    );

    // The churn happened: reloads applied and the primary went down and up repeatedly.
    let reloads = api.metric("switchyard_reloads_total{result=\"success\"}") - reloads_before;
    assert!(reloads >= 3.0, "only {reloads} reloads during the run");
    assert_eq!(
        reloads,
        f64::from(generations),
        "every rewrite was reloaded"
    );
    let downs = api.metric("switchyard_health_transitions_total{zone=\"example.test.\",check=\"web\",region=\"local\",to=\"down\"}");
    assert!(downs >= 3.0, "only {downs} transitions to down");
    assert_eq!(api.metric("switchyard_panics_total"), 0.0);
    drop(rt);
}
