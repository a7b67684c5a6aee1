//! Splitting master-file bytes into entries (RFC 1035 section 5.1): one line, or several
//! joined by parentheses or a quoted string, each a list of tokens that point into the
//! text. Escapes are left in the tokens for the name and rdata parsers to read, since
//! what `\X` means depends on where the token is used.

use super::errors::{Located, SyntaxError};

/// A token's bytes are `text[start..end]`; a quoted token excludes its quotes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Token {
    pub(super) start: usize,
    pub(super) end: usize,
    /// 1-based line where the token starts.
    pub(super) line: usize,
    pub(super) quoted: bool,
}

/// One entry; reused from entry to entry so a file of a million lines allocates once.
#[derive(Default)]
pub(super) struct Entry {
    pub(super) line: usize,
    pub(super) last_line: usize,
    /// The entry starts with a blank: its owner is the previous record's.
    pub(super) blank_owner: bool,
    pub(super) tokens: Vec<Token>,
}

pub(super) struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// Reads the next entry into `entry`; false at the end of the text. An entry may
    /// have no tokens (a blank or comment line).
    pub(super) fn next_entry(&mut self, entry: &mut Entry) -> Result<bool, Located> {
        let text = self.text;
        if self.pos >= text.len() {
            return Ok(false);
        }
        entry.tokens.clear();
        entry.line = self.line;
        entry.blank_owner = matches!(text[self.pos], b' ' | b'\t');
        let mut depth = 0usize;
        let mut opened = 0;
        let mut ended_by_newline = false;
        while self.pos < text.len() {
            let c = text[self.pos];
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    if depth == 0 {
                        ended_by_newline = true;
                        break;
                    }
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b';' => {
                    self.pos += memchr(b'\n', &text[self.pos..]).unwrap_or(text.len() - self.pos);
                }
                b'(' => {
                    if depth == 0 {
                        opened = self.line;
                    }
                    depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    if depth == 0 {
                        return Err(SyntaxError::UnbalancedParen.at(self.line));
                    }
                    depth -= 1;
                    self.pos += 1;
                }
                b'"' => {
                    let token = self.quoted()?;
                    entry.tokens.push(token);
                }
                c if is_control(c) => return Err(SyntaxError::ControlChar(c).at(self.line)),
                _ => {
                    let token = self.word()?;
                    entry.tokens.push(token);
                }
            }
        }
        if depth > 0 {
            return Err(SyntaxError::UnterminatedParen { opened }.at(opened));
        }
        entry.last_line = if ended_by_newline {
            self.line - 1
        } else {
            self.line
        };
        Ok(true)
    }

    fn word(&mut self) -> Result<Token, Located> {
        let text = self.text;
        let (start, line) = (self.pos, self.line);
        while self.pos < text.len() {
            match text[self.pos] {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' => break,
                b'\\' => {
                    // The escaped byte is never a delimiter; `\DDD` digits are ordinary.
                    if text.get(self.pos + 1) == Some(&b'\n') {
                        self.line += 1;
                    }
                    self.pos = (self.pos + 2).min(text.len());
                }
                c if is_control(c) => return Err(SyntaxError::ControlChar(c).at(self.line)),
                _ => self.pos += 1,
            }
        }
        Ok(Token {
            start,
            end: self.pos,
            line,
            quoted: false,
        })
    }

    /// A quoted string may span lines (RFC 1035: text literals can contain CRLF).
    fn quoted(&mut self) -> Result<Token, Located> {
        let text = self.text;
        let line = self.line;
        self.pos += 1;
        let start = self.pos;
        while self.pos < text.len() {
            match text[self.pos] {
                b'"' => {
                    let token = Token {
                        start,
                        end: self.pos,
                        line,
                        quoted: true,
                    };
                    self.pos += 1;
                    return Ok(token);
                }
                b'\\' => {
                    if text.get(self.pos + 1) == Some(&b'\n') {
                        self.line += 1;
                    }
                    self.pos += 2;
                }
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        Err(SyntaxError::UnterminatedQuote.at(line))
    }
}

fn is_control(c: u8) -> bool {
    (c < 0x20 && c != b'\t' && c != b'\n' && c != b'\r') || c == 0x7f
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(usize, usize, bool, Vec<String>)> {
        let mut lexer = Lexer::new(text.as_bytes());
        let mut entry = Entry::default();
        let mut out = Vec::new();
        while lexer.next_entry(&mut entry).unwrap() {
            let tokens = entry
                .tokens
                .iter()
                .map(|t| {
                    let s = &text[t.start..t.end];
                    if t.quoted {
                        format!("\"{s}\"@{}", t.line)
                    } else {
                        format!("{s}@{}", t.line)
                    }
                })
                .collect();
            out.push((entry.line, entry.last_line, entry.blank_owner, tokens));
        }
        out
    }

    #[test]
    fn parentheses_and_quotes_join_lines_and_comments_vanish() {
        let text = "a IN SOA x y ( 1 ; serial\n 2 )\n\t\"q;(\" b\\ c ; c\n\"multi\nline\" z";
        let got = entries(text);
        assert_eq!(
            got,
            vec![
                (
                    1,
                    2,
                    false,
                    ["a@1", "IN@1", "SOA@1", "x@1", "y@1", "1@1", "2@2"]
                        .map(String::from)
                        .to_vec()
                ),
                (
                    3,
                    3,
                    true,
                    ["\"q;(\"@3", "b\\ c@3"].map(String::from).to_vec()
                ),
                (
                    4,
                    5,
                    false,
                    ["\"multi\nline\"@4", "z@5"].map(String::from).to_vec()
                ),
            ]
        );
    }

    #[test]
    fn lexical_errors_carry_their_line() {
        let err = |text: &str| {
            let mut lexer = Lexer::new(text.as_bytes());
            let mut entry = Entry::default();
            loop {
                match lexer.next_entry(&mut entry) {
                    Ok(true) => continue,
                    Ok(false) => panic!("no error in {text:?}"),
                    Err(e) => return (e.line, e.error.to_string()),
                }
            }
        };
        assert_eq!(
            err("a A 1.2.3.4\nb TXT \"open\n\n"),
            (2, "unterminated quoted string".into())
        );
        assert_eq!(
            err("\n\na SOA ( 1\n 2\n"),
            (
                3,
                "unterminated parenthesis: '(' on line 3 has no ')'".into()
            )
        );
        assert_eq!(err("a A 1 )\n"), (1, "')' without a matching '('".into()));
        assert_eq!(
            err("a\nb A \x01\n"),
            (2, "control character 0x01 outside a quoted string".into())
        );
    }
}
