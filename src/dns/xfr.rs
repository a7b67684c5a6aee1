//! Outgoing zone transfers (AXFR, RFC 5936), over TCP only, to the zone's
//! `allow_transfer` networks.
//!
//! The zone is sent as the routing table holds it at the moment of the query: the SOA,
//! every static record, each policy name's A/AAAA answer for a client without location
//! (its `summary`), then the SOA again. Policy answers change with health, so a
//! secondary holding this copy serves a snapshot; that is the operator's choice to make.
//! Anything that is not an allowed AXFR is left to `respond`, which refuses transfers
//! (IXFR included: we keep no history to send increments from, and RFC 1995 §4 lets a
//! server refuse rather than fall back).

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::op::{emit_message_parts, Edns, Message, MessageType, Metadata, OpCode};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use tracing::{debug, info, warn};

use super::MAX_UDP_PAYLOAD;
use crate::routing::RoutingTable;

/// Room for records in one message: the 16-bit TCP length prefix allows 65535 bytes;
/// the rest is kept for the header, question and OPT.
const RECORD_BUDGET: usize = 65_535 - 1_024;

/// If `message` is an AXFR that `src` may have, append the transfer to `frames` as
/// length-prefixed TCP messages and return true. False: not ours to answer (the caller
/// answers as for any query, i.e. REFUSED).
pub fn axfr(table: &RoutingTable, message: &Message, src: IpAddr, frames: &mut Vec<u8>) -> bool {
    let [question] = message.queries.as_slice() else {
        return false;
    };
    if message.metadata.op_code != OpCode::Query
        || question.query_type != RecordType::AXFR
        || question.query_class != DNSClass::IN
    {
        return false;
    }
    let Some((zone, policies)) = table.zone_at_apex(&question.name) else {
        return false;
    };
    // A v4 client on a dual-stack listener arrives as ::ffff:a.b.c.d.
    let src = src.to_canonical();
    if !zone.allow_transfer.iter().any(|net| net.contains(&src)) {
        debug!(%src, zone = %zone.origin, "zone transfer refused: address not in allow_transfer");
        return false;
    }

    let soa = &zone.soa;
    // Decoded a message's worth at a time: the store holds wire data, not `Record`s.
    let records = std::iter::once(soa.clone())
        .chain(
            zone.records
                .iter()
                .filter(|r| r.rtype() != RecordType::SOA)
                .map(|r| r.to_record()),
        )
        .chain(policies.policies.iter().flat_map(|p| {
            let a = p.summary();
            a.a.iter().chain(a.aaaa.iter()).cloned().collect::<Vec<_>>()
        }))
        .chain(std::iter::once(soa.clone()));

    let mut metadata = Metadata::new(message.metadata.id, MessageType::Response, OpCode::Query);
    metadata.authoritative = true;
    metadata.recursion_desired = message.metadata.recursion_desired;
    metadata.response_code = ResponseCode::NoError;
    let edns = message.edns.as_ref().map(|_| {
        let mut e = Edns::new();
        e.set_max_payload(MAX_UDP_PAYLOAD);
        e.set_version(0);
        e
    });

    let start = frames.len();
    let mut batch: Vec<Record> = Vec::new();
    let mut size = 0;
    let mut sent = (0usize, 0usize);
    let mut first = true;
    for r in records {
        let len = uncompressed_len(&r);
        if !batch.is_empty() && size + len > RECORD_BUDGET {
            let q = first.then_some(question);
            if !emit(&metadata, q, &batch, edns.as_ref(), frames) {
                frames.truncate(start);
                return false;
            }
            first = false;
            sent = (sent.0 + 1, sent.1 + batch.len());
            batch.clear();
            size = 0;
        }
        batch.push(r);
        size += len;
    }
    let q = first.then_some(question);
    if !emit(&metadata, q, &batch, edns.as_ref(), frames) {
        frames.truncate(start);
        return false;
    }
    sent = (sent.0 + 1, sent.1 + batch.len());
    info!(%src, zone = %zone.origin, messages = sent.0, records = sent.1, "zone transfer");
    true
}

/// A record's size on the wire without name compression: an upper bound on what it
/// adds to a message.
fn uncompressed_len(r: &Record) -> usize {
    let mut buf = Vec::with_capacity(64);
    let mut enc = BinEncoder::new(&mut buf);
    match r.emit(&mut enc) {
        Ok(()) => buf.len(),
        // Unencodable: counted as a whole message, so it travels alone and fails there.
        Err(_) => RECORD_BUDGET,
    }
}

/// One transfer message, length-prefixed, appended to `frames`.
fn emit(
    metadata: &Metadata,
    question: Option<&hickory_proto::op::Query>,
    answers: &[Record],
    edns: Option<&Edns>,
    frames: &mut Vec<u8>,
) -> bool {
    // Its own buffer: compression pointers count from the start of the message.
    let mut msg = Vec::with_capacity(4096);
    let result = {
        let mut enc = BinEncoder::new(&mut msg);
        enc.set_max_size(u16::MAX);
        emit_message_parts(
            metadata,
            &mut question.into_iter(),
            &mut answers.iter(),
            &mut std::iter::empty::<&Record>(),
            &mut std::iter::empty::<&Record>(),
            edns,
            None,
            &mut enc,
        )
    };
    let len = msg.len();
    match (result, u16::try_from(len)) {
        (Ok(h), Ok(len)) if !h.metadata.truncation => {
            frames.extend_from_slice(&len.to_be_bytes());
            frames.extend_from_slice(&msg);
            true
        }
        _ => {
            warn!("zone transfer message could not be encoded within 65535 bytes");
            false
        }
    }
}
