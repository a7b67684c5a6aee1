//! The small fields of a record: TTLs with units, classes, type mnemonics and numbers.

use std::str::FromStr;

use hickory_proto::rr::RecordType;

use super::errors::{lossy, SyntaxError};

pub(super) mod code {
    pub(crate) const A: u16 = 1;
    pub(crate) const NS: u16 = 2;
    pub(crate) const CNAME: u16 = 5;
    pub(crate) const SOA: u16 = 6;
    pub(crate) const PTR: u16 = 12;
    pub(crate) const MX: u16 = 15;
    pub(crate) const TXT: u16 = 16;
    pub(crate) const AAAA: u16 = 28;
    pub(crate) const SRV: u16 = 33;
    pub(crate) const DNAME: u16 = 39;
    pub(crate) const SPF: u16 = 99;
    pub(crate) const CAA: u16 = 257;
}

/// A TTL as hickory's `parse_ttl` reads it: digits, optionally in units (`1h30m`, `1w`);
/// a trailing bare number counts as seconds.
pub(super) fn parse_ttl(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let (mut total, mut number, mut digits) = (0u32, 0u32, false);
    for &c in s {
        if c.is_ascii_digit() {
            number = number.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
            digits = true;
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3_600,
            b'd' => 86_400,
            b'w' => 604_800,
            _ => return None,
        };
        if !digits {
            return None;
        }
        total = total.checked_add(number.checked_mul(unit)?)?;
        (number, digits) = (0, false);
    }
    total.checked_add(number)
}

/// The classes hickory knows, and RFC 3597's `CLASSnnn`.
pub(super) fn parse_class(s: &[u8]) -> Option<u16> {
    const CLASSES: [(&[u8], u16); 6] = [
        (b"IN", 1),
        (b"CH", 3),
        (b"HS", 4),
        (b"NONE", 254),
        (b"ANY", 255),
        (b"*", 255),
    ];
    match CLASSES
        .iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
    {
        Some((_, class)) => Some(*class),
        None => numbered(s, b"CLASS"),
    }
}

/// The type code of a mnemonic or of RFC 3597's `TYPEnnn`.
pub(super) fn parse_type(s: &[u8]) -> Result<u16, SyntaxError> {
    let unknown = || SyntaxError::UnknownType(lossy(s));
    // The common types without allocating: this runs once per record.
    const NATIVE: [(&[u8], u16); 12] = [
        (b"A", code::A),
        (b"NS", code::NS),
        (b"CNAME", code::CNAME),
        (b"SOA", code::SOA),
        (b"PTR", code::PTR),
        (b"MX", code::MX),
        (b"TXT", code::TXT),
        (b"AAAA", code::AAAA),
        (b"SRV", code::SRV),
        (b"DNAME", code::DNAME),
        (b"SPF", code::SPF),
        (b"CAA", code::CAA),
    ];
    if let Some((_, code)) = NATIVE.iter().find(|(name, _)| s.eq_ignore_ascii_case(name)) {
        return Ok(*code);
    }
    let upper = upper(s).ok_or_else(unknown)?;
    let code = match numbered(s, b"TYPE") {
        Some(code) => code,
        None => match RecordType::from_str(&upper) {
            Ok(RecordType::Unknown(_)) | Err(_) => return Err(unknown()),
            Ok(known) => u16::from(known),
        },
    };
    // RFC 6895: 0 is reserved, OPT and 128-255 are meta and query types.
    if code == 0 || code == 41 || (128..=255).contains(&code) {
        return Err(SyntaxError::MetaType(lossy(s), code));
    }
    Ok(code)
}

/// How a type is named in messages and in the text handed to hickory.
pub(super) fn type_name(code: u16) -> String {
    match RecordType::from(code) {
        RecordType::Unknown(_) => format!("TYPE{code}"),
        known => known.to_string(),
    }
}

fn upper(s: &[u8]) -> Option<String> {
    std::str::from_utf8(s).ok().map(str::to_ascii_uppercase)
}

fn numbered(s: &[u8], prefix: &[u8]) -> Option<u16> {
    if s.len() <= prefix.len() || !s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    let digits = &s[prefix.len()..];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// An unsigned decimal field no larger than `max`.
pub(super) fn number(s: &[u8], what: &'static str, max: u64) -> Result<u64, SyntaxError> {
    let bad = || SyntaxError::BadNumber {
        what,
        text: lossy(s),
        max,
    };
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let value = s
        .iter()
        .try_fold(0u64, |v, d| {
            v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or_else(bad)?;
    if value > max {
        return Err(bad());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::serialize::txt::parse_ttl as hickory_ttl;

    #[test]
    fn ttl_matches_hickory() {
        for s in [
            "0",
            "3600",
            "1h30m",
            "1w",
            "2D",
            "1h30",
            "4294967295",
            "4294967296",
            "h",
            "1x",
            "",
            "1hh",
            "99999w",
            "-1",
        ] {
            assert_eq!(parse_ttl(s.as_bytes()), hickory_ttl(s).ok(), "{s:?}");
        }
    }

    #[test]
    fn types_and_classes() {
        assert_eq!(parse_type(b"a").unwrap(), 1);
        assert_eq!(parse_type(b"Type65280").unwrap(), 65280);
        assert_eq!(parse_type(b"DS").unwrap(), 43);
        assert_eq!(parse_type(b"TYPE1").unwrap(), 1);
        assert_eq!(
            parse_type(b"BOGUS").unwrap_err().to_string(),
            "unknown record type \"BOGUS\""
        );
        assert_eq!(
            parse_type(b"TYPE65536").unwrap_err().to_string(),
            "unknown record type \"TYPE65536\""
        );
        assert_eq!(
            parse_type(b"AXFR").unwrap_err().to_string(),
            "record type AXFR (252) cannot appear in a zone file"
        );
        assert_eq!(parse_class(b"in"), Some(1));
        assert_eq!(parse_class(b"CLASS7"), Some(7));
        assert_eq!(parse_class(b"A"), None);
        assert_eq!(type_name(43), "DS");
        assert_eq!(type_name(65280), "TYPE65280");
    }
}
