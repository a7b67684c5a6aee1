//! Domain names in presentation form to uncompressed wire form, case kept: `@`, relative
//! names completed with the origin, `\.` and `\DDD` (decimal, RFC 1035 section 5.1).

use super::errors::{lossy, SyntaxError};
use super::lexer::Token;

/// Appends the wire form of the name in `token` to `out`. `origin` is in wire form.
pub(super) fn parse_name(
    text: &[u8],
    token: &Token,
    origin: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), SyntaxError> {
    let src = &text[token.start..token.end];
    if token.quoted {
        return Err(SyntaxError::QuotedName(lossy(src)));
    }
    let base = out.len();
    let result = encode(src, origin, out);
    if result.is_err() {
        out.truncate(base);
    }
    result
}

fn encode(src: &[u8], origin: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
    let base = out.len();
    if src == b"@" {
        let origin = origin.ok_or_else(|| SyntaxError::NoOrigin(lossy(src)))?;
        out.extend_from_slice(origin);
        return Ok(());
    }
    if src == b"." {
        out.push(0);
        return Ok(());
    }
    let mut label = out.len();
    out.push(0);
    let mut absolute = false;
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        i += 1;
        match c {
            b'.' => {
                close_label(src, out, label)?;
                if i == src.len() {
                    absolute = true;
                } else {
                    label = out.len();
                    out.push(0);
                }
            }
            b'\\' => {
                let Some(&next) = src.get(i) else {
                    return Err(SyntaxError::BadEscape(lossy(src)));
                };
                if next.is_ascii_digit() {
                    let digits = src
                        .get(i..i + 3)
                        .filter(|d| d.iter().all(u8::is_ascii_digit))
                        .ok_or_else(|| SyntaxError::BadEscape(lossy(src)))?;
                    let value = digits
                        .iter()
                        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
                    let byte =
                        u8::try_from(value).map_err(|_| SyntaxError::BadEscape(lossy(src)))?;
                    out.push(byte);
                    i += 3;
                } else {
                    out.push(next);
                    i += 1;
                }
            }
            c => out.push(c),
        }
    }
    if absolute {
        out.push(0);
    } else {
        close_label(src, out, label)?;
        let origin = origin.ok_or_else(|| SyntaxError::NoOrigin(lossy(src)))?;
        out.extend_from_slice(origin);
    }
    if out.len() - base > 255 {
        return Err(SyntaxError::NameTooLong(lossy(src)));
    }
    Ok(())
}

/// Writes the length byte of the label that starts at `label`.
fn close_label(src: &[u8], out: &mut [u8], label: usize) -> Result<(), SyntaxError> {
    let len = out.len() - label - 1;
    if len == 0 {
        return Err(SyntaxError::EmptyLabel(lossy(src)));
    }
    if len > 63 {
        return Err(SyntaxError::LabelTooLong(lossy(src)));
    }
    out[label] = len as u8;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &[u8] = b"\x07example\x03com\x00";

    fn wire(s: &str, origin: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let token = Token {
            start: 0,
            end: s.len(),
            line: 1,
            quoted: false,
        };
        let mut out = b"keep".to_vec();
        let r = parse_name(s.as_bytes(), &token, origin, &mut out);
        match r {
            Ok(()) => Ok(out[4..].to_vec()),
            Err(e) => {
                assert_eq!(out, b"keep", "a failed name leaves nothing behind");
                Err(e.to_string())
            }
        }
    }

    #[test]
    fn relative_absolute_at_and_root() {
        assert_eq!(
            wire("WwW", Some(ORIGIN)).unwrap(),
            b"\x03WwW\x07example\x03com\x00"
        );
        assert_eq!(wire("a.b.", Some(ORIGIN)).unwrap(), b"\x01a\x01b\x00");
        assert_eq!(wire("@", Some(ORIGIN)).unwrap(), ORIGIN);
        assert_eq!(wire(".", Some(ORIGIN)).unwrap(), b"\x00");
        assert_eq!(wire("*.x.", None).unwrap(), b"\x01*\x01x\x00");
    }

    #[test]
    fn escapes_are_decimal_and_escape_dots() {
        assert_eq!(wire("a\\.b.", None).unwrap(), b"\x03a.b\x00");
        assert_eq!(wire("a\\046b\\255.", None).unwrap(), b"\x04a.b\xff\x00");
        assert_eq!(wire("\\\\x.", None).unwrap(), b"\x02\\x\x00");
        assert_eq!(
            wire("a\\256.", None).unwrap_err(),
            "invalid escape in name \"a\\\\256.\": \\DDD needs three digits, at most 255"
        );
        assert!(wire("a\\12.", None).unwrap_err().contains("three digits"));
    }

    #[test]
    fn bad_names() {
        assert_eq!(
            wire("a..b.", None).unwrap_err(),
            "empty label in name \"a..b.\""
        );
        let long = "x".repeat(64);
        assert_eq!(
            wire(&format!("{long}."), None).unwrap_err(),
            format!("label in name \"{long}.\" is longer than 63 octets")
        );
        let ok63 = format!("{}.", "x".repeat(63));
        assert_eq!(wire(&ok63, None).unwrap().len(), 65);
        // 4 labels of 63 = 256 octets with the root.
        let too_long = format!("{0}.{0}.{0}.{0}.", "y".repeat(63));
        assert_eq!(
            wire(&too_long, None).unwrap_err(),
            format!("name \"{too_long}\" is longer than 255 octets")
        );
        assert_eq!(
            wire("www", None).unwrap_err(),
            "relative name \"www\" but no origin: use an absolute name or put $ORIGIN before it"
        );
    }
}
