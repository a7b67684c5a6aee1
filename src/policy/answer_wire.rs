//! The wire form of a prepared answer's address records, made once per table build so
//! the UDP fast path copies them as they are.

use std::net::IpAddr;

/// A compression pointer to offset 12, where the question name starts: the records are
/// owned by the name asked, in the spelling it was asked with.
const OWNER_IS_QUESTION: [u8; 2] = [0xC0, 0x0C];
const CLASS_IN: [u8; 2] = [0, 1];

/// A and AAAA records of one answer, in wire form, in the order of `Answer::a`/`aaaa`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerWire {
    pub a: Box<[u8]>,
    pub aaaa: Box<[u8]>,
    /// In a signed zone, the same RRsets followed by their RRSIGs (made by `routing`,
    /// which knows the zone's signer); `None` for an unsigned zone or an empty RRset.
    pub signed_a: Option<SignedReply>,
    pub signed_aaaa: Option<SignedReply>,
}

/// A signed reply's sections after the question, as the encoder writes them after the
/// question in lowercase, for the fast path to copy: used only while `now < valid_until`
/// (Unix seconds), when the signatures it carries are the ones the signer would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReply {
    /// Header bytes 2 and 3 with RD and CD clear.
    pub flags: [u8; 2],
    /// Answer, authority and additional counts.
    pub counts: [u16; 3],
    pub body: Box<[u8]>,
    /// The body reads the same after any spelling of the question.
    pub case_free: bool,
    pub valid_until: u64,
}

impl AnswerWire {
    pub fn new(ttl: u32, addresses: &[IpAddr]) -> Self {
        let mut a = Vec::new();
        let mut aaaa = Vec::new();
        for ip in addresses {
            let (out, rtype, data): (&mut Vec<u8>, u16, &[u8]) = match ip {
                IpAddr::V4(v4) => (&mut a, 1, &v4.octets()),
                IpAddr::V6(v6) => (&mut aaaa, 28, &v6.octets()),
            };
            out.extend_from_slice(&OWNER_IS_QUESTION);
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&CLASS_IN);
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        Self {
            a: a.into(),
            aaaa: aaaa.into(),
            signed_a: None,
            signed_aaaa: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_point_at_the_question_and_keep_their_order() {
        let ips: Vec<IpAddr> = ["192.0.2.1", "2001:db8::1", "192.0.2.2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let w = AnswerWire::new(30, &ips);
        assert_eq!(w.a.len(), 2 * 16);
        assert_eq!(
            &w.a[..16],
            &[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1]
        );
        assert_eq!(&w.a[28..], &[192, 0, 2, 2]);
        assert_eq!(w.aaaa.len(), 12 + 16);
        assert_eq!(&w.aaaa[2..4], &[0, 28]);
    }
}
