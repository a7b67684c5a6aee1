//! A MaxMind DB (GeoIP2/GeoLite2 City or Country, or any database with the same field
//! names) read into memory once, and looked up per query without allocating: only the
//! country, continent and coordinates are decoded, borrowed from the file's bytes.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader};
use serde::Deserialize;

use super::{max_len, Continent, Coord, Country, Location};

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a MaxMind DB: {source}")]
    Format {
        path: PathBuf,
        source: MaxMindDbError,
    },
}

/// An open database.
pub struct GeoDb {
    reader: Reader<Vec<u8>>,
    path: PathBuf,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("path", &self.path)
            .field("database_type", &self.database_type())
            .finish()
    }
}

/// The parts of a City or Country record we use; serde skips every other field
/// (names in many languages, subdivisions, postal codes, traits) without decoding it.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Named<'a>>,
    /// Where the block is registered: the only country some records carry (anycast,
    /// satellite providers).
    #[serde(borrow)]
    registered_country: Option<Named<'a>>,
    #[serde(borrow)]
    continent: Option<ContinentRecord<'a>>,
    location: Option<LocationRecord>,
}

#[derive(Deserialize)]
struct Named<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct ContinentRecord<'a> {
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct LocationRecord {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, GeoError> {
        let bytes = std::fs::read(path).map_err(|source| GeoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        GeoDb::from_bytes(bytes, path)
    }

    /// `path` is only remembered for messages.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<GeoDb, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Format {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(GeoDb {
            reader,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The metadata's `database_type`, e.g. `GeoLite2-City`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Where `ip` is, and the prefix length of the database network that holds it (the
    /// network with no data, when there is none). A record that fails to decode counts as
    /// unknown for this address alone.
    pub fn lookup(&self, ip: IpAddr) -> (Location, u8) {
        let full = max_len(ip);
        let Ok(found) = self.reader.lookup(ip) else {
            // An IPv6 address in an IPv4-only database: nothing known, for all of IPv6.
            return (Location::default(), 0);
        };
        let prefix = match found.network() {
            Ok(net) if net.is_ipv4() == ip.is_ipv4() => net.prefix(),
            // An IPv4 address decided above the IPv4 subtree: the whole IPv4 space.
            Ok(_) => 0,
            Err(_) => full,
        };
        let record = match found.decode::<Record<'_>>() {
            Ok(Some(r)) => r,
            Ok(None) => return (Location::default(), prefix),
            Err(e) => {
                tracing::debug!(%ip, error = %e, "undecodable MaxMind record");
                return (Location::default(), full);
            }
        };
        let country = record
            .country
            .and_then(|c| c.iso_code)
            .or_else(|| record.registered_country.and_then(|c| c.iso_code))
            .and_then(Country::from_code);
        let continent = record
            .continent
            .and_then(|c| c.code)
            .and_then(|c| c.parse::<Continent>().ok())
            .or_else(|| country.and_then(|c| c.continent()));
        let coord = record
            .location
            .and_then(|l| Coord::new(l.latitude?, l.longitude?));
        (
            Location {
                country,
                continent,
                coord,
            },
            prefix,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn test_db() -> GeoDb {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/test.mmdb");
        GeoDb::open(&path).expect("geoip/test.mmdb (cargo run --example make_test_mmdb)")
    }

    #[test]
    fn the_shipped_database_locates_documentation_networks() {
        let db = test_db();
        assert_eq!(db.database_type(), "Switchyard-Test-City");
        let (paris, prefix) = db.lookup(ip("198.51.100.7"));
        assert_eq!(paris.country.unwrap().as_str(), "FR");
        assert_eq!(paris.continent, Some(Continent::Eu));
        let at = paris.coord.unwrap();
        assert!((at.lat - 48.8566).abs() < 1e-9 && (at.lon - 2.3522).abs() < 1e-9);
        assert_eq!(prefix, 25);
        assert_eq!(db.lookup(ip("198.51.100.130")).1, 26);
        let (tokyo, prefix) = db.lookup(ip("2001:db8:3::1"));
        assert_eq!(tokyo.country.unwrap().as_str(), "JP");
        assert_eq!(prefix, 48);
        // Country only: no coordinates.
        let (sg, _) = db.lookup(ip("203.0.113.230"));
        assert_eq!(sg.country.unwrap().as_str(), "SG");
        assert!(sg.coord.is_none());
        // Not in the database: nothing known, for the whole empty block around it.
        let (none, prefix) = db.lookup(ip("127.0.0.1"));
        assert_eq!(none, Location::default());
        assert!(prefix < 32, "{prefix}");
        // IPv4-mapped IPv6 reaches the IPv4 data (the writer installs the alias).
        assert_eq!(
            db.lookup(ip("::ffff:198.51.100.7")).0.country,
            paris.country
        );
    }

    #[derive(serde::Serialize)]
    struct CountryRecord {
        continent: Code,
        country: Iso,
        registered_country: Iso,
        traits: BTreeMap<&'static str, bool>,
    }
    #[derive(serde::Serialize)]
    struct Code {
        code: &'static str,
        names: BTreeMap<&'static str, &'static str>,
    }
    #[derive(serde::Serialize)]
    struct Iso {
        iso_code: &'static str,
        is_in_european_union: bool,
    }

    #[test]
    fn country_format_databases_give_country_and_continent_without_coordinates() {
        let mut w = mmdb_writer::Writer::new("GeoLite2-Country");
        let rec = CountryRecord {
            continent: Code {
                code: "EU",
                names: BTreeMap::from([("en", "Europe"), ("de", "Europa")]),
            },
            country: Iso {
                iso_code: "DE",
                is_in_european_union: true,
            },
            registered_country: Iso {
                iso_code: "DE",
                is_in_european_union: true,
            },
            traits: BTreeMap::from([("is_anycast", false)]),
        };
        w.insert(
            "192.0.2.0/24".parse::<mmdb_writer::ipnet::IpNet>().unwrap(),
            &rec,
        )
        .unwrap();
        let db = GeoDb::from_bytes(w.to_bytes().unwrap(), Path::new("country.mmdb")).unwrap();
        let (l, prefix) = db.lookup(ip("192.0.2.9"));
        assert_eq!(l.country.unwrap().as_str(), "DE");
        assert_eq!(l.continent, Some(Continent::Eu));
        assert_eq!(l.coord, None);
        assert_eq!(prefix, 24);
    }

    #[test]
    fn ipv4_only_databases_know_nothing_of_ipv6_and_garbage_is_refused() {
        let mut w = mmdb_writer::Writer::builder("v4")
            .ip_version(mmdb_writer::IpVersion::V4)
            .build();
        w.insert(
            "192.0.2.0/24".parse::<mmdb_writer::ipnet::IpNet>().unwrap(),
            &BTreeMap::from([("country", BTreeMap::from([("iso_code", "FR")]))]),
        )
        .unwrap();
        let db = GeoDb::from_bytes(w.to_bytes().unwrap(), Path::new("v4.mmdb")).unwrap();
        assert_eq!(db.lookup(ip("192.0.2.1")).0.country.unwrap().as_str(), "FR");
        // The continent comes from the country when the record has none.
        assert_eq!(db.lookup(ip("192.0.2.1")).0.continent, Some(Continent::Eu));
        assert_eq!(db.lookup(ip("2001:db8::1")), (Location::default(), 0));
        let err = GeoDb::from_bytes(b"not a database".to_vec(), Path::new("x.mmdb")).unwrap_err();
        assert!(
            err.to_string().contains("x.mmdb is not a MaxMind DB"),
            "{err}"
        );
    }
}
