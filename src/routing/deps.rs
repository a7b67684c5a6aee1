//! Which probe targets each pool is made of and which policies read each pool: built
//! once per zone set, so an incremental build goes from the targets that changed to the
//! few policies to recompile without scanning every pool or policy.

use std::collections::HashMap;
use std::sync::Arc;

use crate::zone::{Member, Policy, PolicyKind, Target, Zone, ZoneSet};

#[derive(Debug, Default)]
pub(super) struct Deps {
    /// Target -> every (zone, pool position) it is an address of.
    by_target: HashMap<Target, Vec<(u32, u32)>>,
    pub(super) zones: Vec<ZoneDeps>,
}

/// One zone's pools (by position in name order) and their readers (policy positions).
#[derive(Debug, Default)]
pub(super) struct ZoneDeps {
    pub(super) pools: Vec<Arc<str>>,
    /// Policies whose answer depends on the pool's state: the pool is a member of the
    /// policy's tree (nested policies included), or a geoproximity fallback in it.
    pub(super) state_users: Vec<Vec<u32>>,
    /// Policies whose answer depends on the pool's RTTs: a latency policy in their
    /// tree lists it.
    pub(super) rtt_users: Vec<Vec<u32>>,
    /// Whether some latency policy lists the pool (its RTT row is kept).
    pub(super) latency_pool: Vec<bool>,
}

impl Deps {
    pub(super) fn new(zones: &ZoneSet) -> Deps {
        let mut by_target: HashMap<Target, Vec<(u32, u32)>> = HashMap::new();
        let mut out = Vec::with_capacity(zones.zones.len());
        for (zi, zone) in zones.zones.iter().enumerate() {
            for (pi, pool) in zone.pools.values().enumerate() {
                let Some(check) = &pool.check else { continue };
                let id = &zone.checks[check].id;
                for addr in &pool.addresses {
                    let t = Target {
                        check: id.clone(),
                        addr: *addr,
                    };
                    by_target.entry(t).or_default().push((zi as u32, pi as u32));
                }
            }
            out.push(ZoneDeps::new(zone));
        }
        Deps {
            by_target,
            zones: out,
        }
    }

    /// The (zone, pool position) pairs `t` is an address of.
    pub(super) fn pools_of(&self, t: &Target) -> &[(u32, u32)] {
        self.by_target.get(t).map_or(&[], Vec::as_slice)
    }
}

impl ZoneDeps {
    fn new(zone: &Zone) -> ZoneDeps {
        let pools: Vec<Arc<str>> = zone.pools.keys().cloned().collect();
        let position: HashMap<&str, u32> = zone
            .pools
            .keys()
            .enumerate()
            .map(|(i, p)| (&**p, i as u32))
            .collect();
        let labels: HashMap<&str, &Policy> = zone.policies.iter().map(|p| (&*p.label, p)).collect();
        let mut z = ZoneDeps {
            state_users: vec![Vec::new(); pools.len()],
            rtt_users: vec![Vec::new(); pools.len()],
            latency_pool: vec![false; pools.len()],
            pools,
        };
        for (pi, policy) in zone.policies.iter().enumerate() {
            let mut reads = Reads::default();
            reads.walk(policy, &labels);
            for (names, users) in [
                (&reads.state, &mut z.state_users),
                (&reads.rtt, &mut z.rtt_users),
            ] {
                for name in names {
                    if let Some(&at) = position.get(&**name) {
                        let list = &mut users[at as usize];
                        if list.last() != Some(&(pi as u32)) {
                            list.push(pi as u32);
                        }
                    }
                }
            }
            if let PolicyKind::Latency { pools, .. } = &policy.kind {
                for p in pools {
                    if let Some(&at) = position.get(&**p) {
                        z.latency_pool[at as usize] = true;
                    }
                }
            }
        }
        z
    }
}

/// The pools one policy's compilation reads, walking member policies once each.
#[derive(Default)]
struct Reads {
    seen: Vec<Arc<str>>,
    state: Vec<Arc<str>>,
    rtt: Vec<Arc<str>>,
}

impl Reads {
    fn walk(&mut self, p: &Policy, labels: &HashMap<&str, &Policy>) {
        if self.seen.contains(&p.label) {
            return;
        }
        self.seen.push(p.label.clone());
        match &p.kind {
            PolicyKind::Geoproximity { fallback, .. } => self.state.push(fallback.clone()),
            PolicyKind::Latency { pools, .. } => self.rtt.extend(pools.iter().cloned()),
            _ => {}
        }
        for m in p.kind.members() {
            match m {
                Member::Pool(name) => self.state.push(name),
                Member::Policy(label) => {
                    if let Some(inner) = labels.get(&*label) {
                        self.walk(inner, labels);
                    }
                }
            }
        }
    }
}
