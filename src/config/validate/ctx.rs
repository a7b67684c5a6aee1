//! What every validation pass shares: the error collector with its span locator, and
//! the small readers of names, numbers and durations that several sections use. Kept
//! apart so the passes import it and never each other in a loop.

use std::collections::HashSet;
use std::time::Duration;

use hickory_proto::rr::Name;

use super::super::error::{ConfigError, SpanLocator};
use super::super::zonefile::{self, S};
use crate::geo::Coord;

/// RFC 2181 §8: TTLs are 31-bit.
pub(super) const MAX_TTL: i64 = 2_147_483_647;

/// The error collector of one file: passes report every error they find and go on, so
/// the operator sees them all at once.
pub(super) struct Ctx<'a> {
    pub(super) loc: SpanLocator<'a>,
    pub(super) errors: Vec<ConfigError>,
    pub(super) broken: Broken,
}

/// Names that are defined but could not be read, each already reported. A reference to
/// one is not a second error: a bad field in a check must not also make every pool that
/// uses it, and every policy over those pools, "undefined".
#[derive(Default)]
pub(super) struct Broken {
    pub(super) checks: HashSet<String>,
    pub(super) pools: HashSet<String>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(loc: SpanLocator<'a>) -> Self {
        Ctx {
            loc,
            errors: Vec::new(),
            broken: Broken::default(),
        }
    }

    pub(super) fn err<T>(
        &mut self,
        span: std::ops::Range<usize>,
        msg: impl Into<String>,
    ) -> Option<T> {
        self.errors.push(self.loc.error(span, msg));
        None
    }
}

/// An owner name: `@`, a name relative to the origin, or a fully qualified name in the zone.
pub(super) fn owner_name(cx: &mut Ctx<'_>, raw: &S<String>, origin: &Name) -> Option<Name> {
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
pub(super) fn rdata_name(cx: &mut Ctx<'_>, raw: &S<String>, origin: &Name) -> Option<Name> {
    match Name::parse(raw.get_ref(), Some(origin)) {
        Ok(n) => Some(n),
        Err(e) => cx.err(
            raw.span(),
            format!("{:?} is not a domain name: {e}", raw.get_ref()),
        ),
    }
}

pub(super) fn ttl(cx: &mut Ctx<'_>, raw: &S<i64>, max: i64) -> Option<u32> {
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

pub(super) fn duration(
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

/// A `location = { lat, lon }` within range.
pub(super) fn coord(cx: &mut Ctx<'_>, raw: &S<zonefile::Location>) -> Option<Coord> {
    let l = raw.get_ref();
    Coord::new(l.lat, l.lon).or_else(|| {
        cx.err(
            raw.span(),
            format!(
                "location ({}, {}) out of range: lat -90..=90, lon -180..=180",
                l.lat, l.lon
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn spanned<T>(v: T) -> S<T> {
        S::new(0..1, v)
    }

    #[test]
    fn readers_report_with_the_span_and_go_on() {
        let text = "x";
        let mut cx = Ctx::new(SpanLocator::new(Path::new("f.toml"), text));
        assert_eq!(int_in(&mut cx, &spanned(5), "n", 1, 9), Some(5));
        assert_eq!(int_in(&mut cx, &spanned(10), "n", 1, 9), None);
        assert_eq!(ttl(&mut cx, &spanned(-1), 60), None);
        let d = Some(spanned("5ms".to_string()));
        assert_eq!(duration(&mut cx, &d, "interval", Duration::ZERO), None);
        let d = Some(spanned("soon".to_string()));
        assert_eq!(duration(&mut cx, &d, "interval", Duration::ZERO), None);
        assert_eq!(
            duration(&mut cx, &None, "interval", Duration::from_secs(3)),
            Some(Duration::from_secs(3))
        );
        let msgs: Vec<String> = cx.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert_eq!(msgs[0], "f.toml:1:1: n 10 out of range 1..=9");
        assert_eq!(msgs[1], "f.toml:1:1: ttl -1 out of range 0..=60");
        assert_eq!(
            msgs[2],
            "f.toml:1:1: interval \"5ms\" out of range 10ms..=1h"
        );
        assert!(
            msgs[3].starts_with("f.toml:1:1: interval \"soon\": "),
            "{msgs:?}"
        );
        assert!(
            msgs[3].ends_with("(write e.g. \"5s\" or \"500ms\")"),
            "{msgs:?}"
        );
    }

    #[test]
    fn owner_names_stay_inside_the_zone() {
        let origin = Name::from_ascii("t.test.").unwrap();
        let mut cx = Ctx::new(SpanLocator::new(Path::new("f.toml"), "x"));
        let at = owner_name(&mut cx, &spanned("@".to_string()), &origin);
        assert_eq!(at, Some(origin.clone()));
        let rel = owner_name(&mut cx, &spanned("www".to_string()), &origin).unwrap();
        assert_eq!(rel.to_string(), "www.t.test.");
        assert_eq!(
            owner_name(&mut cx, &spanned("www.other.".to_string()), &origin),
            None
        );
        assert_eq!(
            cx.errors[0].to_string(),
            "f.toml:1:1: www.other. is outside zone t.test."
        );
    }
}
