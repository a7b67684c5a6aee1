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

#[cfg(test)]
mod tests {
    use super::super::testing::{errors, zone, HEAD};
    use crate::geo::Continent;

    #[test]
    fn overrides_take_the_continent_of_the_country() {
        let z = zone(&format!(
            "{HEAD}\n[[geo_overrides]]\nnetwork = \"10.0.0.0/8\"\ncountry = \"FR\"\n"
        ));
        let o = &z.geo_overrides[0];
        assert_eq!(o.network.to_string(), "10.0.0.0/8");
        assert_eq!(
            o.location.country.map(|c| c.to_string()).as_deref(),
            Some("FR")
        );
        assert_eq!(o.location.continent, Some(Continent::Eu));
    }

    #[test]
    fn a_network_is_overridden_once() {
        let text = format!(
            "{HEAD}\n[[geo_overrides]]\nnetwork = \"10.0.0.0/8\"\ncountry = \"FR\"\n\n[[geo_overrides]]\nnetwork = \"10.0.0.0/8\"\ncountry = \"DE\"\n"
        );
        assert_eq!(
            errors(&text),
            ["z.toml:11:11: network 10.0.0.0/8 is overridden twice"]
        );
    }

    #[test]
    fn a_network_with_host_bits_is_an_error_that_shows_the_network() {
        let text =
            format!("{HEAD}\n[[geo_overrides]]\nnetwork = \"203.0.113.5/24\"\ncountry = \"FR\"\n");
        assert_eq!(
            errors(&text),
            ["z.toml:7:11: network: 203.0.113.5/24 has host bits set after the first 24: did you mean 203.0.113.0/24?"]
        );
    }

    #[test]
    fn bad_entries_are_reported_at_their_fields() {
        let text = format!(
            "{HEAD}\n[[geo_overrides]]\nnetwork = \"10.0.0.0/33\"\ncontinent = \"EUR\"\n\n[[geo_overrides]]\nnetwork = \"192.0.2.0/24\"\n"
        );
        assert_eq!(
            errors(&text),
            [
                "z.toml:7:11: network: prefix length 33 is longer than 32 bits",
                "z.toml:8:13: unknown continent code \"EUR\": expected one of AF, AN, AS, EU, NA, OC, SA",
                "z.toml:10:1: a geo override needs `country`, `continent` or `location`",
            ]
        );
    }
}
