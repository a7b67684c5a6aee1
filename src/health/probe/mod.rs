//! One probe of one target: connect, ask, judge, and name the reason in a word an operator
//! can act on (refused, reset, TLS, timeout...).
//!
//! A [`Prober`] is built once per target and reused every tick, so the TLS configuration
//! and root store are not rebuilt per probe; each probe still opens a fresh connection.
//! This file dispatches to the check kinds (`tcp`, `http1`, `https`) and builds the
//! `request` builds what the two HTTP kinds send; `reason` is the vocabulary they all
//! answer in.

mod http1;
mod https;
mod reason;
mod request;
pub mod schedule;
mod tcp;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use self::http1::Http1;
use self::https::HttpsProber;
pub use self::reason::{ProbeOutcome, ProbeReason, MAX_BODY};
pub use self::request::ProberError;
use self::request::Request;
use crate::zone::{CheckKind, CheckSpec};

/// Everything needed to probe one target, built once.
#[derive(Debug, Clone)]
pub struct Prober {
    spec: Arc<CheckSpec>,
    addr: SocketAddr,
    how: How,
}

#[derive(Debug, Clone)]
enum How {
    Tcp,
    /// Plain HTTP: our own minimal client, cheap enough for thousands of targets.
    Http(Http1),
    /// HTTPS: the full client, for TLS and SNI.
    Https(HttpsProber),
}

impl Prober {
    pub fn new(spec: Arc<CheckSpec>, addr: IpAddr) -> Result<Prober, ProberError> {
        let sock = SocketAddr::new(addr, spec.port);
        let how = match &spec.kind {
            CheckKind::Tcp => How::Tcp,
            CheckKind::Http(check) => {
                How::Http(Request::new(check, sock, false)?.http1(check, sock))
            }
            CheckKind::Https(check) => How::Https(HttpsProber::new(check, sock)?),
        };
        Ok(Prober {
            spec,
            addr: sock,
            how,
        })
    }

    /// Runs one probe, bounded as a whole (connect, TLS, headers, body) by the spec's timeout.
    pub async fn probe(&self) -> ProbeOutcome {
        let start = Instant::now();
        let verdict = tokio::time::timeout(self.spec.timeout, async {
            match &self.how {
                How::Tcp => tcp::probe(self.addr).await,
                How::Http(http) => http.probe().await,
                How::Https(https) => https.probe().await,
            }
        })
        .await
        .unwrap_or(Err(ProbeReason::Timeout));
        let latency = start.elapsed();
        match verdict {
            Ok(reason) => ProbeOutcome {
                ok: true,
                reason,
                latency,
            },
            Err(reason) => ProbeOutcome {
                ok: false,
                reason,
                latency,
            },
        }
    }
}

/// One probe with a throwaway [`Prober`]; for one-off checks (CLI), not for loops.
pub async fn probe(spec: Arc<CheckSpec>, addr: IpAddr) -> ProbeOutcome {
    match Prober::new(spec, addr) {
        Ok(prober) => prober.probe().await,
        Err(e) => ProbeOutcome {
            ok: false,
            reason: ProbeReason::Setup(e.to_string()),
            latency: Duration::ZERO,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::backend::{Backend, BackendHandle, Mode};
    use crate::zone::{HttpCheck, StartupState};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn http_check() -> HttpCheck {
        HttpCheck {
            host: None,
            path: "/health".into(),
            expect_status: 200..=299,
            body_contains: None,
            tls_verify: true,
            tls_ca: None,
        }
    }

    fn spec(kind: CheckKind, port: u16, timeout_ms: u64) -> Arc<CheckSpec> {
        Arc::new(CheckSpec {
            id: "test.example./web".into(),
            kind,
            port,
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(timeout_ms),
            fall: 1,
            rise: 1,
            startup: StartupState::Down,
            quorum: crate::zone::Quorum::Majority,
            hold_down: Duration::ZERO,
        })
    }

    async fn backend(mode: Mode) -> BackendHandle {
        let b = Backend::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        b.set_mode(mode).await.unwrap();
        b
    }

    async fn probe_http(b: &BackendHandle, check: HttpCheck, timeout_ms: u64) -> ProbeOutcome {
        let s = spec(CheckKind::Http(check), b.addr().port(), timeout_ms);
        Prober::new(s, LOCAL).unwrap().probe().await
    }

    /// A one-shot raw server: hands the request bytes to the test and writes `reply`.
    async fn raw_server(reply: Vec<u8>) -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            let _ = s.write_all(&reply).await;
            let _ = s.shutdown().await;
            req
        });
        (addr, task)
    }

    #[tokio::test]
    async fn healthy_backend_passes_with_its_status() {
        let b = backend(Mode::Healthy).await;
        let out = probe_http(&b, http_check(), 2000).await;
        assert_eq!(out.reason, ProbeReason::Status(200));
        assert!(out.ok);
        assert_eq!(b.hits(), 1);
    }

    #[tokio::test]
    async fn status_outside_the_range_fails() {
        let b = backend(Mode::Status(503)).await;
        let out = probe_http(&b, http_check(), 2000).await;
        assert_eq!((out.ok, out.reason), (false, ProbeReason::BadStatus(503)));
        // A range other than 2xx is honoured both ways.
        let check = HttpCheck {
            expect_status: 500..=503,
            ..http_check()
        };
        assert!(probe_http(&b, check, 2000).await.ok);
    }

    #[tokio::test]
    async fn redirects_are_judged_not_followed() {
        let reply =
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n";
        let (addr, server) = raw_server(reply.to_vec()).await;
        let s = spec(CheckKind::Http(http_check()), addr.port(), 2000);
        let out = Prober::new(s, LOCAL).unwrap().probe().await;
        assert_eq!(out.reason, ProbeReason::BadStatus(302));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn every_probe_opens_a_fresh_connection() {
        // A server that would happily keep the connection alive for more requests.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                        if s.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let prober = Prober::new(spec(CheckKind::Http(http_check()), port, 2000), LOCAL).unwrap();
        for expected in 1..=3 {
            assert!(prober.probe().await.ok);
            assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), expected);
        }
    }

    #[tokio::test]
    async fn hanging_backend_times_out_at_the_spec_timeout() {
        let b = backend(Mode::Hang).await;
        let out = probe_http(&b, http_check(), 300).await;
        assert_eq!((out.ok, out.reason), (false, ProbeReason::Timeout));
        assert!(
            out.latency >= Duration::from_millis(300),
            "{:?}",
            out.latency
        );
        assert!(out.latency < Duration::from_secs(2), "{:?}", out.latency);
    }

    #[tokio::test]
    async fn slow_backend_passes_or_times_out_by_the_timeout() {
        let b = backend(Mode::Slow(Duration::from_millis(600))).await;
        assert_eq!(
            probe_http(&b, http_check(), 200).await.reason,
            ProbeReason::Timeout
        );
        let out = probe_http(&b, http_check(), 5000).await;
        assert!(out.ok, "{out:?}");
        assert!(
            out.latency >= Duration::from_millis(600),
            "{:?}",
            out.latency
        );
    }

    #[tokio::test]
    async fn refused_reset_and_garbage_are_told_apart() {
        let b = backend(Mode::Refuse).await;
        assert_eq!(
            probe_http(&b, http_check(), 2000).await.reason,
            ProbeReason::Refused
        );
        b.set_mode(Mode::Reset).await.unwrap();
        assert_eq!(
            probe_http(&b, http_check(), 2000).await.reason,
            ProbeReason::Reset
        );
        b.set_mode(Mode::Garbage).await.unwrap();
        let out = probe_http(&b, http_check(), 2000).await;
        assert!(
            matches!(out.reason, ProbeReason::Protocol(_)),
            "{:?}",
            out.reason
        );
        assert!(!out.ok);
    }

    #[tokio::test]
    async fn multi_megabyte_body_is_judged_within_the_timeout() {
        // 32 MiB trickled at 6.4 MB/s: reading it all would take about 5 s, past the
        // 2 s timeout, so both verdicts below prove the probe stopped early.
        let len = 32 * 1024 * 1024;
        let full_send =
            crate::demo::backend::HUGE_PACE * (len / crate::demo::backend::HUGE_CHUNK) as u32;
        assert!(full_send > Duration::from_secs(4), "{full_send:?}");
        let b = backend(Mode::HugeBody(len)).await;
        let check = HttpCheck {
            body_contains: Some("READY".into()),
            ..http_check()
        };
        // The text is not in the first 64 KiB and the body goes on: classified, not read.
        let out = probe_http(&b, check, 2000).await;
        assert_eq!((out.ok, &out.reason), (false, &ProbeReason::BodyTooLarge));
        assert!(out.latency < Duration::from_secs(2), "{:?}", out.latency);
        // Without body_contains the status line decides; the body is not read.
        let out = probe_http(&b, http_check(), 2000).await;
        assert_eq!((out.ok, &out.reason), (true, &ProbeReason::Status(200)));
        assert!(out.latency < Duration::from_secs(2), "{:?}", out.latency);
        assert_eq!(b.hits(), 2);
    }

    #[tokio::test]
    async fn unresolvable_check_host_never_causes_a_dns_lookup() {
        // The host is only a Host header (and SNI): probes dial the pool address, so a
        // check host that does not resolve can neither block nor fail a probe.
        let b = backend(Mode::Healthy).await;
        let check = HttpCheck {
            host: Some("does-not-exist.invalid".into()),
            ..http_check()
        };
        let out = probe_http(&b, check.clone(), 2000).await;
        assert_eq!((out.ok, &out.reason), (true, &ProbeReason::Status(200)));
        // https to the same plain-HTTP backend: the failure is TLS, not a lookup.
        let s = spec(CheckKind::Https(check), b.addr().port(), 2000);
        let out = Prober::new(s, LOCAL).unwrap().probe().await;
        assert!(
            matches!(
                out.reason,
                ProbeReason::Tls(_) | ProbeReason::Reset | ProbeReason::Protocol(_)
            ),
            "{:?}",
            out.reason
        );
    }

    #[tokio::test]
    async fn body_substring_is_required_when_configured() {
        let b = backend(Mode::Healthy).await;
        let want = |s: &str| HttpCheck {
            body_contains: Some(s.into()),
            ..http_check()
        };
        assert_eq!(
            probe_http(&b, want("ok"), 2000).await.reason,
            ProbeReason::Status(200)
        );
        let out = probe_http(&b, want("ready"), 2000).await;
        assert_eq!((out.ok, out.reason), (false, ProbeReason::BodyMismatch));
    }

    fn big_reply(body_len: usize, marker_at: Option<usize>) -> Vec<u8> {
        let mut body = vec![b'x'; body_len];
        if let Some(at) = marker_at {
            body[at..at + 5].copy_from_slice(b"READY");
        }
        let mut reply =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n").into_bytes();
        reply.extend_from_slice(&body);
        reply
    }

    async fn probe_raw(reply: Vec<u8>, needle: &str) -> ProbeReason {
        let (addr, _server) = raw_server(reply).await;
        let check = HttpCheck {
            body_contains: Some(needle.into()),
            ..http_check()
        };
        let s = spec(CheckKind::Http(check), addr.port(), 5000);
        Prober::new(s, LOCAL).unwrap().probe().await.reason
    }

    #[tokio::test]
    async fn body_is_searched_up_to_64_kib_only() {
        // Found near the end of the window: fine, even though the body goes on.
        let reply = big_reply(200 * 1024, Some(MAX_BODY - 5));
        assert_eq!(probe_raw(reply, "READY").await, ProbeReason::Status(200));
        // Just past the window: too large, not a plain mismatch.
        let reply = big_reply(200 * 1024, Some(MAX_BODY - 4));
        assert_eq!(probe_raw(reply, "READY").await, ProbeReason::BodyTooLarge);
        // Exactly 64 KiB without it: a mismatch, nothing was left unread.
        let reply = big_reply(MAX_BODY, None);
        assert_eq!(probe_raw(reply, "READY").await, ProbeReason::BodyMismatch);
    }

    #[tokio::test]
    async fn configured_host_goes_in_the_host_header_while_connecting_to_the_address() {
        let reply = b"HTTP/1.1 204 No Content\r\n\r\n".to_vec();
        let (addr, server) = raw_server(reply).await;
        // A name that cannot resolve: success proves the address was used, not DNS.
        let check = HttpCheck {
            host: Some("App.Switchyard.test".into()),
            path: "ready?deep=1".into(),
            ..http_check()
        };
        let s = spec(CheckKind::Http(check), addr.port(), 2000);
        let out = Prober::new(s, LOCAL).unwrap().probe().await;
        assert_eq!(out.reason, ProbeReason::Status(204));
        let req = String::from_utf8(server.await.unwrap()).unwrap();
        assert!(req.starts_with("GET /ready?deep=1 HTTP/1.1\r\n"), "{req}");
        let lower = req.to_ascii_lowercase();
        let host_line = format!("host: app.switchyard.test:{}\r\n", addr.port());
        assert!(lower.contains(&host_line), "{req}");
        assert!(lower.contains("connection: close\r\n"), "{req}");
    }

    #[tokio::test]
    async fn ip_literal_host_is_sent_as_header_but_the_target_is_dialled() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec();
        let (addr, server) = raw_server(reply).await;
        let check = HttpCheck {
            host: Some("192.0.2.7".into()),
            ..http_check()
        };
        let s = spec(CheckKind::Http(check), addr.port(), 2000);
        assert!(Prober::new(s, LOCAL).unwrap().probe().await.ok);
        let req = String::from_utf8(server.await.unwrap()).unwrap();
        assert!(
            req.to_ascii_lowercase().contains("host: 192.0.2.7\r\n"),
            "{req}"
        );
    }

    #[tokio::test]
    async fn https_sends_the_configured_host_as_sni_to_the_address() {
        // Read the ClientHello, where the server name travels in clear, then hang up.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut hello = vec![0u8; 16 * 1024];
            let n = s.read(&mut hello).await.unwrap();
            hello.truncate(n);
            hello
        });
        let check = HttpCheck {
            host: Some("api.switchyard.test".into()),
            ..http_check()
        };
        let out = Prober::new(spec(CheckKind::Https(check), port, 2000), LOCAL)
            .unwrap()
            .probe()
            .await;
        let hello = server.await.unwrap();
        assert_eq!(hello.first(), Some(&0x16), "not a TLS handshake record");
        assert!(hello.windows(19).any(|w| w == b"api.switchyard.test"));
        assert!(!out.ok);
        assert!(
            matches!(out.reason, ProbeReason::Tls(_) | ProbeReason::Reset),
            "{:?}",
            out.reason
        );
    }

    #[tokio::test]
    async fn https_against_plain_http_is_a_tls_failure_and_resets_stay_resets() {
        let b = backend(Mode::Healthy).await;
        for verify in [true, false] {
            let check = HttpCheck {
                tls_verify: verify,
                tls_ca: None,
                ..http_check()
            };
            let s = spec(CheckKind::Https(check), b.addr().port(), 2000);
            let prober = Prober::new(s, LOCAL).unwrap();
            let out = prober.probe().await;
            assert!(
                matches!(out.reason, ProbeReason::Tls(_)),
                "verify={verify}: {:?}",
                out.reason
            );
            // A reset during the handshake is still a reset, not a TLS problem (the
            // connector hides it inside an io::Error of kind Other).
            b.set_mode(Mode::Reset).await.unwrap();
            assert_eq!(prober.probe().await.reason, ProbeReason::Reset);
            b.set_mode(Mode::Healthy).await.unwrap();
        }
    }

    #[tokio::test]
    async fn tcp_check_needs_only_the_connect() {
        let b = backend(Mode::Hang).await;
        let s = spec(CheckKind::Tcp, b.addr().port(), 2000);
        let prober = Prober::new(s, LOCAL).unwrap();
        let out = prober.probe().await;
        assert_eq!((out.ok, out.reason), (true, ProbeReason::Connected));
        b.set_mode(Mode::Refuse).await.unwrap();
        let out = prober.probe().await;
        assert_eq!((out.ok, out.reason), (false, ProbeReason::Refused));
    }

    #[tokio::test]
    async fn tcp_check_times_out_when_the_syn_is_never_answered() {
        // A listener that never accepts and whose accept queue is full: Linux drops the
        // SYN, so the connect hangs as it would towards a black-holed address.
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(&SocketAddr::from((LOCAL, 0)).into()).unwrap();
        sock.listen(0).unwrap();
        let addr = sock.local_addr().unwrap().as_socket().unwrap();
        let s = spec(CheckKind::Tcp, addr.port(), 200);
        let prober = Prober::new(s, LOCAL).unwrap();
        // Each accepted-but-never-taken probe connection stays queued; the kernel's slack
        // varies, so probe until one stalls.
        let mut outcome = None;
        for _ in 0..8 {
            let out = prober.probe().await;
            if out.reason == ProbeReason::Timeout {
                outcome = Some(out);
                break;
            }
            assert_eq!(out.reason, ProbeReason::Connected);
        }
        let out = outcome.expect("the connect never stalled");
        assert!(!out.ok);
        assert!(out.latency >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn one_off_probe_reports_setup_errors_as_failures() {
        let check = HttpCheck {
            host: Some("bad host name".into()),
            ..http_check()
        };
        let out = probe(spec(CheckKind::Http(check), 80, 100), LOCAL).await;
        assert!(!out.ok);
        assert!(
            matches!(out.reason, ProbeReason::Setup(_)),
            "{:?}",
            out.reason
        );
    }
}
