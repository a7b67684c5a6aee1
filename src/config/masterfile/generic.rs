//! RFC 3597 generic records (`TYPE65280 \# 4 0A000001`), which hickory rejects: they
//! are swapped for TXT placeholders before hickory parses the file, and their real rdata
//! put back afterwards.

use std::collections::btree_map::{BTreeMap, Entry as MapEntry};
use std::str::FromStr;

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{LowerName, RData, Record, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use super::scanner::{analyze, Item, Scanner, Token};

/// The text hickory actually parses: generic records replaced by TXT placeholders.
pub(super) struct Preprocessed {
    pub(super) text: String,
    marker: String,
    generics: Vec<Generic>,
}

struct Generic {
    rdata: RData,
    line: usize,
}

pub(super) struct PreError {
    pub(super) line: usize,
    pub(super) message: String,
    /// The rewritten text before the bad entry, to look for an earlier error.
    pub(super) prefix: String,
}

/// Rewrites each RFC 3597 record's `<type> \# <len> <hex>` as `TXT <marker><n>`.
/// Owner, TTL and class tokens stay as written so hickory applies its own owner,
/// TTL and class defaulting to them; newlines inside the replaced part are kept so
/// line numbers stay right.
pub(super) fn preprocess(text: &str) -> Result<Preprocessed, PreError> {
    let marker = unique_marker(text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut generics = Vec::new();
    for entry in Scanner::new(text) {
        let Some(rr) = analyze(text, &entry) else {
            continue;
        };
        let type_text = &text[rr.type_tok.start..rr.type_tok.end];
        if !is_generic(text, &rr.rdata) {
            // RFC 3597 section 5 allows TYPEnnn for a known type with normal rdata.
            if let Some(mnemonic) = known_type_mnemonic(type_text) {
                out.push_str(&text[copied..rr.type_tok.start]);
                out.push_str(mnemonic);
                copied = rr.type_tok.end;
            }
            continue;
        }
        let rdata = match decode_generic(text, rr.type_tok, &rr.rdata) {
            Ok(rdata) => rdata,
            Err((line, message)) => {
                out.push_str(&text[copied..entry.start]);
                return Err(PreError {
                    line,
                    message,
                    prefix: out,
                });
            }
        };
        let end = entry.tokens.last().map_or(rr.type_tok.end, |t| t.end);
        let newlines = text[rr.type_tok.start..end].matches('\n').count();
        let index = generics.len();
        generics.push(Generic {
            rdata,
            line: rr.type_tok.line,
        });
        out.push_str(&text[copied..rr.type_tok.start]);
        if newlines == 0 {
            out.push_str(&format!("TXT {marker}{index}"));
        } else {
            // A bare newline would end the entry; inside parentheses it does not.
            out.push_str(&format!("TXT ( {marker}{index}{} )", "\n".repeat(newlines)));
        }
        copied = end;
    }
    out.push_str(&text[copied..]);
    Ok(Preprocessed {
        text: out,
        marker,
        generics,
    })
}

/// A placeholder prefix that occurs nowhere in the file, so no real TXT record can
/// be mistaken for a placeholder.
fn unique_marker(text: &str) -> String {
    let mut marker = String::from("switchyard-rfc3597-placeholder-");
    while text.contains(&marker) {
        marker.insert(0, 'x');
    }
    marker
}

fn is_generic(text: &str, rdata: &[Item]) -> bool {
    rdata
        .first()
        .is_some_and(|i| !i.quoted && &text[i.start..i.end] == "\\#")
}

fn type_code(type_text: &str) -> Option<u16> {
    let upper = type_text.to_ascii_uppercase();
    match upper.strip_prefix("TYPE") {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()
        }
        _ => RecordType::from_str(&upper).ok().map(u16::from),
    }
}

fn known_type_mnemonic(type_text: &str) -> Option<&'static str> {
    let upper = type_text.to_ascii_uppercase();
    let digits = upper.strip_prefix("TYPE")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rtype = RecordType::from(digits.parse::<u16>().ok()?);
    if matches!(rtype, RecordType::Unknown(_)) {
        return None;
    }
    let name: &'static str = rtype.into();
    // Only when hickory reads the mnemonic back as the same type.
    (RecordType::from_str(name).ok() == Some(rtype)).then_some(name)
}

fn type_display(rtype: RecordType) -> String {
    match rtype {
        RecordType::Unknown(code) => format!("TYPE{code}"),
        known => known.to_string(),
    }
}

/// `rdata[0]` is the `\#` token.
fn decode_generic(text: &str, type_tok: &Token, rdata: &[Item]) -> Result<RData, (usize, String)> {
    let type_text = &text[type_tok.start..type_tok.end];
    let code = type_code(type_text)
        .ok_or_else(|| (type_tok.line, format!("unknown record type {type_text:?}")))?;
    // RFC 6895: 0 is reserved, OPT and 128-255 are meta/query types; none belongs in a zone.
    if code == 0 || code == 41 || (128..=255).contains(&code) {
        return Err((
            type_tok.line,
            format!("record type {type_text} ({code}) cannot appear in a zone file"),
        ));
    }
    let Some(len_item) = rdata.get(1) else {
        return Err((
            rdata.first().map_or(type_tok.line, |i| i.line),
            "RFC 3597 generic rdata: missing length after \\#".into(),
        ));
    };
    let len_text = &text[len_item.start..len_item.end];
    let length = (!len_item.quoted && len_text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| len_text.parse::<u16>().ok())
        .flatten()
        .ok_or_else(|| {
            (
                len_item.line,
                format!("RFC 3597 generic rdata: invalid length {len_text:?}"),
            )
        })?;
    let mut bytes = Vec::with_capacity(usize::from(length));
    // RFC 3597 lets the hex be split anywhere, even inside a byte.
    let mut pending: Option<u8> = None;
    for item in &rdata[2..] {
        let hex = &text[item.start..item.end];
        if item.quoted {
            return Err((
                item.line,
                format!("RFC 3597 generic rdata: invalid hex {hex:?}"),
            ));
        }
        for c in hex.chars() {
            let nibble = c.to_digit(16).ok_or_else(|| {
                (
                    item.line,
                    format!("RFC 3597 generic rdata: invalid hex {hex:?}"),
                )
            })? as u8;
            match pending.take() {
                Some(high) => bytes.push(high << 4 | nibble),
                None => pending = Some(nibble),
            }
        }
    }
    let last_line = rdata.last().map_or(type_tok.line, |i| i.line);
    if pending.is_some() {
        return Err((
            last_line,
            "RFC 3597 generic rdata: odd number of hex digits".into(),
        ));
    }
    if bytes.len() != usize::from(length) {
        return Err((
            len_item.line,
            format!(
                "RFC 3597 generic rdata: length {length} does not match {} bytes of hex data",
                bytes.len()
            ),
        ));
    }
    let rtype = RecordType::from(code);
    if let RecordType::Unknown(_) = rtype {
        // NULL::with debug-asserts on empty data; NULL::new is the empty form.
        let rdata = if bytes.is_empty() {
            NULL::new()
        } else {
            NULL::with(bytes)
        };
        return Ok(RData::Unknown { code: rtype, rdata });
    }
    let mut decoder = BinDecoder::new(&bytes);
    RData::read(&mut decoder, rtype, Restrict::new(length)).map_err(|e| {
        (
            type_tok.line,
            format!(
                "cannot decode {} from RFC 3597 generic rdata: {e}",
                type_display(rtype)
            ),
        )
    })
}

/// Swaps placeholders for their real rdata. Converted records go through the same
/// insert rules hickory uses (duplicates merge, one CNAME, one SOA) since hickory
/// never saw their real type.
pub(super) fn restore(
    map: BTreeMap<RrKey, RecordSet>,
    pre: &Preprocessed,
) -> Result<Vec<Record>, (usize, String)> {
    if pre.generics.is_empty() {
        // Nothing to swap: hickory's sets are the result as they are (and rebuilding
        // the map costs a quarter of loading a 100,000-name file).
        return Ok(map.into_values().flatten().collect());
    }
    let mut sets: BTreeMap<RrKey, RecordSet> = BTreeMap::new();
    let mut converted = Vec::new();
    for record in map.into_values().flatten() {
        match placeholder(&record, pre) {
            Some(generic) => {
                let mut record = record;
                record.data = generic.rdata.clone();
                converted.push((record, generic.line));
            }
            None => {
                // Already accepted by hickory, so the SOA rule cannot trip here.
                let _ = insert(&mut sets, record);
            }
        }
    }
    for (record, line) in converted {
        insert(&mut sets, record).map_err(|m| (line, m))?;
    }
    Ok(sets.into_values().flatten().collect())
}

fn placeholder<'p>(record: &Record, pre: &'p Preprocessed) -> Option<&'p Generic> {
    let RData::TXT(txt) = &record.data else {
        return None;
    };
    let [only] = &txt.txt_data[..] else {
        return None;
    };
    let index = std::str::from_utf8(only)
        .ok()?
        .strip_prefix(pre.marker.as_str())?
        .parse::<usize>()
        .ok()?;
    pre.generics.get(index)
}

fn insert(sets: &mut BTreeMap<RrKey, RecordSet>, record: Record) -> Result<(), String> {
    let key = RrKey::new(LowerName::new(&record.name), record.record_type());
    match sets.entry(key) {
        MapEntry::Vacant(e) => {
            e.insert(RecordSet::from(record));
        }
        MapEntry::Occupied(_) if record.record_type() == RecordType::SOA => {
            return Err("SOA is already specified".into());
        }
        MapEntry::Occupied(mut e) => {
            e.get_mut().insert(record, 0);
        }
    }
    Ok(())
}
