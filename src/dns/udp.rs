//! UDP: our own receive loop per SO_REUSEPORT socket, answering from the shared table
//! with reused buffers. hickory-server's UDP path spawns a task and copies per datagram;
//! a query here is parse, lookup, encode, send.

use std::io;
use std::net::SocketAddr;

use hickory_proto::op::{Header, Message, MessageType, Metadata, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::encode::encode;
use super::respond::{respond, Reply, RequestView};
use super::{SharedTable, MAX_UDP_PAYLOAD};
use crate::routing::{Lookup, RoutingTable};

/// Room for the largest datagram a client may send us; larger ones are truncated by
/// the kernel and then fail to parse.
const RECV_BUFFER: usize = 4096;

fn reuseport_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Bind `count` sockets to one address with SO_REUSEPORT so the kernel spreads
/// datagrams across them. Port 0 is resolved by the first bind and reused by the rest.
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::UdpSocket>> {
    let first = reuseport_socket(addr)?;
    let actual = first.local_addr()?;
    let mut out = vec![first];
    for _ in 1..count {
        out.push(reuseport_socket(actual)?);
    }
    Ok(out)
}

/// Answer one datagram into `out`. `None`: send nothing (not a query, or too broken to
/// say who asked).
pub fn handle_datagram<'o>(
    table: &RoutingTable,
    packet: &[u8],
    src: SocketAddr,
    out: &'o mut Vec<u8>,
) -> Option<&'o [u8]> {
    let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
    // Never answer a response: that is how reflection loops start.
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let message = match Message::from_vec(packet) {
        Ok(m) => m,
        Err(e) => {
            debug!(%src, error = %e, "malformed query");
            let reply = Reply {
                metadata: {
                    let mut m = Metadata::new(
                        header.metadata.id,
                        MessageType::Response,
                        header.metadata.op_code,
                    );
                    m.recursion_desired = header.metadata.recursion_desired;
                    m.response_code = ResponseCode::FormErr;
                    m
                },
                lookup: Lookup {
                    rcode: ResponseCode::FormErr,
                    authoritative: false,
                    answers: Vec::new(),
                    authority: Vec::new(),
                    additional: Vec::new(),
                    scope: None,
                    counters: None,
                },
                edns: None,
            };
            encode(&reply, None, 512, out).ok()?;
            return Some(out.as_slice());
        }
    };
    let view = RequestView {
        metadata: &message.metadata,
        question: message.queries.first(),
        question_count: message.queries.len(),
        edns: message.edns.as_ref(),
        src: src.ip(),
    };
    let reply = respond(table, &view);
    // RFC 6891 §6.2.5: below 512 counts as 512; without EDNS the limit is 512.
    let max = match &message.edns {
        Some(e) => e.max_payload().clamp(512, MAX_UDP_PAYLOAD),
        None => 512,
    };
    match encode(&reply, view.question, max, out) {
        Ok(_) => Some(out.as_slice()),
        Err(e) => {
            warn!(%src, error = %e, "could not encode reply");
            None
        }
    }
}

/// Serve one socket until `shutdown`.
pub async fn serve(socket: std::net::UdpSocket, table: SharedTable, shutdown: CancellationToken) {
    let socket = match tokio::net::UdpSocket::from_std(socket) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot register UDP socket");
            return;
        }
    };
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut out = Vec::with_capacity(MAX_UDP_PAYLOAD as usize);
    loop {
        let (len, src) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors from earlier sends surface here; they are not fatal.
                    debug!(error = %e, "udp receive error");
                    continue;
                }
            },
            _ = shutdown.cancelled() => return,
        };
        if src.port() == 0 {
            continue;
        }
        let reply = {
            let table = table.load();
            handle_datagram(&table, &buf[..len], src, &mut out).is_some()
        };
        if reply {
            if let Err(e) = socket.send_to(&out, src).await {
                debug!(%src, error = %e, "udp send failed");
            }
        }
    }
}
