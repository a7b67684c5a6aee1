//! Criterion benchmarks of the query path: lookup + selection for static names and for
//! each policy kind, a whole datagram on each UDP path, and the table build.
//!
//! `cargo bench --bench lookup`. A new policy kind is one more entry in `POLICIES`.

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use switchyard::health::HealthSnapshot;
use switchyard::policy::Client;
use switchyard::routing::{self, key, Overlay, RoutingTable};
use switchyard::zone::ZoneSet;

/// One entry per policy kind: (label, the `[[policies]]` entry for `<label>.bench.test`
/// over pools `a` and `b`, whether queries carry a Client Subnet).
const POLICIES: &[(&str, &str, bool)] = &[(
    "failover",
    "policy = \"failover\"\npools = [\"a\", \"b\"]",
    false,
)];

/// Static names in the benchmark zone, so lookups hash into a table of some size.
const STATIC_NAMES: usize = 1000;

fn zone_text() -> String {
    let mut z = String::from(
        "[zone]\norigin = \"bench.test.\"\nnameservers = [\"ns1.bench.test.\"]\n\
         soa = { mname = \"ns1.bench.test.\", rname = \"h.bench.test.\" }\n\n\
         [[records]]\nname = \"ns1\"\nA = [\"192.0.2.1\"]\n\n\
         [pools.a]\nregion = \"us-east\"\naddresses = [\"203.0.113.1\", \"203.0.113.2\", \"2001:db8::1\"]\n\n\
         [pools.b]\nregion = \"eu-west\"\naddresses = [\"198.51.100.1\"]\n",
    );
    for i in 0..STATIC_NAMES {
        z.push_str(&format!(
            "\n[[records]]\nname = \"host{i}\"\nA = [\"10.0.{}.{}\"]\n",
            i / 256,
            i % 256
        ));
    }
    for (label, body, _) in POLICIES {
        z.push_str(&format!("\n[[policies]]\nname = \"{label}\"\n{body}\n"));
    }
    z
}

fn zones() -> ZoneSet {
    let z = switchyard::config::parse_zone(Path::new("bench.toml"), &zone_text())
        .expect("the benchmark zone is valid");
    ZoneSet {
        zones: vec![Arc::new(z)],
    }
}

fn client(ecs: bool) -> Client {
    Client {
        addr: IpAddr::from([192, 0, 2, 200]),
        subnet: ecs.then(|| (IpAddr::from([198, 51, 100, 0]), 24)),
    }
}

fn packet(name: &str, ecs: bool) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
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

/// (label, name, client subnet?) for every case: a static name, then each policy.
fn cases() -> Vec<(String, String, bool)> {
    let mut v = vec![(
        "static".to_string(),
        "host500.bench.test.".to_string(),
        false,
    )];
    for (label, _, ecs) in POLICIES {
        v.push((label.to_string(), format!("{label}.bench.test."), *ecs));
    }
    v
}

fn lookup(c: &mut Criterion) {
    let table = routing::build(&zones(), &HealthSnapshot::default(), 1);
    let mut g = c.benchmark_group("lookup");
    for (label, name, ecs) in cases() {
        let cl = client(ecs);
        let qname = Name::from_ascii(&name).unwrap();
        // The fast path's lookup: key straight from the wire, prepared answer out.
        let mut buf = key::new_buf();
        let k = key::of(&qname, &mut buf).unwrap().to_vec();
        g.bench_with_input(BenchmarkId::new("prepared", &label), &k, |b, k| {
            b.iter(|| {
                black_box(table.fast(black_box(k), RecordType::A, &cl).is_some());
            })
        });
        // The general lookup, which builds a `Lookup` of records.
        g.bench_with_input(BenchmarkId::new("general", &label), &qname, |b, q| {
            b.iter(|| black_box(table.lookup(black_box(q), RecordType::A, &cl).answers.len()))
        });
    }
    g.finish();
}

fn datagram(c: &mut Criterion) {
    let table = routing::build(&zones(), &HealthSnapshot::default(), 1);
    let src: SocketAddr = "192.0.2.200:5300".parse().unwrap();
    let mut g = c.benchmark_group("datagram");
    for (label, name, ecs) in cases() {
        let p = packet(&name, ecs);
        let mut out = Vec::with_capacity(1232);
        for (path, fast) in [("fast", true), ("general", false)] {
            g.bench_with_input(BenchmarkId::new(path, &label), &p, |b, p| {
                b.iter(|| {
                    switchyard::dns::udp::handle(&table, black_box(p), src, &mut out, fast)
                        .expect("answered")
                })
            });
        }
    }
    g.finish();
}

fn build(c: &mut Criterion) {
    let zones = zones();
    let health = HealthSnapshot::default();
    let mut g = c.benchmark_group("build");
    g.sample_size(20);
    g.bench_function(format!("full ({STATIC_NAMES} names)"), |b| {
        b.iter(|| routing::build(black_box(&zones), &health, 1))
    });
    let first: RoutingTable = routing::build(&zones, &health, 1);
    g.bench_function("health change (policies only)", |b| {
        b.iter(|| routing::build_next(&first, black_box(&zones), &health, &Overlay::default()))
    });
    g.finish();
}

criterion_group!(benches, lookup, datagram, build);
criterion_main!(benches);
