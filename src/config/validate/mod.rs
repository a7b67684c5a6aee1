//! Turns a parsed zone policy file into a checked `zone::Zone`, or every error it has.
//!
//! Rejects what would serve wrong answers: unknown or malformed values, duplicate names,
//! CNAME beside other data, policy names that collide with static records, references to
//! missing pools or checks, out-of-range TTLs and thresholds. One pass per section, each
//! in its file, in the order below; they share only ctx.rs.

mod checks;
mod ctx;
mod dnssec;
mod header;
mod members;
mod overrides;
mod policies;
mod pools;
mod records;
mod records_file;

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
    let default_serial = header::default_serial(file, &header);
    let soa = header::apex_soa(
        cx,
        &header,
        header_span.clone(),
        &origin,
        default_ttl,
        default_serial,
        &mut statics.records,
    )?;
    header::apex_ns(
        cx,
        &header,
        header_span.clone(),
        &origin,
        default_ttl,
        &mut statics.records,
        statics.file.apex_ns,
    );
    records::check_cname_exclusive(cx, &statics, header_span.clone());
    let checks = checks::checks(cx, &origin, &raw.checks);
    let pools = pools::pools(cx, &raw.pools, &checks);
    let policies = policies::policies(cx, &raw.policies, &origin, &statics, &pools);
    let geo_overrides = overrides::geo_overrides(cx, &raw.geo_overrides);
    let allow_transfer = header::allow_transfer(cx, &header.allow_transfer);
    let also_notify = header::also_notify(cx, &header.also_notify);
    policies::check_budgets(cx, file, &policies, &pools, &checks);
    let dnssec = dnssec::keys(cx, file, raw.dnssec.as_ref(), &origin);
    let signature_validity = dnssec::validity(cx, raw.dnssec.as_ref());
    let records = statics.into_store(cx, header_span);
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
        also_notify,
        dnssec,
        signature_validity,
    })
}

/// What the passes' unit tests share: a valid zone header and the errors of a file.
#[cfg(test)]
pub(super) mod testing {
    use std::path::Path;

    use crate::zone::Zone;

    /// Four lines; a body appended to it starts at line 5.
    pub(crate) const HEAD: &str = "[zone]\norigin = \"t.test.\"\nnameservers = [\"ns1.t.test.\"]\nsoa = { mname = \"ns1.t.test.\", rname = \"hostmaster.t.test.\" }\n";

    /// Every error of the file, as `file:line:column: message`; empty when it is valid.
    pub(crate) fn errors(text: &str) -> Vec<String> {
        match crate::config::parse_zone(Path::new("z.toml"), text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    pub(crate) fn zone(text: &str) -> Zone {
        crate::config::parse_zone(Path::new("z.toml"), text)
            .unwrap_or_else(|e| panic!("{text}\n{e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{errors, zone, HEAD};

    #[test]
    fn a_minimal_zone_is_valid() {
        let z = zone(HEAD);
        assert_eq!(z.origin.to_string(), "t.test.");
        assert_eq!(z.records.len(), 2, "SOA and NS: {:?}", z.records);
        assert!(z.pools.is_empty() && z.policies.is_empty());
    }

    #[test]
    fn errors_of_every_pass_are_reported_together_in_pass_order() {
        let text = format!(
            "{HEAD}\n[checks.c]\nkind = \"tcp\"\nport = 0\n\n[pools.p]\nregion = \"\"\naddresses = [\"192.0.2.1\"]\n"
        );
        assert_eq!(
            errors(&text),
            [
                "z.toml:8:8: port 0 out of range 1..=65535",
                "z.toml:11:10: region is empty",
            ]
        );
    }

    /// A check `web`, a pool `east` that uses it and a failover policy `fo` over it.
    fn chain(check_body: &str, pool_check: &str) -> String {
        format!(
            "{HEAD}\n[checks.web]\nkind = \"http\"\n{check_body}\n[pools.east]\nregion = \"e\"\naddresses = [\"192.0.2.1\"]\ncheck = \"{pool_check}\"\n\n[[policies]]\nname = \"fo\"\npolicy = \"failover\"\npools = [\"east\"]\n"
        )
    }

    #[test]
    fn a_broken_check_or_pool_is_one_error_not_a_cascade() {
        assert!(errors(&chain("port = 80\n", "web")).is_empty());
        assert_eq!(
            errors(&chain(
                "port = 80\ninterval = \"1s\"\ntimeout = \"2s\"\n",
                "web"
            )),
            ["z.toml:10:11: timeout 2s is longer than interval 1s"]
        );
        assert_eq!(
            errors(&chain("port = 80\nexpect_status = \"600-700\"\n", "web")),
            ["z.toml:9:17: expect_status: expected a status like 200 or a range like \"200-299\" within 100..=599"]
        );
        assert_eq!(
            errors(&chain("port = 99999\n", "web")),
            ["z.toml:8:8: port 99999 out of range 1..=65535"]
        );
        assert_eq!(
            errors(&chain("port = 80\n", "wbe")),
            ["z.toml:13:9: pool east uses check \"wbe\", which is not defined (defined: [\"web\"])"]
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_said_in_words() {
        assert_eq!(
            errors(&chain("port = \"8080\"\n", "web")),
            ["z.toml:8:8: `port` must be a number (got the string \"8080\")"]
        );
    }

    #[test]
    fn two_real_errors_print_two() {
        let text = chain("port = 99999\n", "web")
            .replace("region = \"e\"", "region = \"e\"\nmin_healthy = 5");
        assert_eq!(
            errors(&text),
            [
                "z.toml:8:8: port 99999 out of range 1..=65535",
                "z.toml:12:15: min_healthy 5 out of range 1..=1",
            ]
        );
    }

    #[test]
    fn without_an_apex_soa_the_later_passes_do_not_run() {
        let text = "[zone]\norigin = \"t.test.\"\nnameservers = [\"ns1.t.test.\"]\n\n[checks.c]\nkind = \"tcp\"\nport = 0\n";
        assert_eq!(
            errors(text),
            ["z.toml:1:1: zone t.test. has no SOA: add `soa = { mname = ..., rname = ... }` to [zone] or give one in records_file"]
        );
    }
}
