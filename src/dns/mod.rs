//! The DNS front: RFC mechanics kept apart from routing. `request` reads a message,
//! `respond` decides the reply,
//! `encode` puts it on the wire, `udp` and `tcp` carry it; `fast` answers common UDP
//! queries from prepared wire replies, and `batch` moves datagrams in batches.

pub mod abuse;
pub mod batch;
pub mod encode;
pub mod fast;
pub mod identity;
pub mod notify;
pub mod request;
pub mod respond;
pub mod rrl;
pub mod sign;
pub mod signing_metrics;
pub mod tcp;
pub mod udp;
pub mod xfr;

/// Largest UDP answer we send, whatever the client offers: the DNS Flag Day 2020 value,
/// which avoids IP fragmentation on common paths.
pub const MAX_UDP_PAYLOAD: u16 = 1232;
