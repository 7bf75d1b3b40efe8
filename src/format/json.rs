//! JSON access-log lines: Istio's JSON encoding (typed ≥1.8, all strings ≤1.7, any key order,
//! keys sorted since Envoy 1.33) and any Envoy JSON log whose keys follow the usual spellings.
//!
//! A single forward scan over the object, no intermediate tree: each key is looked up in the
//! alias table below, its value stored straight into the [`Record`]. Strings without escapes are
//! borrowed from the line; only a value that carries an escape is unescaped into an owned buffer.
//! `null`, `"-"` and a missing key all mean "absent". Also home of [`unescape_into`], used by the
//! docker json-file wrapper in [`super::wrapper`].

use std::borrow::Cow;

use super::compile::{FieldId, parse_u64, strip_stat_delimiter};
use super::error::{ErrorKind, ParseError};
use crate::flags::ResponseFlags;
use crate::record::{FormatKind, Record};

/// What a JSON line turned out to be.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing the record would allocate per line
pub enum JsonLine<'a> {
    Record(Record<'a>),
    /// A structured application log (pilot-agent / Envoy `logAsJson`): has `level` and `msg`.
    AppLog,
}

/// Maps a key to the record slot it fills (Istio's keys plus common spellings).
pub fn field_for_key(key: &[u8]) -> Option<FieldId> {
    Some(match key {
        b"start_time" | b"startTime" => FieldId::StartTime,
        b"method" | b":method" | b"request_method" | b"requestMethod" => FieldId::Method,
        b"path"
        | b":path"
        | b"x-envoy-origin-path"
        | b"x_envoy_origin_path"
        | b"request_path"
        | b"requestPath" => FieldId::Path,
        b"protocol" => FieldId::Protocol,
        b"response_code" | b"responseCode" | b"status" | b"status_code" | b"statusCode" => {
            FieldId::ResponseCode
        }
        b"response_flags" | b"responseFlags" => FieldId::ResponseFlags,
        b"response_code_details" | b"responseCodeDetails" => FieldId::Details,
        b"connection_termination_details" | b"connectionTerminationDetails" => FieldId::TerminationDetails,
        b"upstream_transport_failure_reason" | b"upstreamTransportFailureReason" => FieldId::TransportFailure,
        b"bytes_received" | b"bytesReceived" => FieldId::BytesReceived,
        b"bytes_sent" | b"bytesSent" => FieldId::BytesSent,
        b"duration" | b"duration_ms" | b"durationMs" => FieldId::Duration,
        b"upstream_service_time" | b"upstreamServiceTime" | b"x-envoy-upstream-service-time" => {
            FieldId::UpstreamServiceTime
        }
        b"x_forwarded_for" | b"xForwardedFor" | b"x-forwarded-for" => FieldId::XForwardedFor,
        b"user_agent" | b"userAgent" | b"user-agent" => FieldId::UserAgent,
        b"request_id" | b"requestId" | b"x-request-id" | b"x_request_id" => FieldId::RequestId,
        b"authority" | b":authority" => FieldId::Authority,
        b"upstream_host" | b"upstreamHost" => FieldId::UpstreamHost,
        b"upstream_cluster" | b"upstreamCluster" => FieldId::UpstreamCluster,
        b"upstream_local_address" | b"upstreamLocalAddress" => FieldId::UpstreamLocalAddress,
        b"downstream_local_address" | b"downstreamLocalAddress" => FieldId::DownstreamLocalAddress,
        b"downstream_remote_address" | b"downstreamRemoteAddress" => FieldId::DownstreamRemoteAddress,
        b"requested_server_name" | b"requestedServerName" => FieldId::RequestedServerName,
        b"route_name" | b"routeName" => FieldId::RouteName,
        b"istio_policy_status" => FieldId::PolicyStatus,
        _ => return None,
    })
}

/// A scalar or raw JSON value.
enum Value<'a> {
    Str(Cow<'a, [u8]>),
    /// A number, `true`/`false`, or a nested object/array: its raw text.
    Raw(&'a [u8]),
    Null,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn ws(&mut self) {
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

    /// A string starting at the opening quote; borrowed unless it holds escapes.
    fn string(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        self.eat(b'"')?;
        let start = self.i;
        let rest = &self.s[start..];
        match memchr::memchr2(b'"', b'\\', rest) {
            None => Err(ParseError::at(ErrorKind::BadJson, self.s.len())),
            Some(n) if rest[n] == b'"' => {
                self.i = start + n + 1;
                Ok(Cow::Borrowed(&rest[..n]))
            }
            Some(_) => {
                let end = string_end(rest).ok_or(ParseError::at(ErrorKind::BadJson, self.s.len()))?;
                let mut out = Vec::with_capacity(end);
                unescape_into(&rest[..end], &mut out)
                    .map_err(|o| ParseError::at(ErrorKind::BadJson, start + o))?;
                self.i = start + end + 1;
                Ok(Cow::Owned(out))
            }
        }
    }

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
        if self.s[self.i..].starts_with(w) {
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
pub fn unescape_into(body: &[u8], out: &mut Vec<u8>) -> Result<(), usize> {
    let mut i = 0;
    while i < body.len() {
        let Some(n) = memchr::memchr(b'\\', &body[i..]) else {
            out.extend_from_slice(&body[i..]);
            return Ok(());
        };
        out.extend_from_slice(&body[i..i + n]);
        i += n;
        let esc = *body.get(i + 1).ok_or(i)?;
        i += 2;
        match esc {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
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
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
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

/// Parses one JSON object line.
pub fn parse_json(line: &[u8]) -> Result<JsonLine<'_>, ParseError> {
    let mut c = Cursor { s: line, i: 0 };
    c.ws();
    c.eat(b'{')?;
    let mut rec = Record { format: FormatKind::Json, ..Record::default() };
    let mut access_keys = 0u32;
    let mut log_keys = 0u32;
    c.ws();
    if c.s.get(c.i) == Some(&b'}') {
        c.i += 1;
    } else {
        loop {
            c.ws();
            let key = c.string()?;
            c.ws();
            c.eat(b':')?;
            c.ws();
            let at = c.i;
            let value = c.value()?;
            match field_for_key(&key) {
                Some(field) => {
                    access_keys += 1;
                    store(&mut rec, field, value).map_err(|k| ParseError::at(k, at))?;
                }
                None => {
                    if matches!(&*key, b"level" | b"msg" | b"message" | b"severity") {
                        log_keys += 1;
                    }
                }
            }
            c.ws();
            match c.s.get(c.i) {
                Some(b',') => c.i += 1,
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                _ => return Err(c.err(ErrorKind::BadJson)),
            }
        }
    }
    c.ws();
    if c.i != line.len() {
        return Err(c.err(ErrorKind::TrailingData));
    }
    let has_status = rec.response_code.is_some() || !rec.response_flags.is_empty();
    if access_keys >= 2 && (has_status || rec.response_code_details.is_some() || rec.duration_ms.is_some()) {
        Ok(JsonLine::Record(rec))
    } else if log_keys >= 2 {
        Ok(JsonLine::AppLog)
    } else {
        Err(ParseError::at(ErrorKind::NotAccessJson, 0))
    }
}

fn text(v: Value<'_>) -> Option<Cow<'_, [u8]>> {
    match v {
        Value::Null => None,
        Value::Str(s) if s.is_empty() || &*s == b"-" => None,
        Value::Str(s) => Some(s),
        Value::Raw(r) => Some(Cow::Borrowed(r)),
    }
}

fn number(v: Value<'_>) -> Result<Option<u64>, ErrorKind> {
    match v {
        Value::Null => Ok(None),
        Value::Str(s) => parse_u64(&s),
        Value::Raw(r) => parse_u64(r),
    }
}

fn store<'a>(rec: &mut Record<'a>, field: FieldId, v: Value<'a>) -> Result<(), ErrorKind> {
    match field {
        FieldId::StartTime => rec.start_time = text(v),
        FieldId::Method => rec.method = text(v),
        FieldId::Path => rec.path = text(v),
        FieldId::Protocol => rec.protocol = text(v),
        FieldId::ResponseCode => {
            rec.response_code = number(v)
                .map_err(|_| ErrorKind::BadStatus)?
                .map(|c| u16::try_from(c).map_err(|_| ErrorKind::BadStatus))
                .transpose()?
        }
        FieldId::ResponseFlags => {
            rec.response_flags = match text(v) {
                None => ResponseFlags::NONE,
                Some(s) => ResponseFlags::parse(&s).map_err(|_| ErrorKind::BadFlags)?,
            }
        }
        FieldId::Details => rec.response_code_details = text(v),
        FieldId::TerminationDetails => rec.connection_termination_details = text(v),
        FieldId::TransportFailure => rec.upstream_transport_failure_reason = text(v),
        FieldId::BytesReceived => rec.bytes_received = number(v)?,
        FieldId::BytesSent => rec.bytes_sent = number(v)?,
        FieldId::Duration => rec.duration_ms = number(v)?,
        FieldId::UpstreamServiceTime => rec.upstream_service_time_ms = number(v).ok().flatten(),
        FieldId::XForwardedFor => rec.x_forwarded_for = text(v),
        FieldId::UserAgent => rec.user_agent = text(v),
        FieldId::RequestId => rec.request_id = text(v),
        FieldId::Authority => rec.authority = text(v),
        FieldId::UpstreamHost => rec.upstream_host = text(v),
        FieldId::UpstreamCluster => {
            rec.upstream_cluster = text(v).map(|c| match c {
                Cow::Borrowed(b) => Cow::Borrowed(strip_stat_delimiter(b)),
                Cow::Owned(mut o) => {
                    if o.last() == Some(&b';') {
                        o.pop();
                    }
                    Cow::Owned(o)
                }
            })
        }
        FieldId::UpstreamLocalAddress => rec.upstream_local_address = text(v),
        FieldId::DownstreamLocalAddress => rec.downstream_local_address = text(v),
        FieldId::DownstreamRemoteAddress => rec.downstream_remote_address = text(v),
        FieldId::RequestedServerName => rec.requested_server_name = text(v),
        FieldId::RouteName => rec.route_name = text(v),
        FieldId::PolicyStatus => rec.policy_status = text(v),
        FieldId::Ignored => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Flag;

    fn rec(line: &str) -> Record<'_> {
        match parse_json(line.as_bytes()).unwrap() {
            JsonLine::Record(r) => r,
            JsonLine::AppLog => panic!("not a record"),
        }
    }

    #[test]
    fn escaped_values_are_unescaped_and_plain_ones_borrowed() {
        let r =
            rec(r#"{"response_code":200,"user_agent":"a \"b\" \u00e9\n","path":"/x","response_flags":"-"}"#);
        assert_eq!(r.user_agent.as_deref(), Some("a \"b\" é\n".as_bytes()));
        assert!(matches!(r.user_agent, Some(Cow::Owned(_))));
        assert!(matches!(r.path, Some(Cow::Borrowed(_))));
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
            parse_json(br#"{"level":"info","time":"2024-01-01T00:00:00Z","scope":"envoy main","msg":"hi"}"#),
            Ok(JsonLine::AppLog)
        ));
        assert_eq!(parse_json(br#"{"a":1}"#).unwrap_err().kind, ErrorKind::NotAccessJson);
        assert_eq!(parse_json(br#"{"response_code":200"#).unwrap_err().kind, ErrorKind::BadJson);
        assert_eq!(
            parse_json(br#"{"response_code":"abc","duration":1}"#).unwrap_err().kind,
            ErrorKind::BadStatus
        );
        assert_eq!(
            parse_json(br#"{"response_code":1,"duration":1} x"#).unwrap_err().kind,
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
