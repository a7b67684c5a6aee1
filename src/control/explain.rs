//! `GET /v1/explain?name=..&type=..&client=..[&ecs=ADDR/LEN]`: why this client gets
//! this answer. Runs the same table lookup as a query, then lays out the path (zone,
//! CNAME steps, policy), the state of every pool in the policy's order with its
//! addresses' votes and overrides, and the rule that picked the answer: the answer is
//! the one the lookup served, and `explain_rule` says what chose it.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use hickory_proto::rr::{LowerName, Name, RData, RecordType};
use serde::{Deserialize, Serialize};

use super::status::{address_status, AddressStatus, Sources};
use super::{ApiError, AppState};
use crate::policy::{Choice, Client};
use crate::routing::{Forced, Overlay, RoutingTable, ZoneTable};
use crate::updater::Built;
use crate::zone::{Policy, PolicyKind, Zone};

#[derive(Deserialize)]
pub struct ExplainQuery {
    pub name: String,
    #[serde(rename = "type")]
    pub qtype: Option<String>,
    /// The resolver's address; default 127.0.0.1.
    pub client: Option<IpAddr>,
    /// An EDNS Client Subnet, `ADDR/LEN`.
    pub ecs: Option<String>,
}

#[derive(Serialize)]
pub struct Explanation {
    pub epoch: u64,
    pub name: String,
    #[serde(rename = "type")]
    pub qtype: String,
    pub client: IpAddr,
    pub ecs: Option<String>,
    pub rcode: String,
    pub authoritative: bool,
    pub zone: Option<String>,
    /// The steps from the question to the answer, in words.
    pub path: Vec<String>,
    pub policy: Option<PolicyExplanation>,
    pub answers: Vec<String>,
    pub authority: Vec<String>,
    /// ECS scope prefix length the answer carries.
    pub scope: Option<u8>,
}

#[derive(Serialize)]
pub struct PolicyExplanation {
    pub label: String,
    pub name: String,
    pub kind: &'static str,
    pub ttl: u32,
    pub when_all_down: &'static str,
    pub choice: String,
    pub why: String,
    /// What chose: the client's location and matched rule, the weights and the draw,
    /// the latency row, the proximity distances (by kind).
    pub rule: super::explain_rule::Rule,
    /// In the policy's order.
    pub pools: Vec<PoolExplanation>,
}

#[derive(Serialize)]
pub struct PoolExplanation {
    pub name: String,
    pub region: String,
    pub up: bool,
    pub forced: Option<Forced>,
    pub healthy: Vec<IpAddr>,
    pub min_healthy: usize,
    pub verdict: String,
    pub addresses: Vec<AddressStatus>,
}

pub async fn explain(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ExplainQuery>,
) -> Result<Json<Explanation>, ApiError> {
    let (qname, qtype, client) = parse(&q)?;

    let table = state.table.load_full();
    let built = state.built.borrow().clone();
    let sources = Sources {
        health: &built.health,
        overlay: &built.overlay,
        region: &state.region,
        votes: None,
    };
    let lookup = table.lookup(&qname, qtype, &client);
    let lower = LowerName::new(&qname);
    let zone_table = table
        .zones
        .iter()
        .filter(|z| LowerName::new(&z.origin).zone_of(&lower))
        .max_by_key(|z| z.origin.num_labels());

    let mut path = Vec::new();
    let mut owner = qname.clone();
    match zone_table {
        None => path.push(format!("{qname} is in no zone served here: REFUSED")),
        Some(z) => path.push(format!("{qname} is in zone {}", z.origin)),
    }
    for r in lookup.answers.iter() {
        if let RData::CNAME(c) = &r.data {
            path.push(format!("{} is a CNAME for {}", r.name, c.0));
            owner = c.0.clone();
        }
    }

    let served = served_addresses(&lookup.answers, &owner);
    let policy = explain_policy(
        &built,
        &table,
        (&owner, &served),
        &client,
        &sources,
        &mut path,
    );
    if policy.is_none() && zone_table.is_some() {
        path.push(format!(
            "{owner} is answered from static records ({})",
            lookup.rcode
        ));
    }

    Ok(Json(Explanation {
        epoch: table.epoch,
        name: qname.to_string(),
        qtype: qtype.to_string(),
        client: client.addr,
        ecs: q.ecs.clone(),
        rcode: lookup.rcode.to_string(),
        authoritative: lookup.authoritative,
        zone: zone_table.map(|z| z.origin.to_string()),
        path,
        policy,
        answers: lookup.answers.iter().map(|r| r.to_string()).collect(),
        authority: lookup.authority.iter().map(|r| r.to_string()).collect(),
        scope: lookup.scope,
    }))
}

/// The question the request asks: its name (made absolute), type (default A) and client.
fn parse(q: &ExplainQuery) -> Result<(Name, RecordType, Client), ApiError> {
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    let fq = if q.name.ends_with('.') {
        q.name.clone()
    } else {
        format!("{}.", q.name)
    };
    let qname = Name::from_ascii(&fq).map_err(|e| bad(format!("name {:?}: {e}", q.name)))?;
    let qtype = match &q.qtype {
        None => RecordType::A,
        Some(t) => RecordType::from_str(&t.to_ascii_uppercase())
            .map_err(|_| bad(format!("type {t:?}: not a record type")))?,
    };
    let subnet = match &q.ecs {
        None => None,
        Some(s) => {
            let (a, l) = s
                .split_once('/')
                .map_or((s.as_str(), None), |(a, l)| (a, Some(l)));
            let a: IpAddr = a
                .parse()
                .map_err(|_| bad(format!("ecs {s:?}: bad address")))?;
            // Without a length, the whole address: /32 for IPv4, /128 for IPv6.
            let full = crate::geo::max_len(a);
            let l: u8 = match l {
                None => full,
                Some(l) => l
                    .parse()
                    .ok()
                    .filter(|l| *l <= full)
                    .ok_or_else(|| bad(format!("ecs {s:?}: the prefix is 0 to {full}")))?,
            };
            Some((a, l))
        }
    };
    let client = Client {
        addr: q.client.unwrap_or(IpAddr::from([127, 0, 0, 1])),
        subnet,
    };
    Ok((qname, qtype, client))
}

/// The policy that answered, if the final `owner` is a policy name, with the two steps
/// it adds to `path`; `None` when no policy has that name (or it was not compiled).
fn explain_policy(
    built: &Built,
    table: &RoutingTable,
    (owner, served): (&Name, &[IpAddr]),
    client: &Client,
    sources: &Sources<'_>,
    path: &mut Vec<String>,
) -> Option<PolicyExplanation> {
    let owner_lower = LowerName::new(owner);
    let (z, p) = built.zones.zones.iter().find_map(|z| {
        z.policies
            .iter()
            .find(|p| LowerName::new(&p.name) == owner_lower)
            .map(|p| (z, p))
    })?;
    let zlower = LowerName::new(&z.origin);
    let zt = table.zones.iter().find(|t| t.origin == z.origin);
    let compiled = zt.and_then(|t| t.policies.iter().find(|c| c.name == p.name))?;
    // The answer the lookup above served (one selection): the prepared answer with
    // exactly its addresses, in its order. Only when the lookup served no address of
    // this policy (another type, NODATA) is the policy asked again.
    let answer = compiled
        .answers()
        .iter()
        .find(|a| !served.is_empty() && same_family_order(&a.addresses, served))
        .unwrap_or_else(|| compiled.select(client).0);
    let order = crate::zone::pools_of(p, &z.policies);
    let pools: Vec<PoolExplanation> = order
        .iter()
        .map(|name| explain_pool(z, &zlower, zt, name, &built.overlay, sources))
        .collect();
    let up = pools
        .iter()
        .map(|x| (Arc::<str>::from(x.name.as_str()), x.up))
        .collect();
    let (rule, kind_why) = super::explain_rule::rule(p, compiled, client, &answer.choice, &up);
    let why = match (&p.kind, &answer.choice) {
        (_, Choice::AllDown(_)) | (PolicyKind::Failover { .. }, _) => {
            why(p, &answer.choice, &pools)
        }
        _ => kind_why,
    };
    let joiner = match p.kind {
        PolicyKind::Failover { .. } => " > ",
        _ => ", ",
    };
    path.push(format!(
        "{} is answered by policy {} ({} over {})",
        p.name,
        p.label,
        p.kind.name(),
        order
            .iter()
            .map(|s| s.as_ref())
            .collect::<Vec<_>>()
            .join(joiner)
    ));
    path.push(why.clone());
    Some(PolicyExplanation {
        label: p.label.to_string(),
        name: p.name.to_string(),
        kind: p.kind.name(),
        ttl: p.ttl,
        when_all_down: p.when_all_down.as_str(),
        choice: answer.choice.to_string(),
        why,
        rule,
        pools,
    })
}

/// The A and AAAA addresses the lookup served for `owner`, in order.
fn served_addresses(
    answers: &[std::borrow::Cow<'_, hickory_proto::rr::Record>],
    owner: &Name,
) -> Vec<IpAddr> {
    answers
        .iter()
        .filter(|r| r.name == *owner)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

/// Whether `prepared`, kept to the family of `served`, is `served` in the same order.
fn same_family_order(prepared: &[IpAddr], served: &[IpAddr]) -> bool {
    let v4 = served[0].is_ipv4();
    prepared
        .iter()
        .filter(|a| a.is_ipv4() == v4)
        .eq(served.iter())
}

/// One pool of the policy's order: its state in this build, and why.
fn explain_pool(
    z: &Zone,
    zlower: &LowerName,
    zt: Option<&ZoneTable>,
    name: &Arc<str>,
    overlay: &Overlay,
    sources: &Sources<'_>,
) -> PoolExplanation {
    let pool = &z.pools[name];
    let st = zt.and_then(|t| t.pools.iter().find(|(n, _, _)| n == name));
    let (up, healthy) = st.map_or((false, Vec::new()), |(_, _, s)| (s.up, s.healthy.clone()));
    let forced = overlay.pool(zlower, name);
    let verdict = match (forced, up) {
        (Some(Forced::Down), _) => "down: forced down by an override or drill".to_string(),
        (Some(Forced::Up), _) => "up: forced up by an override".to_string(),
        (None, true) => format!(
            "up: {} of {} addresses healthy (min_healthy {})",
            healthy.len(),
            pool.addresses.len(),
            pool.min_healthy
        ),
        (None, false) => format!(
            "down: {} of {} addresses healthy, below min_healthy {}",
            healthy.len(),
            pool.addresses.len(),
            pool.min_healthy
        ),
    };
    let addresses = pool
        .addresses
        .iter()
        .map(|a| address_status(z, zlower, pool, *a, healthy.contains(a), sources))
        .collect();
    PoolExplanation {
        name: name.to_string(),
        region: pool.region.to_string(),
        up,
        forced,
        healthy,
        min_healthy: pool.min_healthy,
        verdict,
        addresses,
    }
}

/// The rule that picked `choice`, in words.
fn why(p: &Policy, choice: &Choice, pools: &[PoolExplanation]) -> String {
    match choice {
        Choice::Pool(chosen) if !matches!(p.kind, PolicyKind::Failover { .. }) => format!(
            "{}: pool {chosen} answers for this client (its location and the pools' health decided it)",
            p.kind.name()
        ),
        Choice::Pools(chosen) => {
            let names: Vec<&str> = chosen.iter().map(|c| c.as_ref()).collect();
            format!("{}: healthy addresses of {}", p.kind.name(), names.join(", "))
        }
        Choice::Pool(chosen) => {
            let skipped: Vec<String> = pools
                .iter()
                .take_while(|p| *p.name != **chosen)
                .map(|p| format!("{} is {}", p.name, p.verdict))
                .collect();
            if skipped.is_empty() {
                format!("failover: {chosen} is the first pool in priority order and it is up")
            } else {
                format!(
                    "failover: {}; {chosen} is the first pool in priority order that is up",
                    skipped.join("; ")
                )
            }
        }
        Choice::AllDown(mode) => format!(
            "failover: every pool is down, so when_all_down = {} applies",
            mode.as_str()
        ),
    }
}
