//! Types this loader has no native encoder for (DS, DNSKEY, TLSA, SSHFP, SVCB, HTTPS,
//! NAPTR, HINFO, CERT, ...) go to hickory's zone parser, a batch at a time: each record
//! is written as one line with a synthetic owner `i<n>.`, so hickory's map of record
//! sets can be matched back to the records one to one, duplicates included.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use hickory_proto::rr::{Name, RData, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use hickory_proto::serialize::txt::{ParseError, Parser};

use super::fields::type_name;
use super::lexer::Token;

/// Records waiting for hickory. Each one's text (an `$ORIGIN` line and the record) is
/// `text[ranges[n]]`, so a failing batch can be retried record by record.
#[derive(Default)]
pub(super) struct Batch {
    text: String,
    ranges: Vec<std::ops::Range<usize>>,
}

impl Batch {
    pub(super) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Queues one record; returns its index in the batch.
    pub(super) fn push(
        &mut self,
        rtype: u16,
        text: &[u8],
        tokens: &[Token],
        origin: Option<&[u8]>,
    ) -> usize {
        let index = self.ranges.len();
        let start = self.text.len();
        if let Some(origin) = origin.and_then(wire_to_name) {
            let _ = writeln!(self.text, "$ORIGIN {}", origin.to_ascii());
        }
        let _ = write!(self.text, "i{index}. 0 IN {}", type_name(rtype));
        for t in tokens {
            let raw = String::from_utf8_lossy(&text[t.start..t.end]);
            if t.quoted {
                let _ = write!(self.text, " \"{raw}\"");
            } else {
                let _ = write!(self.text, " {raw}");
            }
        }
        self.text.push('\n');
        self.ranges.push(start..self.text.len());
        index
    }

    /// Parses the whole batch: the rdata of each record in order, or the index of the
    /// first record hickory rejects with its message.
    pub(super) fn parse(&mut self) -> Result<Vec<RData>, (usize, String)> {
        let result = match run(&self.text) {
            Ok(map) => collect(map, self.ranges.len()),
            Err(_) => Err(self.first_failure()),
        };
        self.text.clear();
        self.ranges.clear();
        result
    }

    fn first_failure(&self) -> (usize, String) {
        for (index, range) in self.ranges.iter().enumerate() {
            if let Err(e) = run(&self.text[range.clone()]) {
                let mut message = e.to_string();
                if let Some(hint) = generic_form_hint(&message) {
                    message = format!("{message}; {hint}");
                }
                return (index, message);
            }
        }
        (
            0,
            "hickory rejected the batch but no single record in it".into(),
        )
    }
}

fn run(text: &str) -> Result<BTreeMap<RrKey, RecordSet>, ParseError> {
    Parser::new(text, None, Some(Name::root()))
        .parse()
        .map(|(_, map)| map)
}

fn collect(map: BTreeMap<RrKey, RecordSet>, count: usize) -> Result<Vec<RData>, (usize, String)> {
    let mut slots: Vec<Option<RData>> = vec![None; count];
    for record in map.into_values().flatten() {
        let index = record
            .name
            .iter()
            .next()
            .and_then(|l| {
                std::str::from_utf8(l.strip_prefix(b"i")?)
                    .ok()?
                    .parse()
                    .ok()
            })
            .filter(|i: &usize| *i < count);
        if let Some(i) = index {
            slots[i] = Some(record.data);
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| slot.ok_or((i, "hickory's parser dropped this record".to_string())))
        .collect()
}

/// Uncompressed wire rdata, names in the case they have.
pub(super) fn emit_rdata(rdata: &RData, out: &mut Vec<u8>) -> Result<(), String> {
    let mut encoder = BinEncoder::new(out);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    rdata.emit(&mut encoder).map_err(|e| e.to_string())
}

fn wire_to_name(wire: &[u8]) -> Option<Name> {
    let mut labels = Vec::new();
    let mut i = 0;
    while *wire.get(i)? != 0 {
        let len = usize::from(wire[i]);
        labels.push(wire.get(i + 1..i + 1 + len)?);
        i += 1 + len;
    }
    let mut name = Name::from_labels(labels).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// hickory has no presentation-format parser for some types (RRSIG, NSEC, DNSKEY, ...)
/// but loads them fine from generic rdata.
fn generic_form_hint(message: &str) -> Option<String> {
    let name = if let Some(i) = message.find(" should be dynamically generated") {
        message[..i].rsplit(' ').next()?
    } else if let Some(rest) = message.strip_prefix("unsupported RecordType: ") {
        rest.trim()
    } else if message.contains("parse is not implemented for NULL") {
        "NULL"
    } else {
        return None;
    };
    let code = u16::from(RecordType::from_str(name).ok()?);
    Some(format!(
        "this server cannot read {name} in presentation format; write it in RFC 3597 \
         generic form instead: `{name} \\# <length> <hex rdata>` (or `TYPE{code} \\# ...`)"
    ))
}
