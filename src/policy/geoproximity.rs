//! Geoproximity: the up pool nearest the client by great-circle distance, each distance
//! scaled by `1 - bias/100` as Route 53 does (bias 50 halves a pool's distances, growing
//! its area; -50 makes them one and a half times longer). Clients without coordinates
//! get the fallback pool.

use super::query::Query;
use super::tree::{AnswerId, Branch};
use crate::geo::{angle, Coord};

#[derive(Debug, Clone)]
pub(crate) struct Site {
    unit: [f64; 3],
    factor: f64,
    answer: AnswerId,
}

#[derive(Debug, Clone)]
pub(crate) struct Geoproximity {
    sites: Vec<Site>,
    fallback: Option<AnswerId>,
}

/// `sites`: every configured pool with its answer when up. `fallback`: the answer for
/// clients without coordinates (already resolved to an up pool, if any is).
pub(crate) fn build<N>(sites: Vec<(Coord, i8, Option<AnswerId>)>, fallback: Option<AnswerId>) -> N
where
    N: Branch + From<Box<Geoproximity>>,
{
    let sites: Vec<Site> = sites
        .into_iter()
        .filter_map(|(at, bias, answer)| {
            Some(Site {
                unit: at.unit(),
                factor: 1.0 - f64::from(bias) / 100.0,
                answer: answer?,
            })
        })
        .collect();
    if sites.iter().all(|s| Some(s.answer) == fallback) {
        return N::fixed(fallback);
    }
    N::from(Box::new(Geoproximity { sites, fallback }))
}

impl Geoproximity {
    pub(crate) fn pick(&self, q: &mut Query<'_>) -> Option<AnswerId> {
        let Some(at) = q.location().coord else {
            return self.fallback;
        };
        let here = at.unit();
        let mut best: Option<(f64, AnswerId)> = None;
        for s in &self.sites {
            let d = angle(here, s.unit) * s.factor;
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, s.answer));
            }
        }
        best.map(|(_, a)| a).or(self.fallback)
    }

    pub(crate) fn preferred(&self) -> Option<AnswerId> {
        self.fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::node::Node;

    fn pick_at(n: &Node, lat: f64, lon: f64) -> Option<AnswerId> {
        let Node::Geoproximity(g) = n else {
            panic!("not dynamic: {n:?}")
        };
        // Straight to the geometry, without a locator.
        let here = Coord::new(lat, lon).unwrap().unit();
        g.sites
            .iter()
            .map(|s| (angle(here, s.unit) * s.factor, s.answer))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, a)| a)
    }

    const DUBLIN: Coord = Coord {
        lat: 53.35,
        lon: -6.26,
    };
    const FRANKFURT: Coord = Coord {
        lat: 50.11,
        lon: 8.68,
    };
    const VIRGINIA: Coord = Coord {
        lat: 38.9,
        lon: -77.0,
    };

    #[test]
    fn nearest_wins_and_bias_grows_or_shrinks_an_area() {
        let sites = |fra_bias| {
            vec![
                (DUBLIN, 0, Some(0)),
                (FRANKFURT, fra_bias, Some(1)),
                (VIRGINIA, 0, Some(2)),
            ]
        };
        let n = build(sites(0), Some(2));
        // London: Dublin ~460 km, Frankfurt ~640 km.
        assert_eq!(pick_at(&n, 51.5, -0.13), Some(0));
        assert_eq!(pick_at(&n, 40.7, -74.0), Some(2));
        // Bias 50 halves Frankfurt's distances: London is now Frankfurt's.
        let n = build(sites(50), Some(2));
        assert_eq!(pick_at(&n, 51.5, -0.13), Some(1));
        // Bias -70 makes Paris (Frankfurt ~480 km, x1.7 = ~815; Dublin ~780 km) Dublin's.
        let n = build(sites(0), Some(2));
        assert_eq!(pick_at(&n, 48.86, 2.35), Some(1));
        let n = build(sites(-70), Some(2));
        assert_eq!(pick_at(&n, 48.86, 2.35), Some(0));
    }

    #[test]
    fn down_pools_are_skipped_and_one_pool_left_is_fixed() {
        let n = build(
            vec![
                (DUBLIN, 0, None),
                (FRANKFURT, 0, Some(1)),
                (VIRGINIA, 0, Some(2)),
            ],
            Some(2),
        );
        assert_eq!(pick_at(&n, 51.5, -0.13), Some(1));
        let one = build(vec![(DUBLIN, 0, None), (FRANKFURT, 0, Some(1))], Some(1));
        assert!(matches!(one, Node::Fixed(Some(1))));
    }
}
