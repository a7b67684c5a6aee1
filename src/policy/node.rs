//! A compiled policy is a small tree of nodes over prepared answers (indices into the
//! policy's answer list). Everything client-independent is folded at build time into
//! `Fixed`, so a plain failover is one match per query; only the decisions that really
//! depend on the client (or on chance) stay as nodes.
//!
//! `Node` is the closed enum that dispatches statically; the kinds build it through
//! `tree::Branch` and the `From` conversions here, so they never import this file.

use super::geolocation::Geolocation;
use super::geoproximity::Geoproximity;
use super::latency::Latency;
use super::query::Query;
use super::rng;
use super::tree::{AnswerId, Branch};
use super::weighted::Weighted;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// The same for every client: an answer, or nothing up (`None`).
    Fixed(Option<AnswerId>),
    /// The first child with an answer for this client.
    Failover(Vec<Node>),
    Weighted(Box<Weighted<Node>>),
    Geolocation(Box<Geolocation<Node>>),
    Geoproximity(Box<Geoproximity>),
    Latency(Box<Latency<Node>>),
    /// Multivalue: one of several precomputed permutations, uniformly.
    Shuffled(Vec<AnswerId>),
}

impl Branch for Node {
    fn fixed(answer: Option<AnswerId>) -> Self {
        Node::Fixed(answer)
    }

    fn as_fixed(&self) -> Option<Option<AnswerId>> {
        match self {
            Node::Fixed(a) => Some(*a),
            _ => None,
        }
    }

    fn pick(&self, q: &mut Query<'_>) -> Option<AnswerId> {
        match self {
            Node::Fixed(a) => *a,
            Node::Failover(children) => children.iter().find_map(|c| c.pick(q)),
            Node::Weighted(w) => w.pick(q),
            Node::Geolocation(g) => g.pick(q),
            Node::Geoproximity(g) => g.pick(q),
            Node::Latency(l) => l.pick(q),
            Node::Shuffled(v) => Some(v[rng::below(v.len() as u64) as usize]),
        }
    }

    fn preferred(&self) -> Option<AnswerId> {
        match self {
            Node::Fixed(a) => *a,
            Node::Failover(c) => c.iter().find_map(Node::preferred),
            Node::Weighted(w) => w.preferred(),
            Node::Geolocation(g) => g.preferred(),
            Node::Geoproximity(g) => g.preferred(),
            Node::Latency(l) => l.preferred(),
            Node::Shuffled(v) => v.first().copied(),
        }
    }

    fn always_answers(&self) -> bool {
        match self {
            Node::Fixed(a) => a.is_some(),
            Node::Shuffled(_) => true,
            Node::Failover(c) => c.iter().any(Node::always_answers),
            _ => false,
        }
    }
}

impl From<Box<Weighted<Node>>> for Node {
    fn from(w: Box<Weighted<Node>>) -> Self {
        Node::Weighted(w)
    }
}

impl From<Box<Geolocation<Node>>> for Node {
    fn from(g: Box<Geolocation<Node>>) -> Self {
        Node::Geolocation(g)
    }
}

impl From<Box<Geoproximity>> for Node {
    fn from(g: Box<Geoproximity>) -> Self {
        Node::Geoproximity(g)
    }
}

impl From<Box<Latency<Node>>> for Node {
    fn from(l: Box<Latency<Node>>) -> Self {
        Node::Latency(l)
    }
}
