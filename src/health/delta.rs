//! What changed between two health snapshots: targets whose health differs and targets
//! whose RTT from some region differs. When the newer snapshot lists what changed since
//! the older one (`HealthSnapshot::changed_since`), only those targets are compared, so
//! the cost is the change's, not the fleet's; otherwise one pass over the newer snapshot
//! (and over the older one only when targets disappeared). Either way a rebuild after one
//! change can go straight to the pools that change touches.

use std::collections::HashMap;
use std::time::Duration;

use super::{Health, HealthSnapshot};
use crate::zone::Target;

/// One target whose health differs between the two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetChange {
    pub target: Target,
    /// Its health in the older snapshot; `Unknown` when it was not there.
    pub was: Health,
    /// Its health in the newer one; `None` when it is no longer there (which routing
    /// reads as unknown).
    pub now: Option<Health>,
}

/// Every difference between two snapshots that routing reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub health: Vec<TargetChange>,
    /// Targets measured, no longer measured or measured differently from some region.
    /// A target may appear more than once (once per region).
    pub rtt: Vec<Target>,
}

impl Delta {
    pub fn between(old: &HealthSnapshot, new: &HealthSnapshot) -> Delta {
        if std::ptr::eq(old, new) {
            return Delta::default();
        }
        match new.changed_since(old) {
            Some(listed) => Delta::of(old, new, listed),
            None => Delta::compare_all(old, new),
        }
    }

    /// The differences among `listed` only: the caller knows no other target differs.
    fn of(old: &HealthSnapshot, new: &HealthSnapshot, listed: &[Target]) -> Delta {
        let mut out = Delta::default();
        for t in listed {
            let was = old.targets.get(t).map_or(Health::Unknown, |s| s.health);
            let now = new.targets.get(t).map(|s| s.health);
            // As in `compare_all`: an unknown target that disappears is no change.
            if now.unwrap_or(Health::Unknown) != was {
                out.health.push(TargetChange {
                    target: t.clone(),
                    was,
                    now,
                });
            }
        }
        let empty = HashMap::new();
        let regions = new
            .rtt
            .keys()
            .chain(old.rtt.keys().filter(|r| !new.rtt.contains_key(*r)));
        for region in regions {
            let before = old.rtt.get(region).unwrap_or(&empty);
            let after = new.rtt.get(region).unwrap_or(&empty);
            out.rtt.extend(
                listed
                    .iter()
                    .filter(|t| before.get(*t) != after.get(*t))
                    .cloned(),
            );
        }
        out
    }

    fn compare_all(old: &HealthSnapshot, new: &HealthSnapshot) -> Delta {
        let mut out = Delta::default();
        let mut kept = 0;
        for (t, s) in &new.targets {
            let was = match old.targets.get(t) {
                Some(p) => {
                    kept += 1;
                    p.health
                }
                None => Health::Unknown,
            };
            if was != s.health {
                out.health.push(TargetChange {
                    target: t.clone(),
                    was,
                    now: Some(s.health),
                });
            }
        }
        if kept < old.targets.len() {
            for (t, p) in &old.targets {
                if p.health != Health::Unknown && !new.targets.contains_key(t) {
                    out.health.push(TargetChange {
                        target: t.clone(),
                        was: p.health,
                        now: None,
                    });
                }
            }
        }
        let empty = HashMap::new();
        for (region, rtts) in &new.rtt {
            let before = old.rtt.get(region).unwrap_or(&empty);
            rtt_changes(before, rtts, &mut out.rtt);
        }
        for (region, rtts) in &old.rtt {
            if !new.rtt.contains_key(region) {
                out.rtt.extend(rtts.keys().cloned());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.health.is_empty() && self.rtt.is_empty()
    }
}

fn rtt_changes(
    old: &HashMap<Target, Duration>,
    new: &HashMap<Target, Duration>,
    out: &mut Vec<Target>,
) {
    let mut kept = 0;
    for (t, d) in new {
        match old.get(t) {
            Some(p) => {
                kept += 1;
                if p != d {
                    out.push(t.clone());
                }
            }
            None => out.push(t.clone()),
        }
    }
    if kept < old.len() {
        out.extend(old.keys().filter(|t| !new.contains_key(*t)).cloned());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;
    use crate::health::TargetStatus;

    fn target(n: u8) -> Target {
        Target {
            check: "z./web".into(),
            addr: std::net::IpAddr::from([127, 0, 0, n]),
        }
    }

    fn snap(states: &[(u8, Health)], rtt: &[(&str, u8, u64)]) -> HealthSnapshot {
        let mut h = HealthSnapshot::default();
        for (n, health) in states {
            h.targets.insert(
                target(*n),
                TargetStatus {
                    health: *health,
                    since: SystemTime::UNIX_EPOCH,
                    last_reason: String::new(),
                    latency: None,
                },
            );
        }
        for (region, n, ms) in rtt {
            h.rtt
                .entry(Arc::from(*region))
                .or_default()
                .insert(target(*n), Duration::from_millis(*ms));
        }
        h
    }

    #[test]
    fn health_changes_appearances_and_disappearances_are_reported() {
        use Health::*;
        let old = snap(&[(1, Up), (2, Up), (3, Down), (4, Unknown)], &[]);
        // 1 the same, 2 down, 3 gone, 4 gone (was unknown: no change), 5 new and up,
        // 6 new and unknown (no change).
        let new = snap(&[(1, Up), (2, Down), (5, Up), (6, Unknown)], &[]);
        let mut d = Delta::between(&old, &new);
        d.health.sort_by(|a, b| a.target.cmp(&b.target));
        let got: Vec<_> = d
            .health
            .iter()
            .map(|c| (c.target.addr.to_string(), c.was, c.now))
            .collect();
        assert_eq!(
            got,
            [
                ("127.0.0.2".to_string(), Up, Some(Down)),
                ("127.0.0.3".to_string(), Down, None),
                ("127.0.0.5".to_string(), Unknown, Some(Up)),
            ]
        );
        assert!(d.rtt.is_empty());
        assert!(Delta::between(&new, &new.clone()).is_empty());
    }

    fn sorted(mut d: Delta) -> Delta {
        d.health.sort_by(|a, b| a.target.cmp(&b.target));
        d.rtt.sort();
        d
    }

    #[test]
    fn a_change_list_that_follows_gives_what_comparing_everything_gives() {
        use Health::*;
        let lineage = crate::health::Lineage::new();
        let mut old = snap(
            &[(1, Up), (2, Up), (3, Down), (4, Unknown), (7, Up)],
            &[("east", 1, 10), ("east", 2, 20), ("west", 3, 30)],
        );
        (old.lineage, old.generation) = (lineage, 5);
        // 2 down, 3 gone, 4 gone (unknown), 5 new, 1's RTT moved, west gone, 7 listed
        // though unchanged.
        let mut new = snap(
            &[(1, Up), (2, Down), (5, Up), (7, Up)],
            &[("east", 1, 11), ("east", 2, 20), ("north", 5, 40)],
        );
        (new.lineage, new.generation) = (lineage, 6);
        new.changed = Some(crate::health::Changed {
            after: 5,
            targets: [1, 2, 3, 4, 5, 7].map(target).to_vec(),
        });
        assert!(new.changed_since(&old).is_some());
        let listed = sorted(Delta::between(&old, &new));
        assert_eq!(listed, sorted(Delta::compare_all(&old, &new)));
        assert_eq!(listed.health.len(), 3);
        assert_eq!(listed.rtt, [1, 3, 5].map(target));
        // A list counted from another generation is not read: everything is compared,
        // so a change it leaves out (7 down) is still found.
        new.targets.get_mut(&target(7)).unwrap().health = Down;
        new.changed.as_mut().unwrap().after = 4;
        assert!(new.changed_since(&old).is_none());
        let all = Delta::between(&old, &new);
        assert!(all.health.iter().any(|c| c.target == target(7)));
    }

    #[test]
    fn rtt_changes_per_region_are_reported() {
        let old = snap(&[], &[("east", 1, 10), ("east", 2, 20), ("west", 3, 30)]);
        // 1 moved, 2 gone from east, west gone entirely, 4 new in north.
        let new = snap(&[], &[("east", 1, 11), ("north", 4, 40)]);
        let mut got: Vec<u8> = Delta::between(&old, &new)
            .rtt
            .iter()
            .map(|t| match t.addr {
                std::net::IpAddr::V4(a) => a.octets()[3],
                _ => 0,
            })
            .collect();
        got.sort();
        assert_eq!(got, [1, 2, 3, 4]);
    }
}
