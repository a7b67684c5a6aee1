//! Splitting master-file text into entries and tokens the way hickory's lexer does, so
//! the generic-record rewrite and error location can point at the same entries hickory
//! parses.

use std::str::FromStr;

use hickory_proto::rr::DNSClass;
use hickory_proto::serialize::txt::parse_ttl;

/// The shape of a resource-record entry, found the way hickory's parser finds it:
/// after the owner (or leading blank), tokens are TTLs or classes until the first
/// that is neither; that one is the type, and the rest is rdata.
pub(super) struct Rr<'e> {
    pub(super) type_tok: &'e Token,
    pub(super) rdata: Vec<Item>,
}

pub(super) fn analyze<'e>(text: &str, entry: &'e Entry) -> Option<Rr<'e>> {
    if entry.malformed {
        // hickory will reject it; leave it as written so its error is about the text.
        return None;
    }
    let mut tokens = entry.tokens.iter();
    match tokens.next()?.kind {
        Kind::Blank | Kind::At | Kind::Word | Kind::Quoted => {}
        Kind::Dollar | Kind::List => return None,
    }
    let type_tok = loop {
        let t = tokens.next()?;
        if t.kind != Kind::Word {
            return None;
        }
        let s = &text[t.start..t.end];
        if parse_ttl(s).is_err() && DNSClass::from_str(&s.to_ascii_uppercase()).is_err() {
            break t;
        }
    };
    let mut rdata = Vec::new();
    for t in tokens {
        match t.kind {
            Kind::Word | Kind::Quoted => rdata.push(Item {
                start: t.start,
                end: t.end,
                line: t.line,
                quoted: t.kind == Kind::Quoted,
            }),
            Kind::List => rdata.extend(t.items.iter().copied()),
            Kind::Blank | Kind::At | Kind::Dollar => return None,
        }
    }
    Some(Rr { type_tok, rdata })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Blank,
    At,
    Dollar,
    Word,
    Quoted,
    List,
}

/// Byte offsets into the scanned text; `line` is 1-based, where the token starts.
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) line: usize,
    pub(super) items: Vec<Item>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Item {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) line: usize,
    pub(super) quoted: bool,
}

/// One master-file entry: a line, or several when a list or quoted string spans them.
pub(super) struct Entry {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) line: usize,
    pub(super) last_line: usize,
    pub(super) tokens: Vec<Token>,
    /// Something hickory's lexer rejects.
    pub(super) malformed: bool,
}

/// Splits text into entries with the same rules as hickory's lexer (zone_lex.rs),
/// so entry boundaries and token positions agree with what hickory parses. Notably,
/// quotes are only special at the start of a token outside parentheses; inside
/// parentheses hickory treats `"` as an ordinary character.
pub(super) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn token(&self, kind: Kind, start: usize, line: usize) -> Token {
        Token {
            kind,
            start,
            end: self.pos,
            line,
            items: Vec::new(),
        }
    }

    fn skip_comment(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    /// Returns false where hickory would fail.
    fn word(&mut self, in_list: bool) -> bool {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ';' {
                return true;
            }
            if c == ')' {
                return in_list;
            }
            if c.is_control() {
                return false;
            }
            self.bump();
        }
        true
    }

    fn quoted(&mut self) -> bool {
        self.bump();
        let mut ok = true;
        loop {
            match self.bump() {
                None => return false,
                Some('"') => return ok,
                Some('\\') => match self.peek() {
                    // hickory reads \DDD as exactly three digits.
                    Some(d) if d.is_numeric() => {
                        for _ in 0..3 {
                            ok &= self.bump().is_some_and(|c| c.is_ascii_digit());
                        }
                    }
                    Some(c) => {
                        ok &= !c.is_control();
                        self.bump();
                    }
                    None => return false,
                },
                Some(_) => {}
            }
        }
    }

    fn list(&mut self) -> (Vec<Item>, bool) {
        self.bump();
        let mut items = Vec::new();
        let mut ok = true;
        loop {
            let Some(c) = self.peek() else {
                return (items, false);
            };
            match c {
                ';' => self.skip_comment(),
                ')' => {
                    self.bump();
                    return (items, ok);
                }
                c if c.is_whitespace() => {
                    self.bump();
                }
                c if c.is_control() => {
                    self.bump();
                    ok = false;
                }
                _ => {
                    let (start, line) = (self.pos, self.line);
                    ok &= self.word(true);
                    items.push(Item {
                        start,
                        end: self.pos,
                        line,
                        quoted: false,
                    });
                }
            }
        }
    }
}

impl Iterator for Scanner<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.pos >= self.text.len() {
            return None;
        }
        let (start, line) = (self.pos, self.line);
        let mut tokens = Vec::new();
        let mut malformed = false;
        // Leading whitespace means "same owner as the previous record".
        if let Some(c) = self.peek() {
            if c != '\r' && c != '\n' && c.is_whitespace() {
                self.bump();
                tokens.push(self.token(Kind::Blank, start, line));
            }
        }
        while let Some(c) = self.peek() {
            let (tstart, tline) = (self.pos, self.line);
            match c {
                '\n' => {
                    self.bump();
                    break;
                }
                ';' => self.skip_comment(),
                '@' => {
                    self.bump();
                    tokens.push(self.token(Kind::At, tstart, tline));
                }
                '$' => {
                    self.bump();
                    while self.peek().is_some_and(|c| c.is_ascii_uppercase()) {
                        self.bump();
                    }
                    tokens.push(self.token(Kind::Dollar, tstart, tline));
                }
                '"' => {
                    malformed |= !self.quoted();
                    tokens.push(self.token(Kind::Quoted, tstart, tline));
                }
                '(' => {
                    let (items, ok) = self.list();
                    malformed |= !ok;
                    let mut token = self.token(Kind::List, tstart, tline);
                    token.items = items;
                    tokens.push(token);
                }
                c if c.is_whitespace() => {
                    self.bump();
                }
                c if c.is_control() || c == ')' => {
                    self.bump();
                    malformed = true;
                }
                _ => {
                    malformed |= !self.word(false);
                    tokens.push(self.token(Kind::Word, tstart, tline));
                }
            }
        }
        Some(Entry {
            start,
            end: self.pos,
            line,
            last_line: if self.text[start..self.pos].ends_with('\n') {
                self.line - 1
            } else {
                self.line
            },
            tokens,
            malformed,
        })
    }
}
