//! A compiled policy is a small tree of nodes over prepared answers (indices into the
//! policy's answer list). Everything client-independent is folded at build time into
//! `Fixed`, so a plain failover is one match per query; only the decisions that really
//! depend on the client (or on chance) stay as nodes.

use super::query::Query;
use super::{geolocation, geoproximity, latency, rng, weighted};

/// Index into `Compiled::answers`.
pub(crate) type AnswerId = u32;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// The same for every client: an answer, or nothing up (`None`).
    Fixed(Option<AnswerId>),
    /// The first child with an answer for this client.
    Failover(Vec<Node>),
    Weighted(Box<weighted::Weighted>),
    Geolocation(Box<geolocation::Geolocation>),
    Geoproximity(Box<geoproximity::Geoproximity>),
    Latency(Box<latency::Latency>),
    /// Multivalue: one of several precomputed permutations, uniformly.
    Shuffled(Vec<AnswerId>),
}

impl Node {
    /// This client's answer, or `None` when nothing reachable from here is up for it.
    pub(crate) fn pick(&self, q: &mut Query<'_>) -> Option<AnswerId> {
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

    /// Nothing below this node is ever up.
    pub(crate) fn is_down(&self) -> bool {
        matches!(self, Node::Fixed(None))
    }

    /// Never `None` for any client.
    pub(crate) fn always_answers(&self) -> bool {
        match self {
            Node::Fixed(a) => a.is_some(),
            Node::Shuffled(_) => true,
            Node::Failover(c) => c.iter().any(Node::always_answers),
            _ => false,
        }
    }

    /// The answer a client with no ECS, no known location and no luck gets: what logs
    /// and status show. Deterministic, unlike `pick`.
    pub(crate) fn preferred(&self) -> Option<AnswerId> {
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

    /// The same fixed answer for every child, when there is one: lets a decision that
    /// would change nothing be folded away (and its answer carry ECS scope 0).
    pub(crate) fn uniform<'n>(children: impl IntoIterator<Item = &'n Node>) -> Option<Node> {
        let mut it = children.into_iter();
        let first = match it.next()? {
            Node::Fixed(a) => *a,
            _ => return None,
        };
        it.all(|n| matches!(n, Node::Fixed(a) if *a == first))
            .then_some(Node::Fixed(first))
    }
}
