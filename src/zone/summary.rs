//! A human summary of a zone set, printed by `switchyard check`.

use std::fmt::Write;

use hickory_proto::rr::RecordType;

use super::{CheckKind, PolicyKind, ZoneSet};

pub fn summarize(zones: &ZoneSet) -> String {
    let mut s = String::new();
    for z in &zones.zones {
        let statics = z
            .records
            .iter()
            .filter(|r| !matches!(r.record_type(), RecordType::SOA))
            .count();
        let _ = writeln!(s, "zone {} ({})", z.origin, z.file.display());
        let _ = writeln!(s, "  static records: {statics}");
        for (name, c) in &z.checks {
            let what = match &c.kind {
                CheckKind::Http(h) | CheckKind::Https(h) => format!(
                    "{} port {} host {} path {} expect {}-{}",
                    c.kind.name(),
                    c.port,
                    h.host.as_deref().unwrap_or("(address)"),
                    h.path,
                    h.expect_status.start(),
                    h.expect_status.end()
                ),
                CheckKind::Tcp => format!("tcp port {}", c.port),
            };
            let _ = writeln!(
                s,
                "  check {name}: {what}, every {:?}, timeout {:?}, fall {} rise {}",
                c.interval, c.timeout, c.fall, c.rise
            );
        }
        for (name, p) in &z.pools {
            let addrs: Vec<String> = p.addresses.iter().map(|a| a.to_string()).collect();
            let _ = writeln!(
                s,
                "  pool {name} (region {}): {} check {} min_healthy {}",
                p.region,
                addrs.join(", "),
                p.check.as_deref().unwrap_or("(none: always up)"),
                p.min_healthy
            );
        }
        for p in &z.policies {
            let what = match &p.kind {
                PolicyKind::Failover { pools } => {
                    let order: Vec<&str> = pools.iter().map(|p| p.as_ref()).collect();
                    format!("failover {}", order.join(" > "))
                }
            };
            let _ = writeln!(
                s,
                "  policy {} at {}: {what}, ttl {}, when all down: {}",
                p.label,
                p.name,
                p.ttl,
                p.when_all_down.as_str()
            );
        }
    }
    s
}
