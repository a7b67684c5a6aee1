//! Multivalue: up to `max_answers` healthy addresses (per family) of every up pool,
//! shuffled. The shuffles are made at build time: every ordering when there are at most
//! four addresses (4! = 24), else 24 random ones, each truncated to `max_answers`; a
//! query picks one uniformly. So each address leads (and, past the limit, is included)
//! about equally often, and the query path only draws one number.

use std::net::IpAddr;

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// How many precomputed orderings: enough that every address of a typical pool set leads
/// equally often, few enough to keep prepared answers small.
pub const SHUFFLES: usize = 24;

/// The orderings to prepare, each already truncated; never empty when `addresses` isn't.
pub fn shuffles(addresses: &[IpAddr], max_answers: usize, seed: u64) -> Vec<Vec<IpAddr>> {
    let mut out: Vec<Vec<IpAddr>> = Vec::new();
    let mut add = |order: &[IpAddr]| {
        let (mut v4, mut v6) = (0, 0);
        let kept: Vec<IpAddr> = order
            .iter()
            .copied()
            .filter(|ip| {
                let n = if ip.is_ipv4() { &mut v4 } else { &mut v6 };
                *n += 1;
                *n <= max_answers
            })
            .collect();
        if !out.contains(&kept) {
            out.push(kept);
        }
    };
    if addresses.len() <= 4 {
        permute(&mut addresses.to_vec(), 0, &mut add);
    } else {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v = addresses.to_vec();
        for _ in 0..SHUFFLES {
            v.shuffle(&mut rng);
            add(&v);
        }
    }
    out
}

/// Heap-free recursive permutation by swapping: every ordering of `v[k..]`.
fn permute(v: &mut Vec<IpAddr>, k: usize, visit: &mut impl FnMut(&[IpAddr])) {
    if k + 1 >= v.len() {
        visit(v);
        return;
    }
    for i in k..v.len() {
        v.swap(k, i);
        permute(v, k + 1, visit);
        v.swap(k, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ips(n: u8) -> Vec<IpAddr> {
        (1..=n).map(|i| IpAddr::from([192, 0, 2, i])).collect()
    }

    #[test]
    fn small_sets_get_every_ordering() {
        let s = shuffles(&ips(3), 8, 1);
        assert_eq!(s.len(), 6);
        let leaders: HashMap<IpAddr, usize> = s.iter().fold(HashMap::new(), |mut m, v| {
            *m.entry(v[0]).or_default() += 1;
            m
        });
        assert!(leaders.values().all(|&n| n == 2), "{leaders:?}");
        assert_eq!(shuffles(&ips(1), 8, 1), vec![ips(1)]);
    }

    #[test]
    fn large_sets_are_truncated_per_family_and_vary() {
        let mut all = ips(12);
        all.push("2001:db8::1".parse().unwrap());
        let s = shuffles(&all, 8, 7);
        assert!(s.len() > 1);
        for v in &s {
            assert_eq!(v.iter().filter(|ip| ip.is_ipv4()).count(), 8);
            assert_eq!(v.iter().filter(|ip| ip.is_ipv6()).count(), 1);
        }
        // Over the orderings, every address is served at some point.
        for ip in &all {
            assert!(s.iter().any(|v| v.contains(ip)), "{ip} never served");
        }
        assert_eq!(shuffles(&all, 8, 7), s, "same seed, same orderings");
    }
}
