//! Failover: members in priority order; the first one with an answer wins.

use super::node::Node;
use super::tree::Branch;

/// Members that can never answer are dropped, and so is everything after the first
/// member that always answers: neither could change an answer.
pub(crate) fn build(children: Vec<Node>) -> Node {
    let mut kept = Vec::new();
    for child in children {
        if child.is_down() {
            continue;
        }
        let last = child.always_answers();
        kept.push(child);
        if last {
            break;
        }
    }
    match kept.len() {
        0 => Node::Fixed(None),
        1 => kept.pop().unwrap_or(Node::Fixed(None)),
        _ => Node::Failover(kept),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;

    use hickory_proto::rr::Name;

    use crate::policy::{Choice, Compiled, PoolState, PoolStates};
    use crate::zone::{AllDown, Member, Policy, PolicyKind};

    fn state(up: bool, healthy: &[&str], configured: &[&str]) -> std::sync::Arc<PoolState> {
        let p = |v: &[&str]| v.iter().map(|s| s.parse::<IpAddr>().unwrap()).collect();
        std::sync::Arc::new(PoolState {
            up,
            healthy: p(healthy),
            configured: p(configured),
        })
    }

    fn setup(primary_up: bool, secondary_up: bool) -> PoolStates {
        let mut pools = PoolStates::new();
        pools.insert(
            "east".into(),
            if primary_up {
                state(true, &["192.0.2.1"], &["192.0.2.1", "192.0.2.2"])
            } else {
                state(false, &[], &["192.0.2.1", "192.0.2.2"])
            },
        );
        pools.insert(
            "west".into(),
            state(
                secondary_up,
                if secondary_up {
                    &["198.51.100.1", "2001:db8::1"]
                } else {
                    &[]
                },
                &["198.51.100.1", "2001:db8::1"],
            ),
        );
        pools
    }

    fn policy(mode: AllDown) -> Policy {
        Policy {
            label: "api".into(),
            name: Name::from_ascii("api.example.com.").unwrap(),
            ttl: 30,
            kind: PolicyKind::Failover {
                members: vec![
                    Member::Pool(Arc::from("east")),
                    Member::Pool(Arc::from("west")),
                ],
            },
            when_all_down: mode,
            max_failover: None,
        }
    }

    fn build(pools: &PoolStates, mode: AllDown) -> Compiled {
        Compiled::build(&policy(mode), pools)
    }

    #[test]
    fn first_up_pool_wins_with_only_its_healthy_addresses() {
        let c = build(&setup(true, true), AllDown::ServeAll);
        let a = c.summary();
        assert_eq!(a.choice, Choice::Pool("east".into()));
        assert_eq!(a.addresses, vec!["192.0.2.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(a.a.len(), 1);
        assert_eq!(a.a[0].ttl, 30);
        assert!(a.aaaa.is_empty());
    }

    #[test]
    fn secondary_takes_over_when_primary_is_down() {
        let c = build(&setup(false, true), AllDown::ServeAll);
        let a = c.summary();
        assert_eq!(a.choice, Choice::Pool("west".into()));
        assert_eq!(a.a.len(), 1);
        assert_eq!(a.aaaa.len(), 1);
    }

    #[test]
    fn all_down_behaviours() {
        let pools = setup(false, false);
        let all = build(&pools, AllDown::ServeAll);
        assert_eq!(all.summary().choice, Choice::AllDown(AllDown::ServeAll));
        assert_eq!(all.summary().addresses.len(), 4);
        let first = build(&pools, AllDown::ServeFirst);
        assert_eq!(first.summary().addresses.len(), 2);
        assert_eq!(first.summary().a.len(), 2);
        let none = build(&pools, AllDown::NoData);
        let n = none.summary();
        assert!(n.addresses.is_empty() && n.a.is_empty() && n.aaaa.is_empty());
    }
}
