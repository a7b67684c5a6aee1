//! Native presentation-to-wire encoders for the common types (A, AAAA, NS, CNAME, PTR,
//! DNAME, MX, TXT, SPF, SRV, SOA, CAA) and RFC 3597 generic rdata for any type. The
//! output is what hickory emits for the same record, uncompressed and with the case of
//! names as written.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::{RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use super::errors::{lossy, SyntaxError};
use super::fields::{code, number, parse_ttl, type_name};
use super::lexer::Token;
use super::name::parse_name;

/// Where the tokens of one record's rdata are read from.
pub(super) struct Fields<'t> {
    pub(super) text: &'t [u8],
    pub(super) tokens: &'t [Token],
    pub(super) origin: Option<&'t [u8]>,
    /// The line of the type token, for errors about missing fields.
    pub(super) line: usize,
}

/// Encodes the rdata of a natively handled type into `out`; `Ok(false)` when `rtype`
/// is not one of them (the caller hands it to hickory). Errors carry their line.
pub(super) fn encode_native(
    rtype: u16,
    f: &Fields<'_>,
    out: &mut Vec<u8>,
) -> Result<bool, (usize, SyntaxError)> {
    let mut r = Reader {
        f,
        next: 0,
        rtype: static_name(rtype),
    };
    match rtype {
        code::A => {
            let t = r.next("address")?;
            let addr = parse_ip::<Ipv4Addr>(r.bytes(&t))
                .ok_or_else(|| (t.line, SyntaxError::BadIpv4(lossy(r.bytes(&t)))))?;
            out.extend_from_slice(&addr.octets());
        }
        code::AAAA => {
            let t = r.next("address")?;
            let addr = parse_ip::<Ipv6Addr>(r.bytes(&t))
                .ok_or_else(|| (t.line, SyntaxError::BadIpv6(lossy(r.bytes(&t)))))?;
            out.extend_from_slice(&addr.octets());
        }
        code::NS | code::CNAME | code::PTR | code::DNAME => r.name("target", out)?,
        code::MX => {
            r.u16("preference", out)?;
            r.name("exchange", out)?;
        }
        code::SRV => {
            r.u16("priority", out)?;
            r.u16("weight", out)?;
            r.u16("port", out)?;
            r.name("target", out)?;
        }
        code::SOA => {
            r.name("mname", out)?;
            r.name("rname", out)?;
            // hickory reads all five with TTL units; refresh, retry and expire are i32.
            for (what, max) in [
                ("serial", u32::MAX),
                ("refresh", i32::MAX as u32),
                ("retry", i32::MAX as u32),
                ("expire", i32::MAX as u32),
                ("minimum", u32::MAX),
            ] {
                let t = r.next(what)?;
                let value = parse_ttl(r.bytes(&t))
                    .filter(|v| *v <= max)
                    .ok_or_else(|| {
                        let e = SyntaxError::BadNumber {
                            what,
                            text: lossy(r.bytes(&t)),
                            max: u64::from(max),
                        };
                        (t.line, e)
                    })?;
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        code::TXT | code::SPF => {
            if f.tokens.is_empty() {
                return Err((f.line, SyntaxError::EmptyTxt));
            }
            for t in f.tokens {
                let data = string_bytes(f.text, t);
                // A character-string holds 255 octets; longer text is split, as the
                // TOML `txt` entries are.
                for chunk in data.chunks(255) {
                    out.push(chunk.len() as u8);
                    out.extend_from_slice(chunk);
                }
                if data.is_empty() {
                    out.push(0);
                }
            }
            r.next = f.tokens.len();
        }
        code::CAA => {
            let flags = r.next("flags")?;
            let value = number(r.bytes(&flags), "CAA flags", 255).map_err(|e| (flags.line, e))?;
            out.push(value as u8);
            let tag = r.next("tag")?;
            let tag_bytes = string_bytes(f.text, &tag);
            if tag_bytes.is_empty()
                || tag_bytes.len() > 15
                || !tag_bytes.iter().all(u8::is_ascii_alphanumeric)
            {
                return Err((tag.line, SyntaxError::BadCaaTag(lossy(&tag_bytes))));
            }
            out.push(tag_bytes.len() as u8);
            out.extend_from_slice(&tag_bytes);
            let value = r.next("value")?;
            out.extend_from_slice(&string_bytes(f.text, &value));
        }
        _ => return Ok(false),
    }
    r.finish()?;
    Ok(true)
}

/// Whether the rdata is in RFC 3597 generic form (`\# <length> <hex>...`).
pub(super) fn is_generic(text: &[u8], tokens: &[Token]) -> bool {
    tokens
        .first()
        .is_some_and(|t| !t.quoted && &text[t.start..t.end] == b"\\#")
}

/// Decodes generic rdata into `out`. For a type hickory knows, the bytes must decode
/// as that type; they are then re-encoded, so a compression pointer in the hex does
/// not reach the store.
pub(super) fn encode_generic(
    rtype: u16,
    f: &Fields<'_>,
    out: &mut Vec<u8>,
) -> Result<(), (usize, SyntaxError)> {
    let Some(len_tok) = f.tokens.get(1) else {
        return Err((f.tokens[0].line, SyntaxError::GenericNoLength));
    };
    let len_text = &f.text[len_tok.start..len_tok.end];
    let length = (!len_tok.quoted)
        .then(|| number(len_text, "length", 65535).ok())
        .flatten()
        .ok_or_else(|| (len_tok.line, SyntaxError::GenericBadLength(lossy(len_text))))?;
    let base = out.len();
    // RFC 3597 lets the hex be split anywhere, even inside a byte.
    let mut pending: Option<u8> = None;
    for t in &f.tokens[2..] {
        let hex = &f.text[t.start..t.end];
        let bad = || (t.line, SyntaxError::GenericBadHex(lossy(hex)));
        if t.quoted {
            return Err(bad());
        }
        for &c in hex {
            let nibble = (c as char).to_digit(16).ok_or_else(bad)? as u8;
            match pending.take() {
                Some(high) => out.push(high << 4 | nibble),
                None => pending = Some(nibble),
            }
        }
    }
    if pending.is_some() {
        let line = f.tokens.last().map_or(f.line, |t| t.line);
        return Err((line, SyntaxError::GenericOddHex));
    }
    let got = out.len() - base;
    if got as u64 != length {
        return Err((len_tok.line, SyntaxError::GenericLength(length as u16, got)));
    }
    let record_type = RecordType::from(rtype);
    if matches!(record_type, RecordType::Unknown(_)) {
        return Ok(());
    }
    let bytes = out.split_off(base);
    let mut decoder = BinDecoder::new(&bytes);
    let decode_error = |e: String| {
        (
            f.line,
            SyntaxError::GenericDecode(type_name(rtype), e.to_string()),
        )
    };
    let rdata = RData::read(&mut decoder, record_type, Restrict::new(length as u16))
        .map_err(|e| decode_error(e.to_string()))?;
    if !decoder.is_empty() {
        return Err(decode_error(format!("{} bytes left over", decoder.len())));
    }
    super::fallback::emit_rdata(&rdata, out).map_err(decode_error)
}

struct Reader<'f, 't> {
    f: &'f Fields<'t>,
    next: usize,
    rtype: &'static str,
}

impl Reader<'_, '_> {
    fn next(&mut self, what: &'static str) -> Result<Token, (usize, SyntaxError)> {
        let t = self.f.tokens.get(self.next).copied().ok_or_else(|| {
            let line = self.f.tokens.last().map_or(self.f.line, |t| t.line);
            let rtype = self.rtype;
            (line, SyntaxError::MissingField { rtype, what })
        })?;
        self.next += 1;
        Ok(t)
    }

    fn bytes(&self, t: &Token) -> &[u8] {
        &self.f.text[t.start..t.end]
    }

    fn name(&mut self, what: &'static str, out: &mut Vec<u8>) -> Result<(), (usize, SyntaxError)> {
        let t = self.next(what)?;
        parse_name(self.f.text, &t, self.f.origin, out).map_err(|e| (t.line, e))
    }

    fn u16(&mut self, what: &'static str, out: &mut Vec<u8>) -> Result<(), (usize, SyntaxError)> {
        let t = self.next(what)?;
        let value = number(self.bytes(&t), what, 65535).map_err(|e| (t.line, e))?;
        out.extend_from_slice(&(value as u16).to_be_bytes());
        Ok(())
    }

    fn finish(&self) -> Result<(), (usize, SyntaxError)> {
        match self.f.tokens.get(self.next) {
            None => Ok(()),
            Some(t) => Err((
                t.line,
                SyntaxError::ExtraField {
                    rtype: self.rtype,
                    extra: lossy(self.bytes(t)),
                },
            )),
        }
    }
}

fn static_name(rtype: u16) -> &'static str {
    match rtype {
        code::A => "A",
        code::AAAA => "AAAA",
        code::NS => "NS",
        code::CNAME => "CNAME",
        code::PTR => "PTR",
        code::DNAME => "DNAME",
        code::MX => "MX",
        code::SRV => "SRV",
        code::SOA => "SOA",
        code::TXT => "TXT",
        code::SPF => "SPF",
        code::CAA => "CAA",
        _ => "rdata",
    }
}

fn parse_ip<T: std::str::FromStr>(s: &[u8]) -> Option<T> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// The bytes of a character-string. A quoted string has its escapes resolved (`\X` is
/// X, `\DDD` the decimal octet); an unquoted one is taken as written, as hickory's
/// lexer does (so `TXT a\#b` keeps its backslash).
pub(super) fn string_bytes(text: &[u8], t: &Token) -> Vec<u8> {
    let raw = &text[t.start..t.end];
    if !t.quoted || !raw.contains(&b'\\') {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        i += 1;
        if c != b'\\' || i == raw.len() {
            out.push(c);
            continue;
        }
        let digits = raw
            .get(i..i + 3)
            .filter(|d| d.iter().all(u8::is_ascii_digit));
        match digits.map(|d| d.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'))) {
            Some(value) if value <= 255 => {
                out.push(value as u8);
                i += 3;
            }
            _ => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    out
}
