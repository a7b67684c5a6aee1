//! Response rate limiting against the real binary: below the rate every answer goes
//! out; above it, answers are dropped except every `slip`-th, which comes back empty
//! with TC set; exempt networks are never limited; and oversized UDP queries are
//! dropped. Counted in /metrics. Signed negative answers, whose denial is signed per
//! name on demand, are limited like any other: a flood of random nonexistent names with
//! DO is one NXDOMAIN stream though compact denial answers it NOERROR.

mod common;
mod control;
mod dnssec;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::{wait_for, Server, HOST_ZONE as ZONE};
use control::{layout, Api};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

const RATE: usize = 10;

fn server(rrl: &str) -> Server {
    let l = layout(
        true,
        &format!("[limits]\nmax_query_size = 1024\n[rrl]\n{rrl}"),
    );
    l.zone("example.test.toml", ZONE);
    l.serve()
}

fn query(id: u16) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("host.example.test.").unwrap(),
        RecordType::A,
    ));
    m.to_vec().unwrap()
}

/// Send `n` identical queries back to back, then collect what comes back:
/// (full answers, truncated replies).
fn burst(addr: SocketAddr, n: usize) -> (usize, usize) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..n {
        s.send_to(&query(i as u16), addr).unwrap();
    }
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (mut full, mut tc) = (0, 0);
    let mut buf = [0u8; 1500];
    while let Ok((len, _)) = s.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..len]).expect("a DNS reply");
        if m.metadata.truncation {
            assert!(m.answers.is_empty(), "a slip carries no answer");
            assert_eq!(m.queries.len(), 1, "a slip keeps the question");
            tc += 1;
        } else {
            assert_eq!(m.answers.len(), 1);
            full += 1;
        }
    }
    (full, tc)
}

#[test]
fn below_the_rate_everything_is_answered() {
    let s = server(&format!("responses_per_second = {RATE}\nslip = 2\n"));
    let (full, tc) = burst(s.addr, RATE / 2);
    assert_eq!((full, tc), (RATE / 2, 0));
}

#[test]
fn above_the_rate_answers_are_dropped_or_slipped() {
    let s = server(&format!("responses_per_second = {RATE}\nslip = 2\n"));
    let api = Api::new(s.control.expect("control address"));
    let sent = 300;
    let (full, tc) = burst(s.addr, sent);
    // The budget is per second; the burst may straddle a second boundary or two.
    assert!(
        (RATE..=3 * RATE).contains(&full),
        "{full} full answers for a rate of {RATE}/s"
    );
    assert!(tc > 0, "no slips");
    let dropped = sent - full - tc;
    assert!(dropped > 0, "nothing dropped");
    // slip = 2: about as many slipped as dropped.
    assert!(
        tc.abs_diff(dropped) <= sent / 10,
        "{tc} slipped, {dropped} dropped"
    );
    wait_for(Duration::from_secs(5), "RRL counters", || {
        (api.metric("switchyard_rrl_slipped_total") >= tc as f64
            && api.metric("switchyard_dns_dropped_total{transport=\"udp\",reason=\"rrl\"}")
                >= dropped as f64)
            .then_some(())
    });
}

#[test]
fn exempt_networks_are_never_limited() {
    let s = server(&format!(
        "responses_per_second = {RATE}\nslip = 2\nexempt = [\"127.0.0.0/8\"]\n"
    ));
    assert_eq!(burst(s.addr, 100), (100, 0));
}

#[test]
fn oversized_udp_queries_are_dropped_and_counted() {
    let s = server(&format!("responses_per_second = {RATE}\n"));
    let api = Api::new(s.control.expect("control address"));
    let mut big = query(7);
    // Padding after the question: a well-formed header, but 2000 bytes in all.
    big.resize(2000, 0);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    sock.send_to(&big, s.addr).unwrap();
    let mut buf = [0u8; 1500];
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "an oversized query was answered"
    );
    wait_for(Duration::from_secs(5), "the oversize counter", || {
        (api.metric("switchyard_dns_dropped_total{transport=\"udp\",reason=\"oversize\"}") >= 1.0)
            .then_some(())
    });
    assert_eq!(burst(s.addr, 1), (1, 0));
}

#[test]
fn signed_denials_of_random_names_are_rate_limited_as_one_stream() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let l = layout(
        true,
        &format!("[rrl]\nresponses_per_second = {RATE}\nslip = 2\n"),
    );
    let zones = l.dir.path().join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    let csk = dnssec::keygen(
        &zones,
        "example.test",
        &["-a", "ECDSAP256SHA256", "-f", "KSK"],
    );
    l.zone(
        "example.test.toml",
        &format!("{ZONE}\n[dnssec]\nkeys = [{csk:?}]\n"),
    );
    let s = l.serve();
    let api = Api::new(s.control.expect("control address"));
    let before = api.metric("switchyard_dnssec_signatures_total");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sent = 300;
    for i in 0..sent {
        let mut m = Message::new(i as u16, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii(format!("r{i}x.example.test.")).unwrap(),
            RecordType::A,
        ));
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(true);
        m.set_edns(e);
        sock.send_to(&m.to_vec().unwrap(), s.addr).unwrap();
    }
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let (mut full, mut tc) = (0, 0);
    let mut buf = [0u8; 1500];
    while let Ok((len, _)) = sock.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..len]).expect("a DNS reply");
        if m.metadata.truncation {
            tc += 1;
        } else {
            // Compact denial: NOERROR, an NSEC and its RRSIG in the authority section.
            assert!(
                m.authorities
                    .iter()
                    .any(|r| r.record_type() == RecordType::RRSIG),
                "a signed denial: {m:?}"
            );
            full += 1;
        }
    }
    assert!(
        (RATE..=3 * RATE).contains(&full),
        "{full} signed denials sent for a rate of {RATE}/s"
    );
    assert!(tc > 0 && sent - full - tc > 0, "{tc} slipped, {full} sent");
    // Every denial was signed (RRL decides after the answer is made).
    wait_for(Duration::from_secs(5), "signature counter", || {
        (api.metric("switchyard_dnssec_signatures_total") - before >= sent as f64).then_some(())
    });
}
