//! The TCP check kind: the target passes when it accepts a connection. The connect itself
//! is shared with the plain-HTTP kind, so both name a failed connect the same way.

use std::net::SocketAddr;

use tokio::net::TcpStream;

use super::reason::{classify_io, ProbeReason};

/// Opens a fresh connection to the target; a failure is already a verdict.
pub(super) async fn connect(addr: SocketAddr) -> Result<TcpStream, ProbeReason> {
    TcpStream::connect(addr)
        .await
        .map_err(|e| classify_io(&e).unwrap_or_else(|| ProbeReason::Connect(e.to_string())))
}

/// One TCP probe: connected, or why not.
pub(super) async fn probe(addr: SocketAddr) -> Result<ProbeReason, ProbeReason> {
    connect(addr).await.map(|_| ProbeReason::Connected)
}
