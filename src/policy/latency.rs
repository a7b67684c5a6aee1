//! Latency: the up pool with the lowest RTT from the probe region nearest the client.
//!
//! At build time each latency policy gets a [`Table`]: one row per probe region that has
//! numbers (smoothed measurements from the health checks, else the configured static
//! RTTs), each row with the pool it chose. A row keeps its previous choice unless
//! another pool is better by more than the hysteresis margin, so answers don't flap on
//! probe noise. Per query the only work is finding the nearest row (a dot product per
//! region) once the client is located.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use super::query::Query;
use super::tree::{uniform, AnswerId, Branch};
use super::{PoolRtts, PoolStates, Regions};
use crate::geo::Coord;
use crate::zone::{Hysteresis, StaticRtt};

/// Where an RTT came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Smoothed health-check latency from that region.
    Measured,
    /// The zone file's `static_rtt_ms`.
    Static,
}

/// A pool's RTT from one region and where it came from, when known.
pub type Rtt = Option<(Duration, Source)>;
/// Every pool of a policy with its RTT, in configured order.
pub type RttRow = Vec<(Arc<str>, Rtt)>;

/// One probe region's view of the pools.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub region: Arc<str>,
    pub at: Option<Coord>,
    /// Every pool of the policy in configured order, with its RTT when known.
    pub rtt: RttRow,
    /// The pool this region's clients get; `None` when no up pool has a known RTT.
    pub choice: Option<Arc<str>>,
}

/// The region -> pool RTT table of one latency policy, as of one build.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub rows: Vec<Row>,
}

/// What a latency table is built from.
pub struct TableInputs<'a> {
    pub label: &'a str,
    pub pools: &'a [Arc<str>],
    pub static_rtt: &'a StaticRtt,
    pub hysteresis: Hysteresis,
    pub states: &'a PoolStates,
    pub measured: &'a PoolRtts,
    pub regions: &'a Regions,
}

/// Build the table, keeping `prev`'s choices within the hysteresis margin.
pub fn table(i: &TableInputs<'_>, prev: Option<&Table>) -> Table {
    let mut regions: BTreeSet<Arc<str>> = i.static_rtt.iter().map(|(r, _)| r.clone()).collect();
    for p in i.pools {
        if let Some(m) = i.measured.get(p) {
            regions.extend(m.iter().map(|(r, _)| r.clone()));
        }
    }
    let rows = regions
        .into_iter()
        .map(|region| {
            let rtt: RttRow = i
                .pools
                .iter()
                .map(|p| (p.clone(), rtt_of(i, &region, p)))
                .collect();
            let before = prev.and_then(|t| t.rows.iter().find(|r| r.region == region));
            let choice = choose(&rtt, i.states, i.hysteresis, before.and_then(|r| r.choice.as_ref()));
            if let Some(before) = before {
                if before.choice != choice {
                    info!(policy = i.label, region = %region, from = ?before.choice, to = ?choice, rtt = ?render(&rtt), "latency choice changed");
                } else if before.rtt != rtt {
                    tracing::debug!(policy = i.label, region = %region, choice = ?choice, rtt = ?render(&rtt), "latency table updated");
                }
            }
            Row {
                at: i.regions.get(&region).copied(),
                region,
                rtt,
                choice,
            }
        })
        .collect();
    Table { rows }
}

fn render(rtt: &[(Arc<str>, Rtt)]) -> Vec<String> {
    rtt.iter()
        .map(|(p, r)| match r {
            Some((d, Source::Measured)) => format!("{p}={:.1}ms", d.as_secs_f64() * 1e3),
            Some((d, Source::Static)) => format!("{p}={}ms(static)", d.as_millis()),
            None => format!("{p}=?"),
        })
        .collect()
}

fn rtt_of(i: &TableInputs<'_>, region: &str, pool: &Arc<str>) -> Option<(Duration, Source)> {
    let measured = i
        .measured
        .get(pool)
        .and_then(|m| m.iter().find(|(r, _)| &**r == region))
        .map(|(_, d)| (*d, Source::Measured));
    measured.or_else(|| {
        i.static_rtt
            .iter()
            .find(|(r, _)| &**r == region)
            .and_then(|(_, row)| row.iter().find(|(p, _)| p == pool))
            .map(|(_, d)| (*d, Source::Static))
    })
}

/// The lowest RTT among up pools (first configured on ties), unless the previous choice is
/// still up and within the margin of it.
fn choose(
    rtt: &[(Arc<str>, Rtt)],
    states: &PoolStates,
    hysteresis: Hysteresis,
    previous: Option<&Arc<str>>,
) -> Option<Arc<str>> {
    let up = |p: &Arc<str>| states.get(p).is_some_and(|s| s.up);
    let candidates = rtt
        .iter()
        .filter_map(|(p, r)| Some((p, r.as_ref()?.0)))
        .filter(|(p, _)| up(p));
    let (best, best_rtt) = candidates.clone().min_by_key(|(_, d)| *d)?;
    if let Some((prev, prev_rtt)) =
        previous.and_then(|prev| candidates.clone().find(|(p, _)| *p == prev))
    {
        if prev_rtt.saturating_sub(best_rtt) <= hysteresis.margin(prev_rtt) {
            return Some(prev.clone());
        }
    }
    Some(best.clone())
}

#[derive(Debug, Clone)]
pub(crate) struct Latency<N> {
    /// Rows with a choice and a known location: (unit vector, answer node).
    rows: Vec<([f64; 3], N)>,
    /// For clients without coordinates: this server's own region's row when it has one.
    default: N,
}

/// `rows`: each row's location and compiled choice; `default`: the row for clients
/// without coordinates.
pub(crate) fn build<N>(rows: Vec<(Option<Coord>, N)>, default: N) -> N
where
    N: Branch + From<Box<Latency<N>>>,
{
    let located: Vec<([f64; 3], N)> = rows
        .into_iter()
        .filter(|(_, n)| !n.is_down())
        .filter_map(|(at, n)| Some((at?.unit(), n)))
        .collect();
    if let Some(same) = uniform(located.iter().map(|(_, n)| n).chain([&default])) {
        return same;
    }
    N::from(Box::new(Latency {
        rows: located,
        default,
    }))
}

impl<N: Branch> Latency<N> {
    pub(crate) fn pick(&self, q: &mut Query<'_>) -> Option<AnswerId> {
        let Some(at) = q.location().coord else {
            return self.default.pick(q);
        };
        let here = at.unit();
        let nearest = self.rows.iter().max_by(|a, b| {
            let da = a.0[0] * here[0] + a.0[1] * here[1] + a.0[2] * here[2];
            let db = b.0[0] * here[0] + b.0[1] * here[1] + b.0[2] * here[2];
            da.total_cmp(&db)
        });
        match nearest {
            Some((_, n)) => n.pick(q).or_else(|| self.default.pick(q)),
            None => self.default.pick(q),
        }
    }

    pub(crate) fn preferred(&self) -> Option<AnswerId> {
        self.default
            .preferred()
            .or_else(|| self.rows.iter().find_map(|(_, n)| n.preferred()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PoolState;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn states(up: &[(&str, bool)]) -> PoolStates {
        up.iter()
            .map(|(p, u)| {
                (
                    Arc::<str>::from(*p),
                    Arc::new(PoolState {
                        up: *u,
                        healthy: vec![],
                        configured: vec![],
                    }),
                )
            })
            .collect()
    }

    const H: Hysteresis = Hysteresis {
        min: Duration::from_millis(5),
        percent: 10,
    };

    fn build_table(measured: &[(&str, u64)], up: &[(&str, bool)], prev: Option<&Table>) -> Table {
        let pools: Vec<Arc<str>> = vec!["a".into(), "b".into()];
        let measured: PoolRtts = measured
            .iter()
            .map(|(p, v)| {
                (
                    Arc::<str>::from(*p),
                    vec![(Arc::<str>::from("here"), ms(*v))],
                )
            })
            .collect();
        let static_rtt = vec![(
            Arc::<str>::from("there"),
            vec![
                (Arc::<str>::from("a"), ms(90)),
                (Arc::<str>::from("b"), ms(10)),
            ],
        )];
        table(
            &TableInputs {
                label: "t",
                pools: &pools,
                static_rtt: &static_rtt,
                hysteresis: H,
                states: &states(up),
                measured: &measured,
                regions: &Regions::new(),
            },
            prev,
        )
    }

    fn choice<'t>(t: &'t Table, region: &str) -> Option<&'t str> {
        t.rows
            .iter()
            .find(|r| &*r.region == region)
            .and_then(|r| r.choice.as_deref())
    }

    #[test]
    fn lowest_rtt_wins_per_region_measured_before_static() {
        let up = [("a", true), ("b", true)];
        let t = build_table(&[("a", 20), ("b", 80)], &up, None);
        assert_eq!(choice(&t, "here"), Some("a"));
        // "there" has only the static table.
        assert_eq!(choice(&t, "there"), Some("b"));
        let row = t.rows.iter().find(|r| &*r.region == "there").unwrap();
        assert_eq!(row.rtt[1].1, Some((ms(10), Source::Static)));
    }

    #[test]
    fn hysteresis_keeps_the_previous_choice_within_the_margin() {
        let up = [("a", true), ("b", true)];
        let t1 = build_table(&[("a", 50), ("b", 80)], &up, None);
        assert_eq!(choice(&t1, "here"), Some("a"));
        // b is now 4 ms better: below max(5 ms, 10% of 50 ms = 5 ms). Stay.
        let t2 = build_table(&[("a", 50), ("b", 46)], &up, Some(&t1));
        assert_eq!(choice(&t2, "here"), Some("a"));
        // Exactly at the margin: stay; beyond it: move.
        let t3 = build_table(&[("a", 50), ("b", 45)], &up, Some(&t2));
        assert_eq!(choice(&t3, "here"), Some("a"));
        let t4 = build_table(&[("a", 50), ("b", 44)], &up, Some(&t3));
        assert_eq!(choice(&t4, "here"), Some("b"));
        // Without history the better one wins at once.
        let fresh = build_table(&[("a", 50), ("b", 46)], &up, None);
        assert_eq!(choice(&fresh, "here"), Some("b"));
        // The percentage applies to large RTTs: 10% of 300 ms is 30 ms.
        let slow1 = build_table(&[("a", 300), ("b", 400)], &up, None);
        let slow2 = build_table(&[("a", 300), ("b", 275)], &up, Some(&slow1));
        assert_eq!(choice(&slow2, "here"), Some("a"));
    }

    #[test]
    fn a_down_pool_loses_its_rows_at_once_whatever_the_hysteresis() {
        let t1 = build_table(&[("a", 20), ("b", 80)], &[("a", true), ("b", true)], None);
        let t2 = build_table(
            &[("a", 20), ("b", 80)],
            &[("a", false), ("b", true)],
            Some(&t1),
        );
        assert_eq!(choice(&t2, "here"), Some("b"));
        assert_eq!(choice(&t2, "there"), Some("b"));
        let none = build_table(&[("a", 20), ("b", 80)], &[("a", false), ("b", false)], None);
        assert_eq!(choice(&none, "here"), None);
    }
}
