//! Geolocation: rules by country, then continent, then a default. The most specific rule
//! whose member has an answer for the client wins, so a country whose pool is down falls
//! back to its continent's rule, then to the default, as Route 53 does.

use super::query::Query;
use super::tree::{uniform, AnswerId, Branch};
use crate::geo::{Continent, Country};

#[derive(Debug, Clone)]
pub(crate) struct Geolocation<N> {
    /// One node per distinct member.
    nodes: Vec<N>,
    /// Sorted by country, for a binary search.
    countries: Vec<(Country, u16)>,
    continents: [Option<u16>; 7],
    default: u16,
}

/// `nodes[i]` is the compiled member `i`; rules index into it.
pub(crate) fn build<N>(
    nodes: Vec<N>,
    mut countries: Vec<(Country, u16)>,
    continents: Vec<(Continent, u16)>,
    default: u16,
) -> N
where
    N: Branch + From<Box<Geolocation<N>>>,
{
    if let Some(same) = uniform(&nodes) {
        return same;
    }
    countries.sort_by_key(|(c, _)| *c);
    let mut by_continent = [None; 7];
    for (c, i) in continents {
        by_continent[c.index()] = Some(i);
    }
    N::from(Box::new(Geolocation {
        nodes,
        countries,
        continents: by_continent,
        default,
    }))
}

impl<N: Branch> Geolocation<N> {
    pub(crate) fn pick(&self, q: &mut Query<'_>) -> Option<AnswerId> {
        let at = q.location();
        if let Some(country) = at.country {
            if let Ok(i) = self.countries.binary_search_by_key(&country, |(c, _)| *c) {
                if let Some(a) = self.nodes[self.countries[i].1 as usize].pick(q) {
                    return Some(a);
                }
            }
        }
        if let Some(i) = at.continent.and_then(|c| self.continents[c.index()]) {
            if let Some(a) = self.nodes[i as usize].pick(q) {
                return Some(a);
            }
        }
        self.nodes[self.default as usize].pick(q)
    }

    pub(crate) fn preferred(&self) -> Option<AnswerId> {
        self.nodes[self.default as usize]
            .preferred()
            .or_else(|| self.nodes.iter().find_map(N::preferred))
    }
}
