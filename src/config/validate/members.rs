//! Validating what each routing policy kind chooses among: members (pools, or other
//! policies by label), weights, geolocation rules, coordinates and bias, latency tables,
//! answer counts; and composition cycles.
//!
//! A field that belongs to another kind is an error rather than silently ignored: a
//! `weights` table on a failover policy is a mistake the operator wants to hear about.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::super::zonefile::{self, S};
use super::ctx::{int_in, Ctx};
use crate::geo::{Continent, Country};
use crate::zone::{Hysteresis, Member, PolicyKind, Pool};

/// Route 53's default for multivalue answers.
const DEFAULT_MAX_ANSWERS: i64 = 8;
/// Enough to fill a 1232-byte UDP answer with A records, and then some.
const MAX_MAX_ANSWERS: i64 = 64;
const MAX_WEIGHT: i64 = 10_000;
/// Differences below a few milliseconds are probe noise, not a better path.
const DEFAULT_HYSTERESIS: Duration = Duration::from_millis(5);
const DEFAULT_HYSTERESIS_PERCENT: i64 = 10;
/// A static RTT above a minute is a typo, not a path.
const MAX_STATIC_RTT_MS: i64 = 60_000;

/// One policy naming another: the graph cycles are looked for in.
pub(super) struct Edge {
    from: Arc<str>,
    to: Arc<str>,
    at: Range<usize>,
}

/// What a policy's members may refer to, and where composition edges are collected.
pub(super) struct Refs<'a> {
    pub pools: &'a BTreeMap<Arc<str>, Pool>,
    /// Every policy label in the file (as written in `name`).
    pub labels: &'a HashSet<String>,
    pub edges: &'a mut Vec<Edge>,
}

/// The kind-specific part of a policy entry.
pub(super) fn kind(
    cx: &mut Ctx<'_>,
    e: &zonefile::PolicyEntry,
    refs: &mut Refs<'_>,
) -> Option<PolicyKind> {
    let label: Arc<str> = e.name.get_ref().as_str().into();
    let kind = e.policy.get_ref().as_str();
    let foreign: [(&str, Option<Range<usize>>, &str); 11] = [
        ("weights", e.weights.as_ref().map(S::span), "weighted"),
        ("sticky", e.sticky.as_ref().map(S::span), "weighted"),
        (
            "countries",
            e.countries.as_ref().map(S::span),
            "geolocation",
        ),
        (
            "continents",
            e.continents.as_ref().map(S::span),
            "geolocation",
        ),
        ("default", e.default.as_ref().map(S::span), "geolocation"),
        ("bias", e.bias.as_ref().map(S::span), "geoproximity"),
        ("fallback", e.fallback.as_ref().map(S::span), "geoproximity"),
        (
            "static_rtt_ms",
            e.static_rtt_ms.as_ref().map(S::span),
            "latency",
        ),
        ("hysteresis", e.hysteresis.as_ref().map(S::span), "latency"),
        (
            "hysteresis_percent",
            e.hysteresis_percent.as_ref().map(S::span),
            "latency",
        ),
        (
            "max_answers",
            e.max_answers.as_ref().map(S::span),
            "multivalue",
        ),
    ];
    let known = [
        "failover",
        "weighted",
        "latency",
        "geoproximity",
        "geolocation",
        "multivalue",
    ];
    let Some(kind) = known.into_iter().find(|k| *k == kind) else {
        return cx.err(
            e.policy.span(),
            format!("policy {kind:?}: expected one of {}", known.join(", ")),
        );
    };
    let mut misplaced = false;
    for (field, span, owner) in foreign {
        if let Some(span) = span {
            if owner != kind {
                misplaced = true;
                cx.err::<()>(
                    span,
                    format!("`{field}` applies to {owner} policies, not {kind}"),
                );
            }
        }
    }
    if misplaced {
        return None;
    }
    let mut m = MemberCx {
        cx,
        refs,
        label,
        kind,
    };
    match kind {
        "failover" => m.failover(e),
        "weighted" => m.weighted(e),
        "geolocation" => m.geolocation(e),
        "geoproximity" => m.geoproximity(e),
        "latency" => m.latency(e),
        _ => m.multivalue(e),
    }
}

struct MemberCx<'c, 'a, 'r> {
    cx: &'c mut Ctx<'a>,
    refs: &'c mut Refs<'r>,
    label: Arc<str>,
    kind: &'static str,
}

impl MemberCx<'_, '_, '_> {
    fn err<T>(&mut self, span: Range<usize>, msg: impl Into<String>) -> Option<T> {
        self.cx.err(span, msg)
    }

    /// Resolve a member name: a pool, or (where `pools_only` is false) another policy.
    fn member(&mut self, raw: &S<String>, pools_only: bool) -> Option<Member> {
        let name = raw.get_ref().as_str();
        let pool = self.refs.pools.get_key_value(name).map(|(k, _)| k.clone());
        let is_policy = self.refs.labels.contains(name);
        match (pool, is_policy) {
            (Some(_), true) => self.err(
                raw.span(),
                format!("{name:?} is both a pool and a policy; rename one so members are unambiguous"),
            ),
            (Some(p), false) => Some(Member::Pool(p)),
            (None, true) if pools_only => self.err(
                raw.span(),
                format!(
                    "{name:?} is a policy, but {} members must be pools (they need a pool's own location, RTT or addresses)",
                    self.kind
                ),
            ),
            (None, true) => {
                let to: Arc<str> = name.into();
                self.refs.edges.push(Edge {
                    from: self.label.clone(),
                    to: to.clone(),
                    at: raw.span(),
                });
                Some(Member::Policy(to))
            }
            // Defined, but with errors of its own, already reported.
            (None, false) if self.cx.broken.pools.contains(name) => None,
            (None, false) => {
                let pools: Vec<&str> = self.refs.pools.keys().map(|k| k.as_ref()).collect();
                let mut policies: Vec<&str> =
                    self.refs.labels.iter().map(String::as_str).collect();
                policies.sort_unstable();
                self.err(
                    raw.span(),
                    format!(
                        "policy {} names pool {name:?}, which is not defined (pools: {pools:?}; policies: {policies:?})",
                        self.label
                    ),
                )
            }
        }
    }

    /// The `pools` list: resolved, without repeats, not empty.
    fn list(&mut self, e: &zonefile::PolicyEntry, pools_only: bool) -> Option<Vec<Member>> {
        if e.pools.is_empty() {
            let what = if pools_only { "pools" } else { "members" };
            return self.err(
                e.policy.span(),
                format!("a {} policy needs `pools` (its {what})", self.kind),
            );
        }
        let mut out: Vec<Member> = Vec::new();
        let mut ok = true;
        for raw in &e.pools {
            match self.member(raw, pools_only) {
                Some(m) if out.contains(&m) => {
                    ok = false;
                    self.err::<()>(raw.span(), format!("pool {:?} listed twice", raw.get_ref()));
                }
                Some(m) => out.push(m),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn pool_names(&mut self, e: &zonefile::PolicyEntry) -> Option<Vec<Arc<str>>> {
        let members = self.list(e, true)?;
        Some(members.into_iter().map(|m| m.name().clone()).collect())
    }

    fn no_pools_list(&mut self, e: &zonefile::PolicyEntry, instead: &str) -> Option<()> {
        match e.pools.first() {
            Some(first) => self.err(
                first.span(),
                format!(
                    "a {} policy lists its members in {instead}, not `pools`",
                    self.kind
                ),
            ),
            None => Some(()),
        }
    }

    fn failover(&mut self, e: &zonefile::PolicyEntry) -> Option<PolicyKind> {
        let members = self.list(e, false)?;
        Some(PolicyKind::Failover { members })
    }

    fn weighted(&mut self, e: &zonefile::PolicyEntry) -> Option<PolicyKind> {
        self.no_pools_list(e, "`weights`")?;
        let Some(weights) = &e.weights else {
            return self.err(
                e.policy.span(),
                "a weighted policy needs `weights = { member = weight, ... }`",
            );
        };
        let mut members = Vec::new();
        let mut ok = true;
        for (name, w) in weights.get_ref() {
            let m = self.member(name, false);
            let w = int_in(self.cx, w, "weight", 0, MAX_WEIGHT);
            match (m, w) {
                (Some(m), Some(w)) => members.push((m, w as u32)),
                _ => ok = false,
            }
        }
        if !ok {
            return None;
        }
        if members.is_empty() {
            return self.err(weights.span(), "`weights` is empty");
        }
        if members.iter().all(|(_, w)| *w == 0) {
            return self.err(
                weights.span(),
                "weights are all zero: weight 0 means \"only when no weighted member is up\", so at least one member needs a weight above 0",
            );
        }
        Some(PolicyKind::Weighted {
            members,
            sticky: e.sticky.as_ref().is_some_and(|s| *s.get_ref()),
        })
    }

    fn geolocation(&mut self, e: &zonefile::PolicyEntry) -> Option<PolicyKind> {
        self.no_pools_list(e, "`countries`, `continents` and `default`")?;
        let mut ok = true;
        let mut countries = Vec::new();
        if let Some(table) = &e.countries {
            for (code, member) in table.get_ref() {
                let c = Country::known(code.get_ref());
                if c.is_none() {
                    self.err::<()>(
                        code.span(),
                        format!(
                            "unknown country code {:?}: expected an ISO 3166-1 alpha-2 code such as \"FR\" or \"GB\"",
                            code.get_ref()
                        ),
                    );
                }
                match (c, self.member(member, false)) {
                    (Some(c), Some(_)) if countries.iter().any(|(x, _)| *x == c) => {
                        ok = false;
                        self.err::<()>(code.span(), format!("country {c} has two rules"));
                    }
                    (Some(c), Some(m)) => countries.push((c, m)),
                    _ => ok = false,
                }
            }
        }
        let mut continents = Vec::new();
        if let Some(table) = &e.continents {
            for (code, member) in table.get_ref() {
                let c = code.get_ref().parse::<Continent>().ok();
                if c.is_none() {
                    self.err::<()>(
                        code.span(),
                        format!(
                            "unknown continent code {:?}: expected one of AF, AN, AS, EU, NA, OC, SA",
                            code.get_ref()
                        ),
                    );
                }
                match (c, self.member(member, false)) {
                    (Some(c), Some(_)) if continents.iter().any(|(x, _)| *x == c) => {
                        ok = false;
                        self.err::<()>(code.span(), format!("continent {c} has two rules"));
                    }
                    (Some(c), Some(m)) => continents.push((c, m)),
                    _ => ok = false,
                }
            }
        }
        let Some(default) = &e.default else {
            return self.err(
                e.policy.span(),
                "a geolocation policy needs `default`: the member for clients no rule matches (or whose location is unknown)",
            );
        };
        let default = self.member(default, false);
        match default {
            Some(default) if ok => Some(PolicyKind::Geolocation {
                countries,
                continents,
                default,
            }),
            _ => None,
        }
    }

    fn geoproximity(&mut self, e: &zonefile::PolicyEntry) -> Option<PolicyKind> {
        let names = self.pool_names(e)?;
        let mut ok = true;
        let mut pools = Vec::new();
        for (name, raw) in names.iter().zip(&e.pools) {
            match self.refs.pools[name].location {
                Some(at) => pools.push((name.clone(), at, 0i8)),
                None => {
                    ok = false;
                    self.err::<()>(
                        raw.span(),
                        format!("pool {name} has no location: a geoproximity policy needs `location = {{ lat = .., lon = .. }}` on every pool"),
                    );
                }
            }
        }
        if let Some(bias) = &e.bias {
            for (name, b) in bias.get_ref() {
                let Some(b) = int_in(self.cx, b, "bias", -99, 99) else {
                    ok = false;
                    continue;
                };
                match pools.iter_mut().find(|(p, _, _)| **p == **name.get_ref()) {
                    Some(entry) => entry.2 = b as i8,
                    None if names.iter().any(|n| **n == **name.get_ref()) => {}
                    None => {
                        ok = false;
                        self.err::<()>(
                            name.span(),
                            format!(
                                "bias for {:?}, which is not one of this policy's pools",
                                name.get_ref()
                            ),
                        );
                    }
                }
            }
        }
        let fallback = match &e.fallback {
            Some(f) => match names.iter().find(|n| ***n == **f.get_ref()) {
                Some(n) => n.clone(),
                None => {
                    return self.err(
                        f.span(),
                        format!(
                            "fallback {:?} is not one of this policy's pools",
                            f.get_ref()
                        ),
                    )
                }
            },
            None => names[0].clone(),
        };
        ok.then_some(PolicyKind::Geoproximity { pools, fallback })
    }

    fn latency(&mut self, e: &zonefile::PolicyEntry) -> Option<PolicyKind> {
        let pools = self.pool_names(e)?;
        let mut ok = true;
        let mut static_rtt = Vec::new();
        let mut covered: HashSet<Arc<str>> = HashSet::new();
        if let Some(table) = &e.static_rtt_ms {
            for (region, row) in table.get_ref() {
                if region.get_ref().trim().is_empty() {
                    ok = false;
                    self.err::<()>(region.span(), "region is empty");
                }
                let mut out = Vec::new();
                for (pool, ms) in row.get_ref() {
                    let Some(p) = pools.iter().find(|p| ***p == **pool.get_ref()) else {
                        ok = false;
                        self.err::<()>(
                            pool.span(),
                            format!(
                                "static RTT for {:?}, which is not one of this policy's pools",
                                pool.get_ref()
                            ),
                        );
                        continue;
                    };
                    match int_in(self.cx, ms, "RTT (ms)", 0, MAX_STATIC_RTT_MS) {
                        Some(ms) => {
                            covered.insert(p.clone());
                            out.push((p.clone(), Duration::from_millis(ms as u64)));
                        }
                        None => ok = false,
                    }
                }
                static_rtt.push((Arc::<str>::from(region.get_ref().as_str()), out));
            }
        }
        for (name, raw) in pools.iter().zip(&e.pools) {
            if self.refs.pools[name].check.is_none() && !covered.contains(name) {
                ok = false;
                self.err::<()>(
                    raw.span(),
                    format!("pool {name} has no check to measure its RTT and no entry in `static_rtt_ms`: its latency could never be known"),
                );
            }
        }
        let min = match &e.hysteresis {
            None => DEFAULT_HYSTERESIS,
            Some(h) => match humantime::parse_duration(h.get_ref()) {
                Ok(d) if d <= Duration::from_secs(10) => d,
                Ok(_) => return self.err(h.span(), "hysteresis above 10s would never move"),
                Err(err) => {
                    return self.err(
                        h.span(),
                        format!("hysteresis {:?}: {err} (write e.g. \"5ms\")", h.get_ref()),
                    )
                }
            },
        };
        let percent = match &e.hysteresis_percent {
            None => DEFAULT_HYSTERESIS_PERCENT,
            Some(p) => int_in(self.cx, p, "hysteresis_percent", 0, 100)?,
        };
        ok.then_some(PolicyKind::Latency {
            pools,
            static_rtt,
            hysteresis: Hysteresis {
                min,
                percent: percent as u32,
            },
        })
    }

    fn multivalue(&mut self, e: &zonefile::PolicyEntry) -> Option<PolicyKind> {
        let pools = self.pool_names(e)?;
        let max_answers = match &e.max_answers {
            None => DEFAULT_MAX_ANSWERS,
            Some(m) => int_in(self.cx, m, "max_answers", 1, MAX_MAX_ANSWERS)?,
        };
        Some(PolicyKind::Multivalue {
            pools,
            max_answers: max_answers as usize,
        })
    }
}

/// A policy that contains itself, directly or through others, has no answer: report each
/// cycle at the reference that closes it.
pub(super) fn check_cycles(cx: &mut Ctx<'_>, edges: &[Edge]) {
    let mut graph: HashMap<&str, Vec<&Edge>> = HashMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().push(e);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'e>(
        node: &'e str,
        graph: &HashMap<&'e str, Vec<&'e Edge>>,
        marks: &mut HashMap<&'e str, Mark>,
        path: &mut Vec<&'e str>,
        found: &mut Vec<(String, Range<usize>)>,
    ) {
        marks.insert(node, Mark::Active);
        path.push(node);
        for e in graph.get(node).into_iter().flatten() {
            match marks.get(&*e.to) {
                Some(Mark::Active) => {
                    let start = path.iter().position(|p| *p == &*e.to).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[start..].to_vec();
                    cycle.push(&e.to);
                    found.push((cycle.join(" -> "), e.at.clone()));
                }
                Some(Mark::Done) => {}
                None => visit(&e.to, graph, marks, path, found),
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
    }
    let mut marks = HashMap::new();
    let mut found = Vec::new();
    let mut starts: Vec<&str> = edges.iter().map(|e| &*e.from).collect();
    starts.dedup();
    for s in starts {
        if !marks.contains_key(s) {
            visit(s, &graph, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    for (cycle, at) in found {
        cx.err::<()>(
            at,
            format!("policy cycle {cycle}: a policy may not contain itself"),
        );
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
    fn an_unknown_kind_names_the_known_ones() {
        let text =
            with_pools("\n[[policies]]\nname = \"a\"\npolicy = \"random\"\npools = [\"east\"]\n");
        assert_eq!(
            errors(&text),
            ["z.toml:16:10: policy \"random\": expected one of failover, weighted, latency, geoproximity, geolocation, multivalue"]
        );
    }

    #[test]
    fn every_field_of_another_kind_is_reported() {
        let text = with_pools(
            "\n[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"east\"]\nweights = { east = 1 }\nmax_answers = 2\n",
        );
        assert_eq!(
            errors(&text),
            [
                "z.toml:18:11: `weights` applies to weighted policies, not failover",
                "z.toml:19:15: `max_answers` applies to multivalue policies, not failover",
            ]
        );
    }

    #[test]
    fn a_missing_member_is_reported() {
        let text = with_pools(
            "\n[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"east\", \"north\"]\n",
        );
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            errs[0],
            "z.toml:17:18: policy a names pool \"north\", which is not defined (pools: [\"east\", \"west\"]; policies: [\"a\"])"
        );
    }

    #[test]
    fn weighted_members_keep_their_weights() {
        let text = with_pools(
            "\n[[policies]]\nname = \"w\"\npolicy = \"weighted\"\nweights = { east = 3, west = 1 }\n",
        );
        let z = zone(&text);
        let PolicyKind::Weighted { .. } = &z.policies[0].kind else {
            panic!("{:?}", z.policies[0].kind);
        };
    }
}
