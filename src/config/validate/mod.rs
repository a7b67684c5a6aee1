//! Turns a parsed zone policy file into a checked `zone::Zone`, or every error it has.
//!
//! Rejects what would serve wrong answers: unknown or malformed values, duplicate names,
//! CNAME beside other data, policy names that collide with static records, references to
//! missing pools or checks, out-of-range TTLs and thresholds. One pass per section, each
//! in its file, in the order below; they share only ctx.rs.

mod checks;
mod ctx;
mod header;
mod members;
mod overrides;
mod policies;
mod pools;
mod records;

use std::path::Path;

use super::error::{ConfigError, SpanLocator};
use super::zonefile;
use crate::zone::Zone;
use ctx::Ctx;

/// Validate one zone policy file. `text` is its content, for positions.
pub fn validate(
    file: &Path,
    text: &str,
    raw: zonefile::ZoneFile,
) -> Result<Zone, Vec<ConfigError>> {
    let mut cx = Ctx::new(SpanLocator::new(file, text));
    let zone = build(&mut cx, file, raw);
    match zone {
        Some(z) if cx.errors.is_empty() => Ok(z),
        _ => Err(cx.errors),
    }
}

/// The passes in order: the header and static records, then checks, the pools that use
/// them, the policies over the pools, and the zone-wide lists. Without an origin or an
/// apex SOA there is no zone to go on with.
fn build(cx: &mut Ctx<'_>, file: &Path, raw: zonefile::ZoneFile) -> Option<Zone> {
    let header_span = raw.zone.span();
    let header = raw.zone.into_inner();
    let origin = header::origin(cx, &header.origin)?;
    let default_ttl = header::default_ttl(cx, &header);
    let mut statics = records::statics(cx, file, &header, &raw.records, &origin, default_ttl);
    let soa = header::apex_soa(
        cx,
        &header,
        header_span.clone(),
        &origin,
        default_ttl,
        &mut statics.records,
    )?;
    header::apex_ns(
        cx,
        &header,
        header_span.clone(),
        &origin,
        default_ttl,
        &mut statics.records,
    );
    records::check_cname_exclusive(cx, &statics.records, &statics.defined_at, header_span);
    let checks = checks::checks(cx, &origin, &raw.checks);
    let pools = pools::pools(cx, &raw.pools, &checks);
    let policies = policies::policies(cx, &raw.policies, &origin, &statics, &pools);
    let geo_overrides = overrides::geo_overrides(cx, &raw.geo_overrides);
    let allow_transfer = header::allow_transfer(cx, &header.allow_transfer);
    policies::check_budgets(cx, file, &policies, &pools, &checks);
    Some(Zone {
        origin,
        file: file.to_path_buf(),
        soa,
        records: statics.records,
        pools,
        checks,
        policies,
        geo_overrides,
        allow_transfer,
    })
}
