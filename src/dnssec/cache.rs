//! The signature cache: RRSIGs by RRset content, bounded, refreshed before they expire, and
//! the signing counters the metrics module reads.
//!
//! Keyed by the exact canonical bytes of the RRset (owner, type, class, TTL, RDATA) plus the
//! signing keys, so equal content shares one signature whichever policy or health state
//! produced it, and there is no hash collision to worry about.
//!
//! Bound: each shard keeps two generations of entries. Inserts go to the young one; when it
//! reaches half the shard's share, the old generation is dropped and the young one becomes
//! old. A hit in the old generation moves the entry back to the young one. So the cache never
//! holds more than its capacity, everything used within the last generation survives (the
//! static RRsets and the current policy answers are read all the time), and the one-off
//! names of a random-subdomain flood of negative answers age out together, without the
//! linked list and per-hit writes an exact LRU needs. Clear-on-overflow would be simpler but
//! would make every busy RRset re-sign at once under such a flood.
//!
//! Locks are held only for a map lookup or insert; signing happens outside (see
//! `ZoneSigner::sign_at`). Shards keep the query threads off each other's locks.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::Record;
use rustc_hash::FxBuildHasher;

const SHARDS: usize = 16;

/// Counters, plain atomics (relaxed: they are statistics, not synchronization).
#[derive(Debug, Default)]
pub struct SignStats {
    /// RRSIGs made (one RRset signed by two keys counts two).
    pub signatures: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Total time spent signing, in nanoseconds.
    pub signing_nanos: AtomicU64,
    /// Entries dropped by a generation turn.
    pub evictions: AtomicU64,
}

/// A consistent-enough copy of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub signatures: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub signing_nanos: u64,
    pub evictions: u64,
}

impl SignStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            signatures: self.signatures.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
            signing_nanos: self.signing_nanos.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}

struct Entry {
    sigs: Arc<[Record]>,
    /// Unix seconds after which the entry is stale and the RRset is signed again.
    refresh_at: u64,
}

#[derive(Default)]
struct Shard {
    young: HashMap<Box<[u8]>, Entry, FxBuildHasher>,
    old: HashMap<Box<[u8]>, Entry, FxBuildHasher>,
}

impl Shard {
    fn put(&mut self, key: Box<[u8]>, entry: Entry, generation: usize, stats: &SignStats) {
        if self.young.len() >= generation && !self.young.contains_key(&key) {
            let dropped = std::mem::take(&mut self.old);
            stats
                .evictions
                .fetch_add(dropped.len() as u64, Ordering::Relaxed);
            self.old = std::mem::take(&mut self.young);
            // `dropped` is freed here, still under the lock, but it is only a free.
        }
        self.old.remove(&key);
        self.young.insert(key, entry);
    }
}

pub struct SigCache {
    shards: Box<[Mutex<Shard>]>,
    /// Entries per generation per shard: capacity / shards / 2, at least 1.
    generation: usize,
    hasher: FxBuildHasher,
    stats: SignStats,
}

impl SigCache {
    /// A cache of at most `capacity` signed RRsets (rounded up to a multiple of the shard
    /// count times two).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            generation: capacity.div_ceil(SHARDS * 2).max(1),
            hasher: FxBuildHasher,
            stats: SignStats::default(),
        }
    }

    /// The most entries the cache can hold.
    pub fn capacity(&self) -> usize {
        self.generation * 2 * SHARDS
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|e| e.into_inner());
                s.young.len() + s.old.len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> &SignStats {
        &self.stats
    }

    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// The signatures for `key` if they are fresh at `now`, with the time they stop being
    /// fresh; counts a hit or a miss.
    pub fn get(&self, key: &[u8], now: u64) -> Option<(Arc<[Record]>, u64)> {
        let found = {
            // A poisoned lock only means another thread panicked mid-insert; the maps are
            // still valid, so keep serving.
            let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = shard.young.get(key) {
                (now < e.refresh_at).then(|| (e.sigs.clone(), e.refresh_at))
            } else if let Some((k, e)) = shard.old.remove_entry(key) {
                let sigs = (now < e.refresh_at).then(|| (e.sigs.clone(), e.refresh_at));
                if sigs.is_some() {
                    shard.put(k, e, self.generation, &self.stats);
                }
                sigs
            } else {
                None
            }
        };
        let counter = if found.is_some() {
            &self.stats.cache_hits
        } else {
            &self.stats.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores freshly made signatures and accounts for the work (`signatures` RRSIGs made in
    /// `took`).
    pub fn insert(
        &self,
        key: Box<[u8]>,
        sigs: Arc<[Record]>,
        refresh_at: u64,
        signatures: usize,
        took: Duration,
    ) {
        self.stats
            .signatures
            .fetch_add(signatures as u64, Ordering::Relaxed);
        self.stats.signing_nanos.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let mut shard = self.shard(&key).lock().unwrap_or_else(|e| e.into_inner());
        shard.put(
            key,
            Entry { sigs, refresh_at },
            self.generation,
            &self.stats,
        );
    }
}
