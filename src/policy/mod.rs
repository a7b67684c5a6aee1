//! Routing policies: each turns pool health into an answer at build time, and picks
//! among prepared answers per query. Policies know pools and health; the only wire
//! format here is an answer's own address records (`wire`), encoded at build time.

pub mod failover;
pub mod wire;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record};

use crate::zone::{AllDown, Policy, PolicyKind};

/// A pool's health as a policy sees it, computed once per table build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolState {
    pub up: bool,
    /// Addresses that are up, in configured order.
    pub healthy: Vec<IpAddr>,
    /// Every configured address, for all-down fallbacks.
    pub configured: Vec<IpAddr>,
}

pub type PoolStates = HashMap<Arc<str>, PoolState>;

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
    AllDown(AllDown),
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Pool(p) => write!(f, "pool {p}"),
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
    pub wire: wire::AnswerWire,
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
            wire: wire::AnswerWire::new(ttl, &addresses),
            addresses,
            a,
            aaaa,
        }
    }
}

/// A policy compiled against one health snapshot.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub label: Arc<str>,
    pub name: Name,
    answer: Answer,
}

impl Compiled {
    pub fn build(policy: &Policy, pools: &PoolStates) -> Self {
        let answer = match &policy.kind {
            PolicyKind::Failover { pools: order } => {
                failover::build(&policy.name, policy.ttl, order, pools, policy.when_all_down)
            }
        };
        Self {
            label: policy.label.clone(),
            name: policy.name.clone(),
            answer,
        }
    }

    /// The answer for this client, and the ECS scope prefix length that decided it
    /// (0: the answer does not depend on who asks).
    #[inline]
    pub fn select(&self, _client: &Client) -> (&Answer, u8) {
        (&self.answer, 0)
    }

    /// The answer most clients get, for logs and status.
    pub fn summary(&self) -> &Answer {
        &self.answer
    }
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
        AllDown::ServeAll => order
            .iter()
            .filter_map(|p| pools.get(p))
            .flat_map(|s| s.configured.iter().copied())
            .collect(),
        AllDown::ServeFirst => order
            .first()
            .and_then(|p| pools.get(p))
            .map(|s| s.configured.clone())
            .unwrap_or_default(),
        AllDown::NoData => Vec::new(),
    };
    Answer::new(name, ttl, Choice::AllDown(mode), addresses)
}
