//! Master-file load speed: the streaming wire-format loader (`masterfile::parse_into`)
//! against hickory's zone parser (the old path) on the same text, the zone that
//! benches/bigzone.sh generates ($ORIGIN, $TTL, SOA, two NS, their addresses, then
//! `hN IN A a.b.c.d` lines).
//!
//! `cargo bench --bench masterfile` prints records/s, time and the growth of peak RSS for
//! each (`-- --records N` for another size; default 1,000,000). The new loader runs first,
//! so the peak it leaves is its own. Under `cargo test` it runs on 1,000 records only, as a
//! smoke test.

use std::path::Path;
use std::time::Instant;

use hickory_proto::rr::Name;
use hickory_proto::serialize::txt::Parser;
use switchyard::config::masterfile::{parse_into, Sink, WireRecord};

/// Touches every byte it is given, as a store copying records into arenas would.
#[derive(Default)]
struct Count {
    records: usize,
    bytes: usize,
}

impl Sink for Count {
    fn record(&mut self, rec: WireRecord<'_>) -> Result<(), String> {
        self.records += 1;
        self.bytes += rec.owner.len() + rec.rdata.len();
        Ok(())
    }
}

fn zone(records: usize) -> String {
    let mut text = String::with_capacity(records * 24 + 256);
    text.push_str("$ORIGIN big.bench.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 604800 60\n");
    text.push_str("@ IN NS ns1\n@ IN NS ns2\nns1 IN A 192.0.2.53\nns2 IN A 192.0.2.54\n");
    for i in 1..=records {
        let (a, b, c) = ((i / 65536) % 256, (i / 256) % 256, i % 256);
        text.push_str(&format!("h{i} IN A 10.{a}.{b}.{c}\n"));
    }
    text
}

fn max_rss_mib() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let records = args
        .windows(2)
        .find(|w| w[0] == "--records")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(if full { 1_000_000 } else { 1_000 });
    let text = zone(records);
    let origin = Name::from_ascii("big.bench.").unwrap();
    let total = records + 5;
    println!(
        "zone: {total} records, {:.1} MB of text; peak RSS with the text: {:.0} MiB",
        text.len() as f64 / 1e6,
        max_rss_mib()
    );

    let before = max_rss_mib();
    let start = Instant::now();
    let mut sink = Count::default();
    parse_into(
        text.as_bytes(),
        Path::new("big.bench.zone"),
        &origin,
        &mut sink,
    )
    .unwrap();
    let new = start.elapsed();
    assert_eq!(sink.records, total);
    println!(
        "wire loader (parse_into):   {:>7.3} s  {:>10.0} records/s  peak RSS +{:.0} MiB",
        new.as_secs_f64(),
        total as f64 / new.as_secs_f64(),
        max_rss_mib() - before
    );

    let before = max_rss_mib();
    let start = Instant::now();
    let (_, map) = Parser::new(text.as_str(), None, Some(origin))
        .parse()
        .unwrap();
    let old = start.elapsed();
    let count: usize = map
        .values()
        .map(|set| set.records_without_rrsigs().count())
        .sum();
    assert_eq!(count, total);
    println!(
        "hickory Parser (old path):  {:>7.3} s  {:>10.0} records/s  peak RSS +{:.0} MiB",
        old.as_secs_f64(),
        total as f64 / old.as_secs_f64(),
        max_rss_mib() - before
    );
    println!("speed-up: {:.1}x", old.as_secs_f64() / new.as_secs_f64());
}
