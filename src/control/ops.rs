//! The mutating endpoints and their listings: overrides, drills, reload.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::operator::drill::DrillRequest;
use crate::operator::{Override, Source};
use crate::routing::Forced;

/// An override as the API shows it.
#[derive(Debug, Serialize)]
pub struct OverrideView {
    pub id: u64,
    pub zone: String,
    pub pool: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    pub action: Forced,
    pub reason: String,
    pub source: Source,
    pub created_at: String,
    pub expires_at: String,
    pub remaining_seconds: u64,
}

impl From<&Override> for OverrideView {
    fn from(o: &Override) -> Self {
        OverrideView {
            id: o.id,
            zone: o.scope.zone.to_string(),
            pool: o.scope.pool.to_string(),
            address: o.scope.address,
            action: o.action,
            reason: o.reason.clone(),
            source: o.source,
            created_at: humantime::format_rfc3339_seconds(o.created).to_string(),
            expires_at: humantime::format_rfc3339_seconds(o.expires).to_string(),
            remaining_seconds: o
                .expires
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .as_secs(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Force down: no traffic, as if it had failed.
    Down,
    /// Same as `down`.
    Drain,
    Up,
    Clear,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    pub zone: Option<String>,
    pub pool: String,
    pub address: Option<IpAddr>,
    pub action: Action,
    /// Required for `down`, `drain` and `up`: why, for status, logs and alerts.
    pub reason: Option<String>,
    /// Required for `down`, `drain` and `up`, e.g. "30m": the override reverts then.
    pub expires_in: Option<String>,
}

pub async fn list_overrides(State(state): State<Arc<AppState>>) -> Json<Vec<OverrideView>> {
    Json(state.operator.overrides().iter().map(Into::into).collect())
}

pub async fn post_override(
    State(state): State<Arc<AppState>>,
    Json(req): Json<OverrideRequest>,
) -> Result<Response, ApiError> {
    let op = &state.operator;
    let scope = op.resolve(req.zone.as_deref(), &req.pool, req.address)?;
    if let Some(r) = &req.reason {
        crate::operator::check_reason(r)?;
    }
    let bad = |m: &str| ApiError(StatusCode::BAD_REQUEST, m.to_string());
    let forced = match req.action {
        Action::Clear => {
            let why = req.reason.as_deref().unwrap_or("cleared by operator");
            let o = op.clear_scope(&scope, why)?;
            return Ok(Json(OverrideView::from(&o)).into_response());
        }
        Action::Down | Action::Drain => Forced::Down,
        Action::Up => Forced::Up,
    };
    let reason = req
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| bad("\"reason\" is required"))?;
    let ttl: Duration = match &req.expires_in {
        None => {
            return Err(bad(
                "\"expires_in\" is required (e.g. \"30m\"): overrides revert on their own",
            ))
        }
        Some(s) => {
            humantime::parse_duration(s).map_err(|e| bad(&format!("expires_in {s:?}: {e}")))?
        }
    };
    let o = op.set(scope, forced, reason, Source::Operator, ttl)?;
    Ok((StatusCode::CREATED, Json(OverrideView::from(&o))).into_response())
}

pub async fn delete_override(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<Json<OverrideView>, ApiError> {
    let o = state.operator.clear(id, "deleted by operator")?;
    Ok(Json(OverrideView::from(&o)))
}

pub async fn post_drill(
    State(state): State<Arc<AppState>>,
    Json(req): Json<DrillRequest>,
) -> Result<Response, ApiError> {
    let report = state
        .operator
        .start_drill(req, &state.dns_addrs, state.shutdown.clone())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(report)).into_response())
}

pub async fn list_drills(State(state): State<Arc<AppState>>) -> Response {
    Json(state.operator.drills()).into_response()
}

pub async fn get_drill(
    State(state): State<Arc<AppState>>,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    Ok(Json(state.operator.drill(id)?).into_response())
}

pub async fn reload(State(state): State<Arc<AppState>>) -> Response {
    match state.reload.reload("api").await {
        Some(a) if a.ok => Json(a).into_response(),
        Some(a) => (StatusCode::UNPROCESSABLE_ENTITY, Json(a)).into_response(),
        None => ApiError(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into()).into_response(),
    }
}
