//! `GET /`: the status page, one self-contained HTML file (inline CSS and JS, no
//! external assets) embedded in the binary. It holds no data of its own: its script
//! polls `v1/status`, so it is served under the same read rules as that route.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The page, as shipped in the binary.
pub const PAGE: &str = include_str!("page.html");

pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Nothing but itself: no external script, style, frame or connection.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            ),
        ],
        PAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::PAGE;

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for needle in ["http://", "https://", "src=\"", "<link", "@import"] {
            assert!(!PAGE.contains(needle), "page.html contains {needle:?}");
        }
        assert!(PAGE.contains("fetch(\"v1/status\""));
    }
}
