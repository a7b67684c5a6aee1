//! Turns a parsed zone policy file into a checked `zone::Zone`, or every error it has.
//!
//! Rejects what would serve wrong answers: unknown or malformed values, duplicate names,
//! CNAME beside other data, policy names that collide with static records, references to
//! missing pools or checks, out-of-range TTLs and thresholds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{CNAME, NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use super::error::{ConfigError, SpanLocator};
use super::masterfile;
use super::policies;
use super::zonefile::{self, OneOrMany, QuorumSpec, StatusSpec, S};
use crate::zone::{
    AllDown, CheckKind, CheckSpec, HttpCheck, Policy, Pool, Quorum, StartupState, Zone,
};

/// RFC 2181 §8: TTLs are 31-bit.
const MAX_TTL: i64 = 2_147_483_647;
/// A policy answer exists to move traffic quickly; a day-long TTL would defeat it.
const MAX_POLICY_TTL: i64 = 86_400;
const DEFAULT_TTL: u32 = 300;
const DEFAULT_POLICY_TTL: u32 = 30;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// More regions than any deployment runs: a larger count is a typo.
const MAX_QUORUM: i64 = 64;
/// A day: a longer hold-down is an outage of the target's pool by configuration.
const MAX_HOLD_DOWN: Duration = Duration::from_secs(86_400);

pub(super) struct Ctx<'a> {
    loc: SpanLocator<'a>,
    errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    pub(super) fn err<T>(
        &mut self,
        span: std::ops::Range<usize>,
        msg: impl Into<String>,
    ) -> Option<T> {
        self.errors.push(self.loc.error(span, msg));
        None
    }
}

/// Validate one zone policy file. `text` is its content, for positions.
pub fn validate(
    file: &Path,
    text: &str,
    raw: zonefile::ZoneFile,
) -> Result<Zone, Vec<ConfigError>> {
    let mut cx = Ctx {
        loc: SpanLocator::new(file, text),
        errors: Vec::new(),
    };
    let zone = build(&mut cx, file, raw);
    match zone {
        Some(z) if cx.errors.is_empty() => Ok(z),
        _ => Err(cx.errors),
    }
}

fn build(cx: &mut Ctx<'_>, file: &Path, raw: zonefile::ZoneFile) -> Option<Zone> {
    let header_span = raw.zone.span();
    let header = raw.zone.into_inner();
    let origin = parse_origin(cx, &header.origin)?;
    let default_ttl = match &header.ttl {
        Some(t) => ttl(cx, t, MAX_TTL).unwrap_or(DEFAULT_TTL),
        None => DEFAULT_TTL,
    };

    // Static records: the master file first, then the TOML entries on top.
    let mut records: Vec<Record> = Vec::new();
    // Where each owner name was defined, for duplicate and collision messages.
    let mut defined_at: HashMap<LowerName, std::ops::Range<usize>> = HashMap::new();
    if let Some(rf) = &header.records_file {
        let path = file.parent().unwrap_or(Path::new(".")).join(rf.get_ref());
        match masterfile::load(&path, &origin) {
            Ok(loaded) => {
                for r in loaded {
                    if !origin.zone_of(&r.name) {
                        cx.err::<()>(
                            rf.span(),
                            format!(
                                "{}: record {} is outside zone {origin}",
                                path.display(),
                                r.name
                            ),
                        );
                    } else if r.dns_class != DNSClass::IN {
                        cx.err::<()>(
                            rf.span(),
                            format!("{}: {} is not class IN", path.display(), r.name),
                        );
                    } else {
                        records.push(r);
                    }
                }
            }
            Err(e) => {
                cx.err::<()>(rf.span(), format!("records_file: {e}"));
            }
        }
    }
    let file_names: HashSet<LowerName> = records.iter().map(|r| LowerName::new(&r.name)).collect();

    for entry in &raw.records {
        let span = entry.span();
        let entry = entry.get_ref();
        let Some(name) = owner_name(cx, &entry.name, &origin) else {
            continue;
        };
        let key = LowerName::new(&name);
        if let Some(first) = defined_at.get(&key) {
            let (line, _) = cx.loc.line_col(first.start);
            cx.err::<()>(
                entry.name.span(),
                format!("duplicate name {name}: already defined at line {line}; put every type of one name in one [[records]] entry"),
            );
            continue;
        }
        defined_at.insert(key, span.clone());
        let rttl = match &entry.ttl {
            Some(t) => ttl(cx, t, MAX_TTL).unwrap_or(default_ttl),
            None => default_ttl,
        };
        entry_records(cx, entry, &name, &origin, rttl, &mut records);
    }

    // Apex SOA and NS: from the TOML header, or from the master file.
    let soa = apex_soa(
        cx,
        &header,
        header_span.clone(),
        &origin,
        default_ttl,
        &mut records,
    )?;
    for ns in &header.nameservers {
        if let Some(target) = rdata_name(cx, ns, &origin) {
            records.push(Record::from_rdata(
                origin.clone(),
                default_ttl,
                RData::NS(NS(target)),
            ));
        }
    }
    if !records
        .iter()
        .any(|r| r.record_type() == RecordType::NS && r.name == origin)
    {
        cx.err::<()>(
            header_span.clone(),
            format!("zone {origin} has no NS records: set `nameservers` in [zone] or give them in records_file"),
        );
    }
    check_cname_exclusive(cx, &records, &defined_at, header_span.clone());

    // Checks, then the pools that use them, then the policies over the pools.
    let mut checks = BTreeMap::new();
    for (name, entry) in &raw.checks {
        if let Some(spec) = check_spec(cx, &origin, name, entry) {
            checks.insert(Arc::<str>::from(name.get_ref().as_str()), Arc::new(spec));
        }
    }
    let mut pools = BTreeMap::new();
    for (name, entry) in &raw.pools {
        if let Some(pool) = pool(cx, name, entry, &checks) {
            pools.insert(pool.name.clone(), pool);
        }
    }

    let delegations: Vec<Name> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::NS && r.name != origin)
        .map(|r| r.name.clone())
        .collect();
    let mut policies = Vec::new();
    let mut policy_names: HashMap<LowerName, usize> = HashMap::new();
    // Every label first: a member may name a policy defined further down the file.
    let labels: HashSet<String> = raw
        .policies
        .iter()
        .map(|p| p.get_ref().name.get_ref().clone())
        .collect();
    let mut edges = Vec::new();
    for entry in &raw.policies {
        let e = entry.get_ref();
        let Some(name) = owner_name(cx, &e.name, &origin) else {
            continue;
        };
        let key = LowerName::new(&name);
        if let Some(first) = policy_names.get(&key) {
            let line = *first;
            cx.err::<()>(
                e.name.span(),
                format!("duplicate policy for {name}: already defined at line {line}"),
            );
            continue;
        }
        if let Some(at) = defined_at.get(&key) {
            let (line, _) = cx.loc.line_col(at.start);
            cx.err::<()>(
                e.name.span(),
                format!("policy name {name} collides with the static records at line {line}; a name is answered either by records or by a policy"),
            );
            continue;
        }
        if file_names.contains(&key) {
            cx.err::<()>(
                e.name.span(),
                format!("policy name {name} collides with static records in records_file"),
            );
            continue;
        }
        if let Some(cut) = delegations.iter().find(|d| d.zone_of(&name)) {
            cx.err::<()>(
                e.name.span(),
                format!("policy name {name} is at or below the delegation {cut}: the child zone answers for it"),
            );
            continue;
        }
        policy_names.insert(key, cx.loc.line_col(e.name.span().start).0);
        let mut refs = policies::Refs {
            pools: &pools,
            labels: &labels,
            edges: &mut edges,
        };
        if let Some(p) = policy(cx, e, name, &mut refs) {
            policies.push(p);
        }
    }
    policies::check_cycles(cx, &edges);
    let geo_overrides = policies::geo_overrides(cx, &raw.geo_overrides);
    let allow_transfer = allow_transfer(cx, &header.allow_transfer);

    // A declared failover budget the checks and TTL cannot meet is an error in the file.
    for p in &policies {
        if let Some((max, at)) = p.max_failover {
            let b = crate::zone::budget::policy_budget(p, &policies, &pools, &checks);
            if b.visible > max {
                cx.errors.push(ConfigError {
                    file: file.to_path_buf(),
                    at: Some(at),
                    message: format!(
                        "policy {}: worst-case failover {} exceeds max_failover {} ({})",
                        p.label,
                        crate::zone::budget::secs(b.visible),
                        crate::zone::budget::secs(max),
                        b.explain()
                    ),
                });
            }
        }
    }

    Some(Zone {
        origin,
        file: file.to_path_buf(),
        soa,
        records,
        pools,
        checks,
        policies,
        geo_overrides,
        allow_transfer,
    })
}

/// `allow_transfer`: each entry an address (a one-host network) or `address/prefix`.
fn allow_transfer(cx: &mut Ctx<'_>, raw: &[S<String>]) -> Vec<ipnet::IpNet> {
    raw.iter()
        .filter_map(|e| {
            let s = e.get_ref();
            let parsed = match s.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(ipnet::IpNet::from(ip)),
                Err(_) if s.contains('/') => crate::geo::parse_network(s),
                Err(_) => Err(format!("{s:?} is not an IP address or network")),
            };
            parsed
                .map_err(|msg| cx.err::<()>(e.span(), format!("allow_transfer: {msg}")))
                .ok()
        })
        .collect()
}

fn parse_origin(cx: &mut Ctx<'_>, raw: &S<String>) -> Option<Name> {
    match Name::from_ascii(raw.get_ref()) {
        Ok(mut n) if !n.is_root() || raw.get_ref() == "." => {
            n.set_fqdn(true);
            Some(n)
        }
        Ok(_) => cx.err(raw.span(), "origin is empty"),
        Err(e) => cx.err(
            raw.span(),
            format!("origin {:?} is not a domain name: {e}", raw.get_ref()),
        ),
    }
}

/// An owner name: `@`, a name relative to the origin, or a fully qualified name in the zone.
fn owner_name(cx: &mut Ctx<'_>, raw: &S<String>, origin: &Name) -> Option<Name> {
    let text = raw.get_ref().as_str();
    if text == "@" {
        return Some(origin.clone());
    }
    let name = match Name::parse(text, Some(origin)) {
        Ok(n) => n,
        Err(e) => return cx.err(raw.span(), format!("{text:?} is not a domain name: {e}")),
    };
    if !origin.zone_of(&name) {
        return cx.err(raw.span(), format!("{name} is outside zone {origin}"));
    }
    Some(name)
}

/// A domain name inside record data; relative names are completed with the origin.
fn rdata_name(cx: &mut Ctx<'_>, raw: &S<String>, origin: &Name) -> Option<Name> {
    match Name::parse(raw.get_ref(), Some(origin)) {
        Ok(n) => Some(n),
        Err(e) => cx.err(
            raw.span(),
            format!("{:?} is not a domain name: {e}", raw.get_ref()),
        ),
    }
}

fn ttl(cx: &mut Ctx<'_>, raw: &S<i64>, max: i64) -> Option<u32> {
    let v = *raw.get_ref();
    if (0..=max).contains(&v) {
        Some(v as u32)
    } else {
        cx.err(raw.span(), format!("ttl {v} out of range 0..={max}"))
    }
}

pub(super) fn int_in(cx: &mut Ctx<'_>, raw: &S<i64>, what: &str, lo: i64, hi: i64) -> Option<i64> {
    let v = *raw.get_ref();
    if (lo..=hi).contains(&v) {
        Some(v)
    } else {
        cx.err(raw.span(), format!("{what} {v} out of range {lo}..={hi}"))
    }
}

fn values(v: &S<OneOrMany>) -> Vec<(String, std::ops::Range<usize>)> {
    match v.get_ref() {
        OneOrMany::One(s) => vec![(s.clone(), v.span())],
        OneOrMany::Many(list) => list.iter().map(|s| (s.clone(), v.span())).collect(),
    }
}

fn entry_records(
    cx: &mut Ctx<'_>,
    e: &zonefile::RecordEntry,
    name: &Name,
    origin: &Name,
    ttl: u32,
    out: &mut Vec<Record>,
) {
    let push = |out: &mut Vec<Record>, data: RData| {
        out.push(Record::from_rdata(name.clone(), ttl, data));
    };
    if let Some(c) = &e.cname {
        let others = [
            e.a.is_some(),
            e.aaaa.is_some(),
            e.mx.is_some(),
            e.txt.is_some(),
            e.srv.is_some(),
            e.caa.is_some(),
            e.ns.is_some(),
            e.ptr.is_some(),
        ];
        if others.iter().any(|x| *x) {
            cx.err::<()>(c.span(), format!("CNAME at {name} beside other data: a CNAME must be the only record at its name (RFC 1034 §3.6.2)"));
        } else if name == origin {
            cx.err::<()>(
                c.span(),
                "CNAME at the zone apex: the apex must hold SOA and NS (RFC 1912 §2.4)",
            );
        } else if let Some(t) = rdata_name(cx, c, origin) {
            push(out, RData::CNAME(CNAME(t)));
        }
    }
    if let Some(v) = &e.a {
        for (s, span) in values(v) {
            match Ipv4Addr::from_str(&s) {
                Ok(ip) => push(out, RData::A(ip.into())),
                Err(_) => {
                    cx.err::<()>(span, format!("A {s:?} is not an IPv4 address"));
                }
            }
        }
    }
    if let Some(v) = &e.aaaa {
        for (s, span) in values(v) {
            match Ipv6Addr::from_str(&s) {
                Ok(ip) => push(out, RData::AAAA(ip.into())),
                Err(_) => {
                    cx.err::<()>(span, format!("AAAA {s:?} is not an IPv6 address"));
                }
            }
        }
    }
    if let Some(v) = &e.txt {
        for (s, _) in values(v) {
            // A TXT character-string holds at most 255 octets; longer text is split.
            let chunks: Vec<String> = s
                .as_bytes()
                .chunks(255)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            push(
                out,
                RData::TXT(TXT::new(if chunks.is_empty() {
                    vec![String::new()]
                } else {
                    chunks
                })),
            );
        }
    }
    let presented = [
        (RecordType::MX, &e.mx),
        (RecordType::SRV, &e.srv),
        (RecordType::CAA, &e.caa),
        (RecordType::NS, &e.ns),
        (RecordType::PTR, &e.ptr),
    ];
    for (rtype, v) in presented {
        let Some(v) = v else { continue };
        if rtype == RecordType::NS && name == origin {
            cx.err::<()>(
                v.span(),
                "apex NS records come from `nameservers` in [zone]",
            );
            continue;
        }
        for (s, span) in values(v) {
            match RData::try_from_str(rtype, &s) {
                Ok(data) => push(out, complete_names(data, origin)),
                Err(err) => {
                    cx.err::<()>(span, format!("{rtype} {s:?}: {err}"));
                }
            }
        }
    }
}

/// Presentation-format names without a trailing dot are relative to the origin.
fn complete_names(data: RData, origin: &Name) -> RData {
    let fix = |n: Name| -> Name {
        if n.is_fqdn() {
            n
        } else {
            n.append_domain(origin).unwrap_or_else(|_| origin.clone())
        }
    };
    match data {
        RData::MX(mx) => RData::MX(hickory_proto::rr::rdata::MX::new(
            mx.preference,
            fix(mx.exchange),
        )),
        RData::SRV(srv) => RData::SRV(hickory_proto::rr::rdata::SRV::new(
            srv.priority,
            srv.weight,
            srv.port,
            fix(srv.target),
        )),
        RData::NS(ns) => RData::NS(NS(fix(ns.0))),
        RData::PTR(p) => RData::PTR(hickory_proto::rr::rdata::PTR(fix(p.0))),
        other => other,
    }
}

fn apex_soa(
    cx: &mut Ctx<'_>,
    header: &zonefile::ZoneHeader,
    header_span: std::ops::Range<usize>,
    origin: &Name,
    default_ttl: u32,
    records: &mut Vec<Record>,
) -> Option<Record> {
    let from_file: Vec<Record> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .cloned()
        .collect();
    match (&header.soa, from_file.as_slice()) {
        (Some(s), []) => {
            let soa = s.get_ref();
            let mname = rdata_name(cx, &soa.mname, origin)?;
            let rname = rdata_name(cx, &soa.rname, origin)?;
            let num = |cx: &mut Ctx<'_>, v: &Option<S<i64>>, what: &str, d: i64| -> i64 {
                v.as_ref()
                    .and_then(|v| int_in(cx, v, what, 0, MAX_TTL))
                    .unwrap_or(d)
            };
            // The serial defaults to the load time, so every edit moves it forward.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64 & 0x7fff_ffff)
                .unwrap_or(1);
            let serial = match &soa.serial {
                Some(v) => int_in(cx, v, "serial", 0, u32::MAX as i64).unwrap_or(1),
                None => now,
            };
            let refresh = num(cx, &soa.refresh, "refresh", 3600);
            let retry = num(cx, &soa.retry, "retry", 600);
            let expire = num(cx, &soa.expire, "expire", 604_800);
            let minimum = num(cx, &soa.minimum, "minimum", 60);
            let sttl = soa
                .ttl
                .as_ref()
                .and_then(|t| ttl(cx, t, MAX_TTL))
                .unwrap_or(default_ttl);
            let rec = Record::from_rdata(
                origin.clone(),
                sttl,
                RData::SOA(SOA::new(
                    mname,
                    rname,
                    serial as u32,
                    refresh as i32,
                    retry as i32,
                    expire as i32,
                    minimum as u32,
                )),
            );
            records.push(rec.clone());
            Some(rec)
        }
        (None, [one]) if one.name == *origin => Some(one.clone()),
        (None, [one]) => cx.err(
            header_span,
            format!("records_file has its SOA at {}, not at the apex {origin}", one.name),
        ),
        (None, []) => cx.err(
            header_span,
            format!("zone {origin} has no SOA: add `soa = {{ mname = ..., rname = ... }}` to [zone] or give one in records_file"),
        ),
        (Some(s), _) => cx.err(s.span(), "SOA given twice: in [zone] and in records_file"),
        (None, _) => cx.err(header_span, "records_file has more than one SOA"),
    }
}

fn check_cname_exclusive(
    cx: &mut Ctx<'_>,
    records: &[Record],
    defined_at: &HashMap<LowerName, std::ops::Range<usize>>,
    fallback: std::ops::Range<usize>,
) {
    // Only names that hold a CNAME can break the rule: look at those alone (a zone
    // may have 100,000 other names).
    let cnames: HashSet<LowerName> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
        .map(|r| LowerName::new(&r.name))
        .collect();
    if cnames.is_empty() {
        return;
    }
    let mut types: BTreeMap<LowerName, HashSet<RecordType>> = BTreeMap::new();
    for r in records {
        let name = LowerName::new(&r.name);
        if cnames.contains(&name) {
            types.entry(name).or_default().insert(r.record_type());
        }
    }
    for (name, set) in types {
        if set.contains(&RecordType::CNAME) && set.len() > 1 {
            let span = defined_at.get(&name).cloned().unwrap_or(fallback.clone());
            cx.err::<()>(span, format!("CNAME at {name} beside other data (from records_file and [[records]] together)"));
        }
    }
}

fn duration(
    cx: &mut Ctx<'_>,
    raw: &Option<S<String>>,
    what: &str,
    default: Duration,
) -> Option<Duration> {
    let Some(raw) = raw else { return Some(default) };
    match humantime::parse_duration(raw.get_ref()) {
        Ok(d) if d >= Duration::from_millis(10) && d <= Duration::from_secs(3600) => Some(d),
        Ok(_) => cx.err(
            raw.span(),
            format!("{what} {:?} out of range 10ms..=1h", raw.get_ref()),
        ),
        Err(e) => cx.err(
            raw.span(),
            format!(
                "{what} {:?}: {e} (write e.g. \"5s\" or \"500ms\")",
                raw.get_ref()
            ),
        ),
    }
}

fn check_spec(
    cx: &mut Ctx<'_>,
    origin: &Name,
    name: &S<String>,
    entry: &S<zonefile::CheckEntry>,
) -> Option<CheckSpec> {
    let e = entry.get_ref();
    let port = int_in(cx, &e.port, "port", 1, 65535)? as u16;
    let interval = duration(cx, &e.interval, "interval", DEFAULT_INTERVAL)?;
    let timeout = duration(cx, &e.timeout, "timeout", DEFAULT_TIMEOUT.min(interval))?;
    if timeout > interval {
        return cx.err(
            e.timeout.as_ref().map(|t| t.span()).unwrap_or(entry.span()),
            format!("timeout {timeout:?} is longer than interval {interval:?}"),
        );
    }
    let fall = match &e.fall {
        Some(v) => int_in(cx, v, "fall", 1, 100)? as u32,
        None => 3,
    };
    let rise = match &e.rise {
        Some(v) => int_in(cx, v, "rise", 1, 100)? as u32,
        None => 2,
    };
    let startup = match e.startup.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("down", _)) => StartupState::Down,
        Some(("up", _)) => StartupState::Up,
        Some((other, span)) => {
            return cx.err(
                span,
                format!("startup {other:?}: expected \"down\" or \"up\""),
            )
        }
    };
    let http_only = |cx: &mut Ctx<'_>, kind: &str| {
        for (set, span, key) in [
            (e.path.is_some(), e.path.as_ref().map(|s| s.span()), "path"),
            (e.host.is_some(), e.host.as_ref().map(|s| s.span()), "host"),
            (
                e.expect_status.is_some(),
                e.expect_status.as_ref().map(|s| s.span()),
                "expect_status",
            ),
            (
                e.body_contains.is_some(),
                e.body_contains.as_ref().map(|s| s.span()),
                "body_contains",
            ),
            (
                e.tls_verify.is_some(),
                e.tls_verify.as_ref().map(|s| s.span()),
                "tls_verify",
            ),
        ] {
            if set {
                cx.err::<()>(
                    span.unwrap_or(entry.span()),
                    format!("`{key}` does not apply to a {kind} check"),
                );
            }
        }
    };
    let kind = match e.kind.get_ref().as_str() {
        "tcp" => {
            http_only(cx, "tcp");
            CheckKind::Tcp
        }
        k @ ("http" | "https") => {
            if k == "http" {
                if let Some(v) = &e.tls_verify {
                    cx.err::<()>(v.span(), "`tls_verify` applies to https checks only");
                }
            }
            let path = e
                .path
                .as_ref()
                .map(|p| p.get_ref().clone())
                .unwrap_or_else(|| "/".into());
            if !path.starts_with('/') {
                return cx.err(
                    e.path.as_ref().map(|p| p.span()).unwrap_or(entry.span()),
                    format!("path {path:?} must start with /"),
                );
            }
            let expect_status = match &e.expect_status {
                None => 200..=299,
                Some(s) => status_range(cx, s)?,
            };
            let host = match &e.host {
                Some(h) if Name::from_ascii(h.get_ref()).is_err() || h.get_ref().is_empty() => {
                    return cx.err(
                        h.span(),
                        format!("host {:?} is not a host name", h.get_ref()),
                    );
                }
                Some(h) => Some(h.get_ref().trim_end_matches('.').to_string()),
                None => None,
            };
            let http = HttpCheck {
                host,
                path,
                expect_status,
                body_contains: e.body_contains.as_ref().map(|b| b.get_ref().clone()),
                tls_verify: e.tls_verify.as_ref().map(|v| *v.get_ref()).unwrap_or(true),
            };
            if k == "http" {
                CheckKind::Http(http)
            } else {
                CheckKind::Https(http)
            }
        }
        other => {
            return cx.err(
                e.kind.span(),
                format!("check kind {other:?}: expected \"http\", \"https\" or \"tcp\""),
            )
        }
    };
    let quorum = match &e.quorum {
        None => Quorum::Majority,
        Some(q) => quorum(cx, q)?,
    };
    let hold_down = match &e.hold_down {
        None => Duration::ZERO,
        Some(h) => match humantime::parse_duration(h.get_ref()) {
            Ok(d) if d <= MAX_HOLD_DOWN => d,
            Ok(_) => {
                return cx.err(
                    h.span(),
                    format!("hold_down {:?} out of range 0s..=24h", h.get_ref()),
                )
            }
            Err(err) => {
                return cx.err(
                    h.span(),
                    format!(
                        "hold_down {:?}: {err} (write e.g. \"30s\" or \"0s\")",
                        h.get_ref()
                    ),
                )
            }
        },
    };
    Some(CheckSpec {
        id: format!("{}/{}", origin.to_lowercase(), name.get_ref()).into(),
        kind,
        port,
        interval,
        timeout,
        fall,
        rise,
        startup,
        quorum,
        hold_down,
    })
}

fn quorum(cx: &mut Ctx<'_>, q: &S<QuorumSpec>) -> Option<Quorum> {
    match q.get_ref() {
        QuorumSpec::Word(w) => match w.as_str() {
            "majority" => Some(Quorum::Majority),
            "any" => Some(Quorum::Any),
            "all" => Some(Quorum::All),
            other => cx.err(
                q.span(),
                format!("quorum {other:?}: expected \"majority\" (default), \"any\", \"all\" or a number of regions"),
            ),
        },
        QuorumSpec::Count(n) if (1..=MAX_QUORUM).contains(n) => Some(Quorum::AtLeast(*n as u32)),
        QuorumSpec::Count(n) => cx.err(
            q.span(),
            format!("quorum {n}: a number of regions must be within 1..={MAX_QUORUM}"),
        ),
    }
}

fn status_range(cx: &mut Ctx<'_>, s: &S<StatusSpec>) -> Option<std::ops::RangeInclusive<u16>> {
    let bad = |cx: &mut Ctx<'_>| {
        cx.err(s.span(), "expect_status: expected a status like 200 or a range like \"200-299\" within 100..=599")
    };
    let (lo, hi) = match s.get_ref() {
        StatusSpec::One(v) => (*v, *v),
        StatusSpec::Range(r) => {
            let parts: Vec<&str> = r.split('-').map(str::trim).collect();
            match parts.as_slice() {
                [one] => match one.parse() {
                    Ok(v) => (v, v),
                    Err(_) => return bad(cx),
                },
                [a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
                    (Ok(a), Ok(b)) => (a, b),
                    _ => return bad(cx),
                },
                _ => return bad(cx),
            }
        }
    };
    if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
        return bad(cx);
    }
    Some(lo as u16..=hi as u16)
}

fn pool(
    cx: &mut Ctx<'_>,
    name: &S<String>,
    entry: &S<zonefile::PoolEntry>,
    checks: &BTreeMap<Arc<str>, Arc<CheckSpec>>,
) -> Option<Pool> {
    let e = entry.get_ref();
    if e.region.get_ref().trim().is_empty() {
        cx.err::<()>(e.region.span(), "region is empty");
    }
    let mut addresses = Vec::new();
    let mut seen = HashSet::new();
    for a in e.addresses.get_ref() {
        match IpAddr::from_str(a.get_ref()) {
            Ok(ip) if !seen.insert(ip) => {
                cx.err::<()>(a.span(), format!("address {ip} listed twice"));
            }
            Ok(ip) => addresses.push(ip),
            Err(_) => {
                cx.err::<()>(a.span(), format!("{:?} is not an IP address", a.get_ref()));
            }
        }
    }
    if e.addresses.get_ref().is_empty() {
        cx.err::<()>(
            e.addresses.span(),
            format!("pool {} has no addresses", name.get_ref()),
        );
    }
    let check = match &e.check {
        Some(c) if !checks.contains_key(c.get_ref().as_str()) => {
            let known: Vec<&str> = checks.keys().map(|k| k.as_ref()).collect();
            return cx.err(
                c.span(),
                format!(
                    "pool {} uses check {:?}, which is not defined (defined: {known:?})",
                    name.get_ref(),
                    c.get_ref()
                ),
            );
        }
        Some(c) => Some(Arc::<str>::from(c.get_ref().as_str())),
        None => None,
    };
    let min_healthy = match &e.min_healthy {
        Some(m) => int_in(cx, m, "min_healthy", 1, addresses.len().max(1) as i64)? as usize,
        None => 1,
    };
    let location = e.location.as_ref().and_then(|l| policies::coord(cx, l));
    Some(Pool {
        name: name.get_ref().as_str().into(),
        region: e.region.get_ref().as_str().into(),
        addresses,
        check,
        min_healthy,
        location,
    })
}

fn policy(
    cx: &mut Ctx<'_>,
    e: &zonefile::PolicyEntry,
    name: Name,
    refs: &mut policies::Refs<'_>,
) -> Option<Policy> {
    let ttl = match &e.ttl {
        Some(t) => ttl(cx, t, MAX_POLICY_TTL)?,
        None => DEFAULT_POLICY_TTL,
    };
    let when_all_down = match e.when_all_down.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("serve-all", _)) => AllDown::ServeAll,
        Some(("serve-first", _)) => AllDown::ServeFirst,
        Some(("nodata", _)) => AllDown::NoData,
        Some((other, span)) => return cx.err(span, format!("when_all_down {other:?}: expected \"serve-all\" (default), \"serve-first\" or \"nodata\"")),
    };
    let kind = policies::kind(cx, e, refs)?;
    let max_failover = match &e.max_failover {
        None => None,
        Some(m) => match humantime::parse_duration(m.get_ref()) {
            Ok(d) if !d.is_zero() => Some((d, cx.loc.line_col(m.span().start))),
            Ok(_) => return cx.err(m.span(), "max_failover must be more than 0s"),
            Err(err) => {
                return cx.err(
                    m.span(),
                    format!("max_failover {:?}: {err} (write e.g. \"60s\")", m.get_ref()),
                )
            }
        },
    };
    Some(Policy {
        label: e.name.get_ref().as_str().into(),
        name,
        ttl,
        kind,
        when_all_down,
        max_failover,
    })
}
