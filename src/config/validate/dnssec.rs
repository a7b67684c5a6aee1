//! `[dnssec]`: the zone's signing keys. Each named key is loaded (public and private
//! file) and checked for this zone; a problem is reported at the key's entry in the
//! policy file, with the key file's own message (missing, unreadable, readable by
//! others, another zone's key, unsupported algorithm, halves that do not match).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;

use super::super::zonefile::{DnssecEntry, S};
use super::ctx::Ctx;
use crate::dnssec::{unix_now, Key, KeySet};

/// Shortest `signature_validity`: signatures are re-made when a quarter of it is left,
/// and that quarter must outlast the second-granular clock and a table rebuild.
const MIN_VALIDITY: Duration = Duration::from_secs(8);
/// Longest: RRSIG times are serial numbers, 68 years apart at most (RFC 4034 §3.1.5); a
/// year is already far longer than any resolver caches.
const MAX_VALIDITY: Duration = Duration::from_secs(366 * 86_400);

/// `[dnssec] signature_validity`, or `None` (absent: the signer's default of 7 days, or
/// an error reported in `cx`).
pub(super) fn validity(cx: &mut Ctx<'_>, raw: Option<&S<DnssecEntry>>) -> Option<Duration> {
    let v = raw?.get_ref().signature_validity.as_ref()?;
    match humantime::parse_duration(v.get_ref()) {
        Ok(d) if (MIN_VALIDITY..=MAX_VALIDITY).contains(&d) => Some(d),
        Ok(_) => cx.err(
            v.span(),
            format!(
                "[dnssec] signature_validity {:?} is out of range: from 8s to 366d",
                v.get_ref()
            ),
        ),
        Err(e) => cx.err(
            v.span(),
            format!(
                "[dnssec] signature_validity {:?} is not a duration ({e}): e.g. \"7d\" or \"12h\"",
                v.get_ref()
            ),
        ),
    }
}

/// The key set of `[dnssec]`, or `None` (no section, or an error reported in `cx`).
pub(super) fn keys(
    cx: &mut Ctx<'_>,
    file: &Path,
    raw: Option<&S<DnssecEntry>>,
    origin: &Name,
) -> Option<KeySet> {
    let raw = raw?;
    let entry = raw.get_ref();
    if entry.keys.is_empty() {
        return cx.err(
            raw.span(),
            "[dnssec] keys is empty: name at least one key, e.g. keys = [\"Kexample.com.+013+12345\"]",
        );
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut loaded = Vec::new();
    let mut failed = false;
    for k in &entry.keys {
        let base = dir.join(k.get_ref());
        match Key::load(&base, origin) {
            Ok(key) => loaded.push(Arc::new(key)),
            Err(e) => {
                failed = true;
                cx.err::<()>(k.span(), format!("dnssec key: {e}"));
            }
        }
    }
    if failed {
        return None;
    }
    let set = match KeySet::new(origin.clone(), loaded) {
        Ok(s) => s,
        Err(e) => return cx.err(raw.span(), format!("dnssec keys: {e}")),
    };
    // A signing gap would serve answers no validator accepts: refuse it here rather than
    // SERVFAIL every resolver later.
    let problems = set.problems(unix_now());
    if !problems.is_empty() {
        return cx.err(raw.span(), format!("dnssec keys: {}", problems.join("; ")));
    }
    Some(set)
}
