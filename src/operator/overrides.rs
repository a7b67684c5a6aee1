//! The set of operator overrides in force: pure bookkeeping with an injected clock, so
//! expiry is tested without waiting. [`super::Operator`] wraps it with a lock and a timer.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hickory_proto::rr::{LowerName, Name};
use serde::Serialize;
use tokio::time::Instant;

use crate::routing::{Forced, Overlay};

/// Who set an override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "id")]
pub enum Source {
    Operator,
    Drill(u64),
}

/// What an override applies to: a pool, or one address of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub zone: Name,
    pub pool: Arc<str>,
    pub address: Option<IpAddr>,
}

impl Scope {
    fn same(&self, other: &Scope) -> bool {
        LowerName::new(&self.zone) == LowerName::new(&other.zone)
            && self.pool == other.pool
            && self.address == other.address
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.zone, self.pool)?;
        if let Some(a) = self.address {
            write!(f, "/{a}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Override {
    pub id: u64,
    pub scope: Scope,
    pub action: Forced,
    pub reason: String,
    pub source: Source,
    pub created: SystemTime,
    pub expires: SystemTime,
    /// When the expiry timer fires (monotonic; `expires` is for people).
    pub deadline: Instant,
}

/// Overrides by id.
#[derive(Debug, Default)]
pub struct Overrides {
    items: BTreeMap<u64, Override>,
    next_id: u64,
}

impl Overrides {
    /// Sets an override for `ttl`, replacing any other on the same scope (returned).
    pub fn set(
        &mut self,
        scope: Scope,
        action: Forced,
        reason: String,
        source: Source,
        ttl: Duration,
        now: Instant,
    ) -> (Override, Option<Override>) {
        let replaced = self
            .items
            .iter()
            .find(|(_, o)| o.scope.same(&scope))
            .map(|(id, _)| *id)
            .and_then(|id| self.items.remove(&id));
        self.next_id += 1;
        let created = SystemTime::now();
        let o = Override {
            id: self.next_id,
            scope,
            action,
            reason,
            source,
            created,
            expires: created + ttl,
            deadline: now + ttl,
        };
        self.items.insert(o.id, o.clone());
        (o, replaced)
    }

    /// Puts back an override saved before a restart, with its own id and times; the
    /// timer runs for what is left of it. Later ids continue after the largest seen.
    pub fn restore(&mut self, o: Override) {
        self.next_id = self.next_id.max(o.id);
        self.items.insert(o.id, o);
    }

    pub fn remove(&mut self, id: u64) -> Option<Override> {
        self.items.remove(&id)
    }

    pub fn remove_scope(&mut self, scope: &Scope) -> Option<Override> {
        let id = *self.items.iter().find(|(_, o)| o.scope.same(scope))?.0;
        self.items.remove(&id)
    }

    /// Removes and returns every override due at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Override> {
        let due: Vec<u64> = self
            .items
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        due.iter().filter_map(|id| self.items.remove(id)).collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.items.values().map(|o| o.deadline).min()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Override> {
        self.items.values()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn overlay(&self, generation: u64) -> Overlay {
        let mut o = Overlay::default();
        o.generation = generation;
        for x in self.items.values() {
            match x.scope.address {
                None => o.force_pool(&x.scope.zone, &x.scope.pool, x.action),
                Some(a) => o.force_address(&x.scope.zone, &x.scope.pool, a, x.action),
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(pool: &str, addr: Option<&str>) -> Scope {
        Scope {
            zone: Name::from_ascii("Example.TEST.").unwrap(),
            pool: pool.into(),
            address: addr.map(|a| a.parse().unwrap()),
        }
    }

    #[test]
    fn same_scope_replaces_and_expiry_removes_only_what_is_due() {
        let now = Instant::now();
        let mut o = Overrides::default();
        let s = Duration::from_secs;
        let (a, r) = o.set(
            scope("east", None),
            Forced::Down,
            "m".into(),
            Source::Operator,
            s(60),
            now,
        );
        assert!(r.is_none());
        let (b, r) = o.set(
            scope("east", Some("192.0.2.1")),
            Forced::Down,
            "m".into(),
            Source::Operator,
            s(10),
            now,
        );
        assert!(r.is_none());
        // Same pool, other spelling of the zone: replaces `a`.
        let mut again = scope("east", None);
        again.zone = Name::from_ascii("example.test.").unwrap();
        let (c, r) = o.set(again, Forced::Up, "m".into(), Source::Operator, s(30), now);
        assert_eq!(r.unwrap().id, a.id);
        assert_eq!(o.len(), 2);
        assert_eq!(o.next_deadline(), Some(now + s(10)));

        let zone = LowerName::new(&Name::from_ascii("example.test.").unwrap());
        let ov = o.overlay(1);
        assert_eq!(ov.pool(&zone, &"east".into()), Some(Forced::Up));
        assert_eq!(
            ov.address(&zone, &"east".into(), "192.0.2.1".parse().unwrap()),
            Some(Forced::Down)
        );

        assert!(o.expire(now + s(9)).is_empty());
        let gone = o.expire(now + s(10));
        assert_eq!(gone.iter().map(|x| x.id).collect::<Vec<_>>(), vec![b.id]);
        assert_eq!(o.next_deadline(), Some(now + s(30)));
        assert_eq!(o.expire(now + s(31)).len(), 1);
        assert!(o.is_empty() && o.overlay(2).is_empty());
        assert!(o.remove(c.id).is_none());
    }
}
