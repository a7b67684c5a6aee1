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

// The settings are config's (parsed with the server file); RRL only takes them.
use crate::config::limits::RrlConfig;
use crate::routing::HEADER_LEN;

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

    /// Decide for one response to `client`. `name` is the question name in wire form
    /// (hashed case-insensitively) for answers, NODATA and referrals; NXDOMAIN and errors
    /// pass an empty name, so a random-subdomain flood at one network is one stream.
    /// `now_secs` is a monotonic second.
    pub fn check(&self, client: IpAddr, class: Class, name: &[u8], now_secs: u32) -> Verdict {
        if self.cfg.exempt.iter().any(|n| n.contains(&client)) {
            return Verdict::Send;
        }
        let mut h = self.hasher.build_hasher();
        prefix(client, self.cfg.ipv4_prefix, self.cfg.ipv6_prefix).hash(&mut h);
        class.hash(&mut h);
        if !matches!(class, Class::NxDomain | Class::Error) {
            for b in name {
                h.write_u8(b.to_ascii_lowercase());
            }
        }
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

/// The question name of a query, in wire form (no compression in a question), or
/// `None` when the packet has no well-formed one.
pub fn question_name(packet: &[u8]) -> Option<&[u8]> {
    let mut i = HEADER_LEN;
    loop {
        let len = usize::from(*packet.get(i)?);
        if len == 0 {
            return packet.get(HEADER_LEN..=i);
        }
        if len > 63 || i - HEADER_LEN > 255 {
            return None;
        }
        i += 1 + len;
    }
}

/// Rewrite `reply` (to `query`) as the slip: header and question alone, TC set, so a
/// real client retries over TCP where RRL doesn't apply. `false`: can't, drop instead.
pub fn slip(query: &[u8], reply: &mut Vec<u8>) -> bool {
    let Some(name) = question_name(query) else {
        return false;
    };
    let end = 12 + name.len() + 4;
    if reply.len() < end {
        return false;
    }
    reply.truncate(end);
    reply[2] |= 0x02; // TC
    reply[4..6].copy_from_slice(&1u16.to_be_bytes());
    reply[6..12].fill(0);
    true
}

/// The class of an encoded reply, from its header.
pub fn class_of_reply(reply: &[u8]) -> Option<Class> {
    if reply.len() < 12 {
        return None;
    }
    let rcode = ResponseCode::from(0, reply[3] & 0x0f);
    let answers = usize::from(u16::from_be_bytes([reply[6], reply[7]]));
    let class = Class::of(rcode, answers, reply[2] & 0x04 != 0);
    // A signed NXDOMAIN is NOERROR with compact denial (RFC 9824): counted as what it
    // is, or a random-subdomain flood would get a bucket per name and never be limited.
    if class == Class::NoData && compact_nxdomain(reply).unwrap_or(false) {
        return Some(Class::NxDomain);
    }
    Some(class)
}

/// Past the (possibly compressed) name at `i`.
fn skip_name(p: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let len = *p.get(i)?;
        match len {
            0 => return Some(i + 1),
            l if l & 0xC0 == 0xC0 => return Some(i + 2),
            l if l > 63 => return None,
            l => i += 1 + usize::from(l),
        }
    }
}

/// Whether the authority section holds an NSEC whose bitmap has NXNAME: RFC 9824's
/// signal that the name does not exist.
fn compact_nxdomain(p: &[u8]) -> Option<bool> {
    let u16_at = |i: usize| Some(u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]));
    let authority = u16_at(8)?;
    let mut i = skip_name(p, HEADER_LEN)? + 4;
    for _ in 0..authority {
        i = skip_name(p, i)?;
        let rtype = u16_at(i)?;
        let rdlen = usize::from(u16_at(i + 8)?);
        let rdata = p.get(i + 10..i + 10 + rdlen)?;
        i += 10 + rdlen;
        if rtype != 47 {
            continue;
        }
        // Next domain name (uncompressed in NSEC), then the type bitmap windows.
        let mut j = skip_name(rdata, 0)?;
        while j + 1 < rdata.len() {
            let (window, len) = (rdata[j], usize::from(rdata[j + 1]));
            let bits = rdata.get(j + 2..j + 2 + len)?;
            // NXNAME is type 128: window 0, octet 16, high bit.
            if window == 0 && bits.get(16).is_some_and(|b| b & 0x80 != 0) {
                return Some(true);
            }
            j += 2 + len;
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in s.trim_end_matches('.').split('.') {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
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
    fn a_slip_keeps_the_question_and_sets_tc() {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(&name("www.example."));
        q.extend_from_slice(&[0, 1, 0, 1]);
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(question_name(&q), Some(&name("www.example.")[..]));
        let mut reply = q.clone();
        reply[2] = 0x84;
        reply[6..8].copy_from_slice(&1u16.to_be_bytes());
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1]);
        assert_eq!(class_of_reply(&reply), Some(Class::Answer));
        assert!(slip(&q, &mut reply));
        assert_eq!(reply.len(), 12 + name("www.example.").len() + 4);
        assert_eq!(reply[2] & 0x02, 0x02);
        assert_eq!(&reply[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(question_name(&[0; 5]), None);
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
