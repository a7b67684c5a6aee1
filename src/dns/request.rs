//! The first step of every general-path request, shared by UDP and TCP: read the
//! header, drop responses, parse the rest, and say FORMERR when only the header reads.
//! Also the DNS header length the in-place parsers (`fast`, `rrl`) step over.

use std::net::IpAddr;

use hickory_proto::op::{Header, Message, MessageType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};

use super::respond::{formerr, Reply, RequestView};

/// A datagram or TCP message that has a header and is not a response.
pub enum Request {
    /// A well-formed message, to answer.
    Query(Message),
    /// Only the header reads: answer with `reply` (FORMERR); `error` says why.
    Malformed {
        reply: Reply<'static>,
        error: DecodeError,
    },
}

/// Parse `packet`; `None`: send nothing (no header, or a response — never answer a
/// response: that is how reflection loops start).
pub fn parse(packet: &[u8]) -> Option<Request> {
    let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    Some(match Message::from_vec(packet) {
        Ok(m) => Request::Query(m),
        Err(error) => Request::Malformed {
            reply: formerr(&header.metadata),
            error,
        },
    })
}

/// What `respond` reads of a parsed message, from `src`.
pub fn view(message: &Message, src: IpAddr) -> RequestView<'_> {
    RequestView {
        metadata: &message.metadata,
        question: message.queries.first(),
        question_count: message.queries.len(),
        edns: message.edns.as_ref(),
        src,
    }
}
