//! Report authentication: an HMAC-SHA256 over a timestamp and the body, keyed by the
//! shared secret, and a per-sender sequence number inside the signed body so a captured
//! report can't be played again. Pure apart from the clock values passed in.
//!
//! The MAC covers `"<timestamp>\n<body>"`, so neither can be swapped for another's. A
//! receiver refuses timestamps off its clock by more than [`MAX_SKEW`]; within that window
//! a replay is caught by the sequence number, which must grow per sender. A sender not
//! heard from for longer than the window can be forgotten: any replay of its reports would
//! carry an expired timestamp.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::time::Instant;

use crate::config::agents::Secret;

pub const TIMESTAMP_HEADER: &str = "x-switchyard-timestamp";
pub const SIGNATURE_HEADER: &str = "x-switchyard-signature";
/// Names the MAC construction, so it can change without ambiguity.
const SCHEME: &str = "v1=";

/// How far a report's timestamp may be from the receiver's clock: generous for NTP-synced
/// hosts and a slow network, short enough that the replay table stays small.
pub const MAX_SKEW: Duration = Duration::from_secs(30);

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no timestamp or signature header")]
    Unsigned,
    #[error("malformed timestamp or signature header")]
    Malformed,
    #[error("signature does not match (wrong secret, or the report was altered)")]
    BadSignature,
    #[error("timestamp {skew_ms} ms away from this clock (at most {} s)", MAX_SKEW.as_secs())]
    Expired { skew_ms: u64 },
}

fn mac(secret: &Secret, timestamp_ms: u64, body: &[u8]) -> HmacSha256 {
    // Any key length is valid for HMAC; `new_from_slice` cannot fail here.
    let mut m = HmacSha256::new_from_slice(secret.bytes()).expect("HMAC takes any key length");
    m.update(timestamp_ms.to_string().as_bytes());
    m.update(b"\n");
    m.update(body);
    m
}

/// The signature header's value for this timestamp and body.
pub fn sign(secret: &Secret, timestamp_ms: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp_ms, body).finalize().into_bytes();
    let mut out = String::with_capacity(SCHEME.len() + tag.len() * 2);
    out.push_str(SCHEME);
    for b in tag {
        use std::fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Checks the headers against the body; `now_ms` is the receiver's clock (Unix ms).
/// The MAC is checked before the time, so an unauthenticated sender learns nothing.
pub fn verify(
    secret: &Secret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_ms: u64,
) -> Result<(), AuthError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(AuthError::Unsigned);
    };
    let ts: u64 = timestamp.trim().parse().map_err(|_| AuthError::Malformed)?;
    let tag = signature
        .trim()
        .strip_prefix(SCHEME)
        .and_then(unhex)
        .ok_or(AuthError::Malformed)?;
    mac(secret, ts, body)
        .verify_slice(&tag)
        .map_err(|_| AuthError::BadSignature)?;
    let skew_ms = now_ms.abs_diff(ts);
    if skew_ms > MAX_SKEW.as_millis() as u64 {
        return Err(AuthError::Expired { skew_ms });
    }
    Ok(())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Now, as Unix milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The highest sequence number accepted from each sender.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    last: HashMap<Arc<str>, (u64, Instant)>,
    checks: u64,
}

/// Prune the table every this many checks: cheap, and bounded by the number of senders
/// heard within the skew window.
const PRUNE_EVERY: u64 = 1024;

impl ReplayGuard {
    /// Accepts `seq` from `sender` if it is higher than any accepted before.
    pub fn accept(&mut self, sender: &str, seq: u64, now: Instant) -> bool {
        self.checks += 1;
        if self.checks % PRUNE_EVERY == 0 {
            self.last
                .retain(|_, (_, at)| now.saturating_duration_since(*at) <= MAX_SKEW * 2);
        }
        match self.last.get_mut(sender) {
            Some((last, _)) if seq <= *last => false,
            Some(entry) => {
                *entry = (seq, now);
                true
            }
            None => {
                self.last.insert(sender.into(), (seq, now));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new(b"0123456789abcdef0123456789abcdef")
    }

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn a_signed_body_verifies_and_any_change_breaks_it() {
        let s = secret();
        let sig = sign(&s, NOW, b"{\"a\":1}");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64, "{sig}");
        let ts = NOW.to_string();
        assert_eq!(verify(&s, Some(&ts), Some(&sig), b"{\"a\":1}", NOW), Ok(()));
        assert_eq!(
            verify(&s, Some(&ts), Some(&sig), b"{\"a\":2}", NOW),
            Err(AuthError::BadSignature)
        );
        let later = (NOW + 1).to_string();
        assert_eq!(
            verify(&s, Some(&later), Some(&sig), b"{\"a\":1}", NOW),
            Err(AuthError::BadSignature),
            "the timestamp is signed too"
        );
        let other = Secret::new(b"another secret, just as long....");
        assert_eq!(
            verify(&other, Some(&ts), Some(&sig), b"{\"a\":1}", NOW),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_refused() {
        let s = secret();
        let ts = NOW.to_string();
        let sig = sign(&s, NOW, b"x");
        assert_eq!(
            verify(&s, None, Some(&sig), b"x", NOW),
            Err(AuthError::Unsigned)
        );
        assert_eq!(
            verify(&s, Some(&ts), None, b"x", NOW),
            Err(AuthError::Unsigned)
        );
        assert_eq!(
            verify(&s, Some("soon"), Some(&sig), b"x", NOW),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            verify(&s, Some(&ts), Some("v2=00"), b"x", NOW),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            verify(&s, Some(&ts), Some("v1=zz"), b"x", NOW),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn old_or_future_timestamps_are_refused_even_when_signed() {
        let s = secret();
        for ts in [NOW - 31_000, NOW + 31_000] {
            let sig = sign(&s, ts, b"x");
            assert!(matches!(
                verify(&s, Some(&ts.to_string()), Some(&sig), b"x", NOW),
                Err(AuthError::Expired { .. })
            ));
        }
        let ts = NOW - 29_000;
        let sig = sign(&s, ts, b"x");
        assert_eq!(
            verify(&s, Some(&ts.to_string()), Some(&sig), b"x", NOW),
            Ok(())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sequence_numbers_must_grow_per_sender() {
        let mut g = ReplayGuard::default();
        let now = Instant::now();
        assert!(g.accept("a", 5, now));
        assert!(!g.accept("a", 5, now), "replay");
        assert!(!g.accept("a", 4, now), "older");
        assert!(g.accept("b", 1, now), "senders are independent");
        assert!(g.accept("a", 6, now));
    }
}
