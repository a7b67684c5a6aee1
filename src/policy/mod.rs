//! Routing policies: each turns pool health into prepared answers at build time, and
//! picks among them per query. Policies know pools, health and client locations; the
//! only wire format here is an answer's own address records (`answer_wire`), encoded
//! at build time.
//!
//! One file per policy kind builds its part of a small node tree (`node`); `compile`
//! walks members (pools, or other policies) into that tree; `query` is the per-query view
//! of the client; `rng` the lock-free random source for weighted and multivalue.

pub mod answer_wire;
mod compile;
pub mod failover;
pub mod geolocation;
pub mod geoproximity;
pub mod latency;
pub mod multivalue;
mod node;
mod query;
pub mod rng;
mod tree;
pub mod weighted;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record};

use crate::geo::{Coord, Locator};
use crate::zone::{AllDown, Policy, PolicyKind};
use node::Node;
use tree::{AnswerId, Branch};

/// A pool's health as a policy sees it, computed once per table build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolState {
    pub up: bool,
    /// Addresses that are up, in configured order.
    pub healthy: Vec<IpAddr>,
    /// Every configured address, for all-down fallbacks.
    pub configured: Vec<IpAddr>,
}

/// Each pool's state by name. Shared by `Arc`, so a rebuild after one pool changes copies
/// pointers, not address lists.
pub type PoolStates = HashMap<Arc<str>, Arc<PoolState>>;

/// Each pool's smoothed RTT from each probe region that measured it: pool -> [(region,
/// RTT)], the mean over the pool's healthy addresses.
pub type PoolRtts = HashMap<Arc<str>, Vec<(Arc<str>, Duration)>>;

/// Where each probe region is.
pub type Regions = HashMap<Arc<str>, Coord>;

/// Who is asking: the resolver's address and, when sent, its EDNS Client Subnet.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub addr: IpAddr,
    pub subnet: Option<(IpAddr, u8)>,
}

/// What a policy chose, for logs and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Pool(Arc<str>),
    /// Addresses drawn from several pools (multivalue).
    Pools(Vec<Arc<str>>),
    AllDown(AllDown),
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Pool(p) => write!(f, "pool {p}"),
            Choice::Pools(p) => {
                let names: Vec<&str> = p.iter().map(|p| &**p).collect();
                write!(f, "pools {}", names.join("+"))
            }
            Choice::AllDown(a) => write!(f, "all pools down ({})", a.as_str()),
        }
    }
}

/// A prepared answer: the records for A and AAAA queries, encoded once per build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub choice: Choice,
    pub addresses: Vec<IpAddr>,
    pub a: Vec<Record>,
    pub aaaa: Vec<Record>,
    /// The same records in wire form, for the UDP fast path.
    pub wire: answer_wire::AnswerWire,
}

impl Answer {
    pub fn new(name: &Name, ttl: u32, choice: Choice, addresses: Vec<IpAddr>) -> Self {
        let mut a = Vec::new();
        let mut aaaa = Vec::new();
        for ip in &addresses {
            match ip {
                IpAddr::V4(v4) => a.push(Record::from_rdata(name.clone(), ttl, RData::A(A(*v4)))),
                IpAddr::V6(v6) => aaaa.push(Record::from_rdata(
                    name.clone(),
                    ttl,
                    RData::AAAA(AAAA(*v6)),
                )),
            }
        }
        Self {
            choice,
            wire: answer_wire::AnswerWire::new(ttl, &addresses),
            addresses,
            a,
            aaaa,
        }
    }
}

/// Everything a zone's policies are compiled from, besides the policy itself.
pub struct Inputs<'a> {
    pub pools: &'a PoolStates,
    /// The zone's policies, for members that are policies.
    pub policies: &'a [Policy],
    /// The zone's overrides and the database; `None` when no policy needs a location.
    pub locator: Option<Arc<Locator>>,
    /// Each latency policy's table (by label), built beforehand with its hysteresis.
    pub latency: &'a HashMap<Arc<str>, Arc<latency::Table>>,
    /// This nameserver's probe region: its latency row serves clients without a location.
    pub local_region: &'a str,
}

/// A policy compiled against one health snapshot.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub label: Arc<str>,
    pub name: Name,
    /// Every answer this policy can give, prepared; the tree indexes into it.
    answers: Vec<Answer>,
    root: Node,
    /// The all-down answer (`when_all_down`), for clients nothing is up for.
    fallback: AnswerId,
    /// What a client without ECS or location gets, for logs and status.
    summary: AnswerId,
    locator: Option<Arc<Locator>>,
    latency: Option<Arc<latency::Table>>,
}

impl Compiled {
    /// Compile a policy that has no member policies and needs no location (tests,
    /// benchmarks): member policies count as down, latency uses its first up pool.
    pub fn build(policy: &Policy, pools: &PoolStates) -> Self {
        let latency = HashMap::new();
        let inputs = Inputs {
            pools,
            policies: std::slice::from_ref(policy),
            locator: None,
            latency: &latency,
            local_region: "",
        };
        Self::compile(policy, &inputs)
    }

    pub fn compile(policy: &Policy, inputs: &Inputs<'_>) -> Self {
        let mut c = compile::Compiler::new(inputs, &policy.name, policy.ttl);
        let root = c.policy(policy);
        let order = crate::zone::pools_of(policy, inputs.policies);
        let fallback = all_down(
            &policy.name,
            policy.ttl,
            &order,
            inputs.pools,
            policy.when_all_down,
        );
        let fallback = c.push(fallback.choice, fallback.addresses);
        let summary = root.preferred().unwrap_or(fallback);
        let root = match root {
            // A tree that never answers is the fallback for everyone.
            Node::Fixed(None) => Node::Fixed(Some(fallback)),
            other => other,
        };
        Self {
            label: policy.label.clone(),
            name: policy.name.clone(),
            answers: c.answers,
            root,
            fallback,
            summary,
            locator: inputs.locator.clone(),
            latency: inputs.latency.get(&policy.label).cloned(),
        }
    }

    /// The answer for this client, and the ECS scope prefix length that decided it
    /// (0: the answer does not depend on who asks).
    #[inline]
    pub fn select(&self, client: &Client) -> (&Answer, u8) {
        if let Node::Fixed(Some(a)) = self.root {
            return (&self.answers[a as usize], 0);
        }
        let mut q = query::Query::new(client, self.locator.as_deref());
        let a = self.root.pick(&mut q).unwrap_or(self.fallback);
        (&self.answers[a as usize], q.scope())
    }

    /// Where this policy's queries place `client` (its ECS subnet first), and the
    /// prefix the location was decided on: what explain shows.
    pub fn locate(&self, client: &Client) -> crate::geo::Location {
        query::Query::new(client, self.locator.as_deref()).location()
    }

    /// The address `client`'s queries stand for: the ECS address when one was sent
    /// with a non-zero prefix, else the resolver's.
    pub fn client_ip(client: &Client) -> IpAddr {
        match client.subnet {
            Some((a, p)) if p > 0 => a,
            _ => client.addr,
        }
    }

    /// The answer most clients get, for logs and status.
    pub fn summary(&self) -> &Answer {
        &self.answers[self.summary as usize]
    }

    /// Every prepared answer, e.g. to encode them all once per build.
    pub fn answers(&self) -> &[Answer] {
        &self.answers
    }

    /// The prepared answers, for the build to add their signed wire form.
    pub fn answers_mut(&mut self) -> &mut [Answer] {
        &mut self.answers
    }

    /// Whether any answer depends on the client (its location, subnet, or chance).
    pub fn is_dynamic(&self) -> bool {
        !matches!(self.root, Node::Fixed(_))
    }

    /// A latency policy's region -> pool RTT table as of this build.
    pub fn latency_table(&self) -> Option<&Arc<latency::Table>> {
        self.latency.as_ref()
    }
}

/// Whether a policy (or a policy it contains) needs to know where clients are.
pub fn needs_location(policy: &Policy) -> bool {
    matches!(
        policy.kind,
        PolicyKind::Geolocation { .. }
            | PolicyKind::Geoproximity { .. }
            | PolicyKind::Latency { .. }
    )
}

/// Build every latency policy's table of a zone; `prev` gives the table the same label
/// had in the previous build, for hysteresis.
pub fn latency_tables(
    policies: &[Policy],
    states: &PoolStates,
    measured: &PoolRtts,
    regions: &Regions,
    prev: impl Fn(&str) -> Option<Arc<latency::Table>>,
) -> HashMap<Arc<str>, Arc<latency::Table>> {
    let mut out = HashMap::new();
    for p in policies {
        if let PolicyKind::Latency {
            pools,
            static_rtt,
            hysteresis,
        } = &p.kind
        {
            let before = prev(&p.label);
            let t = latency::table(
                &latency::TableInputs {
                    label: &p.label,
                    pools,
                    static_rtt,
                    hysteresis: *hysteresis,
                    states,
                    measured,
                    regions,
                },
                before.as_deref(),
            );
            // Unchanged tables are shared, so the next build compares against the same.
            let t = match before {
                Some(b) if *b == t => b,
                _ => Arc::new(t),
            };
            out.insert(p.label.clone(), t);
        }
    }
    out
}

/// The all-down fallback every policy shares.
pub fn all_down(
    name: &Name,
    ttl: u32,
    order: &[Arc<str>],
    pools: &PoolStates,
    mode: AllDown,
) -> Answer {
    let addresses: Vec<IpAddr> = match mode {
        AllDown::ServeAll => {
            let mut v: Vec<IpAddr> = Vec::new();
            for a in order
                .iter()
                .filter_map(|p| pools.get(p))
                .flat_map(|s| s.configured.iter())
            {
                if !v.contains(a) {
                    v.push(*a);
                }
            }
            v
        }
        AllDown::ServeFirst => order
            .first()
            .and_then(|p| pools.get(p))
            .map(|s| s.configured.clone())
            .unwrap_or_default(),
        AllDown::NoData => Vec::new(),
    };
    Answer::new(name, ttl, Choice::AllDown(mode), addresses)
}
