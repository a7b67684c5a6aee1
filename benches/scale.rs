//! Scale figures (not a timed test): load and build a table of 100,000 static names
//! and 10,000 failover policies, report the time and peak memory, then time a full
//! rebuild and the updater's whole step (incremental) after one pool's health changes.
//!
//! `cargo bench --bench scale` (release). Sizes: SCALE_ZONES (10), SCALE_NAMES
//! (100000 in all), SCALE_POLICIES (10000 in all), each spread evenly over the zones;
//! SCALE_ROUNDS (40) updater steps, e.g. many more for a profile of the step alone
//! (full rebuilds are timed in the first 40 only).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use switchyard::health::{Changed, Health, HealthSnapshot, Lineage, TargetStatus};
use switchyard::routing::{self, RoutingTable};
use switchyard::zone::ZoneSet;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Zone `i`: a master file with `names` A records and a policy file with `policies`
/// failover policies, each over two pools of one checked address.
fn write_zone(dir: &Path, i: usize, names: usize, policies: usize) {
    let origin = format!("z{i}.bench.");
    let mut master = String::with_capacity(names * 32);
    writeln!(master, "$ORIGIN {origin}\n$TTL 300").unwrap();
    writeln!(master, "@ IN SOA ns1 hostmaster 1 3600 600 604800 60").unwrap();
    writeln!(master, "@ IN NS ns1\nns1 IN A 192.0.2.53").unwrap();
    for n in 0..names.saturating_sub(3) {
        writeln!(
            master,
            "h{n} IN A 10.{}.{}.{}",
            i % 256,
            n / 256 % 256,
            n % 256
        )
        .unwrap();
    }
    std::fs::write(dir.join(format!("z{i}.zone")), master).unwrap();

    let mut toml = String::with_capacity(policies * 256);
    writeln!(
        toml,
        "[zone]\norigin = \"{origin}\"\nrecords_file = \"z{i}.zone\"\n\n[checks.web]\nkind = \"http\"\nport = 8080\ninterval = \"1s\"\ntimeout = \"500ms\"\n"
    )
    .unwrap();
    for p in 0..policies {
        // 127.x.y.z: a distinct target per pool.
        let n = i * policies + p;
        let a = |k: usize| format!("127.{}.{}.{}", 1 + k / 65536 % 250, k / 256 % 256, k % 256);
        writeln!(
            toml,
            "[pools.p{p}]\nregion = \"us-east\"\naddresses = [\"{}\"]\ncheck = \"web\"\n\n[pools.s{p}]\nregion = \"eu-west\"\naddresses = [\"{}\"]\ncheck = \"web\"\n\n[[policies]]\nname = \"api{p}\"\npolicy = \"failover\"\npools = [\"p{p}\", \"s{p}\"]\n",
            a(2 * n),
            a(2 * n + 1)
        )
        .unwrap();
    }
    std::fs::write(dir.join(format!("z{i}.toml")), toml).unwrap();
}

/// (peak, current) resident set in MiB.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmHWM:") / 1024.0, kib("VmRSS:") / 1024.0)
}

fn snapshot(zones: &ZoneSet, generation: u64, down: Option<&str>) -> HealthSnapshot {
    let mut h = HealthSnapshot {
        generation,
        ..Default::default()
    };
    for zone in &zones.zones {
        for pool in zone.pools.values() {
            let spec = &zone.checks[pool.check.as_ref().unwrap()];
            let is_down = zone.origin.to_ascii() == "z0.bench." && down == Some(&*pool.name);
            for addr in &pool.addresses {
                h.targets.insert(
                    switchyard::zone::Target {
                        check: spec.id.clone(),
                        addr: *addr,
                    },
                    TargetStatus {
                        health: if is_down { Health::Down } else { Health::Up },
                        since: SystemTime::UNIX_EPOCH,
                        last_reason: String::new(),
                        latency: None,
                    },
                );
            }
        }
    }
    h
}

/// The snapshot the health monitor publishes after `prev` when only `target` moved to
/// `health`: a fresh map (the monitor copies every target), with its change list.
fn follow(
    prev: &HealthSnapshot,
    target: &switchyard::zone::Target,
    health: Health,
) -> HealthSnapshot {
    let mut next = prev.clone();
    next.generation = prev.generation + 1;
    next.targets.get_mut(target).unwrap().health = health;
    next.changed = Some(Changed {
        after: prev.generation,
        targets: vec![target.clone()],
    });
    next
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo test --all-targets` runs this too (without `--bench`): a small smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    if smoke {
        println!("smoke run (cargo test); `cargo bench --bench scale` gives the figures");
    }
    let zones_n = env("SCALE_ZONES", if smoke { 2 } else { 10 }).max(1);
    let names = env("SCALE_NAMES", if smoke { 2_000 } else { 100_000 });
    let policies = env("SCALE_POLICIES", if smoke { 200 } else { 10_000 });
    let dir = tempfile::tempdir().unwrap();
    for i in 0..zones_n {
        write_zone(dir.path(), i, names / zones_n, policies / zones_n);
    }
    // Peak memory from here on: writing the files is not part of loading them.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (_, base) = rss();

    let t = Instant::now();
    let zones = switchyard::config::load_zones(dir.path()).expect("the generated zones load");
    let load = t.elapsed();
    let t = Instant::now();
    let health = snapshot(&zones, 1, None);
    let table = routing::build(&zones, &health, 1);
    let build = t.elapsed();
    let (peak, now) = rss();
    let static_names: usize = zones.zones.iter().map(|z| z.records.len()).sum();
    let policy_count: usize = zones.zones.iter().map(|z| z.policies.len()).sum();

    println!(
        "{} zones, {static_names} static records, {policy_count} policies, {} pools",
        zones.zones.len(),
        zones.zones.iter().map(|z| z.pools.len()).sum::<usize>()
    );
    println!("load (parse + validate):  {}", ms(load));
    println!("build (table from zones): {}", ms(build));
    println!("load + build:             {}", ms(load + build));
    println!("RSS: peak {peak:.0} MiB, now {now:.0} MiB (before loading {base:.0} MiB)");

    // Health changes of one pool: the primary of z0's api0 goes down, comes back, ...
    // Timed twice: a full rebuild (`build_next`, every policy compiled), and the
    // updater's whole step as the server runs it (`Updater::rebuild`: incremental build,
    // diff against the old table, logs, metrics, alerts, swap, old table dropped).
    let (writer, shared) = routing::publish(table);
    let (up, down) = (snapshot(&zones, 2, None), snapshot(&zones, 3, Some("p0")));
    let zones_arc = Arc::new(zones.clone());
    let lineage = Lineage::new();
    let mut published = Arc::new(HealthSnapshot {
        lineage,
        ..up.clone()
    });
    let flapping = {
        let z0 = &zones.zones[0];
        let pool = &z0.pools["p0"];
        switchyard::zone::Target {
            check: z0.checks[pool.check.as_ref().unwrap()].id.clone(),
            addr: pool.addresses[0],
        }
    };
    let overlay = Arc::new(switchyard::routing::Overlay::default());
    let metrics = Arc::new(switchyard::metrics::Metrics::default());
    let (mut updater, _built) = switchyard::updater::Updater::new(
        writer,
        metrics,
        switchyard::alerts::Alerts::default(),
        zones_arc.clone(),
    );
    // The first step after a load builds every zone whole (and the pool -> policy
    // index): what a reload costs.
    let t = Instant::now();
    updater.rebuild(&zones_arc, &published, &overlay);
    let first_step = t.elapsed();
    let rounds = env("SCALE_ROUNDS", 40).max(1);
    let mut rebuilds = Vec::new();
    let mut steps = Vec::new();
    for round in 0..rounds {
        let h = if round % 2 == 0 { &down } else { &up };
        if round < 40 {
            let old: Arc<RoutingTable> = shared.load_full();
            let t = Instant::now();
            let new = routing::build_next(&old, &zones, h, &overlay);
            rebuilds.push(t.elapsed());
            drop((new, old));
        }
        let health = if round % 2 == 0 {
            Health::Down
        } else {
            Health::Up
        };
        // Only the updater (its table, record and last snapshot) still holds the
        // previous snapshot, as in the server, where the monitor has replaced it.
        let next = Arc::new(follow(&published, &flapping, health));
        published = next.clone();
        let t = Instant::now();
        updater.rebuild(&zones_arc, &next, &overlay);
        steps.push(t.elapsed());
        drop(next);
    }
    rebuilds.sort();
    steps.sort();
    let pick = |v: &[Duration], q: usize| v[v.len() * q / 100];
    println!(
        "full rebuild (every policy compiled), {} rounds: median {} (p90 {})",
        rebuilds.len(),
        ms(pick(&rebuilds, 50)),
        ms(pick(&rebuilds, 90))
    );
    println!(
        "updater step after one pool changes: {} (p90 {}) at {policy_count} policies",
        ms(pick(&steps, 50)),
        ms(pick(&steps, 90))
    );
    println!(
        "updater step after a load (every zone built whole): {}",
        ms(first_step)
    );
    let (peak, _) = rss();
    println!("RSS peak after the rebuilds: {peak:.0} MiB");
}
