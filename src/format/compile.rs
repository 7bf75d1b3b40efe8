//! Compiles an Envoy format string (`%OPERATOR%` syntax, reference §7) into a line matcher.
//!
//! A format is a leading literal and a list of steps; each step is one operator and the literal
//! that ends it. Matching walks the line left to right: a field ends at the next occurrence of
//! its terminating literal. Fields that can hold spaces or quotes (headers such as the user
//! agent) remember where they ended, and if the rest of the line does not fit, the match resumes
//! with the next occurrence (bounded backtracking), so a `" "` inside a User-Agent does not shift
//! later fields. Fields that cannot (codes, flags, addresses, cluster names) are validated, which
//! is also what lets auto-detection tell the built-in layouts apart. The built-in formats in
//! [`super::builtin`] are instances of this machinery. No allocation happens while matching.

use nom::{
    IResult, Parser,
    bytes::complete::{tag, take_while1},
    character::complete::digit1,
    combinator::opt,
    sequence::preceded,
};

use super::error::{ErrorKind, ParseError};
use super::operators::{KNOWN_OPERATORS, closest_operator, is_known_operator};
use crate::record::{Direction, FormatKind, Record};
use crate::response_flags::ResponseFlags;
use crate::scan::{Masks, Set, Structure, find_literal, has_prefix};

mod reading;
mod walk;

use reading::Read;
pub use reading::WrittenOut;

/// Which [`Record`] slot an operator fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldId {
    StartTime,
    Method,
    Path,
    Protocol,
    ResponseCode,
    ResponseFlags,
    Details,
    TerminationDetails,
    TransportFailure,
    BytesReceived,
    BytesSent,
    Duration,
    UpstreamServiceTime,
    XForwardedFor,
    UserAgent,
    RequestId,
    Authority,
    UpstreamHost,
    UpstreamCluster,
    UpstreamLocalAddress,
    DownstreamLocalAddress,
    DownstreamRemoteAddress,
    RequestedServerName,
    RouteName,
    PolicyStatus,
    SourceWorkload,
    DestinationWorkload,
    Direction,
    /// ztunnel's `dst.addr`: the upstream host unless `dst.hbone_addr` names the inner target.
    L4DestinationAddress,
    /// ztunnel's `error` text (kept for ztunnel records only).
    L4Error,
    /// An operator envoy-triage does not use: matched and dropped.
    Ignored,
}

/// What bytes a field's value may contain; drives validation and backtracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Digits, `-`, or empty.
    Int,
    /// A response code: up to five digits, `-`, or empty.
    Status,
    /// A response-flags list.
    Flags,
    /// No spaces and no double quotes.
    Token,
    /// Spaces allowed, double quotes not (transport failure reasons, `x-forwarded-for` lists).
    Spaced,
    /// Anything: the match may backtrack over later occurrences of the terminator.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// The field ends where this literal starts.
    Lit(Box<[u8]>),
    /// The field runs to the end of the line.
    End,
    /// The next operator follows without a literal in between.
    Adjacent,
}

#[derive(Debug, Clone)]
struct Step {
    field: FieldId,
    class: Class,
    term: Term,
}

/// A compiled format string.
#[derive(Debug, Clone)]
pub struct CompiledFormat {
    kind: FormatKind,
    lead: Box<[u8]>,
    steps: Box<[Step]>,
    /// No two operators are adjacent: [`run_direct`](Self::run_direct) can read it.
    direct: bool,
    source: String,
}

/// Why a format string could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the format string is empty")]
    Empty,
    #[error("a `%` at byte {offset} does not start a valid %OPERATOR% (write %% for a literal %)")]
    BadOperator { offset: usize },
    #[error("the format string has no operators; it cannot describe a record")]
    NoOperators,
    #[error(
        "the format spans several lines (a newline at byte {offset}); envoy-triage reads one record per line"
    )]
    MultiLine { offset: usize },
    /// A well-formed `%NAME%` that no Envoy (nor Istio's or Kuma's extensions) knows: Envoy
    /// would refuse the config, so no log was written with it, and reading on would drop the
    /// field it was meant to be (a `%RESPONSE_FLAG%` typo turns every `503 UF` into an
    /// application error).
    #[error("{}", super::operators::unknown_operator_message(name, *offset, *suggestion))]
    UnknownOperator { name: String, offset: usize, suggestion: Option<&'static str> },
}

/// One token of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'f> {
    Literal(&'f str),
    Percent,
    Operator { command: &'f str, arg: Option<&'f str>, max_len: Option<usize> },
}

/// Splits a format string into literals and operators (Envoy ≥1.31 tokenizer: the argument is
/// lazy, so `)` may appear inside it as long as the closing `)` is followed by `%` or `:N%`).
pub fn tokenize(format: &str) -> Result<Vec<Token<'_>>, FormatError> {
    let mut out = Vec::new();
    let mut rest = format;
    while !rest.is_empty() {
        let offset = format.len() - rest.len();
        match memchr::memchr(b'%', rest.as_bytes()) {
            Some(0) => {
                if let Some(after) = rest.strip_prefix("%%") {
                    out.push(Token::Percent);
                    rest = after;
                    continue;
                }
                let (after, token) = operator(rest).map_err(|_| bad_operator(rest, offset))?;
                out.push(token);
                rest = after;
            }
            Some(n) => {
                out.push(Token::Literal(&rest[..n]));
                rest = &rest[n..];
            }
            None => {
                out.push(Token::Literal(rest));
                rest = "";
            }
        }
    }
    Ok(out)
}

/// Why `%…` at `offset` is no operator: a name in the wrong case (`%response_code%`) is named,
/// with the operator it would be; anything else is a stray `%`.
fn bad_operator(at: &str, offset: usize) -> FormatError {
    let body = &at[1..];
    let len = body.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    let name = &body[..len];
    let closes = matches!(body.as_bytes().get(len), Some(b'%' | b'(' | b':'));
    let upper = name.to_ascii_uppercase();
    match KNOWN_OPERATORS.iter().find(|&&k| k == upper) {
        Some(&known) if closes && name != known => {
            FormatError::UnknownOperator { name: name.to_string(), offset, suggestion: Some(known) }
        }
        _ => FormatError::BadOperator { offset },
    }
}

fn command_name(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')(i)
}

fn max_len(i: &str) -> IResult<&str, usize> {
    preceded(tag(":"), digit1).map_res(|d: &str| d.parse::<usize>()).parse(i)
}

/// `(ARG)` with the lazy rule: the first `)` that is followed by `%` or `:digits%`.
fn lazy_arg(i: &str) -> IResult<&str, &str> {
    let (body, _) = tag("(")(i)?;
    let mut from = 0;
    while let Some(rel) = body[from..].find(')') {
        let close = from + rel;
        let after = &body[close + 1..];
        let closes =
            after.starts_with('%') || (max_len(after).map(|(r, _)| r.starts_with('%')).unwrap_or(false));
        if closes {
            return Ok((after, &body[..close]));
        }
        from = close + 1;
    }
    Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Char)))
}

fn operator(i: &str) -> IResult<&str, Token<'_>> {
    let (i, _) = tag("%")(i)?;
    let (i, command) = command_name(i)?;
    let (i, arg) = opt(lazy_arg).parse(i)?;
    let (i, max_len) = opt(max_len).parse(i)?;
    let (i, _) = tag("%")(i)?;
    Ok((i, Token::Operator { command, arg, max_len }))
}

/// Request headers whose values are ids without spaces or quotes.
const TRACE_HEADERS: [&str; 6] = [
    "X-B3-TRACEID",
    "X-B3-SPANID",
    "X-DATADOG-TRACEID",
    "TRACEPARENT",
    "UBER-TRACE-ID",
    "X-CLOUD-TRACE-CONTEXT",
];

/// Maps an operator to the record slot it fills and the class of its values (reference §7.2–7.3).
pub fn classify_operator(command: &str, arg: Option<&str>) -> (FieldId, Class) {
    let header = |a: Option<&str>| a.map(|s| s.to_ascii_uppercase()).unwrap_or_default();
    match command {
        "START_TIME" | "START_TIME_LOCAL" => {
            (FieldId::StartTime, if arg.is_some() { Class::Spaced } else { Class::Token })
        }
        "PROTOCOL" => (FieldId::Protocol, Class::Token),
        "RESPONSE_CODE" => (FieldId::ResponseCode, Class::Status),
        "RESPONSE_FLAGS" | "RESPONSE_FLAGS_LONG" => (FieldId::ResponseFlags, Class::Flags),
        "RESPONSE_CODE_DETAILS" => {
            (FieldId::Details, if arg == Some("ALLOW_WHITESPACES") { Class::Text } else { Class::Token })
        }
        "CONNECTION_TERMINATION_DETAILS" => (FieldId::TerminationDetails, Class::Spaced),
        "UPSTREAM_TRANSPORT_FAILURE_REASON" => (FieldId::TransportFailure, Class::Spaced),
        "BYTES_RECEIVED" => (FieldId::BytesReceived, Class::Int),
        "BYTES_SENT" => (FieldId::BytesSent, Class::Int),
        "DURATION" => (FieldId::Duration, Class::Int),
        "UPSTREAM_HOST" => (FieldId::UpstreamHost, Class::Token),
        "UPSTREAM_CLUSTER" | "UPSTREAM_CLUSTER_RAW" => (FieldId::UpstreamCluster, Class::Token),
        "UPSTREAM_LOCAL_ADDRESS" => (FieldId::UpstreamLocalAddress, Class::Token),
        "DOWNSTREAM_LOCAL_ADDRESS" => (FieldId::DownstreamLocalAddress, Class::Token),
        "DOWNSTREAM_REMOTE_ADDRESS" => (FieldId::DownstreamRemoteAddress, Class::Token),
        "REQUESTED_SERVER_NAME" => (FieldId::RequestedServerName, Class::Token),
        "ROUTE_NAME" => (FieldId::RouteName, Class::Spaced),
        "REQ_WITHOUT_QUERY" | "PATH" => (FieldId::Path, Class::Text),
        "DYNAMIC_METADATA" if arg.is_some_and(|a| a.starts_with("istio.mixer:status")) => {
            (FieldId::PolicyStatus, Class::Text)
        }
        "REQ" | "REQUEST_HEADER" => {
            let h = header(arg);
            let first = h.split('?').next().unwrap_or("");
            let field = match first {
                ":METHOD" => FieldId::Method,
                ":PATH" | "X-ENVOY-ORIGINAL-PATH" => FieldId::Path,
                "X-FORWARDED-FOR" => FieldId::XForwardedFor,
                "USER-AGENT" => FieldId::UserAgent,
                "X-REQUEST-ID" => FieldId::RequestId,
                ":AUTHORITY" | "HOST" => FieldId::Authority,
                _ => FieldId::Ignored,
            };
            // Only free-form headers may hold quotes; ids and hosts cannot hold spaces either.
            let class = match field {
                FieldId::Method | FieldId::RequestId | FieldId::Authority => Class::Token,
                FieldId::XForwardedFor => Class::Spaced,
                // Trace ids (Kuma's `X-B3-TRACEID?X-DATADOG-TRACEID`) are single tokens.
                _ if TRACE_HEADERS.contains(&first) => Class::Token,
                _ => Class::Text,
            };
            (field, class)
        }
        "RESP" | "RESPONSE_HEADER" if header(arg) == "X-ENVOY-UPSTREAM-SERVICE-TIME" => {
            (FieldId::UpstreamServiceTime, Class::Token)
        }
        // Kuma substitutes its `%KUMA_*%` placeholders at config time (family §7): the log
        // shows plain names and addresses.
        "KUMA_SOURCE_SERVICE" => (FieldId::SourceWorkload, Class::Token),
        // The destination's `kuma.io/service` tag, which Kuma names outbound clusters after.
        "KUMA_DESTINATION_SERVICE" => (FieldId::UpstreamCluster, Class::Token),
        "KUMA_TRAFFIC_DIRECTION" => (FieldId::Direction, Class::Token),
        c if c.starts_with("KUMA_") => (FieldId::Ignored, Class::Token),
        c if c.ends_with("_BYTES_RECEIVED")
            || c.ends_with("_BYTES_SENT")
            || c.ends_with("_PORT")
            || c.ends_with("CONNECTION_ID")
            || c == "UPSTREAM_REQUEST_ATTEMPT_COUNT"
            || c == "GRPC_STATUS_NUMBER" =>
        {
            (FieldId::Ignored, Class::Int)
        }
        "GRPC_STATUS" | "STREAM_ID" | "TRACE_ID" | "SPAN_ID" | "UNIQUE_ID" => {
            (FieldId::Ignored, Class::Token)
        }
        _ => (FieldId::Ignored, Class::Text),
    }
}

impl CompiledFormat {
    /// Compiles a format string. One trailing newline (Envoy and Istio formats end with `\n`)
    /// is dropped because lines are matched without their terminator.
    pub fn compile(format: &str, kind: FormatKind) -> Result<CompiledFormat, FormatError> {
        let body = format.strip_suffix('\n').unwrap_or(format);
        let body = body.strip_suffix('\r').unwrap_or(body);
        if body.is_empty() {
            return Err(FormatError::Empty);
        }
        if let Some(offset) = body.find('\n') {
            return Err(FormatError::MultiLine { offset });
        }
        let tokens = tokenize(body)?;
        let mut lead: Vec<u8> = Vec::new();
        let mut steps: Vec<Step> = Vec::new();
        let mut pending_lit: Vec<u8> = Vec::new();
        for token in tokens {
            match token {
                Token::Literal(s) => pending_lit.extend_from_slice(s.as_bytes()),
                Token::Percent => pending_lit.push(b'%'),
                Token::Operator { command, arg, .. } => {
                    if !is_known_operator(command) {
                        // The command borrows the format: its offset is where it lies, less its `%`.
                        let offset = command.as_ptr() as usize - body.as_ptr() as usize - 1;
                        let suggestion = closest_operator(command);
                        return Err(FormatError::UnknownOperator {
                            name: command.to_string(),
                            offset,
                            suggestion,
                        });
                    }
                    match steps.last_mut() {
                        None => lead = std::mem::take(&mut pending_lit),
                        Some(prev) => {
                            prev.term = if pending_lit.is_empty() {
                                Term::Adjacent
                            } else {
                                Term::Lit(std::mem::take(&mut pending_lit).into_boxed_slice())
                            };
                        }
                    }
                    let (field, class) = classify_operator(command, arg);
                    steps.push(Step { field, class, term: Term::End });
                }
            }
        }
        let Some(last) = steps.last_mut() else {
            return Err(FormatError::NoOperators);
        };
        if !pending_lit.is_empty() {
            last.term = Term::Lit(pending_lit.into_boxed_slice());
        }
        let direct = !steps.iter().any(|s| s.term == Term::Adjacent);
        Ok(CompiledFormat {
            kind,
            lead: lead.into_boxed_slice(),
            steps: steps.into_boxed_slice(),
            direct,
            source: format.to_string(),
        })
    }

    pub fn kind(&self) -> FormatKind {
        self.kind
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The literal every matching line starts with (used by auto-detection).
    pub fn lead(&self) -> &[u8] {
        &self.lead
    }

    /// Matches one line (without its newline) and returns the record it holds.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Record<'a>, ParseError> {
        self.parse_counting(line).map(|(r, _)| r)
    }

    /// Like [`parse`](Self::parse), also returning how many times the match backtracked: a
    /// match that needed none is a more certain reading than one that did.
    ///
    /// Values are validated and stored into the record as the match goes. When a free-text field
    /// is re-matched after backtracking, every later step runs again and overwrites its slot, so
    /// the record holds exactly the values of the final match.
    pub fn parse_counting<'a>(&self, line: &'a [u8]) -> Result<(Record<'a>, u32), ParseError> {
        let mut rec = Record::default();
        let n = self.parse_into(line, &mut rec)?;
        Ok((rec, n))
    }

    /// Like [`parse_counting`](Self::parse_counting), filling `rec`, which must be empty
    /// ([`Record::default`]) and holds leftovers after an error. Lets the decoder build the
    /// record where it returns it: a record moved through return values costs a copy each time.
    #[inline(always)]
    pub fn parse_into<'a>(&self, line: &'a [u8], rec: &mut Record<'a>) -> Result<u32, ParseError> {
        if line.len() > u32::MAX as usize {
            return Err(ParseError::at(ErrorKind::TrailingData, u32::MAX as usize));
        }
        if self.read_written_out(line, rec) {
            return Ok(0);
        }
        if !line.starts_with(&self.lead) {
            let at = self.lead.iter().zip(line).take_while(|(a, b)| a == b).count();
            let kind = if at == line.len() { ErrorKind::Truncated } else { ErrorKind::ExpectedLiteral };
            return Err(ParseError::at(kind, at));
        }
        rec.format = self.kind;
        if !matches!(self.kind, FormatKind::Istio19 | FormatKind::EnvoyDefault)
            && self.direct
            && self.run_direct(line, rec)
        {
            return Ok(0);
        }
        // Slots the direct reading filled before it gave up must not outlive it.
        *rec = Record { format: self.kind, ..Record::default() };
        self.run::<false>(line, 0, self.lead.len(), &mut None, rec)
    }

    /// A built-in layout's written-out reading (`direct_layout!`), the first one
    /// [`parse_into`](Self::parse_into) tries: `true` when it reads the line, and then it has
    /// written every slot of the layout and the format, and no other slot. `false` for other
    /// layouts, and for lines it leaves to the general matcher (`rec` then holds leftovers).
    #[inline(always)]
    pub fn read_written_out<'a>(&self, line: &'a [u8], rec: &mut Record<'a>) -> bool {
        self.written_out().is_some_and(|reading| reading.read(line, rec))
    }

    /// A built-in layout's written-out reading as [`read_written_out`](Self::read_written_out)
    /// does it, with the choice of compiled form made now: for a caller that reads many lines
    /// in the layout. `None` for other layouts.
    #[inline(always)]
    pub fn written_out(&self) -> Option<WrittenOut> {
        // Only the built-in layouts carry these kinds (see `builtin::text_layouts`); their
        // written-out readings check the lead themselves (it is the compiled one: a test).
        let read = match self.kind {
            FormatKind::Istio19 => direct_istio_1_9::resolved(),
            FormatKind::EnvoyDefault => direct_envoy_default::resolved(),
            _ => return None,
        };
        Some(WrittenOut { kind: self.kind, read })
    }

    /// The first attempt of [`run`](Self::run) without its bookkeeping: every field ends at the
    /// first occurrence of its terminator and is validated and stored by the same functions. On
    /// real records this is the whole match; `false` (any field fails, or the line does not end
    /// where the format does) sends the line to `run`, which starts again and may backtrack.
    /// Both agree whenever this succeeds: `run`'s first attempt is this reading, and it returns
    /// the first attempt that reaches the end of the line.
    #[inline(always)]
    fn run_direct<'a>(&self, line: &'a [u8], rec: &mut Record<'a>) -> bool {
        let mut pos = self.lead.len();
        for step in self.steps.iter() {
            let read = match &step.term {
                Term::Lit(lit) => direct_step(rec, line, &mut pos, step.field, step.class, lit),
                Term::End => direct_last(rec, line, &mut pos, step.field, step.class),
                Term::Adjacent => false,
            };
            if !read {
                return false;
            }
        }
        pos == line.len()
    }

    /// [`parse`](Self::parse) by the general matcher alone, without the direct first attempt
    /// ([`run_direct`](Self::run_direct) and the written-out built-in layouts). For tests and
    /// the fuzz target, which check that both read every line alike.
    #[doc(hidden)]
    pub fn parse_general<'a>(&self, line: &'a [u8]) -> Result<Record<'a>, ParseError> {
        if line.len() > u32::MAX as usize || !line.starts_with(&self.lead) {
            return self.parse(line);
        }
        let mut rec = Record { format: self.kind, ..Record::default() };
        self.run::<false>(line, 0, self.lead.len(), &mut None, &mut rec)?;
        Ok(rec)
    }

    /// Reads a line as people paste it (reference §10 examples 11, 13, 19, 20): cut at the start,
    /// so that it begins with a step's value or with the tail of the literal before it (`"GET …`
    /// without `[START_TIME] `), and/or cut at the end. Tries each step up to the response code
    /// as the first one present, in order, and returns the first reading that matches to the end
    /// of the line or runs out there, provided it has a response code and either the flags or the
    /// request line. The value the line ends inside is dropped: the cut may have shortened it.
    pub fn parse_pasted<'a>(&self, line: &'a [u8]) -> Option<(Record<'a>, Pasted)> {
        if line.len() > u32::MAX as usize {
            return None;
        }
        let steps = &self.steps[..];
        let code_step = steps.iter().position(|s| s.field == FieldId::ResponseCode)?;
        let flags_step = steps.iter().position(|s| s.field == FieldId::ResponseFlags);
        // Most lines that reach this (application logs, garbage) hold no response code where
        // this format would put one: rule them out before trying every starting step.
        if !self.may_hold_code(line, code_step) {
            return None;
        }
        self.pasted_readings(line, code_step, flags_step)
    }

    /// [`parse_pasted`](Self::parse_pasted) without its quick rejection.
    fn pasted_readings<'a>(
        &self,
        line: &'a [u8],
        code_step: usize,
        flags_step: Option<usize>,
    ) -> Option<(Record<'a>, Pasted)> {
        let steps = &self.steps[..];
        let starts_whole = !self.lead.is_empty() && line.starts_with(&self.lead);
        for k in 0..=code_step {
            let before: &[u8] = match k {
                0 => &self.lead,
                _ => match &steps[k - 1].term {
                    Term::Lit(l) => l,
                    Term::Adjacent => continue,
                    Term::End => break,
                },
            };
            if k > 0 && starts_whole {
                break;
            }
            // The longest tail of the literal that the line starts with (possibly none).
            let j = (0..=before.len()).rev().find(|&j| line.starts_with(&before[before.len() - j..]))?;
            // A line that starts with a value (no literal before it) must start with a
            // plausible one: a method is upper-case, not a word of some prefix.
            if j == 0 && steps[k].field == FieldId::Method {
                let word = line.iter().take_while(|&&b| b != b' ').count();
                if word == 0 || !(line[..word] == *b"-" || line[..word].iter().all(u8::is_ascii_uppercase)) {
                    continue;
                }
            }
            let mut cut = None;
            let mut rec = Record { format: self.kind, ..Record::default() };
            if self.run::<true>(line, k, j, &mut cut, &mut rec).is_err() {
                continue;
            }
            let read = |step: usize| step >= k && cut.is_none_or(|c| step < c);
            let has_flags = flags_step.is_some_and(read);
            let has_request = rec.method.is_some() || rec.path.is_some();
            if !read(code_step) || rec.response_code.is_none() || !(has_flags || has_request) {
                continue;
            }
            if k == 0 && j < before.len() {
                // The start time itself may have lost its beginning.
                if rec.start_time.and_then(crate::record::parse_rfc3339_ms).is_none() {
                    rec.start_time = None;
                }
            }
            rec.partial = true;
            return Some((rec, Pasted { first_step: k, cut_at: cut }));
        }
        None
    }

    /// A necessary condition for [`parse_pasted`](Self::parse_pasted) to read a response code
    /// from `line`: somewhere, digits followed by the code's terminating literal (or the end
    /// of the line, for a last field) and preceded by the whole literal before the code, or by a
    /// tail of it at the start of the line (a line cut just before the code). A reading without
    /// a code is rejected anyway; this finds that out in one scan instead of one match per
    /// starting step.
    fn may_hold_code(&self, line: &[u8], code_step: usize) -> bool {
        let before: &[u8] = match code_step {
            0 => &self.lead,
            k => match &self.steps[k - 1].term {
                Term::Lit(l) => l,
                // The code's start is not marked by a literal: no cheap test.
                _ => return true,
            },
        };
        let after: Option<&[u8]> = match &self.steps[code_step].term {
            Term::Lit(l) => Some(l),
            Term::End => None,
            Term::Adjacent => return true,
        };
        let code_at = |at: usize| {
            let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            digits > 0
                && match after {
                    Some(l) => has_prefix(&line[at + digits..], l),
                    None => at + digits == line.len(),
                }
        };
        // Cut before the code: the line starts with a tail of the literal (possibly none).
        if (0..=before.len()).any(|j| line.starts_with(&before[before.len() - j..]) && code_at(j)) {
            return true;
        }
        if before.is_empty() {
            return (0..line.len()).any(code_at);
        }
        let mut from = 0;
        while let Some(rel) = find_literal(before, &line[from..]) {
            let at = from + rel;
            if code_at(at + before.len()) {
                return true;
            }
            from = at + 1;
        }
        false
    }

    /// The matching loop, from step `start_step` at byte `start_pos`. With `CUT`, a line that
    /// runs out before the format does is a success: `cut` is set to the step it ran out in, and
    /// that step and every later one are left empty. (An out-parameter rather than a wider
    /// return value: the record is large and returned through several calls per line.)
    #[inline(always)]
    fn run<'a, const CUT: bool>(
        &self,
        line: &'a [u8],
        start_step: usize,
        start_pos: usize,
        cut: &mut Option<usize>,
        rec: &mut Record<'a>,
    ) -> Result<u32, ParseError> {
        let steps = &self.steps[..];
        // Backtrack points: (step, field start, where to search next).
        let mut stack = [(0u16, 0u32, 0u32); MAX_BACKTRACK_POINTS];
        let mut depth = 0usize;
        let mut budget = BACKTRACK_BUDGET;
        let mut first_error: Option<ParseError> = None;

        let mut i = start_step;
        let mut pos = start_pos;
        let mut resume: Option<usize> = None;
        loop {
            let outcome: Result<usize, ParseError> = if i == steps.len() {
                if pos == line.len() {
                    return Ok(BACKTRACK_BUDGET - budget);
                }
                Err(ParseError::at(ErrorKind::TrailingData, pos))
            } else {
                let step = &steps[i];
                match &step.term {
                    Term::End => store(rec, step, &line[pos..])
                        .map(|()| line.len())
                        .map_err(|k| ParseError::at(k, pos)),
                    Term::Lit(lit)
                        if resume.is_none() && !matches!(step.class, Class::Text | Class::Spaced) =>
                    {
                        // Fields that cannot hold their terminator: find the end and validate
                        // in one pass.
                        match bounded_end(step.class, lit, &line[pos..]) {
                            Err(k) => Err(ParseError::at(k, pos)),
                            Ok(rel) => {
                                let end = pos + rel;
                                fill(rec, step.field, step.class, &line[pos..end])
                                    .map(|()| end + lit.len())
                                    .map_err(|k| ParseError::at(k, pos))
                            }
                        }
                    }
                    Term::Lit(lit) => {
                        let from = resume.take().unwrap_or(pos);
                        match find_literal(lit, &line[from..]) {
                            None => Err(ParseError::at(ErrorKind::Truncated, line.len())),
                            Some(rel) => {
                                let end = from + rel;
                                match store(rec, step, &line[pos..end]) {
                                    Err(k) => Err(ParseError::at(k, pos)),
                                    Ok(()) => {
                                        if matches!(step.class, Class::Text | Class::Spaced)
                                            && depth < MAX_BACKTRACK_POINTS
                                        {
                                            stack[depth] = (i as u16, pos as u32, (end + 1) as u32);
                                            depth += 1;
                                        }
                                        Ok(end + lit.len())
                                    }
                                }
                            }
                        }
                    }
                    Term::Adjacent => self.match_adjacent(line, i, pos, rec),
                }
            };
            match outcome {
                Ok(next) => {
                    // An adjacent pair consumes two steps.
                    i += if matches!(steps[i].term, Term::Adjacent) { 2 } else { 1 };
                    pos = next;
                }
                Err(e) => {
                    if CUT && i < steps.len() && self.ends_closed(line, i, pos, rec) {
                        for s in &steps[i + 1..] {
                            clear(rec, s.field);
                        }
                        *cut = Some(i + 1);
                        return Ok(BACKTRACK_BUDGET - budget);
                    }
                    if CUT && e.kind == ErrorKind::Truncated && i < steps.len() {
                        // Values of an abandoned longer match may linger in later slots.
                        for s in &steps[i..] {
                            clear(rec, s.field);
                        }
                        *cut = Some(i);
                        return Ok(BACKTRACK_BUDGET - budget);
                    }
                    // The first failure is the most useful one to show: later ones come from
                    // guesses about where a free-text field might end.
                    let first = *first_error.get_or_insert(e);
                    if depth == 0 || budget == 0 {
                        return Err(first);
                    }
                    budget -= 1;
                    depth -= 1;
                    let (si, start, next) = stack[depth];
                    i = si as usize;
                    pos = start as usize;
                    resume = Some(next as usize);
                }
            }
        }
    }

    /// A line cut right after step `i`'s value and the first bytes of the literal that ends
    /// it, as in `… 503 UF,URX "-" "TLS error: Secret is not supplied by SDS"`: the closing
    /// quote says the value is whole, so it is kept (and validated) where a line that ends
    /// inside a value loses it. Only the last value qualifies: the rest of the line holds no
    /// whole terminator.
    fn ends_closed<'a>(&self, line: &'a [u8], i: usize, pos: usize, rec: &mut Record<'a>) -> bool {
        let step = &self.steps[i];
        let Term::Lit(lit) = &step.term else { return false };
        let Some(rest) = line.get(pos..) else { return false };
        let Some(n) = (1..lit.len()).rev().find(|&n| rest.ends_with(&lit[..n])) else { return false };
        find_literal(lit, rest).is_none() && store(rec, step, &rest[..rest.len() - n]).is_ok()
    }

    /// Two operators with nothing between them (Istio 1.0.3's `%…PATH)%%PROTOCOL%`): find the
    /// end of the pair with the second step's terminator, then give the second field the longest
    /// suffix its class allows (a protocol name, or digits) and the first field the rest.
    fn match_adjacent<'a>(
        &self,
        line: &'a [u8],
        i: usize,
        pos: usize,
        rec: &mut Record<'a>,
    ) -> Result<usize, ParseError> {
        let Some(second) = self.steps.get(i + 1) else {
            return Err(ParseError::at(ErrorKind::Truncated, pos));
        };
        let (end, next) = match &second.term {
            Term::Lit(lit) => match find_literal(lit, &line[pos..]) {
                Some(rel) => (pos + rel, pos + rel + lit.len()),
                None => return Err(ParseError::at(ErrorKind::ExpectedLiteral, line.len())),
            },
            Term::End => (line.len(), line.len()),
            Term::Adjacent => return Err(ParseError::at(ErrorKind::ExpectedLiteral, pos)),
        };
        let both = &line[pos..end];
        let split = if second.field == FieldId::Protocol {
            const PROTOCOLS: [&[u8]; 5] = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"HTTP/3", b"-"];
            PROTOCOLS
                .iter()
                .find(|p| both.ends_with(p))
                .map(|p| end - p.len())
                .ok_or(ParseError::at(ErrorKind::BadToken, pos))?
        } else if matches!(second.class, Class::Int | Class::Status) {
            end - both.iter().rev().take_while(|b| b.is_ascii_digit()).count()
        } else {
            end
        };
        store(rec, &self.steps[i], &line[pos..split]).map_err(|k| ParseError::at(k, pos))?;
        store(rec, second, &line[split..end]).map_err(|k| ParseError::at(k, split))?;
        Ok(next)
    }
}

/// One step of [`CompiledFormat::run_direct`]: the value up to the first `lit`, validated and
/// stored; `pos` moves past the literal.
#[inline(always)]
fn direct_step<'a>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    pos: &mut usize,
    field: FieldId,
    class: Class,
    lit: &[u8],
) -> bool {
    let hay = &line[*pos..];
    let end = if matches!(class, Class::Text | Class::Spaced) {
        let Some(end) = find_literal(lit, hay) else { return false };
        if store_value(rec, field, class, &hay[..end]).is_err() {
            return false;
        }
        end
    } else {
        let Ok(end) = bounded_end(class, lit, hay) else { return false };
        if fill(rec, field, class, &hay[..end]).is_err() {
            return false;
        }
        end
    };
    *pos += end + lit.len();
    true
}

/// [`direct_step`] finding the value's end in the line's [`Structure`] (a bit scan of its
/// space and quote masks) when the terminator starts with a space or a quote: the same reading,
/// since a value of each class ends at the first separator the class allows. Numbers and
/// terminators of other bytes take `direct_step`.
#[inline(always)]
fn structured_step<'a, M: Masks>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    st: &mut Structure<'a, M>,
    pos: &mut usize,
    field: FieldId,
    class: Class,
    lit: &[u8],
) -> bool {
    let at = *pos;
    let sep = match lit[0] {
        b' ' => Set::Space,
        b'"' => Set::Quote,
        _ => return direct_step(rec, line, pos, field, class, lit),
    };
    let end = match class {
        Class::Int | Class::Status => return number_step(rec, line, pos, field, class, lit),
        // A token holds neither separator: it ends at the first of either.
        Class::Token => match st.next(at, Set::Either) {
            Some(j) if has_prefix(&line[j..], lit) => j,
            _ => return false,
        },
        // A quote-free value ends at the first quote, which must be the terminator's.
        Class::Spaced => {
            let Some(k) = lit.iter().position(|&b| b == b'"') else {
                return direct_step(rec, line, pos, field, class, lit);
            };
            match st.next(at, Set::Quote) {
                Some(q) if q >= at + k && has_prefix(&line[q - k..], lit) => q - k,
                _ => return false,
            }
        }
        // Free text (and flags): the first occurrence of the terminator.
        Class::Text | Class::Flags => {
            let mut from = at;
            loop {
                let Some(j) = st.next(from, sep) else { return false };
                if has_prefix(&line[j..], lit) {
                    break j;
                }
                from = j + 1;
            }
        }
    };
    // Validated by the scan above; flags are validated by their conversion in `fill`.
    if fill(rec, field, class, &line[at..end]).is_err() {
        return false;
    }
    *pos = end + lit.len();
    true
}

/// [`direct_step`] for a number: the digits are converted as they are scanned rather than
/// scanned, then converted by [`parse_u64`]. The same reading: the digit run (or a lone `-`),
/// which the terminator must follow; at most 19 digits; stored by [`fill_number`].
#[inline(always)]
fn number_step<'a>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    pos: &mut usize,
    field: FieldId,
    class: Class,
    lit: &[u8],
) -> bool {
    if !matches!(
        field,
        FieldId::ResponseCode | FieldId::BytesReceived | FieldId::BytesSent | FieldId::Duration
    ) {
        return direct_step(rec, line, pos, field, class, lit);
    }
    let hay = &line[*pos..];
    // Wraps only past 19 digits, which are rejected below.
    let (mut j, n) = crate::scan::leading_digits(hay);
    let value = match j {
        0 => {
            j = (hay.first() == Some(&b'-')) as usize;
            None
        }
        1..=19 => Some(n),
        _ => return false,
    };
    if !at_literal(hay, j, lit) || fill_number(rec, field, value).is_err() {
        return false;
    }
    *pos += j + lit.len();
    true
}

/// Whether `lit` (a constant of a few bytes) is at `at` in `line`: one bounds check, and a
/// comparison the compiler does in a word or two (`has_prefix` checks twice and compares byte
/// by byte).
#[inline(always)]
fn at_literal(line: &[u8], at: usize, lit: &[u8]) -> bool {
    line.get(at..at.wrapping_add(lit.len())) == Some(lit)
}

/// Stores a converted number in its slot (`-` and empty are `None`); codes must fit a `u16`.
#[inline(always)]
fn fill_number(rec: &mut Record<'_>, field: FieldId, n: Option<u64>) -> Result<(), ErrorKind> {
    match field {
        FieldId::ResponseCode => {
            rec.response_code = n.map(|c| u16::try_from(c).map_err(|_| ErrorKind::BadStatus)).transpose()?
        }
        FieldId::BytesReceived => rec.bytes_received = n,
        FieldId::BytesSent => rec.bytes_sent = n,
        FieldId::Duration => rec.duration_ms = n,
        _ => unreachable!("{field:?} is not a number slot"),
    }
    Ok(())
}

/// The last step of a written-out layout ([`direct_layout!`]) ending with an operator: the
/// rest of the line, which must hold no quote for a [`Class::Spaced`] value.
#[inline(always)]
fn structured_last<'a, M: Masks>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    st: &mut Structure<'a, M>,
    pos: &mut usize,
    field: FieldId,
    class: Class,
) -> bool {
    if class == Class::Spaced {
        if st.next(*pos, Set::Quote).is_some() {
            return false;
        }
        let ok = fill(rec, field, class, &line[*pos..]).is_ok();
        *pos = line.len();
        return ok;
    }
    direct_last(rec, line, pos, field, class)
}

/// The last step of [`CompiledFormat::run_direct`] when the format ends with an operator.
#[inline(always)]
fn direct_last<'a>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    pos: &mut usize,
    field: FieldId,
    class: Class,
) -> bool {
    let ok = store_value(rec, field, class, &line[*pos..]).is_ok();
    *pos = line.len();
    ok
}

/// A built-in layout's [`CompiledFormat::run_direct`] with its steps written out as constants,
/// so that the compiler specialises each step (no dispatch on field, class or literal: most of
/// the per-line cost of the generic loop). The same functions do the work, and a test checks
/// that the constants are the compiled layout's steps, so both read every line alike.
/// A step list ends with `last (Field, Class)` when the format ends with an operator, or with
/// `end` when its last operator is followed by a literal.
///
/// From the same steps the macro writes two readings: `walk` ([`walk`](self::walk), one forward
/// pass over the line's separators), tried first, and `with` (the steps above, on a
/// [`Structure`]) for the lines `walk` declines; what `walk` reads, it reads as `with` does (a
/// test compares them). Each is compiled twice: for the x86_64 baseline, and for CPUs with AVX2
/// and BMI (chosen per line by a cached CPUID test), where the line's blocks are compared 32
/// bytes at a time and the bit scans use BMI's shifts; both read every line alike (a test
/// compares them).
macro_rules! direct_layout {
    ($(#[$doc:meta])* $name:ident, $steps:ident, lead $lead:literal,
     [$(($field:ident, $class:ident, $lit:literal)),* $(,)?], $($last:tt)+) => {
        /// The steps of this layout, for the test that compares them with the compiled ones.
        #[cfg(test)]
        pub(crate) const $steps: (&[u8], &[(FieldId, Class, &[u8])], Option<(FieldId, Class)>) = (
            $lead,
            &[$((FieldId::$field, Class::$class, $lit)),*],
            direct_layout!(@last_const $($last)+),
        );

        $(#[$doc])*
        /// The form this CPU picks, as [`CompiledFormat::written_out`] runs it (for the tests).
        #[cfg(test)]
        pub(crate) fn $name<'a>(line: &'a [u8], rec: &mut Record<'a>) -> bool {
            $name::resolved().read(line, rec)
        }

        mod $name {
            use super::*;

            /// The layout's readings for this CPU (see [`WrittenOut`]).
            #[inline(always)]
            pub(super) fn resolved() -> Read {
                #[cfg(target_arch = "x86_64")]
                if let Some(avx2) = crate::scan::Avx2::detect() {
                    return Read::Avx2(avx2, walk_avx2, with_avx2);
                }
                Read::Baseline(read_baseline)
            }

            /// The layout's first reading compiled for AVX2 and BMI.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,bmi1,bmi2")]
            fn walk_avx2<'a>(avx2: crate::scan::Avx2, line: &'a [u8], rec: &mut Record<'a>) -> bool {
                walk(avx2, line, rec)
            }

            /// The layout's exact reading compiled for AVX2 and BMI, for the lines the first
            /// one declines: out of line, so that the common path stays small.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,bmi1,bmi2")]
            #[inline(never)]
            #[cold]
            fn with_avx2<'a>(avx2: crate::scan::Avx2, line: &'a [u8], rec: &mut Record<'a>) -> bool {
                with(avx2, line, rec)
            }

            /// `walk`, then `with`, on the x86_64 baseline.
            pub(super) fn read_baseline<'a>(line: &'a [u8], rec: &mut Record<'a>) -> bool {
                walk_baseline(line, rec) || baseline(line, rec)
            }

            /// The layout's steps, with the blocks compared by `masks`.
            #[inline(always)]
            pub(super) fn with<'a, M: Masks>(masks: M, line: &'a [u8], rec: &mut Record<'a>) -> bool {
                direct_layout!(@body masks, line, rec, $lead, [$(($field, $class, $lit)),*], $($last)+)
            }

            /// [`with`] on the x86_64 baseline, out of line as the AVX2 one is.
            #[inline(never)]
            #[cold]
            pub(super) fn baseline<'a>(line: &'a [u8], rec: &mut Record<'a>) -> bool {
                with(crate::scan::Baseline, line, rec)
            }

            /// [`walk`] on the x86_64 baseline, out of line as the AVX2 one is (inlined, it
            /// would be at every call of the layout: in an unoptimised build, a stack frame
            /// larger than a test thread's stack).
            #[inline(never)]
            pub(super) fn walk_baseline<'a>(line: &'a [u8], rec: &mut Record<'a>) -> bool {
                walk(crate::scan::Baseline, line, rec)
            }

            /// The layout's first reading ([`walk`](super::walk)): `false` when it declines
            /// the line, which [`with`] then reads.
            #[inline(always)]
            pub(super) fn walk<'a, M: Masks>(masks: M, line: &'a [u8], rec: &mut Record<'a>) -> bool {
                direct_layout!(@walk masks, line, rec, $lead, [$(($field, $class, $lit)),*], $($last)+)
            }
        }
    };
    (@walk $masks:ident, $line:ident, $rec:ident, $lead:literal,
     [$(($field:ident, $class:ident, $lit:literal)),*], $($last:tt)+) => {{
            let (line, rec) = ($line, $rec);
            if !line.starts_with($lead) {
                return false;
            }
            let mut pos = $lead.len();
            let mut seps = crate::scan::Separators::with($masks, line);
            $(
                {
                    const STEP: walk::Plan = walk::Plan::of(FieldId::$field, Class::$class, $lit);
                    if !walk::step(rec, line, &mut seps, &mut pos, STEP) {
                        return false;
                    }
                }
            )*
            direct_layout!(@walk_last rec, line, seps, pos, $($last)+)
    }};
    (@walk_last $rec:ident, $line:ident, $seps:ident, $pos:ident, last ($f:ident, $c:ident)) => {
        walk::last($rec, $line, &mut $seps, &mut $pos, FieldId::$f, Class::$c)
    };
    (@walk_last $rec:ident, $line:ident, $seps:ident, $pos:ident, end) => { $pos == $line.len() };
    (@body $masks:ident, $line:ident, $rec:ident, $lead:literal,
     [$(($field:ident, $class:ident, $lit:literal)),*], $($last:tt)+) => {{
            let (line, rec) = ($line, $rec);
            if !line.starts_with($lead) {
                return false;
            }
            let mut pos = $lead.len();
            let mut st = Structure::with($masks, line);
            $(
                if !structured_step(rec, line, &mut st, &mut pos, FieldId::$field, Class::$class, $lit) {
                    return false;
                }
            )*
            direct_layout!(@last_step rec, line, st, pos, $($last)+)
    }};
    (@last_const last ($f:ident, $c:ident)) => { Some((FieldId::$f, Class::$c)) };
    (@last_const end) => { None };
    (@last_step $rec:ident, $line:ident, $st:ident, $pos:ident, last ($f:ident, $c:ident)) => {
        structured_last($rec, $line, &mut $st, &mut $pos, FieldId::$f, Class::$c)
    };
    (@last_step $rec:ident, $line:ident, $st:ident, $pos:ident, end) => { $pos == $line.len() };
}

direct_layout!(
    /// [`super::builtin::ISTIO_1_9`], the layout of every Istio since 1.9.
    direct_istio_1_9, ISTIO_1_9_STEPS, lead b"[",
    [
        (StartTime, Token, b"] \""),
        (Method, Token, b" "),
        (Path, Text, b" "),
        (Protocol, Token, b"\" "),
        (ResponseCode, Status, b" "),
        (ResponseFlags, Flags, b" "),
        (Details, Token, b" "),
        (TerminationDetails, Spaced, b" \""),
        (TransportFailure, Spaced, b"\" "),
        (BytesReceived, Int, b" "),
        (BytesSent, Int, b" "),
        (Duration, Int, b" "),
        (UpstreamServiceTime, Token, b" \""),
        (XForwardedFor, Spaced, b"\" \""),
        (UserAgent, Text, b"\" \""),
        (RequestId, Token, b"\" \""),
        (Authority, Token, b"\" \""),
        (UpstreamHost, Token, b"\" "),
        (UpstreamCluster, Token, b" "),
        (UpstreamLocalAddress, Token, b" "),
        (DownstreamLocalAddress, Token, b" "),
        (DownstreamRemoteAddress, Token, b" "),
        (RequestedServerName, Token, b" "),
    ],
    last (RouteName, Spaced)
);

direct_layout!(
    /// [`super::builtin::ENVOY_DEFAULT`], Envoy's own default (and Contour's, Gloo's, …).
    direct_envoy_default, ENVOY_DEFAULT_STEPS, lead b"[",
    [
        (StartTime, Token, b"] \""),
        (Method, Token, b" "),
        (Path, Text, b" "),
        (Protocol, Token, b"\" "),
        (ResponseCode, Status, b" "),
        (ResponseFlags, Flags, b" "),
        (BytesReceived, Int, b" "),
        (BytesSent, Int, b" "),
        (Duration, Int, b" "),
        (UpstreamServiceTime, Token, b" \""),
        (XForwardedFor, Spaced, b"\" \""),
        (UserAgent, Text, b"\" \""),
        (RequestId, Token, b"\" \""),
        (Authority, Token, b"\" \""),
        (UpstreamHost, Token, b"\""),
    ],
    end
);

/// How a pasted line was read by [`CompiledFormat::parse_pasted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pasted {
    /// The first step present in the line (0: the line starts with the format).
    pub first_step: usize,
    /// The step the line ran out in, if it was cut at the end.
    pub cut_at: Option<usize>,
}

const MAX_BACKTRACK_POINTS: usize = 24;
/// Bounds the work a hostile line can cause: each retry re-scans at most the rest of the line.
const BACKTRACK_BUDGET: u32 = 64;

/// The length of a value that cannot contain its terminator `lit` (codes, numbers, flags,
/// tokens), found and validated in one pass: digits are scanned directly, tokens with
/// `memchr2` on the terminator's first byte and the byte the class forbids.
#[inline(always)]
fn bounded_end(class: Class, lit: &[u8], hay: &[u8]) -> Result<usize, ErrorKind> {
    let end = match class {
        Class::Int | Class::Status => {
            let mut j = hay.iter().take_while(|b| b.is_ascii_digit()).count();
            if j == 0 && hay.first() == Some(&b'-') {
                j = 1;
            }
            j
        }
        Class::Token => {
            let other = if lit[0] == b' ' { b'"' } else { b' ' };
            match crate::scan::find2(lit[0], other, hay) {
                Some(j) if hay[j] == lit[0] => j,
                Some(_) => return Err(ErrorKind::BadToken),
                None => return Err(ErrorKind::Truncated),
            }
        }
        _ => find_literal(lit, hay).ok_or(ErrorKind::Truncated)?,
    };
    if has_prefix(&hay[end..], lit) {
        Ok(end)
    } else if end == hay.len() {
        Err(ErrorKind::Truncated)
    } else {
        Err(match class {
            Class::Int => ErrorKind::BadNumber,
            Class::Status => ErrorKind::BadStatus,
            Class::Token => ErrorKind::BadToken,
            _ => ErrorKind::ExpectedLiteral,
        })
    }
}

/// Validates a value against its step's class and stores it in the record.
#[inline]
fn store<'a>(rec: &mut Record<'a>, step: &Step, v: &'a [u8]) -> Result<(), ErrorKind> {
    store_value(rec, step.field, step.class, v)
}

/// [`store`] with the field and class given apart (constants in [`direct_layout!`]).
#[inline(always)]
fn store_value<'a>(rec: &mut Record<'a>, field: FieldId, class: Class, v: &'a [u8]) -> Result<(), ErrorKind> {
    match class {
        // Numbers, codes and flags are validated by their conversion in `fill`.
        Class::Text | Class::Int | Class::Status | Class::Flags => {}
        Class::Spaced => {
            if v.contains(&b'"') {
                return Err(ErrorKind::BadToken);
            }
        }
        Class::Token => {
            if v.iter().any(|&b| b == b' ' || b == b'"') {
                return Err(ErrorKind::BadToken);
            }
        }
    }
    fill(rec, field, class, v)
}

/// An empty or `-` value: Envoy's "absent". One length test for the usual value, two bytes or
/// more (`v.is_empty() || v == b"-"` tests the length twice and then the byte).
#[inline(always)]
pub(crate) fn is_absent(v: &[u8]) -> bool {
    v.len() < 2 && v.first().is_none_or(|&b| b == b'-')
}

#[inline]
fn opt_bytes(v: &[u8]) -> Option<&[u8]> {
    if is_absent(v) { None } else { Some(v) }
}

/// Parses a decimal number of at most 19 digits; `-` and empty are `None`.
#[inline]
pub(crate) fn parse_u64(v: &[u8]) -> Result<Option<u64>, ErrorKind> {
    if is_absent(v) {
        return Ok(None);
    }
    if v.len() > 19 {
        return Err(ErrorKind::BadNumber);
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return Err(ErrorKind::BadNumber);
        }
        n = n * 10 + (b - b'0') as u64;
    }
    Ok(Some(n))
}

/// Strips the Istio ≥1.23 `alt_stat_name` delimiter (one trailing `;`).
#[inline]
pub(crate) fn strip_stat_delimiter(v: &[u8]) -> &[u8] {
    v.strip_suffix(b";").unwrap_or(v)
}

/// The slots [`fill`] rarely meets.
#[cold]
#[inline(never)]
fn fill_rare<'a>(rec: &mut Record<'a>, field: FieldId, v: &'a [u8]) {
    match field {
        FieldId::Direction => rec.direction = Direction::parse(v),
        FieldId::L4DestinationAddress if rec.upstream_host.is_none() => rec.upstream_host = opt_bytes(v),
        _ => {}
    }
}

/// Empties the slot a step fills.
fn clear(rec: &mut Record<'_>, field: FieldId) {
    match field {
        FieldId::StartTime => rec.start_time = None,
        FieldId::Method => rec.method = None,
        FieldId::Path => rec.path = None,
        FieldId::Protocol => rec.protocol = None,
        FieldId::ResponseCode => rec.response_code = None,
        FieldId::ResponseFlags => rec.response_flags = ResponseFlags::NONE,
        FieldId::Details => rec.response_code_details = None,
        FieldId::TerminationDetails => rec.connection_termination_details = None,
        FieldId::TransportFailure | FieldId::L4Error => rec.upstream_transport_failure_reason = None,
        FieldId::BytesReceived => rec.bytes_received = None,
        FieldId::BytesSent => rec.bytes_sent = None,
        FieldId::Duration => rec.duration_ms = None,
        FieldId::UpstreamServiceTime => rec.upstream_service_time_ms = None,
        FieldId::XForwardedFor => rec.x_forwarded_for = None,
        FieldId::UserAgent => rec.user_agent = None,
        FieldId::RequestId => rec.request_id = None,
        FieldId::Authority => rec.authority = None,
        FieldId::UpstreamHost | FieldId::L4DestinationAddress => rec.upstream_host = None,
        FieldId::UpstreamCluster => rec.upstream_cluster = None,
        FieldId::UpstreamLocalAddress => rec.upstream_local_address = None,
        FieldId::DownstreamLocalAddress => rec.downstream_local_address = None,
        FieldId::DownstreamRemoteAddress => rec.downstream_remote_address = None,
        FieldId::RequestedServerName => rec.requested_server_name = None,
        FieldId::RouteName => rec.route_name = None,
        FieldId::PolicyStatus => rec.policy_status = None,
        FieldId::SourceWorkload => rec.source_workload = None,
        FieldId::DestinationWorkload => rec.destination_workload = None,
        FieldId::Direction => rec.direction = None,
        FieldId::Ignored => {}
    }
}

/// Stores one matched value in its record slot, converting numbers, codes and flags (which
/// validates them). An operator envoy-triage does not use is still validated by its class.
#[inline(always)]
fn fill<'a>(rec: &mut Record<'a>, field: FieldId, class: Class, v: &'a [u8]) -> Result<(), ErrorKind> {
    match field {
        FieldId::StartTime => rec.start_time = opt_bytes(v),
        FieldId::Method => rec.method = opt_bytes(v),
        FieldId::Path => rec.path = opt_bytes(v),
        FieldId::Protocol => rec.protocol = opt_bytes(v),
        FieldId::ResponseCode => fill_number(rec, field, parse_u64(v).map_err(|_| ErrorKind::BadStatus)?)?,
        FieldId::ResponseFlags => {
            rec.response_flags = ResponseFlags::parse(v).map_err(|_| ErrorKind::BadFlags)?
        }
        FieldId::Details => rec.response_code_details = opt_bytes(v),
        FieldId::TerminationDetails => rec.connection_termination_details = opt_bytes(v),
        FieldId::TransportFailure => rec.upstream_transport_failure_reason = opt_bytes(v),
        FieldId::BytesReceived | FieldId::BytesSent | FieldId::Duration => {
            fill_number(rec, field, parse_u64(v)?)?
        }
        // A header: anything but a number is kept as absent rather than rejected.
        FieldId::UpstreamServiceTime => rec.upstream_service_time_ms = parse_u64(v).ok().flatten(),
        FieldId::XForwardedFor => rec.x_forwarded_for = opt_bytes(v),
        FieldId::UserAgent => rec.user_agent = opt_bytes(v),
        FieldId::RequestId => rec.request_id = opt_bytes(v),
        FieldId::Authority => rec.authority = opt_bytes(v),
        FieldId::UpstreamHost => rec.upstream_host = opt_bytes(v),
        FieldId::UpstreamCluster => rec.upstream_cluster = opt_bytes(strip_stat_delimiter(v)),
        FieldId::UpstreamLocalAddress => rec.upstream_local_address = opt_bytes(v),
        FieldId::DownstreamLocalAddress => rec.downstream_local_address = opt_bytes(v),
        FieldId::DownstreamRemoteAddress => rec.downstream_remote_address = opt_bytes(v),
        FieldId::RequestedServerName => rec.requested_server_name = opt_bytes(v),
        FieldId::RouteName => rec.route_name = opt_bytes(v),
        FieldId::PolicyStatus => rec.policy_status = opt_bytes(v),
        FieldId::SourceWorkload => rec.source_workload = opt_bytes(v),
        FieldId::DestinationWorkload => rec.destination_workload = opt_bytes(v),
        // Kuma's direction only, and never written by a format: kept out of line so that
        // this function's prologue stays as light as the common fields need.
        FieldId::Direction | FieldId::L4DestinationAddress | FieldId::L4Error => fill_rare(rec, field, v),
        FieldId::Ignored => match class {
            Class::Int => {
                parse_u64(v)?;
            }
            Class::Status => {
                parse_u64(v).map_err(|_| ErrorKind::BadStatus)?;
            }
            Class::Flags => {
                ResponseFlags::parse(v).map_err(|_| ErrorKind::BadFlags)?;
            }
            _ => {}
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_handles_every_operator_shape() {
        let t = tokenize("[%START_TIME(%Y/%m/%d)%] %REQ(X?Y):10% %%%DURATION% x").unwrap();
        assert_eq!(
            t,
            vec![
                Token::Literal("["),
                Token::Operator { command: "START_TIME", arg: Some("%Y/%m/%d"), max_len: None },
                Token::Literal("] "),
                Token::Operator { command: "REQ", arg: Some("X?Y"), max_len: Some(10) },
                Token::Literal(" "),
                Token::Percent,
                Token::Operator { command: "DURATION", arg: None, max_len: None },
                Token::Literal(" x"),
            ]
        );
    }

    #[test]
    fn lazy_argument_may_contain_a_parenthesis() {
        let t = tokenize("%CEL(request.headers['a)b'])%").unwrap();
        assert_eq!(
            t,
            vec![Token::Operator { command: "CEL", arg: Some("request.headers['a)b']"), max_len: None }]
        );
    }

    /// A typo in `--format` must stop the run: read as an ignored field, `%RESPONSE_FLAG%` made
    /// every `503 UF,URX` an application error.
    #[test]
    fn unknown_operators_are_rejected_with_the_closest_known_name() {
        let cases = [
            (
                "[%START_TIME%] %RESPONSE_CODE% %RESPONSE_FLAG% %DURATION%",
                "RESPONSE_FLAG",
                31,
                Some("RESPONSE_FLAGS"),
            ),
            (
                "%RESPONSE_CODE% %UPSTREAM_TRANSPORT_FAILURE%",
                "UPSTREAM_TRANSPORT_FAILURE",
                16,
                Some("UPSTREAM_TRANSPORT_FAILURE_REASON"),
            ),
            ("%RESPONSE_CODE% %DURATON%", "DURATON", 16, Some("DURATION")),
            ("%RESPONSE_CODE% %UPSTREAM_CLUSTERS%", "UPSTREAM_CLUSTERS", 16, Some("UPSTREAM_CLUSTER")),
            ("%RESPONSE_CODE% %REQUEST(:PATH)%", "REQUEST", 16, Some("REQUEST_HEADER")),
            ("%RESPONSE_CODE% %FOO%", "FOO", 16, None),
            // The case is wrong: Envoy's tokenizer reads only upper-case names.
            ("%response_code% %DURATION%", "response_code", 0, Some("RESPONSE_CODE")),
            ("%RESPONSE_CODE% %req(:path)%", "req", 16, Some("REQ")),
        ];
        for (format, name, offset, suggestion) in cases {
            let err = CompiledFormat::compile(format, FormatKind::Custom).unwrap_err();
            assert_eq!(
                err,
                FormatError::UnknownOperator { name: name.into(), offset, suggestion },
                "{format}"
            );
        }
        let err = CompiledFormat::compile("%RESPONSE_CODE% %RESPONSE_FLAG%", FormatKind::Custom).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown operator %RESPONSE_FLAG% at byte 16 (did you mean %RESPONSE_FLAGS%?)"
        );
        let err = CompiledFormat::compile("%RESPONSE_CODE% %XYZZY%", FormatKind::Custom).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown operator %XYZZY% at byte 16 (Envoy's operators: https://"),
            "{err}"
        );
    }

    /// Every operator Envoy documents, with and without arguments and a length, still compiles:
    /// the envoyproxy/envoy docs' own examples (`docs/root/configuration/observability/access_log/usage.rst`).
    #[test]
    fn every_real_operator_is_accepted() {
        for name in KNOWN_OPERATORS {
            CompiledFormat::compile(&format!("x %{name}% y"), FormatKind::Custom).unwrap();
        }
        for format in [
            "%START_TIME(%Y/%m/%dT%H:%M:%S%z %s)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH):256% %RESP(SERVER)%",
            "%DYNAMIC_METADATA(com.test.my_filter:test_key):20% %CLUSTER_METADATA(NAMESPACE:KEY)%",
            "%FILTER_STATE(envoy.tcp_proxy.cluster:PLAIN)% %UPSTREAM_FILTER_STATE(key:TYPED)%",
            "%ENVIRONMENT(HOSTNAME)% %HOSTNAME% %REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%",
            "%METADATA(ROUTE:com.test.my_filter:test_key)% %CEL(request.headers['x'])% %TYPED_CEL(xds.node.id)%",
            "%COMMON_DURATION(US_RX_BEG:DS_TX_END:ms)% %GRPC_STATUS(CAMEL_STRING)% %PATH(WQ:ORIG)%",
            "%RESPONSE_CODE_DETAILS(ALLOW_WHITESPACES)% %QUERY_PARAM(x):10% %TRAILER(grpc-status)%",
            "%KUMA_SOURCE_SERVICE% %KUMA_MESH% %DOWNSTREAM_ADDRESS% %XFCC_VALUE(uri)% %%",
        ] {
            CompiledFormat::compile(format, FormatKind::Custom).unwrap_or_else(|e| panic!("{format}: {e}"));
        }
        assert!(KNOWN_OPERATORS.windows(2).all(|w| w[0] < w[1]), "sorted for the binary search");
    }

    #[test]
    fn a_stray_percent_is_an_error_with_its_offset() {
        assert_eq!(tokenize("abc %nope%"), Err(FormatError::BadOperator { offset: 4 }));
        assert_eq!(tokenize("100%"), Err(FormatError::BadOperator { offset: 3 }));
        assert!(CompiledFormat::compile("no operators", FormatKind::Custom).is_err());
        assert!(CompiledFormat::compile("", FormatKind::Custom).is_err());
    }

    #[test]
    fn custom_format_with_reordered_fields() {
        let f = CompiledFormat::compile(
            "%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %DURATION%ms \"%REQ(USER-AGENT)%\" 100%%\n",
            FormatKind::Custom,
        )
        .unwrap();
        let r =
            f.parse(b"503 UF,URX outbound|80||a.b.svc.cluster.local; 12ms \"curl \"x\" y\" 100%").unwrap();
        assert_eq!(r.response_code, Some(503));
        assert_eq!(r.upstream_cluster, Some(&b"outbound|80||a.b.svc.cluster.local"[..]));
        assert_eq!(r.duration_ms, Some(12));
        assert_eq!(r.user_agent, Some(&b"curl \"x\" y"[..]));
    }

    #[test]
    fn omit_empty_values_gives_empty_fields() {
        let f = CompiledFormat::compile("%RESPONSE_CODE% %RESPONSE_FLAGS% %ROUTE_NAME%", FormatKind::Custom)
            .unwrap();
        let r = f.parse(b"200  ").unwrap();
        assert_eq!(r.response_code, Some(200));
        assert!(r.response_flags.is_empty());
        assert_eq!(r.route_name, None);
    }

    #[test]
    fn the_written_out_layouts_are_the_compiled_ones() {
        for (kind, (lead, steps, last)) in
            [(FormatKind::Istio19, ISTIO_1_9_STEPS), (FormatKind::EnvoyDefault, ENVOY_DEFAULT_STEPS)]
        {
            let compiled = crate::format::builtin::layout(kind).unwrap();
            assert_eq!(&*compiled.lead, lead, "{kind:?}");
            let mut want: Vec<(FieldId, Class, Term)> =
                steps.iter().map(|&(f, c, l)| (f, c, Term::Lit(l.into()))).collect();
            if let Some((f, c)) = last {
                want.push((f, c, Term::End));
            }
            let got: Vec<(FieldId, Class, Term)> =
                compiled.steps.iter().map(|s| (s.field, s.class, s.term.clone())).collect();
            assert_eq!(got, want, "{kind:?}");
        }
    }

    /// Generated lines of every style and wrapper, the real Envoy samples, lines made to need
    /// backtracking (a `" "` inside the User-Agent, a space in the path), and lines with a quote
    /// or a space at every position, or cut or missing a byte there.
    fn lines_to_read_both_ways() -> Vec<Vec<u8>> {
        use envoy_triage_synth::{Limit, Style, SynthConfig, generate};
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for style in [Style::IstioText, Style::EnvoyDefault] {
            let cfg = SynthConfig { limit: Limit::Lines(3000), style, ..SynthConfig::default() };
            lines.extend(generate(&cfg).0.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        }
        let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-logs");
        for entry in std::fs::read_dir(samples).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                lines.extend(std::fs::read(path).unwrap().split(|&b| b == b'\n').map(<[u8]>::to_vec));
            }
        }
        let tricky: Vec<Vec<u8>> = lines
            .iter()
            .take(500)
            .flat_map(|l| {
                let s = String::from_utf8_lossy(l).into_owned();
                [
                    s.replacen("\" \"", "\" \" \"", 2),
                    s.replacen(" HTTP/", "  HTTP/", 1),
                    s.replacen(' ', "\"", 3),
                ]
            })
            .map(String::into_bytes)
            .collect();
        // A quote or a space at every position (every 64-byte block edge of the structure the
        // written-out layouts are read by), cut there, or missing the byte there.
        let mut edited: Vec<Vec<u8>> = Vec::new();
        for l in lines.iter().take(30) {
            for i in 0..l.len() {
                for b in [b'"', b' '] {
                    let mut e = l.clone();
                    e[i] = b;
                    edited.push(e);
                }
                edited.push(l[..i].to_vec());
                edited.push([&l[..i], &l[i + 1..]].concat());
            }
        }
        lines.extend(tricky);
        lines.extend(edited);
        lines
    }

    #[test]
    fn direct_and_general_matching_read_every_line_alike() {
        let lines = lines_to_read_both_ways();
        let mut read = 0;
        for layout in crate::format::builtin::text_layouts() {
            for line in &lines {
                let direct = layout.parse(line).map(|r| r.fields());
                let general = layout.parse_general(line).map(|r| r.fields());
                assert_eq!(direct, general, "{:?} {}", layout.kind(), String::from_utf8_lossy(line));
                read += direct.is_ok() as usize;
            }
        }
        assert!(read > 6000, "{read}");
    }

    #[test]
    fn the_written_out_layouts_read_exactly_the_first_attempts_lines() {
        // Stricter than reading alike: a written-out layout must accept every line the general
        // matcher reads without backtracking (or such lines would take the slow path) and no
        // other, with the same values. Each compiled form is checked: the one the CPU picks, the
        // baseline one and, where the CPU has AVX2, that one.
        type Direct = Box<dyn for<'a> Fn(&'a [u8], &mut Record<'a>) -> bool>;
        let mut written: Vec<(FormatKind, Direct)> = vec![
            (FormatKind::Istio19, Box::new(direct_istio_1_9)),
            (FormatKind::EnvoyDefault, Box::new(direct_envoy_default)),
            (FormatKind::Istio19, Box::new(|l, r| direct_istio_1_9::with(crate::scan::Baseline, l, r))),
            (
                FormatKind::EnvoyDefault,
                Box::new(|l, r| direct_envoy_default::with(crate::scan::Baseline, l, r)),
            ),
        ];
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = crate::scan::Avx2::detect() {
            written.push((FormatKind::Istio19, Box::new(move |l, r| direct_istio_1_9::with(avx2, l, r))));
            written.push((
                FormatKind::EnvoyDefault,
                Box::new(move |l, r| direct_envoy_default::with(avx2, l, r)),
            ));
        }
        let lines = lines_to_read_both_ways();
        for (kind, direct) in written {
            let layout = crate::format::builtin::layout(kind).unwrap();
            let mut first_attempt = 0;
            for line in &lines {
                let mut general = Record { format: kind, ..Record::default() };
                let ok = line.starts_with(&layout.lead)
                    && layout.run::<false>(line, 0, layout.lead.len(), &mut None, &mut general) == Ok(0);
                let mut rec = Record { format: kind, ..Record::default() };
                let text = String::from_utf8_lossy(line);
                assert_eq!(direct(line, &mut rec), ok, "{kind:?} {text}");
                if ok {
                    assert_eq!(rec.fields(), general.fields(), "{kind:?} {text}");
                    first_attempt += 1;
                }
            }
            assert!(first_attempt > 2500, "{kind:?} {first_attempt}");
        }
    }

    #[test]
    fn the_first_reading_is_the_exact_one_where_it_reads() {
        type Read19 = for<'a> fn(&'a [u8], &mut Record<'a>) -> bool;
        // `walk` may decline a line `with` reads (the caller then runs `with`), but what it
        // reads it reads as `with` does; and it must read nearly every real line, or it is a
        // cost. Each compiled form is checked, as above.
        type Read = Box<dyn for<'a> Fn(&'a [u8], &mut Record<'a>) -> bool>;
        let mut pairs: Vec<(FormatKind, Read, Read)> = vec![
            (
                FormatKind::Istio19,
                Box::new(|l, r| direct_istio_1_9::walk(crate::scan::Baseline, l, r)),
                Box::new(|l, r| direct_istio_1_9::with(crate::scan::Baseline, l, r)),
            ),
            (
                FormatKind::EnvoyDefault,
                Box::new(|l, r| direct_envoy_default::walk(crate::scan::Baseline, l, r)),
                Box::new(|l, r| direct_envoy_default::with(crate::scan::Baseline, l, r)),
            ),
        ];
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = crate::scan::Avx2::detect() {
            pairs.push((
                FormatKind::Istio19,
                Box::new(move |l, r| direct_istio_1_9::walk(avx2, l, r)),
                Box::new(move |l, r| direct_istio_1_9::with(avx2, l, r)),
            ));
            pairs.push((
                FormatKind::EnvoyDefault,
                Box::new(move |l, r| direct_envoy_default::walk(avx2, l, r)),
                Box::new(move |l, r| direct_envoy_default::with(avx2, l, r)),
            ));
        }
        let lines = lines_to_read_both_ways();
        // The form chosen for this CPU reads as the baseline one (walk, then the steps).
        for (kind, baseline, chosen) in [
            (FormatKind::Istio19, direct_istio_1_9::read_baseline as Read19, direct_istio_1_9 as Read19),
            (FormatKind::EnvoyDefault, direct_envoy_default::read_baseline, direct_envoy_default),
        ] {
            for line in &lines {
                let (mut a, mut b) = (Record::default(), Record::default());
                let (x, y) = (baseline(line, &mut a), chosen(line, &mut b));
                assert_eq!(x, y, "{kind:?} {}", String::from_utf8_lossy(line));
                if x {
                    b.format = FormatKind::Custom;
                    assert_eq!(a, b, "{kind:?} {}", String::from_utf8_lossy(line));
                }
            }
        }
        for (kind, walk, with) in pairs {
            let (mut walked, mut exact, mut generated) = (0, 0, 0);
            for (i, line) in lines.iter().enumerate() {
                let text = String::from_utf8_lossy(line);
                let mut a = Record { format: kind, ..Record::default() };
                let mut b = Record { format: kind, ..Record::default() };
                let (w, x) = (walk(line, &mut a), with(line, &mut b));
                if w {
                    assert!(x, "{kind:?} {text}");
                    assert_eq!(a.fields(), b.fields(), "{kind:?} {text}");
                    walked += 1;
                }
                exact += x as usize;
                // The generated and sample lines come first (`lines_to_read_both_ways`).
                if i < 6000 && x && !w {
                    generated += 1;
                }
            }
            assert!(walked * 10 >= exact * 9, "{kind:?}: {walked} of {exact}");
            assert_eq!(generated, 0, "{kind:?}: declined {generated} generated lines");
        }
    }

    #[test]
    fn the_quick_rejection_of_pasted_lines_loses_no_reading() {
        // Every cut of real-shaped lines (at the start, at the end, both) reads the same with
        // and without `may_hold_code`; and most application lines are rejected by it.
        use envoy_triage_synth::{Limit, Style, SynthConfig, generate};
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for (style, n) in [(Style::IstioText, 60), (Style::EnvoyDefault, 30)] {
            let cfg =
                SynthConfig { limit: Limit::Lines(n), style, noise_ratio: 0.0, ..SynthConfig::default() };
            lines.extend(
                generate(&cfg).0.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec),
            );
        }
        let mut read = 0;
        for layout in crate::format::builtin::text_layouts() {
            let code = layout.steps.iter().position(|s| s.field == FieldId::ResponseCode);
            let flags = layout.steps.iter().position(|s| s.field == FieldId::ResponseFlags);
            let Some(code) = code else { continue };
            for line in &lines {
                for a in (0..line.len()).step_by(7) {
                    for b in [line.len(), line.len() * 2 / 3, line.len() / 2] {
                        if a >= b {
                            continue;
                        }
                        let cut = &line[a..b];
                        let slow = layout.pasted_readings(cut, code, flags);
                        let fast = layout.parse_pasted(cut);
                        assert_eq!(
                            slow.as_ref().map(|(r, p)| (r.fields(), *p)),
                            fast.as_ref().map(|(r, p)| (r.fields(), *p)),
                            "{:?} {}",
                            layout.kind(),
                            String::from_utf8_lossy(cut)
                        );
                        read += fast.is_some() as usize;
                    }
                }
            }
        }
        assert!(read > 1000, "only {read} cut lines read");
        let istio = crate::format::builtin::layout(FormatKind::Istio19).unwrap();
        let code = istio.steps.iter().position(|s| s.field == FieldId::ResponseCode).unwrap();
        for app in [
            &b"2026-11-20 10:00:01.123  INFO 1 --- [nio-8080-exec-1] c.e.CartController : GET /cart/1 took 12 ms"[..],
            b"    at com.example.shop.CartService.load(CartService.java:42)",
            b"Exception in thread \"main\" java.lang.IllegalStateException: 500 errors",
        ] {
            assert!(!istio.may_hold_code(app, code), "{}", String::from_utf8_lossy(app));
        }
    }

    #[test]
    fn hostile_lines_are_bounded_errors() {
        let f = CompiledFormat::compile(
            "\"%REQ(A)%\" \"%REQ(B)%\" \"%REQ(C)%\" \"%REQ(D)%\" %RESPONSE_CODE%",
            FormatKind::Custom,
        )
        .unwrap();
        let mut line = Vec::new();
        for _ in 0..10_000 {
            line.extend_from_slice(b"\" \"");
        }
        assert!(f.parse(&line).is_err());
    }
}
