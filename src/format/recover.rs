//! The rare path: what [`super::Decoder`] tries when no fast path reads a line as it is. Every
//! step here runs only for such lines, so none of it costs anything on records that parse.
//!
//! In order:
//! 1. **Envelopes** (a `{` line that is not an access record): the line a log shipper carries
//!    under `log`, `message` or `msg` (Fluent Bit, Fluentd, Vector, Filebeat exports), either a
//!    JSON-escaped text line or an embedded JSON object, is unescaped and decoded in its turn
//!    (with its own kubectl/CRI/stern wrappers, if any). The pod, namespace and container the
//!    shipper's Kubernetes metadata names become the record's. Docker's own `{"log":…}` objects
//!    are handled by the fast path, which also joins their fragments.
//! 2. **Free-text prefixes** of up to [`MAX_PREFIX`] bytes (syslog and journald headers, a
//!    tool's own tags, Loki's label sets, whose pod labels become the record's) before an
//!    unmistakable record start: `[` + an ISO date, `{"`, or `"` + a method. A request line
//!    without its protocol is read with `-` in its place.
//! 3. **Pasted lines** (reference §10 examples 11, 13, 16, 19, 20): quotes escaped as `\"` or
//!    doubled `""` are unescaped and the line read again; a line cut at the start (no
//!    `[START_TIME] `, or starting inside the request line), cut at the end, or elided with
//!    ` ... ` is read by [`CompiledFormat::parse_pasted`](super::compile::CompiledFormat::parse_pasted).
//!    Such records are marked [`Record::partial`](crate::record::Record::partial).
//!
//! Under a restricted `--format`, a line that another built-in layout reads whole is left
//! malformed: it is a record of the excluded format, not a cut one.

use super::json::Scratch;
use super::json::{self, Inner};
use super::{FormatChoice, PayloadOutcome, builtin, parse_payload, skip_reason, wrapper};
use crate::record::Record;

/// The longest line the rare path looks at: real records are far shorter, and this bounds the
/// work a hostile line can cause.
pub const MAX_LEN: usize = 64 * 1024;

/// How far into a line a record may start after a free-text prefix.
pub const MAX_PREFIX: usize = 120;

/// Tries envelopes, free-text prefixes and pasted-line reading, in that order.
pub(crate) fn recover<'s>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    payload: &'s [u8],
    envelope_buf: &'s mut Vec<u8>,
    unescaped: &'s mut Vec<u8>,
    values: &'s Scratch,
) -> Option<PayloadOutcome<'s>> {
    if payload.len() > MAX_LEN {
        return None;
    }
    if payload.first() == Some(&b'{') {
        return envelope(choice, last_layout, payload, envelope_buf, unescaped, values, true)
            .or_else(|| stream_labels(choice, last_layout, payload, values))
            .or_else(|| lenient(choice, last_layout, payload).map(PayloadOutcome::Record));
    }
    if !matches!(choice, FormatChoice::Auto | FormatChoice::Custom(_))
        && builtin::text_layouts().iter().any(|l| l.parse(payload).is_ok())
    {
        return None;
    }
    // A request line whose protocol was left out (`"POST /foo/bar" 503 …`): read with `-` in
    // its place, as a partial record. A layout's own reading of the line, if any, came first.
    let payload: &'s [u8] = match with_protocol_placeholder(payload, envelope_buf) {
        Some(fixed) => fixed,
        None => payload,
    };
    // A record after a prefix first: read as a cut line, the prefix would pass for a value.
    if let Some(found) = prefixed(choice, last_layout, payload, values) {
        return Some(found);
    }
    pasted(choice, last_layout, payload, unescaped, values)
}

/// Loki's `logcli query` lines after their time: `{app="envoy", namespace="shop", pod="…"} line`
/// (grafana.com/docs/loki/latest/query/logcli/). The line after the label set is read as a
/// payload of its own; the labels Kubernetes shippers set name its namespace, pod and container.
fn stream_labels<'a>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    p: &'a [u8],
    values: &'a Scratch,
) -> Option<PayloadOutcome<'a>> {
    // `{"` opens a JSON object: that is an envelope's or a record's, not a label set.
    if p.get(1) == Some(&b'"') {
        return None;
    }
    let close = memchr::memchr(b'}', &p[..p.len().min(MAX_LEN)])?;
    let rest = p[close + 1..].strip_prefix(b" ")?;
    let mut found = match parse_payload(choice, last_layout, rest, values) {
        Ok(found) => found,
        Err(_) => PayloadOutcome::Record(lenient(choice, last_layout, rest)?),
    };
    if let PayloadOutcome::Record(rec) = &mut found {
        for pair in p[1..close].split(|&b| b == b',') {
            let pair = pair.trim_ascii();
            let Some(eq) = memchr::memchr(b'=', pair) else { continue };
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            let Some(value) = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")) else { continue };
            match key {
                b"namespace" => rec.meta.namespace = Some(value),
                b"pod" => rec.meta.pod = Some(value),
                b"container" => rec.meta.container = Some(value),
                _ => {}
            }
        }
    }
    Some(found)
}

/// `"METHOD /path"` (two words in the request-line quotes, no `HTTP/…`) → the line copied
/// into `buf` with ` -` before the closing quote, so that every layout's `%PROTOCOL%` reads
/// `-`. `None` when the line has no such request line near its start.
fn with_protocol_placeholder<'b>(p: &[u8], buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    let limit = p.len().min(MAX_PREFIX + 32);
    let mut from = 0;
    let close = loop {
        let open = from + memchr::memchr(b'"', &p[from..limit])?;
        from = open + 1;
        let method = p[from..].iter().take_while(|b| b.is_ascii_uppercase()).count();
        if !(3..=10).contains(&method) || p.get(from + method) != Some(&b' ') {
            continue;
        }
        let path_at = from + method + 1;
        let path = p[path_at..].iter().take_while(|&&b| !matches!(b, b' ' | b'"')).count();
        let close = path_at + path;
        // A path, a closing quote and a space: nothing in between (a protocol) and not Istio
        // 1.0's `/pathHTTP/1.1`, which its own layout reads.
        if path > 0
            && p[path_at] == b'/'
            && p.get(close) == Some(&b'"')
            && p.get(close + 1) == Some(&b' ')
            && memchr::memmem::find(&p[path_at..close], b"HTTP/").is_none()
        {
            break close;
        }
    };
    buf.clear();
    buf.extend_from_slice(&p[..close]);
    buf.extend_from_slice(b" -");
    buf.extend_from_slice(&p[close..]);
    Some(buf)
}

/// A shipper's envelope: the first candidate value that decodes to a record, else the first
/// that decodes to a skipped line. `thorough` also lets the inner line be read as a pasted or
/// prefixed one (not wanted for lines already known to be application logs).
pub(crate) fn envelope<'b>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    payload: &'b [u8],
    buf: &'b mut Vec<u8>,
    scratch: &'b mut Vec<u8>,
    values: &'b Scratch,
    thorough: bool,
) -> Option<PayloadOutcome<'b>> {
    if payload.len() > MAX_LEN {
        return None;
    }
    let candidates = json::envelope_candidates(payload)?;
    // Decide which candidate reads (buffers borrowed briefly), then read it for keeps.
    let mut record = None;
    let mut skip = None;
    for (i, c) in candidates.iter().enumerate() {
        let Some(c) = *c else { break };
        match inner(choice, last_layout, c, &mut *buf, &mut *scratch, values, thorough) {
            Some(PayloadOutcome::Record(_)) => {
                record = Some(i);
                break;
            }
            Some(PayloadOutcome::Skip(_)) if skip.is_none() => skip = Some(i),
            _ => {}
        }
    }
    let chosen = candidates[record.or(skip)?]?;
    let mut found = inner(choice, last_layout, chosen, buf, scratch, values, thorough)?;
    if let PayloadOutcome::Record(rec) = &mut found {
        let k = json::kubernetes_meta(payload);
        rec.meta.pod = k.pod;
        rec.meta.namespace = k.namespace;
        rec.meta.container = k.container;
    }
    Some(found)
}

/// Decodes the line inside an envelope.
fn inner<'b>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    c: Inner<'b>,
    buf: &'b mut Vec<u8>,
    scratch: &'b mut Vec<u8>,
    values: &'b Scratch,
    thorough: bool,
) -> Option<PayloadOutcome<'b>> {
    let text: &'b [u8] = match c {
        Inner::Object(o) => o,
        Inner::Escaped(e) => {
            buf.clear();
            json::unescape_into(e, buf).ok()?;
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            let b: &'b Vec<u8> = buf;
            b
        }
    };
    let text = peel(text);
    if text.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match parse_payload(choice, last_layout, text, values) {
        Ok(found) => Some(found),
        Err(_) if thorough && text.first() != Some(&b'{') && text.len() <= MAX_LEN => {
            prefixed(choice, last_layout, text, values)
                .or_else(|| pasted(choice, last_layout, text, scratch, values))
        }
        Err(_) => None,
    }
}

/// The transport wrappers a line inside an envelope may still carry (no fragment joining, no
/// colours: those need the decoder's buffers).
fn peel(mut p: &[u8]) -> &[u8] {
    for _ in 0..4 {
        match p.first() {
            Some(b'[') => match wrapper::kubectl_prefix(p) {
                Some((_, _, rest)) => p = rest,
                None => break,
            },
            Some(b'0'..=b'9') => {
                let Some(n) = wrapper::rfc3339_len(p) else { break };
                if p.get(n) != Some(&b' ') || skip_reason(p).is_some() {
                    break;
                }
                p = match wrapper::cri_fields(&p[n + 1..]) {
                    Some((_, _, content)) => content,
                    None => &p[n + 1..],
                };
            }
            Some(b'a'..=b'z') => match wrapper::stern_prefix(p) {
                Some((.., rest)) => p = rest,
                None => match wrapper::compose_prefix(p) {
                    Some((_, rest)) => p = rest,
                    None => break,
                },
            },
            _ => break,
        }
    }
    p
}

/// A line as people paste it: unescaped quotes first (then read whole, or leniently), else
/// read leniently as it is.
fn pasted<'b>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    p: &'b [u8],
    scratch: &'b mut Vec<u8>,
    values: &'b Scratch,
) -> Option<PayloadOutcome<'b>> {
    let backslashed = memchr::memmem::find(p, b"\\\"").is_some();
    if backslashed || memchr::memmem::find(p, b"\"\"").is_some() {
        unescape_quotes(p, backslashed, scratch);
        let u: &'b Vec<u8> = scratch;
        if let Ok(PayloadOutcome::Record(mut rec)) = parse_payload(choice, last_layout, u, values) {
            rec.partial = true;
            return Some(PayloadOutcome::Record(rec));
        }
        // `""` is also an empty quoted header: the line as it is may be the right reading.
        return lenient(choice, last_layout, p)
            .or_else(|| lenient(choice, last_layout, u))
            .map(PayloadOutcome::Record);
    }
    lenient(choice, last_layout, p).map(PayloadOutcome::Record)
}

/// `\"` → `"` (a log pipeline's JSON escaping), or else `""` → `"` (CSV-style doubling).
fn unescape_quotes(p: &[u8], backslashed: bool, out: &mut Vec<u8>) {
    out.clear();
    let pat: &[u8] = if backslashed { b"\\\"" } else { b"\"\"" };
    let mut from = 0;
    for at in memchr::memmem::find_iter(p, pat) {
        if at < from {
            continue;
        }
        out.extend_from_slice(&p[from..at]);
        out.push(b'"');
        from = at + 2;
    }
    out.extend_from_slice(&p[from..]);
}

/// Reads a cut or elided line with the allowed layouts, the last one that matched first. A
/// reading that reaches the end of the line beats one that runs out, and of those that run
/// out, the one that read more values: `503 UF,URX "-" "TLS error: …"` is Istio 1.3–1.7's
/// mixer status and transport failure reason, which Istio 1.8's layout (reason, then bytes)
/// can read only by dropping the reason.
fn lenient<'a>(choice: &FormatChoice, last_layout: &mut usize, p: &'a [u8]) -> Option<Record<'a>> {
    let p = before_elision(p);
    if let FormatChoice::Custom(f) = choice {
        return f.parse_pasted(p).map(|(r, _)| r);
    }
    let layouts = builtin::text_layouts();
    let last = *last_layout;
    let order = std::iter::once(last).chain((0..layouts.len()).filter(|&i| i != last));
    let mut cut: Option<(usize, Record<'a>)> = None;
    for i in order.filter(|&i| super::allowed(choice, layouts[i].kind())) {
        if let Some((rec, how)) = layouts[i].parse_pasted(p) {
            let Some(cut_at) = how.cut_at else { return Some(rec) };
            let read = cut_at - how.first_step;
            if cut.as_ref().is_none_or(|(best, _)| read > *best) {
                cut = Some((read, rec));
            }
        }
    }
    cut.map(|(_, rec)| rec)
}

/// The line up to an elision its author made (` ... ` or ` … `), keeping the space before it so
/// that the value before it counts as whole.
fn before_elision(p: &[u8]) -> &[u8] {
    let at = [&b" ... "[..], " \u{2026} ".as_bytes(), b" ...", " \u{2026}".as_bytes()]
        .iter()
        .filter_map(|pat| {
            memchr::memmem::find(p, pat).filter(|&at| pat.ends_with(b" ") || at + pat.len() == p.len())
        })
        .min();
    match at {
        Some(at) => &p[..at + 1],
        None => p,
    }
}

/// A record after a short free-text prefix: each unmistakable record start in the first
/// [`MAX_PREFIX`] bytes, read whole or leniently.
fn prefixed<'a>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    p: &'a [u8],
    values: &'a Scratch,
) -> Option<PayloadOutcome<'a>> {
    if starts_record(p) {
        // Nothing before the record: what failed is the record itself.
        return None;
    }
    let limit = p.len().min(MAX_PREFIX + 1);
    let mut from = 1;
    while from < limit {
        // (`ACCESS [` needs no test of its own: its `[` starts Envoy's default.)
        let at = from + memchr::memchr3(b'[', b'{', b'"', &p[from..limit])?;
        from = at + 1;
        let sub = &p[at..];
        if !starts_record(sub) {
            continue;
        }
        if let Ok(found) = parse_payload(choice, last_layout, sub, values) {
            return Some(found);
        }
        if let Some(rec) = lenient(choice, last_layout, sub) {
            return Some(PayloadOutcome::Record(rec));
        }
    }
    None
}

/// `[` + an ISO date, `{"`, `"` + an upper-case method and a space (or `"- `).
fn starts_record(s: &[u8]) -> bool {
    match s.first() {
        Some(b'[') => s.len() > 6 && s[1..5].iter().all(u8::is_ascii_digit) && s[5] == b'-',
        Some(b'{') => s.get(1) == Some(&b'"'),
        Some(b'"') => {
            let word = s[1..].iter().take(12).take_while(|b| b.is_ascii_uppercase()).count();
            s[1..].starts_with(b"- ") || ((3..=10).contains(&word) && s.get(1 + word) == Some(&b' '))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_unescaped_one_way() {
        let mut out = Vec::new();
        unescape_quotes(br#"a \"b\" c"#, true, &mut out);
        assert_eq!(out, br#"a "b" c"#);
        unescape_quotes(br#"x"" ""-"" """#, false, &mut out);
        assert_eq!(out, br#"x" "-" ""#);
    }

    #[test]
    fn elisions_end_the_line() {
        assert_eq!(before_elision(b"a b ... c d"), b"a b ");
        assert_eq!(before_elision("a b … c".as_bytes()), b"a b ");
        assert_eq!(before_elision(b"a b ..."), b"a b ");
        assert_eq!(before_elision(b"/a/.../b c"), b"/a/.../b c");
    }

    #[test]
    fn record_starts() {
        assert!(starts_record(b"[2024-01-01T00:00:00.000Z] "));
        assert!(starts_record(b"\"GET /x HTTP/1.1\" 200"));
        assert!(starts_record(b"\"- - -\" 0"));
        assert!(!starts_record(b"[pod/x/y] "));
        assert!(!starts_record(b"\"hello\""));
    }
}
