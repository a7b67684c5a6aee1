//! Fixtures shared by the fuzz targets (`fuzz/`) and their regression tests: a routing
//! table that exercises every lookup branch (static types, CNAME, wildcard, delegation,
//! policy, empty non-terminals).

use std::path::Path;
use std::sync::Arc;

use crate::health::HealthSnapshot;
use crate::routing::{self, RoutingTable};
use crate::zone::ZoneSet;

pub const SAMPLE_ZONE: &str = r#"[zone]
origin = "example.test."
nameservers = ["ns1.example.test."]
soa = { mname = "ns1.example.test.", rname = "hostmaster.example.test." }

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[[records]]
name = "@"
MX = ["10 mail"]
TXT = ["v=spf1 -all"]

[[records]]
name = "www"
CNAME = "api"

[[records]]
name = "*.wild"
A = ["192.0.2.99"]

[[records]]
name = "a.b.c"
AAAA = ["2001:db8::1"]

[[records]]
name = "child"
NS = ["ns.child"]

[[records]]
name = "ns.child"
A = ["192.0.2.53"]

[pools.main]
region = "local"
addresses = ["192.0.2.10", "2001:db8::10"]

[[policies]]
name = "api"
policy = "failover"
pools = ["main"]
"#;

pub fn sample_table() -> RoutingTable {
    let zone = crate::config::parse_zone(Path::new("sample.toml"), SAMPLE_ZONE)
        .expect("the sample zone is valid");
    let zones = ZoneSet {
        zones: vec![Arc::new(zone)],
    };
    routing::build(&zones, &HealthSnapshot::default(), 1)
}

/// The source address every fuzz entry point answers for.
pub const FUZZ_SRC: &str = "192.0.2.1:5300";

fn src() -> std::net::SocketAddr {
    FUZZ_SRC.parse().expect("a socket address")
}

/// Fast parser alone: `Some` when it takes the packet as a plain query. Must not panic
/// on any bytes.
pub fn fast_parse(packet: &[u8]) -> bool {
    crate::dns::fast::parse(packet).is_some()
}

/// Fast parser and prepared answer: the reply bytes when the fast path answers.
pub fn fast_answer(table: &RoutingTable, packet: &[u8]) -> Option<Vec<u8>> {
    let q = crate::dns::fast::parse(packet)?;
    let mut out = Vec::with_capacity(512);
    crate::dns::fast::answer(table, &q, src().ip(), &mut out)?;
    Some(out)
}

/// Why the two UDP paths disagreed on a packet the fast path answered.
#[derive(Debug, thiserror::Error)]
pub enum Divergence {
    #[error("the fast path answered ({fast} bytes), the general path sent nothing")]
    GeneralSilent { fast: usize },
    #[error("replies differ at byte {at}: fast {fast:02x?}, general {general:02x?}")]
    Bytes {
        at: usize,
        fast: Vec<u8>,
        general: Vec<u8>,
    },
}

/// The differential property: for any packet the fast path answers, the general path's
/// reply is the same, byte for byte. `Ok(false)`: the fast path declined (nothing to
/// compare); `Ok(true)`: both answered alike.
pub fn differential(table: &RoutingTable, packet: &[u8]) -> Result<bool, Divergence> {
    let Some(fast) = fast_answer(table, packet) else {
        return Ok(false);
    };
    let mut out = Vec::with_capacity(512);
    let Some(general) = crate::dns::udp::handle_datagram(table, packet, src(), &mut out) else {
        return Err(Divergence::GeneralSilent { fast: fast.len() });
    };
    if fast != general {
        let at = fast
            .iter()
            .zip(general)
            .position(|(a, b)| a != b)
            .unwrap_or(fast.len().min(general.len()));
        return Err(Divergence::Bytes {
            at,
            fast,
            general: general.to_vec(),
        });
    }
    Ok(true)
}

/// Any bytes as a zone policy file named `fuzz.toml`: the zone, or every error as
/// `fuzz.toml:line:col: message` (bytes that are not UTF-8 are one more error).
pub fn zone_from_bytes(bytes: &[u8]) -> Result<crate::zone::Zone, Vec<String>> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| vec![format!("fuzz.toml: not UTF-8 text: {e}")])?;
    crate::config::parse_zone(Path::new("fuzz.toml"), text)
        .map_err(|errors| errors.iter().map(|e| e.to_string()).collect())
}
