//! What real resolvers do to the answers of a zone set, as warnings `switchyard check`
//! prints: knot-resolver raises TTLs under 5 s to 5 s, and resolvers send at most a /24
//! (IPv4) or /56 (IPv6) client subnet by default, so a narrower geo override never
//! matches a client behind one. Neither is an error: a zone may be queried directly.

use super::budget::RESOLVER_TTL_FLOOR;
use super::ZoneSet;

/// The widest client subnet resolvers send by default (RFC 7871 §11.1 recommends these;
/// BIND, unbound, knot-resolver and the public resolvers keep to them).
pub const ECS_MAX_V4: u8 = 24;
pub const ECS_MAX_V6: u8 = 56;

/// One line per finding, each naming its file and policy or override.
pub fn warnings(zones: &ZoneSet) -> Vec<String> {
    let mut out = Vec::new();
    for z in &zones.zones {
        let file = z.file.display();
        for p in &z.policies {
            if p.ttl < RESOLVER_TTL_FLOOR {
                out.push(format!(
                    "{file}: policy {} ({}): ttl {}s is under {RESOLVER_TTL_FLOOR}s: knot-resolver raises it to {RESOLVER_TTL_FLOOR}s, so clients behind it see changes up to {RESOLVER_TTL_FLOOR}s late",
                    p.label, p.name, p.ttl
                ));
            }
        }
        for o in &z.geo_overrides {
            let (max, fam) = if o.network.addr().is_ipv4() {
                (ECS_MAX_V4, "IPv4")
            } else {
                (ECS_MAX_V6, "IPv6")
            };
            if o.network.prefix_len() > max {
                out.push(format!(
                    "{file}: geo override {} is narrower than /{max}: resolvers send at most a /{max} {fam} client subnet by default, so it matches clients that query directly, not those behind a resolver",
                    o.network
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn short_ttls_and_narrow_overrides_are_warned_of() {
        let text = r#"[zone]
origin = "w.test."
nameservers = ["ns1.w.test."]
soa = { mname = "ns1.w.test.", rname = "h.w.test." }

[pools.a]
region = "r"
addresses = ["192.0.2.1"]

[[policies]]
name = "fast"
policy = "failover"
pools = ["a"]
ttl = 4

[[policies]]
name = "ok"
policy = "failover"
pools = ["a"]
ttl = 5

[[geo_overrides]]
network = "198.51.100.0/24"
country = "FR"

[[geo_overrides]]
network = "198.51.100.128/25"
country = "DE"

[[geo_overrides]]
network = "2001:db8::/56"
country = "FR"

[[geo_overrides]]
network = "2001:db8:1::/64"
country = "DE"
"#;
        let z = crate::config::parse_zone(Path::new("w.toml"), text).unwrap();
        let w = warnings(&ZoneSet {
            zones: vec![Arc::new(z)],
        });
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(w[0].starts_with("w.toml: policy fast (fast.w.test.): ttl 4s is under 5s: knot-resolver raises it to 5s"), "{w:#?}");
        assert!(w[1].starts_with("w.toml: geo override 198.51.100.128/25 is narrower than /24: resolvers send at most a /24 IPv4 client subnet"), "{w:#?}");
        assert!(w[2].starts_with("w.toml: geo override 2001:db8:1::/64 is narrower than /56: resolvers send at most a /56 IPv6 client subnet"), "{w:#?}");
    }
}
