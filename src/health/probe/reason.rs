//! The vocabulary of probe results: what one probe concluded ([`ProbeOutcome`]) and why
//! ([`ProbeReason`]), how I/O errors map onto those reasons, and the bounded body search
//! every HTTP(S) check kind shares. Every check kind imports this file; it imports none.

use std::io;
use std::time::Duration;

/// How much of a response body is searched for `body_contains`: enough for any health page,
/// small enough that a misbehaving target cannot make the prober buffer without bound.
pub const MAX_BODY: usize = 64 * 1024;

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    pub ok: bool,
    pub reason: ProbeReason,
    /// From the start of the connect to the verdict (the timeout, when it fired).
    pub latency: Duration,
}

/// Why a probe passed or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeReason {
    /// HTTP answer in the expected range (and body matched, if asked).
    #[error("HTTP {0}")]
    Status(u16),
    /// TCP check: the connection was accepted.
    #[error("connected")]
    Connected,
    #[error("unexpected HTTP status {0}")]
    BadStatus(u16),
    #[error("response body lacks the expected text")]
    BodyMismatch,
    /// The expected text was not in the first [`MAX_BODY`] bytes and the body went on.
    #[error("expected text not within the first 64 KiB of the response body")]
    BodyTooLarge,
    #[error("timed out")]
    Timeout,
    #[error("connection refused")]
    Refused,
    #[error("connection reset")]
    Reset,
    #[error("connect failed: {0}")]
    Connect(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The peer answered, but not with valid HTTP (wrong service, closed mid-answer...).
    #[error("invalid HTTP response: {0}")]
    Protocol(String),
    /// The prober could not be built; the target cannot be vouched for.
    #[error("probe setup failed: {0}")]
    Setup(String),
}

impl ProbeReason {
    /// A short, fixed name for metrics: `ok` for the passing results, else the kind of
    /// failure, without the details that would make every label value unique.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeReason::Status(_) | ProbeReason::Connected => "ok",
            ProbeReason::BadStatus(_) => "bad_status",
            ProbeReason::BodyMismatch | ProbeReason::BodyTooLarge => "body_mismatch",
            ProbeReason::Timeout => "timeout",
            ProbeReason::Refused => "refused",
            ProbeReason::Reset => "reset",
            ProbeReason::Connect(_) => "connect",
            ProbeReason::Tls(_) => "tls",
            ProbeReason::Protocol(_) => "protocol",
            ProbeReason::Setup(_) => "setup",
        }
    }
}

/// The reasons an operator acts on differently; `None` leaves the error to its context.
pub(super) fn classify_io(e: &io::Error) -> Option<ProbeReason> {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => Some(ProbeReason::Refused),
        ConnectionReset | ConnectionAborted | BrokenPipe => Some(ProbeReason::Reset),
        TimedOut => Some(ProbeReason::Timeout),
        _ => None,
    }
}

/// Substring search over a streamed body, keeping at most [`MAX_BODY`] bytes.
pub(super) struct BodySearch<'a> {
    needle: &'a [u8],
    buf: Vec<u8>,
    found: bool,
}

impl<'a> BodySearch<'a> {
    pub(super) fn new(needle: &'a [u8]) -> Self {
        BodySearch {
            needle,
            buf: Vec::new(),
            found: needle.is_empty(),
        }
    }

    pub(super) fn found(&self) -> bool {
        self.found
    }

    /// `Some(true)`: found, stop reading. `Some(false)`: over the limit without it.
    pub(super) fn feed(&mut self, chunk: &[u8]) -> Option<bool> {
        if self.found {
            return Some(true);
        }
        if self.buf.len() >= MAX_BODY {
            return (!chunk.is_empty()).then_some(false);
        }
        let take = chunk.len().min(MAX_BODY - self.buf.len());
        // Only the tail of what was already searched can start a match across the seam.
        let from = self.buf.len().saturating_sub(self.needle.len() - 1);
        self.buf.extend_from_slice(&chunk[..take]);
        self.found = self.buf[from..]
            .windows(self.needle.len())
            .any(|w| w == self.needle);
        if self.found {
            Some(true)
        } else if take < chunk.len() {
            Some(false)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_search_finds_text_split_across_chunks() {
        let mut s = BodySearch::new(b"READY");
        assert_eq!(s.feed(b"xxRE"), None);
        assert_eq!(s.feed(b"A"), None);
        assert_eq!(s.feed(b"DYxx"), Some(true));
        let mut s = BodySearch::new(b"");
        assert!(s.found());
        assert_eq!(s.feed(b"anything"), Some(true));
    }
}
