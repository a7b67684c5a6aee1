//! Region and sender names, one `Arc` per distinct name, so comparing two is comparing
//! pointers: with dozens of probers per target, string comparisons would dominate.
//! (Routing's `Names` is a different thing: the owner names of the zones.)

use std::collections::HashSet;
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Interner {
    all: HashSet<Arc<str>>,
    /// The last name looked up and its interned copy: a report's results share one
    /// region and one sender, so most lookups end here.
    last: Option<(Arc<str>, Arc<str>)>,
}

impl Interner {
    pub(super) fn intern(&mut self, name: &Arc<str>) -> Arc<str> {
        if let Some((seen, interned)) = &self.last {
            if Arc::ptr_eq(seen, name) {
                return interned.clone();
            }
        }
        let interned = match self.all.get(&**name) {
            Some(x) => x.clone(),
            None => {
                self.all.insert(name.clone());
                name.clone()
            }
        };
        self.last = Some((name.clone(), interned.clone()));
        interned
    }

    /// Drops the names nobody holds any more: only the table itself (and perhaps the
    /// one-entry cache) still points at them.
    pub(super) fn forget_unused(&mut self) {
        self.all.retain(|n| Arc::strong_count(n) > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_one_arc() {
        let mut names = Interner::default();
        let a = names.intern(&Arc::from("eu"));
        let b = names.intern(&Arc::from("eu"));
        let c = names.intern(&Arc::from("us"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        // The same Arc again is answered from the cache, with the interned copy.
        let again = Arc::from("eu");
        assert!(Arc::ptr_eq(&names.intern(&again), &a));
        assert!(Arc::ptr_eq(&names.intern(&again), &a));
    }
}
