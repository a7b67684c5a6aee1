//! Building a `RoutingTable` from a `ZoneSet` and a health snapshot. All sorting,
//! filtering and record preparation happens here, never per query.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, RData, Record, RecordType};

use super::overlay::{Forced, Overlay};
use super::{Node, RoutingTable, ZoneTable};
use crate::health::HealthSnapshot;
use crate::metrics::query::QueryCounters;
use crate::policy::{Compiled, PoolState, PoolStates};
use crate::zone::{StartupState, Target, Zone, ZoneSet};

pub fn build(zones: &ZoneSet, health: &HealthSnapshot, epoch: u64) -> RoutingTable {
    build_with(zones, health, &Overlay::default(), epoch)
}

/// Build with operator overrides applied over measured health.
pub fn build_with(
    zones: &ZoneSet,
    health: &HealthSnapshot,
    overlay: &Overlay,
    epoch: u64,
) -> RoutingTable {
    RoutingTable {
        epoch,
        zones: zones
            .zones
            .iter()
            .map(|z| build_zone(z, health, overlay))
            .collect(),
        unmatched: Arc::default(),
    }
}

/// A pool forced down is down with no healthy address, exactly as if it had failed (the
/// all-down fallback included). A pool forced up is up with every address not forced
/// down itself: the operator vouches for it, whatever the checks say.
fn pool_states(
    zone: &Zone,
    origin: &LowerName,
    health: &HealthSnapshot,
    overlay: &Overlay,
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
                        health.is_up(&t).unwrap_or(spec.startup == StartupState::Up)
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

fn build_zone(zone: &Zone, health: &HealthSnapshot, overlay: &Overlay) -> ZoneTable {
    let origin_lower = LowerName::new(&zone.origin);
    let mut nodes: HashMap<LowerName, Node> = HashMap::new();
    let origin_labels = zone.origin.num_labels();

    // Every ancestor between a name and the apex exists as at least an empty
    // non-terminal, so it answers NODATA rather than NXDOMAIN (RFC 8020).
    let ensure = |nodes: &mut HashMap<LowerName, Node>, name: &hickory_proto::rr::Name| {
        let mut n = name.clone();
        while n.num_labels() > origin_labels {
            n = n.base_name();
            nodes.entry(LowerName::new(&n)).or_default();
        }
    };

    let mut grouped: HashMap<LowerName, Vec<Record>> = HashMap::new();
    for r in &zone.records {
        grouped
            .entry(LowerName::new(&r.name))
            .or_default()
            .push(r.clone());
    }
    for (key, records) in grouped {
        ensure(&mut nodes, &records[0].name);
        let node = nodes.entry(key.clone()).or_default();
        for r in records {
            let t = r.record_type();
            match node.rrsets.iter_mut().find(|(rt, _)| *rt == t) {
                Some((_, v)) => {
                    // RFC 2181 §5: an RRset holds no duplicate records.
                    if !v.iter().any(|x| x.data == r.data) {
                        v.push(r)
                    }
                }
                None => node.rrsets.push((t, vec![r])),
            }
        }
        if key != origin_lower && node.rrset(RecordType::NS).is_some() {
            node.cut = true;
        }
    }
    // RFC 2181 §5.2: all records of an RRset share one TTL; serve the lowest.
    for node in nodes.values_mut() {
        for (_, set) in node.rrsets.iter_mut() {
            let ttl = set.iter().map(|r| r.ttl).min().unwrap_or(0);
            for r in set.iter_mut() {
                r.ttl = ttl;
            }
        }
    }

    let states = pool_states(zone, &origin_lower, health, overlay);
    let mut policies = Vec::with_capacity(zone.policies.len());
    for (i, p) in zone.policies.iter().enumerate() {
        ensure(&mut nodes, &p.name);
        nodes.entry(LowerName::new(&p.name)).or_default().policy = Some(i);
        policies.push(Compiled::build(p, &states));
    }

    let negative_soa = {
        let mut soa = zone.soa.clone();
        if let RData::SOA(s) = &zone.soa.data {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        soa
    };
    let mut pools: Vec<(Arc<str>, Arc<str>, PoolState)> = zone
        .pools
        .values()
        .map(|p| (p.name.clone(), p.region.clone(), states[&p.name].clone()))
        .collect();
    pools.sort_by(|a, b| a.0.cmp(&b.0));
    // Fresh blocks; the updater swaps in the registry's before publishing.
    let counters: Vec<Arc<QueryCounters>> = (0..=policies.len()).map(|_| Arc::default()).collect();

    ZoneTable {
        origin: zone.origin.clone(),
        origin_lower,
        negative_soa,
        has_cuts: nodes.values().any(|n| n.cut),
        has_wildcards: nodes.keys().any(|k| k.is_wildcard()),
        nodes,
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
    use hickory_proto::rr::Name;

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
