//! What changed between two routing tables: pools that went up or down or changed their
//! healthy addresses, and policy answers that moved. A pure function of the two tables;
//! the updater turns each [`Change`] into log lines, counters and alerts.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::Name;

use super::{RoutingTable, ZoneTable};
use crate::policy::{Choice, Compiled, PoolState};

/// One difference between an old table and the new one, borrowed from both.
#[derive(Debug, Clone, Copy)]
pub enum Change<'t> {
    /// A pool the old table did not have (a new zone or a new pool): not news, but its
    /// change time starts now.
    PoolAdded { zone: &'t Name, pool: &'t Arc<str> },
    /// A pool's healthy addresses changed while it stayed up, or stayed down.
    PoolHealthy(PoolChange<'t>),
    /// A pool went up or down.
    PoolTransition(PoolChange<'t>),
    /// A policy the old table did not have: its first answer.
    AnswerAdded {
        zone: &'t Name,
        policy: &'t Compiled,
    },
    /// A policy's addresses changed, from the same choice.
    AnswerAddresses(AnswerChange<'t>),
    /// A policy's answer moved to another pool (or set of pools).
    Failover(AnswerChange<'t>),
    /// A policy's answer moved to the all-down fallback.
    AllDown(AnswerChange<'t>),
}

/// A pool in both tables, with its two states.
#[derive(Debug, Clone, Copy)]
pub struct PoolChange<'t> {
    pub zone: &'t Name,
    pub pool: &'t Arc<str>,
    pub region: &'t Arc<str>,
    pub before: &'t PoolState,
    pub after: &'t PoolState,
}

/// A policy in both tables, with its two compilations.
#[derive(Debug, Clone, Copy)]
pub struct AnswerChange<'t> {
    pub zone: &'t Name,
    pub before: &'t Compiled,
    pub after: &'t Compiled,
}

/// Every change from `old` to `new`, zone by zone in `new`'s order; within a zone, pools
/// (in name order) before policies (in policy order). Zones, pools and policies that
/// `new` no longer has are not reported.
pub fn diff<'t>(old: &'t RoutingTable, new: &'t RoutingTable) -> Vec<Change<'t>> {
    let mut out = Vec::new();
    if new.same_names(old) && old.zones.len() == new.zones.len() {
        // The same zone set: zones, pools and policies pair by position, and whatever
        // the build shared with the old table (the same `Arc`) is unchanged. After one
        // pool's change this visits only what was rebuilt.
        for (before, zone) in old.zones.iter().zip(&new.zones) {
            if !Arc::ptr_eq(&before.pools, &zone.pools) {
                let paired = before.pools.iter().zip(zone.pools.iter());
                for ((_, _, prev), (pool, region, state)) in paired {
                    if !Arc::ptr_eq(prev, state) {
                        pool_change(&zone.origin, pool, region, prev, state, &mut out);
                    }
                }
            }
            if !Arc::ptr_eq(&before.policies, &zone.policies) {
                for (prev, p) in before.policies.iter().zip(zone.policies.iter()) {
                    if !Arc::ptr_eq(prev, p) {
                        answer_change(&zone.origin, prev, p, &mut out);
                    }
                }
            }
        }
        return out;
    }
    // Otherwise paired by name through maps, never by scanning: a table may hold
    // thousands of policies.
    let old_zones: HashMap<&Name, &ZoneTable> = old.zones.iter().map(|z| (&z.origin, z)).collect();
    for zone in &new.zones {
        let before = old_zones.get(&zone.origin).copied();
        pools(before, zone, &mut out);
        answers(before, zone, &mut out);
    }
    out
}

fn pools<'t>(before: Option<&'t ZoneTable>, zone: &'t ZoneTable, out: &mut Vec<Change<'t>>) {
    let old_pools: HashMap<&str, &PoolState> = before
        .map(|z| z.pools.iter().map(|(p, _, s)| (&**p, &**s)).collect())
        .unwrap_or_default();
    for (pool, region, state) in zone.pools.iter() {
        match old_pools.get(&**pool).copied() {
            Some(prev) => pool_change(&zone.origin, pool, region, prev, state, out),
            None => out.push(Change::PoolAdded {
                zone: &zone.origin,
                pool,
            }),
        }
    }
}

fn pool_change<'t>(
    zone: &'t Name,
    pool: &'t Arc<str>,
    region: &'t Arc<str>,
    prev: &'t PoolState,
    state: &'t PoolState,
    out: &mut Vec<Change<'t>>,
) {
    if prev.up == state.up && prev.healthy == state.healthy {
        return;
    }
    let change = PoolChange {
        zone,
        pool,
        region,
        before: prev,
        after: state,
    };
    out.push(if prev.up != state.up {
        Change::PoolTransition(change)
    } else {
        Change::PoolHealthy(change)
    });
}

fn answers<'t>(before: Option<&'t ZoneTable>, zone: &'t ZoneTable, out: &mut Vec<Change<'t>>) {
    let old_policies: HashMap<&Name, &Compiled> = before
        .map(|z| z.policies.iter().map(|q| (&q.name, &**q)).collect())
        .unwrap_or_default();
    for p in zone.policies.iter() {
        match old_policies.get(&p.name).copied() {
            Some(prev) => answer_change(&zone.origin, prev, p, out),
            None => out.push(Change::AnswerAdded {
                zone: &zone.origin,
                policy: p,
            }),
        }
    }
}

fn answer_change<'t>(
    zone: &'t Name,
    prev: &'t Compiled,
    p: &'t Compiled,
    out: &mut Vec<Change<'t>>,
) {
    // Choice and eligible addresses are the answer; its records and wire bytes
    // derive from them; comparing those too cost ~5 ms a rebuild at 10,000 policies.
    let (was, now) = (prev.summary(), p.summary());
    let change = AnswerChange {
        zone,
        before: prev,
        after: p,
    };
    if was.choice != now.choice {
        out.push(match now.choice {
            Choice::AllDown(_) => Change::AllDown(change),
            Choice::Pool(_) | Choice::Pools(_) => Change::Failover(change),
        });
    } else if eligible(prev) != eligible(p) {
        out.push(Change::AnswerAddresses(change));
    }
}

/// Every address a policy may answer with, as a sorted set: what a multivalue or
/// weighted answer is, whatever order or draw a query gets. The all-down fallback
/// counts only when it is what the policy answers.
pub fn eligible(p: &Compiled) -> Vec<std::net::IpAddr> {
    let mut v: Vec<_> = if matches!(p.summary().choice, Choice::AllDown(_)) {
        p.summary().addresses.clone()
    } else {
        p.answers()
            .iter()
            .filter(|a| !matches!(a.choice, Choice::AllDown(_)))
            .flat_map(|a| a.addresses.iter().copied())
            .collect()
    };
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether `new` decides every query as `old` does, leaving aside the order and the
/// draws prepared per build (multivalue shuffles): the same zones, pool states, answers
/// and latency rows' choices. When it does, swapping it in would change no decision.
pub fn same_decisions(old: &RoutingTable, new: &RoutingTable) -> bool {
    same_decisions_given(old, new, &diff(old, new))
}

/// `same_decisions` for a caller that already has `diff(old, new)`.
pub fn same_decisions_given(
    old: &RoutingTable,
    new: &RoutingTable,
    changes: &[Change<'_>],
) -> bool {
    if !changes.is_empty() || !new.same_names(old) || old.zones.len() != new.zones.len() {
        return false;
    }
    let rows = |c: &Compiled| {
        c.latency_table().map(|t| {
            t.rows
                .iter()
                .map(|r| (r.region.clone(), r.choice.clone()))
                .collect::<Vec<_>>()
        })
    };
    // Shared policies (the same `Arc`) have the same rows.
    let latency_same = old.zones.iter().zip(&new.zones).all(|(a, b)| {
        Arc::ptr_eq(&a.policies, &b.policies)
            || (a.policies.len() == b.policies.len()
                && a.policies
                    .iter()
                    .zip(b.policies.iter())
                    .all(|(x, y)| Arc::ptr_eq(x, y) || rows(x) == rows(y)))
    });
    // Fresh signatures are a change to serve, though no decision moved.
    let signed_same = old.signatures_refresh_at() == new.signatures_refresh_at();
    latency_same && signed_same
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::SystemTime;

    use super::*;
    use crate::health::{Health, HealthSnapshot, TargetStatus};
    use crate::routing::{build, build_next, Overlay};
    use crate::zone::{Target, ZoneSet};

    const ZONE: &str = r#"
[zone]
origin = "example.test."
nameservers = ["ns1.example.test."]
soa = { mname = "ns1.example.test.", rname = "h.example.test.", minimum = 30 }

[checks.web]
kind = "tcp"
port = 80
startup = "up"

[pools.east]
region = "us-east"
addresses = ["192.0.2.10", "192.0.2.11"]
check = "web"

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10"]
check = "web"

[[policies]]
name = "api"
policy = "failover"
pools = ["east", "west"]
"#;

    fn zones() -> ZoneSet {
        let z = crate::config::parse_zone(Path::new("t.toml"), ZONE).expect("valid zone");
        ZoneSet {
            zones: vec![Arc::new(z)],
        }
    }

    fn health(down: &[&str]) -> HealthSnapshot {
        let mut h = HealthSnapshot::default();
        for addr in ["192.0.2.10", "192.0.2.11", "198.51.100.10"] {
            h.targets.insert(
                Target {
                    check: "example.test./web".into(),
                    addr: addr.parse().unwrap(),
                },
                TargetStatus {
                    health: if down.contains(&addr) {
                        Health::Down
                    } else {
                        Health::Up
                    },
                    since: SystemTime::UNIX_EPOCH,
                    last_reason: String::new(),
                    latency: None,
                },
            );
        }
        h
    }

    /// The changes as short strings, for comparing whole lists.
    fn names(changes: &[Change<'_>]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::PoolAdded { pool, .. } => format!("added {pool}"),
                Change::PoolHealthy(p) => format!("healthy {}", p.pool),
                Change::PoolTransition(p) => format!(
                    "{} {}->{}",
                    p.pool,
                    if p.before.up { "up" } else { "down" },
                    if p.after.up { "up" } else { "down" }
                ),
                Change::AnswerAdded { policy, .. } => format!("new {}", policy.label),
                Change::AnswerAddresses(a) => format!("addresses {}", a.after.label),
                Change::Failover(a) => format!("failover {}", a.after.label),
                Change::AllDown(a) => format!("all-down {}", a.after.label),
            })
            .collect()
    }

    fn step(prev: &RoutingTable, down: &[&str], zones: &ZoneSet) -> RoutingTable {
        build_next(prev, zones, &health(down), &Overlay::default())
    }

    #[test]
    fn a_first_table_adds_every_pool_and_answer() {
        let z = zones();
        let first = build(&z, &health(&[]), 1);
        let empty = RoutingTable::default();
        let changes = diff(&empty, &first);
        assert_eq!(names(&changes), ["added east", "added west", "new api"]);
    }

    #[test]
    fn the_same_health_changes_nothing() {
        let z = zones();
        let first = build(&z, &health(&[]), 1);
        let second = step(&first, &[], &z);
        assert!(diff(&first, &second).is_empty());
    }

    #[test]
    fn one_address_down_changes_the_pool_and_the_answer_addresses() {
        let z = zones();
        let first = build(&z, &health(&[]), 1);
        let second = step(&first, &["192.0.2.11"], &z);
        assert_eq!(
            names(&diff(&first, &second)),
            ["healthy east", "addresses api"]
        );
    }

    #[test]
    fn a_pool_down_fails_over_and_back() {
        let z = zones();
        let first = build(&z, &health(&[]), 1);
        let second = step(&first, &["192.0.2.10", "192.0.2.11"], &z);
        assert_eq!(
            names(&diff(&first, &second)),
            ["east up->down", "failover api"]
        );
        let third = step(&second, &[], &z);
        assert_eq!(
            names(&diff(&second, &third)),
            ["east down->up", "failover api"]
        );
    }

    #[test]
    fn every_pool_down_is_all_down() {
        let z = zones();
        let first = build(&z, &health(&[]), 1);
        let all = ["192.0.2.10", "192.0.2.11", "198.51.100.10"];
        let second = step(&first, &all, &z);
        assert_eq!(
            names(&diff(&first, &second)),
            ["east up->down", "west up->down", "all-down api"]
        );
    }

    #[test]
    fn a_reloaded_zone_set_pairs_by_name() {
        // Loaded again, the zones are new values: still paired by origin and name.
        let first = build(&zones(), &health(&[]), 1);
        let second = step(&first, &[], &zones());
        assert!(!second.same_names(&first));
        assert!(diff(&first, &second).is_empty());
    }
}
