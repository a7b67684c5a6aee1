//! Batched datagram I/O for the UDP threads: up to `BATCH` datagrams per `recvmmsg`
//! and their replies in one `sendmmsg` (Linux), into buffers allocated once. Elsewhere
//! one datagram per call with the same interface.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Datagrams taken per system call: enough to amortise the call under load, small
/// enough that the first reply of a batch isn't held up long.
pub const BATCH: usize = 32;

/// Room for the largest datagram a client may send us; larger ones are truncated by
/// the kernel and then fail to parse.
pub const RECV_BUFFER: usize = 4096;

/// One received datagram and the reply to it, if any.
pub struct Slot {
    pub len: usize,
    pub src: SocketAddr,
    pub reply: Vec<u8>,
    pub answer: bool,
    buf: Box<[u8; RECV_BUFFER]>,
    #[cfg(target_os = "linux")]
    addr: libc::sockaddr_storage,
    #[cfg(target_os = "linux")]
    addr_len: libc::socklen_t,
}

impl Slot {
    /// The datagram received, and the reply buffer to fill.
    pub fn split(&mut self) -> (&[u8], &mut Vec<u8>) {
        (&self.buf[..self.len], &mut self.reply)
    }
}

pub struct Batch {
    pub slots: Vec<Slot>,
}

impl Batch {
    pub fn new(reply_capacity: usize) -> Self {
        let slots = (0..BATCH)
            .map(|_| Slot {
                len: 0,
                src: SocketAddr::from(([0, 0, 0, 0], 0)),
                reply: Vec::with_capacity(reply_capacity),
                answer: false,
                buf: Box::new([0; RECV_BUFFER]),
                // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
                #[cfg(target_os = "linux")]
                addr: unsafe { std::mem::zeroed() },
                #[cfg(target_os = "linux")]
                addr_len: 0,
            })
            .collect();
        Batch { slots }
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;

    use super::{Batch, BATCH, RECV_BUFFER};

    fn to_std(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match addr.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in for AF_INET.
                let a = unsafe { &*(addr as *const _ as *const libc::sockaddr_in) };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 for AF_INET6.
                let a = unsafe { &*(addr as *const _ as *const libc::sockaddr_in6) };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// Block until at least one datagram arrives (or the socket's read timeout passes),
    /// then take whatever else is queued, up to `BATCH`. Returns how many slots hold one.
    pub fn recv(sock: &UdpSocket, batch: &mut Batch) -> io::Result<usize> {
        // SAFETY: zeroed iovec/mmsghdr are valid; every pointer set below points into
        // `batch`, which outlives the call, and the lengths match the buffers.
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, slot) in batch.slots.iter_mut().enumerate() {
            iov[i].iov_base = slot.buf.as_mut_ptr().cast();
            iov[i].iov_len = RECV_BUFFER;
            let h = &mut msgs[i].msg_hdr;
            h.msg_name = (&mut slot.addr as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: see above; the kernel writes at most `BATCH` entries.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (slot, m) in batch.slots.iter_mut().zip(&msgs).take(n) {
            slot.len = m.msg_len as usize;
            slot.addr_len = m.msg_hdr.msg_namelen;
            slot.answer = false;
            match to_std(&slot.addr) {
                Some(a) => slot.src = a,
                None => slot.len = 0,
            }
        }
        Ok(n)
    }

    /// Send the replies of the first `n` slots that have one.
    pub fn send(sock: &UdpSocket, batch: &mut Batch, n: usize) {
        // SAFETY: as in `recv`: pointers into `batch`, valid for the call.
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut k = 0;
        for slot in batch.slots.iter_mut().take(n).filter(|s| s.answer) {
            iov[k].iov_base = slot.reply.as_mut_ptr().cast();
            iov[k].iov_len = slot.reply.len();
            let h = &mut msgs[k].msg_hdr;
            h.msg_name = (&mut slot.addr as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = slot.addr_len;
            h.msg_iov = &mut iov[k];
            h.msg_iovlen = 1;
            k += 1;
        }
        let mut done = 0;
        while done < k {
            // SAFETY: entries done..k were filled above.
            let sent = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    msgs[done..].as_mut_ptr(),
                    (k - done) as libc::c_uint,
                    0,
                )
            };
            if sent < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if sent <= 0 {
                // The first remaining datagram failed (e.g. an unreachable address,
                // reported from an earlier send): drop it and go on with the rest.
                done += 1;
            } else {
                done += sent as usize;
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::net::UdpSocket;

    use super::Batch;

    pub fn recv(sock: &UdpSocket, batch: &mut Batch) -> io::Result<usize> {
        let slot = &mut batch.slots[0];
        let (len, src) = sock.recv_from(&mut slot.buf[..])?;
        slot.len = len;
        slot.src = src;
        slot.answer = false;
        Ok(1)
    }

    pub fn send(sock: &UdpSocket, batch: &mut Batch, n: usize) {
        for slot in batch.slots.iter().take(n).filter(|s| s.answer) {
            let _ = sock.send_to(&slot.reply, slot.src);
        }
    }
}

/// See `imp::recv`.
pub fn recv(sock: &UdpSocket, batch: &mut Batch) -> io::Result<usize> {
    imp::recv(sock, batch)
}

/// See `imp::send`.
pub fn send(sock: &UdpSocket, batch: &mut Batch, n: usize) {
    imp::send(sock, batch, n)
}
