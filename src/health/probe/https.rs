//! The HTTPS check kind: the full HTTP client (reqwest over rustls), for TLS and SNI,
//! dialling the target's address whatever the configured host resolves to, and telling a
//! TLS failure from a reset or a refused connect in the error chain it returns.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;

use reqwest::header::{HeaderValue, CONNECTION, HOST};
use reqwest::{redirect, Client, Url};

use super::reason::{classify_io, BodySearch, ProbeReason};
use super::request::{ProberError, Request, USER_AGENT};
use crate::zone::HttpCheck;

#[derive(Debug, Clone)]
pub(super) struct HttpsProber {
    client: Client,
    url: Url,
    /// Set only when the configured host is an IP literal other than the URL's.
    host_header: Option<HeaderValue>,
    check: HttpCheck,
}

impl HttpsProber {
    pub(super) fn new(check: &HttpCheck, sock: SocketAddr) -> Result<Self, ProberError> {
        let Request {
            url,
            host_header,
            named,
        } = Request::new(check, sock, true)?;
        let mut builder = Client::builder()
            // A redirect is the target's answer, judged by expect_status, not a place to go.
            .redirect(redirect::Policy::none())
            // A dead server must not hide behind a kept-alive socket.
            .pool_max_idle_per_host(0)
            // A proxy from the environment would probe the proxy, not the target.
            .no_proxy()
            .user_agent(USER_AGENT)
            .danger_accept_invalid_certs(!check.tls_verify);
        if let Some(pem) = &check.tls_ca {
            // Validated at load; trusted besides the built-in roots.
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if named {
            // Take the name as the URL parsed it (lowercased, punycode), or the override
            // would miss and the client would fall back to DNS.
            if let Some(host) = url.host_str() {
                builder = builder.resolve(host, sock);
            }
        }
        Ok(HttpsProber {
            client: builder.build()?,
            url,
            host_header,
            check: check.clone(),
        })
    }

    pub(super) async fn probe(&self) -> Result<ProbeReason, ProbeReason> {
        let mut req = self
            .client
            .get(self.url.clone())
            .header(CONNECTION, HeaderValue::from_static("close"));
        if let Some(host) = &self.host_header {
            req = req.header(HOST, host.clone());
        }
        let mut resp = req.send().await.map_err(|e| self.classify(&e))?;
        let status = resp.status().as_u16();
        if !self.check.expect_status.contains(&status) {
            return Err(ProbeReason::BadStatus(status));
        }
        let Some(needle) = self.check.body_contains.as_deref() else {
            return Ok(ProbeReason::Status(status));
        };
        let mut search = BodySearch::new(needle.as_bytes());
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&e))? {
            match search.feed(&chunk) {
                Some(true) => return Ok(ProbeReason::Status(status)),
                Some(false) => return Err(ProbeReason::BodyTooLarge),
                None => {}
            }
        }
        if search.found() {
            Ok(ProbeReason::Status(status))
        } else {
            Err(ProbeReason::BodyMismatch)
        }
    }

    fn classify(&self, err: &reqwest::Error) -> ProbeReason {
        if err.is_timeout() {
            return ProbeReason::Timeout;
        }
        let chain = error_chain(err);
        if let Some(reason) = chain
            .iter()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .find_map(classify_io)
        {
            return reason;
        }
        let innermost = chain.last().map_or_else(String::new, |e| e.to_string());
        if err.is_connect() {
            // Past the TCP connect, an io::Error can only come from the TLS handshake
            // (tokio-rustls reports its errors that way).
            let tls = chain.iter().any(|e| e.is::<io::Error>());
            if tls {
                ProbeReason::Tls(innermost)
            } else {
                ProbeReason::Connect(innermost)
            }
        } else {
            ProbeReason::Protocol(innermost)
        }
    }
}

/// Every error under `err`, outermost first. `io::Error::source` skips the error it wraps
/// (a reset inside an `Other` from the connector, say), so that one is followed explicitly.
fn error_chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = err.source();
    while let Some(e) = next {
        out.push(e);
        next = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}
