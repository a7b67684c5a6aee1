//! The control HTTP API: the status page, status, Prometheus metrics, explain, overrides, drills and
//! reload, on its own address (loopback by default).
//!
//! [`router`] builds the routes from one shared [`AppState`]; other features add theirs
//! by merging their own `Router` into it (e.g. `router(state).merge(reports(state))`),
//! choosing whether to put [`auth::guard`] on them.

pub mod auth;
mod errors;
pub mod explain;
mod explain_rule;
pub mod gauges;
pub mod ops;
pub mod page;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::operator::{OpError, Operator};
use crate::reload::ReloadHandle;
use crate::routing::TableReader;
use crate::updater::Built;

/// Everything the handlers read or act on.
pub struct AppState {
    pub table: TableReader,
    pub built: watch::Receiver<Arc<Built>>,
    pub operator: Arc<Operator>,
    pub reload: ReloadHandle,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<auth::Auth>,
    /// The probe region this nameserver speaks for.
    pub region: Arc<str>,
    /// This server's DNS addresses: what drills watch by default.
    pub dns_addrs: Vec<SocketAddr>,
    pub shutdown: CancellationToken,
    /// Every region's votes, for the per-region state of each address.
    pub quorum: crate::health::QuorumHandle,
}

/// The control API's routes, each behind [`auth::guard`].
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page::page))
        .route("/v1/status", get(status::status))
        .route("/metrics", get(metrics))
        .route("/v1/explain", get(explain::explain))
        .route(
            "/v1/overrides",
            get(ops::list_overrides).post(ops::post_override),
        )
        .route("/v1/overrides/{id}", delete(ops::delete_override))
        .route("/v1/drills", get(ops::list_drills).post(ops::post_drill))
        .route("/v1/drills/{id}", get(ops::get_drill))
        .route("/v1/reload", post(ops::reload))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        // Every request here is a few hundred bytes; anything near this is abuse.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

/// Largest control request body accepted; larger ones get 413.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Serves `app` until `shutdown`, letting requests in progress finish.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, shutdown: CancellationToken) {
    // Last, so every route merged into `app` gets the one error shape.
    let app = app
        .fallback(errors::not_found)
        .layer(axum::middleware::map_response(errors::json_errors));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(error = %e, "control API stopped");
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

/// An error as JSON with the status it deserves.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        let code = match e {
            OpError::UnknownZone(_)
            | OpError::UnknownPool { .. }
            | OpError::NoSuchOverride(_)
            | OpError::NoSuchDrill(_) => StatusCode::NOT_FOUND,
            OpError::Conflict(_) => StatusCode::CONFLICT,
            OpError::AmbiguousPool { .. } | OpError::NotInPool { .. } | OpError::Invalid(_) => {
                StatusCode::BAD_REQUEST
            }
        };
        ApiError(code, e.to_string())
    }
}
