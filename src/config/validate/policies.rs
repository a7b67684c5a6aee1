//! `[[policies]]`: each policy's name (free of static records, delegations and other
//! policies), TTL, all-down behaviour and failover budget; its kind-specific part is
//! members.rs's. Composition cycles are looked for once every policy is read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name};

use super::super::error::ConfigError;
use super::super::zonefile::{self, S};
use super::ctx::{owner_name, ttl, Ctx};
use super::members::{self, check_cycles, Refs};
use super::records::Statics;
use crate::zone::{AllDown, CheckSpec, Policy, Pool};

/// A policy answer exists to move traffic quickly; a day-long TTL would defeat it.
const MAX_POLICY_TTL: i64 = 86_400;
const DEFAULT_POLICY_TTL: u32 = 30;

/// Every policy of the zone file, in file order; bad ones are left out (and reported).
pub(super) fn policies(
    cx: &mut Ctx<'_>,
    raw: &[S<zonefile::PolicyEntry>],
    origin: &Name,
    statics: &Statics,
    pools: &BTreeMap<Arc<str>, Pool>,
) -> Vec<Policy> {
    let delegations: Vec<Name> = statics.delegations(origin);
    let mut policies = Vec::new();
    let mut policy_names: HashMap<LowerName, usize> = HashMap::new();
    // Every label first: a member may name a policy defined further down the file.
    let labels: HashSet<String> = raw
        .iter()
        .map(|p| p.get_ref().name.get_ref().clone())
        .collect();
    let mut edges = Vec::new();
    for entry in raw {
        let e = entry.get_ref();
        let Some(name) = owner_name(cx, &e.name, origin) else {
            continue;
        };
        if !name_is_free(cx, e, &name, &policy_names, statics, &delegations) {
            continue;
        }
        policy_names.insert(
            LowerName::new(&name),
            cx.loc.line_col(e.name.span().start).0,
        );
        let mut refs = Refs {
            pools,
            labels: &labels,
            edges: &mut edges,
        };
        if let Some(p) = policy(cx, e, name, &mut refs) {
            policies.push(p);
        }
    }
    check_cycles(cx, &edges);
    policies
}

/// A name is answered by one thing: not two policies, not a policy and static records,
/// not a policy below a delegation.
fn name_is_free(
    cx: &mut Ctx<'_>,
    e: &zonefile::PolicyEntry,
    name: &Name,
    policy_names: &HashMap<LowerName, usize>,
    statics: &Statics,
    delegations: &[Name],
) -> bool {
    let key = LowerName::new(name);
    if let Some(first) = policy_names.get(&key) {
        let line = *first;
        cx.err::<()>(
            e.name.span(),
            format!("duplicate policy for {name}: already defined at line {line}"),
        );
        return false;
    }
    if let Some(at) = statics.defined_at.get(&key) {
        let (line, _) = cx.loc.line_col(at.start);
        cx.err::<()>(
            e.name.span(),
            format!("policy name {name} collides with the static records at line {line}; a name is answered either by records or by a policy"),
        );
        return false;
    }
    if statics.file_has(name) {
        cx.err::<()>(
            e.name.span(),
            format!("policy name {name} collides with static records in records_file"),
        );
        return false;
    }
    if let Some(cut) = delegations.iter().find(|d| d.zone_of(name)) {
        cx.err::<()>(
            e.name.span(),
            format!("policy name {name} is at or below the delegation {cut}: the child zone answers for it"),
        );
        return false;
    }
    true
}

fn policy(
    cx: &mut Ctx<'_>,
    e: &zonefile::PolicyEntry,
    name: Name,
    refs: &mut Refs<'_>,
) -> Option<Policy> {
    let ttl = match &e.ttl {
        Some(t) => ttl(cx, t, MAX_POLICY_TTL)?,
        None => DEFAULT_POLICY_TTL,
    };
    let when_all_down = match e.when_all_down.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("serve-all", _)) => AllDown::ServeAll,
        Some(("serve-first", _)) => AllDown::ServeFirst,
        Some(("nodata", _)) => AllDown::NoData,
        Some((other, span)) => return cx.err(span, format!("when_all_down {other:?}: expected \"serve-all\" (default), \"serve-first\" or \"nodata\"")),
    };
    let kind = members::kind(cx, e, refs)?;
    let max_failover = match &e.max_failover {
        None => None,
        Some(m) => match humantime::parse_duration(m.get_ref()) {
            Ok(d) if !d.is_zero() => Some((d, cx.loc.line_col(m.span().start))),
            Ok(_) => return cx.err(m.span(), "max_failover must be more than 0s"),
            Err(err) => {
                return cx.err(
                    m.span(),
                    format!("max_failover {:?}: {err} (write e.g. \"60s\")", m.get_ref()),
                )
            }
        },
    };
    Some(Policy {
        label: e.name.get_ref().as_str().into(),
        name,
        ttl,
        kind,
        when_all_down,
        max_failover,
    })
}

/// A declared failover budget the checks and TTL cannot meet is an error in the file.
pub(super) fn check_budgets(
    cx: &mut Ctx<'_>,
    file: &Path,
    policies: &[Policy],
    pools: &BTreeMap<Arc<str>, Pool>,
    checks: &BTreeMap<Arc<str>, Arc<CheckSpec>>,
) {
    for p in policies {
        if let Some((max, at)) = p.max_failover {
            // The zone file alone: no agents. `check --config` and `serve` check again
            // with the server file's agents (config::preflight).
            let b =
                crate::zone::budget::policy_budget(p, policies, pools, checks, Default::default());
            if b.visible > max {
                cx.errors.push(ConfigError {
                    file: file.to_path_buf(),
                    at: Some(at),
                    message: format!(
                        "policy {}: worst-case failover {} exceeds max_failover {} ({})",
                        p.label,
                        crate::zone::budget::secs(b.visible),
                        crate::zone::budget::secs(max),
                        b.explain()
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{errors, zone, HEAD};
    use super::*;

    fn with_pools(body: &str) -> String {
        format!("{HEAD}\n[pools.east]\nregion = \"e\"\naddresses = [\"192.0.2.1\"]\n\n[pools.west]\nregion = \"w\"\naddresses = [\"192.0.2.2\"]\n{body}")
    }

    #[test]
    fn a_cycle_is_reported_at_the_reference_that_closes_it() {
        let text = with_pools(
            "\n[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"b\", \"east\"]\n\n[[policies]]\nname = \"b\"\npolicy = \"failover\"\npools = [\"west\", \"a\"]\n",
        );
        assert_eq!(
            errors(&text),
            ["z.toml:22:18: policy cycle a -> b -> a: a policy may not contain itself"]
        );
    }

    #[test]
    fn composition_without_a_cycle_is_fine() {
        let text = with_pools(
            "\n[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"b\", \"east\"]\n\n[[policies]]\nname = \"b\"\npolicy = \"failover\"\npools = [\"west\"]\n",
        );
        let z = zone(&text);
        assert_eq!(z.policies.len(), 2);
        assert_eq!(z.policies[0].ttl, DEFAULT_POLICY_TTL);
        assert_eq!(z.policies[0].when_all_down, AllDown::ServeAll);
    }

    #[test]
    fn a_name_is_answered_by_one_thing() {
        let twice = with_pools(
            "\n[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"east\"]\n\n[[policies]]\nname = \"A\"\npolicy = \"failover\"\npools = [\"west\"]\n",
        );
        assert_eq!(
            errors(&twice),
            ["z.toml:20:8: duplicate policy for a.t.test.: already defined at line 15"]
        );
        let delegated = with_pools(
            "\n[[records]]\nname = \"sub\"\nNS = [\"ns.elsewhere.test.\"]\n\n[[policies]]\nname = \"www.sub\"\npolicy = \"failover\"\npools = [\"east\"]\n",
        );
        assert_eq!(
            errors(&delegated),
            ["z.toml:19:8: policy name www.sub.t.test. is at or below the delegation sub.t.test.: the child zone answers for it"]
        );
    }

    #[test]
    fn ttl_and_all_down_behaviour_are_checked() {
        let text = with_pools(
            "\n[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"east\"]\nttl = 86401\n\n[[policies]]\nname = \"b\"\npolicy = \"failover\"\npools = [\"east\"]\nwhen_all_down = \"panic\"\n",
        );
        assert_eq!(
            errors(&text),
            [
                "z.toml:18:7: ttl 86401 out of range 0..=86400",
                "z.toml:24:17: when_all_down \"panic\": expected \"serve-all\" (default), \"serve-first\" or \"nodata\"",
            ]
        );
    }
}
