//! `GET /v1/status`: every zone, policy answer, pool and address with its state, the
//! last check result, latency and since when; overrides, drills, reloads and the epoch.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::Json;
use hickory_proto::rr::LowerName;
use serde::Serialize;

use super::ops::OverrideView;
use super::AppState;
use crate::health::{Health, HealthSnapshot, QuorumView};
use crate::operator::drill::DrillReport;
use crate::reload::ReloadStatus;
use crate::routing::{Forced, Overlay};
use crate::zone::{Target, Zone};

#[derive(Serialize)]
pub struct Status {
    pub region: String,
    pub version: &'static str,
    pub table: TableStatus,
    pub reload: ReloadStatus,
    pub zones: Vec<ZoneStatus>,
    pub overrides: Vec<OverrideView>,
    pub drills: Vec<DrillReport>,
}

#[derive(Serialize)]
pub struct TableStatus {
    pub epoch: u64,
    pub built_at: String,
    pub build_us: u64,
    pub health_generation: u64,
    pub overlay_generation: u64,
}

#[derive(Serialize)]
pub struct ZoneStatus {
    pub origin: String,
    pub file: String,
    pub policies: Vec<PolicyStatus>,
    pub pools: Vec<PoolStatus>,
    /// The zone's DNSSEC keys; empty for an unsigned zone.
    pub dnssec_keys: Vec<KeyStatus>,
}

/// One DNSSEC key and its state now, by the timing in its key file.
#[derive(Serialize)]
pub struct KeyStatus {
    pub tag: u16,
    pub algorithm: u8,
    /// `KSK` (flags 257) or `ZSK` (256); a KSK alone in its algorithm signs everything.
    pub role: &'static str,
    pub published: bool,
    pub active: bool,
}

fn key_status(zone: &crate::zone::Zone) -> Vec<KeyStatus> {
    let now = crate::dnssec::unix_now();
    let Some(keys) = &zone.dnssec else {
        return Vec::new();
    };
    keys.keys()
        .iter()
        .map(|k| KeyStatus {
            tag: k.tag(),
            algorithm: u8::from(k.algorithm()),
            role: if k.is_ksk() { "KSK" } else { "ZSK" },
            published: k.timing.is_published(now),
            active: k.timing.is_active(now),
        })
        .collect()
}

#[derive(Serialize)]
pub struct PolicyStatus {
    pub label: String,
    pub name: String,
    pub kind: &'static str,
    pub ttl: u32,
    pub pools: Vec<String>,
    pub when_all_down: &'static str,
    /// `pool NAME` or `all pools down (MODE)`.
    pub answer: String,
    pub addresses: Vec<IpAddr>,
    pub since: Option<String>,
}

#[derive(Serialize)]
pub struct PoolStatus {
    pub name: String,
    pub region: String,
    pub up: bool,
    pub healthy: usize,
    pub configured: usize,
    pub min_healthy: usize,
    pub check: Option<String>,
    pub forced: Option<Forced>,
    pub since: Option<String>,
    pub addresses: Vec<AddressStatus>,
}

#[derive(Serialize)]
pub struct AddressStatus {
    pub address: IpAddr,
    /// In the pool's answer right now.
    pub serving: bool,
    /// `up`, `down`, `unknown` (not probed yet) or `unchecked` (no check).
    pub health: &'static str,
    /// The verdict of each probing region, as the quorum counts it.
    pub regions: Vec<RegionVote>,
    pub last_result: Option<String>,
    pub latency_ms: Option<f64>,
    pub since: Option<String>,
    pub forced: Option<Forced>,
}

#[derive(Serialize)]
pub struct RegionVote {
    pub region: String,
    pub health: &'static str,
}

pub fn ts(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// What an address's state is read from: health, overrides, and whose votes these are.
pub struct Sources<'a> {
    pub health: &'a HealthSnapshot,
    pub overlay: &'a Overlay,
    pub region: &'a str,
    /// Every region's votes, when the aggregator could be asked.
    pub votes: Option<&'a QuorumView>,
}

/// The per-address view shared by status and explain.
pub fn address_status(
    zone: &Zone,
    origin: &LowerName,
    pool: &crate::zone::Pool,
    addr: IpAddr,
    serving: bool,
    src: &Sources<'_>,
) -> AddressStatus {
    let (health, overlay, region) = (src.health, src.overlay, src.region);
    let forced = overlay.address(origin, &pool.name, addr);
    let status = pool.check.as_ref().and_then(|c| {
        let spec = zone.checks.get(c)?;
        health.targets.get(&Target {
            check: spec.id.clone(),
            addr,
        })
    });
    let h = match (&pool.check, status) {
        (None, _) => "unchecked",
        (Some(_), None) => Health::Unknown.as_str(),
        (Some(_), Some(s)) => s.health.as_str(),
    };
    AddressStatus {
        address: addr,
        serving,
        health: h,
        regions: match pool.check.as_ref().and_then(|c| zone.checks.get(c)) {
            None => Vec::new(),
            Some(spec) => src
                .votes
                .and_then(|v| region_votes(v, &spec.id, addr))
                .unwrap_or_else(|| {
                    vec![RegionVote {
                        region: region.to_string(),
                        health: h,
                    }]
                }),
        },
        last_result: status.map(|s| s.last_reason.clone()),
        latency_ms: status
            .and_then(|s| s.latency)
            .map(|l| (l.as_secs_f64() * 1e6).round() / 1e3),
        since: status.map(|s| ts(s.since)),
        forced,
    }
}

/// Each region's verdict on `check` at `addr`, from the quorum view.
fn region_votes(view: &QuorumView, check: &str, addr: IpAddr) -> Option<Vec<RegionVote>> {
    let addr = addr.to_string();
    let t = view
        .targets
        .iter()
        .find(|t| t.check == check && t.address == addr)?;
    Some(
        t.regions
            .iter()
            .map(|r| RegionVote {
                region: r.region.clone(),
                health: r.health.as_str(),
            })
            .collect(),
    )
}

pub async fn status(State(state): State<Arc<AppState>>) -> Json<Status> {
    let votes = state.quorum.view().await;
    let built = state.built.borrow().clone();
    let table = state.table.load_full();
    let since = built.since();
    let sources = Sources {
        health: &built.health,
        overlay: &built.overlay,
        region: &state.region,
        votes: votes.as_ref(),
    };
    let mut zones = Vec::new();
    for zone in &built.zones.zones {
        let origin = zone.origin.to_string();
        let lower = LowerName::new(&zone.origin);
        let zt = table.zones.iter().find(|z| z.origin == zone.origin);
        let mut policies = Vec::new();
        for p in &zone.policies {
            let order = crate::zone::pools_of(p, &zone.policies);
            let compiled = zt.and_then(|z| z.policies.iter().find(|c| c.name == p.name));
            policies.push(PolicyStatus {
                label: p.label.to_string(),
                name: p.name.to_string(),
                kind: p.kind.name(),
                ttl: p.ttl,
                pools: order.iter().map(ToString::to_string).collect(),
                when_all_down: p.when_all_down.as_str(),
                answer: compiled.map_or("-".into(), |c| c.summary().choice.to_string()),
                addresses: compiled.map_or(Vec::new(), |c| c.summary().addresses.clone()),
                since: since
                    .answer
                    .get(&(origin.clone(), p.label.to_string()))
                    .map(|t| ts(*t)),
            });
        }
        let mut pools = Vec::new();
        for pool in zone.pools.values() {
            let st = zt.and_then(|z| z.pools.iter().find(|(n, _, _)| *n == pool.name));
            let healthy = st.map_or(&[][..], |(_, _, s)| &s.healthy[..]);
            pools.push(PoolStatus {
                name: pool.name.to_string(),
                region: pool.region.to_string(),
                up: st.is_some_and(|(_, _, s)| s.up),
                healthy: healthy.len(),
                configured: pool.addresses.len(),
                min_healthy: pool.min_healthy,
                check: pool.check.as_ref().map(ToString::to_string),
                forced: built.overlay.pool(&lower, &pool.name),
                since: since
                    .pool
                    .get(&(origin.clone(), pool.name.to_string()))
                    .map(|t| ts(*t)),
                addresses: pool
                    .addresses
                    .iter()
                    .map(|a| address_status(zone, &lower, pool, *a, healthy.contains(a), &sources))
                    .collect(),
            });
        }
        zones.push(ZoneStatus {
            origin,
            file: zone.file.display().to_string(),
            policies,
            pools,
            dnssec_keys: key_status(zone),
        });
    }
    Json(Status {
        region: state.region.to_string(),
        version: env!("CARGO_PKG_VERSION"),
        table: TableStatus {
            epoch: table.epoch,
            built_at: ts(built.at),
            build_us: built.took.as_micros() as u64,
            health_generation: built.health.generation,
            overlay_generation: built.overlay.generation,
        },
        reload: state.reload.status(),
        zones,
        overrides: state.operator.overrides().iter().map(Into::into).collect(),
        drills: state.operator.drills(),
    })
}
