//! Turning a policy (and every policy it contains) into a node tree over prepared
//! answers, for one health state. Member policies are compiled inline, with the owner
//! name and TTL of the policy being answered, so every answer is ready to send as is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::Name;

use super::node::Node;
use super::tree::{AnswerId, Branch};
use super::{
    failover, geolocation, geoproximity, latency, multivalue, rng, weighted, Answer, Choice, Inputs,
};
use crate::zone::{Member, Policy, PolicyKind};

pub(crate) struct Compiler<'i> {
    inputs: &'i Inputs<'i>,
    name: &'i Name,
    ttl: u32,
    pub(crate) answers: Vec<Answer>,
    /// Each pool's answer once, however many rules name it.
    pools: HashMap<Arc<str>, Option<AnswerId>>,
    /// Policies being compiled, outermost first: a guard against cycles, which
    /// validation already rejects.
    stack: Vec<Arc<str>>,
}

impl<'i> Compiler<'i> {
    pub(crate) fn new(inputs: &'i Inputs<'i>, name: &'i Name, ttl: u32) -> Self {
        Compiler {
            inputs,
            name,
            ttl,
            answers: Vec::new(),
            pools: HashMap::new(),
            stack: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, choice: Choice, addresses: Vec<IpAddr>) -> AnswerId {
        self.answers
            .push(Answer::new(self.name, self.ttl, choice, addresses));
        (self.answers.len() - 1) as AnswerId
    }

    /// The pool's answer (its healthy addresses) when it is up.
    fn pool(&mut self, pool: &Arc<str>) -> Option<AnswerId> {
        if let Some(a) = self.pools.get(pool) {
            return *a;
        }
        let a = match self.inputs.pools.get(pool) {
            Some(s) if s.up => Some(self.push(Choice::Pool(pool.clone()), s.healthy.clone())),
            _ => None,
        };
        self.pools.insert(pool.clone(), a);
        a
    }

    fn member(&mut self, m: &Member) -> Node {
        match m {
            Member::Pool(p) => Node::Fixed(self.pool(p)),
            Member::Policy(label) => {
                match self.inputs.policies.iter().find(|p| p.label == *label) {
                    Some(p) => self.policy(p),
                    None => Node::Fixed(None),
                }
            }
        }
    }

    pub(crate) fn policy(&mut self, p: &Policy) -> Node {
        if self.stack.contains(&p.label) {
            return Node::Fixed(None);
        }
        self.stack.push(p.label.clone());
        let node = self.kind(p);
        self.stack.pop();
        node
    }

    fn kind(&mut self, p: &Policy) -> Node {
        match &p.kind {
            PolicyKind::Failover { members } => {
                let children = members.iter().map(|m| self.member(m)).collect();
                failover::build(children)
            }
            PolicyKind::Weighted { members, sticky } => {
                let arms = members
                    .iter()
                    .map(|(m, w)| (self.member(m), *w, &**m.name()))
                    .collect();
                weighted::build(arms, *sticky)
            }
            PolicyKind::Geolocation {
                countries,
                continents,
                default,
            } => {
                fn index<'m>(m: &'m Member, distinct: &mut Vec<&'m Member>) -> u16 {
                    let at = distinct.iter().position(|d| *d == m).unwrap_or_else(|| {
                        distinct.push(m);
                        distinct.len() - 1
                    });
                    at as u16
                }
                let mut distinct: Vec<&Member> = Vec::new();
                let countries: Vec<_> = countries
                    .iter()
                    .map(|(c, m)| (*c, index(m, &mut distinct)))
                    .collect();
                let continents: Vec<_> = continents
                    .iter()
                    .map(|(c, m)| (*c, index(m, &mut distinct)))
                    .collect();
                let default = index(default, &mut distinct);
                let nodes = distinct.into_iter().map(|m| self.member(m)).collect();
                geolocation::build(nodes, countries, continents, default)
            }
            PolicyKind::Geoproximity { pools, fallback } => {
                let sites: Vec<_> = pools
                    .iter()
                    .map(|(name, at, bias)| (*at, *bias, self.pool(name)))
                    .collect();
                let fallback = self
                    .pool(fallback)
                    .or_else(|| sites.iter().find_map(|s| s.2));
                geoproximity::build(sites, fallback)
            }
            PolicyKind::Latency { pools, .. } => {
                let first_up = pools.iter().find_map(|name| self.pool(name));
                let Some(table) = self.inputs.latency.get(&p.label) else {
                    return Node::Fixed(first_up);
                };
                let rows: Vec<_> = table
                    .rows
                    .iter()
                    .map(|r| {
                        let n = Node::Fixed(r.choice.as_ref().and_then(|c| self.pool(c)));
                        (r.at, n, r)
                    })
                    .collect();
                let default = rows
                    .iter()
                    .find(|(_, n, r)| &*r.region == self.inputs.local_region && !n.is_down())
                    .or_else(|| rows.iter().find(|(_, n, _)| !n.is_down()))
                    .map_or(Node::Fixed(first_up), |(_, n, _)| n.clone());
                latency::build(
                    rows.into_iter().map(|(at, n, _)| (at, n)).collect(),
                    default,
                )
            }
            PolicyKind::Multivalue { pools, max_answers } => {
                let mut up = Vec::new();
                let mut addresses: Vec<IpAddr> = Vec::new();
                for name in pools {
                    if let Some(s) = self.inputs.pools.get(name).filter(|s| s.up) {
                        up.push(name.clone());
                        for a in &s.healthy {
                            if !addresses.contains(a) {
                                addresses.push(*a);
                            }
                        }
                    }
                }
                if addresses.is_empty() {
                    return Node::Fixed(None);
                }
                let orders = multivalue::shuffles(&addresses, *max_answers, rng::next_u64());
                let ids: Vec<AnswerId> = orders
                    .into_iter()
                    .map(|order| self.push(Choice::Pools(up.clone()), order))
                    .collect();
                match ids.as_slice() {
                    [one] => Node::Fixed(Some(*one)),
                    _ => Node::Shuffled(ids),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::sync::Arc;

    use hickory_proto::rr::Name;

    use crate::geo::{Country, Location, Locator, Override};
    use crate::policy::{Choice, Client, Compiled, Inputs, PoolState, PoolStates};
    use crate::zone::{AllDown, Member, Policy, PolicyKind};

    fn pools(up: &[(&str, bool)]) -> PoolStates {
        up.iter()
            .enumerate()
            .map(|(i, (name, up))| {
                let addr = IpAddr::from([10, 0, 0, i as u8 + 1]);
                (
                    Arc::<str>::from(*name),
                    Arc::new(PoolState {
                        up: *up,
                        healthy: if *up { vec![addr] } else { vec![] },
                        configured: vec![addr],
                    }),
                )
            })
            .collect()
    }

    fn policy(label: &str, kind: PolicyKind) -> Policy {
        Policy {
            label: label.into(),
            name: Name::from_ascii(format!("{label}.example.test.")).unwrap(),
            ttl: 30,
            kind,
            when_all_down: AllDown::ServeAll,
            max_failover: None,
        }
    }

    fn pool(p: &str) -> Member {
        Member::Pool(p.into())
    }

    fn at(country: &str, net: &str) -> Override {
        let c = Country::known(country).unwrap();
        Override {
            network: net.parse().unwrap(),
            location: Location {
                country: Some(c),
                continent: c.continent(),
                coord: None,
            },
        }
    }

    /// outer = failover [geo, p3]; geo = geolocation FR->p1, DE->p2, default p1.
    fn compile(states: &PoolStates) -> Compiled {
        let all = vec![
            policy(
                "outer",
                PolicyKind::Failover {
                    members: vec![Member::Policy("geo".into()), pool("p3")],
                },
            ),
            policy(
                "geo",
                PolicyKind::Geolocation {
                    countries: vec![
                        (Country::known("FR").unwrap(), pool("p1")),
                        (Country::known("DE").unwrap(), pool("p2")),
                    ],
                    continents: vec![],
                    default: pool("p1"),
                },
            ),
        ];
        let locator = Locator::new(
            None,
            &[at("FR", "192.0.2.0/25"), at("DE", "192.0.2.128/25")],
        );
        let latency = HashMap::new();
        let inputs = Inputs {
            pools: states,
            policies: &all,
            locator: Some(Arc::new(locator)),
            latency: &latency,
            local_region: "",
        };
        Compiled::compile(&all[0], &inputs)
    }

    fn ask(c: &Compiled, subnet: &str) -> (Choice, u8) {
        let client = Client {
            addr: "127.0.0.1".parse().unwrap(),
            subnet: Some((subnet.parse().unwrap(), 24)),
        };
        let (a, scope) = c.select(&client);
        (a.choice.clone(), scope)
    }

    #[test]
    fn a_member_policy_with_nothing_up_for_this_client_passes_the_query_on() {
        let c = compile(&pools(&[("p1", false), ("p2", true), ("p3", true)]));
        assert!(c.is_dynamic());
        // France's rule and the default are down: the outer failover's next member. The
        // answer still depended on the location (/25).
        assert_eq!(ask(&c, "192.0.2.0"), (Choice::Pool("p3".into()), 25));
        // Germany's rule is up.
        assert_eq!(ask(&c, "192.0.2.128"), (Choice::Pool("p2".into()), 25));
        // Answers carry the outer policy's name.
        assert_eq!(c.summary().a[0].name.to_ascii(), "outer.example.test.");
    }

    #[test]
    fn a_decision_that_changes_nothing_is_folded_away_with_scope_zero() {
        // Only p3 up: every client gets it, whatever the location says.
        let c = compile(&pools(&[("p1", false), ("p2", false), ("p3", true)]));
        assert!(!c.is_dynamic());
        assert_eq!(ask(&c, "192.0.2.0"), (Choice::Pool("p3".into()), 0));
        // Nothing up: the all-down answer, every configured address once.
        let c = compile(&pools(&[("p1", false), ("p2", false), ("p3", false)]));
        let (choice, scope) = ask(&c, "192.0.2.0");
        assert_eq!((choice, scope), (Choice::AllDown(AllDown::ServeAll), 0));
        assert_eq!(c.summary().addresses.len(), 3);
    }
}
