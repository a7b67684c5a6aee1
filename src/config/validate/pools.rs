//! `[pools.*]`: the addresses a policy answers with, the check that watches them and
//! how many must be healthy.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use super::super::zonefile::{self, S};
use super::ctx::{coord, int_in, Ctx};
use crate::zone::{CheckSpec, Pool};

/// Every pool of the zone file, keyed by name; bad ones are reported and kept as broken
/// names, so policies over them are not reported again.
pub(super) fn pools(
    cx: &mut Ctx<'_>,
    raw: &BTreeMap<S<String>, S<zonefile::PoolEntry>>,
    checks: &BTreeMap<Arc<str>, Arc<CheckSpec>>,
) -> BTreeMap<Arc<str>, Pool> {
    let mut pools = BTreeMap::new();
    for (name, entry) in raw {
        match pool(cx, name, entry, checks) {
            Some(pool) => {
                pools.insert(pool.name.clone(), pool);
            }
            None => {
                cx.broken.pools.insert(name.get_ref().clone());
            }
        }
    }
    pools
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
    // A broken check was reported where it is: the pool's own fields are still read,
    // and then it is left out without a second error.
    let check_broken = e
        .check
        .as_ref()
        .is_some_and(|c| cx.broken.checks.contains(c.get_ref()));
    let check = match &e.check {
        Some(_) if check_broken => None,
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
    let location = e.location.as_ref().and_then(|l| coord(cx, l));
    if check_broken {
        return None;
    }
    Some(Pool {
        name: name.get_ref().as_str().into(),
        region: e.region.get_ref().as_str().into(),
        addresses,
        check,
        min_healthy,
        location,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{errors, zone, HEAD};

    #[test]
    fn a_pool_naming_an_undefined_check_is_reported_with_the_defined_ones() {
        let text = format!(
            "{HEAD}\n[checks.web]\nkind = \"tcp\"\nport = 80\n\n[pools.p]\nregion = \"r\"\naddresses = [\"192.0.2.1\"]\ncheck = \"wbe\"\n"
        );
        assert_eq!(
            errors(&text),
            ["z.toml:13:9: pool p uses check \"wbe\", which is not defined (defined: [\"web\"])"]
        );
    }

    #[test]
    fn addresses_are_read_once_each() {
        let text = format!(
            "{HEAD}\n[pools.p]\nregion = \"r\"\naddresses = [\"192.0.2.1\", \"192.0.2.1\", \"nope\"]\n"
        );
        assert_eq!(
            errors(&text),
            [
                "z.toml:8:27: address 192.0.2.1 listed twice",
                "z.toml:8:40: \"nope\" is not an IP address",
            ]
        );
        let empty = format!("{HEAD}\n[pools.p]\nregion = \"r\"\naddresses = []\n");
        assert_eq!(errors(&empty), ["z.toml:8:13: pool p has no addresses"]);
    }

    #[test]
    fn min_healthy_is_bounded_by_the_addresses() {
        let text = format!(
            "{HEAD}\n[pools.p]\nregion = \"r\"\naddresses = [\"192.0.2.1\", \"192.0.2.2\"]\nmin_healthy = 3\n"
        );
        assert_eq!(
            errors(&text),
            ["z.toml:9:15: min_healthy 3 out of range 1..=2"]
        );
        let ok = format!(
            "{HEAD}\n[pools.p]\nregion = \"r\"\naddresses = [\"192.0.2.1\", \"192.0.2.2\"]\nmin_healthy = 2\nlocation = {{ lat = 48.8, lon = 2.3 }}\n"
        );
        let z = zone(&ok);
        let p = &z.pools["p"];
        assert_eq!(
            (p.min_healthy, p.addresses.len(), p.check.is_none()),
            (2, 2, true)
        );
        assert!(p.location.is_some());
    }
}
