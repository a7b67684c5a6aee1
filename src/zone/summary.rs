//! A human summary of a zone set, printed by `switchyard check`.

use std::fmt::Write;

use hickory_proto::rr::RecordType;

use super::{CheckKind, Member, PolicyKind, ZoneSet};

pub fn summarize(zones: &ZoneSet) -> String {
    let mut s = String::new();
    for z in &zones.zones {
        let statics = z
            .records
            .iter()
            .filter(|r| !matches!(r.rtype(), RecordType::SOA))
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
        for o in &z.geo_overrides {
            let l = &o.location;
            let mut what = Vec::new();
            what.extend(l.country.map(|c| c.to_string()));
            what.extend(l.continent.map(|c| c.to_string()));
            what.extend(l.coord.map(|c| format!("({:.2},{:.2})", c.lat, c.lon)));
            let _ = writeln!(s, "  geo override {}: {}", o.network, what.join(" "));
        }
        for p in &z.policies {
            let what = describe(&p.kind);
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

fn member(m: &Member) -> String {
    match m {
        Member::Pool(p) => p.to_string(),
        Member::Policy(p) => format!("policy {p}"),
    }
}

fn describe(kind: &PolicyKind) -> String {
    let join = |v: Vec<String>, sep: &str| v.join(sep);
    match kind {
        PolicyKind::Failover { members } => {
            format!(
                "failover {}",
                join(members.iter().map(member).collect(), " > ")
            )
        }
        PolicyKind::Weighted { members, sticky } => format!(
            "weighted{} {}",
            if *sticky {
                " (sticky per client subnet)"
            } else {
                ""
            },
            join(
                members
                    .iter()
                    .map(|(m, w)| format!("{}={w}", member(m)))
                    .collect(),
                ", "
            )
        ),
        PolicyKind::Geolocation {
            countries,
            continents,
            default,
        } => {
            let mut rules: Vec<String> = countries
                .iter()
                .map(|(c, m)| format!("{c}->{}", member(m)))
                .collect();
            rules.extend(
                continents
                    .iter()
                    .map(|(c, m)| format!("{c}->{}", member(m))),
            );
            rules.push(format!("default->{}", member(default)));
            format!("geolocation {}", rules.join(", "))
        }
        PolicyKind::Geoproximity { pools, fallback } => format!(
            "geoproximity {} (no coordinates: {fallback})",
            join(
                pools
                    .iter()
                    .map(|(p, at, bias)| format!("{p}@({:.2},{:.2}) bias {bias}", at.lat, at.lon))
                    .collect(),
                ", "
            )
        ),
        PolicyKind::Latency {
            pools,
            static_rtt,
            hysteresis,
        } => format!(
            "latency {} (hysteresis max({:?}, {}%), static rows: {})",
            join(pools.iter().map(|p| p.to_string()).collect(), ", "),
            hysteresis.min,
            hysteresis.percent,
            static_rtt.len()
        ),
        PolicyKind::Multivalue { pools, max_answers } => format!(
            "multivalue {} (up to {max_answers} addresses)",
            join(pools.iter().map(|p| p.to_string()).collect(), ", ")
        ),
    }
}
