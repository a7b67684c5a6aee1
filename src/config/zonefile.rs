//! The zone policy file as written: serde types that mirror the TOML, with spans.
//!
//! Nothing here is checked beyond TOML syntax and key names (`deny_unknown_fields`);
//! `validate` turns these into `zone` types and reports problems with their position.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;
/// A TOML table with located keys and values.
pub type Table<V> = S<BTreeMap<S<String>, V>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneFile {
    pub zone: S<ZoneHeader>,
    #[serde(default)]
    pub records: Vec<S<RecordEntry>>,
    #[serde(default)]
    pub checks: BTreeMap<S<String>, S<CheckEntry>>,
    #[serde(default)]
    pub pools: BTreeMap<S<String>, S<PoolEntry>>,
    #[serde(default)]
    pub policies: Vec<S<PolicyEntry>>,
    #[serde(default)]
    pub geo_overrides: Vec<S<GeoOverrideEntry>>,
    /// Online signing: the zone's BIND key files.
    pub dnssec: Option<S<DnssecEntry>>,
}

/// `[dnssec] keys = ["Kexample.com.+013+12345"]`: key file bases relative to this file,
/// each with its `.key` and `.private` beside it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecEntry {
    pub keys: Vec<S<String>>,
    /// How long each signature is valid, e.g. "7d" (the default) or "1h".
    pub signature_validity: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneHeader {
    pub origin: S<String>,
    /// An RFC 1035 master file with static records, relative to this file.
    pub records_file: Option<S<String>>,
    /// Default TTL of static records.
    pub ttl: Option<S<i64>>,
    #[serde(default)]
    pub nameservers: Vec<S<String>>,
    pub soa: Option<S<SoaEntry>>,
    /// Addresses or networks that may transfer the zone (AXFR over TCP).
    #[serde(default)]
    pub allow_transfer: Vec<S<String>>,
    /// Secondaries sent a NOTIFY when the serial changes: `address` or `address:port`.
    #[serde(default)]
    pub also_notify: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoaEntry {
    pub mname: S<String>,
    pub rname: S<String>,
    pub serial: Option<S<i64>>,
    pub refresh: Option<S<i64>>,
    pub retry: Option<S<i64>>,
    pub expire: Option<S<i64>>,
    /// Negative-caching TTL (RFC 2308).
    pub minimum: Option<S<i64>>,
    pub ttl: Option<S<i64>>,
}

/// One owner name and its static RRsets. Values are RFC 1035 presentation format
/// (`MX = ["10 mail"]`), except TXT, whose strings are the text itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    pub name: S<String>,
    pub ttl: Option<S<i64>>,
    #[serde(rename = "A")]
    pub a: Option<S<OneOrMany>>,
    #[serde(rename = "AAAA")]
    pub aaaa: Option<S<OneOrMany>>,
    #[serde(rename = "CNAME")]
    pub cname: Option<S<String>>,
    #[serde(rename = "MX")]
    pub mx: Option<S<OneOrMany>>,
    #[serde(rename = "TXT")]
    pub txt: Option<S<OneOrMany>>,
    #[serde(rename = "SRV")]
    pub srv: Option<S<OneOrMany>>,
    #[serde(rename = "CAA")]
    pub caa: Option<S<OneOrMany>>,
    #[serde(rename = "NS")]
    pub ns: Option<S<OneOrMany>>,
    #[serde(rename = "PTR")]
    pub ptr: Option<S<OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckEntry {
    pub kind: S<String>,
    pub port: S<i64>,
    pub host: Option<S<String>>,
    pub path: Option<S<String>>,
    pub expect_status: Option<S<StatusSpec>>,
    pub body_contains: Option<S<String>>,
    pub interval: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub fall: Option<S<i64>>,
    pub rise: Option<S<i64>>,
    pub startup: Option<S<String>>,
    pub tls_verify: Option<S<bool>>,
    /// A PEM file of CA certificates to trust (https), relative to the zone file.
    pub tls_ca: Option<S<String>>,
    /// `"majority"` (default), `"any"`, `"all"` or a number of regions.
    pub quorum: Option<S<QuorumSpec>>,
    /// Time a recovered target must stay up before it takes traffic again.
    pub hold_down: Option<S<String>>,
}

/// `"majority"`, `"any"`, `"all"`, or a number of regions.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum QuorumSpec {
    Count(i64),
    Word(String),
}

/// `200`, or a range `"200-299"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StatusSpec {
    One(i64),
    Range(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolEntry {
    pub region: S<String>,
    pub addresses: S<Vec<S<String>>>,
    pub check: Option<S<String>>,
    pub min_healthy: Option<S<i64>>,
    pub location: Option<S<Location>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    pub name: S<String>,
    pub policy: S<String>,
    pub ttl: Option<S<i64>>,
    #[serde(default)]
    pub pools: Vec<S<String>>,
    pub when_all_down: Option<S<String>>,
    /// Longest acceptable time from a failure to resolvers seeing the new answer.
    pub max_failover: Option<S<String>>,
    /// weighted: member -> weight (replaces `pools`).
    pub weights: Option<S<BTreeMap<S<String>, S<i64>>>>,
    /// weighted: the same client subnet gets the same member.
    pub sticky: Option<S<bool>>,
    /// geolocation: ISO country code -> member.
    pub countries: Option<S<BTreeMap<S<String>, S<String>>>>,
    /// geolocation: continent code -> member.
    pub continents: Option<S<BTreeMap<S<String>, S<String>>>>,
    /// geolocation: the member for clients no rule matches.
    pub default: Option<S<String>>,
    /// geoproximity: pool -> bias (-99..=99).
    pub bias: Option<S<BTreeMap<S<String>, S<i64>>>>,
    /// geoproximity: the pool for clients without coordinates.
    pub fallback: Option<S<String>>,
    /// latency: probe region -> pool -> RTT in milliseconds, until measurements exist.
    pub static_rtt_ms: Option<Table<Table<S<i64>>>>,
    /// latency: absolute margin, e.g. "5ms".
    pub hysteresis: Option<S<String>>,
    /// latency: relative margin, percent of the current pool's RTT.
    pub hysteresis_percent: Option<S<i64>>,
    /// multivalue: most addresses per answer (per address family).
    pub max_answers: Option<S<i64>>,
}

/// `[[geo_overrides]]`: where a client network is, whatever the database says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoOverrideEntry {
    pub network: S<String>,
    pub country: Option<S<String>>,
    pub continent: Option<S<String>>,
    pub location: Option<S<Location>>,
}
