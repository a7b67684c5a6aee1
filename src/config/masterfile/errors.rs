//! What can be wrong in a master file, each with the message an operator reads after
//! `file:line:`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub(super) enum SyntaxError {
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("unterminated parenthesis: '(' on line {opened} has no ')'")]
    UnterminatedParen { opened: usize },
    #[error("')' without a matching '('")]
    UnbalancedParen,
    #[error("control character 0x{0:02x} outside a quoted string")]
    ControlChar(u8),
    #[error("unknown directive {0}")]
    UnknownDirective(String),
    #[error("{0} needs an argument")]
    MissingArgument(&'static str),
    #[error("unexpected {0:?} after {1}")]
    TrailingToken(String, &'static str),
    #[error("the first record has no owner name (a line starting with a blank repeats the previous owner)")]
    NoOwner,
    #[error("no record type after the owner, TTL and class")]
    MissingType,
    #[error("unknown record type {0:?}")]
    UnknownType(String),
    #[error("{0} is not a type this server can read in presentation form: write its rdata in RFC 3597 generic form, `\\# <length> <hex>`")]
    NeedsGeneric(String),
    #[error("record type {0} ({1}) cannot appear in a zone file")]
    MetaType(String, u16),
    #[error("invalid TTL {0:?}")]
    BadTtl(String),
    #[error("no TTL for this record: give it one, or put $TTL before it")]
    NoTtl,
    #[error("relative name {0:?} but no origin: use an absolute name or put $ORIGIN before it")]
    NoOrigin(String),
    #[error("empty label in name {0:?}")]
    EmptyLabel(String),
    #[error("label in name {0:?} is longer than 63 octets")]
    LabelTooLong(String),
    #[error("name {0:?} is longer than 255 octets")]
    NameTooLong(String),
    #[error("invalid escape in name {0:?}: \\DDD needs three digits, at most 255")]
    BadEscape(String),
    #[error("a name cannot be a quoted string: {0:?}")]
    QuotedName(String),
    #[error("invalid IPv4 address {0:?}")]
    BadIpv4(String),
    #[error("invalid IPv6 address {0:?}")]
    BadIpv6(String),
    #[error("invalid {what} {text:?}: expected a number from 0 to {max}")]
    BadNumber {
        what: &'static str,
        text: String,
        max: u64,
    },
    #[error("{rtype}: missing {what}")]
    MissingField {
        rtype: &'static str,
        what: &'static str,
    },
    #[error("{rtype}: unexpected {extra:?} after the last field")]
    ExtraField { rtype: &'static str, extra: String },
    #[error("invalid CAA tag {0:?}: 1 to 15 letters and digits")]
    BadCaaTag(String),
    #[error("TXT needs at least one string")]
    EmptyTxt,
    #[error("rdata is longer than 65535 octets")]
    RdataTooLong,
    #[error("RFC 3597 generic rdata: missing length after \\#")]
    GenericNoLength,
    #[error("RFC 3597 generic rdata: invalid length {0:?}")]
    GenericBadLength(String),
    #[error("RFC 3597 generic rdata: invalid hex {0:?}")]
    GenericBadHex(String),
    #[error("RFC 3597 generic rdata: odd number of hex digits")]
    GenericOddHex,
    #[error("RFC 3597 generic rdata: length {0} does not match {1} bytes of hex data")]
    GenericLength(u16, usize),
    #[error("cannot decode {0} from RFC 3597 generic rdata: {1}")]
    GenericDecode(String, String),
    #[error("cannot read $INCLUDE file {}: {err}", path.display())]
    Include { path: PathBuf, err: std::io::Error },
    #[error("$INCLUDE nested deeper than {0} files (does a file include itself?)")]
    IncludeDepth(usize),
    /// The sink refused the record.
    #[error("{0}")]
    Sink(String),
}

/// A syntax error and the line it is on.
#[derive(Debug)]
pub(super) struct Located {
    pub(super) line: usize,
    pub(super) error: SyntaxError,
}

impl SyntaxError {
    pub(super) fn at(self, line: usize) -> Located {
        Located { line, error: self }
    }
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
