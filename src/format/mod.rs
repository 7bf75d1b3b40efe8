//! Line decoding: from one physical line to a [`Record`], a skipped line or a malformed one.
//!
//! Layers, outermost first: transport wrappers ([`wrapper`]: kubectl, stern, kail, CRI, docker,
//! docker compose), then the payload: a text layout ([`builtin`] and [`products`], compiled by
//! [`compile`]), a JSON object ([`json`]), a ztunnel L4 line ([`ztunnel`]), a `key=value` line
//! ([`keyvalue`]), or recognised non-access output of an istio-proxy container (Envoy and
//! pilot-agent logs, kubectl notices, blank lines). A line none of these reads goes to
//! [`recover`]: shippers' JSON envelopes, free-text prefixes, and lines as people paste them
//! (cut, escaped), so that cost lands on those lines only. [`Decoder`] is per worker: it holds
//! the few buffers needed to join CRI/docker fragments, strip colours and unescape, and
//! remembers which layout matched last so the common case costs one match. The pipeline
//! (`crate::pipeline`) owns decoders; the classifier reads the records they return.

pub mod builtin;
mod common;
pub mod compile;
pub mod error;
pub mod json;
pub mod keyvalue;
pub mod operators;
pub mod products;
pub mod recover;
pub mod wrapper;
pub mod ztunnel;

pub use common::Common;
pub use compile::{CompiledFormat, FormatError};
pub use error::{ErrorKind, ParseError};

use crate::record::{FormatKind, Meta, Record, Stream};
use wrapper::CriTag;

/// Which layouts to accept (`--format`).
#[derive(Debug, Clone, Default)]
pub enum FormatChoice {
    /// Detect per line.
    #[default]
    Auto,
    /// Envoy's built-in default only.
    Envoy,
    /// Istio's text layouts (every version).
    Istio,
    /// JSON lines only.
    Json,
    /// One user-supplied format string.
    Custom(CompiledFormat),
}

impl FormatChoice {
    /// Parses the `--format` value: `auto`, `envoy`, `istio`, `json`, or a format string.
    pub fn parse(value: &str) -> Result<FormatChoice, FormatError> {
        Ok(match value {
            "auto" => FormatChoice::Auto,
            "envoy" => FormatChoice::Envoy,
            "istio" => FormatChoice::Istio,
            "json" => FormatChoice::Json,
            custom => FormatChoice::Custom(CompiledFormat::compile(custom, FormatKind::Custom)?),
        })
    }
}

listed_enum! {
/// Why a line was skipped rather than read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Empty or whitespace only.
    Blank,
    /// Envoy's own application log (stderr), including debug dumps.
    EnvoyLog,
    /// pilot-agent / istio Go log lines.
    AgentLog,
    /// `Defaulted container "…" out of: …` and similar kubectl notices.
    KubectlNotice,
    /// A CRI `P` or docker partial record, joined into the line that completes it.
    Fragment,
}
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Blank => "blank",
            SkipReason::EnvoyLog => "envoy_log",
            SkipReason::AgentLog => "agent_log",
            SkipReason::KubectlNotice => "kubectl_notice",
            SkipReason::Fragment => "fragment",
        }
    }
}

/// What one physical line became.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing the record would allocate per line
pub enum Outcome<'a> {
    Record(Record<'a>),
    Skipped(SkipReason),
    Malformed(ParseError),
}

/// What one physical line became, when the record is written into the caller's slot
/// ([`Decoder::decode_into`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    Record,
    Skipped(SkipReason),
    Malformed(ParseError),
}

/// Per-worker line decoder. See the module docs.
#[derive(Debug, Default)]
pub struct Decoder {
    choice: FormatChoice,
    /// Index into the built-in layouts of the last one that matched.
    last_layout: usize,
    /// CRI partial fragments waiting for their `F`, per stream.
    cri_pending: [Vec<u8>; 2],
    /// Docker json-file partial objects waiting for the one ending in `\n`. Like
    /// `cri_pending`, never more than one chunk's worth: the pipeline discards what is pending
    /// at the end of each chunk, and the reader cuts a run longer than `pipeline::MAX_CHUNK`.
    docker_pending: Vec<u8>,
    /// A joined or unescaped payload.
    joined: Vec<u8>,
    /// A copy of the line with ANSI colours removed.
    plain: Vec<u8>,
    /// A payload re-joined after kubelet timestamps inside it were removed.
    rejoined: Vec<u8>,
    /// Lines held as fragments and not yet completed.
    pending_lines: u64,
    /// The unescaped line from inside a shipper's JSON envelope (rare path).
    envelope: Vec<u8>,
    /// A pasted line with its quotes unescaped (rare path).
    unescaped: Vec<u8>,
    /// The searcher for the date of the last kubelet timestamp (see
    /// [`rejoin_timestamped_fragments`]): built when the date changes, not per line.
    date_finder: Option<DateFinder>,
    /// Where the current line's escaped JSON and `key=value` values are unescaped to.
    scratch: json::Scratch,
}

/// A `memmem` searcher for one `YYYY-MM-DDT`.
#[derive(Debug)]
struct DateFinder {
    date: [u8; 11],
    finder: memchr::memmem::Finder<'static>,
}

impl DateFinder {
    fn for_date<'f>(slot: &'f mut Option<DateFinder>, date: &[u8]) -> &'f memchr::memmem::Finder<'static> {
        if slot.as_ref().is_none_or(|f| f.date[..] != *date) {
            let date: [u8; 11] = date.try_into().expect("11 bytes");
            *slot = Some(DateFinder { date, finder: memchr::memmem::Finder::new(&date).into_owned() });
        }
        &slot.as_ref().expect("just set").finder
    }
}

/// Most wrappers a line can carry (kubectl prefix + timestamp + stern … ).
const MAX_LAYERS: usize = 4;

impl Decoder {
    pub fn new(choice: FormatChoice) -> Decoder {
        Decoder { choice, ..Decoder::default() }
    }

    /// Fragments held back at end of input (a `P` record never completed). The pipeline counts
    /// them as malformed: their lines were already counted as skipped fragments, so it reports
    /// them without changing the totals.
    pub fn has_pending_fragments(&self) -> bool {
        self.pending_lines > 0
    }

    /// Drops fragments that were never completed and returns how many lines they came from.
    pub fn discard_pending(&mut self) -> u64 {
        for p in &mut self.cri_pending {
            p.clear();
        }
        self.docker_pending.clear();
        std::mem::take(&mut self.pending_lines)
    }

    /// Decodes one physical line (without its `\n`).
    pub fn decode<'s>(&'s mut self, line: &'s [u8]) -> Outcome<'s> {
        let mut rec = Record::default();
        match self.decode_into(line, &mut rec) {
            Decoded::Record => Outcome::Record(rec),
            Decoded::Skipped(reason) => Outcome::Skipped(reason),
            Decoded::Malformed(err) => Outcome::Malformed(err),
        }
    }

    /// [`decode`](Self::decode), building the record in `out`, which must be empty
    /// ([`Record::default`]); after anything but [`Decoded::Record`] it holds nothing useful.
    /// The pipeline's hot loop: a record is several hundred bytes, and each move of it through
    /// a return value is a copy per line.
    #[inline(always)]
    pub fn decode_into<'s>(&'s mut self, line: &'s [u8], out: &mut Record<'s>) -> Decoded {
        let line = without_cr(line);
        // The common line: a record in the previous line's layout, with no wrapper. Tried
        // before the call below, whose stack frame (the wrapper loop's state) costs more than
        // this reading's checks. It leaves the scratch space as it is: no record of it borrows
        // that, and the next line read below empties it.
        if read_by_last_layout(&self.choice, self.last_layout, line, out) {
            return Decoded::Record;
        }
        self.decode_other(line, out)
    }

    /// [`decode_into`](Self::decode_into) for the lines [`read_common`](Self::read_common)
    /// does not read.
    #[inline(always)]
    pub fn decode_uncommon<'s>(&'s mut self, line: &'s [u8], out: &mut Record<'s>) -> Decoded {
        self.decode_other(without_cr(line), out)
    }

    /// [`decode_into`](Self::decode_into) for every line but one in the previous line's
    /// layout: wrappers, JSON, other layouts, skips and errors. `line` is without its `\r`.
    #[inline(never)]
    fn decode_other<'s>(&'s mut self, line: &'s [u8], out: &mut Record<'s>) -> Decoded {
        let Decoder {
            choice,
            last_layout,
            cri_pending,
            docker_pending,
            joined,
            plain,
            rejoined,
            pending_lines,
            envelope,
            unescaped,
            date_finder,
            scratch,
        } = self;
        scratch.clear();
        let scratch: &'s json::Scratch = scratch;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Decoded::Skipped(SkipReason::Blank);
        }
        // A custom format may itself start with a timestamp (`%START_TIME% …`), which would
        // otherwise be taken for a kubectl --timestamps prefix: try the whole line first.
        if let FormatChoice::Custom(f) = &*choice {
            if f.lead().is_empty() {
                if f.parse_into(line, out).is_ok() {
                    return Decoded::Record;
                }
                *out = Record::default();
            }
        }
        let mut meta = Meta::default();
        let mut payload: &'s [u8] = line;
        let mut plain = Some(plain);
        let mut in_line = true;

        for _ in 0..MAX_LAYERS {
            let first = payload[0];
            if first == b'[' {
                if let Some((pod, container, rest)) = wrapper::kubectl_prefix(payload) {
                    meta.pod = Some(pod);
                    meta.container = Some(container);
                    payload = rest;
                    if payload.is_empty() {
                        return Decoded::Skipped(SkipReason::Blank);
                    }
                    // What the next round would read first (as at the top, after a wrapper).
                    if read_by_last_layout(choice, *last_layout, payload, out) {
                        out.meta = meta;
                        return Decoded::Record;
                    }
                    continue;
                }
                break;
            }
            if first.is_ascii_digit() {
                // One timestamp layer at most: what follows it is the record's own.
                if meta.log_time.is_some() {
                    break;
                }
                let Some(n) = wrapper::rfc3339_len(payload) else { break };
                if payload.get(n) != Some(&b' ') {
                    break;
                }
                let ts = &payload[..n];
                let after = &payload[n + 1..];
                let cri = wrapper::cri_fields(after);
                // An application log line starts with its own timestamp: not a wrapper. (A CRI
                // line never reads as one: `stdout`/`stderr` is no log level.) `skip_reason`
                // reads such a line only when a lower-case level follows the timestamp: a
                // record after a kubelet timestamp starts with `[` or `{`, and skips the call.
                let level_next = || after.trim_ascii_start().first().is_some_and(u8::is_ascii_lowercase);
                if cri.is_none() && level_next() && skip_reason(payload).is_some() {
                    break;
                }
                if let Some((stream, tag, content)) = cri {
                    meta.log_time = Some(ts);
                    meta.stream = Some(stream);
                    let pending = &mut cri_pending[stream.index()];
                    if tag == CriTag::Partial {
                        pending.extend_from_slice(content);
                        *pending_lines += 1;
                        return Decoded::Skipped(SkipReason::Fragment);
                    }
                    if pending.is_empty() {
                        payload = content;
                    } else {
                        *pending_lines = 0;
                        joined.clear();
                        joined.append(pending);
                        joined.extend_from_slice(content);
                        let j: &'s Vec<u8> = joined;
                        payload = j;
                        in_line = false;
                        break;
                    }
                } else {
                    meta.log_time = Some(ts);
                    payload = after;
                    // kubectl --timestamps over split CRI records prints `TS1 part1TS2 part2`:
                    // the inner timestamps share the outer one's date, so look for that.
                    if n >= 20 && rejoin_timestamped_fragments(payload, ts, date_finder, rejoined) {
                        let r: &'s Vec<u8> = rejoined;
                        payload = r;
                        in_line = false;
                        break;
                    }
                }
                if payload.is_empty() {
                    return Decoded::Skipped(SkipReason::Blank);
                }
                if read_by_last_layout(choice, *last_layout, payload, out) {
                    out.meta = meta;
                    return Decoded::Record;
                }
                continue;
            }
            if first == b'{' && payload.starts_with(b"{\"log\":\"") {
                let Some(d) = wrapper::docker_line(payload) else { break };
                meta.stream = d.stream;
                meta.log_time = d.time;
                // A continuation is unescaped onto the end of the run so far, never the run
                // copied per line (which made a run quadratic); a whole object goes straight to
                // `joined`, as before. Buffers are swapped, not copied, and keep their
                // capacities: no allocation once warm.
                let continued = !docker_pending.is_empty();
                let buf = if continued {
                    &mut *docker_pending
                } else {
                    joined.clear();
                    &mut *joined
                };
                if json::unescape_into(d.log_escaped, buf).is_err() {
                    docker_pending.clear();
                    joined.clear();
                    *pending_lines = 0;
                    return Decoded::Malformed(ParseError::at(ErrorKind::BadJson, 8));
                }
                if buf.last() != Some(&b'\n') {
                    if !continued {
                        std::mem::swap(joined, docker_pending);
                    }
                    *pending_lines += 1;
                    return Decoded::Skipped(SkipReason::Fragment);
                }
                if continued {
                    std::mem::swap(joined, docker_pending);
                    docker_pending.clear();
                }
                *pending_lines = 0;
                joined.pop();
                if joined.last() == Some(&b'\r') {
                    joined.pop();
                }
                let j: &'s Vec<u8> = joined;
                payload = j;
                in_line = false;
                if payload.iter().all(u8::is_ascii_whitespace) {
                    return Decoded::Skipped(SkipReason::Blank);
                }
                break;
            }
            if first == 0x1b {
                if let Some(buf) = plain.take() {
                    wrapper::strip_ansi_into(payload, buf);
                    let p: &'s Vec<u8> = buf;
                    payload = p;
                    in_line = false;
                    if payload.is_empty() {
                        return Decoded::Skipped(SkipReason::Blank);
                    }
                    continue;
                }
            }
            if first.is_ascii_lowercase() || first.is_ascii_digit() {
                if let Some((ns, pod, container, rest)) = wrapper::stern_prefix(payload) {
                    meta.namespace = ns;
                    meta.pod = Some(pod);
                    meta.container = Some(container);
                    payload = rest;
                    continue;
                }
                if meta.container.is_none() {
                    if let Some((ns, pod, container, rest)) = wrapper::kail_prefix(payload) {
                        meta.namespace = Some(ns);
                        meta.pod = Some(pod);
                        meta.container = Some(container);
                        payload = rest;
                        continue;
                    }
                }
            }
            if first.is_ascii_alphanumeric() && meta.container.is_none() {
                if let Some((service, rest)) = wrapper::compose_prefix(payload) {
                    meta.container = Some(service);
                    payload = rest;
                    if payload.iter().all(u8::is_ascii_whitespace) {
                        return Decoded::Skipped(SkipReason::Blank);
                    }
                    continue;
                }
            }
            break;
        }

        let prefix_len = if in_line { payload.as_ptr() as usize - line.as_ptr() as usize } else { 0 };
        let missed = match parse_fast(choice, last_layout, payload, scratch, out) {
            Decoded::Record => {
                out.meta = meta;
                return Decoded::Record;
            }
            Decoded::Skipped(reason) if payload.first() != Some(&b'{') => return Decoded::Skipped(reason),
            Decoded::Skipped(reason) => Missed::Skip(reason),
            Decoded::Malformed(err) => Missed::Error(err),
        };
        match rare(missed, choice, last_layout, payload, meta, prefix_len, envelope, unescaped, scratch) {
            Outcome::Record(rec) => {
                *out = rec;
                Decoded::Record
            }
            Outcome::Skipped(reason) => Decoded::Skipped(reason),
            Outcome::Malformed(err) => Decoded::Malformed(err),
        }
    }
}

/// Reads `payload` with the layout the previous line had, when the general path would try that
/// layout first and nothing could come before it: the payload starts with `[` but not with
/// kubectl's `[pod/` (the one wrapper that starts with `[`). True when the layout read it
/// outright; otherwise `out` is empty again and the general path decides, so readings and
/// errors are the same either way. This skips the wrapper loop and the layout list.
#[inline(always)]
fn read_by_last_layout<'a>(
    choice: &FormatChoice,
    last: usize,
    payload: &'a [u8],
    out: &mut Record<'a>,
) -> bool {
    let Some(layout) = last_layout_first(choice, last, payload) else { return false };
    if layout.parse_into(payload, out) == Ok(0) {
        return true;
    }
    *out = Record::default();
    false
}

/// The previous line's layout, when `payload` may be read by it first (see
/// [`read_by_last_layout`]).
#[inline(always)]
fn last_layout_first(choice: &FormatChoice, last: usize, payload: &[u8]) -> Option<&'static CompiledFormat> {
    if !may_be_unwrapped_text(payload) || matches!(choice, FormatChoice::Custom(_)) {
        return None;
    }
    let layout = builtin::text_layouts().get(last)?;
    (layout.lead().first() == Some(&b'[') && allowed(choice, layout.kind())).then_some(layout)
}

/// `line` without a trailing `\r`: one test, where `strip_suffix` selects the slice's two
/// halves apart.
#[inline(always)]
fn without_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

/// Whether `payload` starts like a built-in text layout (`[`) and not like kubectl's prefix
/// (`[pod/`), the one wrapper that starts with `[`.
#[inline(always)]
fn may_be_unwrapped_text(payload: &[u8]) -> bool {
    // As arrays, the prefix is compared inline (a slice comparison is a call).
    payload.first() == Some(&b'[') && payload.first_chunk::<5>() != Some(b"[pod/")
}

/// Why the fast paths did not produce a record.
enum Missed {
    /// A `{` line that reads as an application log: maybe a shipper's envelope.
    Skip(SkipReason),
    Error(ParseError),
}

/// The rare path ([`recover`]), out of line so that the common one stays as small as it was.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn rare<'s>(
    missed: Missed,
    choice: &FormatChoice,
    last_layout: &mut usize,
    payload: &'s [u8],
    meta: Meta<'s>,
    prefix_len: usize,
    envelope: &'s mut Vec<u8>,
    unescaped: &'s mut Vec<u8>,
    scratch: &'s json::Scratch,
) -> Outcome<'s> {
    let mut rec = match missed {
        Missed::Skip(reason) => {
            // A shipper's envelope whose message is an Envoy or agent log reads as an
            // application log; one whose message is an access record must not.
            match recover::envelope(choice, last_layout, payload, envelope, unescaped, scratch, false) {
                Some(PayloadOutcome::Record(rec)) => rec,
                _ => return Outcome::Skipped(reason),
            }
        }
        Missed::Error(err) => {
            match recover::recover(choice, last_layout, payload, envelope, unescaped, scratch) {
                Some(PayloadOutcome::Record(rec)) => rec,
                Some(PayloadOutcome::Skip(reason)) => return Outcome::Skipped(reason),
                None => return Outcome::Malformed(err.shifted(prefix_len)),
            }
        }
    };
    // What an envelope said about the pod fills what the wrappers did not.
    let inner = std::mem::take(&mut rec.meta);
    rec.meta = Meta {
        log_time: meta.log_time.or(inner.log_time),
        namespace: meta.namespace.or(inner.namespace),
        pod: meta.pod.or(inner.pod),
        container: meta.container.or(inner.container),
        stream: meta.stream.or(inner.stream),
    };
    Outcome::Record(rec)
}

#[allow(clippy::large_enum_variant)]
pub(crate) enum PayloadOutcome<'a> {
    Record(Record<'a>),
    Skip(SkipReason),
}

/// Whether `--format` lets a built-in layout of this kind be tried.
fn allowed(choice: &FormatChoice, kind: FormatKind) -> bool {
    match choice {
        FormatChoice::Auto => true,
        FormatChoice::Envoy => kind == FormatKind::EnvoyDefault,
        FormatChoice::Istio => kind.is_istio(),
        // Envoy Gateway's JSON-shaped text is what a JSON reader is asked to read.
        FormatChoice::Json => kind == FormatKind::EnvoyGatewayText,
        FormatChoice::Custom(_) => false,
    }
}

/// Reads one payload (wrappers already peeled) by the fast paths: the built-in layouts, JSON,
/// ztunnel and `key=value` lines, then the recognisable non-access lines.
pub(crate) fn parse_payload<'a>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    payload: &'a [u8],
    scratch: &'a json::Scratch,
) -> Result<PayloadOutcome<'a>, ParseError> {
    let mut rec = Record::default();
    match parse_fast(choice, last_layout, payload, scratch, &mut rec) {
        Decoded::Record => Ok(PayloadOutcome::Record(rec)),
        Decoded::Skipped(reason) => Ok(PayloadOutcome::Skip(reason)),
        Decoded::Malformed(err) => Err(err),
    }
}

/// [`parse_payload`] into the caller's record (which must be empty), inlined into
/// [`Decoder::decode_into`]: the record is built where the pipeline reads it.
#[inline(always)]
fn parse_fast<'a>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    payload: &'a [u8],
    scratch: &'a json::Scratch,
    out: &mut Record<'a>,
) -> Decoded {
    if let FormatChoice::Custom(f) = choice {
        return match f.parse_into(payload, out) {
            Ok(_) => Decoded::Record,
            Err(e) => skip_reason(payload).map_or(Decoded::Malformed(e), Decoded::Skipped),
        };
    }
    let Some(&first) = payload.first() else {
        return Decoded::Skipped(SkipReason::Blank);
    };
    let mut best: Option<ParseError> = None;
    if first == b'{' && matches!(choice, FormatChoice::Auto | FormatChoice::Json) {
        match json::parse_json_into(payload, scratch, out) {
            Ok(json::JsonKind::Record) => return Decoded::Record,
            Ok(json::JsonKind::AppLog) => {
                *out = Record::default();
                let agent = memchr::memmem::find(payload, b"\"scope\":\"envoy").is_none();
                return Decoded::Skipped(if agent { SkipReason::AgentLog } else { SkipReason::EnvoyLog });
            }
            Err(e) => {
                *out = Record::default();
                best = Some(e);
            }
        }
    }
    if matches!(first, b'[' | b'{' | b'A') {
        return match_layouts(choice, last_layout, payload, scratch, first, best, out);
    }
    outcome_into(parse_other(choice, payload, scratch, first, best), out)
}

/// Moves an outcome built elsewhere (the rare layouts) into the caller's record.
fn outcome_into<'a>(o: Outcome<'a>, out: &mut Record<'a>) -> Decoded {
    match o {
        Outcome::Record(rec) => {
            *out = rec;
            Decoded::Record
        }
        Outcome::Skipped(reason) => Decoded::Skipped(reason),
        Outcome::Malformed(err) => Decoded::Malformed(err),
    }
}

/// The payloads no layout starts like: ztunnel lines, non-access lines, `key=value` lines.
#[inline(never)]
fn parse_other<'a>(
    choice: &FormatChoice,
    payload: &'a [u8],
    scratch: &'a json::Scratch,
    first: u8,
    best: Option<ParseError>,
) -> Outcome<'a> {
    // Before the skip test: a ztunnel line starts like a pilot-agent log (time, level).
    if matches!(choice, FormatChoice::Auto | FormatChoice::Istio) && first.is_ascii_alphanumeric() {
        match ztunnel::parse(payload, scratch) {
            Some(ztunnel::L4Line::Record(rec)) => return Outcome::Record(rec),
            Some(ztunnel::L4Line::Opened) => return Outcome::Skipped(SkipReason::AgentLog),
            None => {}
        }
    }
    if let Some(reason) = skip_reason(payload) {
        return Outcome::Skipped(reason);
    }
    if matches!(choice, FormatChoice::Auto)
        && ((first == b'[' && memchr::memchr(b'=', payload).is_some()) || keyvalue::looks_like_kv(payload))
    {
        if let Some(rec) = keyvalue::parse_kv(payload, scratch) {
            return Outcome::Record(rec);
        }
    }
    Outcome::Malformed(best.unwrap_or(ParseError::at(ErrorKind::Unrecognised, 0)))
}

/// Tries the built-in layouts whose first literal byte is `first`, the last one that matched
/// first, then [`parse_other`]. The error is `best` (a JSON error says more about a `{` line
/// than the JSON-shaped text layout's) or the furthest one a layout reached.
#[inline(always)]
fn match_layouts<'a>(
    choice: &FormatChoice,
    last_layout: &mut usize,
    payload: &'a [u8],
    scratch: &'a json::Scratch,
    first: u8,
    mut best: Option<ParseError>,
    rec: &mut Record<'a>,
) -> Decoded {
    let layouts = builtin::text_layouts();
    let json_error = best.is_some();
    // A layout that matched only by guessing where a free-text field ends (backtracking)
    // is kept as a fallback while the others get a chance to match outright.
    let mut fallback: Option<(usize, Record<'a>)> = None;
    let last = *last_layout;
    let candidate =
        |i: usize| layouts[i].lead().first() == Some(&first) && allowed(choice, layouts[i].kind());
    // Whether layout `i` read the line outright; leaves `rec` empty when it did not.
    let mut attempt = |i: usize, rec: &mut Record<'a>| match layouts[i].parse_into(payload, rec) {
        Ok(0) => {
            *last_layout = i;
            true
        }
        Ok(_) if fallback.is_none() => {
            fallback = Some((i, std::mem::take(rec)));
            false
        }
        res => {
            if let Err(e) = res {
                if !json_error && best.is_none_or(|b| e.column > b.column) {
                    best = Some(e);
                }
            }
            *rec = Record::default();
            false
        }
    };
    // The previous line's layout reads nearly every line: tried before the others are listed.
    if candidate(last) && attempt(last, rec) {
        return Decoded::Record;
    }
    for i in (0..layouts.len()).filter(|&i| i != last && candidate(i)) {
        if attempt(i, rec) {
            return Decoded::Record;
        }
    }
    if let Some((i, r)) = fallback {
        *last_layout = i;
        *rec = r;
        return Decoded::Record;
    }
    outcome_into(parse_other(choice, payload, scratch, first, best), rec)
}

/// Recognises non-access output of an istio-proxy container (reference §9).
fn skip_reason(p: &[u8]) -> Option<SkipReason> {
    let first = *p.first()?;
    if first == b'[' {
        // `[Envoy (Epoch 0)] [2020-…` (Istio 1.4–1.5) and `[2019-08-13 17:36:34.683][22][warning]`.
        if p.starts_with(b"[Envoy (Epoch ")
            || (p.len() > 25 && p[11] == b' ' && p[24] == b']' && p[25] == b'[' && p[1].is_ascii_digit())
        {
            return Some(SkipReason::EnvoyLog);
        }
        return None;
    }
    if first.is_ascii_digit() {
        // `2021-09-13T06:29:50.786352Z\twarning\tenvoy config\t…` (Envoy) or
        // `2020-11-22T19:32:17.857430Z\tinfo\tFLAG: …` (pilot-agent); pasted with spaces too.
        let n = wrapper::rfc3339_len(p)?;
        let rest = &p[n..];
        let level_start = rest.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
        if level_start == 0 {
            return None;
        }
        let rest = &rest[level_start..];
        // Every level below is a lower-case word; a record after a kubelet timestamp starts
        // with `[` or `{`.
        if !rest[0].is_ascii_lowercase() {
            return None;
        }
        let level_end = rest.iter().position(|b| matches!(b, b' ' | b'\t')).unwrap_or(rest.len());
        let level = &rest[..level_end];
        let known = matches!(
            level,
            b"trace" | b"debug" | b"info" | b"warn" | b"warning" | b"error" | b"critical" | b"fatal"
        );
        if !known {
            return None;
        }
        let scope = rest[level_end..].trim_ascii_start();
        return Some(if scope.starts_with(b"envoy ") { SkipReason::EnvoyLog } else { SkipReason::AgentLog });
    }
    // `Found 3 pods, using pod/envoy-g86st` (kubectl logs of a DaemonSet or Deployment).
    if p.starts_with(b"Defaulted container \"")
        || p.starts_with(b"Found ") && memchr::memmem::find(p, b" pods, using pod/").is_some()
    {
        return Some(SkipReason::KubectlNotice);
    }
    // Continuation lines of Envoy debug header dumps: `':status', '503'`.
    if first == b'\'' && memchr::memmem::find(p, b"', '").is_some() {
        return Some(SkipReason::EnvoyLog);
    }
    None
}

/// Removes inner kubelet timestamps (`<date>T…Z `) shaped like the outer one `outer` (same
/// date, same fixed width: kubelet writes 9 fraction digits); true if any. A record's own
/// `%START_TIME%` has another width, so it is left alone.
fn rejoin_timestamped_fragments(
    payload: &[u8],
    outer: &[u8],
    finder: &mut Option<DateFinder>,
    out: &mut Vec<u8>,
) -> bool {
    // Runs on every `--timestamps` line, nearly always to find nothing but the record's own
    // start time: the searcher is kept while the date stays the same.
    let finder = DateFinder::for_date(finder, &outer[..11]);
    let mut found = false;
    let mut from = 0;
    let mut search = 0;
    while let Some(rel) = finder.find(&payload[search..]) {
        let at = search + rel;
        // A timestamp of the outer one's width, followed by a space, ending in a zone (`Z` or
        // an offset's digit, as `rfc3339_len` requires): the record's own start time and other
        // dates fail here, before the timestamp parser.
        let end = at + outer.len();
        if payload.get(end) != Some(&b' ') || !matches!(payload[end - 1], b'Z' | b'0'..=b'9') {
            search = at + 1;
            continue;
        }
        match wrapper::rfc3339_len(&payload[at..]) {
            Some(n) if at > 0 && n == outer.len() && payload.get(at + n) == Some(&b' ') => {
                if !found {
                    out.clear();
                }
                out.extend_from_slice(&payload[from..at]);
                from = at + n + 1;
                search = from;
                found = true;
            }
            _ => search = at + 1,
        }
    }
    if found {
        out.extend_from_slice(&payload[from..]);
    }
    found
}

/// Convenience for tests: decode one line with auto-detection (escaped values unescaped into
/// `scratch`).
pub fn parse_line<'a>(line: &'a [u8], scratch: &'a json::Scratch) -> Result<Record<'a>, ParseError> {
    let mut last = 0;
    match parse_payload(&FormatChoice::Auto, &mut last, line, scratch)? {
        PayloadOutcome::Record(r) => Ok(r),
        PayloadOutcome::Skip(_) => Err(ParseError::at(ErrorKind::Unrecognised, 0)),
    }
}

/// The stream index used for per-stream fragment buffers.
impl Stream {
    fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod synth_roundtrip;
#[cfg(test)]
mod tests;
