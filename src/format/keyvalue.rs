//! `key=value` (logfmt-style) access lines (family reference §14): no product ships one, guides
//! and users write them (`time=%START_TIME% method=%REQ(:METHOD)% path="…" response_code=…`), so
//! they are read generically: split on spaces outside double quotes, then at the first `=`, and
//! look each key up in the alias table of [`super::json`]. Also the scanner ztunnel's lines use
//! ([`super::ztunnel`]), and the reader of the mixed form that starts like Envoy's default
//! (`[%START_TIME%] "%REQ(:METHOD)% … %PROTOCOL%" src=… code=…`).
//!
//! Values are borrowed; only a quoted value holding a backslash escape is copied, into the
//! line's [`Scratch`].

use super::compile::FieldId;
use super::json::{Alias, Scratch, Sink, Value, alias, store};
use crate::record::{FormatKind, Record};

/// The `key=value` pairs of a line, in order. A token without `=` ends the scan with `Err`.
pub struct Pairs<'a> {
    s: &'a [u8],
    i: usize,
    scratch: &'a Scratch,
}

impl<'a> Pairs<'a> {
    pub fn new(s: &'a [u8], scratch: &'a Scratch) -> Pairs<'a> {
        Pairs { s, i: 0, scratch }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(&'a [u8], Value<'a>), usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        while self.i < s.len() && matches!(s[self.i], b' ' | b'\t') {
            self.i += 1;
        }
        if self.i >= s.len() {
            return None;
        }
        let start = self.i;
        let token_end =
            s[start..].iter().position(|&b| matches!(b, b' ' | b'\t' | b'=')).map_or(s.len(), |n| start + n);
        if token_end == start || s.get(token_end) != Some(&b'=') || s[start..token_end].contains(&b'"') {
            self.i = s.len();
            return Some(Err(start));
        }
        let key = &s[start..token_end];
        let v = token_end + 1;
        if s.get(v) == Some(&b'"') {
            // A closing quote is one not escaped and followed by the end or by spaces and the
            // next `key=`: Envoy does not escape quotes inside values, ztunnel (Rust `Debug`)
            // does.
            let mut j = v + 1;
            let mut escaped = false;
            loop {
                let Some(n) = memchr::memchr2(b'"', b'\\', &s[j..]) else {
                    self.i = s.len();
                    return Some(Err(v));
                };
                let at = j + n;
                if s[at] == b'\\' {
                    escaped = true;
                    j = at + 2;
                    if j > s.len() {
                        self.i = s.len();
                        return Some(Err(at));
                    }
                    continue;
                }
                if ends_value(&s[at + 1..]) {
                    self.i = at + 1;
                    let body = &s[v + 1..at];
                    let value = if escaped {
                        let Ok(v) = self.scratch.keep(body.len(), |out| unescape_debug(body, out));
                        v
                    } else {
                        body
                    };
                    return Some(Ok((key, Value::Str(value))));
                }
                j = at + 1;
            }
        }
        let end = s[v..].iter().position(|&b| matches!(b, b' ' | b'\t')).map_or(s.len(), |n| v + n);
        self.i = end;
        Some(Ok((key, Value::Str(&s[v..end]))))
    }
}

/// True when a quoted value may end just before `rest`: at the end, or before spaces and a
/// `key=` token.
fn ends_value(rest: &[u8]) -> bool {
    let next = rest.trim_ascii_start();
    if next.is_empty() {
        return true;
    }
    if next.len() == rest.len() {
        return false;
    }
    let token = next.iter().position(|&b| matches!(b, b' ' | b'\t' | b'"')).unwrap_or(next.len());
    memchr::memchr(b'=', &next[..token]).is_some_and(|eq| eq > 0)
}

/// Undoes the escapes of a Rust `Debug` / Go `%q` string body: `\"`, `\\`, `\n`, `\t`, `\r`;
/// any other escape is kept as written.
fn unescape_debug(body: &[u8], out: &mut impl Sink) -> Result<(), std::convert::Infallible> {
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'\\' && i + 1 < body.len() {
            let c = match body[i + 1] {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'n' => Some(b'\n'),
                b't' => Some(b'\t'),
                b'r' => Some(b'\r'),
                _ => None,
            };
            if let Some(c) = c {
                out.put_byte(c);
                i += 2;
                continue;
            }
        }
        out.put_byte(b);
        i += 1;
    }
    Ok(())
}

/// True when the line starts with a `key=` token (cheap test before [`parse_kv`]).
pub fn looks_like_kv(line: &[u8]) -> bool {
    let head = &line[..line.len().min(64)];
    match (memchr::memchr(b'=', head), head.first()) {
        (Some(eq), Some(&first)) => {
            eq > 0
                && (first.is_ascii_alphabetic() || matches!(first, b'@' | b'_' | b':'))
                && !head[..eq].iter().any(|&b| matches!(b, b' ' | b'\t' | b'"'))
        }
        _ => false,
    }
}

/// Reads a `key=value` access line, optionally led by `[<start time>] ` and a quoted request
/// line. `None` unless at least two keys are known and one of them is a response code, flags,
/// details or a duration (as for JSON lines).
pub fn parse_kv<'a>(line: &'a [u8], scratch: &'a Scratch) -> Option<Record<'a>> {
    let mut rec = Record { format: FormatKind::KeyValue, ..Record::default() };
    let mut s = line;
    let mut known = 0u32;
    if s.first() == Some(&b'[') {
        let close = memchr::memchr(b']', &s[..s.len().min(64)])?;
        rec.start_time = Some(&s[1..close]);
        s = s[close + 1..].trim_ascii_start();
        known += 1;
    }
    if s.first() == Some(&b'"') {
        let close = 1 + memchr::memmem::find(&s[1..], b"\" ")?;
        let request = &s[1..close];
        let sp1 = memchr::memchr(b' ', request)?;
        let sp2 = memchr::memrchr(b' ', request)?;
        if sp2 <= sp1 {
            return None;
        }
        let dash = |v: &'_ [u8]| -> bool { v == b"-" };
        let (method, path, protocol) = (&request[..sp1], &request[sp1 + 1..sp2], &request[sp2 + 1..]);
        rec.method = (!dash(method)).then_some(method);
        rec.path = (!dash(path)).then_some(path);
        rec.protocol = (!dash(protocol)).then_some(protocol);
        s = &s[close + 2..];
        known += 1;
    }
    let mut pairs = 0;
    for pair in Pairs::new(s, scratch) {
        let (key, value) = pair.ok()?;
        pairs += 1;
        match alias(key) {
            Some(Alias { field: FieldId::L4Error, .. }) | None => {}
            Some(a) => {
                known += 1;
                if store(&mut rec, a.field, value).is_err() && a.strict {
                    return None;
                }
            }
        }
    }
    let has_status = rec.response_code.is_some() || !rec.response_flags.is_empty();
    (pairs > 0
        && known >= 2
        && (has_status || rec.response_code_details.is_some() || rec.duration_ms.is_some()))
    .then_some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        let scratch = Scratch::new();
        Pairs::new(s.as_bytes(), &scratch)
            .map(|p| {
                let (k, v) = p.unwrap();
                let Value::Str(v) = v else { panic!() };
                (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned())
            })
            .collect()
    }

    #[test]
    fn bare_quoted_escaped_and_unescaped_values() {
        assert_eq!(
            pairs(r#"a=1 b="x y" c="q \"r\" s"  d= e="curl "7" x""#),
            [("a", "1"), ("b", "x y"), ("c", "q \"r\" s"), ("d", ""), ("e", "curl \"7\" x")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(Pairs::new(b"a=1 bare b=2", &Scratch::new()).any(|p| p.is_err()));
    }

    #[test]
    fn kv_needs_known_keys_and_a_status() {
        let scratch = Scratch::new();
        assert!(parse_kv(b"foo=1 bar=2", &scratch).is_none());
        assert!(parse_kv(b"status=200 user=x", &scratch).is_none());
        let r = parse_kv(b"code=503 flags=UF duration=12ms upstream_time=-ms", &scratch).unwrap();
        assert_eq!((r.response_code, r.duration_ms, r.upstream_service_time_ms), (Some(503), Some(12), None));
    }
}
