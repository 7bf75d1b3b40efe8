//! Transport wrappers around access-log lines (reference §8): `kubectl logs --prefix`
//! (`[pod/NAME/CONTAINER] `), `--timestamps` (RFC 3339 with 9 fraction digits), CRI log files
//! (`TS stdout F …`, `P` fragments), docker json-file objects, stern's default output
//! (`[namespace] pod container message`, ANSI colours stripped) and `docker compose logs`
//! (`service-1  | message`, the padded name and `| ` coloured, `-t` timestamps after them) and
//! kail (`namespace/pod[container]: message`). Log shippers' JSON envelopes other than docker's own are peeled
//! on the rare path ([`super::recover`]).
//!
//! These are pure functions over one line; the stateful joining of fragments lives in
//! [`super::Decoder`], which calls them outermost-first.

use crate::record::Stream;

/// `[pod/<pod>/<container>] rest` → (pod, container, rest). The first test is inline: every
/// line that starts with `[` (Envoy's and Istio's own records too) asks.
#[inline(always)]
pub fn kubectl_prefix(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    kubectl_prefix_body(line.strip_prefix(b"[pod/")?)
}

/// [`kubectl_prefix`] after its `[pod/`.
#[inline(never)]
fn kubectl_prefix_body(body: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    // The names end within a few dozen bytes, where the inline scan beats `memchr`'s call.
    let close = crate::scan::find1(b']', &body[..body.len().min(600)])?;
    let inner = &body[..close];
    let slash = memchr::memrchr(b'/', inner)?;
    let (pod, container) = (&inner[..slash], &inner[slash + 1..]);
    if pod.is_empty() || container.is_empty() || !is_k8s_name(pod) || !is_k8s_name(container) {
        return None;
    }
    let rest = body[close + 1..].strip_prefix(b" ")?;
    Some((pod, container, rest))
}

/// The kubelet's and container runtimes' own rendering, `2024-05-16T10:06:02.123456789Z` (30
/// bytes, nine fraction digits, UTC), on every line of `kubectl logs --timestamps` and CRI
/// files: checked in place, without computing the time. Accepts exactly what
/// [`crate::record::parse_rfc3339_prefix`] reads as 30 bytes ending in `Z` (the test
/// `kubelet_times_read_as_the_general_parser_reads_them` compares them); anything else is left
/// to it.
#[inline]
fn kubelet_time_len(s: &[u8]) -> Option<usize> {
    let t: &[u8; 30] = s.get(..30)?.try_into().ok()?;
    // `YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ` as four overlapping words (bytes 0, 8, 16 and 22 on):
    // in each, the bytes that are not digits must be exactly the separators, with their
    // values. Four word tests instead of 27 digit tests and 7 byte tests, once per line.
    const SHAPE: [(usize, u64, u64); 4] = [
        // (offset, separator bytes, their values: little-endian, byte 0 lowest)
        (0, 0xff00_00ff_0000_0000, 0x2d00_002d_0000_0000), // `-` at 4 and 7
        (8, 0x0000_ff00_00ff_0000, 0x0000_3a00_0054_0000), // `T` at 10, `:` at 13
        (16, 0x0000_0000_ff00_00ff, 0x0000_0000_2e00_003a), // `:` at 16, `.` at 19
        (22, 0xff00_0000_0000_0000, 0x5a00_0000_0000_0000), // `Z` at 29
    ];
    let fits = |(at, seps, values): (usize, u64, u64)| {
        let w = u64::from_le_bytes(t[at..at + 8].try_into().expect("8 bytes"));
        crate::scan::non_digits(w) == seps & 0x8080_8080_8080_8080 && w & seps == values
    };
    if !(fits(SHAPE[0]) && fits(SHAPE[1]) && fits(SHAPE[2]) && fits(SHAPE[3])) {
        return None;
    }
    let n2 = |i: usize| (t[i] - b'0') * 10 + (t[i + 1] - b'0');
    let (month, day, hour, min, sec) = (n2(5), n2(8), n2(11), n2(14), n2(17));
    ((1..=12).contains(&month) && (1..=31).contains(&day) && hour <= 23 && min <= 59 && sec <= 60)
        .then_some(30)
}

/// Length of an RFC 3339 timestamp at the start of `s` (`2024-05-16T10:06:02.123456789Z`,
/// any number of fraction digits, `Z` or a numeric offset), if there is one.
pub fn rfc3339_len(s: &[u8]) -> Option<usize> {
    if s.len() < 20 || s[4] != b'-' || s[10] != b'T' {
        return None;
    }
    if let Some(n) = kubelet_time_len(s) {
        return Some(n);
    }
    general_rfc3339_len(s)
}

/// [`rfc3339_len`] by the general parser.
fn general_rfc3339_len(s: &[u8]) -> Option<usize> {
    crate::record::rfc3339_prefix_len(s).filter(|&n| {
        // Must carry a zone: kubelet and runtimes always write one.
        matches!(s[n - 1], b'Z' | b'0'..=b'9')
            && (s[n - 1] == b'Z' || s[n - 3] == b':' || s[n - 5] == b'+' || s[n - 5] == b'-')
    })
}

/// The tag of a CRI record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriTag {
    Full,
    Partial,
}

/// After the timestamp and its space: `stdout F content` → (stream, tag, content).
pub fn cri_fields(after_ts: &[u8]) -> Option<(Stream, CriTag, &[u8])> {
    let (stream, rest) = if let Some(r) = after_ts.strip_prefix(b"stdout ") {
        (Stream::Stdout, r)
    } else if let Some(r) = after_ts.strip_prefix(b"stderr ") {
        (Stream::Stderr, r)
    } else {
        return None;
    };
    // Tags may grow `:`-separated attributes; the first element decides.
    let space = memchr::memchr(b' ', &rest[..rest.len().min(64)]);
    let (tag, content) = match space {
        Some(n) => (&rest[..n], &rest[n + 1..]),
        None => (rest, &b""[..]),
    };
    let first = tag.split(|&b| b == b':').next().unwrap_or(b"");
    let tag = match first {
        b"F" => CriTag::Full,
        b"P" => CriTag::Partial,
        _ => return None,
    };
    Some((stream, tag, content))
}

/// True for a line that a later line completes: a CRI `P` record or a docker json-file object
/// whose `log` does not end in a newline. The reader never cuts a chunk inside such a run.
pub fn is_partial_record(line: &[u8]) -> bool {
    match line.first() {
        Some(b'0'..=b'9') => rfc3339_len(line)
            .filter(|&n| line.get(n) == Some(&b' '))
            .and_then(|n| cri_fields(&line[n + 1..]))
            .is_some_and(|(_, tag, _)| tag == CriTag::Partial),
        Some(b'{') => docker_line(line).is_some_and(|d| !d.log_escaped.ends_with(b"\\n")),
        _ => false,
    }
}

/// Where to cut `buf` so that the chunk holds whole lines and no unfinished fragment run:
/// just after the last newline that does not end a partial record. `None` when there is none.
pub fn safe_cut(buf: &[u8]) -> Option<usize> {
    let mut end = memchr::memrchr(b'\n', buf)?;
    loop {
        let start = memchr::memrchr(b'\n', &buf[..end]).map_or(0, |n| n + 1);
        let line = &buf[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !is_partial_record(line) {
            return Some(end + 1);
        }
        if start == 0 {
            return None;
        }
        end = start - 1;
    }
}

/// A docker json-file object: the raw (still escaped) `log` body, stream and time.
pub struct DockerLine<'a> {
    pub log_escaped: &'a [u8],
    pub stream: Option<Stream>,
    pub time: Option<&'a [u8]>,
}

/// Reads `{"log":"…","stream":"…","time":"…"}` (optionally with `"attrs":{…}` before `time`)
/// without unescaping `log`; the caller unescapes it into its own buffer. Only that exact
/// shape: a shipper's object that merely starts with `log` (Fluentd adds `kubernetes`, Fluent
/// Bit strips the newline) is not docker's, whose `log` without a newline means "continued".
pub fn docker_line(line: &[u8]) -> Option<DockerLine<'_>> {
    let body = line.strip_prefix(b"{\"log\":\"")?;
    let end = json_string_end(body)?;
    let log_escaped = &body[..end];
    let mut rest = &body[end + 1..];
    let mut stream = None;
    let mut time = None;
    loop {
        rest = rest.trim_ascii_start();
        if rest == b"}" {
            break;
        }
        let r = rest.strip_prefix(b",")?.trim_ascii_start();
        if let Some(v) = r.strip_prefix(b"\"stream\":\"") {
            let n = memchr::memchr(b'"', v)?;
            stream = Some(match &v[..n] {
                b"stdout" => Stream::Stdout,
                b"stderr" => Stream::Stderr,
                _ => return None,
            });
            rest = &v[n + 1..];
        } else if let Some(v) = r.strip_prefix(b"\"time\":\"") {
            let n = memchr::memchr(b'"', v)?;
            time = Some(&v[..n]);
            rest = &v[n + 1..];
        } else if let Some(v) = r.strip_prefix(b"\"attrs\":{") {
            // Labels and env values docker copied: a flat object of strings.
            let mut i = 0;
            loop {
                let n = memchr::memchr2(b'"', b'}', v.get(i..)?)?;
                if v[i + n] == b'}' {
                    rest = &v[i + n + 1..];
                    break;
                }
                i += n + 1 + json_string_end(&v[i + n + 1..])? + 1;
            }
        } else {
            return None;
        }
    }
    // Docker always writes both; a shipper's `{"log":…}` without them is an envelope.
    stream?;
    time?;
    Some(DockerLine { log_escaped, stream, time })
}

/// `docker compose logs` / `docker-compose logs`: `<service>  | message` (the name padded with
/// spaces to a common width) → (service, message).
pub fn compose_prefix(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let head = &line[..line.len().min(128)];
    let bar = memchr::memchr(b'|', head)?;
    let name = head[..bar].trim_ascii_end();
    if name.len() == bar || name.is_empty() || !name[0].is_ascii_alphanumeric() {
        return None;
    }
    if !name.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return None;
    }
    let rest = &line[bar + 1..];
    Some((name, rest.strip_prefix(b" ").unwrap_or(rest)))
}

fn json_string_end(body: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let n = memchr::memchr2(b'"', b'\\', body.get(i..)?)?;
        if body[i + n] == b'"' {
            return Some(i + n);
        }
        i += n + 2;
    }
}

/// Copies `line` into `out` without ANSI CSI sequences (`ESC [ … final-byte`) and other
/// two-byte escapes. Returns false if there was nothing to strip.
pub fn strip_ansi_into(line: &[u8], out: &mut Vec<u8>) -> bool {
    if memchr::memchr(0x1b, line).is_none() {
        return false;
    }
    out.clear();
    let mut i = 0;
    while i < line.len() {
        if line[i] == 0x1b {
            i += 1;
            if line.get(i) == Some(&b'[') {
                i += 1;
                while i < line.len() && !(0x40..=0x7e).contains(&line[i]) {
                    i += 1;
                }
            }
            i += 1;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    true
}

/// stern's default `[namespace ]pod container message`: returns (namespace, pod, container,
/// message) when the message starts like a record (`[`, `{`, a timestamp digit or `"`).
#[allow(clippy::type_complexity)]
pub fn stern_prefix(line: &[u8]) -> Option<(Option<&[u8]>, &[u8], &[u8], &[u8])> {
    let mut names: [&[u8]; 3] = [b""; 3];
    let mut rest = line;
    for n in 0..3 {
        let sp = memchr::memchr(b' ', &rest[..rest.len().min(254)])?;
        let token = &rest[..sp];
        if !is_k8s_name(token) {
            return None;
        }
        names[n] = token;
        rest = &rest[sp + 1..];
        if n >= 1 && rest.first().is_some_and(|&b| matches!(b, b'[' | b'{' | b'"' | b'0'..=b'9')) {
            return Some(if n == 1 {
                (None, names[0], names[1], rest)
            } else {
                (Some(names[0]), names[1], names[2], rest)
            });
        }
    }
    None
}

/// kail's `namespace/pod[container]: message` (`boz/kail`, one line per container's line) →
/// (namespace, pod, container, message).
#[allow(clippy::type_complexity)]
pub fn kail_prefix(line: &[u8]) -> Option<(&[u8], &[u8], &[u8], &[u8])> {
    // A namespace is at most 63 bytes: most lines fail on their first non-name byte.
    let ns_len = line
        .iter()
        .take(64)
        .take_while(|&&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        .count();
    if line.get(ns_len) != Some(&b'/') {
        return None;
    }
    let rest = &line[ns_len + 1..];
    let open = memchr::memchr(b'[', &rest[..rest.len().min(254)])?;
    let close = open + 1 + memchr::memchr(b']', &rest[open + 1..rest.len().min(open + 256)])?;
    let (ns, pod, container) = (&line[..ns_len], &rest[..open], &rest[open + 1..close]);
    if !is_k8s_name(ns) || !is_k8s_name(pod) || !is_k8s_name(container) {
        return None;
    }
    let message = rest[close + 1..].strip_prefix(b": ")?;
    Some((ns, pod, container, message))
}

/// A Kubernetes object name: DNS-1123 label/subdomain characters, 1–253 bytes.
pub fn is_k8s_name(s: &[u8]) -> bool {
    !s.is_empty() && s.len() <= 253 && all_name_bytes(s) && s[0].is_ascii_alphanumeric()
}

/// Every byte is a lower-case letter, a digit, `-` or `.`: eight at a time (the pod and
/// container names of `kubectl logs --prefix` are checked on every line).
#[inline]
fn all_name_bytes(s: &[u8]) -> bool {
    let byte_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.';
    if s.len() < 8 {
        return s.iter().all(byte_ok);
    }
    let word = |i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let mut i = 0;
    while i + 8 < s.len() {
        if !name_word(word(i)) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes, overlapping the word before them.
    name_word(word(s.len() - 8))
}

/// [`all_name_bytes`] of one word. For bytes below 0x80 (tested first), `b + (0x80 - lo)` has
/// bit 7 set exactly when `b >= lo`, and `b + (0x7f - hi)` exactly when `b > hi`; neither sum
/// carries into the next byte.
#[inline(always)]
fn name_word(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if x & HIGH != 0 {
        return false;
    }
    let within = |lo: u8, hi: u8| (x + LO * (0x80 - lo) as u64) & !(x + LO * (0x7f - hi) as u64);
    (within(b'a', b'z') | within(b'0', b'9') | within(b'-', b'.')) & HIGH == HIGH
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_checked_eight_bytes_at_a_time_as_one_at_a_time() {
        // Every byte value at every position of names of every length up to three words.
        let one_at_a_time = |s: &[u8]| {
            !s.is_empty()
                && s.len() <= 253
                && s.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
                && s[0].is_ascii_alphanumeric()
        };
        for len in 0..=24usize {
            let base: Vec<u8> = (0..len).map(|i| b"istio-proxy.9z"[i % 14]).collect();
            assert_eq!(super::is_k8s_name(&base), one_at_a_time(&base), "{len}");
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut s = base.clone();
                    s[pos] = b;
                    assert_eq!(super::is_k8s_name(&s), one_at_a_time(&s), "{len} {pos} {b}");
                }
            }
        }
        let long = vec![b'a'; 254];
        assert!(!super::is_k8s_name(&long) && super::is_k8s_name(&long[..253]));
    }

    #[test]
    fn kubelet_times_read_as_the_general_parser_reads_them() {
        // Every byte of a kubelet timestamp replaced by each of a few telling values, with and
        // without a record after it: the shortcut and the general parser agree on all.
        let base = b"2024-05-16T10:06:02.123456789Z [2024-";
        let mut checked = 0;
        for pos in 0..31 {
            for b in
                [b'0', b'1', b'2', b'3', b'5', b'9', b'-', b':', b'.', b'T', b'Z', b'z', b' ', b'+', b'x']
            {
                let mut s = base.to_vec();
                s[pos] = b;
                for len in [s.len(), 30, 29] {
                    let t = &s[..len];
                    if t.len() < 20 || t[4] != b'-' || t[10] != b'T' {
                        continue;
                    }
                    assert_eq!(rfc3339_len(t), general_rfc3339_len(t), "{}", String::from_utf8_lossy(t));
                    checked += 1;
                }
            }
        }
        for month in 0..=13u8 {
            for (day, hour, sec) in [(0u8, 0u8, 0u8), (1, 23, 59), (31, 24, 60), (32, 12, 61)] {
                let s = format!("2024-{month:02}-{day:02}T{hour:02}:59:{sec:02}.000000001Z x");
                assert_eq!(rfc3339_len(s.as_bytes()), general_rfc3339_len(s.as_bytes()), "{s}");
                checked += 1;
            }
        }
        assert!(checked > 1000);
        assert_eq!(rfc3339_len(base), Some(30));
    }

    use super::*;

    #[test]
    fn kubectl_prefix_shapes() {
        let (p, c, r) = kubectl_prefix(b"[pod/httpbin-8cb97b8f4-9dk9p/istio-proxy] [2024-...").unwrap();
        assert_eq!((p, c, r), (&b"httpbin-8cb97b8f4-9dk9p"[..], &b"istio-proxy"[..], &b"[2024-..."[..]));
        assert!(kubectl_prefix(b"[pod/x] y").is_none());
        assert!(kubectl_prefix(b"[pod/A/b] y").is_none());
    }

    #[test]
    fn timestamps_of_each_runtime() {
        assert_eq!(rfc3339_len(b"2020-11-22T20:04:54.223002528Z ["), Some(30));
        assert_eq!(rfc3339_len(b"2019-04-30T02:12:41.8443515Z stdout"), Some(28));
        assert_eq!(rfc3339_len(b"2024-05-16T10:06:02.123456780+00:00 stdout"), Some(35));
        assert_eq!(rfc3339_len(b"2024-05-16 10:06:02.123 x"), None);
    }

    #[test]
    fn cri_tags() {
        assert_eq!(cri_fields(b"stdout F hello"), Some((Stream::Stdout, CriTag::Full, &b"hello"[..])));
        assert_eq!(cri_fields(b"stderr P part"), Some((Stream::Stderr, CriTag::Partial, &b"part"[..])));
        assert_eq!(cri_fields(b"stdout F:x=y hi"), Some((Stream::Stdout, CriTag::Full, &b"hi"[..])));
        assert_eq!(cri_fields(b"stdout X hi"), None);
        assert_eq!(cri_fields(b"stdout F"), Some((Stream::Stdout, CriTag::Full, &b""[..])));
    }

    #[test]
    fn docker_objects() {
        let d =
            docker_line(br#"{"log":"a \"q\"\n","stream":"stderr","time":"2019-05-29T15:32:47.807691662Z"}"#)
                .unwrap();
        assert_eq!(d.log_escaped, br#"a \"q\"\n"#);
        assert_eq!(d.stream, Some(Stream::Stderr));
        assert_eq!(d.time, Some(&b"2019-05-29T15:32:47.807691662Z"[..]));
    }

    #[test]
    fn docker_shape_is_exact() {
        let attrs = br#"{"log":"x\n","stream":"stdout","attrs":{"tag":"a\"}b","x":"y"},"time":"2019-05-29T15:32:47.8Z"}"#;
        let d = docker_line(attrs).unwrap();
        assert_eq!((d.stream, d.time), (Some(Stream::Stdout), Some(&b"2019-05-29T15:32:47.8Z"[..])));
        assert!(docker_line(br#"{"log":"x","stream":"stdout","kubernetes":{"pod_name":"p"}}"#).is_none());
        assert!(docker_line(br#"{"log":"x","date":1.5}"#).is_none());
        assert!(docker_line(br#"{"log":"x"}"#).is_none());
    }

    #[test]
    fn compose_prefixes() {
        assert_eq!(compose_prefix(b"envoy-1  | [2024-"), Some((&b"envoy-1"[..], &b"[2024-"[..])));
        assert_eq!(compose_prefix(b"front_envoy_1 | {}"), Some((&b"front_envoy_1"[..], &b"{}"[..])));
        assert_eq!(compose_prefix(b"a|b"), None);
        assert_eq!(compose_prefix(b"two words  | x"), None);
    }

    #[test]
    fn kail_prefixes() {
        // https://github.com/istio/istio/issues/9113 (kail output of an istio-proxy container).
        let line = b"preprod-cb/classification-helper-ui-76f9cdcd4d-rz6n9[istio-proxy]: [2018-10-03 08:47:42.958][95][debug]";
        let (ns, pod, c, m) = kail_prefix(line).unwrap();
        assert_eq!(
            (ns, pod, c, m),
            (
                &b"preprod-cb"[..],
                &b"classification-helper-ui-76f9cdcd4d-rz6n9"[..],
                &b"istio-proxy"[..],
                &b"[2018-10-03 08:47:42.958][95][debug]"[..]
            )
        );
        assert!(kail_prefix(b"envoy-1  | [2024-12-15T06:24:57.672Z] \"GET /").is_none());
        assert!(kail_prefix(b"ns/pod[c] no colon").is_none());
        assert!(kail_prefix(b"ns/Pod[c]: x").is_none());
    }

    #[test]
    fn stern_with_and_without_namespace() {
        let (ns, p, c, m) = stern_prefix(b"forum-7985546ffb-clxhz istio-proxy [2023-01-07T11").unwrap();
        assert_eq!(
            (ns, p, c, m),
            (None, &b"forum-7985546ffb-clxhz"[..], &b"istio-proxy"[..], &b"[2023-01-07T11"[..])
        );
        let (ns, ..) = stern_prefix(b"shop forum-7985546ffb-clxhz istio-proxy {\"a\":1}").unwrap();
        assert_eq!(ns, Some(&b"shop"[..]));
        assert!(stern_prefix(b"hello world").is_none());
    }

    #[test]
    fn chunks_are_not_cut_inside_fragment_runs() {
        let buf = b"2024-05-16T10:06:02.1Z stdout F whole\n2024-05-16T10:06:02.2Z stdout P part1\n2024-05-16T10:06:02.3Z stdout P part2\n";
        assert_eq!(safe_cut(buf), Some(38));
        assert_eq!(safe_cut(b"2024-05-16T10:06:02.2Z stdout P part1\n"), None);
        assert_eq!(safe_cut(b"a\nb"), Some(2));
        let docker = b"{\"log\":\"part\",\"stream\":\"stdout\",\"time\":\"2019-05-29T15:32:47.8Z\"}\n";
        assert_eq!(safe_cut(docker), None);
    }

    #[test]
    fn ansi_is_stripped() {
        let mut out = Vec::new();
        assert!(strip_ansi_into(b"\x1b[31mpod\x1b[0m \x1b[1;32mc\x1b[0m msg", &mut out));
        assert_eq!(out, b"pod c msg");
        assert!(!strip_ansi_into(b"plain", &mut out));
    }
}
