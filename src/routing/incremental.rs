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
                step.update(
                    pt,
                    pin,
                    touched.get(&(zi as u32)).unwrap_or(&empty),
                    &mut report,
                )
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

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::health::{Health, TargetStatus};
    use crate::policy::Compiled;
    use crate::routing::diff::eligible;
    use crate::routing::{build, build_next, Forced};
    use crate::zone::Target;

    /// Plain failovers, a latency policy, a failover over it (composed), a weighted
    /// policy over a failover (nested trees) and a multivalue.
    const ZONE: &str = r#"
[zone]
origin = "example.test."
nameservers = ["ns1.example.test."]
soa = { mname = "ns1.example.test.", rname = "h.example.test.", minimum = 30 }

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[checks.web]
kind = "tcp"
port = 80

[pools.a]
region = "east"
addresses = ["10.0.0.1", "10.0.0.2"]
check = "web"

[pools.b]
region = "west"
addresses = ["10.0.1.1"]
check = "web"

[pools.c]
region = "east"
addresses = ["10.0.2.1", "2001:db8::21"]
check = "web"

[pools.d]
region = "west"
addresses = ["10.0.3.1"]
check = "web"

[pools.e]
region = "west"
addresses = ["10.0.4.1"]

[[policies]]
name = "fo1"
policy = "failover"
pools = ["a", "b"]

[[policies]]
name = "fo2"
policy = "failover"
pools = ["c", "d"]

[[policies]]
name = "lat"
policy = "latency"
pools = ["a", "c"]
hysteresis = "0ms"
hysteresis_percent = 0

[[policies]]
name = "outer"
policy = "failover"
pools = ["lat", "e"]

[[policies]]
name = "w"
policy = "weighted"
weights = { fo1 = 1, d = 3 }

[[policies]]
name = "multi"
policy = "multivalue"
pools = ["b", "d"]
"#;

    const ADDRS: [&str; 6] = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.1.1",
        "10.0.2.1",
        "2001:db8::21",
        "10.0.3.1",
    ];

    fn zones() -> ZoneSet {
        let z = crate::config::parse_zone(Path::new("t.toml"), ZONE).expect("valid zone");
        ZoneSet {
            zones: vec![Arc::new(z)],
        }
    }

    fn target(addr: &str) -> Target {
        Target {
            check: "example.test./web".into(),
            addr: addr.parse().unwrap(),
        }
    }

    /// Every address up but `down`; `rtt`: (region, address, ms).
    fn health(down: &[&str], rtt: &[(&str, &str, u64)]) -> Arc<HealthSnapshot> {
        let mut h = HealthSnapshot::default();
        for addr in ADDRS {
            h.targets.insert(
                target(addr),
                TargetStatus {
                    health: if down.contains(&addr) {
                        Health::Down
                    } else {
                        Health::Up
                    },
                    since: SystemTime::UNIX_EPOCH,
                    last_reason: String::new(),
                    latency: None,
                },
            );
        }
        for (region, addr, ms) in rtt {
            h.rtt
                .entry(Arc::from(*region))
                .or_default()
                .insert(target(addr), Duration::from_millis(*ms));
        }
        Arc::new(h)
    }

    fn policy<'t>(t: &'t RoutingTable, label: &str) -> &'t Arc<Compiled> {
        t.zones[0]
            .policies
            .iter()
            .find(|p| &*p.label == label)
            .expect("a policy of the zone")
    }

    /// Everything a policy answers, order and draws aside: its summary, the addresses
    /// it may answer, each prepared answer, its latency rows and what clients get.
    fn fingerprint(c: &Compiled) -> String {
        let mut answers: Vec<String> = c
            .answers()
            .iter()
            .map(|a| {
                let mut v = a.addresses.clone();
                v.sort();
                format!("{} {v:?}", a.choice)
            })
            .collect();
        answers.sort();
        answers.dedup();
        let client = |ip: &str| crate::policy::Client {
            addr: ip.parse::<IpAddr>().unwrap(),
            subnet: None,
        };
        let selected: Vec<String> = ["127.0.0.1", "192.0.2.99", "2001:db8::1"]
            .iter()
            .map(|ip| c.select(&client(ip)).0.choice.to_string())
            .collect();
        // Draws (weighted, multivalue) differ from build to build.
        let selected = if c.is_dynamic() { Vec::new() } else { selected };
        format!(
            "{} {} {:?} {:?} {:?} {:?}",
            c.label,
            c.summary().choice,
            eligible(c),
            answers,
            c.latency_table().map(|t| &t.rows),
            selected,
        )
    }

    fn fingerprints(t: &RoutingTable) -> Vec<String> {
        let mut out: Vec<String> = t.zones[0].policies.iter().map(|p| fingerprint(p)).collect();
        out.extend(
            t.zones[0]
                .pools
                .iter()
                .map(|(n, r, s)| format!("{n} {r} {s:?}")),
        );
        out
    }

    fn first(z: &ZoneSet, h: &Arc<HealthSnapshot>) -> RoutingTable {
        let (t, report) = build_incremental(
            &RoutingTable::default(),
            z,
            h,
            &Arc::new(Overlay::default()),
        );
        assert_eq!(report.full_zones, 1);
        assert_eq!(report.compiled, 6);
        assert!(report.delta.is_none());
        t
    }

    #[test]
    fn one_pool_down_recompiles_only_the_policies_reading_it() {
        let z = zones();
        let overlay = Arc::new(Overlay::default());
        let t1 = first(&z, &health(&[], &[]));
        // c down: fo2 (member), lat (lists it) and outer (holds lat) read it; fo1, w
        // (over fo1 and d) and multi do not.
        let c_down = || health(&["10.0.2.1", "2001:db8::21"], &[]);
        let (t2, report) = build_incremental(&t1, &z, &c_down(), &overlay);
        assert_eq!((report.full_zones, report.pools_changed), (0, 1));
        assert_eq!((report.compiled, report.shared), (3, 3));
        for label in ["fo1", "w", "multi"] {
            assert!(
                Arc::ptr_eq(policy(&t1, label), policy(&t2, label)),
                "{label}"
            );
        }
        for label in ["fo2", "lat", "outer"] {
            assert!(
                !Arc::ptr_eq(policy(&t1, label), policy(&t2, label)),
                "{label}"
            );
        }
        // Unchanged pool states are shared too; c's is new.
        let (p1, p2) = (&t1.zones[0].pools, &t2.zones[0].pools);
        for ((name, _, s1), (_, _, s2)) in p1.iter().zip(p2.iter()) {
            assert_eq!(Arc::ptr_eq(s1, s2), &**name != "c", "{name}");
        }
        assert_eq!(
            policy(&t2, "fo2").summary().choice,
            crate::policy::Choice::Pool("d".into())
        );
        // The same snapshot again changes nothing: every policy and list shared.
        let (t3, report) = build_incremental(&t2, &z, &c_down(), &overlay);
        assert_eq!((report.compiled, report.shared), (0, 6));
        assert!(Arc::ptr_eq(&t2.zones[0].policies, &t3.zones[0].policies));
        assert!(crate::routing::diff::diff(&t2, &t3).is_empty());
    }

    #[test]
    fn an_rtt_change_recompiles_only_policies_holding_a_latency_policy() {
        let z = zones();
        let overlay = Arc::new(Overlay::default());
        let rtt = |a: u64| health(&[], &[("east", "10.0.0.1", a), ("east", "10.0.2.1", 20)]);
        let t1 = first(&z, &rtt(30));
        assert_eq!(
            policy(&t1, "lat").summary().choice,
            crate::policy::Choice::Pool("c".into())
        );
        let (t2, report) = build_incremental(&t1, &z, &rtt(10), &overlay);
        assert_eq!((report.compiled, report.pools_changed), (2, 0));
        assert!(Arc::ptr_eq(policy(&t1, "fo1"), policy(&t2, "fo1")));
        for label in ["lat", "outer"] {
            assert_eq!(
                policy(&t2, label).summary().choice,
                crate::policy::Choice::Pool("a".into()),
                "{label}"
            );
        }
        assert_eq!(fingerprints(&t2), fingerprints(&build(&z, &rtt(10), 9)));
    }

    /// A walk through health and RTT changes (one target or several at a time, pools
    /// going down and up, all down): after every step the incremental table answers as a
    /// full rebuild from the same previous table and as a first build from scratch.
    #[test]
    fn every_step_of_a_walk_equals_a_full_rebuild() {
        let z = zones();
        let overlay = Arc::new(Overlay::default());
        type Step<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str, u64)>);
        let steps: Vec<Step<'_>> = vec![
            (vec![], vec![]),
            (vec!["10.0.0.1"], vec![]),
            (vec!["10.0.0.1", "10.0.0.2"], vec![]),
            (vec!["10.0.0.1", "10.0.0.2"], vec![("east", "10.0.2.1", 40)]),
            (
                vec![],
                vec![("east", "10.0.2.1", 40), ("east", "10.0.0.1", 15)],
            ),
            (
                vec![],
                vec![("east", "10.0.2.1", 5), ("west", "10.0.0.2", 15)],
            ),
            (
                vec!["10.0.2.1", "2001:db8::21"],
                vec![("west", "10.0.0.2", 15)],
            ),
            (ADDRS.to_vec(), vec![]),
            (vec!["10.0.1.1", "10.0.3.1"], vec![("east", "10.0.0.1", 7)]),
            (vec![], vec![]),
        ];
        let mut incr = first(&z, &health(&[], &[]));
        let mut full = build(&z, &health(&[], &[]), 1);
        for (i, (down, rtt)) in steps.iter().enumerate() {
            let h = health(down, rtt);
            let (next, report) = build_incremental(&incr, &z, &h, &overlay);
            assert_eq!(report.full_zones, 0, "step {i}");
            full = build_next(&full, &z, &h, &overlay);
            let want = fingerprints(&full);
            assert_eq!(fingerprints(&next), want, "step {i}: against build_next");
            assert_eq!(
                fingerprints(&build(&z, &h, 1)),
                want,
                "step {i}: against a first build"
            );
            incr = next;
        }
    }

    /// `h` as the monitor publishes it: generation `gen` of `lineage`, listing `listed`
    /// as what changed since generation `after`.
    fn published(
        h: Arc<HealthSnapshot>,
        lineage: crate::health::Lineage,
        gen: u64,
        after: u64,
        listed: &[&str],
    ) -> Arc<HealthSnapshot> {
        let mut h = Arc::unwrap_or_clone(h);
        h.lineage = lineage;
        h.generation = gen;
        h.changed = Some(crate::health::Changed {
            after,
            targets: listed.iter().map(|a| target(a)).collect(),
        });
        Arc::new(h)
    }

    #[test]
    fn a_change_list_is_read_only_when_it_counts_from_the_previous_snapshot() {
        let z = zones();
        let overlay = Arc::new(Overlay::default());
        let lineage = crate::health::Lineage::new();
        let mut h1 = Arc::unwrap_or_clone(health(&[], &[]));
        (h1.lineage, h1.generation) = (lineage, 1);
        let t1 = first(&z, &Arc::new(h1));
        // Generation 2 lists c's targets: what changed, and all the build compares.
        let c = ["10.0.2.1", "2001:db8::21"];
        let h2 = published(health(&c, &[]), lineage, 2, 1, &c);
        let (t2, report) = build_incremental(&t1, &z, &h2, &overlay);
        assert_eq!((report.compiled, report.pools_changed), (3, 1));
        assert_eq!(report.delta.as_ref().unwrap().1.health.len(), 2);
        assert_eq!(
            fingerprints(&t2),
            fingerprints(&build_next(&t1, &z, &h2, &overlay))
        );
        // A list that leaves a change out is believed when it follows (so it is the one
        // read): a down 10.0.0.1 goes unseen...
        let a_down = || health(&["10.0.2.1", "2001:db8::21", "10.0.0.1"], &[]);
        let (unseen, report) =
            build_incremental(&t2, &z, &published(a_down(), lineage, 3, 2, &[]), &overlay);
        assert_eq!(report.compiled, 0);
        assert_ne!(
            fingerprints(&unseen),
            fingerprints(&build_next(&t2, &z, &a_down(), &overlay))
        );
        // ...but not when it counts from another generation (one was skipped), another
        // publisher, or is missing: then every target is compared.
        let stale = published(a_down(), lineage, 4, 3, &[]);
        let foreign = published(a_down(), crate::health::Lineage::new(), 3, 2, &[]);
        let mut missing = Arc::unwrap_or_clone(published(a_down(), lineage, 3, 2, &[]));
        missing.changed = None;
        for (what, h) in [
            ("stale", stale),
            ("foreign", foreign),
            ("missing", Arc::new(missing)),
        ] {
            let (t3, report) = build_incremental(&t2, &z, &h, &overlay);
            assert_eq!(report.pools_changed, 1, "{what}");
            assert_eq!(
                fingerprints(&t3),
                fingerprints(&build_next(&t2, &z, &h, &overlay)),
                "{what}"
            );
        }
    }

    #[test]
    fn override_changes_take_effect_and_are_undone() {
        let z = zones();
        let h = health(&[], &[]);
        let none = Arc::new(Overlay::default());
        let t1 = first(&z, &h);
        let mut forced = Overlay::default();
        forced.generation = 1;
        forced.force_pool(&z.zones[0].origin, &Arc::from("a"), Forced::Down);
        let forced = Arc::new(forced);
        let (t2, report) = build_incremental(&t1, &z, &h, &forced);
        assert_eq!(report.full_zones, 1);
        assert_eq!(
            policy(&t2, "fo1").summary().choice,
            crate::policy::Choice::Pool("b".into())
        );
        assert_eq!(
            fingerprints(&t2),
            fingerprints(&build_next(&t1, &z, &h, &forced))
        );
        // A health change under the same overlay is incremental and keeps it.
        let h2 = health(&["10.0.1.1"], &[]);
        let (t3, report) = build_incremental(&t2, &z, &h2, &forced);
        assert_eq!(report.full_zones, 0);
        assert!(matches!(
            policy(&t3, "fo1").summary().choice,
            crate::policy::Choice::AllDown(_)
        ));
        assert_eq!(
            fingerprints(&t3),
            fingerprints(&build_next(&t2, &z, &h2, &forced))
        );
        // Lifted: a pool back, from the same health.
        let (t4, _) = build_incremental(&t3, &z, &h, &none);
        assert_eq!(
            policy(&t4, "fo1").summary().choice,
            crate::policy::Choice::Pool("a".into())
        );
    }

    #[test]
    fn a_reloaded_zone_set_is_built_whole() {
        let h = health(&[], &[]);
        let overlay = Arc::new(Overlay::default());
        let t1 = first(&zones(), &h);
        let z2 = zones();
        let (t2, report) = build_incremental(&t1, &z2, &h, &overlay);
        assert_eq!((report.full_zones, report.compiled), (1, 6));
        assert!(!t2.same_names(&t1));
        assert_eq!(fingerprints(&t2), fingerprints(&t1));
    }
}
