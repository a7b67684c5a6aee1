//! What chose a policy's answer, for explain: the client's location and the rule that
//! matched (geolocation), the weights and the draw (weighted), the latency row, the
//! proximity distances (geoproximity), the prepared orderings (multivalue). Computed
//! from the same compiled policy and client as the answer, never from a second draw.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::geo::{Coord, Location};
use crate::policy::{Choice, Client, Compiled};
use crate::zone::{Member, Policy, PolicyKind};

/// The client as the policy located it.
#[derive(Debug, Serialize)]
pub struct Located {
    /// The address the location was looked up for (the ECS address when sent).
    pub address: IpAddr,
    pub country: Option<String>,
    pub continent: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Weight {
    pub member: String,
    pub weight: u32,
    pub up: bool,
    /// This member's share of the draws among the members that are up, in percent.
    pub chance_percent: f64,
}

#[derive(Debug, Serialize)]
pub struct Distance {
    pub pool: String,
    pub distance_km: f64,
    pub bias: i8,
    /// The distance the comparison used: `distance_km × (1 − bias/100)`.
    pub biased_km: f64,
    pub up: bool,
}

#[derive(Debug, Serialize)]
pub struct LatencyRow {
    /// The probe region whose row answered.
    pub region: String,
    /// How the row was chosen: the nearest to the client, or this nameserver's own.
    pub by: String,
    pub distance_km: Option<f64>,
    /// Each pool's RTT from that region, in ms, when known.
    pub rtt_ms: Vec<(String, Option<f64>)>,
    pub choice: Option<String>,
}

/// Everything that decided, by kind; the parts a kind doesn't use are left out.
#[derive(Debug, Default, Serialize)]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Located>,
    /// Geolocation: `country FR`, `continent EU` or `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<Weight>>,
    /// What the draw was made from, and what it landed on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_row: Option<LatencyRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distances: Option<Vec<Distance>>,
}

/// The rule that chose `choice` for `client`, and a sentence saying so.
pub fn rule(
    p: &Policy,
    compiled: &Compiled,
    client: &Client,
    choice: &Choice,
    up: &HashMap<Arc<str>, bool>,
) -> (Rule, String) {
    let chosen = match choice {
        Choice::Pool(c) => c.to_string(),
        Choice::Pools(c) => c.iter().map(|x| &**x).collect::<Vec<_>>().join("+"),
        Choice::AllDown(m) => format!("the all-down fallback ({})", m.as_str()),
    };
    let is_up = |m: &Member| up.get(m.name()).copied().unwrap_or(false);
    let mut r = Rule::default();
    let why = match &p.kind {
        PolicyKind::Failover { .. } => String::new(),
        PolicyKind::Weighted { members, sticky } => {
            let total: u32 = members
                .iter()
                .filter(|(m, _)| is_up(m))
                .map(|(_, w)| w)
                .sum();
            r.weights = Some(
                members
                    .iter()
                    .map(|(m, w)| Weight {
                        member: m.name().to_string(),
                        weight: *w,
                        up: is_up(m),
                        chance_percent: if is_up(m) && total > 0 {
                            f64::from(*w) * 100.0 / f64::from(total)
                        } else {
                            0.0
                        },
                    })
                    .collect(),
            );
            let how = if *sticky {
                "the hash of the client's subnet (sticky)"
            } else {
                "a random draw for this query"
            };
            r.draw = Some(format!("{how} landed on {chosen}"));
            format!("weighted: {how} among the members that are up picked {chosen}")
        }
        PolicyKind::Geolocation {
            countries,
            continents,
            default,
        } => {
            let l = compiled.locate(client);
            r.location = Some(located(client, &l));
            let rules: Vec<(String, &Member)> = l
                .country
                .and_then(|c| countries.iter().find(|(x, _)| *x == c))
                .map(|(c, m)| (format!("country {}", c.as_str()), m))
                .into_iter()
                .chain(
                    l.continent
                        .and_then(|c| continents.iter().find(|(x, _)| *x == c))
                        .map(|(c, m)| (format!("continent {}", c.as_str()), m)),
                )
                .chain(std::iter::once(("default".to_string(), default)))
                .collect();
            let hit = rules
                .iter()
                .find(|(_, m)| **m.name() == *chosen || is_up(m))
                .map_or_else(|| "default".to_string(), |(n, _)| n.clone());
            let skipped: Vec<String> = rules
                .iter()
                .take_while(|(n, _)| *n != hit)
                .map(|(n, m)| format!("{n} -> {} is down", m.name()))
                .collect();
            r.matched = Some(hit.clone());
            let place = describe(&l);
            if skipped.is_empty() {
                format!("geolocation: the client is in {place}; rule {hit} picked {chosen}")
            } else {
                format!(
                    "geolocation: the client is in {place}; {}; rule {hit} picked {chosen}",
                    skipped.join("; ")
                )
            }
        }
        PolicyKind::Geoproximity { pools, fallback } => {
            let l = compiled.locate(client);
            r.location = Some(located(client, &l));
            match l.coord {
                None => {
                    format!("geoproximity: no coordinates for the client: the fallback pool {fallback} (or the first up) answers: {chosen}")
                }
                Some(at) => {
                    r.distances = Some(
                        pools
                            .iter()
                            .map(|(name, site, bias)| {
                                let d = at.distance_km(*site);
                                Distance {
                                    pool: name.to_string(),
                                    distance_km: round(d),
                                    bias: *bias,
                                    biased_km: round(d * (1.0 - f64::from(*bias) / 100.0)),
                                    up: up.get(name).copied().unwrap_or(false),
                                }
                            })
                            .collect(),
                    );
                    format!("geoproximity: {chosen} is the nearest up pool to the client (distances scaled by bias)")
                }
            }
        }
        PolicyKind::Latency { .. } => {
            let l = compiled.locate(client);
            r.location = Some(located(client, &l));
            r.latency_row = latency_row(compiled, l.coord, choice);
            match &r.latency_row {
                Some(row) => format!(
                    "latency: the row of region {} ({}) picked {chosen}, its lowest RTT among the up pools",
                    row.region, row.by
                ),
                None => format!("latency: no RTT row applies: the first up pool answers: {chosen}"),
            }
        }
        PolicyKind::Multivalue { max_answers, .. } => {
            let n = compiled
                .answers()
                .iter()
                .filter(|a| a.choice == *choice)
                .count();
            r.draw = Some(format!(
                "one of {n} prepared orderings of the healthy addresses (at most {max_answers} per family), drawn for this query"
            ));
            format!("multivalue: healthy addresses of {chosen}, in an order drawn for this query")
        }
    };
    (r, why)
}

/// The row a latency policy answered from: the nearest to the client's coordinates, or
/// without them the one whose choice is the answer (this nameserver's own region).
fn latency_row(compiled: &Compiled, at: Option<Coord>, choice: &Choice) -> Option<LatencyRow> {
    let table = compiled.latency_table()?;
    let (row, by, distance) = match at {
        Some(c) => {
            let (row, d) = table
                .rows
                .iter()
                .filter_map(|r| r.at.map(|x| (r, c.distance_km(x))))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            (row, "nearest to the client".to_string(), Some(round(d)))
        }
        None => {
            let chosen = match choice {
                Choice::Pool(p) => Some(p.clone()),
                _ => None,
            };
            let row = table.rows.iter().find(|r| r.choice == chosen)?;
            (
                row,
                "no client location: this nameserver's default row".to_string(),
                None,
            )
        }
    };
    Some(LatencyRow {
        region: row.region.to_string(),
        by,
        distance_km: distance,
        rtt_ms: row
            .rtt
            .iter()
            .map(|(p, r)| {
                (
                    p.to_string(),
                    r.map(|(d, _)| round(d.as_secs_f64() * 1000.0)),
                )
            })
            .collect(),
        choice: row.choice.as_ref().map(|c| c.to_string()),
    })
}

fn located(client: &Client, l: &Location) -> Located {
    Located {
        address: Compiled::client_ip(client),
        country: l.country.map(|c| c.as_str().to_string()),
        continent: l.continent.map(|c| c.as_str().to_string()),
        lat: l.coord.map(|c| c.lat),
        lon: l.coord.map(|c| c.lon),
    }
}

fn describe(l: &Location) -> String {
    match (l.country, l.continent) {
        (Some(c), Some(k)) => format!("country {} (continent {})", c.as_str(), k.as_str()),
        (None, Some(k)) => format!("continent {}", k.as_str()),
        (Some(c), None) => format!("country {}", c.as_str()),
        (None, None) => "no known location".to_string(),
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
