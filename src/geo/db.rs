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
