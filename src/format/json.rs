//! JSON access-log lines: Istio's JSON encoding (typed ≥1.8, all strings ≤1.7, any key order,
//! keys sorted since Envoy 1.33) and any Envoy JSON log whose keys follow the usual spellings.
//!
//! A single forward scan over the object, no intermediate tree: each key is looked up in the
//! alias table below, its value stored straight into the [`Record`]. Strings without escapes are
//! borrowed from the line; only a value that carries an escape is unescaped, into the line's
//! [`Scratch`] arena, from which the record borrows it too. `null`, `"-"` and a missing key all
//! mean "absent". Also home of [`unescape_into`], used by the docker json-file wrapper in
//! [`super::wrapper`].

use super::compile::{FieldId, is_absent, parse_u64, strip_stat_delimiter};
use super::error::{ErrorKind, ParseError};
use crate::record::{Direction, FormatKind, Record};
use crate::response_flags::ResponseFlags;
#[cfg(target_arch = "x86_64")]
use crate::scan::Avx2;
use crate::scan::{Baseline, Masks, Stops};

/// What a JSON line turned out to be.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing the record would allocate per line
pub enum JsonLine<'a> {
    Record(Record<'a>),
    /// A structured application log (pilot-agent / Envoy `logAsJson`): has `level` and `msg`.
    AppLog,
}

/// How a key maps to a record slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias {
    pub field: FieldId,
    /// Istio's own spelling: a value of the wrong type makes the line malformed. For every other
    /// spelling (`status`, `code`, …, which unrelated logs use too) such a value is ignored.
    pub strict: bool,
}

/// Maps a key to the record slot it fills (see [`alias`]).
pub fn field_for_key(key: &[u8]) -> Option<FieldId> {
    alias(key).map(|a| a.field)
}

/// Maps a key to the record slot it fills: Istio's keys as written, then every spelling the
/// family reference lists (§13), matched after normalising the key: leading `:`/`@`/`_`
/// dropped, `-`, `.`, `:` and camelCase humps turned into `_`, lower-cased
/// (`:authority` → `authority`, `x-request-id` → `x_request_id`, `responseCode` →
/// `response_code`, `src.addr` → `src_addr`, `RESPONSE_CODE` → `response_code`). Istio's keys
/// are matched first and as written, so Istio JSON costs one lookup per key.
#[inline(always)]
pub fn alias(key: &[u8]) -> Option<Alias> {
    if let Some(field) = istio_key(key) {
        return Some(Alias { field, strict: true });
    }
    other_alias(key)
}

/// [`alias`] for keys that are not Istio's, out of line.
#[inline(never)]
fn other_alias(key: &[u8]) -> Option<Alias> {
    if let Some(field) = alias_key(key) {
        return Some(Alias { field, strict: false });
    }
    let mut buf = [0u8; 64];
    let n = normalise_key(key, &mut buf)?;
    let k = &buf[..n];
    if k == key {
        return None;
    }
    istio_key(k).or_else(|| alias_key(k)).map(|field| Alias { field, strict: false })
}

/// Istio's JSON keys (reference §2.4), which Consul, OSM, Emissary and Envoy Gateway share.
#[cfg(test)]
const ISTIO_KEYS: &[(&[u8], FieldId)] = &[
    (b"start_time", FieldId::StartTime),
    (b"method", FieldId::Method),
    (b"path", FieldId::Path),
    (b"protocol", FieldId::Protocol),
    (b"response_code", FieldId::ResponseCode),
    (b"response_flags", FieldId::ResponseFlags),
    (b"response_code_details", FieldId::Details),
    (b"connection_termination_details", FieldId::TerminationDetails),
    (b"upstream_transport_failure_reason", FieldId::TransportFailure),
    (b"bytes_received", FieldId::BytesReceived),
    (b"bytes_sent", FieldId::BytesSent),
    (b"duration", FieldId::Duration),
    (b"upstream_service_time", FieldId::UpstreamServiceTime),
    (b"x_forwarded_for", FieldId::XForwardedFor),
    (b"user_agent", FieldId::UserAgent),
    (b"request_id", FieldId::RequestId),
    (b"authority", FieldId::Authority),
    (b"upstream_host", FieldId::UpstreamHost),
    (b"upstream_cluster", FieldId::UpstreamCluster),
    (b"upstream_local_address", FieldId::UpstreamLocalAddress),
    (b"downstream_local_address", FieldId::DownstreamLocalAddress),
    (b"downstream_remote_address", FieldId::DownstreamRemoteAddress),
    (b"requested_server_name", FieldId::RequestedServerName),
    (b"route_name", FieldId::RouteName),
    (b"istio_policy_status", FieldId::PolicyStatus),
];

/// The field of one of [`ISTIO_KEYS`]. Length, first and last byte tell them apart, so a key
/// costs one comparison (a `match` on the names compares each name of the key's length), made
/// in its own arm: the name's length is a constant there, and the word compares unrolled.
#[inline(always)]
fn istio_key(key: &[u8]) -> Option<FieldId> {
    use crate::scan::same_bytes;
    let (&first, &last) = (key.first()?, key.last()?);
    Some(match (key.len(), first, last) {
        (10, b's', b'e') if same_bytes(key, b"start_time") => FieldId::StartTime,
        (6, b'm', b'd') if same_bytes(key, b"method") => FieldId::Method,
        (4, b'p', b'h') if same_bytes(key, b"path") => FieldId::Path,
        (8, b'p', b'l') if same_bytes(key, b"protocol") => FieldId::Protocol,
        (13, b'r', b'e') if same_bytes(key, b"response_code") => FieldId::ResponseCode,
        (14, b'r', b's') if same_bytes(key, b"response_flags") => FieldId::ResponseFlags,
        (21, b'r', b's') if same_bytes(key, b"response_code_details") => FieldId::Details,
        (30, b'c', b's') if same_bytes(key, b"connection_termination_details") => FieldId::TerminationDetails,
        (33, b'u', b'n') if same_bytes(key, b"upstream_transport_failure_reason") => {
            FieldId::TransportFailure
        }
        (14, b'b', b'd') if same_bytes(key, b"bytes_received") => FieldId::BytesReceived,
        (10, b'b', b't') if same_bytes(key, b"bytes_sent") => FieldId::BytesSent,
        (8, b'd', b'n') if same_bytes(key, b"duration") => FieldId::Duration,
        (21, b'u', b'e') if same_bytes(key, b"upstream_service_time") => FieldId::UpstreamServiceTime,
        (15, b'x', b'r') if same_bytes(key, b"x_forwarded_for") => FieldId::XForwardedFor,
        (10, b'u', b't') if same_bytes(key, b"user_agent") => FieldId::UserAgent,
        (10, b'r', b'd') if same_bytes(key, b"request_id") => FieldId::RequestId,
        (9, b'a', b'y') if same_bytes(key, b"authority") => FieldId::Authority,
        (13, b'u', b't') if same_bytes(key, b"upstream_host") => FieldId::UpstreamHost,
        (16, b'u', b'r') if same_bytes(key, b"upstream_cluster") => FieldId::UpstreamCluster,
        (22, b'u', b's') if same_bytes(key, b"upstream_local_address") => FieldId::UpstreamLocalAddress,
        (24, b'd', b's') if same_bytes(key, b"downstream_local_address") => FieldId::DownstreamLocalAddress,
        (25, b'd', b's') if same_bytes(key, b"downstream_remote_address") => FieldId::DownstreamRemoteAddress,
        (21, b'r', b'e') if same_bytes(key, b"requested_server_name") => FieldId::RequestedServerName,
        (10, b'r', b'e') if same_bytes(key, b"route_name") => FieldId::RouteName,
        (19, b'i', b's') if same_bytes(key, b"istio_policy_status") => FieldId::PolicyStatus,
        _ => return None,
    })
}

/// Every other spelling, in normalised form (family reference §13 and §10.1). Where seen:
/// Envoy Gateway's header-named keys (`x-envoy-origin-path`, `:authority`, `user-agent`,
/// `x-request-id`, `x-forwarded-for`, `x-envoy-upstream-service-time`); Contour's `@timestamp`
/// and `ts`; ECS's `duration_ms` and `forwarded_for`; Gloo's camelCase; Cloud Logging's
/// `requestMethod`/`requestUrl`; the stackdriver labels `response_flag`/`response_details`;
/// Filebeat's `envoyproxy.*` and ECS-schema `http.response.status_code`; ztunnel's dotted keys;
/// `key=value` guides' `code`, `flags`, `bytes_in`, `upstream_time`, `src`, `dst`, `cluster`.
fn alias_key(key: &[u8]) -> Option<FieldId> {
    Some(match key {
        b"timestamp" | b"ts" | b"time" => FieldId::StartTime,
        b"request_method" | b"http_method" | b"req_method" => FieldId::Method,
        b"x_envoy_origin_path"
        | b"x_envoy_original_path"
        | b"request_path"
        | b"req_path"
        | b"request_url"
        | b"url" => FieldId::Path,
        b"status"
        | b"status_code"
        | b"code"
        | b"response_status"
        | b"http_status"
        | b"http_response_status_code" => FieldId::ResponseCode,
        b"response_flag" | b"flags" | b"response_flags_long" | b"envoyproxy_response_flags" => {
            FieldId::ResponseFlags
        }
        b"response_details" | b"details" => FieldId::Details,
        b"bytes_recv" | b"bytes_in" | b"bytes_rx" | b"rx_bytes" | b"req_bytes" | b"request_bytes" => {
            FieldId::BytesReceived
        }
        b"bytes_out" | b"bytes_tx" | b"tx_bytes" | b"resp_bytes" | b"response_bytes" => FieldId::BytesSent,
        b"duration_ms" | b"request_time" => FieldId::Duration,
        b"x_envoy_upstream_service_time" | b"upstream_time" => FieldId::UpstreamServiceTime,
        b"forwarded_for" => FieldId::XForwardedFor,
        b"x_request_id" | b"envoyproxy_request_id" => FieldId::RequestId,
        b"host" | b"dst_service" => FieldId::Authority,
        b"upstream" | b"dst" | b"dst_hbone_addr" => FieldId::UpstreamHost,
        b"dst_addr" => FieldId::L4DestinationAddress,
        b"upstream_cluster_raw" | b"cluster" | b"backend_cluster" => FieldId::UpstreamCluster,
        b"src" | b"src_addr" | b"client_ip" => FieldId::DownstreamRemoteAddress,
        b"src_workload" | b"source_workload" => FieldId::SourceWorkload,
        b"dst_workload" | b"destination_workload" => FieldId::DestinationWorkload,
        b"direction" => FieldId::Direction,
        b"error" => FieldId::L4Error,
        _ => return None,
    })
}

/// Writes the normalised form of `key` into `buf` (see [`alias`]); `None` if it does not fit.
pub(crate) fn normalise_key(key: &[u8], buf: &mut [u8; 64]) -> Option<usize> {
    let mut n = 0;
    let mut after_lower = false;
    for &b in key {
        let (sep, c) = match b {
            b'A'..=b'Z' => (after_lower, b.to_ascii_lowercase()),
            b'a'..=b'z' | b'0'..=b'9' => (false, b),
            _ => {
                if n > 0 && buf[n - 1] != b'_' {
                    *buf.get_mut(n)? = b'_';
                    n += 1;
                }
                after_lower = false;
                continue;
            }
        };
        if sep {
            *buf.get_mut(n)? = b'_';
            n += 1;
        }
        *buf.get_mut(n)? = c;
        n += 1;
        after_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
    }
    while n > 0 && buf[n - 1] == b'_' {
        n -= 1;
    }
    Some(n)
}

/// Where the values of one line that carry escapes are unescaped to: an arena the decoder
/// empties before each line, so that a record borrows every value (from the line or from
/// here), has nothing to drop, and costs no allocation once the arena is warm.
#[derive(Debug, Default)]
pub struct Scratch(bumpalo::Bump);

impl Scratch {
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// Forgets every value unescaped so far (`&mut`: no record can still borrow one).
    #[inline]
    pub fn clear(&mut self) {
        self.0.reset();
    }

    /// The bytes `write` puts into a buffer of about `hint` bytes, kept until [`Self::clear`].
    pub(crate) fn keep<E>(
        &self,
        hint: usize,
        write: impl FnOnce(&mut ScratchBuf<'_>) -> Result<(), E>,
    ) -> Result<&[u8], E> {
        let mut out = ScratchBuf(bumpalo::collections::Vec::with_capacity_in(hint, &self.0));
        write(&mut out)?;
        Ok(out.0.into_bump_slice())
    }
}

/// A growing buffer in a [`Scratch`].
pub struct ScratchBuf<'s>(bumpalo::collections::Vec<'s, u8>);

/// Where unescaped bytes go: a `Vec` (the wrappers' joined payloads) or a [`ScratchBuf`].
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn put_byte(&mut self, b: u8);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn put_byte(&mut self, b: u8) {
        self.push(b);
    }
}

impl Sink for ScratchBuf<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice_copy(bytes);
    }
    #[inline]
    fn put_byte(&mut self, b: u8) {
        self.0.push(b);
    }
}

/// A scalar or raw JSON value (also a `key=value` value, always a string).
pub enum Value<'a> {
    Str(&'a [u8]),
    /// A number, `true`/`false`, or a nested object/array: its raw text.
    Raw(&'a [u8]),
    Null,
}

struct Cursor<'a, M: Masks = Baseline> {
    s: &'a [u8],
    i: usize,
    /// Where escaped strings are unescaped to; `None` for the scans that only look at raw
    /// values (envelopes, Kubernetes metadata), which never ask for an unescaped string.
    scratch: Option<&'a Scratch>,
    /// Where the line's quotes and backslashes are: each string's end is a bit scan.
    stops: Stops<'a, M>,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `s`, whose blocks are compared with the x86_64 baseline.
    fn new(s: &'a [u8], scratch: Option<&'a Scratch>) -> Self {
        Cursor::with(Baseline, s, scratch)
    }
}

impl<'a, M: Masks> Cursor<'a, M> {
    #[inline(always)]
    fn with(masks: M, s: &'a [u8], scratch: Option<&'a Scratch>) -> Self {
        Cursor { s, i: 0, scratch, stops: Stops::with(masks, s) }
    }

    #[inline(always)]
    fn ws(&mut self) {
        // Proxies write compact JSON: one test for the common case of no whitespace at all.
        if self.s.get(self.i).is_none_or(|&b| b > b' ') {
            return;
        }
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    #[inline]
    fn err(&self, kind: ErrorKind) -> ParseError {
        ParseError::at(kind, self.i)
    }

    #[inline]
    fn eat(&mut self, b: u8) -> Result<(), ParseError> {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(ErrorKind::BadJson))
        }
    }

    /// [`Self::ws`] then [`Self::eat`], with one test when the byte is right there (compact
    /// JSON: every `"`, `:` and `,` between a proxy's keys and values).
    #[inline(always)]
    fn ws_eat(&mut self, b: u8) -> Result<(), ParseError> {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            return Ok(());
        }
        self.ws();
        self.eat(b)
    }

    /// After a member's value: `true` past a `,` (another member follows), `false` past the
    /// closing `}`.
    #[inline(always)]
    fn member_end(&mut self) -> Result<bool, ParseError> {
        let more = match self.s.get(self.i) {
            Some(b',') => true,
            Some(b'}') => false,
            _ => {
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => true,
                    Some(b'}') => false,
                    _ => return Err(self.err(ErrorKind::BadJson)),
                }
            }
        };
        self.i += 1;
        Ok(more)
    }

    /// The body of a string starting at the opening quote, escapes left as they are.
    fn raw_string(&mut self) -> Result<&'a [u8], ParseError> {
        self.eat(b'"')?;
        let start = self.i;
        let end = string_end(&self.s[start..]).ok_or(ParseError::at(ErrorKind::BadJson, self.s.len()))?;
        self.i = start + end + 1;
        Ok(&self.s[start..start + end])
    }

    /// A value as written: a string's body with its escapes, anything else whole.
    fn raw_value(&mut self) -> Result<&'a [u8], ParseError> {
        if self.s.get(self.i) == Some(&b'"') {
            return self.raw_string();
        }
        let start = self.i;
        self.value()?;
        Ok(&self.s[start..self.i])
    }

    /// A string starting at the opening quote: borrowed from the line unless it holds escapes,
    /// then from the scratch arena.
    #[inline(always)]
    fn string(&mut self) -> Result<&'a [u8], ParseError> {
        self.eat(b'"')?;
        self.string_body()
    }

    /// [`Self::string`] past its opening quote.
    #[inline(always)]
    fn string_body(&mut self) -> Result<&'a [u8], ParseError> {
        let start = self.i;
        match self.stops.next(start) {
            Some(n) if self.s[n] == b'"' => {
                self.i = n + 1;
                Ok(&self.s[start..n])
            }
            _ => self.escaped_string(start),
        }
    }

    /// [`Self::string`] for a body that holds an escape (or has no end), out of line.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize) -> Result<&'a [u8], ParseError> {
        let rest = &self.s[start..];
        let end = string_end(rest).ok_or(ParseError::at(ErrorKind::BadJson, self.s.len()))?;
        let scratch = self.scratch.ok_or(ParseError::at(ErrorKind::BadJson, start))?;
        let body = &rest[..end];
        let out = scratch
            .keep(end, |out| unescape_into(body, out))
            .map_err(|o| ParseError::at(ErrorKind::BadJson, start + o))?;
        self.i = start + end + 1;
        Ok(out)
    }

    #[inline(always)]
    fn value(&mut self) -> Result<Value<'a>, ParseError> {
        let start = self.i;
        match self.s.get(self.i) {
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'n') => self.word(b"null").map(|()| Value::Null),
            Some(b't') => self.word(b"true").map(|()| Value::Raw(&self.s[start..self.i])),
            Some(b'f') => self.word(b"false").map(|()| Value::Raw(&self.s[start..self.i])),
            Some(b'{') | Some(b'[') => {
                self.skip_nested()?;
                Ok(Value::Raw(&self.s[start..self.i]))
            }
            Some(b'-' | b'0'..=b'9') => {
                self.i += 1;
                while self.i < self.s.len()
                    && matches!(self.s[self.i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    self.i += 1;
                }
                Ok(Value::Raw(&self.s[start..self.i]))
            }
            _ => Err(self.err(ErrorKind::BadJson)),
        }
    }

    fn word(&mut self, w: &[u8]) -> Result<(), ParseError> {
        if crate::scan::has_prefix(&self.s[self.i..], w) {
            self.i += w.len();
            Ok(())
        } else {
            Err(self.err(ErrorKind::BadJson))
        }
    }

    /// Skips a nested object or array, respecting strings. Depth is bounded.
    fn skip_nested(&mut self) -> Result<(), ParseError> {
        let mut depth = 0usize;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'{' | b'[' => {
                    depth += 1;
                    if depth > 128 {
                        return Err(self.err(ErrorKind::BadJson));
                    }
                }
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                b'"' => {
                    let end = string_end(&self.s[self.i + 1..])
                        .ok_or(ParseError::at(ErrorKind::BadJson, self.s.len()))?;
                    self.i += end + 1;
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(ParseError::at(ErrorKind::BadJson, self.s.len()))
    }
}

/// Offset of the closing quote of a JSON string body (the bytes after the opening quote).
fn string_end(body: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let n = memchr::memchr2(b'"', b'\\', &body[i..])?;
        match body[i + n] {
            b'"' => return Some(i + n),
            _ => i += n + 2,
        }
        if i > body.len() {
            return None;
        }
    }
}

/// Appends the unescaped form of a JSON string body to `out`. On error returns the offset of
/// the bad escape. Invalid `\u` surrogates become U+FFFD rather than an error: the bytes are
/// log content, not a program.
pub fn unescape_into(body: &[u8], out: &mut impl Sink) -> Result<(), usize> {
    let mut i = 0;
    while i < body.len() {
        let Some(n) = memchr::memchr(b'\\', &body[i..]) else {
            out.put(&body[i..]);
            return Ok(());
        };
        out.put(&body[i..i + n]);
        i += n;
        let esc = *body.get(i + 1).ok_or(i)?;
        i += 2;
        match esc {
            b'"' => out.put_byte(b'"'),
            b'\\' => out.put_byte(b'\\'),
            b'/' => out.put_byte(b'/'),
            b'b' => out.put_byte(8),
            b'f' => out.put_byte(12),
            b'n' => out.put_byte(b'\n'),
            b'r' => out.put_byte(b'\r'),
            b't' => out.put_byte(b'\t'),
            b'u' => {
                let hi = hex4(body.get(i..i + 4).ok_or(i)?).ok_or(i)?;
                i += 4;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    let lo = (body.get(i..i + 2) == Some(b"\\u"))
                        .then(|| body.get(i + 2..i + 6).and_then(hex4))
                        .flatten()
                        .filter(|lo| (0xDC00..0xE000).contains(lo));
                    match lo {
                        Some(lo) => {
                            i += 6;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        }
                        None => None,
                    }
                } else {
                    char::from_u32(hi)
                };
                let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.put(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return Err(i - 2),
        }
    }
    Ok(())
}

fn hex4(h: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &b in h {
        v = v * 16 + (b as char).to_digit(16)?;
    }
    Some(v)
}

/// Fields that only a proxy's access log carries (Envoy's flags and details, upstream and
/// downstream addresses, the cluster, the route).
fn proxy_only(field: FieldId) -> bool {
    matches!(
        field,
        FieldId::ResponseFlags
            | FieldId::Details
            | FieldId::TerminationDetails
            | FieldId::TransportFailure
            | FieldId::UpstreamServiceTime
            | FieldId::UpstreamHost
            | FieldId::UpstreamCluster
            | FieldId::UpstreamLocalAddress
            | FieldId::DownstreamLocalAddress
            | FieldId::DownstreamRemoteAddress
            | FieldId::RequestedServerName
            | FieldId::RouteName
            | FieldId::L4DestinationAddress
    )
}

/// Parses one JSON object line (escaped values unescaped into `scratch`).
pub fn parse_json<'a>(line: &'a [u8], scratch: &'a Scratch) -> Result<JsonLine<'a>, ParseError> {
    let mut rec = Record::default();
    Ok(match parse_json_into(line, scratch, &mut rec)? {
        JsonKind::Record => JsonLine::Record(rec),
        JsonKind::AppLog => JsonLine::AppLog,
    })
}

/// What [`parse_json_into`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// An access record, in the caller's record.
    Record,
    /// A structured application log, as [`JsonLine::AppLog`].
    AppLog,
}

/// [`parse_json`] building the record in `rec` (which must be empty, and holds leftovers when
/// the line is not a record): a record returned by value is copied on the way out.
///
/// Compiled twice, like the written-out text layouts (`compile::direct_layout!`): for the
/// x86_64 baseline, and for CPUs with AVX2 and BMI (chosen per line by a cached CPUID test),
/// where the line's [`Stops`] are found 32 bytes per compare; both read every line alike (a
/// test compares them).
#[inline]
pub fn parse_json_into<'a>(
    line: &'a [u8],
    scratch: &'a Scratch,
    rec: &mut Record<'a>,
) -> Result<JsonKind, ParseError> {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        /// The reader compiled for AVX2 and BMI.
        #[target_feature(enable = "avx2,bmi1,bmi2")]
        fn with_avx2<'a>(
            avx2: Avx2,
            line: &'a [u8],
            scratch: &'a Scratch,
            rec: &mut Record<'a>,
        ) -> Result<JsonKind, ParseError> {
            parse_json_with(avx2, line, scratch, rec)
        }
        // SAFETY: the token exists only if the CPU has the features `with_avx2` is compiled for.
        return unsafe { with_avx2(avx2, line, scratch, rec) };
    }
    parse_json_with(Baseline, line, scratch, rec)
}

/// [`parse_json_into`] with the line's blocks compared by `masks`.
#[inline(always)]
fn parse_json_with<'a, M: Masks>(
    masks: M,
    line: &'a [u8],
    scratch: &'a Scratch,
    rec: &mut Record<'a>,
) -> Result<JsonKind, ParseError> {
    let mut c = Cursor::with(masks, line, Some(scratch));
    c.ws();
    c.eat(b'{')?;
    rec.format = FormatKind::Json;
    let mut access_keys = 0u32;
    let mut log_keys = 0u32;
    // Keys only a proxy writes: an application's structured log may have a path, a status and
    // a duration, never these.
    let mut proxy_keys = 0u32;
    let mut ztunnel = L4Line::default();
    c.ws();
    if c.s.get(c.i) == Some(&b'}') {
        c.i += 1;
    } else {
        loop {
            c.ws_eat(b'"')?;
            let key = c.string_body()?;
            c.ws_eat(b':')?;
            c.ws();
            let at = c.i;
            match alias(key) {
                Some(Alias { field: FieldId::L4Error, .. }) => ztunnel.error = text(c.value()?),
                Some(a) => match store_inline(rec, a.field, c.value()?) {
                    Ok(()) => {
                        access_keys += 1;
                        proxy_keys += proxy_only(a.field) as u32;
                    }
                    Err(k) if a.strict => return Err(ParseError::at(k, at)),
                    Err(_) => {}
                },
                // Other values are only looked at, never unescaped (an envelope's `log` is).
                None => {
                    let raw = c.raw_value()?;
                    match key {
                        b"level" | b"severity" => log_keys += 1,
                        b"msg" | b"message" => {
                            log_keys += 1;
                            ztunnel.message = L4Message::of(raw);
                        }
                        b"scope" => ztunnel.access_scope = raw == b"access",
                        _ => {}
                    }
                }
            }
            if !c.member_end()? {
                break;
            }
        }
    }
    c.ws();
    if c.i != line.len() {
        return Err(c.err(ErrorKind::TrailingData));
    }
    if ztunnel.access_scope {
        // ztunnel with LOG_FORMAT=json (family §10.1).
        match ztunnel.message {
            L4Message::Record => {
                mark_l4(rec, ztunnel.error);
                return Ok(JsonKind::Record);
            }
            L4Message::Opened => return Ok(JsonKind::AppLog),
            L4Message::Other => {}
        }
    }
    let has_status = rec.response_code.is_some() || !rec.response_flags.is_empty();
    // `{"level":"info","msg":"request done","path":"/x","status":200}` is the application
    // talking about a request (the user forgot `-c istio-proxy`), not the proxy's record.
    let app_log = log_keys >= 2 && proxy_keys == 0;
    if !app_log
        && access_keys >= 2
        && (has_status || rec.response_code_details.is_some() || rec.duration_ms.is_some())
    {
        Ok(JsonKind::Record)
    } else if log_keys >= 2 {
        Ok(JsonKind::AppLog)
    } else {
        Err(ParseError::at(ErrorKind::NotAccessJson, 0))
    }
}

/// What a ztunnel line said besides its fields.
#[derive(Default)]
struct L4Line<'a> {
    access_scope: bool,
    message: L4Message,
    error: Option<&'a [u8]>,
}

/// ztunnel's access-log messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum L4Message {
    /// `connection complete` (every connection's end) or `connection failed` (early deny).
    Record,
    /// `connection opened` (debug level): the same connection's start, not a record.
    Opened,
    #[default]
    Other,
}

impl L4Message {
    pub(crate) fn of(m: &[u8]) -> L4Message {
        match m {
            b"connection complete" | b"connection failed" => L4Message::Record,
            b"connection opened" => L4Message::Opened,
            _ => L4Message::Other,
        }
    }
}

/// Completes a ztunnel record: its `error` text goes where the classifier reads transport
/// failures. (`dst.service` is read as the authority, family §13.)
pub(crate) fn finish_l4<'a>(mut rec: Record<'a>, error: Option<&'a [u8]>) -> Record<'a> {
    mark_l4(&mut rec, error);
    rec
}

/// [`finish_l4`] in place.
fn mark_l4<'a>(rec: &mut Record<'a>, error: Option<&'a [u8]>) {
    rec.format = FormatKind::Ztunnel;
    rec.upstream_transport_failure_reason = error;
}

/// A string value as found under a log shipper's envelope key (`log`, `message`, `msg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inner<'a> {
    /// The body of a JSON string, still escaped.
    Escaped(&'a [u8]),
    /// An embedded JSON object, as written.
    Object(&'a [u8]),
}

/// The values under `log`, `message` and `msg` of a JSON object, in the order they appear
/// (Fluent Bit and Fluentd use `log`, Vector `message`, Filebeat `message` with `log` holding
/// file metadata). `None` if the line is not one JSON object. Nothing is unescaped.
pub(crate) fn envelope_candidates(line: &[u8]) -> Option<[Option<Inner<'_>>; 3]> {
    let mut out = [None; 3];
    let mut found = 0;
    let mut c = Cursor::new(line, None);
    c.ws();
    c.eat(b'{').ok()?;
    loop {
        c.ws();
        if c.s.get(c.i) == Some(&b'}') {
            c.i += 1;
            break;
        }
        let key = c.raw_string().ok()?;
        c.ws();
        c.eat(b':').ok()?;
        c.ws();
        let wanted = matches!(key, b"log" | b"message" | b"msg") && found < out.len();
        let inner = if c.s.get(c.i) == Some(&b'"') {
            Inner::Escaped(c.raw_string().ok()?)
        } else {
            let start = c.i;
            c.value().ok()?;
            Inner::Object(&c.s[start..c.i])
        };
        if wanted && !matches!(inner, Inner::Object(o) if !o.starts_with(b"{")) {
            out[found] = Some(inner);
            found += 1;
        }
        c.ws();
        match c.s.get(c.i) {
            Some(b',') => c.i += 1,
            Some(b'}') => {
                c.i += 1;
                break;
            }
            _ => return None,
        }
    }
    c.ws();
    (c.i == line.len() && found > 0).then_some(out)
}

/// The pod, namespace and container a shipper's Kubernetes metadata names.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KubernetesMeta<'a> {
    pub pod: Option<&'a [u8]>,
    pub namespace: Option<&'a [u8]>,
    pub container: Option<&'a [u8]>,
}

/// Reads the top-level `kubernetes` object of an envelope: Fluent Bit and Fluentd write
/// `pod_name`, `namespace_name`, `container_name`; Vector `pod_name`, `pod_namespace`,
/// `container_name`; Filebeat `pod.name`, `namespace`, `container.name`. Values with escapes
/// (never in Kubernetes names) are left out.
pub(crate) fn kubernetes_meta(line: &[u8]) -> KubernetesMeta<'_> {
    let mut out = KubernetesMeta::default();
    let name = |v: &[u8], string: bool| -> bool { string && !v.is_empty() && !v.contains(&b'\\') };
    let mut k8s = None;
    each_member(line, |key, v, string| {
        if key == b"kubernetes" && !string {
            k8s = Some(v);
        }
    });
    let Some(k8s) = k8s else { return out };
    each_member(k8s, |key, v, string| match key {
        b"pod_name" if name(v, string) => out.pod = Some(v),
        b"namespace_name" | b"pod_namespace" | b"namespace" if name(v, string) => out.namespace = Some(v),
        b"container_name" if name(v, string) => out.container = Some(v),
        b"pod" | b"container" if !string => each_member(v, |k, n, string| {
            if k == b"name" && name(n, string) {
                if key == b"pod" {
                    out.pod = Some(n);
                } else {
                    out.container = Some(n);
                }
            }
        }),
        _ => {}
    });
    out
}

/// Calls `f(key, value, is_string)` for each member of a JSON object: a string's body still
/// escaped, any other value as written. Stops quietly at the first syntax error.
fn each_member<'a>(obj: &'a [u8], mut f: impl FnMut(&'a [u8], &'a [u8], bool)) {
    let mut c = Cursor::new(obj, None);
    let mut run = || -> Result<(), ParseError> {
        c.ws();
        c.eat(b'{')?;
        loop {
            c.ws();
            if c.s.get(c.i) == Some(&b'}') {
                return Ok(());
            }
            let key = c.raw_string()?;
            c.ws();
            c.eat(b':')?;
            c.ws();
            let string = c.s.get(c.i) == Some(&b'"');
            let v = c.raw_value()?;
            f(key, v, string);
            c.ws();
            match c.s.get(c.i) {
                Some(b',') => c.i += 1,
                _ => return Ok(()),
            }
        }
    };
    let _ = run();
}

#[inline(always)]
fn text(v: Value<'_>) -> Option<&[u8]> {
    match v {
        Value::Null => None,
        Value::Str(s) if is_absent(s) => None,
        Value::Str(s) | Value::Raw(s) => Some(s),
    }
}

#[inline(always)]
fn number(v: Value<'_>) -> Result<Option<u64>, ErrorKind> {
    match v {
        Value::Null => Ok(None),
        Value::Str(s) | Value::Raw(s) => parse_u64(s),
    }
}

/// A duration in milliseconds: a number, or a string with an `ms` suffix (ztunnel's `"4ms"`,
/// `key=value` guides' `%DURATION%ms`).
#[inline(always)]
fn millis(v: Value<'_>) -> Result<Option<u64>, ErrorKind> {
    match v {
        Value::Str(s) => parse_u64(s.strip_suffix(b"ms").unwrap_or(s)),
        v => number(v),
    }
}

/// Sets `slot` when the value is present: an absent value (`null`, `"-"`) never overwrites one
/// that another spelling of the same field already gave.
#[inline(always)]
fn set<T>(slot: &mut Option<T>, v: Option<T>) {
    if v.is_some() {
        *slot = v;
    }
}

/// Stores one value into its record slot (for the `key=value` and ztunnel readers).
pub fn store<'a>(rec: &mut Record<'a>, field: FieldId, v: Value<'a>) -> Result<(), ErrorKind> {
    store_inline(rec, field, v)
}

/// [`store`], inlined into [`parse_json`]'s loop.
#[inline(always)]
fn store_inline<'a>(rec: &mut Record<'a>, field: FieldId, v: Value<'a>) -> Result<(), ErrorKind> {
    match field {
        FieldId::StartTime => set(&mut rec.start_time, text(v)),
        FieldId::Method => set(&mut rec.method, text(v)),
        FieldId::Path => set(&mut rec.path, text(v)),
        FieldId::Protocol => set(&mut rec.protocol, text(v)),
        FieldId::ResponseCode => set(
            &mut rec.response_code,
            number(v)
                .map_err(|_| ErrorKind::BadStatus)?
                .map(|c| u16::try_from(c).map_err(|_| ErrorKind::BadStatus))
                .transpose()?,
        ),
        FieldId::ResponseFlags => {
            if let Some(s) = text(v) {
                rec.response_flags = ResponseFlags::parse(s).map_err(|_| ErrorKind::BadFlags)?
            }
        }
        FieldId::Details => set(&mut rec.response_code_details, text(v)),
        FieldId::TerminationDetails => set(&mut rec.connection_termination_details, text(v)),
        FieldId::TransportFailure => set(&mut rec.upstream_transport_failure_reason, text(v)),
        FieldId::BytesReceived => set(&mut rec.bytes_received, number(v)?),
        FieldId::BytesSent => set(&mut rec.bytes_sent, number(v)?),
        FieldId::Duration => set(&mut rec.duration_ms, millis(v)?),
        FieldId::UpstreamServiceTime => set(&mut rec.upstream_service_time_ms, millis(v).ok().flatten()),
        FieldId::XForwardedFor => set(&mut rec.x_forwarded_for, text(v)),
        FieldId::UserAgent => set(&mut rec.user_agent, text(v)),
        FieldId::RequestId => set(&mut rec.request_id, text(v)),
        FieldId::Authority => set(&mut rec.authority, text(v)),
        FieldId::UpstreamHost => set(&mut rec.upstream_host, text(v)),
        FieldId::L4DestinationAddress => {
            if rec.upstream_host.is_none() {
                rec.upstream_host = text(v);
            }
        }
        FieldId::UpstreamCluster => set(&mut rec.upstream_cluster, text(v).map(strip_stat_delimiter)),
        FieldId::UpstreamLocalAddress => set(&mut rec.upstream_local_address, text(v)),
        FieldId::DownstreamLocalAddress => set(&mut rec.downstream_local_address, text(v)),
        FieldId::DownstreamRemoteAddress => set(&mut rec.downstream_remote_address, text(v)),
        FieldId::RequestedServerName => set(&mut rec.requested_server_name, text(v)),
        FieldId::RouteName => set(&mut rec.route_name, text(v)),
        FieldId::PolicyStatus => set(&mut rec.policy_status, text(v)),
        FieldId::SourceWorkload => set(&mut rec.source_workload, text(v)),
        FieldId::DestinationWorkload => set(&mut rec.destination_workload, text(v)),
        FieldId::Direction => set(&mut rec.direction, text(v).and_then(Direction::parse)),
        FieldId::L4Error | FieldId::Ignored => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response_flags::Flag;

    /// An arena for one test's records (a few bytes, freed when the test process ends).
    fn scratch() -> &'static Scratch {
        Box::leak(Box::default())
    }

    fn rec(line: &str) -> Record<'_> {
        match parse_json(line.as_bytes(), scratch()).unwrap() {
            JsonLine::Record(r) => r,
            JsonLine::AppLog => panic!("not a record"),
        }
    }

    #[test]
    fn the_avx2_reader_reads_every_line_as_the_baseline_one() {
        #[cfg(target_arch = "x86_64")]
        let Some(avx2) = Avx2::detect() else { return };
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = Baseline;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/encodings/json");
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read(entry.unwrap().path()).unwrap();
            lines.extend(text.split(|&b| b == b'\n').filter(|l| l.starts_with(b"{")).map(<[u8]>::to_vec));
        }
        assert!(lines.len() > 20, "{}", lines.len());
        let extra: Vec<Vec<u8>> = lines
            .iter()
            .flat_map(|l| {
                // Whitespace between tokens, escapes in keys and values, strings across blocks.
                let spaced = String::from_utf8_lossy(l).replace("\":", "\" :\t").replace(",\"", " ,\n\"");
                let escaped = String::from_utf8_lossy(l).replace("\"path\":\"/", "\"pa\\u0074h\":\"\\/");
                let long = String::from_utf8_lossy(l)
                    .replace("\"user_agent\":\"", &format!("\"user_agent\":\"{}", "x".repeat(130)));
                [spaced.into_bytes(), escaped.into_bytes(), long.into_bytes()]
            })
            .collect();
        lines.extend(extra);
        for line in &lines {
            // Every cut of the line: the same errors at the same columns too.
            for end in (0..=line.len()).rev().step_by(7).chain([line.len()]) {
                let l = &line[..end];
                let (s1, s2) = (Scratch::new(), Scratch::new());
                let (mut r1, mut r2) = (Record::default(), Record::default());
                let a = parse_json_with(Baseline, l, &s1, &mut r1);
                // The reader `parse_json_into` runs on this CPU, without the dispatch.
                let b = parse_json_with(avx2, l, &s2, &mut r2);
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{}", String::from_utf8_lossy(l));
                assert_eq!(r1, r2, "{}", String::from_utf8_lossy(l));
            }
        }
    }

    #[test]
    fn istio_keys_are_found_by_length_and_ends() {
        for &(name, field) in ISTIO_KEYS {
            assert_eq!(istio_key(name), Some(field), "{}", String::from_utf8_lossy(name));
            // Every one-byte change, cut and extension is another key or none.
            let mut near: Vec<Vec<u8>> = vec![name[1..].to_vec(), name[..name.len() - 1].to_vec()];
            near.push([name, b"x"].concat());
            for i in 0..name.len() {
                let mut k = name.to_vec();
                k[i] ^= 0x20;
                near.push(k);
            }
            for k in near {
                let want = ISTIO_KEYS.iter().find(|(n, _)| *n == &k[..]).map(|&(_, f)| f);
                assert_eq!(istio_key(&k), want, "{}", String::from_utf8_lossy(&k));
            }
        }
        assert_eq!(istio_key(b""), None);
    }

    #[test]
    fn an_application_log_about_a_request_is_not_a_record() {
        // The application container's own JSON log (kubectl logs without `-c istio-proxy`).
        for line in [
            r#"{"level":"info","ts":1732096800.5,"msg":"request done","path":"/items/7","status":200,"latency_ms":12}"#,
            r#"{"severity":"INFO","message":"GET /cart","method":"GET","status":"503","duration":"40"}"#,
        ] {
            assert!(matches!(parse_json(line.as_bytes(), scratch()), Ok(JsonLine::AppLog)), "{line}");
        }
        // The same shape with a key only a proxy writes is a record.
        let r = rec(r#"{"level":"info","msg":"access","status":503,"path":"/x","response_flags":"UF"}"#);
        assert_eq!(r.response_code, Some(503));
        let r = rec(r#"{"severity":"INFO","message":"x","status":200,"upstream_cluster":"outbound|80||a"}"#);
        assert_eq!(r.response_code, Some(200));
    }

    #[test]
    fn escaped_values_are_unescaped_and_plain_ones_borrowed() {
        let line =
            r#"{"response_code":200,"user_agent":"a \"b\" \u00e9\n","path":"/x","response_flags":"-"}"#;
        let in_line = |v: &[u8]| line.as_bytes().as_ptr_range().contains(&v.as_ptr());
        let r = rec(line);
        assert_eq!(r.user_agent, Some("a \"b\" é\n".as_bytes()));
        assert!(!in_line(r.user_agent.unwrap()), "unescaped into the scratch arena");
        assert!(in_line(r.path.unwrap()), "borrowed from the line");
        // Every escaped value of a line has its own bytes in the arena.
        let r = rec(r#"{"response_code":200,"user_agent":"\u0041","path":"\/p","authority":"h\tx"}"#);
        assert_eq!(
            (r.user_agent, r.path, r.authority),
            (Some(&b"A"[..]), Some(&b"/p"[..]), Some(&b"h\tx"[..]))
        );
    }

    #[test]
    fn typed_and_untyped_values_agree() {
        let typed = rec(
            r#"{"response_code":503,"duration":12,"bytes_sent":0,"response_flags":"UF,URX","upstream_service_time":null}"#,
        );
        let untyped = rec(
            r#"{"response_code":"503","duration":"12","bytes_sent":"0","response_flags":"UF,URX","upstream_service_time":"-"}"#,
        );
        assert_eq!(typed.response_code, untyped.response_code);
        assert_eq!(typed.duration_ms, untyped.duration_ms);
        assert_eq!(typed.bytes_sent, untyped.bytes_sent);
        assert_eq!(typed.response_flags, untyped.response_flags);
        assert!(typed.response_flags.contains(Flag::URX));
        assert_eq!(typed.upstream_service_time_ms, None);
    }

    #[test]
    fn unknown_and_nested_keys_are_ignored() {
        let r = rec(r#"{"x":{"a":[1,"}"]},"response_code":404,"route_name":null,"duration":0}"#);
        assert_eq!(r.response_code, Some(404));
        assert_eq!(r.route_name, None);
    }

    #[test]
    fn app_logs_and_garbage_are_told_apart() {
        assert!(matches!(
            parse_json(
                br#"{"level":"info","time":"2024-01-01T00:00:00Z","scope":"envoy main","msg":"hi"}"#,
                scratch()
            ),
            Ok(JsonLine::AppLog)
        ));
        assert_eq!(parse_json(br#"{"a":1}"#, scratch()).unwrap_err().kind, ErrorKind::NotAccessJson);
        assert_eq!(parse_json(br#"{"response_code":200"#, scratch()).unwrap_err().kind, ErrorKind::BadJson);
        assert_eq!(
            parse_json(br#"{"response_code":"abc","duration":1}"#, scratch()).unwrap_err().kind,
            ErrorKind::BadStatus
        );
        assert_eq!(
            parse_json(br#"{"response_code":1,"duration":1} x"#, scratch()).unwrap_err().kind,
            ErrorKind::TrailingData
        );
    }

    #[test]
    fn surrogate_pairs_and_bad_escapes() {
        let mut out = Vec::new();
        unescape_into(br"\ud83d\ude00 \ud800x", &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "😀 \u{fffd}x");
        let mut out = Vec::new();
        assert_eq!(unescape_into(br"ab\q", &mut out), Err(2));
    }
}
