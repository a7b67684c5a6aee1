//! Putting a reply on the wire within the transport's size limit.

use hickory_proto::op::{emit_message_parts, Header, Metadata, Query};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_proto::ProtoError;

use super::respond::Reply;
use crate::routing::Rec;

/// Encode `reply` into `out` (cleared first). When the full answer doesn't fit `max`,
/// the additional section goes first: it only saves the resolver a query (RFC 2181
/// §9). A referral's glue is the exception, it is needed (RFC 9471). When the rest still
/// doesn't fit, send the header, question and OPT alone with TC set: a partial RRset
/// must not be used, and the client retries over TCP.
pub fn encode(
    reply: &Reply<'_>,
    question: Option<&Query>,
    max: u16,
    out: &mut Vec<u8>,
) -> Result<Header, ProtoError> {
    let l = &reply.lookup;
    let empty: &[Rec<'_>] = &[];
    let full = emit(
        reply,
        &reply.metadata,
        question,
        max,
        [&l.answers, &l.authority, &l.additional],
        out,
    );
    if let Ok(h) = full {
        if !h.metadata.truncation {
            return Ok(h);
        }
    }
    let referral = !l.authoritative && l.answers.is_empty() && !l.authority.is_empty();
    if !l.additional.is_empty() && !referral {
        let bare = emit(
            reply,
            &reply.metadata,
            question,
            max,
            [&l.answers, &l.authority, empty],
            out,
        );
        if let Ok(h) = bare {
            if !h.metadata.truncation {
                return Ok(h);
            }
        }
    }
    let mut metadata = reply.metadata;
    metadata.truncation = true;
    emit(reply, &metadata, question, max, [empty, empty, empty], out)
}

/// One encoding attempt of `sections` (answer, authority, additional) into `out`.
fn emit(
    reply: &Reply<'_>,
    metadata: &Metadata,
    question: Option<&Query>,
    max: u16,
    sections: [&[Rec<'_>]; 3],
    out: &mut Vec<u8>,
) -> Result<Header, ProtoError> {
    out.clear();
    let mut enc = BinEncoder::new(out);
    enc.set_max_size(max);
    let [an, ns, ar] = sections;
    emit_message_parts(
        metadata,
        &mut question.into_iter(),
        &mut an.iter().map(AsRef::<Record>::as_ref),
        &mut ns.iter().map(AsRef::<Record>::as_ref),
        &mut ar.iter().map(AsRef::<Record>::as_ref),
        reply.edns.as_ref(),
        None,
        &mut enc,
    )
}
