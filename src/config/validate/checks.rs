//! `[checks.*]`: how each target is probed, how often, and how results become a state
//! (fall/rise, quorum across regions, hold-down).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;

use super::super::zonefile::{self, QuorumSpec, StatusSpec, S};
use super::ctx::{duration, int_in, Ctx};
use crate::zone::{CheckKind, CheckSpec, HttpCheck, Quorum, StartupState};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// More regions than any deployment runs: a larger count is a typo.
const MAX_QUORUM: i64 = 64;
/// A day: a longer hold-down is an outage of the target's pool by configuration.
const MAX_HOLD_DOWN: Duration = Duration::from_secs(86_400);

/// Every check of the zone file, keyed by its name; bad ones are reported and kept as
/// broken names, so what refers to them is not reported again.
pub(super) fn checks(
    cx: &mut Ctx<'_>,
    origin: &Name,
    raw: &BTreeMap<S<String>, S<zonefile::CheckEntry>>,
) -> BTreeMap<Arc<str>, Arc<CheckSpec>> {
    let mut checks = BTreeMap::new();
    for (name, entry) in raw {
        match check_spec(cx, origin, name, entry) {
            Some(spec) => {
                checks.insert(Arc::<str>::from(name.get_ref().as_str()), Arc::new(spec));
            }
            None => {
                cx.broken.checks.insert(name.get_ref().clone());
            }
        }
    }
    checks
}

/// One check, field by field; the first field that cannot be read ends it.
fn check_spec(
    cx: &mut Ctx<'_>,
    origin: &Name,
    name: &S<String>,
    entry: &S<zonefile::CheckEntry>,
) -> Option<CheckSpec> {
    let e = entry.get_ref();
    let port = int_in(cx, &e.port, "port", 1, 65535)? as u16;
    let (interval, timeout) = timing(cx, entry)?;
    let (fall, rise) = thresholds(cx, e)?;
    let startup = startup(cx, e)?;
    let kind = kind(cx, entry)?;
    let quorum = match &e.quorum {
        None => Quorum::Majority,
        Some(q) => quorum(cx, q)?,
    };
    let hold_down = match &e.hold_down {
        None => Duration::ZERO,
        Some(h) => hold_down(cx, h)?,
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

/// `interval` and `timeout`; a probe may not outlast its interval.
fn timing(cx: &mut Ctx<'_>, entry: &S<zonefile::CheckEntry>) -> Option<(Duration, Duration)> {
    let e = entry.get_ref();
    let interval = duration(cx, &e.interval, "interval", DEFAULT_INTERVAL)?;
    let timeout = duration(cx, &e.timeout, "timeout", DEFAULT_TIMEOUT.min(interval))?;
    if timeout > interval {
        return cx.err(
            e.timeout.as_ref().map(|t| t.span()).unwrap_or(entry.span()),
            format!("timeout {timeout:?} is longer than interval {interval:?}"),
        );
    }
    Some((interval, timeout))
}

/// `fall` and `rise`: consecutive results needed to change state.
fn thresholds(cx: &mut Ctx<'_>, e: &zonefile::CheckEntry) -> Option<(u32, u32)> {
    let fall = match &e.fall {
        Some(v) => int_in(cx, v, "fall", 1, 100)? as u32,
        None => 3,
    };
    let rise = match &e.rise {
        Some(v) => int_in(cx, v, "rise", 1, 100)? as u32,
        None => 2,
    };
    Some((fall, rise))
}

/// `startup`: the state before the first result.
fn startup(cx: &mut Ctx<'_>, e: &zonefile::CheckEntry) -> Option<StartupState> {
    match e.startup.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("down", _)) => Some(StartupState::Down),
        Some(("up", _)) => Some(StartupState::Up),
        Some((other, span)) => cx.err(
            span,
            format!("startup {other:?}: expected \"down\" or \"up\""),
        ),
    }
}

/// `kind`, and the fields that only HTTP(S) checks take.
fn kind(cx: &mut Ctx<'_>, entry: &S<zonefile::CheckEntry>) -> Option<CheckKind> {
    let e = entry.get_ref();
    match e.kind.get_ref().as_str() {
        "tcp" => {
            http_only(cx, entry, "tcp");
            Some(CheckKind::Tcp)
        }
        "http" => Some(CheckKind::Http(http(cx, entry, "http")?)),
        "https" => Some(CheckKind::Https(http(cx, entry, "https")?)),
        other => cx.err(
            e.kind.span(),
            format!("check kind {other:?}: expected \"http\", \"https\" or \"tcp\""),
        ),
    }
}

/// A field of HTTP(S) checks given to a check of another kind is reported, not ignored.
fn http_only(cx: &mut Ctx<'_>, entry: &S<zonefile::CheckEntry>, kind: &str) {
    let e = entry.get_ref();
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
        (
            e.tls_ca.is_some(),
            e.tls_ca.as_ref().map(|s| s.span()),
            "tls_ca",
        ),
    ] {
        if set {
            cx.err::<()>(
                span.unwrap_or(entry.span()),
                format!("`{key}` does not apply to a {kind} check"),
            );
        }
    }
}

/// The request and the answer expected of an `http` or `https` check.
fn http(cx: &mut Ctx<'_>, entry: &S<zonefile::CheckEntry>, k: &str) -> Option<HttpCheck> {
    let e = entry.get_ref();
    if k == "http" {
        if let Some(v) = &e.tls_verify {
            cx.err::<()>(v.span(), "`tls_verify` applies to https checks only");
        }
        if let Some(v) = &e.tls_ca {
            cx.err::<()>(v.span(), "`tls_ca` applies to https checks only");
        }
    }
    let tls_verify = e.tls_verify.as_ref().map(|v| *v.get_ref()).unwrap_or(true);
    let tls_ca = match &e.tls_ca {
        Some(ca) if k == "https" => Some(tls_ca(cx, ca, tls_verify)?),
        _ => None,
    };
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
    Some(HttpCheck {
        host,
        path,
        expect_status,
        body_contains: e.body_contains.as_ref().map(|b| b.get_ref().clone()),
        tls_verify,
        tls_ca,
    })
}

/// `tls_ca`: a PEM file of CA certificates, relative to the zone file, read and checked
/// now so a missing or broken file is an error at load, not a probe that always fails.
fn tls_ca(cx: &mut Ctx<'_>, ca: &S<String>, tls_verify: bool) -> Option<Arc<[u8]>> {
    if !tls_verify {
        return cx.err(
            ca.span(),
            "`tls_ca` has no effect with `tls_verify = false`: remove one",
        );
    }
    let base = cx.loc.file().parent().unwrap_or(std::path::Path::new("."));
    let path = base.join(ca.get_ref());
    let pem = match std::fs::read(&path) {
        Ok(pem) => pem,
        Err(err) => {
            return cx.err(
                ca.span(),
                format!("tls_ca {}: cannot read: {err}", path.display()),
            )
        }
    };
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Some(pem.into()),
        Ok(_) => cx.err(
            ca.span(),
            format!("tls_ca {}: no PEM certificate in it", path.display()),
        ),
        Err(err) => cx.err(
            ca.span(),
            format!("tls_ca {}: not PEM certificates: {err}", path.display()),
        ),
    }
}

/// `hold_down`: how long a target that came back stays out.
fn hold_down(cx: &mut Ctx<'_>, h: &S<String>) -> Option<Duration> {
    match humantime::parse_duration(h.get_ref()) {
        Ok(d) if d <= MAX_HOLD_DOWN => Some(d),
        Ok(_) => cx.err(
            h.span(),
            format!("hold_down {:?} out of range 0s..=24h", h.get_ref()),
        ),
        Err(err) => cx.err(
            h.span(),
            format!(
                "hold_down {:?}: {err} (write e.g. \"30s\" or \"0s\")",
                h.get_ref()
            ),
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::super::testing::{errors, zone, HEAD};
    use super::*;

    fn check(body: &str) -> String {
        format!("{HEAD}\n[checks.c]\n{body}")
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let z = zone(&check("kind = \"http\"\nport = 80\n"));
        let c = &z.checks["c"];
        assert_eq!(&*c.id, "t.test./c");
        assert_eq!((c.interval, c.timeout), (DEFAULT_INTERVAL, DEFAULT_TIMEOUT));
        assert_eq!((c.fall, c.rise), (3, 2));
        assert_eq!(c.startup, StartupState::Down);
        assert_eq!(c.quorum, Quorum::Majority);
        assert_eq!(c.hold_down, Duration::ZERO);
        match &c.kind {
            CheckKind::Http(h) => {
                assert_eq!(h.path, "/");
                assert_eq!(h.expect_status, 200..=299);
                assert!(h.tls_verify);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_field_is_reported_at_its_value() {
        assert_eq!(
            errors(&check("kind = \"tcp\"\nport = 22\nfall = 0\n")),
            ["z.toml:9:8: fall 0 out of range 1..=100"]
        );
        assert_eq!(
            errors(&check(
                "kind = \"tcp\"\nport = 22\ninterval = \"1s\"\ntimeout = \"2s\"\n"
            )),
            ["z.toml:10:11: timeout 2s is longer than interval 1s"]
        );
        assert_eq!(
            errors(&check("kind = \"ftp\"\nport = 21\n")),
            ["z.toml:7:8: check kind \"ftp\": expected \"http\", \"https\" or \"tcp\""]
        );
        assert_eq!(
            errors(&check("kind = \"tcp\"\nport = 22\nhold_down = \"2d\"\n")),
            ["z.toml:9:13: hold_down \"2d\" out of range 0s..=24h"]
        );
    }

    #[test]
    fn http_fields_on_a_tcp_check_are_each_reported() {
        assert_eq!(
            errors(&check(
                "kind = \"tcp\"\nport = 22\npath = \"/x\"\ntls_verify = false\n"
            )),
            [
                "z.toml:9:8: `path` does not apply to a tcp check",
                "z.toml:10:14: `tls_verify` does not apply to a tcp check",
            ]
        );
        assert_eq!(
            errors(&check("kind = \"http\"\nport = 80\ntls_verify = false\n")),
            ["z.toml:9:14: `tls_verify` applies to https checks only"]
        );
    }

    #[test]
    fn status_ranges_and_quorums_are_range_checked() {
        let z = zone(&check(
            "kind = \"https\"\nport = 443\nexpect_status = \"200-204\"\nquorum = 2\n",
        ));
        let c = &z.checks["c"];
        assert_eq!(c.quorum, Quorum::AtLeast(2));
        match &c.kind {
            CheckKind::Https(h) => assert_eq!(h.expect_status, 200..=204),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            errors(&check("kind = \"http\"\nport = 80\nexpect_status = \"299-200\"\n")),
            ["z.toml:9:17: expect_status: expected a status like 200 or a range like \"200-299\" within 100..=599"]
        );
        assert_eq!(
            errors(&check("kind = \"http\"\nport = 80\nquorum = 65\n")),
            ["z.toml:9:10: quorum 65: a number of regions must be within 1..=64"]
        );
    }

    #[test]
    fn tls_ca_is_read_at_load_and_reported_at_its_value() {
        assert_eq!(
            errors(&check("kind = \"http\"\nport = 80\ntls_ca = \"ca.pem\"\n")),
            ["z.toml:9:10: `tls_ca` applies to https checks only"]
        );
        let missing = errors(&check(
            "kind = \"https\"\nport = 443\ntls_ca = \"no-such-ca.pem\"\n",
        ));
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].starts_with("z.toml:9:10: tls_ca no-such-ca.pem: cannot read:"),
            "{missing:?}"
        );
        assert_eq!(
            errors(&check(
                "kind = \"https\"\nport = 443\ntls_verify = false\ntls_ca = \"ca.pem\"\n"
            )),
            ["z.toml:10:10: `tls_ca` has no effect with `tls_verify = false`: remove one"]
        );
        // Relative to the zone file; a file without a certificate is refused.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
        let text = check("kind = \"https\"\nport = 443\ntls_ca = \"ca.pem\"\n");
        let file = dir.path().join("z.toml");
        let errs = crate::config::parse_zone(&file, &text).unwrap_err();
        let msg = errs.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert_eq!(msg.len(), 1, "{msg:?}");
        assert!(
            msg[0].starts_with(&format!(
                "{}:9:10: tls_ca {}",
                file.display(),
                dir.path().join("ca.pem").display()
            )),
            "{msg:?}"
        );
        assert!(msg[0].contains("no PEM certificate"), "{msg:?}");
        assert_eq!(
            errors(&check("kind = \"tcp\"\nport = 22\ntls_ca = \"ca.pem\"\n")),
            ["z.toml:9:10: `tls_ca` does not apply to a tcp check"]
        );
    }
}
