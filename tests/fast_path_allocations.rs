//! The UDP fast path allocates nothing per query: counted by a global allocator while
//! it answers static, policy, negative and ECS queries, after one warm-up pass, and the
//! DO queries of a signed zone that it answers from prepared signed replies.

mod common;
mod dnssec;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use switchyard::dns::udp::{handle, AnswerPath as Answered};
use switchyard::health::HealthSnapshot;
use switchyard::zone::ZoneSet;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a plain thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ZONE: &str = r#"
[zone]
origin = "example.test."
nameservers = ["ns1.example.test."]
soa = { mname = "ns1.example.test.", rname = "hostmaster.example.test." }

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[[records]]
name = "host"
A = ["192.0.2.80"]
TXT = ["hello"]

[pools.east]
region = "us-east"
addresses = ["203.0.113.10", "2001:db8::10"]

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10"]

[[policies]]
name = "api"
policy = "failover"
pools = ["east", "west"]
"#;

fn packet(name: &str, t: RecordType, ecs: bool) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    if ecs {
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
            "198.51.100.0".parse().unwrap(),
            24,
            0,
        )));
    }
    m.set_edns(e);
    m.to_vec().unwrap()
}

#[test]
fn the_fast_path_allocates_nothing_per_query() {
    let zone = switchyard::config::parse_zone(Path::new("t.toml"), ZONE).unwrap();
    let zones = ZoneSet {
        zones: vec![Arc::new(zone)],
    };
    let table = switchyard::routing::build(&zones, &HealthSnapshot::default(), 1);
    let packets = [
        packet("host.example.test.", RecordType::A, false),
        packet("HOST.example.test.", RecordType::TXT, false),
        packet("api.example.test.", RecordType::A, true),
        packet("api.example.test.", RecordType::AAAA, false),
        packet("api.example.test.", RecordType::MX, true),
        packet("nope.example.test.", RecordType::A, false),
        packet("example.net.", RecordType::A, false),
    ];
    let src: SocketAddr = "192.0.2.200:5300".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    for p in &packets {
        assert_eq!(handle(&table, p, src, &mut out, true), Some(Answered::Fast));
    }
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..1000 {
        for p in &packets {
            assert_eq!(handle(&table, p, src, &mut out, true), Some(Answered::Fast));
        }
    }
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(after - before, 0, "allocations on the fast path");
    // The counter works: the general path allocates.
    handle(&table, &packets[0], src, &mut out, false);
    assert!(ALLOCATIONS.with(Cell::get) > after);
}

#[test]
fn signed_answers_on_the_fast_path_allocate_nothing_per_query() {
    if !dnssec::tools_present(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ksk = dnssec::keygen(
        dir.path(),
        "example.test",
        &["-a", "ECDSAP256SHA256", "-f", "KSK"],
    );
    let zsk = dnssec::keygen(dir.path(), "example.test", &["-a", "ECDSAP256SHA256"]);
    let text = format!("{ZONE}\n[dnssec]\nkeys = [{ksk:?}, {zsk:?}]\n");
    let zone =
        switchyard::config::parse_zone(&dir.path().join("example.test.toml"), &text).unwrap();
    let zones = ZoneSet {
        zones: vec![Arc::new(zone)],
    };
    let table = switchyard::routing::build(&zones, &HealthSnapshot::default(), 1);
    let with_do = |mut p: Vec<u8>| {
        let mut m = Message::from_vec(&p).unwrap();
        m.edns.as_mut().unwrap().set_dnssec_ok(true);
        p = m.to_vec().unwrap();
        p
    };
    let packets = [
        with_do(packet("host.example.test.", RecordType::A, false)),
        with_do(packet("HOST.example.test.", RecordType::TXT, false)),
        with_do(packet("api.example.test.", RecordType::A, true)),
        with_do(packet("api.example.test.", RecordType::AAAA, false)),
    ];
    let src: SocketAddr = "192.0.2.200:5300".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    for p in &packets {
        assert_eq!(handle(&table, p, src, &mut out, true), Some(Answered::Fast));
        let m = Message::from_vec(&out).unwrap();
        assert!(
            m.answers
                .iter()
                .any(|r| r.record_type() == RecordType::RRSIG),
            "signed: {m:?}"
        );
    }
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..1000 {
        for p in &packets {
            assert_eq!(handle(&table, p, src, &mut out, true), Some(Answered::Fast));
        }
    }
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(after - before, 0, "allocations on the signed fast path");
}
