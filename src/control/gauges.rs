//! The state gauges of `/metrics`: `switchyard_pool_up{zone,pool}`,
//! `switchyard_policy_pools_up{zone,policy}` and `switchyard_target_up{zone,check,address}`.
//!
//! Read at scrape time from the table being served and the latest [`Built`], not kept
//! up to date by the updater: a scrape always sees the table that answers queries, a
//! rebuild costs nothing more, and a pool or target that a reload removed disappears
//! with it instead of lingering as a stale series.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::metrics::MetricType;
use tokio::sync::watch;

use crate::health::Health;
use crate::metrics::zone_and_check;
use crate::routing::TableReader;
use crate::updater::Built;

pub struct StateGauges {
    pub table: TableReader,
    pub built: watch::Receiver<Arc<Built>>,
}

impl std::fmt::Debug for StateGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateGauges").finish_non_exhaustive()
    }
}

fn gauge(e: &mut MetricEncoder, labels: &[(&str, &str)], up: bool) -> std::fmt::Result {
    e.encode_family(&labels)?.encode_gauge(&i64::from(up))
}

impl Collector for StateGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let table = self.table.load_full();
        let built = self.built.borrow().clone();

        let mut e = encoder.encode_descriptor(
            "switchyard_pool_up",
            "Whether a pool is up (1) or down (0) in the table being served: healthy addresses against min_healthy, and overrides.",
            None,
            MetricType::Gauge,
        )?;
        for z in &table.zones {
            let zone = z.origin.to_string();
            for (pool, _, state) in z.pools.iter() {
                gauge(&mut e, &[("zone", &zone), ("pool", pool)], state.up)?;
            }
        }

        let mut e = encoder.encode_descriptor(
            "switchyard_policy_pools_up",
            "How many of a policy's pools (its own and those of the policies it refers to) are up; 0: every one is down.",
            None,
            MetricType::Gauge,
        )?;
        for zone in &built.zones.zones {
            let Some(z) = table.zones.iter().find(|z| z.origin == zone.origin) else {
                continue;
            };
            let origin = zone.origin.to_string();
            for p in &zone.policies {
                let up = crate::zone::pools_of(p, &zone.policies)
                    .iter()
                    .filter(|name| {
                        // `z.pools` is in name order (a BTreeMap's).
                        z.pools
                            .binary_search_by(|(n, _, _)| n.as_ref().cmp(name.as_ref()))
                            .is_ok_and(|i| z.pools[i].2.up)
                    })
                    .count() as i64;
                e.encode_family(&[("zone", origin.as_str()), ("policy", &p.label)])?
                    .encode_gauge(&up)?;
            }
        }

        let mut e = encoder.encode_descriptor(
            "switchyard_target_up",
            "Whether a checked address is up (1) or down (0), as decided over the probe regions; absent until first decided.",
            None,
            MetricType::Gauge,
        )?;
        let mut targets: Vec<_> = built
            .health
            .targets
            .iter()
            .filter(|(_, s)| s.health != Health::Unknown)
            .collect();
        targets.sort_unstable_by(|a, b| (&a.0.check, a.0.addr).cmp(&(&b.0.check, b.0.addr)));
        for (t, s) in targets {
            let (zone, check) = zone_and_check(&t.check);
            let address = t.addr.to_string();
            gauge(
                &mut e,
                &[("zone", zone), ("check", check), ("address", &address)],
                s.health == Health::Up,
            )?;
        }
        Ok(())
    }
}
