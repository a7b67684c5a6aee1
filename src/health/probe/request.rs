//! What an HTTP(S) probe sends, built once from the check: the URL, the Host header and
//! the user agent both HTTP kinds share, and the error when the check cannot be turned
//! into a request.

use std::net::{IpAddr, SocketAddr};

use reqwest::header::HeaderValue;
use reqwest::Url;

use super::http1::Http1;
use crate::zone::HttpCheck;

pub(super) const USER_AGENT: &str = concat!("switchyard-health/", env!("CARGO_PKG_VERSION"));

/// Building a [`Prober`] failed: a check the config accepted but the HTTP stack refuses.
#[derive(Debug, thiserror::Error)]
pub enum ProberError {
    #[error("invalid probe URL {url:?}: {message}")]
    Url { url: String, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What an HTTP(S) probe asks for: the URL, and a Host header when the configured host
/// is an IP literal other than the target's.
pub(super) struct Request {
    pub(super) url: Url,
    pub(super) host_header: Option<HeaderValue>,
    /// The configured host when it is a name (the URL carries it; the client must be
    /// told to dial the target's address for it).
    pub(super) named: bool,
}

impl Request {
    pub(super) fn new(
        check: &HttpCheck,
        sock: SocketAddr,
        https: bool,
    ) -> Result<Self, ProberError> {
        let scheme = if https { "https" } else { "http" };
        let path = if check.path.starts_with('/') {
            check.path.clone()
        } else {
            format!("/{}", check.path)
        };
        // An IP-literal host would make the client connect to that IP rather than to the
        // target, so the URL always names the target then, and Host is set by hand.
        let named_host = check
            .host
            .as_deref()
            .filter(|h| h.parse::<IpAddr>().is_err() && !h.starts_with('['));
        let authority = match named_host {
            Some(host) => format!("{host}:{}", sock.port()),
            None => sock.to_string(),
        };
        let raw = format!("{scheme}://{authority}{path}");
        let url = Url::parse(&raw).map_err(|e| ProberError::Url {
            url: raw.clone(),
            message: e.to_string(),
        })?;
        let host_header = match (&check.host, named_host) {
            (Some(literal), None) => {
                Some(
                    HeaderValue::from_str(literal).map_err(|e| ProberError::Url {
                        url: raw.clone(),
                        message: format!("host {literal:?}: {e}"),
                    })?,
                )
            }
            _ => None,
        };
        Ok(Request {
            url,
            host_header,
            named: named_host.is_some(),
        })
    }

    /// The same request for [`Http1`]: the URL's target, and the Host header the full
    /// client would send (the URL's authority, or the configured IP literal).
    pub(super) fn http1(&self, check: &HttpCheck, sock: SocketAddr) -> Http1 {
        let mut target = self.url.path().to_string();
        if let Some(q) = self.url.query() {
            target.push('?');
            target.push_str(q);
        }
        let host = match &self.host_header {
            Some(h) => h.to_str().unwrap_or_default().to_string(),
            None => {
                let host = self.url.host_str().unwrap_or_default();
                match self.url.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_string(),
                }
            }
        };
        Http1::new(
            sock,
            &target,
            &host,
            USER_AGENT,
            check.expect_status.clone(),
            check.body_contains.as_deref(),
        )
    }
}
