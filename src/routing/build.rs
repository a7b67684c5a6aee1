//! Building a `RoutingTable` from a `ZoneSet` and a health snapshot. All sorting,
//! filtering and record preparation happens here, never per query.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, RData, Record, RecordType};

use super::{Node, RoutingTable, ZoneTable};
use crate::health::HealthSnapshot;
use crate::policy::{Compiled, PoolState, PoolStates};
use crate::zone::{StartupState, Target, Zone, ZoneSet};

pub fn build(zones: &ZoneSet, health: &HealthSnapshot, epoch: u64) -> RoutingTable {
    RoutingTable {
        epoch,
        zones: zones.zones.iter().map(|z| build_zone(z, health)).collect(),
    }
}

fn pool_states(zone: &Zone, health: &HealthSnapshot) -> PoolStates {
    let mut out = PoolStates::new();
    for pool in zone.pools.values() {
        let healthy: Vec<_> = match &pool.check {
            None => pool.addresses.clone(),
            Some(check) => {
                let spec = &zone.checks[check];
                pool.addresses
                    .iter()
                    .copied()
                    .filter(|addr| {
                        let t = Target {
                            check: spec.id.clone(),
                            addr: *addr,
                        };
                        health
                            .is_up(&t)
                            .unwrap_or(spec.startup == StartupState::Up)
                    })
                    .collect()
            }
        };
        out.insert(
            pool.name.clone(),
            PoolState {
                up: healthy.len() >= pool.min_healthy,
                healthy,
                configured: pool.addresses.clone(),
            },
        );
    }
    out
}

fn build_zone(zone: &Zone, health: &HealthSnapshot) -> ZoneTable {
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
        grouped.entry(LowerName::new(&r.name)).or_default().push(r.clone());
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

    let states = pool_states(zone, health);
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

    ZoneTable {
        origin: zone.origin.clone(),
        origin_lower,
        negative_soa,
        has_cuts: nodes.values().any(|n| n.cut),
        has_wildcards: nodes.keys().any(|k| k.is_wildcard()),
        nodes,
        policies,
        pools,
    }
}
