//! Writes `geoip/test.mmdb`: a small MaxMind DB in the GeoIP2/GeoLite2-City record
//! layout, covering only documentation networks (RFC 5737 and RFC 3849), so the demo and
//! the tests locate clients without any real geo data.
//!
//! Regenerate with: `cargo run --example make_test_mmdb` (or pass another output path).
//! The build timestamp is fixed, so the output is byte-for-byte reproducible.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use mmdb_writer::ipnet::IpNet;
use mmdb_writer::Writer;
use serde::Serialize;

/// (network, country, continent, city and coordinates if any)
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, f64, f64)>,
);

/// The networks and where they are. Keep README.md (geoip section) in step.
const NETWORKS: &[Entry] = &[
    (
        "192.0.2.0/26",
        "US",
        "NA",
        Some(("New York", 40.7128, -74.006)),
    ),
    (
        "192.0.2.64/26",
        "CA",
        "NA",
        Some(("Toronto", 43.6532, -79.3832)),
    ),
    (
        "192.0.2.128/25",
        "BR",
        "SA",
        Some(("Sao Paulo", -23.5505, -46.6333)),
    ),
    (
        "198.51.100.0/25",
        "FR",
        "EU",
        Some(("Paris", 48.8566, 2.3522)),
    ),
    (
        "198.51.100.128/26",
        "DE",
        "EU",
        Some(("Frankfurt", 50.1109, 8.6821)),
    ),
    (
        "198.51.100.192/26",
        "GB",
        "EU",
        Some(("London", 51.5074, -0.1278)),
    ),
    (
        "203.0.113.0/25",
        "JP",
        "AS",
        Some(("Tokyo", 35.6762, 139.6503)),
    ),
    (
        "203.0.113.128/26",
        "AU",
        "OC",
        Some(("Sydney", -33.8688, 151.2093)),
    ),
    (
        "203.0.113.192/27",
        "ZA",
        "AF",
        Some(("Johannesburg", -26.2041, 28.0473)),
    ),
    // Country only, as GeoLite2 has for many blocks: no coordinates.
    ("203.0.113.224/27", "SG", "AS", None),
    (
        "2001:db8:1::/48",
        "US",
        "NA",
        Some(("New York", 40.7128, -74.006)),
    ),
    (
        "2001:db8:2::/48",
        "FR",
        "EU",
        Some(("Paris", 48.8566, 2.3522)),
    ),
    (
        "2001:db8:3::/48",
        "JP",
        "AS",
        Some(("Tokyo", 35.6762, 139.6503)),
    ),
    (
        "2001:db8:4::/48",
        "AU",
        "OC",
        Some(("Sydney", -33.8688, 151.2093)),
    ),
    (
        "2001:db8:5::/48",
        "DE",
        "EU",
        Some(("Frankfurt", 50.1109, 8.6821)),
    ),
    ("2001:db8:6::/48", "SG", "AS", None),
];

// The GeoIP2 City layout (the fields a real GeoLite2-City record has that matter here,
// plus names and ids so readers skip what they don't use, as with the real file).
#[derive(Serialize)]
struct City {
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<Named>,
    continent: Continent,
    country: Country,
    registered_country: Country,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
}

#[derive(Serialize)]
struct Named {
    geoname_id: u32,
    names: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct Continent {
    code: &'static str,
    geoname_id: u32,
    names: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct Country {
    iso_code: &'static str,
    geoname_id: u32,
    names: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct Location {
    accuracy_radius: u16,
    latitude: f64,
    longitude: f64,
}

/// Stable made-up ids: the real GeoNames ids don't matter to anyone reading this file.
fn id(s: &str) -> u32 {
    s.bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "geoip/test.mmdb".to_string());
    let mut w = Writer::builder("Switchyard-Test-City")
        .description(&[(
            "en",
            "Switchyard test data: documentation networks only (RFC 5737, RFC 3849)",
        )])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .build();
    for (net, country, continent, city) in NETWORKS {
        let c = Country {
            iso_code: country,
            geoname_id: id(country),
            names: BTreeMap::from([("en", *country)]),
        };
        let record = City {
            city: city.map(|(name, _, _)| Named {
                geoname_id: id(name),
                names: BTreeMap::from([("en", name)]),
            }),
            continent: Continent {
                code: continent,
                geoname_id: id(continent),
                names: BTreeMap::from([("en", *continent)]),
            },
            registered_country: Country {
                iso_code: country,
                geoname_id: id(country),
                names: BTreeMap::from([("en", *country)]),
            },
            country: c,
            location: city.map(|(_, lat, lon)| Location {
                accuracy_radius: 20,
                latitude: lat,
                longitude: lon,
            }),
        };
        w.insert(net.parse::<IpNet>()?, &record)?;
    }
    std::fs::write(&out, w.to_bytes()?)?;
    println!("wrote {out}: {} networks", NETWORKS.len());
    Ok(())
}
