//! The per-query random source for weighted and multivalue answers: one atomic counter
//! run through SplitMix64. Lock-free, no thread-local state to seed, and with a fixed
//! seed the multiset of numbers N queries draw is the same whatever threads drew them,
//! so statistical tests are reproducible. Not for secrets.

use std::sync::atomic::{AtomicU64, Ordering};

/// SplitMix64's increment (2^64 / golden ratio): consecutive states are far apart.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

static STATE: AtomicU64 = AtomicU64::new(0x5EED_5EED_5EED_5EED);

/// Restart the sequence from `seed` (the server's `rng_seed`, or a random one).
pub fn seed(seed: u64) {
    STATE.store(seed, Ordering::Relaxed);
}

/// SplitMix64's output function: a bijective mix of all 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn next_u64() -> u64 {
    mix(STATE
        .fetch_add(GAMMA, Ordering::Relaxed)
        .wrapping_add(GAMMA))
}

/// Uniform in `0..n` (n > 0), by multiply-shift: no division, bias below 2^-50 for the
/// small `n` used here.
pub fn below(n: u64) -> u64 {
    ((next_u64() as u128 * n as u128) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut seen = [0u32; 5];
        for _ in 0..5000 {
            let v = below(5);
            assert!(v < 5);
            seen[v as usize] += 1;
        }
        // Each value expected 1000 times; 800 is more than 6 standard deviations away.
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn mix_is_not_the_identity() {
        assert_ne!(mix(1), 1);
        assert_ne!(mix(1), mix(2));
    }
}
