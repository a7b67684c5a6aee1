//! Building a `RoutingTable` from a `ZoneSet`, a health snapshot and the operator
//! overlay. All sorting, filtering and record preparation happens here, never per
//! query. After a health or overlay change only the policies are rebuilt; the static
//! names are shared with the previous table when the zone set is the same.
//!
//! This file builds whole zones; `incremental` reuses its per-pool and per-policy steps
//! to rebuild only what one health change touched.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hickory_proto::rr::LowerName;

use super::names::{Names, ZoneNames};
use super::overlay::{Forced, Overlay};
use super::{names, prepare, signed, Env, RoutingTable, ZoneTable};
use crate::dnssec::unix_now;
use crate::geo::Locator;
use crate::health::HealthSnapshot;
use crate::policy::{self, latency, Compiled, Inputs, PoolRtts, PoolState, PoolStates, Regions};
use crate::zone::{Pool, StartupState, Target, Zone, ZoneSet};

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
/// names when the zone set is the one it was built from. Every policy is compiled
/// anew; `build_incremental` is the step that recompiles only what changed.
pub fn build_next(
    prev: &RoutingTable,
    zones: &ZoneSet,
    health: &HealthSnapshot,
    overlay: &Overlay,
) -> RoutingTable {
    let names = names_for(prev, zones);
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

/// `prev`'s static names when they were built from `zones`, else new ones.
pub(super) fn names_for(prev: &RoutingTable, zones: &ZoneSet) -> Arc<Names> {
    if prev.names.built_from(zones) {
        prev.names.clone()
    } else {
        Arc::new(build_names(zones))
    }
}

fn build_names(zones: &ZoneSet) -> names::Names {
    let mut names = names::build(zones);
    prepare::prepare(&mut names);
    names
}

/// The static names' signed replies: `prev`'s while they are the same names and fresh.
pub(super) fn signed_for(
    prev: Option<&RoutingTable>,
    names: &Arc<Names>,
    now: u64,
) -> Arc<signed::SignedStatic> {
    match prev {
        Some(p) if Arc::ptr_eq(&p.names, names) && p.signed.until > now => p.signed.clone(),
        _ => Arc::new(signed::prepare_static(names, now)),
    }
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
    let signed = signed_for(prev, &names, now);
    let mut until = signed.until;
    let tables = zones
        .zones
        .iter()
        .enumerate()
        .map(|(zi, z)| {
            let before = prev.and_then(|t| t.zones.iter().find(|p| p.origin == z.origin));
            let signing = Signing::new(&names, zi, now);
            let (table, inputs) = build_zone(z, health, overlay, &env, before, &signing);
            until = until.min(inputs.until);
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
        basis: None,
    }
}

/// Where a build signs policy answers: the zone's static half when it is signed.
pub(super) struct Signing<'a> {
    names: &'a Names,
    zone: Option<&'a ZoneNames>,
    pub(super) now: u64,
}

impl<'a> Signing<'a> {
    pub(super) fn new(names: &'a Names, zi: usize, now: u64) -> Self {
        Signing {
            names,
            zone: names.zones.get(zi),
            now,
        }
    }

    pub(super) fn signs(&self) -> bool {
        self.zone.is_some_and(|z| z.signer.is_some())
    }

    /// Sign `c`'s answers; the earliest `valid_until` (`u64::MAX`: nothing signed).
    pub(super) fn sign(&self, c: &mut Compiled) -> u64 {
        match self.zone {
            Some(zone) => signed::sign_policy(self.names, zone, c, self.now),
            None => u64::MAX,
        }
    }
}

/// What a zone's policies were compiled from besides the zone and the environment: kept
/// with the table so the next build can recompile a few policies against the same.
#[derive(Debug, Clone)]
pub(super) struct ZoneInputs {
    pub(super) states: Arc<PoolStates>,
    /// Only pools a latency policy lists: no other policy reads RTTs.
    pub(super) rtts: Arc<PoolRtts>,
    pub(super) latency: Arc<HashMap<Arc<str>, Arc<latency::Table>>>,
    pub(super) locator: Option<Arc<Locator>>,
    pub(super) regions: Arc<Regions>,
    /// The earliest `valid_until` of the policies' signed answers (`u64::MAX`: none).
    /// After a partial rebuild it may be earlier than the true one (a replaced policy's),
    /// which only brings the next full rebuild of the zone forward.
    pub(super) until: u64,
}

/// Pools some latency policy of `zone` lists: the only ones whose RTTs matter.
fn latency_pools(zone: &Zone) -> HashSet<&Arc<str>> {
    zone.policies
        .iter()
        .filter_map(|p| match &p.kind {
            crate::zone::PolicyKind::Latency { pools, .. } => Some(pools),
            _ => None,
        })
        .flatten()
        .collect()
}

fn pool_rtts(zone: &Zone, health: &HealthSnapshot, states: &PoolStates) -> PoolRtts {
    let wanted = latency_pools(zone);
    zone.pools
        .values()
        .filter(|p| wanted.contains(&p.name))
        .filter_map(|p| Some((p.name.clone(), pool_rtt(zone, p, health, &states[&p.name])?)))
        .collect()
}

/// One pool's RTT row: per probe region, the mean over its healthy addresses measured
/// from there (`None`: no region measured any).
pub(super) fn pool_rtt(
    zone: &Zone,
    pool: &Pool,
    health: &HealthSnapshot,
    state: &PoolState,
) -> Option<Vec<(Arc<str>, std::time::Duration)>> {
    let check = pool.check.as_ref()?;
    let spec = &zone.checks[check];
    let mut rows = Vec::new();
    for (region, targets) in &health.rtt {
        let samples: Vec<std::time::Duration> = state
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
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Some(rows)
}

/// One pool's state. A pool forced down is down with no healthy address, exactly as if
/// it had failed (the all-down fallback included). A pool forced up is up with every
/// address not forced down itself: the operator vouches for it, whatever the checks say.
pub(super) fn pool_state(
    zone: &Zone,
    origin: &LowerName,
    pool: &Pool,
    health: &HealthSnapshot,
    overlay: &Overlay,
    startup: &super::env::StartupSeed,
) -> PoolState {
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
    match forced_pool {
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
    }
}

/// Where a zone's regions are: a region without a configured location is where its
/// pools are.
fn regions_of(zone: &Zone, env: &Env) -> Regions {
    let mut regions = env.regions.clone();
    for pool in zone.pools.values() {
        if let Some(at) = pool.location {
            regions.entry(pool.region.clone()).or_insert(at);
        }
    }
    regions
}

/// Compile and sign one policy of `zone` against `inputs`.
pub(super) fn compile_one(
    zone: &Zone,
    pi: usize,
    inputs: &ZoneInputs,
    env: &Env,
    signing: &Signing<'_>,
) -> (Arc<Compiled>, u64) {
    let compile_inputs = Inputs {
        pools: &inputs.states,
        policies: &zone.policies,
        locator: inputs.locator.clone(),
        latency: &inputs.latency,
        local_region: &env.local_region,
    };
    let mut c = Compiled::compile(&zone.policies[pi], &compile_inputs);
    let until = signing.sign(&mut c);
    (Arc::new(c), until)
}

/// One zone, every pool and policy, with what it was compiled from.
pub(super) fn build_zone(
    zone: &Zone,
    health: &HealthSnapshot,
    overlay: &Overlay,
    env: &Env,
    prev: Option<&ZoneTable>,
    signing: &Signing<'_>,
) -> (ZoneTable, ZoneInputs) {
    let origin_lower = LowerName::new(&zone.origin);
    let states: PoolStates = zone
        .pools
        .values()
        .map(|p| {
            let s = pool_state(zone, &origin_lower, p, health, overlay, &env.startup);
            (p.name.clone(), Arc::new(s))
        })
        .collect();
    let regions = regions_of(zone, env);
    let rtts = pool_rtts(zone, health, &states);
    let latency = policy::latency_tables(&zone.policies, &states, &rtts, &regions, |label| {
        prev.and_then(|z| z.policies.iter().find(|c| &*c.label == label))
            .and_then(|c| c.latency_table().cloned())
    });
    let locator = (zone.policies.iter().any(policy::needs_location)
        || !zone.geo_overrides.is_empty())
    .then(|| Arc::new(Locator::new(env.geo.clone(), &zone.geo_overrides)));
    let mut inputs = ZoneInputs {
        states: Arc::new(states),
        rtts: Arc::new(rtts),
        latency: Arc::new(latency),
        locator,
        regions: Arc::new(regions),
        until: u64::MAX,
    };
    let policies: Vec<Arc<Compiled>> = (0..zone.policies.len())
        .map(|pi| {
            let (c, until) = compile_one(zone, pi, &inputs, env, signing);
            inputs.until = inputs.until.min(until);
            c
        })
        .collect();
    // `zone.pools` is a BTreeMap, so this is name order.
    let pools = zone
        .pools
        .values()
        .filter_map(|p| {
            let s = inputs.states.get(&p.name)?.clone();
            Some((p.name.clone(), p.region.clone(), s))
        })
        .collect();
    // The registry's blocks for these names: counts carry on from table to table.
    let counters = env
        .counters
        .zone_blocks(&zone.origin.to_string(), policies.iter().map(|p| &*p.label));
    let table = ZoneTable {
        origin: zone.origin.clone(),
        policies: Arc::new(policies),
        pools: Arc::new(pools),
        counters: Arc::new(counters),
    };
    (table, inputs)
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
