//! The failover budget: from the checks and TTL alone, the worst-case time from a pool
//! failing to its policy's answer changing, and to resolvers seeing the change.
//!
//! For one check: the failure starts just after a successful probe, so the first failing
//! probe starts up to `interval × (1 + jitter)` later, `fall − 1` more follow at the
//! same spacing, and the last may take `timeout` to conclude. Hence
//! `fall × interval × (1 + jitter) + timeout`. There are no hold-downs today; the table
//! rebuild that follows takes microseconds. Resolvers may keep the old answer for one
//! more `ttl`. A policy's budget is that of its slowest checked pool, since any of
//! them may be the one serving when it fails.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use super::{CheckSpec, Policy, PolicyKind, Pool, ZoneSet, PROBE_JITTER};

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Failure to the answer changing.
    pub answer: Duration,
    /// Failure to resolvers seeing it: `answer + ttl`.
    pub visible: Duration,
    pub ttl: u32,
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
            Some((pool, c)) => format!(
                "pool {pool}: fall {} x interval {} x {:.1} jitter + timeout {}, + ttl {}s",
                c.fall,
                secs(c.interval),
                1.0 + PROBE_JITTER,
                secs(c.timeout),
                self.ttl
            ),
        }
    }
}

pub fn detection(c: &CheckSpec) -> Duration {
    c.interval
        .mul_f64((1.0 + PROBE_JITTER) * f64::from(c.fall.max(1)))
        + c.timeout
}

pub fn policy_budget(
    p: &Policy,
    pools: &BTreeMap<Arc<str>, Pool>,
    checks: &BTreeMap<Arc<str>, Arc<CheckSpec>>,
) -> Budget {
    let PolicyKind::Failover { pools: order } = &p.kind;
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
    let answer = worst.as_ref().map_or(Duration::ZERO, |(_, c)| detection(c));
    Budget {
        answer,
        visible: answer + Duration::from_secs(u64::from(p.ttl)),
        ttl: p.ttl,
        worst,
    }
}

/// The report `switchyard check` prints.
pub fn report(zones: &ZoneSet) -> String {
    let mut s = String::from("failover budget (worst case):\n");
    for z in &zones.zones {
        for p in &z.policies {
            let b = policy_budget(p, &z.pools, &z.checks);
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
                "  policy {} ({}): answer changes within {}, resolvers see it within {} ({}){limit}",
                p.label,
                p.name,
                secs(b.answer),
                secs(b.visible),
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
        let text = format!(
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
        );
        crate::config::parse_zone(Path::new("b.toml"), &text)
    }

    #[test]
    fn the_slowest_checked_pool_sets_the_budget() {
        let z = zone("").unwrap();
        let b = policy_budget(&z.policies[0], &z.pools, &z.checks);
        // slow: 2 x 10s x 1.1 + 2s = 24s; fast: 3 x 1s x 1.1 + 0.5s = 3.8s.
        assert_eq!(b.answer, Duration::from_secs(24));
        assert_eq!(b.visible, Duration::from_secs(54));
        assert_eq!(&*b.worst.as_ref().unwrap().0, "b");
        let r = report(&crate::zone::ZoneSet {
            zones: vec![Arc::new(z)],
        });
        assert!(
            r.contains("answer changes within 24s, resolvers see it within 54s"),
            "{r}"
        );
        assert!(
            r.contains("pool b: fall 2 x interval 10s x 1.1 jitter + timeout 2s, + ttl 30s"),
            "{r}"
        );
    }

    #[test]
    fn max_failover_is_checked_where_it_is_declared() {
        assert!(zone("max_failover = \"60s\"").is_ok());
        let e = zone("max_failover = \"50s\"").unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].at, Some((39, 16)), "{}", e[0]);
        assert!(
            e[0].message
                .contains("worst-case failover 54s exceeds max_failover 50s"),
            "{}",
            e[0]
        );
        let e = zone("max_failover = \"soon\"").unwrap_err();
        assert!(e[0].message.contains("max_failover \"soon\""), "{}", e[0]);
    }
}
