//! The `[limits]` and `[rrl]` sections of the server file: what a hostile client may
//! cost us. Parsed and range-checked here, once.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, SpanLocator};

/// Resource limits on the DNS transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// TCP connections open at once; one more is closed as soon as it is accepted.
    pub tcp_connections: usize,
    /// A TCP connection with no message in progress is closed after this long.
    pub tcp_idle_timeout: Duration,
    /// From a message's first byte to its last, and for writing its answer.
    pub tcp_request_timeout: Duration,
    /// Largest query accepted, in bytes: larger UDP datagrams are dropped, and a TCP
    /// message announcing more closes the connection. Queries are small; big ones are
    /// floods or probes.
    pub max_query_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            tcp_connections: 1024,
            tcp_idle_timeout: Duration::from_secs(10),
            tcp_request_timeout: Duration::from_secs(5),
            max_query_size: 4096,
        }
    }
}

/// Response rate limiting settings (the `[rrl]` section), taken by `dns::rrl::Rrl`.
#[derive(Debug, Clone)]
pub struct RrlConfig {
    /// Identical responses per second per client network.
    pub rate: u32,
    /// Every n-th limited response is slipped (sent truncated); 0 drops them all.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Networks never limited (monitoring, known resolvers).
    pub exempt: Vec<ipnet::IpNet>,
    /// Slots in the table; rounded up to a power of two.
    pub table_size: usize,
}

impl Default for RrlConfig {
    fn default() -> Self {
        Self {
            rate: 20,
            slip: 2,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Vec::new(),
            table_size: 1 << 16,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    tcp_connections: Option<Spanned<i64>>,
    tcp_idle_timeout: Option<Spanned<String>>,
    tcp_request_timeout: Option<Spanned<String>>,
    max_query_size: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRrl {
    responses_per_second: Option<Spanned<i64>>,
    slip: Option<Spanned<i64>>,
    ipv4_prefix: Option<Spanned<i64>>,
    ipv6_prefix: Option<Spanned<i64>>,
    #[serde(default)]
    exempt: Vec<Spanned<String>>,
    table_size: Option<Spanned<i64>>,
}

fn int(
    loc: &SpanLocator<'_>,
    v: &Option<Spanned<i64>>,
    what: &str,
    lo: i64,
    hi: i64,
    default: i64,
) -> Result<i64, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) if (lo..=hi).contains(s.get_ref()) => Ok(*s.get_ref()),
        Some(s) => Err(loc.error(
            s.span(),
            format!("{what} {} out of range {lo}..={hi}", s.get_ref()),
        )),
    }
}

fn duration(
    loc: &SpanLocator<'_>,
    v: &Option<Spanned<String>>,
    what: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(s) = v else { return Ok(default) };
    humantime::parse_duration(s.get_ref())
        .ok()
        .filter(|d| *d >= Duration::from_millis(100) && *d <= Duration::from_secs(600))
        .ok_or_else(|| {
            loc.error(
                s.span(),
                format!(
                    "{what} {:?}: write e.g. \"10s\", within 100ms..=10m",
                    s.get_ref()
                ),
            )
        })
}

pub(super) fn limits(loc: &SpanLocator<'_>, raw: Option<RawLimits>) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let Some(raw) = raw else { return Ok(d) };
    Ok(Limits {
        tcp_connections: int(
            loc,
            &raw.tcp_connections,
            "tcp_connections",
            1,
            1_000_000,
            d.tcp_connections as i64,
        )? as usize,
        tcp_idle_timeout: duration(
            loc,
            &raw.tcp_idle_timeout,
            "tcp_idle_timeout",
            d.tcp_idle_timeout,
        )?,
        tcp_request_timeout: duration(
            loc,
            &raw.tcp_request_timeout,
            "tcp_request_timeout",
            d.tcp_request_timeout,
        )?,
        // 512 is the smallest message every DNS speaker must accept (RFC 1035 §4.2.1).
        max_query_size: int(
            loc,
            &raw.max_query_size,
            "max_query_size",
            512,
            65535,
            d.max_query_size as i64,
        )? as usize,
    })
}

pub(super) fn rrl(
    loc: &SpanLocator<'_>,
    raw: Option<RawRrl>,
) -> Result<Option<RrlConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let d = RrlConfig::default();
    let mut exempt = Vec::new();
    for e in &raw.exempt {
        let net = e
            .get_ref()
            .parse::<ipnet::IpNet>()
            .or_else(|_| {
                e.get_ref()
                    .parse::<std::net::IpAddr>()
                    .map(ipnet::IpNet::from)
            })
            .map_err(|_| {
                loc.error(
                    e.span(),
                    format!(
                        "exempt {:?} is not a network (e.g. \"192.0.2.0/24\")",
                        e.get_ref()
                    ),
                )
            })?;
        exempt.push(net);
    }
    Ok(Some(RrlConfig {
        rate: int(
            loc,
            &raw.responses_per_second,
            "responses_per_second",
            1,
            1_000_000,
            i64::from(d.rate),
        )? as u32,
        slip: int(loc, &raw.slip, "slip", 0, 100, i64::from(d.slip))? as u32,
        ipv4_prefix: int(
            loc,
            &raw.ipv4_prefix,
            "ipv4_prefix",
            8,
            32,
            i64::from(d.ipv4_prefix),
        )? as u8,
        ipv6_prefix: int(
            loc,
            &raw.ipv6_prefix,
            "ipv6_prefix",
            16,
            128,
            i64::from(d.ipv6_prefix),
        )? as u8,
        exempt,
        table_size: int(
            loc,
            &raw.table_size,
            "table_size",
            64,
            1 << 24,
            d.table_size as i64,
        )? as usize,
    }))
}
