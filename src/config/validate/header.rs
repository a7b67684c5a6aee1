//! The `[zone]` header: the origin, the default TTL, the apex SOA and NS records and who
//! may transfer the zone.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::super::zonefile::{self, S};
use super::ctx::{int_in, rdata_name, ttl, Ctx, MAX_TTL};

const DEFAULT_TTL: u32 = 300;

/// `origin`, fully qualified.
pub(super) fn origin(cx: &mut Ctx<'_>, raw: &S<String>) -> Option<Name> {
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

/// `ttl`: the default of every static record.
pub(super) fn default_ttl(cx: &mut Ctx<'_>, header: &zonefile::ZoneHeader) -> u32 {
    match &header.ttl {
        Some(t) => ttl(cx, t, MAX_TTL).unwrap_or(DEFAULT_TTL),
        None => DEFAULT_TTL,
    }
}

/// The serial when none is given: the newest modification time, in Unix seconds, of the
/// zone's own files (this policy file and its `records_file`). It is a fact about the
/// files, not about this process: every nameserver that loads the same files (copied
/// with their times, or on a shared mount) publishes the same serial whenever it starts,
/// a reload of unchanged files keeps it, and an edit writes a newer time, which is a
/// larger serial in RFC 1982 terms (until 2106, when the arithmetic wraps safely). A
/// digest of the content would agree too but could not increase. Files that cannot be
/// stat'ed (text parsed from memory) count as time 1.
pub(super) fn default_serial(file: &Path, header: &zonefile::ZoneHeader) -> u32 {
    let mtime = |p: &Path| -> Option<u64> {
        let t = std::fs::metadata(p).ok()?.modified().ok()?;
        Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
    };
    let mut files = vec![file.to_path_buf()];
    if let Some(rf) = &header.records_file {
        files.push(file.parent().unwrap_or(Path::new(".")).join(rf.get_ref()));
    }
    let newest = files.iter().filter_map(|p| mtime(p)).max().unwrap_or(1);
    // Serial arithmetic is modulo 2^32 (RFC 1982): the low 32 bits keep increasing.
    (newest & u64::from(u32::MAX)) as u32
}

pub(super) fn apex_soa(
    cx: &mut Ctx<'_>,
    header: &zonefile::ZoneHeader,
    header_span: std::ops::Range<usize>,
    origin: &Name,
    default_ttl: u32,
    default_serial: u32,
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
            let serial = match &soa.serial {
                Some(v) => int_in(cx, v, "serial", 0, u32::MAX as i64).unwrap_or(1),
                None => i64::from(default_serial),
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

/// `nameservers`: the apex NS records; with those of the master file there must be one.
pub(super) fn apex_ns(
    cx: &mut Ctx<'_>,
    header: &zonefile::ZoneHeader,
    header_span: std::ops::Range<usize>,
    origin: &Name,
    default_ttl: u32,
    records: &mut Vec<Record>,
    file_has_apex_ns: bool,
) {
    for ns in &header.nameservers {
        if let Some(target) = rdata_name(cx, ns, origin) {
            records.push(Record::from_rdata(
                origin.clone(),
                default_ttl,
                RData::NS(NS(target)),
            ));
        }
    }
    if !file_has_apex_ns
        && !records
            .iter()
            .any(|r| r.record_type() == RecordType::NS && r.name == *origin)
    {
        cx.err::<()>(
            header_span,
            format!("zone {origin} has no NS records: set `nameservers` in [zone] or give them in records_file"),
        );
    }
}

/// `allow_transfer`: each entry an address (a one-host network) or `address/prefix`.
pub(super) fn allow_transfer(cx: &mut Ctx<'_>, raw: &[S<String>]) -> Vec<ipnet::IpNet> {
    raw.iter()
        .filter_map(|e| {
            let s = e.get_ref();
            let parsed = match s.parse::<IpAddr>() {
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

/// `also_notify`: secondaries told of every new serial, each `address` (port 53) or
/// `address:port` (`[v6]:port`).
pub(super) fn also_notify(cx: &mut Ctx<'_>, raw: &[S<String>]) -> Vec<SocketAddr> {
    raw.iter()
        .filter_map(|e| {
            let s = e.get_ref();
            match (s.parse::<SocketAddr>(), s.parse::<IpAddr>()) {
                (Ok(a), _) => Some(a),
                (_, Ok(ip)) => Some(SocketAddr::new(ip, 53)),
                _ => cx.err(
                    e.span(),
                    format!("also_notify: {s:?} is not an address or address:port"),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{errors, zone, HEAD};

    #[test]
    fn the_apex_needs_nameservers() {
        let text = "[zone]\norigin = \"t.test.\"\nsoa = { mname = \"ns1.t.test.\", rname = \"h.t.test.\" }\n";
        assert_eq!(
            errors(text),
            ["z.toml:1:1: zone t.test. has no NS records: set `nameservers` in [zone] or give them in records_file"]
        );
    }

    #[test]
    fn the_origin_must_be_a_name() {
        let errs = errors("[zone]\norigin = \"a..b\"\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("z.toml:2:10: origin \"a..b\" is not a domain name: "),
            "{errs:?}"
        );
    }

    #[test]
    fn soa_fields_default_and_are_range_checked() {
        let z = zone(HEAD);
        assert_eq!(z.soa.ttl, super::DEFAULT_TTL);
        let text = "[zone]\norigin = \"t.test.\"\nnameservers = [\"ns1.t.test.\"]\nsoa = { mname = \"ns1\", rname = \"h\", serial = 7, retry = -1 }\n";
        assert_eq!(
            errors(text),
            ["z.toml:4:57: retry -1 out of range 0..=2147483647"]
        );
    }

    #[test]
    fn allow_transfer_takes_hosts_and_networks() {
        let z = zone(&HEAD.replace(
            "[zone]\n",
            "[zone]\nallow_transfer = [\"192.0.2.7\", \"2001:db8::1\", \"10.0.0.0/8\"]\n",
        ));
        let nets: Vec<String> = z.allow_transfer.iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["192.0.2.7/32", "2001:db8::1/128", "10.0.0.0/8"]);
        let bad = HEAD.replace(
            "[zone]\n",
            "[zone]\nallow_transfer = [\"host.example\", \"10.0.0.0/40\", \"10.1.2.3/8\"]\n",
        );
        assert_eq!(
            errors(&bad),
            [
                "z.toml:2:19: allow_transfer: \"host.example\" is not an IP address or network",
                "z.toml:2:35: allow_transfer: prefix length 40 is longer than 32 bits",
                "z.toml:2:50: allow_transfer: 10.1.2.3/8 has host bits set after the first 8: did you mean 10.0.0.0/8?",
            ]
        );
    }
}
