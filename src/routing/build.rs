//! Building a `RoutingTable` from a `ZoneSet`, a health snapshot and the operator
//! overlay. All sorting, filtering and record preparation happens here, never per
//! query. After a health or overlay change only the policies are rebuilt; the static
//! names are shared with the previous table when the zone set is the same.

use std::sync::Arc;

use hickory_proto::rr::LowerName;

use super::overlay::{Forced, Overlay};
use super::{names, prepare, signed, Env, RoutingTable, ZoneTable};
use crate::dnssec::unix_now;
use crate::geo::Locator;
use crate::health::HealthSnapshot;
use crate::policy::{self, Compiled, Inputs, PoolRtts, PoolState, PoolStates};
use crate::zone::{StartupState, Target, Zone, ZoneSet};

/// A first table with an empty environment (no geo database, no region locations) and
/// no overrides: the one entry point for tests, benchmarks and fuzzing. The server
/// starts from `RoutingTable::empty` and builds with `build_next` instead.
pub fn build(zones: &ZoneSet, health: &HealthSnapshot, epoch: u64) -> RoutingTable {
    let names = Arc::new(build_names(zones));
    assemble(
        names,
        zones,
        health,
        &Overlay::default(),
        epoch,
        Arc::default(),
        None,
    )
}

/// The table that follows `prev`: same environment, next epoch, operator overrides
/// applied, latency choices that start from `prev`'s (hysteresis), and `prev`'s static
/// names when the zone set is the one it was built from.
pub fn build_next(
    prev: &RoutingTable,
    zones: &ZoneSet,
    health: &HealthSnapshot,
    overlay: &Overlay,
) -> RoutingTable {
    let names = if prev.names.built_from(zones) {
        prev.names.clone()
    } else {
        Arc::new(build_names(zones))
    };
    let env = prev.env.clone();
    assemble(
        names,
        zones,
        health,
        overlay,
        prev.epoch + 1,
        env,
        Some(prev),
    )
}

fn build_names(zones: &ZoneSet) -> names::Names {
    let mut names = names::build(zones);
    prepare::prepare(&mut names);
    names
}

fn assemble(
    names: Arc<names::Names>,
    zones: &ZoneSet,
    health: &HealthSnapshot,
    overlay: &Overlay,
    epoch: u64,
    env: Arc<Env>,
    prev: Option<&RoutingTable>,
) -> RoutingTable {
    let now = unix_now();
    // The static names' signed replies outlive a health rebuild until they are due.
    let signed = match prev {
        Some(p) if Arc::ptr_eq(&p.names, &names) && p.signed.until > now => p.signed.clone(),
        _ => Arc::new(signed::prepare_static(&names, now)),
    };
    let mut until = signed.until;
    let tables = zones
        .zones
        .iter()
        .enumerate()
        .map(|(zi, z)| {
            let before = prev.and_then(|t| t.zones.iter().find(|p| p.origin == z.origin));
            let mut table = build_zone(z, health, overlay, &env, before);
            if let Some(zone) = names.zones.get(zi) {
                until = until.min(signed::sign_policies(&names, zone, &mut table, now));
            }
            table
        })
        .collect();
    RoutingTable {
        epoch,
        zones: tables,
        unmatched: env.counters.unmatched(),
        env,
        names,
        signed,
        signed_until: (until != u64::MAX).then_some(until),
    }
}

fn pool_rtts(zone: &Zone, health: &HealthSnapshot, states: &PoolStates) -> PoolRtts {
    let mut out = PoolRtts::new();
    for pool in zone.pools.values() {
        let Some(check) = &pool.check else { continue };
        let spec = &zone.checks[check];
        let mut rows = Vec::new();
        for (region, targets) in &health.rtt {
            let samples: Vec<std::time::Duration> = states[&pool.name]
                .healthy
                .iter()
                .filter_map(|addr| {
                    targets
                        .get(&Target {
                            check: spec.id.clone(),
                            addr: *addr,
                        })
                        .copied()
                })
                .collect();
            if !samples.is_empty() {
                let total: std::time::Duration = samples.iter().sum();
                rows.push((region.clone(), total / samples.len() as u32));
            }
        }
        if !rows.is_empty() {
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            out.insert(pool.name.clone(), rows);
        }
    }
    out
}

/// A pool forced down is down with no healthy address, exactly as if it had failed (the
/// all-down fallback included). A pool forced up is up with every address not forced
/// down itself: the operator vouches for it, whatever the checks say.
fn pool_states(
    zone: &Zone,
    origin: &LowerName,
    health: &HealthSnapshot,
    overlay: &Overlay,
    startup: &super::env::StartupSeed,
) -> PoolStates {
    let mut out = PoolStates::new();
    for pool in zone.pools.values() {
        let forced_pool = overlay.pool(origin, &pool.name);
        let healthy: Vec<_> = pool
            .addresses
            .iter()
            .copied()
            .filter(|addr| match overlay.address(origin, &pool.name, *addr) {
                Some(f) => f == Forced::Up,
                None if forced_pool == Some(Forced::Up) => true,
                None => match &pool.check {
                    None => true,
                    Some(check) => {
                        let spec = &zone.checks[check];
                        let t = Target {
                            check: spec.id.clone(),
                            addr: *addr,
                        };
                        health
                            .is_up(&t)
                            .or_else(|| startup.get(&t))
                            .unwrap_or(spec.startup == StartupState::Up)
                    }
                },
            })
            .collect();
        let state = match forced_pool {
            Some(Forced::Down) => PoolState {
                up: false,
                healthy: Vec::new(),
                configured: pool.addresses.clone(),
            },
            Some(Forced::Up) => PoolState {
                up: !healthy.is_empty(),
                healthy,
                configured: pool.addresses.clone(),
            },
            None => PoolState {
                up: healthy.len() >= pool.min_healthy,
                healthy,
                configured: pool.addresses.clone(),
            },
        };
        out.insert(pool.name.clone(), state);
    }
    out
}

fn build_zone(
    zone: &Zone,
    health: &HealthSnapshot,
    overlay: &Overlay,
    env: &Env,
    prev: Option<&ZoneTable>,
) -> ZoneTable {
    let origin_lower = LowerName::new(&zone.origin);
    let states = pool_states(zone, &origin_lower, health, overlay, &env.startup);
    // A region without a configured location is where its pools are.
    let mut regions = env.regions.clone();
    for pool in zone.pools.values() {
        if let Some(at) = pool.location {
            regions.entry(pool.region.clone()).or_insert(at);
        }
    }
    let latency = policy::latency_tables(
        &zone.policies,
        &states,
        &pool_rtts(zone, health, &states),
        &regions,
        |label| {
            prev.and_then(|z| z.policies.iter().find(|c| &*c.label == label))
                .and_then(|c| c.latency_table().cloned())
        },
    );
    let locator = (zone.policies.iter().any(policy::needs_location)
        || !zone.geo_overrides.is_empty())
    .then(|| Arc::new(Locator::new(env.geo.clone(), &zone.geo_overrides)));
    let inputs = Inputs {
        pools: &states,
        policies: &zone.policies,
        locator,
        latency: &latency,
        local_region: &env.local_region,
    };
    let policies: Vec<Compiled> = zone
        .policies
        .iter()
        .map(|p| Compiled::compile(p, &inputs))
        .collect();
    // Moved, not cloned: a zone may have thousands of pools. `zone.pools` is a
    // BTreeMap, so this is name order.
    let mut states = states;
    let pools = zone
        .pools
        .values()
        .filter_map(|p| Some((p.name.clone(), p.region.clone(), states.remove(&p.name)?)))
        .collect();
    // The registry's blocks for these names: counts carry on from table to table.
    let counters = env
        .counters
        .zone_blocks(&zone.origin.to_string(), policies.iter().map(|p| &*p.label));
    ZoneTable {
        origin: zone.origin.clone(),
        policies,
        pools,
        counters,
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::path::Path;
    use std::time::SystemTime;

    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::{Name, RecordType};

    use super::*;
    use crate::health::{Health, TargetStatus};
    use crate::policy::{Choice, Client};
    use crate::zone::AllDown;

    const ZONE: &str = r#"
[zone]
origin = "example.test."
nameservers = ["ns1.example.test."]
soa = { mname = "ns1.example.test.", rname = "h.example.test.", minimum = 30 }

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[checks.web]
kind = "tcp"
port = 80

[checks.optimist]
kind = "tcp"
port = 81
startup = "up"

[pools.east]
region = "us-east"
addresses = ["192.0.2.10", "192.0.2.11", "2001:db8::10"]
check = "web"
min_healthy = 2

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10"]
check = "optimist"

[[policies]]
name = "api"
policy = "failover"
ttl = 20
pools = ["east", "west"]
"#;

    fn zones() -> ZoneSet {
        let z = crate::config::parse_zone(Path::new("t.toml"), ZONE).expect("valid zone");
        ZoneSet {
            zones: vec![Arc::new(z)],
        }
    }

    fn health(states: &[(&str, &str, Health)]) -> HealthSnapshot {
        let mut h = HealthSnapshot::default();
        for (check, addr, health) in states {
            h.targets.insert(
                Target {
                    check: format!("example.test./{check}").into(),
                    addr: addr.parse().unwrap(),
                },
                TargetStatus {
                    health: *health,
                    since: SystemTime::UNIX_EPOCH,
                    last_reason: String::new(),
                    latency: None,
                },
            );
        }
        h
    }

    fn answer(t: &RoutingTable, qtype: RecordType) -> Vec<String> {
        let client = Client {
            addr: IpAddr::from([127, 0, 0, 1]),
            subnet: None,
        };
        let l = t.lookup(
            &Name::from_ascii("api.example.test.").unwrap(),
            qtype,
            &client,
        );
        assert_eq!(l.rcode, ResponseCode::NoError);
        let mut v: Vec<String> = l.answers.iter().map(|r| r.data.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn only_healthy_addresses_of_the_first_up_pool_are_served() {
        let h = health(&[
            ("web", "192.0.2.10", Health::Up),
            ("web", "192.0.2.11", Health::Down),
            ("web", "2001:db8::10", Health::Up),
        ]);
        let t = build(&zones(), &h, 7);
        assert_eq!(t.epoch, 7);
        assert_eq!(answer(&t, RecordType::A), vec!["192.0.2.10"]);
        assert_eq!(answer(&t, RecordType::AAAA), vec!["2001:db8::10"]);
        let p = &t.zones[0].policies[0];
        assert_eq!(p.summary().choice, Choice::Pool("east".into()));
        assert_eq!(p.summary().a[0].ttl, 20);
    }

    #[test]
    fn min_healthy_takes_a_thin_pool_out() {
        // One healthy address of three is below min_healthy = 2.
        let h = health(&[
            ("web", "192.0.2.10", Health::Up),
            ("web", "192.0.2.11", Health::Down),
            ("web", "2001:db8::10", Health::Down),
        ]);
        let t = build(&zones(), &h, 1);
        assert_eq!(answer(&t, RecordType::A), vec!["198.51.100.10"]);
        let east = t.zones[0].pools.iter().find(|p| &*p.0 == "east").unwrap();
        assert!(!east.2.up);
        assert_eq!(east.2.healthy.len(), 1);
    }

    #[test]
    fn unprobed_targets_count_as_their_startup_state() {
        // Nothing probed yet: east (startup down) is down, west (startup up) answers.
        let t = build(&zones(), &HealthSnapshot::default(), 1);
        assert_eq!(answer(&t, RecordType::A), vec!["198.51.100.10"]);
        // A probe result overrides the startup state.
        let h = health(&[("optimist", "198.51.100.10", Health::Down)]);
        let t = build(&zones(), &h, 2);
        let all = t.zones[0].policies[0].summary();
        assert_eq!(all.choice, Choice::AllDown(AllDown::ServeAll));
        assert_eq!(
            answer(&t, RecordType::A),
            vec!["192.0.2.10", "192.0.2.11", "198.51.100.10"]
        );
    }

    #[test]
    fn policy_names_answer_nodata_for_other_types_with_the_negative_soa() {
        let t = build(&zones(), &HealthSnapshot::default(), 1);
        let client = Client {
            addr: IpAddr::from([127, 0, 0, 1]),
            subnet: None,
        };
        let l = t.lookup(
            &Name::from_ascii("api.example.test.").unwrap(),
            RecordType::MX,
            &client,
        );
        assert_eq!(l.rcode, ResponseCode::NoError);
        assert!(l.answers.is_empty());
        assert_eq!(l.authority.len(), 1);
        assert_eq!(l.authority[0].record_type(), RecordType::SOA);
        assert_eq!(l.authority[0].ttl, 30);
    }

    #[test]
    fn a_health_rebuild_shares_the_static_names_and_a_reload_does_not() {
        let z = zones();
        let first = build(&z, &HealthSnapshot::default(), 1);
        let h = health(&[
            ("web", "192.0.2.10", Health::Up),
            ("web", "192.0.2.11", Health::Up),
        ]);
        let second = build_next(&first, &z, &h, &Overlay::default());
        assert!(second.same_names(&first));
        assert_eq!(
            answer(&second, RecordType::A),
            vec!["192.0.2.10", "192.0.2.11"]
        );
        assert_eq!(answer(&first, RecordType::A), vec!["198.51.100.10"]);
        // The same text loaded again is a new zone set: its names are built anew.
        let reloaded = build_next(&second, &zones(), &h, &Overlay::default());
        assert!(!reloaded.same_names(&second));
        assert_eq!(
            answer(&reloaded, RecordType::A),
            vec!["192.0.2.10", "192.0.2.11"]
        );
    }

    #[test]
    fn rebuilding_with_new_health_leaves_the_old_table_untouched() {
        let up = health(&[
            ("web", "192.0.2.10", Health::Up),
            ("web", "192.0.2.11", Health::Up),
        ]);
        let old = build(&zones(), &up, 1);
        let down = health(&[
            ("web", "192.0.2.10", Health::Down),
            ("web", "192.0.2.11", Health::Down),
        ]);
        let new = build(&zones(), &down, 2);
        assert_eq!(
            answer(&old, RecordType::A),
            vec!["192.0.2.10", "192.0.2.11"]
        );
        assert_eq!(answer(&new, RecordType::A), vec!["198.51.100.10"]);
    }
}
