//! Bearer-token checks for the control API. Mutating requests always need the token;
//! reads need it unless `open_reads` is set. Tokens are compared in constant time.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwapOption;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use super::{ApiError, AppState};

pub struct Auth {
    token: ArcSwapOption<Box<[u8]>>,
    file: Option<PathBuf>,
    open_reads: bool,
}

impl Auth {
    /// Reads the token file now; an unreadable or empty one is an error at startup.
    pub fn new(file: Option<PathBuf>, open_reads: bool) -> anyhow::Result<Auth> {
        let auth = Auth {
            token: ArcSwapOption::empty(),
            file,
            open_reads,
        };
        if let Some(f) = &auth.file {
            auth.token.store(Some(Arc::new(read_token(f)?)));
        }
        Ok(auth)
    }

    /// Re-reads the token file (on reload), keeping the old token if the new one is bad.
    pub fn refresh(&self) {
        let Some(f) = &self.file else { return };
        match read_token(f) {
            Ok(t) => {
                let changed = self.token.load().as_deref().is_none_or(|old| *old != t);
                self.token.store(Some(Arc::new(t)));
                if changed {
                    info!(file = %f.display(), "control token replaced");
                }
            }
            Err(e) => warn!(error = %format!("{e:#}"), "keeping the previous control token"),
        }
    }

    fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        let Some(token) = self.token.load_full() else {
            return false;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| bearer(v.as_bytes()))
            .unwrap_or_default();
        bool::from(given.ct_eq(&token[..]))
    }
}

/// The token of a `Bearer` credential. The scheme is case-insensitive (RFC 7235 §2.1,
/// RFC 6750 §2.1) and one or more spaces may follow it.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

fn read_token(f: &std::path::Path) -> anyhow::Result<Box<[u8]>> {
    let text = std::fs::read_to_string(f)
        .with_context(|| format!("cannot read control token file {}", f.display()))?;
    let t = text.trim();
    anyhow::ensure!(!t.is_empty(), "control token file {} is empty", f.display());
    Ok(t.as_bytes().into())
}

/// Middleware for every control route: GET and HEAD are reads, the rest are writes.
pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let auth = &state.auth;
    if read && auth.open_reads {
        return next.run(req).await;
    }
    if auth.token.load().is_none() {
        return ApiError(
            StatusCode::FORBIDDEN,
            "no token_file is configured: the control API is read-only".into(),
        )
        .into_response();
    }
    if !auth.bearer_ok(req.headers()) {
        warn!(method = %req.method(), path = %req.uri().path(), "control request without a valid token");
        return (
            [(header::WWW_AUTHENTICATE, "Bearer")],
            ApiError(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required".into(),
            ),
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_exact() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"BEARER   abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearerabc"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }
}
