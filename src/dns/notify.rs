//! Outgoing NOTIFY (RFC 1996): when a zone's serial changes (and once at start), every
//! address in its `also_notify` is told over UDP, so a secondary that follows by zone
//! transfer (knot, NSD, BIND) asks for the new copy at once instead of at its next
//! refresh. Each message is retried with a doubling wait until the secondary answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::routing::TableReader;

/// Sends per secondary and serial; with the waits below, about half a minute in all.
const ATTEMPTS: u32 = 5;
/// The wait for an answer after the first send; doubled after each silent one.
const FIRST_WAIT: Duration = Duration::from_millis(1000);

/// Watch the published table (woken by `changed`, whatever it carries) and notify each
/// zone's secondaries of every serial not yet announced. Ends with `shutdown`.
pub async fn run<T: Send + Sync + 'static>(
    mut changed: watch::Receiver<T>,
    table: TableReader,
    shutdown: CancellationToken,
) {
    let mut announced: HashMap<Name, u32> = HashMap::new();
    loop {
        {
            let t = table.load();
            for zone in t.zone_sources() {
                if zone.also_notify.is_empty() {
                    continue;
                }
                let Some(serial) = serial_of(&zone.soa) else {
                    continue;
                };
                if announced.insert(zone.origin.clone(), serial) == Some(serial) {
                    continue;
                }
                for &to in &zone.also_notify {
                    tokio::spawn(notify(
                        zone.origin.clone(),
                        zone.soa.clone(),
                        to,
                        shutdown.clone(),
                    ));
                }
            }
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return },
            _ = shutdown.cancelled() => return,
        }
    }
}

fn serial_of(soa: &Record) -> Option<u32> {
    match &soa.data {
        RData::SOA(s) => Some(s.serial),
        _ => None,
    }
}

/// The NOTIFY for `origin`: opcode NOTIFY, AA, the SOA question, and the new SOA in
/// the answer section as a hint (RFC 1996 §3.7).
fn message(id: u16, origin: &Name, soa: &Record) -> Option<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(Query::query(origin.clone(), RecordType::SOA));
    m.add_answer(soa.clone());
    m.to_vec().ok()
}

/// Tell `to` about `origin`'s serial in `soa`, until it answers or the tries run out.
async fn notify(origin: Name, soa: Record, to: SocketAddr, shutdown: CancellationToken) {
    let serial = serial_of(&soa).unwrap_or(0);
    let local: SocketAddr = if to.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => {
            warn!(zone = %origin, %to, error = %e, "cannot open a socket for NOTIFY");
            return;
        }
    };
    let id: u16 = rand::random();
    let Some(packet) = message(id, &origin, &soa) else {
        warn!(zone = %origin, "NOTIFY could not be encoded");
        return;
    };
    let mut wait = FIRST_WAIT;
    for attempt in 1..=ATTEMPTS {
        if let Err(e) = sock.send_to(&packet, to).await {
            debug!(zone = %origin, %to, error = %e, "NOTIFY send failed");
        }
        tokio::select! {
            r = tokio::time::timeout(wait, answer(&sock, to, id)) => {
                if let Ok(rcode) = r {
                    info!(zone = %origin, %to, serial, attempt, %rcode, "secondary notified");
                    return;
                }
            }
            _ = shutdown.cancelled() => return,
        }
        wait *= 2;
    }
    warn!(zone = %origin, %to, serial, attempts = ATTEMPTS, "secondary did not answer NOTIFY");
}

/// The rcode of the first reply from `to` that matches `id`; other datagrams are ignored.
async fn answer(sock: &UdpSocket, to: SocketAddr, id: u16) -> hickory_proto::op::ResponseCode {
    let mut buf = [0u8; 1232];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            // A socket error won't clear by itself: let the caller's timeout decide.
            return std::future::pending().await;
        };
        if from != to {
            continue;
        }
        if let Ok(m) = Message::from_vec(&buf[..n]) {
            if m.metadata.id == id
                && m.metadata.message_type == MessageType::Response
                && m.metadata.op_code == OpCode::Notify
            {
                return m.metadata.response_code;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notify_carries_the_soa_question_and_the_new_serial() {
        let origin = Name::from_ascii("t.test.").unwrap();
        let soa = Record::from_rdata(
            origin.clone(),
            60,
            RData::SOA(hickory_proto::rr::rdata::SOA::new(
                Name::from_ascii("ns1.t.test.").unwrap(),
                Name::from_ascii("h.t.test.").unwrap(),
                42,
                1,
                1,
                1,
                1,
            )),
        );
        let m = Message::from_vec(&message(7, &origin, &soa).unwrap()).unwrap();
        assert_eq!(m.metadata.op_code, OpCode::Notify);
        assert!(m.metadata.authoritative);
        assert_eq!(m.queries[0].query_type, RecordType::SOA);
        assert_eq!(m.queries[0].name, origin);
        assert_eq!(serial_of(&m.answers[0]), Some(42));
    }
}
