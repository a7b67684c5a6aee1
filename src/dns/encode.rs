//! Putting a reply on the wire within the transport's size limit.

use hickory_proto::op::{emit_message_parts, Header, Query};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_proto::ProtoError;

use super::respond::Reply;

/// Encode `reply` into `out` (cleared first). When the full answer doesn't fit `max`,
/// send the header, question and OPT alone with TC set: a partial RRset must not be
/// used (RFC 2181 §9), and the client retries over TCP.
pub fn encode(
    reply: &Reply<'_>,
    question: Option<&Query>,
    max: u16,
    out: &mut Vec<u8>,
) -> Result<Header, ProtoError> {
    out.clear();
    let header = {
        let mut enc = BinEncoder::new(out);
        enc.set_max_size(max);
        emit_message_parts(
            &reply.metadata,
            &mut question.into_iter(),
            &mut reply.lookup.answers.iter().map(AsRef::as_ref),
            &mut reply.lookup.authority.iter().map(AsRef::as_ref),
            &mut reply.lookup.additional.iter().map(AsRef::as_ref),
            reply.edns.as_ref(),
            None,
            &mut enc,
        )
    };
    match header {
        Ok(h) if !h.metadata.truncation => Ok(h),
        _ => {
            out.clear();
            let mut metadata = reply.metadata;
            metadata.truncation = true;
            let mut enc = BinEncoder::new(out);
            enc.set_max_size(max);
            emit_message_parts(
                &metadata,
                &mut question.into_iter(),
                &mut std::iter::empty::<&hickory_proto::rr::Record>(),
                &mut std::iter::empty::<&hickory_proto::rr::Record>(),
                &mut std::iter::empty::<&hickory_proto::rr::Record>(),
                reply.edns.as_ref(),
                None,
                &mut enc,
            )
        }
    }
}
