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
