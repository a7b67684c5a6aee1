//! Plain-HTTP probes without an HTTP client library: one pre-rendered GET per fresh
//! connection, judged on the status line and, when asked, the body. The probe needs no
//! pooling, redirects, TLS or header maps, and doing without them costs a fraction of
//! the CPU (10,000 probes a second fit on one core; see benches/probing.rs). HTTPS
//! checks keep the full client.

use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reason::{classify_io, BodySearch, ProbeReason};
use super::tcp;

/// Longest response head (status line and headers) read before giving up on it.
const MAX_HEAD: usize = 16 * 1024;

/// Header slots tried first; a head with more is parsed again with room for as many as
/// [`MAX_HEAD`] can hold, so no head that fits is refused for its header count.
const HEADERS: usize = 64;

/// The shortest header line, `a:` and CRLF: the most headers [`MAX_HEAD`] can hold.
const MAX_HEADERS: usize = MAX_HEAD / 4;

#[derive(Debug, Clone)]
pub struct Http1 {
    addr: SocketAddr,
    request: Box<[u8]>,
    expect: RangeInclusive<u16>,
    body_contains: Option<Box<[u8]>>,
}

/// How the body after a head is delimited (RFC 9112 §6.3).
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

impl Http1 {
    /// `target` is the request target (path and query), `host` the Host header value.
    pub fn new(
        addr: SocketAddr,
        target: &str,
        host: &str,
        user_agent: &str,
        expect: RangeInclusive<u16>,
        body_contains: Option<&str>,
    ) -> Self {
        let request = format!(
            "GET {target} HTTP/1.1\r\nhost: {host}\r\nuser-agent: {user_agent}\r\naccept: */*\r\nconnection: close\r\n\r\n"
        );
        Http1 {
            addr,
            request: request.into_bytes().into(),
            expect,
            body_contains: body_contains.map(|s| s.as_bytes().into()),
        }
    }

    pub async fn probe(&self) -> Result<ProbeReason, ProbeReason> {
        let mut s = tcp::connect(self.addr).await?;
        s.write_all(&self.request).await.map_err(after_connect)?;

        let mut buf = Vec::with_capacity(1024);
        let (status, framing, head_len) = loop {
            let (status, framing, head_len) = read_head(&mut s, &mut buf).await?;
            // 1xx are interim (RFC 9110 §15.2): the final answer follows.
            if (100..200).contains(&status) && status != 101 {
                buf.drain(..head_len);
                continue;
            }
            break (status, framing, head_len);
        };
        if !self.expect.contains(&status) {
            return Err(ProbeReason::BadStatus(status));
        }
        let Some(needle) = self.body_contains.as_deref() else {
            return Ok(ProbeReason::Status(status));
        };
        buf.drain(..head_len);
        let mut search = BodySearch::new(needle);
        match read_body(&mut s, buf, framing, &mut search).await? {
            Some(true) => Ok(ProbeReason::Status(status)),
            Some(false) => Err(ProbeReason::BodyTooLarge),
            None if search.found() => Ok(ProbeReason::Status(status)),
            None => Err(ProbeReason::BodyMismatch),
        }
    }
}

/// An I/O error once connected: a reset is a reset, anything else a protocol failure.
fn after_connect(e: io::Error) -> ProbeReason {
    classify_io(&e).unwrap_or_else(|| ProbeReason::Protocol(e.to_string()))
}

fn protocol(msg: &str) -> ProbeReason {
    ProbeReason::Protocol(msg.to_string())
}

/// Read into `buf` until it holds a whole head; returns (status, framing, head length).
async fn read_head(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Result<(u16, Framing, usize), ProbeReason> {
    loop {
        if let Some(head) = parse_head(buf)? {
            return Ok(head);
        }
        if buf.len() >= MAX_HEAD {
            return Err(protocol("response head too large"));
        }
        if fill(s, buf).await? == 0 {
            return Err(protocol(if buf.is_empty() {
                "connection closed before a response"
            } else {
                "connection closed inside the response head"
            }));
        }
    }
}

/// Append what the socket has; 0 at end of stream.
async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, ProbeReason> {
    let mut chunk = [0u8; 4096];
    let n = s.read(&mut chunk).await.map_err(after_connect)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Parses the head at the start of `buf` with `httparse`: `None` while it is incomplete,
/// else (status, framing, head length).
fn parse_head(buf: &[u8]) -> Result<Option<(u16, Framing, usize)>, ProbeReason> {
    let mut few = [httparse::EMPTY_HEADER; HEADERS];
    let mut resp = httparse::Response::new(&mut few);
    let parsed = match resp.parse(buf) {
        Err(httparse::Error::TooManyHeaders) => None,
        other => Some(other),
    };
    // Rare: only a head with more than HEADERS headers pays for the heap.
    let mut many;
    let (resp, parsed) = match parsed {
        Some(parsed) => (resp, parsed),
        None => {
            many = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut many);
            let parsed = resp.parse(buf);
            (resp, parsed)
        }
    };
    let len = match parsed.map_err(head_error)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = resp
        .code
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| protocol("invalid HTTP status code"))?;
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        let value = std::str::from_utf8(h.value).map(str::trim);
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| protocol("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(protocol("conflicting Content-Length"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.is_ok_and(|v| {
                v.rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
            });
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some((status, framing, len)))
}

/// What was wrong with a head, in the words the hand-written parser used.
fn head_error(e: httparse::Error) -> ProbeReason {
    protocol(match e {
        httparse::Error::Version | httparse::Error::Token => "invalid HTTP status line",
        httparse::Error::Status => "invalid HTTP status code",
        httparse::Error::TooManyHeaders => "response head too large",
        _ => "invalid HTTP header line",
    })
}

/// Feed the body to `search` until it decides or the body ends. `Some(found)` when the
/// search decided, `None` when the body ended first.
async fn read_body(
    s: &mut TcpStream,
    mut buf: Vec<u8>,
    framing: Framing,
    search: &mut BodySearch<'_>,
) -> Result<Option<bool>, ProbeReason> {
    match framing {
        Framing::None => Ok(None),
        Framing::Length(mut left) => loop {
            let take = left.min(buf.len());
            if take > 0 {
                if let Some(done) = search.feed(&buf[..take]) {
                    return Ok(Some(done));
                }
                left -= take;
            }
            if left == 0 {
                return Ok(None);
            }
            buf.clear();
            if fill(s, &mut buf).await? == 0 {
                return Err(protocol("connection closed inside the body"));
            }
        },
        Framing::UntilClose => loop {
            if !buf.is_empty() {
                if let Some(done) = search.feed(&buf) {
                    return Ok(Some(done));
                }
                buf.clear();
            }
            if fill(s, &mut buf).await? == 0 {
                return Ok(None);
            }
        },
        Framing::Chunked => loop {
            // chunk-size [; ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF
            let line_end = loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if buf.len() > MAX_HEAD {
                    return Err(protocol("invalid chunk size line"));
                }
                if fill(s, &mut buf).await? == 0 {
                    return Err(protocol("connection closed inside the body"));
                }
            };
            let size_text = std::str::from_utf8(&buf[..line_end])
                .ok()
                .and_then(|l| l.split(';').next())
                .map(str::trim)
                .unwrap_or("");
            let size =
                usize::from_str_radix(size_text, 16).map_err(|_| protocol("invalid chunk size"))?;
            buf.drain(..line_end + 2);
            if size == 0 {
                return Ok(None);
            }
            let mut left = size;
            loop {
                let take = left.min(buf.len());
                if take > 0 {
                    if let Some(done) = search.feed(&buf[..take]) {
                        return Ok(Some(done));
                    }
                    buf.drain(..take);
                    left -= take;
                }
                if left == 0 {
                    break;
                }
                if fill(s, &mut buf).await? == 0 {
                    return Err(protocol("connection closed inside the body"));
                }
            }
            // The CRLF after the chunk data.
            while buf.len() < 2 {
                if fill(s, &mut buf).await? == 0 {
                    return Err(protocol("connection closed inside the body"));
                }
            }
            if &buf[..2] != b"\r\n" {
                return Err(protocol("invalid chunk"));
            }
            buf.drain(..2);
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole head from its lines: status and framing.
    fn h(s: &str) -> Result<(u16, Framing), ProbeReason> {
        let head = format!("{s}\r\n\r\n");
        let (status, framing, len) = parse_head(head.as_bytes())?.expect("a whole head");
        assert_eq!(len, head.len());
        Ok((status, framing))
    }

    #[test]
    fn heads_give_status_and_framing() {
        assert_eq!(
            h("HTTP/1.1 200 OK\r\nContent-Length: 5").unwrap(),
            (200, Framing::Length(5))
        );
        assert_eq!(h("HTTP/1.0 503 Busy").unwrap(), (503, Framing::UntilClose));
        assert_eq!(
            h("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked").unwrap(),
            (200, Framing::Chunked)
        );
        assert_eq!(
            h("HTTP/1.1 204 No Content\r\nContent-Length: 9").unwrap().1,
            Framing::None
        );
        assert_eq!(h("HTTP/1.1 302 Found\r\nLocation: /x").unwrap().0, 302);
        for bad in [
            "SSH-2.0-OpenSSH_9.2",
            "HTTP/1.1 2000 OK",
            "HTTP/1.1 abc OK",
            "HTTP/1.1 200 OK\r\nno colon here",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2",
            "HTTP/1.1 200 OK\r\nContent-Length: five",
        ] {
            assert!(matches!(h(bad), Err(ProbeReason::Protocol(_))), "{bad}");
        }
    }

    #[test]
    fn a_head_is_incomplete_until_its_blank_line() {
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        for cut in [0, 5, 17, 36] {
            assert_eq!(parse_head(&whole[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(
            parse_head(whole).unwrap(),
            Some((200, Framing::Length(2), whole.len() - 2))
        );
    }

    #[test]
    fn a_head_with_many_headers_still_parses() {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..HEADERS * 3 {
            head.push_str(&format!("x-{i}: y\r\n"));
        }
        head.push_str("Content-Length: 7\r\n\r\n");
        let (status, framing, _) = parse_head(head.as_bytes()).unwrap().unwrap();
        assert_eq!((status, framing), (200, Framing::Length(7)));
    }
}
