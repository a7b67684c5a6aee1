//! A zone's names, keyed by their lowercase wire form: one flat vector of entries, the
//! keys end to end in one arena, and a hash table of indices. A map of boxed keys cost
//! 48-octet buckets plus a heap block per name (about 130 octets a name at 1,000,000
//! names); this costs the entry, the key's octets and 5 octets of table.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Entries of type `E` by key. Keys are never removed.
#[derive(Debug)]
pub(super) struct NodeIndex<E> {
    table: HashTable<u32>,
    entries: Vec<(KeyAt, E)>,
    keys: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct KeyAt {
    start: u32,
    len: u8,
}

impl KeyAt {
    #[inline]
    fn of(self, keys: &[u8]) -> &[u8] {
        &keys[self.start as usize..][..self.len as usize]
    }
}

impl<E> Default for NodeIndex<E> {
    fn default() -> Self {
        NodeIndex {
            table: HashTable::new(),
            entries: Vec::new(),
            keys: Vec::new(),
        }
    }
}

#[inline]
fn hash(key: &[u8]) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl<E> NodeIndex<E> {
    pub(super) fn with_capacity(n: usize) -> Self {
        NodeIndex {
            table: HashTable::with_capacity(n),
            entries: Vec::with_capacity(n),
            keys: Vec::with_capacity(n * 16),
        }
    }

    #[inline]
    fn key_of(&self, at: KeyAt) -> &[u8] {
        at.of(&self.keys)
    }

    fn find(&self, key: &[u8]) -> Option<usize> {
        self.table
            .find(hash(key), |&i| {
                self.key_of(self.entries[i as usize].0) == key
            })
            .map(|&i| i as usize)
    }

    #[inline]
    pub(super) fn get(&self, key: &[u8]) -> Option<&E> {
        self.find(key).map(|i| &self.entries[i].1)
    }

    pub(super) fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// The index of `key`'s entry, made with `E::default()` if missing. `None` for a key
    /// longer than a wire name or an index past u32 (never for a checked zone).
    pub(super) fn index_or_default(&mut self, key: &[u8]) -> Option<usize>
    where
        E: Default,
    {
        if let Some(i) = self.find(key) {
            return Some(i);
        }
        let len = u8::try_from(key.len()).ok()?;
        let start = u32::try_from(self.keys.len()).ok()?;
        let i = u32::try_from(self.entries.len()).ok()?;
        self.keys.extend_from_slice(key);
        self.entries.push((KeyAt { start, len }, E::default()));
        let NodeIndex {
            table,
            entries,
            keys,
        } = self;
        table.insert_unique(hash(key), i, |&j| hash(entries[j as usize].0.of(keys)));
        Some(i as usize)
    }

    pub(super) fn at_mut(&mut self, i: usize) -> &mut E {
        &mut self.entries[i].1
    }

    /// Every (key, entry), in insertion order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &E)> + '_ {
        self.entries.iter().map(|(at, e)| (self.key_of(*at), e))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &E> + '_ {
        self.entries.iter().map(|(_, e)| e)
    }

    /// Every entry mutably, in insertion order (the order of `iter`).
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut E> + '_ {
        self.entries.iter_mut().map(|(_, e)| e)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.entries.iter().map(|(at, _)| self.key_of(*at))
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.keys.shrink_to_fit();
        let NodeIndex {
            table,
            entries,
            keys,
        } = self;
        table.shrink_to_fit(|&j| hash(entries[j as usize].0.of(keys)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_key_and_kept_in_insertion_order() {
        let mut n: NodeIndex<u32> = NodeIndex::default();
        let keys: Vec<Vec<u8>> = (0..1000u32)
            .map(|i| format!("\x04h{i:03}\x04test\x00").into_bytes())
            .collect();
        for (i, k) in keys.iter().enumerate() {
            let at = n.index_or_default(k).unwrap();
            *n.at_mut(at) = i as u32;
        }
        // A second insert of a present key finds it.
        assert_eq!(n.index_or_default(&keys[7]), Some(7));
        assert_eq!(n.keys().count(), 1000);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(n.get(k), Some(&(i as u32)));
        }
        assert!(!n.contains_key(b"\x04h999\x04tesT\x00"));
        assert!(n.get(b"\x04test\x00").is_none());
        let order: Vec<u32> = n.values().copied().collect();
        assert_eq!(order, (0..1000).collect::<Vec<_>>());
        assert_eq!(n.iter().nth(3).unwrap().0, &keys[3][..]);
        n.shrink_to_fit();
        assert_eq!(n.get(&keys[999]), Some(&999));
    }

    #[test]
    fn an_overlong_key_is_refused() {
        let mut n: NodeIndex<u8> = NodeIndex::default();
        assert_eq!(n.index_or_default(&[1u8; 300]), None);
        assert_eq!(n.keys().count(), 0);
    }
}
