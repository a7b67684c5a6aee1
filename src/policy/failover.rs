//! Failover: pools in priority order; the first one that is up answers.

use std::sync::Arc;

use hickory_proto::rr::Name;

use super::{all_down, Answer, Choice, PoolStates};
use crate::zone::AllDown;

pub fn build(
    name: &Name,
    ttl: u32,
    order: &[Arc<str>],
    pools: &PoolStates,
    when_all_down: AllDown,
) -> Answer {
    for pool in order {
        if let Some(state) = pools.get(pool) {
            if state.up {
                return Answer::new(name, ttl, Choice::Pool(pool.clone()), state.healthy.clone());
            }
        }
    }
    all_down(name, ttl, order, pools, when_all_down)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PoolState;
    use std::net::IpAddr;

    fn state(up: bool, healthy: &[&str], configured: &[&str]) -> PoolState {
        let p = |v: &[&str]| v.iter().map(|s| s.parse::<IpAddr>().unwrap()).collect();
        PoolState {
            up,
            healthy: p(healthy),
            configured: p(configured),
        }
    }

    fn setup(primary_up: bool, secondary_up: bool) -> (Vec<Arc<str>>, PoolStates) {
        let order: Vec<Arc<str>> = vec!["east".into(), "west".into()];
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
        (order, pools)
    }

    #[test]
    fn first_up_pool_wins_with_only_its_healthy_addresses() {
        let name = Name::from_ascii("api.example.com.").unwrap();
        let (order, pools) = setup(true, true);
        let a = build(&name, 30, &order, &pools, AllDown::ServeAll);
        assert_eq!(a.choice, Choice::Pool("east".into()));
        assert_eq!(a.addresses, vec!["192.0.2.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(a.a.len(), 1);
        assert_eq!(a.a[0].ttl, 30);
        assert!(a.aaaa.is_empty());
    }

    #[test]
    fn secondary_takes_over_when_primary_is_down() {
        let name = Name::from_ascii("api.example.com.").unwrap();
        let (order, pools) = setup(false, true);
        let a = build(&name, 30, &order, &pools, AllDown::ServeAll);
        assert_eq!(a.choice, Choice::Pool("west".into()));
        assert_eq!(a.a.len(), 1);
        assert_eq!(a.aaaa.len(), 1);
    }

    #[test]
    fn all_down_behaviours() {
        let name = Name::from_ascii("api.example.com.").unwrap();
        let (order, pools) = setup(false, false);
        let all = build(&name, 30, &order, &pools, AllDown::ServeAll);
        assert_eq!(all.choice, Choice::AllDown(AllDown::ServeAll));
        assert_eq!(all.addresses.len(), 4);
        let first = build(&name, 30, &order, &pools, AllDown::ServeFirst);
        assert_eq!(first.addresses.len(), 2);
        assert_eq!(first.a.len(), 2);
        let none = build(&name, 30, &order, &pools, AllDown::NoData);
        assert!(none.addresses.is_empty() && none.a.is_empty() && none.aaaa.is_empty());
    }
}
