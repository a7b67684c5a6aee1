//! The master-file state machine: directives, owner / TTL / class defaulting, and
//! dispatch of each record's rdata to the native encoders or to hickory's parser,
//! delivering every record to the sink in file order.

use std::path::{Path, PathBuf};

use hickory_proto::rr::RecordType;

use super::errors::{lossy, Located, SyntaxError};
use super::fallback::Batch;
use super::fields::{parse_class, parse_ttl, parse_type, type_name};
use super::lexer::{Entry, Lexer, Token};
use super::name::parse_name;
use super::rdata::{encode_generic, encode_native, is_generic, string_bytes, Fields};
use super::{MasterFileError, Sink, WireRecord};

/// hickory allows 256; a deeper chain is a loop in practice.
const MAX_INCLUDE_DEPTH: usize = 32;
/// Records handed to hickory at once.
const BATCH: usize = 256;
/// Bytes of native records held back behind a pending batch before it is parsed early.
const QUEUE_BYTES: usize = 1 << 20;

/// A record held back behind a pending hickory batch, so delivery stays in file order.
struct Queued {
    file: usize,
    line: usize,
    class: u16,
    rtype: u16,
    ttl: u32,
    owner: std::ops::Range<usize>,
    /// `None`: the rdata is the batch's answer `slot`.
    rdata: Option<std::ops::Range<usize>>,
    slot: usize,
}

pub(super) struct Loader<'s, S: Sink> {
    sink: &'s mut S,
    files: Vec<PathBuf>,
    origin: Option<Vec<u8>>,
    owner: Option<Vec<u8>>,
    class: u16,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    rdata: Vec<u8>,
    batch: Batch,
    queue: Vec<Queued>,
    queue_bytes: Vec<u8>,
    depth: usize,
}

impl<'s, S: Sink> Loader<'s, S> {
    pub(super) fn new(sink: &'s mut S, origin: Option<Vec<u8>>) -> Self {
        Self {
            sink,
            files: Vec::new(),
            origin,
            owner: None,
            class: 1,
            default_ttl: None,
            last_ttl: None,
            rdata: Vec::with_capacity(512),
            batch: Batch::default(),
            queue: Vec::new(),
            queue_bytes: Vec::new(),
            depth: 0,
        }
    }

    /// Loads `text` (read from `path`) and delivers what is still held back.
    pub(super) fn load(&mut self, text: &[u8], path: &Path) -> Result<(), MasterFileError> {
        self.files.push(path.to_path_buf());
        self.run(text, 0)?;
        self.flush()
    }

    fn run(&mut self, text: &[u8], file: usize) -> Result<(), MasterFileError> {
        let mut lexer = Lexer::new(text);
        let mut entry = Entry::default();
        loop {
            match lexer.next_entry(&mut entry) {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(Located { line, error }) => return Err(self.fail(file, line, None, error)),
            }
            if entry.tokens.is_empty() {
                continue;
            }
            if let Err(e) = self.entry(text, &entry, file) {
                return Err(match e {
                    Failure::Here(line, error) => {
                        let span =
                            (entry.last_line > entry.line).then_some((entry.line, entry.last_line));
                        self.fail(file, line, span, error)
                    }
                    Failure::Done(e) => e,
                });
            }
        }
    }

    /// The error to report: an earlier record still waiting for hickory may be the
    /// first error in the file, so the batch is parsed before giving this one.
    fn fail(
        &mut self,
        file: usize,
        line: usize,
        span: Option<(usize, usize)>,
        error: SyntaxError,
    ) -> MasterFileError {
        if let Err(earlier) = self.flush() {
            return earlier;
        }
        let mut message = error.to_string();
        if let Some((first, last)) = span {
            message = format!("{message} (in the record spanning lines {first}-{last})");
        }
        MasterFileError {
            file: self.files[file].clone(),
            line: Some(line),
            message,
        }
    }

    fn entry(&mut self, text: &[u8], entry: &Entry, file: usize) -> Result<(), Failure> {
        let tokens = &entry.tokens[..];
        let mut i = 0;
        if !entry.blank_owner {
            let first = &tokens[0];
            if !first.quoted && text[first.start] == b'$' {
                return self.directive(text, entry, file);
            }
            let mut owner = self.owner.take().unwrap_or_default();
            owner.clear();
            let parsed = parse_name(text, first, self.origin.as_deref(), &mut owner);
            self.owner = Some(owner);
            parsed.map_err(|e| Failure::Here(first.line, e))?;
            i = 1;
        } else if self.owner.is_none() {
            return Err(Failure::Here(entry.line, SyntaxError::NoOwner));
        }
        let mut ttl = None;
        let type_tok = loop {
            let Some(t) = tokens.get(i) else {
                let line = tokens.last().map_or(entry.line, |t| t.line);
                return Err(Failure::Here(line, SyntaxError::MissingType));
            };
            i += 1;
            let s = &text[t.start..t.end];
            if t.quoted {
                return Err(Failure::Here(t.line, SyntaxError::UnknownType(lossy(s))));
            }
            if ttl.is_none() {
                if let Some(v) = parse_ttl(s) {
                    ttl = Some(v);
                    continue;
                }
            }
            if let Some(class) = parse_class(s) {
                self.class = class;
                continue;
            }
            break t;
        };
        let here = |line| move |e| Failure::Here(line, e);
        let rtype = parse_type(&text[type_tok.start..type_tok.end]).map_err(here(type_tok.line))?;
        let ttl = match ttl {
            Some(v) => {
                self.last_ttl = Some(v);
                v
            }
            None => self
                .default_ttl
                .or(self.last_ttl)
                .ok_or(Failure::Here(type_tok.line, SyntaxError::NoTtl))?,
        };
        let fields = Fields {
            text,
            tokens: &tokens[i..],
            origin: self.origin.as_deref(),
            line: type_tok.line,
        };
        self.rdata.clear();
        let mut rdata = std::mem::take(&mut self.rdata);
        let native = if is_generic(text, fields.tokens) {
            encode_generic(rtype, &fields, &mut rdata).map(|()| true)
        } else {
            encode_native(rtype, &fields, &mut rdata)
        };
        let native = match native {
            Ok(native) => native,
            Err((line, e)) => {
                self.rdata = rdata;
                return Err(Failure::Here(line, e));
            }
        };
        if !native {
            self.rdata = rdata;
            if matches!(RecordType::from(rtype), RecordType::Unknown(_)) {
                return Err(Failure::Here(
                    type_tok.line,
                    SyntaxError::NeedsGeneric(type_name(rtype)),
                ));
            }
            let slot = self.batch.push(rtype, text, fields.tokens, fields.origin);
            self.hold(file, entry.line, rtype, ttl, None, slot);
            if self.batch.len() >= BATCH {
                self.flush().map_err(Failure::Done)?;
            }
            return Ok(());
        }
        if rdata.len() > usize::from(u16::MAX) {
            self.rdata = rdata;
            return Err(Failure::Here(type_tok.line, SyntaxError::RdataTooLong));
        }
        let result = if self.queue.is_empty() {
            let record = WireRecord {
                owner: self.owner.as_deref().unwrap_or_default(),
                class: self.class,
                rtype,
                ttl,
                rdata: &rdata,
                line: entry.line,
            };
            self.sink
                .record(record)
                .map_err(|m| Failure::Here(entry.line, SyntaxError::Sink(m)))
        } else {
            self.hold(file, entry.line, rtype, ttl, Some(&rdata), 0);
            if self.queue_bytes.len() >= QUEUE_BYTES {
                self.flush().map_err(Failure::Done)
            } else {
                Ok(())
            }
        };
        self.rdata = rdata;
        result
    }

    fn hold(
        &mut self,
        file: usize,
        line: usize,
        rtype: u16,
        ttl: u32,
        rdata: Option<&[u8]>,
        slot: usize,
    ) {
        let owner = self.owner.as_deref().unwrap_or_default();
        let start = self.queue_bytes.len();
        self.queue_bytes.extend_from_slice(owner);
        let owner = start..self.queue_bytes.len();
        let rdata = rdata.map(|r| {
            let start = self.queue_bytes.len();
            self.queue_bytes.extend_from_slice(r);
            start..self.queue_bytes.len()
        });
        self.queue.push(Queued {
            file,
            line,
            class: self.class,
            rtype,
            ttl,
            owner,
            rdata,
            slot,
        });
    }

    /// Parses the pending batch and delivers the held-back records in order.
    fn flush(&mut self) -> Result<(), MasterFileError> {
        if self.queue.is_empty() {
            return Ok(());
        }
        let queue = std::mem::take(&mut self.queue);
        let bytes = std::mem::take(&mut self.queue_bytes);
        let answers = match self.batch.parse() {
            Ok(answers) => answers,
            Err((slot, message)) => {
                let q = queue.iter().find(|q| q.rdata.is_none() && q.slot == slot);
                let q = q.unwrap_or(&queue[0]);
                return Err(self.error(q.file, q.line, message));
            }
        };
        let mut wire = Vec::new();
        for q in &queue {
            let rdata = match &q.rdata {
                Some(range) => &bytes[range.clone()],
                None => {
                    wire.clear();
                    super::fallback::emit_rdata(&answers[q.slot], &mut wire)
                        .map_err(|m| self.error(q.file, q.line, m))?;
                    &wire[..]
                }
            };
            let record = WireRecord {
                owner: &bytes[q.owner.clone()],
                class: q.class,
                rtype: q.rtype,
                ttl: q.ttl,
                rdata,
                line: q.line,
            };
            self.sink
                .record(record)
                .map_err(|m| self.error(q.file, q.line, m))?;
        }
        // Keep the allocations for the next batch.
        self.queue = queue;
        self.queue.clear();
        self.queue_bytes = bytes;
        self.queue_bytes.clear();
        Ok(())
    }

    fn error(&self, file: usize, line: usize, message: String) -> MasterFileError {
        MasterFileError {
            file: self.files[file].clone(),
            line: Some(line),
            message,
        }
    }

    fn directive(&mut self, text: &[u8], entry: &Entry, file: usize) -> Result<(), Failure> {
        let tokens = &entry.tokens[..];
        let word = &text[tokens[0].start..tokens[0].end];
        let arg = |n: usize, what: &'static str| {
            tokens.get(n).ok_or(Failure::Here(
                entry.line,
                SyntaxError::MissingArgument(what),
            ))
        };
        let no_more = |n: usize, what: &'static str| match tokens.get(n) {
            Some(t) => Err(Failure::Here(
                t.line,
                SyntaxError::TrailingToken(lossy(&text[t.start..t.end]), what),
            )),
            None => Ok(()),
        };
        match word {
            b"$ORIGIN" => {
                let t = arg(1, "$ORIGIN")?;
                let mut origin = Vec::new();
                // A relative $ORIGIN is relative to the current one, as in BIND.
                parse_name(text, t, self.origin.as_deref(), &mut origin)
                    .map_err(|e| Failure::Here(t.line, e))?;
                no_more(2, "$ORIGIN")?;
                self.origin = Some(origin);
            }
            b"$TTL" => {
                let t = arg(1, "$TTL")?;
                let s = &text[t.start..t.end];
                let ttl =
                    parse_ttl(s).ok_or(Failure::Here(t.line, SyntaxError::BadTtl(lossy(s))))?;
                no_more(2, "$TTL")?;
                self.default_ttl = Some(ttl);
            }
            b"$INCLUDE" => {
                let t = arg(1, "$INCLUDE")?;
                let origin = match tokens.get(2) {
                    Some(o) => {
                        let mut origin = Vec::new();
                        parse_name(text, o, self.origin.as_deref(), &mut origin)
                            .map_err(|e| Failure::Here(o.line, e))?;
                        Some(origin)
                    }
                    None => None,
                };
                no_more(3, "$INCLUDE")?;
                self.include(text, t, origin, entry.line, file)?;
            }
            other => {
                return Err(Failure::Here(
                    entry.line,
                    SyntaxError::UnknownDirective(lossy(other)),
                ))
            }
        }
        Ok(())
    }

    /// RFC 1035: the included file may start from its own origin, and never changes
    /// the including file's.
    fn include(
        &mut self,
        text: &[u8],
        t: &Token,
        origin: Option<Vec<u8>>,
        line: usize,
        file: usize,
    ) -> Result<(), Failure> {
        let name = PathBuf::from(lossy(&string_bytes(text, t)));
        let path = match self.files[file].parent() {
            Some(dir) if name.is_relative() => dir.join(&name),
            _ => name,
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(Failure::Here(
                line,
                SyntaxError::IncludeDepth(MAX_INCLUDE_DEPTH),
            ));
        }
        let data = std::fs::read(&path).map_err(|err| {
            Failure::Here(
                line,
                SyntaxError::Include {
                    path: path.clone(),
                    err,
                },
            )
        })?;
        self.files.push(path);
        let index = self.files.len() - 1;
        let saved = match origin {
            Some(o) => self.origin.replace(o),
            None => self.origin.clone(),
        };
        self.depth += 1;
        let result = self.run(&data, index);
        self.depth -= 1;
        self.origin = saved;
        result.map_err(Failure::Done)
    }
}

enum Failure {
    /// At this line of the current entry.
    Here(usize, SyntaxError),
    /// Already located (in an included file, or by the batch).
    Done(MasterFileError),
}
