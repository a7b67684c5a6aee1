//! Location-based policies end to end: the real binary with the project's test MaxMind
//! DB (geoip/test.mmdb), queried by dig with EDNS Client Subnet from documentation
//! networks in several countries and continents, IPv4 and IPv6, with source prefix 0
//! and without ECS. Checks the pool answered and the ECS scope echoed.

mod common;

use common::{Dig, Layout, Server};

const GEOIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/geoip/test.mmdb");

// Pools answer with distinctive addresses; no checks, so all are up.
const ZONE: &str = r#"[zone]
origin = "geo.test."
nameservers = ["ns1.geo.test."]
soa = { mname = "ns1.geo.test.", rname = "hostmaster.geo.test." }

[[records]]
name = "ns1"
A = ["192.0.2.53"]

[pools.us-east]
region = "us-east"
location = { lat = 39.0, lon = -77.5 }
addresses = ["10.0.1.1", "fd00::1"]

[pools.eu-west]
region = "eu-west"
location = { lat = 53.35, lon = -6.26 }
addresses = ["10.0.2.1", "fd00::2"]

[pools.eu-central]
region = "eu-central"
location = { lat = 50.11, lon = 8.68 }
addresses = ["10.0.3.1"]

[pools.ap-northeast]
region = "ap-northeast"
location = { lat = 35.68, lon = 139.69 }
addresses = ["10.0.4.1"]

[pools.ap-southeast]
region = "ap-southeast"
location = { lat = -33.87, lon = 151.21 }
addresses = ["10.0.5.1"]

[pools.sa-east]
region = "sa-east"
location = { lat = -23.55, lon = -46.63 }
addresses = ["10.0.6.1"]

[[geo_overrides]]
network = "198.51.100.64/26"
country = "JP"

[[geo_overrides]]
network = "192.0.2.200/32"
location = { lat = 35.0, lon = 139.0 }

[[policies]]
name = "geo"
policy = "geolocation"
countries = { FR = "eu-west", JP = "ap-northeast" }
continents = { EU = "eu-central", NA = "us-east", OC = "ap-southeast" }
default = "us-east"

[[policies]]
name = "prox"
policy = "geoproximity"
pools = ["us-east", "eu-west", "eu-central", "ap-northeast", "ap-southeast", "sa-east"]
fallback = "us-east"

[[policies]]
name = "prox-biased"
policy = "geoproximity"
pools = ["eu-west", "eu-central"]
bias = { eu-central = 50 }

[[policies]]
name = "lat"
policy = "latency"
pools = ["us-east", "eu-west", "ap-northeast"]
static_rtt_ms = { us-east = { us-east = 5, eu-west = 80, ap-northeast = 150 }, eu-west = { us-east = 80, eu-west = 5, ap-northeast = 220 }, tokyo = { us-east = 150, eu-west = 220, ap-northeast = 5 } }

[[policies]]
name = "multi"
policy = "multivalue"
pools = ["us-east", "eu-west", "eu-central"]
max_answers = 2

[[policies]]
name = "eu-chain"
policy = "failover"
pools = ["eu-west", "eu-central"]

[[policies]]
name = "composed"
policy = "geolocation"
continents = { EU = "eu-chain", AS = "asia" }
default = "us-east"

[[policies]]
name = "asia"
policy = "weighted"
weights = { ap-northeast = 1, ap-southeast = 0 }
"#;

fn server() -> Server {
    let l = Layout::new();
    std::fs::write(
        l.config(),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 2\nregion = \"us-east\"\ngeoip = \"{GEOIP}\"\n\n[regions]\ntokyo = {{ lat = 35.68, lon = 139.69 }}\n"
        ),
    )
    .unwrap();
    l.zone("geo.test.toml", ZONE);
    l.serve()
}

/// The A (or AAAA) answer and the echoed (source, scope) of one query.
fn ask(
    s: &Server,
    name: &str,
    qtype: &str,
    subnet: Option<&str>,
) -> (Vec<String>, Option<(String, u8)>) {
    let args = match subnet {
        Some(net) => format!("{name}.geo.test {qtype} +subnet={net}"),
        None => format!("{name}.geo.test {qtype}"),
    };
    let d = s.dig(&args);
    assert_eq!(d.status(), "NOERROR", "{}", d.raw);
    (d.rdata(qtype), ecs(&d))
}

/// `; CLIENT-SUBNET: 198.51.100.0/24/25` -> ("198.51.100.0/24", 25)
fn ecs(d: &Dig) -> Option<(String, u8)> {
    let line = d.raw.lines().find(|l| l.starts_with("; CLIENT-SUBNET:"))?;
    let v = line.trim_start_matches("; CLIENT-SUBNET:").trim();
    let (source, scope) = v.rsplit_once('/')?;
    Some((source.to_string(), scope.parse().ok()?))
}

fn expect(s: &Server, name: &str, subnet: &str, want: &str, scope: u8) {
    let qtype = if want.contains(':') { "AAAA" } else { "A" };
    let (answer, echoed) = ask(s, name, qtype, Some(subnet));
    assert_eq!(answer, vec![want.to_string()], "{name} for {subnet}");
    let (source, got) = echoed.unwrap_or_else(|| panic!("no ECS echoed for {name} {subnet}"));
    assert_eq!(source, subnet, "the source must be echoed as sent");
    assert_eq!(got, scope, "scope for {name} {subnet}");
}

#[test]
fn geolocation_by_country_then_continent_then_default_with_honest_scopes() {
    let s = server();
    // France has a country rule. The database holds 198.51.100.0/25 for FR, split at /26
    // by the JP override on .64/26: the answer holds for 198.51.100.0/26.
    expect(&s, "geo", "198.51.100.0/24", "10.0.2.1", 26);
    expect(&s, "geo", "198.51.100.0/26", "10.0.2.1", 26);
    // The override wins over the database (which says FR there).
    expect(&s, "geo", "198.51.100.64/26", "10.0.4.1", 26);
    // Germany and Britain: no country rule, so the EU continent rule.
    expect(&s, "geo", "198.51.100.128/26", "10.0.3.1", 26);
    expect(&s, "geo", "198.51.100.192/28", "10.0.3.1", 26);
    // Japan by country (a /25 in the database, asked with /24: scope 25, longer than the
    // source, tells the resolver its /24 was not specific enough).
    expect(&s, "geo", "203.0.113.0/24", "10.0.4.1", 25);
    // Australia: OC continent rule. Canada: NA. Brazil: no rule, default.
    expect(&s, "geo", "203.0.113.128/26", "10.0.5.1", 26);
    expect(&s, "geo", "192.0.2.64/26", "10.0.1.1", 26);
    // Brazil's /25 is split by the 192.0.2.200/32 override: the answer holds for .128/26.
    expect(&s, "geo", "192.0.2.128/25", "10.0.1.1", 26);
    // South Africa: AF has no rule: default.
    expect(&s, "geo", "203.0.113.192/27", "10.0.1.1", 27);
}

#[test]
fn geolocation_over_ipv6_ecs() {
    let s = server();
    expect(&s, "geo", "2001:db8:2::/48", "10.0.2.1", 48);
    expect(&s, "geo", "2001:db8:3::/56", "10.0.4.1", 48);
    expect(&s, "geo", "2001:db8:5::/48", "10.0.3.1", 48);
    // AAAA answers come from the same choice.
    expect(&s, "geo", "2001:db8:2::/48", "fd00::2", 48);
}

#[test]
fn source_prefix_zero_and_no_ecs_use_the_resolvers_address_with_scope_zero() {
    let s = server();
    // dig's source is 127.0.0.1: not in the database, so the default rule.
    let (a, echoed) = ask(&s, "geo", "A", Some("0.0.0.0/0"));
    assert_eq!(a, vec!["10.0.1.1"]);
    assert_eq!(echoed, Some(("0.0.0.0/0".to_string(), 0)));
    let (a, echoed) = ask(&s, "geo", "A", None);
    assert_eq!(a, vec!["10.0.1.1"]);
    assert_eq!(echoed, None);
    // Prefix 0 means "don't use my address", even when the address says France.
    let (a, echoed) = ask(&s, "geo", "A", Some("198.51.100.0/0"));
    assert_eq!(a, vec!["10.0.1.1"]);
    assert_eq!(echoed.map(|e| e.1), Some(0));
}

#[test]
fn geoproximity_nearest_pool_bias_and_fallback() {
    let s = server();
    // London: Dublin (~460 km) beats Frankfurt (~640 km).
    expect(&s, "prox", "198.51.100.192/26", "10.0.2.1", 26);
    // Paris: Frankfurt (~480 km) beats Dublin (~780 km).
    expect(&s, "prox", "198.51.100.0/26", "10.0.3.1", 26);
    expect(&s, "prox", "203.0.113.0/25", "10.0.4.1", 25);
    expect(&s, "prox", "203.0.113.128/26", "10.0.5.1", 26);
    expect(&s, "prox", "192.0.2.128/25", "10.0.6.1", 26);
    expect(&s, "prox", "2001:db8:1::/48", "10.0.1.1", 48);
    // An override with coordinates only (near Tokyo).
    expect(&s, "prox", "192.0.2.200/32", "10.0.4.1", 32);
    // Singapore has a country but no coordinates in the database: the fallback.
    expect(&s, "prox", "203.0.113.224/27", "10.0.1.1", 27);
    // Bias 50 halves Frankfurt's distances: London now goes to Frankfurt.
    expect(&s, "prox-biased", "198.51.100.192/26", "10.0.3.1", 26);
}

#[test]
fn latency_static_table_by_nearest_probe_region() {
    let s = server();
    // Paris is nearest the eu-west region (located by its pool): eu-west's row.
    expect(&s, "lat", "198.51.100.0/26", "10.0.2.1", 26);
    // Tokyo's region is located by the server file.
    expect(&s, "lat", "203.0.113.0/25", "10.0.4.1", 25);
    expect(&s, "lat", "192.0.2.0/26", "10.0.1.1", 26);
    // No location: this server's own region (us-east) row.
    let (a, _) = ask(&s, "lat", "A", Some("0.0.0.0/0"));
    assert_eq!(a, vec!["10.0.1.1"]);
}

#[test]
fn multivalue_shuffles_up_to_n_addresses_and_is_client_independent() {
    let s = server();
    let mut seen = std::collections::BTreeSet::new();
    let mut orders = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let d = s.dig("multi.geo.test A +subnet=198.51.100.0/24");
        let order: Vec<String> = d
            .answer()
            .iter()
            .filter(|r| r.get(3).map(String::as_str) == Some("A"))
            .map(|r| r[4].clone())
            .collect();
        assert_eq!(order.len(), 2, "{}", d.raw);
        assert_eq!(
            ecs(&d).map(|e| e.1),
            Some(0),
            "a shuffle does not depend on the client"
        );
        seen.extend(order.iter().cloned());
        orders.insert(order);
    }
    // Three addresses, two at a time: each is served, in several orders.
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(orders.len() >= 3, "{orders:?}");
}

#[test]
fn composed_geolocation_to_failover_and_weighted_chains() {
    let s = server();
    // EU clients go through eu-chain (failover eu-west > eu-central).
    expect(&s, "composed", "198.51.100.128/26", "10.0.2.1", 26);
    // Asian clients through a weighted policy whose only weighted member is Tokyo.
    expect(&s, "composed", "203.0.113.0/25", "10.0.4.1", 25);
    expect(&s, "composed", "192.0.2.0/26", "10.0.1.1", 26);
}
