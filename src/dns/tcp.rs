//! TCP (RFC 7766): our own accept loop and connection reader, answering from the same
//! `respond` as UDP.
//!
//! Kept here rather than in hickory-server's `register_listener` for one reason: on
//! shutdown hickory drops its connection tasks, aborting answers in flight. Here a
//! shutdown closes the listener and every connection that is between messages, while a
//! connection that has received part of a message reads the rest, answers, and then
//! closes, within [`DRAIN_LIMIT`]. It is also where the limits live that hickory's
//! listener doesn't offer: connections open at once, a deadline per message, a largest
//! query.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::abuse::AbuseCounters;
use super::encode::encode;
use super::request::{self, Request};
use super::respond::respond;
use super::xfr;
use crate::config::limits::Limits;
use crate::routing::{RoutingTable, TableReader};
/// Pending connections the kernel queues for one listener.
const BACKLOG: i32 = 1024;

/// A TCP listener on `addr`, set up like the UDP sockets: an IPv6 address is IPv6-only
/// (as BIND and knot bind it), so `[::]:53` beside `0.0.0.0:53` does not collide and
/// `[::]` alone answers the same families on UDP and TCP.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// At shutdown, the longest we wait for answers in flight before abandoning them.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// After an accept error (e.g. out of file descriptors), pause rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accept connections until `shutdown`, then drain them. At most
/// `limits.tcp_connections` are open at once: one more is closed as soon as it is
/// accepted (and counted), so a connection flood costs a file descriptor for an instant
/// and never stalls the connections already open or UDP.
pub async fn serve(
    listener: TcpListener,
    table: TableReader,
    limits: Limits,
    abuse: Arc<AbuseCounters>,
    shutdown: CancellationToken,
) {
    let mut conns = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.tcp_connections));
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, src)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let (table, abuse, shutdown) = (table.clone(), abuse.clone(), shutdown.clone());
                        conns.spawn(async move {
                            connection(stream, src, table, limits, &abuse, shutdown).await;
                            drop(slot);
                        });
                    }
                    Err(_) => {
                        AbuseCounters::bump(&abuse.tcp_refused);
                        debug!(%src, "tcp connection limit reached; closing");
                        drop(stream);
                    }
                },
                Err(e) => {
                    warn!(error = %e, "tcp accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(done) = conns.join_next(), if !conns.is_empty() => joined(done, &abuse),
        }
    }
    // From here new connections are refused.
    drop(listener);
    let open = conns.len();
    let drained = tokio::time::timeout(DRAIN_LIMIT, async {
        while let Some(done) = conns.join_next().await {
            joined(done, &abuse);
        }
    })
    .await;
    match drained {
        Ok(()) => info!(open, "tcp connections drained"),
        Err(_) => warn!(
            left = conns.len(),
            "tcp connections still open after the drain limit; closing them"
        ),
    }
}

/// A connection task ended: a panic in it (tokio caught it and closed the connection)
/// is counted, so it cannot pass unseen.
fn joined(done: Result<(), tokio::task::JoinError>, abuse: &AbuseCounters) {
    if let Err(e) = done {
        if e.is_panic() {
            AbuseCounters::bump(&abuse.panics);
            warn!("panic while answering a tcp connection; closed it");
        }
    }
}

async fn connection(
    mut stream: TcpStream,
    src: SocketAddr,
    table: TableReader,
    limits: Limits,
    abuse: &AbuseCounters,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    // Bytes received and not yet answered: a message may arrive in pieces, or several
    // at once (pipelining, RFC 7766 §6.2.1.1); they are answered in order.
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(512);
    let mut frame = Vec::with_capacity(514);
    // `frame`: every message answering one query, each behind its length.
    // When the message now in `buf` must be complete: a client may not trickle a query
    // in byte by byte to hold the connection (slowloris).
    let mut deadline: Option<Instant> = None;
    loop {
        if buf.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
            if len > limits.max_query_size {
                AbuseCounters::bump(&abuse.tcp_oversize);
                debug!(%src, len, "tcp query over max_query_size; closing");
                return;
            }
            if buf.len() >= 2 + len {
                frame.clear();
                let answered = {
                    let table = table.load();
                    answer(&table, &buf[2..2 + len], src, &mut out, &mut frame)
                };
                buf.drain(..2 + len);
                deadline = (!buf.is_empty()).then(|| Instant::now() + limits.tcp_request_timeout);
                if answered {
                    match tokio::time::timeout(limits.tcp_request_timeout, stream.write_all(&frame))
                        .await
                    {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return,
                        Err(_) => {
                            AbuseCounters::bump(&abuse.tcp_timeouts);
                            return;
                        }
                    }
                }
                continue;
            }
        }
        let read = if buf.is_empty() {
            // Between messages: here, and only here, shutdown or idleness ends it.
            tokio::select! {
                biased;
                r = stream.read_buf(&mut buf) => r,
                _ = shutdown.cancelled() => match stream.try_read_buf(&mut buf) {
                    // Bytes that arrived before the shutdown are a message in flight.
                    Ok(n) if n > 0 => Ok(n),
                    _ => return,
                },
                _ = tokio::time::sleep(limits.tcp_idle_timeout) => {
                    AbuseCounters::bump(&abuse.tcp_timeouts);
                    return;
                }
            }
        } else {
            let until =
                *deadline.get_or_insert_with(|| Instant::now() + limits.tcp_request_timeout);
            match tokio::time::timeout_at(until, stream.read_buf(&mut buf)).await {
                Ok(r) => r,
                Err(_) => {
                    AbuseCounters::bump(&abuse.tcp_timeouts);
                    debug!(%src, "tcp message not completed in time; closing");
                    return;
                }
            }
        };
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                debug!(%src, error = %e, "tcp read failed");
                return;
            }
        }
    }
}

/// Answer one message into `frames` as length-prefixed messages (one, or several for a
/// zone transfer), using `out` as scratch; false: send nothing (a response, or no header).
fn answer(
    table: &RoutingTable,
    packet: &[u8],
    src: SocketAddr,
    out: &mut Vec<u8>,
    frames: &mut Vec<u8>,
) -> bool {
    let Some(request) = request::parse(packet) else {
        return false;
    };
    let message = match request {
        Request::Query(m) => m,
        Request::Malformed { reply, error } => {
            debug!(%src, %error, "malformed query over tcp");
            return encode(&reply, None, u16::MAX, out).is_ok() && frame_into(out, frames);
        }
    };
    if xfr::axfr(table, &message, src.ip(), frames) {
        return true;
    }
    let view = request::view(&message, src.ip());
    let reply = respond(table, &view);
    match encode(&reply, view.question, u16::MAX, out) {
        Ok(_) => frame_into(out, frames),
        Err(e) => {
            warn!(%src, error = %e, "could not encode reply");
            false
        }
    }
}

/// Append `msg` to `frames` behind its two-byte length (RFC 1035 §4.2.2).
fn frame_into(msg: &[u8], frames: &mut Vec<u8>) -> bool {
    let Ok(len) = u16::try_from(msg.len()) else {
        return false;
    };
    frames.extend_from_slice(&len.to_be_bytes());
    frames.extend_from_slice(msg);
    true
}
