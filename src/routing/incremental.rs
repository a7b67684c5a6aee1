//! The updater's build: the table that follows `prev`, redoing only what changed since
//! the inputs `prev` was built from. From the targets whose health or RTT changed
//! (`health::Delta`) it goes through `deps` to the pools they are in, recomputes those
//! pools' states and RTT rows, and recompiles only the policies that read a pool whose
//! state or row really changed. Everything else (each policy, each pool state, whole
//! zones) is shared with `prev` by `Arc`, so the new table is still a complete,
//! immutable value swapped in whole.
//!
//! A zone is built whole when there is nothing to compare with: the first build, a new
//! zone set (reload), an override change, or policy signatures due for refresh.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::LowerName;

use super::build::{self, Signing, ZoneInputs};
use super::deps::{Deps, ZoneDeps};
use super::{Env, Overlay, RoutingTable, ZoneTable};
use crate::dnssec::unix_now;
use crate::health::{Delta, HealthSnapshot};
use crate::policy::{self, PoolState};
use crate::zone::{PolicyKind, Zone, ZoneSet};

/// What a table was built from: the next build compares its inputs with these.
#[derive(Debug)]
pub(super) struct Basis {
    health: Arc<HealthSnapshot>,
    overlay: Arc<Overlay>,
    deps: Arc<Deps>,
    /// Per zone, in table order.
    zones: Vec<ZoneInputs>,
}

/// What one build did: for the updater's log line, tests and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// Zones built whole.
    pub full_zones: usize,
    /// Policies compiled, those of whole zones included.
    pub compiled: usize,
    /// Policies shared with the previous table as they were.
    pub shared: usize,
    /// Pools whose state changed (in zones not built whole).
    pub pools_changed: usize,
    /// What changed in health since the snapshot of the previous table, and that
    /// snapshot: `None` when the previous table had none to compare with.
    pub delta: Option<(Arc<HealthSnapshot>, Delta)>,
}

/// The table that follows `prev` for these inputs: the same table `build_next` would
/// make (multivalue draws aside), recompiling only the policies that read a pool whose
/// state or RTTs changed since `prev`'s inputs.
pub fn build_incremental(
    prev: &RoutingTable,
    zones: &ZoneSet,
    health: &Arc<HealthSnapshot>,
    overlay: &Arc<Overlay>,
) -> (RoutingTable, BuildReport) {
    let names = build::names_for(prev, zones);
    let same_names = Arc::ptr_eq(&prev.names, &names);
    let env = prev.env.clone();
    let now = unix_now();
    let signed = build::signed_for(Some(prev), &names, now);
    let mut report = BuildReport::default();
    let basis = prev.basis.as_deref().filter(|b| {
        same_names
            && b.zones.len() == zones.zones.len()
            && prev.zones.len() == zones.zones.len()
            && (Arc::ptr_eq(&b.overlay, overlay) || *b.overlay == **overlay)
    });
    let deps = match basis {
        Some(b) => b.deps.clone(),
        None => Arc::new(Deps::new(zones)),
    };
    // Per zone, the pools (positions) whose state or RTT row may have changed.
    let mut touched: HashMap<u32, Touched> = HashMap::new();
    if let Some(b) = basis {
        let delta = Delta::between(&b.health, health);
        for c in &delta.health {
            for &(zi, pi) in deps.pools_of(&c.target) {
                touched.entry(zi).or_default().state.push(pi);
            }
        }
        for t in &delta.rtt {
            for &(zi, pi) in deps.pools_of(t) {
                if deps.zones[zi as usize].latency_pool[pi as usize] {
                    touched.entry(zi).or_default().rtt.push(pi);
                }
            }
        }
        report.delta = Some((b.health.clone(), delta));
    }
    let mut until = signed.until;
    let mut tables = Vec::with_capacity(zones.zones.len());
    let mut inputs = Vec::with_capacity(zones.zones.len());
    for (zi, zone) in zones.zones.iter().enumerate() {
        let signing = Signing::new(&names, zi, now);
        let before = basis.map(|b| (&prev.zones[zi], &b.zones[zi]));
        let (table, zin) = match before {
            Some((pt, pin)) if !(signing.signs() && pin.until <= now) => {
                let step = ZoneStep {
                    zone,
                    deps: &deps.zones[zi],
                    health,
                    overlay,
                    env: &env,
                    signing: &signing,
                };
                let empty = Touched::default();
                step.update(pt, pin, touched.get(&(zi as u32)).unwrap_or(&empty), &mut report)
            }
            _ => {
                let before = prev.zones.iter().find(|p| p.origin == zone.origin);
                report.full_zones += 1;
                report.compiled += zone.policies.len();
                build::build_zone(zone, health, overlay, &env, before, &signing)
            }
        };
        until = until.min(zin.until);
        tables.push(table);
        inputs.push(zin);
    }
    let table = RoutingTable {
        epoch: prev.epoch + 1,
        zones: tables,
        unmatched: env.counters.unmatched(),
        env,
        names,
        signed,
        signed_until: (until != u64::MAX).then_some(until),
        basis: Some(Arc::new(Basis {
            health: health.clone(),
            overlay: overlay.clone(),
            deps,
            zones: inputs,
        })),
    };
    (table, report)
}

/// Pool positions of one zone that a health change reached.
#[derive(Debug, Default)]
struct Touched {
    state: Vec<u32>,
    rtt: Vec<u32>,
}

/// Everything one zone's partial rebuild reads besides the previous table.
struct ZoneStep<'a> {
    zone: &'a Zone,
    deps: &'a ZoneDeps,
    health: &'a HealthSnapshot,
    overlay: &'a Overlay,
    env: &'a Env,
    signing: &'a Signing<'a>,
}

impl ZoneStep<'_> {
    fn update(
        &self,
        pt: &ZoneTable,
        pin: &ZoneInputs,
        touched: &Touched,
        report: &mut BuildReport,
    ) -> (ZoneTable, ZoneInputs) {
        let (zone, deps) = (self.zone, self.deps);
        let origin = LowerName::new(&zone.origin);
        let mut states: Vec<(u32, Arc<PoolState>)> = Vec::new();
        for &p in &sorted(&touched.state) {
            let name = &deps.pools[p as usize];
            let s = build::pool_state(
                zone,
                &origin,
                &zone.pools[name],
                self.health,
                self.overlay,
                &self.env.startup,
            );
            if pin.states.get(name).is_none_or(|old| **old != s) {
                states.push((p, Arc::new(s)));
            }
        }
        let state_of = |p: u32| {
            let name = &deps.pools[p as usize];
            states
                .iter()
                .find(|(q, _)| *q == p)
                .map_or_else(|| pin.states[name].clone(), |(_, s)| s.clone())
        };
        // A pool's RTT row is the mean over its healthy addresses: a state change moves it.
        let mut rtt_touched = touched.rtt.clone();
        rtt_touched.extend(
            states
                .iter()
                .map(|(p, _)| *p)
                .filter(|p| deps.latency_pool[*p as usize]),
        );
        let mut rows = Vec::new();
        for p in sorted(&rtt_touched) {
            let name = &deps.pools[p as usize];
            let row = build::pool_rtt(zone, &zone.pools[name], self.health, &state_of(p));
            if row.as_ref() != pin.rtts.get(name) {
                rows.push((p, row));
            }
        }
        report.pools_changed += states.len();
        if states.is_empty() && rows.is_empty() {
            report.shared += pt.policies.len();
            return (pt.clone(), pin.clone());
        }

        let mut inputs = pin.clone();
        let mut pools = pt.pools.clone();
        if !states.is_empty() {
            let mut map = (*pin.states).clone();
            let list = Arc::make_mut(&mut pools);
            for (p, s) in &states {
                map.insert(deps.pools[*p as usize].clone(), s.clone());
                list[*p as usize].2 = s.clone();
            }
            inputs.states = Arc::new(map);
        }
        if !rows.is_empty() {
            let mut map = (*pin.rtts).clone();
            for (p, row) in rows.iter().cloned() {
                let name = deps.pools[p as usize].clone();
                match row {
                    Some(r) => map.insert(name, r),
                    None => map.remove(&name),
                };
            }
            inputs.rtts = Arc::new(map);
        }
        let mut todo: Vec<u32> = states
            .iter()
            .flat_map(|(p, _)| &deps.state_users[*p as usize])
            .chain(rows.iter().flat_map(|(p, _)| &deps.rtt_users[*p as usize]))
            .copied()
            .collect();
        todo.sort_unstable();
        todo.dedup();
        self.latency_tables(&todo, pin, &mut inputs);

        let mut policies = pt.policies.clone();
        if !todo.is_empty() {
            let list = Arc::make_mut(&mut policies);
            for &pi in &todo {
                let (c, until) =
                    build::compile_one(zone, pi as usize, &inputs, self.env, self.signing);
                inputs.until = inputs.until.min(until);
                list[pi as usize] = c;
            }
        }
        report.compiled += todo.len();
        report.shared += pt.policies.len() - todo.len();
        let table = ZoneTable {
            origin: pt.origin.clone(),
            policies,
            pools,
            counters: pt.counters.clone(),
        };
        (table, inputs)
    }

    /// The latency tables of the latency policies among `todo`, from the previous ones
    /// (hysteresis); an unchanged table stays the same `Arc`.
    fn latency_tables(&self, todo: &[u32], pin: &ZoneInputs, inputs: &mut ZoneInputs) {
        let mut map = None;
        for &pi in todo {
            let p = &self.zone.policies[pi as usize];
            if !matches!(p.kind, PolicyKind::Latency { .. }) {
                continue;
            }
            let one = policy::latency_tables(
                std::slice::from_ref(p),
                &inputs.states,
                &inputs.rtts,
                &inputs.regions,
                |label| pin.latency.get(label).cloned(),
            );
            for (label, t) in one {
                if pin.latency.get(&label).is_some_and(|b| Arc::ptr_eq(b, &t)) {
                    continue;
                }
                map.get_or_insert_with(|| (*pin.latency).clone())
                    .insert(label, t);
            }
        }
        if let Some(m) = map {
            inputs.latency = Arc::new(m);
        }
    }
}

fn sorted(v: &[u32]) -> Vec<u32> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}
