//! `[[geo_overrides]]`: the operator's statements about where client networks are.

use super::super::zonefile::{self, S};
use super::ctx::{coord, Ctx};
use crate::geo::{parse_network, Continent, Country, Location, Override};

/// `[[geo_overrides]]` entries.
pub(super) fn geo_overrides(
    cx: &mut Ctx<'_>,
    raw: &[S<zonefile::GeoOverrideEntry>],
) -> Vec<Override> {
    let mut out: Vec<Override> = Vec::new();
    for entry in raw {
        let e = entry.get_ref();
        let network = match parse_network(e.network.get_ref()) {
            Ok(n) => Some(n),
            Err(msg) => cx.err(e.network.span(), format!("network: {msg}")),
        };
        let country = e.country.as_ref().and_then(|c| {
            Country::known(c.get_ref()).or_else(|| {
                cx.err(
                    c.span(),
                    format!(
                        "unknown country code {:?}: expected an ISO 3166-1 alpha-2 code",
                        c.get_ref()
                    ),
                )
            })
        });
        let continent = e.continent.as_ref().and_then(|c| {
            c.get_ref().parse::<Continent>().ok().or_else(|| {
                cx.err(
                    c.span(),
                    format!(
                        "unknown continent code {:?}: expected one of AF, AN, AS, EU, NA, OC, SA",
                        c.get_ref()
                    ),
                )
            })
        });
        let at = e.location.as_ref().and_then(|l| coord(cx, l));
        if e.country.is_none() && e.continent.is_none() && e.location.is_none() {
            cx.err::<()>(
                entry.span(),
                "a geo override needs `country`, `continent` or `location`",
            );
            continue;
        }
        let Some(network) = network else { continue };
        if let Some(first) = out.iter().find(|o| o.network == network) {
            cx.err::<()>(
                e.network.span(),
                format!("network {} is overridden twice", first.network),
            );
            continue;
        }
        out.push(Override {
            network,
            location: Location {
                country,
                continent: continent.or_else(|| country.and_then(|c| c.continent())),
                coord: at,
            },
        });
    }
    out
}
