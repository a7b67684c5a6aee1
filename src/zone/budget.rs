//! The failover budget: from the checks, the agents and the TTL, the worst-case time
//! from a pool failing to its policy's answer changing, and to resolvers seeing it.
//!
//! For one check: the failure starts just after a successful probe, so the first failing
//! probe starts up to `interval × (1 + jitter)` later, `fall − 1` more follow at the
//! same spacing, and the last may take `timeout` to conclude. Hence
//! `fall × interval × (1 + jitter) + timeout` for a prober to see it. With probe agents
//! the quorum is decided from their reports, and an agent holds a result up to `batch`
//! before sending it; the slowest region the quorum needs sets the time, and all probe
//! on the same schedule, so quorum adds that one `batch`. Going down needs no hold-down
//! (hold-downs delay only the way back). The decision is published at most
//! `PUBLISH_SPACING` after it is made, and the table rebuild that follows takes
//! microseconds. Resolvers may keep the old answer for one more `ttl`, raised to
//! `RESOLVER_TTL_FLOOR` by knot-resolver; with serve-stale on, one `ttl` more again.
//! A policy's budget is that of its slowest checked pool, since any of them may be the
//! one serving when it fails.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use super::{CheckSpec, Policy, Pool, ZoneSet, PROBE_JITTER};

/// Least time between two health publications (the health monitor's spacing): short
/// beside any probe interval, long enough that a burst of transitions goes out together.
pub const PUBLISH_SPACING: Duration = Duration::from_millis(20);

/// knot-resolver raises every TTL under 5 s to 5 s (its `cache.min_ttl` default).
pub const RESOLVER_TTL_FLOOR: u32 = 5;

/// What delays a decision beyond the checks themselves: set by the server file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delays {
    /// `[agents] batch`: how long an agent holds results; `None` without agents (this
    /// nameserver decides from its own probes alone).
    pub batch: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Failure to the answer changing.
    pub answer: Duration,
    /// Failure to resolvers seeing it: `answer + ttl` (the ttl at least the floor).
    pub visible: Duration,
    /// The same behind a resolver with serve-stale on: one more ttl.
    pub stale: Duration,
    pub ttl: u32,
    pub delays: Delays,
    /// The pool that sets the bound and its check; `None` when no pool is checked
    /// (the answer never moves on health).
    pub worst: Option<(Arc<str>, Arc<CheckSpec>)>,
}

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{:.2}s", (s * 100.0).round() / 100.0)
    }
}

impl Budget {
    pub fn explain(&self) -> String {
        match &self.worst {
            None => "no pool is health-checked".into(),
            Some((pool, c)) => {
                let batch = self
                    .delays
                    .batch
                    .map_or_else(String::new, |b| format!(" + agents' batch {}", secs(b)));
                let ttl = if self.ttl < RESOLVER_TTL_FLOOR {
                    format!(
                        "ttl {}s (raised to {RESOLVER_TTL_FLOOR}s by knot-resolver)",
                        self.ttl
                    )
                } else {
                    format!("ttl {}s", self.ttl)
                };
                format!(
                    "pool {pool}: fall {} x interval {} x {:.1} jitter + timeout {}{batch} + publication {}, + {ttl}",
                    c.fall,
                    secs(c.interval),
                    1.0 + PROBE_JITTER,
                    secs(c.timeout),
                    secs(PUBLISH_SPACING),
                )
            }
        }
    }
}

/// One prober's time to see a failure.
pub fn detection(c: &CheckSpec) -> Duration {
    c.interval
        .mul_f64((1.0 + PROBE_JITTER) * f64::from(c.fall.max(1)))
        + c.timeout
}

pub fn policy_budget(
    p: &Policy,
    policies: &[Policy],
    pools: &BTreeMap<Arc<str>, Pool>,
    checks: &BTreeMap<Arc<str>, Arc<CheckSpec>>,
    delays: Delays,
) -> Budget {
    let order = super::pools_of(p, policies);
    // Reversed, so that among equals the first pool in the policy's order is named.
    let worst = order
        .iter()
        .rev()
        .filter_map(|name| {
            let pool = pools.get(name)?;
            let check = checks.get(pool.check.as_ref()?)?;
            Some((name.clone(), check.clone()))
        })
        .max_by_key(|(_, c)| detection(c));
    let answer = worst.as_ref().map_or(Duration::ZERO, |(_, c)| {
        detection(c) + delays.batch.unwrap_or(Duration::ZERO) + PUBLISH_SPACING
    });
    let ttl = Duration::from_secs(u64::from(p.ttl.max(RESOLVER_TTL_FLOOR)));
    Budget {
        answer,
        visible: answer + ttl,
        stale: answer + ttl * 2,
        ttl: p.ttl,
        delays,
        worst,
    }
}

/// The report `switchyard check` prints.
pub fn report(zones: &ZoneSet, delays: Delays) -> String {
    let mut s = String::from("failover budget (worst case):\n");
    for z in &zones.zones {
        for p in &z.policies {
            let b = policy_budget(p, &z.policies, &z.pools, &z.checks, delays);
            let limit = match p.max_failover {
                None => String::new(),
                Some((max, _)) if b.visible <= max => format!("; max_failover {}: ok", secs(max)),
                Some((max, _)) => format!("; max_failover {}: EXCEEDED", secs(max)),
            };
            if b.worst.is_none() {
                let _ = writeln!(
                    s,
                    "  policy {} ({}): never moves on health: no pool is checked{limit}",
                    p.label, p.name
                );
                continue;
            }
            let _ = writeln!(
                s,
                "  policy {} ({}): answer changes within {}, resolvers see it within {} ({} with serve-stale) ({}){limit}",
                p.label,
                p.name,
                secs(b.answer),
                secs(b.visible),
                secs(b.stale),
                b.explain()
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn zone(max: &str) -> Result<crate::zone::Zone, Vec<crate::config::ConfigError>> {
        crate::config::parse_zone(Path::new("b.toml"), &zone_text(max))
    }

    fn zone_text(max: &str) -> String {
        format!(
            r#"[zone]
origin = "b.test."
nameservers = ["ns1.b.test."]
soa = {{ mname = "ns1.b.test.", rname = "h.b.test." }}

[checks.fast]
kind = "tcp"
port = 80
interval = "1s"
timeout = "500ms"
fall = 3

[checks.slow]
kind = "tcp"
port = 81
interval = "10s"
timeout = "2s"
fall = 2

[pools.a]
region = "r1"
addresses = ["192.0.2.1"]
check = "fast"

[pools.b]
region = "r2"
addresses = ["192.0.2.2"]
check = "slow"

[pools.c]
region = "r3"
addresses = ["192.0.2.3"]

[[policies]]
name = "api"
policy = "failover"
ttl = 30
pools = ["a", "b", "c"]
{max}
"#
        )
    }

    #[test]
    fn the_slowest_checked_pool_sets_the_budget() {
        let z = zone("").unwrap();
        let b = policy_budget(
            &z.policies[0],
            &z.policies,
            &z.pools,
            &z.checks,
            Delays::default(),
        );
        // slow: 2 x 10s x 1.1 + 2s + 20ms publication = 24.02s; fast: 3.82s.
        assert_eq!(b.answer, Duration::from_millis(24_020));
        assert_eq!(b.visible, Duration::from_millis(54_020));
        assert_eq!(b.stale, Duration::from_millis(84_020));
        assert_eq!(&*b.worst.as_ref().unwrap().0, "b");
        let set = crate::zone::ZoneSet {
            zones: vec![Arc::new(z)],
        };
        let r = report(&set, Delays::default());
        assert!(
            r.contains("answer changes within 24.02s, resolvers see it within 54.02s (84.02s with serve-stale)"),
            "{r}"
        );
        assert!(
            r.contains("pool b: fall 2 x interval 10s x 1.1 jitter + timeout 2s + publication 0.02s, + ttl 30s"),
            "{r}"
        );
        // Agents add their batch period before the quorum can decide.
        let agents = Delays {
            batch: Some(Duration::from_millis(200)),
        };
        let r = report(&set, agents);
        assert!(
            r.contains("answer changes within 24.22s, resolvers see it within 54.22s"),
            "{r}"
        );
        assert!(
            r.contains("timeout 2s + agents' batch 0.20s + publication 0.02s"),
            "{r}"
        );
    }

    #[test]
    fn a_ttl_under_the_resolver_floor_counts_as_the_floor() {
        let text = zone_text("").replace("ttl = 30", "ttl = 1");
        let z = crate::config::parse_zone(Path::new("b.toml"), &text).unwrap();
        let b = policy_budget(
            &z.policies[0],
            &z.policies,
            &z.pools,
            &z.checks,
            Delays::default(),
        );
        assert_eq!(b.visible, b.answer + Duration::from_secs(5));
        assert!(
            b.explain()
                .ends_with("+ ttl 1s (raised to 5s by knot-resolver)"),
            "{}",
            b.explain()
        );
    }

    #[test]
    fn max_failover_is_checked_where_it_is_declared() {
        assert!(zone("max_failover = \"60s\"").is_ok());
        let e = zone("max_failover = \"54s\"").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].at, Some((39, 16)), "{}", e[0]);
        assert!(
            e[0].message
                .contains("worst-case failover 54.02s exceeds max_failover 54s"),
            "{}",
            e[0]
        );
        let e = zone("max_failover = \"soon\"").unwrap_err();
        assert!(e[0].message.contains("max_failover \"soon\""), "{}", e[0]);
    }
}
