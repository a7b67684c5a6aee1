//! Response rate limiting (RRL), as knot and BIND do it: a flood of identical answers
//! toward one client network (often a spoofed victim) is cut down to a configured rate.
//! Answers over the rate are dropped, except every `slip`-th, which goes out empty with
//! TC set so a real client behind that network retries over TCP and still gets through.
//!
//! State is a fixed table of atomic slots, indexed by a hash of (client prefix, answer
//! class, name): no allocation, no lock, bounded memory whatever the flood. Two keys
//! that share a slot share a budget, which errs on the side of limiting.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::LowerName;

/// What to do with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Send it empty with TC set.
    Slip,
    Drop,
}

/// Responses that share a budget: the same answer, or for errors the same zone, so a
/// random-subdomain flood counts as one stream (as knot classifies them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Answer,
    NoData,
    NxDomain,
    Referral,
    Error,
}

impl Class {
    pub fn of(rcode: ResponseCode, answers: usize, authoritative: bool) -> Self {
        match rcode {
            ResponseCode::NoError if answers > 0 => Class::Answer,
            ResponseCode::NoError if !authoritative => Class::Referral,
            ResponseCode::NoError => Class::NoData,
            ResponseCode::NXDomain => Class::NxDomain,
            _ => Class::Error,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RrlConfig {
    /// Identical responses per second per client network.
    pub rate: u32,
    /// Every n-th limited response is slipped (sent truncated); 0 drops them all.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Networks never limited (monitoring, known resolvers).
    pub exempt: Vec<ipnet::IpNet>,
    /// Slots in the table; rounded up to a power of two.
    pub table_size: usize,
}

impl Default for RrlConfig {
    fn default() -> Self {
        Self {
            rate: 20,
            slip: 2,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Vec::new(),
            table_size: 1 << 16,
        }
    }
}

/// Counters, read by metrics.
#[derive(Debug, Default)]
pub struct RrlStats {
    pub limited_dropped: AtomicU64,
    pub limited_slipped: AtomicU64,
}

pub struct Rrl {
    cfg: RrlConfig,
    /// Each slot: high 32 bits = the second it counts for, low 32 = responses in it.
    slots: Box<[AtomicU64]>,
    hasher: std::collections::hash_map::RandomState,
    pub stats: RrlStats,
}

fn prefix(addr: IpAddr, v4: u8, v6: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = if v4 == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(v4.min(32)))
            };
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = if v6 == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(v6.min(128)))
            };
            IpAddr::V6((bits & mask).into())
        }
    }
}

impl Rrl {
    pub fn new(cfg: RrlConfig) -> Self {
        let n = cfg.table_size.max(64).next_power_of_two();
        Self {
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            // A per-process random key: an attacker can't aim collisions at a victim.
            hasher: std::collections::hash_map::RandomState::new(),
            stats: RrlStats::default(),
            cfg,
        }
    }

    /// Decide for one response to `client`. `name` is the question name for answers and
    /// NODATA, the zone apex for NXDOMAIN and errors. `now_secs` is a monotonic second.
    pub fn check(&self, client: IpAddr, class: Class, name: &LowerName, now_secs: u32) -> Verdict {
        if self.cfg.exempt.iter().any(|n| n.contains(&client)) {
            return Verdict::Send;
        }
        let mut h = self.hasher.build_hasher();
        prefix(client, self.cfg.ipv4_prefix, self.cfg.ipv6_prefix).hash(&mut h);
        class.hash(&mut h);
        name.hash(&mut h);
        let slot = &self.slots[(h.finish() as usize) & (self.slots.len() - 1)];

        let count = loop {
            let cur = slot.load(Ordering::Relaxed);
            let (sec, n) = ((cur >> 32) as u32, cur as u32);
            let n = if sec == now_secs {
                n.saturating_add(1)
            } else {
                1
            };
            let next = (u64::from(now_secs) << 32) | u64::from(n);
            if slot
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                break n;
            }
        };
        if count <= self.cfg.rate {
            return Verdict::Send;
        }
        let over = count - self.cfg.rate;
        if self.cfg.slip > 0 && over % self.cfg.slip == 0 {
            self.stats.limited_slipped.fetch_add(1, Ordering::Relaxed);
            Verdict::Slip
        } else {
            self.stats.limited_dropped.fetch_add(1, Ordering::Relaxed);
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;

    fn name(s: &str) -> LowerName {
        LowerName::new(&Name::from_ascii(s).unwrap())
    }

    fn run(rrl: &Rrl, client: &str, n: u32, sec: u32) -> (u32, u32, u32) {
        let (mut send, mut slip, mut drop) = (0, 0, 0);
        for _ in 0..n {
            match rrl.check(
                client.parse().unwrap(),
                Class::Answer,
                &name("a.example."),
                sec,
            ) {
                Verdict::Send => send += 1,
                Verdict::Slip => slip += 1,
                Verdict::Drop => drop += 1,
            }
        }
        (send, slip, drop)
    }

    fn limiter(rate: u32, slip: u32) -> Rrl {
        Rrl::new(RrlConfig {
            rate,
            slip,
            exempt: vec!["192.0.2.128/25".parse().unwrap()],
            ..RrlConfig::default()
        })
    }

    #[test]
    fn under_the_rate_everything_is_sent() {
        let rrl = limiter(10, 2);
        assert_eq!(run(&rrl, "198.51.100.7", 10, 100), (10, 0, 0));
        // A new second, a new budget.
        assert_eq!(run(&rrl, "198.51.100.7", 10, 101), (10, 0, 0));
    }

    #[test]
    fn over_the_rate_every_slip_th_is_truncated_and_the_rest_dropped() {
        let rrl = limiter(10, 2);
        assert_eq!(run(&rrl, "198.51.100.7", 30, 100), (10, 10, 10));
        assert_eq!(rrl.stats.limited_slipped.load(Ordering::Relaxed), 10);
        assert_eq!(rrl.stats.limited_dropped.load(Ordering::Relaxed), 10);
        let no_slip = limiter(5, 0);
        assert_eq!(run(&no_slip, "198.51.100.7", 20, 100), (5, 0, 15));
    }

    #[test]
    fn one_network_shares_a_budget_and_others_have_their_own() {
        let rrl = limiter(10, 0);
        assert_eq!(run(&rrl, "198.51.100.7", 6, 100).0, 6);
        // Same /24: the same budget.
        assert_eq!(run(&rrl, "198.51.100.200", 6, 100).0, 4);
        // Another /24 is untouched.
        assert_eq!(run(&rrl, "198.51.101.7", 6, 100).0, 6);
        // IPv6 groups by /56.
        assert_eq!(run(&rrl, "2001:db8:0:1::1", 8, 100).0, 8);
        assert_eq!(run(&rrl, "2001:db8:0:1::2", 8, 100).0, 2);
    }

    #[test]
    fn exempt_networks_are_never_limited() {
        let rrl = limiter(1, 0);
        assert_eq!(run(&rrl, "192.0.2.200", 50, 100), (50, 0, 0));
        assert_eq!(run(&rrl, "192.0.2.100", 50, 100).0, 1);
    }

    #[test]
    fn classes_and_names_are_separate_streams() {
        let rrl = limiter(1, 0);
        let c: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            rrl.check(c, Class::Answer, &name("a.example."), 5),
            Verdict::Send
        );
        assert_eq!(
            rrl.check(c, Class::Answer, &name("b.example."), 5),
            Verdict::Send
        );
        assert_eq!(
            rrl.check(c, Class::NxDomain, &name("a.example."), 5),
            Verdict::Send
        );
        assert_eq!(
            rrl.check(c, Class::Answer, &name("a.example."), 5),
            Verdict::Drop
        );
    }

    #[test]
    fn classes_follow_the_response() {
        assert_eq!(Class::of(ResponseCode::NoError, 2, true), Class::Answer);
        assert_eq!(Class::of(ResponseCode::NoError, 0, true), Class::NoData);
        assert_eq!(Class::of(ResponseCode::NoError, 0, false), Class::Referral);
        assert_eq!(Class::of(ResponseCode::NXDomain, 0, true), Class::NxDomain);
        assert_eq!(Class::of(ResponseCode::Refused, 0, false), Class::Error);
    }
}
