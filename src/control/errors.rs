//! One error shape for the whole control API: `{"error": "..."}` with the status it
//! deserves. Handlers return [`super::ApiError`]; everything else (axum's own rejections:
//! 404 for an unknown path, 405, 413, 415, a bad JSON body or query string; the auth
//! guard; the agents' report endpoint) is rewritten here, on the way out, so a client
//! parses every error the same way.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Error bodies longer than this are cut: they are one sentence from axum or us.
const MAX_ERROR_BODY: usize = 4096;

/// The fallback route: no endpoint has this path.
pub async fn not_found(req: Request) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no endpoint {} {}", req.method(), req.uri().path()),
    )
}

/// Rewrites every error response that is not JSON yet into `{"error": ...}`, keeping
/// its status and headers (e.g. `WWW-Authenticate`); the text, when there was one, is
/// the message, else the status's reason.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let body =
        serde_json::to_vec(&serde_json::json!({ "error": message })).expect("a string serializes");
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body)).into_response()
}
