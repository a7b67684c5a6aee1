//! UDP: one thread per SO_REUSEPORT socket, taking datagrams in batches and answering
//! from the shared table with reused buffers. hickory-server's UDP path spawns a task
//! and copies per datagram; here a common query is parsed in place and answered from a
//! prepared reply (`fast`), and anything else goes through `respond` and `encode`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::abuse::AbuseCounters;
use super::batch::{self, Batch};
use super::encode::encode;
use super::fast;
use super::request::{self, Request};
use super::respond::respond;
use super::rrl::{self, Rrl, Verdict};
use super::MAX_UDP_PAYLOAD;
use crate::routing::{RoutingTable, TableReader};

/// Socket buffer asked for each UDP socket (receive and send).
const UDP_BUFFER: usize = 4 << 20;

/// How often a thread blocked in receive looks at the shutdown token.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);

/// Which path answered a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerPath {
    Fast,
    General,
}

/// Answer one datagram into `out`: the fast path when `fast_path` allows and it can,
/// the general path otherwise. `None`: send nothing.
#[inline]
pub fn handle(
    table: &RoutingTable,
    packet: &[u8],
    src: SocketAddr,
    out: &mut Vec<u8>,
    fast_path: bool,
) -> Option<AnswerPath> {
    if fast_path {
        if let Some(q) = fast::parse(packet) {
            if fast::answer(table, &q, src.ip(), out).is_some() {
                return Some(AnswerPath::Fast);
            }
        }
    }
    handle_datagram(table, packet, src, out).map(|_| AnswerPath::General)
}

fn reuseport_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    omit_path_mtu(&socket, addr.is_ipv6());
    // Room to absorb a burst while the thread answers the previous batch; the kernel
    // caps it at net.core.rmem_max. Best effort.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Send replies as the interface's MTU allows, ignoring path-MTU information
/// (IP_PMTUDISC_OMIT, as gdnsd and knot set it): a forged ICMP "fragmentation needed"
/// cannot make us fragment answers for an off-path attacker to spoof into, and no
/// per-send path-MTU lookup is made (0.7% of the server's CPU under dnsperf). Best
/// effort: Linux 3.15 and later.
fn omit_path_mtu(socket: &Socket, v6: bool) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (level, name, value) = if v6 {
            (
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                libc::IPV6_PMTUDISC_OMIT,
            )
        } else {
            (
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_OMIT,
            )
        };
        // SAFETY: a valid fd, and a c_int option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            debug!(error = %io::Error::last_os_error(), "cannot set PMTUDISC_OMIT");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (socket, v6);
}

/// Bind `count` sockets to one address with SO_REUSEPORT so the kernel spreads
/// datagrams across them. Port 0 is resolved by the first bind and reused by the rest.
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::UdpSocket>> {
    if addr.port() == 0 {
        // A plain socket's port is one nobody holds; between its close and our bind
        // another process may take it, so try again a few times.
        let mut last = None;
        for _ in 0..8 {
            match bind_at(free_port(addr)?, count) {
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                other => return other,
            }
        }
        return Err(last.unwrap_or_else(|| io::ErrorKind::AddrInUse.into()));
    }
    bind_at(addr, count)
}

/// A port nobody holds, for a listen line with port 0. The kernel's own choice for a
/// SO_REUSEPORT socket may be a port another SO_REUSEPORT socket of the same user
/// already holds (it does not count those as taken), and the two servers would then
/// split each other's queries: seen as wrong answers between test servers.
fn free_port(addr: SocketAddr) -> io::Result<SocketAddr> {
    std::net::UdpSocket::bind(addr)?.local_addr()
}

fn bind_at(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::UdpSocket>> {
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
    let message = match request::parse(packet)? {
        Request::Query(m) => m,
        Request::Malformed { reply, error } => {
            debug!(%src, %error, "malformed query");
            encode(&reply, None, 512, out).ok()?;
            return Some(out.as_slice());
        }
    };
    let view = request::view(&message, src.ip());
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

/// What a UDP client may cost: the largest query, and response rate limiting.
pub struct UdpGuard {
    pub max_query_size: usize,
    pub rrl: Option<Rrl>,
    pub abuse: Arc<AbuseCounters>,
    /// RRL counts per second from here.
    pub started: std::time::Instant,
}

impl UdpGuard {
    /// Whether to send `reply` (to `query` from `src`), maybe rewritten as a slip.
    fn allow(&self, query: &[u8], src: SocketAddr, reply: &mut Vec<u8>) -> bool {
        let Some(rrl) = &self.rrl else { return true };
        let Some(class) = rrl::class_of_reply(reply) else {
            return true;
        };
        let name = rrl::question_name(query).unwrap_or(&[]);
        let now = self.started.elapsed().as_secs() as u32;
        match rrl.check(src.ip(), class, name, now) {
            Verdict::Send => true,
            Verdict::Slip if rrl::slip(query, reply) => {
                AbuseCounters::bump(&self.abuse.rrl_slipped);
                true
            }
            Verdict::Slip | Verdict::Drop => {
                AbuseCounters::bump(&self.abuse.rrl_dropped);
                false
            }
        }
    }
}

/// Serve one socket on a thread of its own until `shutdown`. `fast_path = false`
/// sends every query through the general path (for comparison and tests).
pub fn spawn(
    socket: std::net::UdpSocket,
    table: TableReader,
    shutdown: CancellationToken,
    fast_path: bool,
    guard: Arc<UdpGuard>,
) -> io::Result<std::thread::JoinHandle<()>> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(SHUTDOWN_POLL))?;
    let name = format!("udp {}", socket.local_addr()?);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || serve(socket, table, shutdown, fast_path, &guard))
}

fn serve(
    socket: std::net::UdpSocket,
    table: TableReader,
    shutdown: CancellationToken,
    fast_path: bool,
    guard: &UdpGuard,
) {
    let mut batch = Batch::new(MAX_UDP_PAYLOAD as usize);
    while !shutdown.is_cancelled() {
        let n = match batch::recv(&socket, &mut batch) {
            Ok(n) => n,
            Err(e) => {
                // Timeouts let us look at the token; ICMP errors from earlier sends
                // surface here too. Neither is fatal.
                if !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) {
                    debug!(error = %e, "udp receive error");
                }
                continue;
            }
        };
        {
            // One load per batch: a swap is seen by the next batch.
            let table = table.load();
            for slot in batch.slots.iter_mut().take(n) {
                if slot.len == 0 || slot.src.port() == 0 {
                    continue;
                }
                // A full receive buffer may be a longer datagram the kernel cut short.
                if slot.len > guard.max_query_size || slot.len >= batch::RECV_BUFFER {
                    AbuseCounters::bump(&guard.abuse.udp_oversize);
                    continue;
                }
                let src = slot.src;
                let (packet, reply) = slot.split();
                // A bug on some odd packet must cost that packet, not the socket's thread.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handle(&table, packet, src, reply, fast_path)
                }));
                match outcome {
                    // Counted where they were answered: `respond` and `fast::answer`.
                    Ok(Some(_)) => {
                        if guard.allow(packet, src, reply) {
                            slot.answer = true;
                        }
                    }
                    Ok(None) => {}
                    Err(_) => {
                        AbuseCounters::bump(&guard.abuse.panics);
                        warn!(%src, "panic while answering a datagram; dropped it");
                    }
                }
            }
        }
        batch::send(&socket, &mut batch, n);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    fn option(sock: &std::net::UdpSocket, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut value: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid fd and a c_int-sized buffer, its length given.
        let rc = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        value
    }

    #[test]
    fn port_zero_never_shares_a_port_with_another_listener() {
        // Four hundred listeners alive at once: were the kernel choosing for SO_REUSEPORT
        // sockets, two of them would share a port in about 94% of runs (birthday odds
        // over some 28,000 ephemeral ports).
        let mut ports = std::collections::HashSet::new();
        let mut alive = Vec::new();
        for _ in 0..400 {
            let socks = bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
            let port = socks[0].local_addr().unwrap().port();
            assert!(ports.insert(port), "port {port} given twice");
            alive.push(socks);
        }
        // The sockets of one listener do share their port.
        let two = bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        assert_eq!(
            two[0].local_addr().unwrap().port(),
            two[1].local_addr().unwrap().port()
        );
    }

    #[test]
    fn listening_sockets_ignore_path_mtu_information() {
        let v4 = bind("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        assert_eq!(
            option(&v4[0], libc::IPPROTO_IP, libc::IP_MTU_DISCOVER),
            libc::IP_PMTUDISC_OMIT
        );
        let v6 = bind("[::1]:0".parse().unwrap(), 1).unwrap();
        assert_eq!(
            option(&v6[0], libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER),
            libc::IPV6_PMTUDISC_OMIT
        );
    }
}
