//! Where a client is: a MaxMind DB lookup and the zone's overrides, reduced to the few
//! facts policies use (country, continent, coordinates) plus the length of the network
//! prefix that decided them, which becomes the ECS scope of the answer.
//!
//! The value types here (`Coord`, `Country`, `Continent`) are plain data that `zone` and
//! `config` use too; networks are `ipnet::IpNet`, read by `parse_network`. This module
//! imports nothing else of ours.

pub mod countries;
pub mod db;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

pub use db::{GeoDb, GeoError};

/// Mean Earth radius (IUGG), for great-circle distances in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A point on Earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coord {
    pub lat: f64,
    pub lon: f64,
}

impl Coord {
    /// `None` when out of range (latitude -90..=90, longitude -180..=180) or not finite.
    pub fn new(lat: f64, lon: f64) -> Option<Coord> {
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
            .then_some(Coord { lat, lon })
    }

    /// The point as a unit vector: precomputed once per pool or region so the per-query
    /// comparison is a dot product rather than trigonometry.
    pub fn unit(self) -> [f64; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }

    /// Great-circle distance in kilometres.
    pub fn distance_km(self, other: Coord) -> f64 {
        angle(self.unit(), other.unit()) * EARTH_RADIUS_KM
    }
}

/// The angle in radians between two unit vectors (the great-circle distance on a unit
/// sphere).
pub fn angle(a: [f64; 3], b: [f64; 3]) -> f64 {
    let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    dot.clamp(-1.0, 1.0).acos()
}

/// The seven continent codes MaxMind uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Continent {
    Af,
    An,
    As,
    Eu,
    Na,
    Oc,
    Sa,
}

impl Continent {
    pub const ALL: [Continent; 7] = [
        Continent::Af,
        Continent::An,
        Continent::As,
        Continent::Eu,
        Continent::Na,
        Continent::Oc,
        Continent::Sa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Continent::Af => "AF",
            Continent::An => "AN",
            Continent::As => "AS",
            Continent::Eu => "EU",
            Continent::Na => "NA",
            Continent::Oc => "OC",
            Continent::Sa => "SA",
        }
    }

    /// Index into a `[T; 7]` table.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Continent {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Continent::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

impl fmt::Display for Continent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Any two ASCII letters: what a database says is taken as it is, even a code newer
    /// than our table. Zone files are held to [`Country::known`].
    pub fn from_code(s: &str) -> Option<Country> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// An assigned code (any case), or `None`.
    pub fn known(s: &str) -> Option<Country> {
        let c = Country::from_code(s)?;
        countries::continent_of(c.as_str()).map(|_| c)
    }

    pub fn as_str(&self) -> &str {
        // Always two ASCII letters, by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub fn continent(&self) -> Option<Continent> {
        countries::continent_of(self.as_str())
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What policies know about a client's whereabouts. Every part may be missing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Location {
    pub country: Option<Country>,
    pub continent: Option<Continent>,
    pub coord: Option<Coord>,
}

/// `address/prefix` as a network. Host bits set (`192.0.2.77/25`) are an error naming the
/// network (`192.0.2.0/25`): the operator may have meant the host or another prefix, and
/// taking the network silently hides which. The messages are the ones zone validation
/// reports, so they say what was expected rather than what `ipnet` found.
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let (a, l) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a network: expected address/prefix"))?;
    let addr: IpAddr = a
        .parse()
        .map_err(|_| format!("{a:?} is not an IP address"))?;
    let len: u8 = l
        .parse()
        .map_err(|_| format!("prefix length {l:?} is not a number"))?;
    let net = IpNet::new(addr, len)
        .map_err(|_| format!("prefix length {len} is longer than {} bits", max_len(addr)))?;
    if net.addr() != net.network() {
        return Err(format!(
            "{s} has host bits set after the first {len}: did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// 32 for IPv4, 128 for IPv6.
pub fn max_len(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// The address as a left-aligned 128-bit number (IPv4 in the top 32 bits), so masks and
/// common prefixes work the same for both families.
pub fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128) << 96,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// `ip` with every bit past `len` cleared.
pub fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

/// How many leading bits two addresses of one family share.
fn common_prefix(a: IpAddr, b: IpAddr) -> u8 {
    ((bits(a) ^ bits(b)).leading_zeros() as u8).min(max_len(a))
}

/// An operator's statement about a network, from a zone file; wins over the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Without host bits (see `parse_network`).
    pub network: IpNet,
    pub location: Location,
}

/// Locates clients for one zone: its overrides first, then the database.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    db: Option<Arc<GeoDb>>,
    /// Longest prefix first, so the first match is the most specific.
    overrides: Arc<[Override]>,
}

impl Locator {
    pub fn new(db: Option<Arc<GeoDb>>, overrides: &[Override]) -> Locator {
        let mut o = overrides.to_vec();
        o.sort_by_key(|x| std::cmp::Reverse(x.network.prefix_len()));
        Locator {
            db,
            overrides: o.into(),
        }
    }

    /// Where `ip` is, and the prefix length of the network that decided it: every
    /// address sharing that many leading bits with `ip` gets the same location.
    pub fn locate(&self, ip: IpAddr) -> (Location, u8) {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (location, base) = match self.overrides.iter().find(|o| o.network.contains(&ip)) {
            Some(o) => (o.location, o.network.prefix_len()),
            None => match &self.db {
                Some(db) => db.lookup(ip),
                None => (Location::default(), 0),
            },
        };
        (location, self.narrowed(ip, base))
    }

    /// An override inside the deciding network but not covering `ip` splits that network:
    /// the answer then holds only for the part on `ip`'s side of the split.
    fn narrowed(&self, ip: IpAddr, base: u8) -> u8 {
        let mut prefix = base;
        for o in self.overrides.iter() {
            let net = o.network.addr();
            if o.network.prefix_len() <= base || !same_family(net, ip) || o.network.contains(&ip) {
                continue;
            }
            let shared = common_prefix(net, ip);
            if shared >= base {
                prefix = prefix.max(shared + 1);
            }
        }
        prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn distances_are_great_circle_kilometres() {
        let paris = Coord::new(48.8566, 2.3522).unwrap();
        let london = Coord::new(51.5074, -0.1278).unwrap();
        let d = paris.distance_km(london);
        assert!((d - 343.5).abs() < 2.0, "{d}");
        assert_eq!(paris.distance_km(paris), 0.0);
        assert!(Coord::new(91.0, 0.0).is_none());
        assert!(Coord::new(0.0, -181.0).is_none());
        assert!(Coord::new(f64::NAN, 0.0).is_none());
    }

    #[test]
    fn codes_parse_and_validate() {
        assert_eq!(Country::known("fr").unwrap().as_str(), "FR");
        assert!(Country::known("XX").is_none());
        assert!(Country::from_code("XX").is_some());
        assert!(Country::from_code("FRA").is_none());
        assert_eq!("eu".parse::<Continent>(), Ok(Continent::Eu));
        assert!("EUR".parse::<Continent>().is_err());
        assert_eq!(
            Country::known("DE").unwrap().continent(),
            Some(Continent::Eu)
        );
    }

    #[test]
    fn networks_refuse_host_bits_and_match_their_family_only() {
        assert_eq!(
            parse_network("203.0.113.5/24"),
            Err(
                "203.0.113.5/24 has host bits set after the first 24: did you mean 203.0.113.0/24?"
                    .to_string()
            )
        );
        assert_eq!(
            parse_network("2001:db8::1/64"),
            Err(
                "2001:db8::1/64 has host bits set after the first 64: did you mean 2001:db8::/64?"
                    .to_string()
            )
        );
        let c = parse_network("192.0.2.0/25").unwrap();
        assert_eq!(c.to_string(), "192.0.2.0/25");
        assert!(c.contains(&ip("192.0.2.127")));
        assert!(!c.contains(&ip("192.0.2.128")));
        assert!(!c.contains(&ip("::ffff:192.0.2.1")));
        let v6 = parse_network("2001:db8:1::/48").unwrap();
        assert!(v6.contains(&ip("2001:db8:1:ffff::1")));
        assert!(!v6.contains(&ip("2001:db8:2::1")));
        assert_eq!(
            parse_network("192.0.2.0/33"),
            Err("prefix length 33 is longer than 32 bits".to_string())
        );
        assert_eq!(
            parse_network("192.0.2.0"),
            Err("\"192.0.2.0\" is not a network: expected address/prefix".to_string())
        );
        assert_eq!(
            parse_network("192.0.2.x/24"),
            Err("\"192.0.2.x\" is not an IP address".to_string())
        );
        assert_eq!(
            parse_network("192.0.2.0/x"),
            Err("prefix length \"x\" is not a number".to_string())
        );
        let all = parse_network("0.0.0.0/0").unwrap();
        assert!(all.contains(&ip("203.0.113.1")));
        assert_eq!(
            parse_network("192.0.2.7/32").unwrap().to_string(),
            "192.0.2.7/32"
        );
    }

    fn at(country: &str) -> Location {
        let c = Country::known(country).unwrap();
        Location {
            country: Some(c),
            continent: c.continent(),
            coord: None,
        }
    }

    #[test]
    fn the_most_specific_override_wins_and_its_prefix_is_the_scope() {
        let l = Locator::new(
            None,
            &[
                Override {
                    network: "10.0.0.0/8".parse().unwrap(),
                    location: at("FR"),
                },
                Override {
                    network: "10.1.0.0/16".parse().unwrap(),
                    location: at("DE"),
                },
            ],
        );
        assert_eq!(l.locate(ip("10.1.2.3")), (at("DE"), 16));
        // 10.2.x is in the /8 only, and the /16 override splits the /8: 10.2.0.0 shares
        // 14 bits with 10.1.0.0, so the answer holds for 10.2.0.0/15 and no wider.
        assert_eq!(l.locate(ip("10.2.3.4")), (at("FR"), 15));
        assert_eq!(l.locate(ip("10.200.3.4")), (at("FR"), 9));
        // Outside every override and without a database: nothing known, for every
        // address not split off by an override: 192.x shares no bit with 10/8, so the
        // answer holds for 128.0.0.0/1; 11.0.0.1 shares 7 bits, so for 11.0.0.0/8.
        assert_eq!(l.locate(ip("192.0.2.1")), (Location::default(), 1));
        assert_eq!(l.locate(ip("11.0.0.1")).1, 8);
        assert_eq!(l.locate(ip("::ffff:10.1.0.1")), (at("DE"), 16));
        assert_eq!(l.locate(ip("2001:db8::1")), (Location::default(), 0));
    }
}
