//! Weighted: members drawn by weight, per query or per client subnet. Weight 0 members
//! are a reserve, used only when no weighted member answers.
//!
//! Random mode draws from the shared counter RNG against cumulative weights built once
//! per table. Sticky mode uses weighted rendezvous hashing (each member scores
//! `w / -ln(u)`, `u` a hash of subnet and member name): a subnet keeps its member across
//! rebuilds, and when one member goes down only its own subnets move.

use super::query::Query;
use super::rng;
use super::tree::{uniform, AnswerId, Branch};

/// The client prefix sticky mode hashes: what resolvers commonly send as ECS, so one
/// resolver's clients in one network stay together.
pub const STICKY_V4: u8 = 24;
pub const STICKY_V6: u8 = 56;

#[derive(Debug, Clone)]
pub(crate) struct Arm<N> {
    node: N,
    weight: u64,
    /// Hash of the member's name: stable across rebuilds and reorderings.
    key: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Weighted<N> {
    main: Vec<Arm<N>>,
    /// Running sums of `main`'s weights, for the random draw.
    cumulative: Vec<u64>,
    total: u64,
    reserve: Vec<Arm<N>>,
    sticky: bool,
}

/// Hash a member name for rendezvous keys (FNV-1a, then mixed).
pub(crate) fn name_key(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    rng::mix(h)
}

/// `arms`: (node, weight, member name).
pub(crate) fn build<N>(arms: Vec<(N, u32, &str)>, sticky: bool) -> N
where
    N: Branch + From<Box<Weighted<N>>>,
{
    let arms: Vec<Arm<N>> = arms
        .into_iter()
        .filter(|(n, _, _)| !n.is_down())
        .map(|(node, weight, name)| Arm {
            node,
            weight: u64::from(weight),
            key: name_key(name),
        })
        .collect();
    let (mut main, mut reserve): (Vec<Arm<N>>, Vec<Arm<N>>) =
        arms.into_iter().partition(|a| a.weight > 0);
    if main.is_empty() {
        // Nothing weighted is up: the reserve shares the traffic equally.
        main = std::mem::take(&mut reserve);
        main.iter_mut().for_each(|a| a.weight = 1);
    }
    if main.is_empty() {
        return N::fixed(None);
    }
    if main.iter().all(|a| a.node.always_answers()) {
        reserve.clear();
    }
    if main.len() == 1 && reserve.is_empty() {
        return main.pop().map_or(N::fixed(None), |a| a.node);
    }
    if reserve.is_empty() {
        if let Some(same) = uniform(main.iter().map(|a| &a.node)) {
            return same;
        }
    }
    let mut total = 0;
    let cumulative = main
        .iter()
        .map(|a| {
            total += a.weight;
            total
        })
        .collect();
    N::from(Box::new(Weighted {
        main,
        cumulative,
        total,
        reserve,
        sticky,
    }))
}

/// Rendezvous score: higher wins. `u` is in (0, 1), so `-ln(u)` is positive.
fn score<N>(arm: &Arm<N>, key: u64) -> f64 {
    let u = ((rng::mix(key ^ arm.key) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    arm.weight as f64 / -u.ln()
}

impl<N: Branch> Weighted<N> {
    pub(crate) fn pick(&self, q: &mut Query<'_>) -> Option<AnswerId> {
        if self.sticky {
            let key = q.subnet_key(STICKY_V4, STICKY_V6);
            return Self::by_score(&self.main, key, q)
                .or_else(|| Self::by_score(&self.reserve, key, q));
        }
        let r = rng::below(self.total);
        let first = self.cumulative.partition_point(|&c| c <= r);
        let n = self.main.len();
        // A member with nothing for this client (a composed geo policy, say) passes the
        // query on to the next one.
        (0..n)
            .find_map(|i| self.main[(first + i) % n].node.pick(q))
            .or_else(|| {
                let n = self.reserve.len();
                let start = if n > 1 {
                    rng::below(n as u64) as usize
                } else {
                    0
                };
                (0..n).find_map(|i| self.reserve[(start + i) % n].node.pick(q))
            })
    }

    fn by_score(arms: &[Arm<N>], key: u64, q: &mut Query<'_>) -> Option<AnswerId> {
        let best = arms
            .iter()
            .enumerate()
            .max_by(|a, b| score(a.1, key).total_cmp(&score(b.1, key)))?;
        if let Some(a) = best.1.node.pick(q) {
            return Some(a);
        }
        // Rare: the best member has nothing for this client. Try the rest in score order.
        let mut rest: Vec<(f64, usize)> = arms
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best.0)
            .map(|(i, a)| (score(a, key), i))
            .collect();
        rest.sort_by(|a, b| b.0.total_cmp(&a.0));
        rest.into_iter().find_map(|(_, i)| arms[i].node.pick(q))
    }

    pub(crate) fn preferred(&self) -> Option<AnswerId> {
        let heaviest = self.main.iter().max_by_key(|a| a.weight)?;
        heaviest
            .node
            .preferred()
            .or_else(|| self.main.iter().find_map(|a| a.node.preferred()))
            .or_else(|| self.reserve.iter().find_map(|a| a.node.preferred()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::node::Node;
    use crate::policy::Client;

    fn client(subnet: &str) -> Client {
        Client {
            addr: "127.0.0.1".parse().unwrap(),
            subnet: Some((subnet.parse().unwrap(), 24)),
        }
    }

    fn pick(n: &Node, c: &Client) -> Option<AnswerId> {
        n.pick(&mut Query::new(c, None))
    }

    #[test]
    fn shares_follow_weights() {
        let n = build(
            vec![
                (Node::Fixed(Some(0)), 3, "a"),
                (Node::Fixed(Some(1)), 1, "b"),
                (Node::Fixed(Some(2)), 0, "c"),
            ],
            false,
        );
        let c = client("192.0.2.0");
        let mut counts = [0u32; 3];
        for _ in 0..8000 {
            counts[pick(&n, &c).unwrap() as usize] += 1;
        }
        // Expected 6000/2000/0; 4.5 standard deviations (sd ~39) is about 175.
        assert!((counts[0] as i64 - 6000).abs() < 175, "{counts:?}");
        assert_eq!(counts[2], 0, "the reserve served while others were up");
    }

    #[test]
    fn the_reserve_serves_only_when_nothing_weighted_is_up() {
        let n = build(
            vec![(Node::Fixed(None), 3, "a"), (Node::Fixed(Some(2)), 0, "c")],
            false,
        );
        assert!(matches!(n, Node::Fixed(Some(2))));
        let all_down = build(
            vec![(Node::Fixed(None), 3, "a"), (Node::Fixed(None), 0, "c")],
            false,
        );
        assert!(all_down.is_down());
    }

    #[test]
    fn sticky_subnets_keep_their_member_and_only_a_lost_members_subnets_move() {
        let arms = |b_up: bool| {
            vec![
                (Node::Fixed(Some(0)), 1, "a"),
                (Node::Fixed(if b_up { Some(1) } else { None }), 1, "b"),
                (Node::Fixed(Some(2)), 2, "c"),
            ]
        };
        let before = build(arms(true), true);
        let after = build(arms(false), true);
        let mut counts = [0u32; 3];
        for i in 0..1000u32 {
            let c = client(&format!("10.{}.{}.0", i / 256, i % 256));
            let a = pick(&before, &c).unwrap();
            assert_eq!(pick(&before, &c), Some(a), "same subnet, other answer");
            counts[a as usize] += 1;
            let b = pick(&after, &c).unwrap();
            if a != 1 {
                assert_eq!(a, b, "a subnet moved though its member stayed up");
            } else {
                assert_ne!(b, 1);
            }
        }
        // Expected 250/250/500 subnets; sd ~14-16, so ±80 is over 5 of them.
        assert!((counts[2] as i64 - 500).abs() < 80, "{counts:?}");
        assert!((counts[0] as i64 - 250).abs() < 80, "{counts:?}");
    }
}
