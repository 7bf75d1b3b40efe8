//! `--output records`: NDJSON, one object per record, every parsed field under stable names
//! (docs/records.md), with its classification and where it was read. Every key is always
//! present (`null` when absent) so that the stream loads as one table in DuckDB or ClickHouse;
//! strings are escaped as in every JSON output ([`super::json::Escaping`]).
//! [`RecordsOutput`] is the pipeline's [`RecordOutput`]: each worker's [`RecordsSink`] renders
//! its chunk's records into a buffer, and one writer thread writes the buffers in input order
//! (batch) or as they come (live).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::classify::{Classification, Reporter};
use crate::pipeline::{RecordAt, RecordOutput, RecordSink};
use crate::record::{Bytes, Record, Stream};

/// Appends one record as a JSON line, with `pod` as its namespace, pod and container
/// (`RecordAt::pod_fields`): the object `Row` (in the tests) serialises to, written
/// field by field. Through serde it cost about 19,000 instructions a record, most of them in
/// serde_json's escaping loop, one byte at a time; here a value with nothing to escape (nearly
/// all) is checked eight bytes at a time and copied, and only the others go through serde_json
/// with [`super::json::Escaping`], so the bytes are the same.
pub fn write_record(
    out: &mut Vec<u8>,
    rec: &Record<'_>,
    [namespace, pod, container]: [Option<&[u8]>; 3],
    input: &str,
    line: u64,
    reporter: Reporter,
    verdict: Option<&Classification>,
) {
    let d = rec.details();
    let text = |out: &mut Vec<u8>, key: &[u8], v: &Option<Bytes<'_>>| field(out, key, v.as_deref());
    out.extend_from_slice(b"{\"input\":");
    string(out, input.as_bytes());
    out.extend_from_slice(b",\"line\":");
    number(out, Some(line));
    out.extend_from_slice(b",\"format\":\"");
    out.extend_from_slice(rec.format.name().as_bytes());
    out.extend_from_slice(if rec.partial { b"\",\"partial\":true" } else { b"\",\"partial\":false" });
    text(out, b"start_time", &rec.start_time);
    text(out, b"method", &rec.method);
    text(out, b"path", &rec.path);
    text(out, b"protocol", &rec.protocol);
    out.extend_from_slice(b",\"response_code\":");
    number(out, rec.response_code.map(u64::from));
    out.extend_from_slice(b",\"response_flags\":[");
    for (i, f) in rec.response_flags.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\"" } else { b",\"" });
        out.extend_from_slice(f.short().as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"],\"response_flags_other\":");
    number(out, Some(u64::from(rec.response_flags.unknown())));
    text(out, b"response_code_details", &rec.response_code_details);
    field(out, b"reset_reason", d.reset_reason);
    field(out, b"details_transport_failure", d.transport_failure);
    text(out, b"connection_termination_details", &rec.connection_termination_details);
    text(out, b"upstream_transport_failure_reason", &rec.upstream_transport_failure_reason);
    for (key, n) in [
        (&b"bytes_received"[..], rec.bytes_received),
        (b"bytes_sent", rec.bytes_sent),
        (b"duration_ms", rec.duration_ms),
        (b"upstream_service_time_ms", rec.upstream_service_time_ms),
    ] {
        key_of(out, key);
        number(out, n);
    }
    text(out, b"x_forwarded_for", &rec.x_forwarded_for);
    text(out, b"user_agent", &rec.user_agent);
    text(out, b"request_id", &rec.request_id);
    text(out, b"authority", &rec.authority);
    text(out, b"upstream_host", &rec.upstream_host);
    text(out, b"upstream_cluster", &rec.upstream_cluster);
    text(out, b"upstream_local_address", &rec.upstream_local_address);
    text(out, b"downstream_local_address", &rec.downstream_local_address);
    text(out, b"downstream_remote_address", &rec.downstream_remote_address);
    text(out, b"requested_server_name", &rec.requested_server_name);
    text(out, b"route_name", &rec.route_name);
    text(out, b"policy_status", &rec.policy_status);
    text(out, b"log_time", &rec.meta.log_time);
    field(out, b"namespace", namespace);
    field(out, b"pod", pod);
    field(out, b"container", container);
    name(
        out,
        b"stream",
        rec.meta.stream.map(|s| match s {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }),
    );
    out.extend_from_slice(if verdict.is_some() { b",\"failed\":true" } else { b",\"failed\":false" });
    name(out, b"cause", verdict.map(|v| v.cause.name()));
    name(out, b"domain", verdict.map(|v| v.domain.name()));
    name(out, b"reporter", Some(reporter.name()));
    out.extend_from_slice(b"}\n");
}

/// `,"key":`
#[inline]
fn key_of(out: &mut Vec<u8>, key: &[u8]) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key);
    out.extend_from_slice(b"\":");
}

/// A field holding log bytes: a JSON string (invalid UTF-8 replaced, as serde sees it through
/// `from_utf8_lossy`), or `null`.
#[inline]
fn field(out: &mut Vec<u8>, key: &[u8], v: Option<&[u8]>) {
    key_of(out, key);
    match v {
        Some(b) => string(out, b),
        None => out.extend_from_slice(b"null"),
    }
}

/// A field holding one of our own names (ASCII words: nothing to escape), or `null`.
#[inline]
fn name(out: &mut Vec<u8>, key: &[u8], v: Option<&'static str>) {
    key_of(out, key);
    match v {
        Some(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

#[inline]
fn number(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// `b` as a JSON string, as `super::json::write_compact` writes it.
#[inline]
fn string(out: &mut Vec<u8>, b: &[u8]) {
    if plain(b) {
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail; serialising a string cannot either.
        let _ = super::json::write_compact(&mut *out, &String::from_utf8_lossy(b));
    }
}

/// Whether every byte is printable ASCII other than `"` and `\\`: what a JSON string holds as
/// is, and (being ASCII) valid UTF-8. Eight bytes at a time; each test below is exact for
/// "some byte of the word": a borrow only flags bytes above one that is flagged.
#[inline]
fn plain(b: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let bad = |x: u64| {
        // Below 0x20 (a control), 0x7f and above, a quote, a backslash.
        let low = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let high = (x | x.wrapping_add(ONES)) & HIGH;
        low | high | zero_in(x ^ (ONES * b'"' as u64)) | zero_in(x ^ (ONES * b'\\' as u64))
    };
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        if bad(u64::from_le_bytes(w.try_into().expect("8 bytes"))) != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\')
}

/// `--output records`: a sink per worker, one thread writing.
pub struct RecordsOutput {
    tx: Option<Sender<(u64, Vec<u8>)>>,
    writer: JoinHandle<io::Result<()>>,
}

impl RecordsOutput {
    /// Writes to stdout: in chunk (input) order when `ordered`, else as chunks come (live mode,
    /// where chunk numbers may have gaps). `threads` sizes how many chunks may wait.
    pub fn stdout(threads: usize, ordered: bool) -> RecordsOutput {
        let out = io::BufWriter::with_capacity(1 << 20, io::stdout());
        RecordsOutput::new(Box::new(out), threads, ordered)
    }

    pub fn new(out: Box<dyn Write + Send>, threads: usize, ordered: bool) -> RecordsOutput {
        let (tx, rx) = bounded::<(u64, Vec<u8>)>(threads.max(1) * 4);
        let writer = std::thread::spawn(move || write_chunks(rx, out, ordered));
        RecordsOutput { tx: Some(tx), writer }
    }
}

impl RecordOutput for RecordsOutput {
    fn sink(&self) -> Box<dyn RecordSink> {
        let tx = self.tx.clone().expect("sinks are made before the output finishes");
        Box::new(RecordsSink { buf: Vec::new(), tx })
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.tx = None;
        self.writer.join().expect("record writer panicked")
    }
}

/// One worker's records of the chunk being read, rendered.
pub struct RecordsSink {
    buf: Vec<u8>,
    tx: Sender<(u64, Vec<u8>)>,
}

impl RecordSink for RecordsSink {
    fn record(
        &mut self,
        rec: &Record<'_>,
        at: RecordAt<'_>,
        reporter: Reporter,
        verdict: Option<&Classification>,
    ) {
        // A kubelet log path names the pod: said as the wrapper would, as the JSON report's
        // `pods` and `--namespace` read it.
        write_record(&mut self.buf, rec, at.pod_fields(rec), at.input, at.line, reporter, verdict);
    }

    fn chunk_done(&mut self, seq: u64) -> bool {
        // About what the chunk needed, so the next one rarely grows its buffer.
        let next = Vec::with_capacity(self.buf.len());
        self.tx.send((seq, std::mem::replace(&mut self.buf, next))).is_ok()
    }
}

/// Writes rendered chunks, in chunk order when `ordered`. Stops on a write error (a closed
/// pipe) and returns it; the sinks then find the channel closed.
fn write_chunks(
    rx: Receiver<(u64, Vec<u8>)>,
    mut out: Box<dyn Write + Send>,
    ordered: bool,
) -> io::Result<()> {
    let out = &mut out;
    in_order(&rx, ordered, |out, buf| out.write_all(&buf), out)?;
    out.flush()
}

/// Hands each chunk's rendered records to `write`, in chunk order when `ordered` (batch: chunks
/// are numbered from 0 without gaps), else as they come (live, where numbers may have gaps);
/// live, `out` is flushed whenever nothing else waits, so a record is shown (and a closed pipe
/// found) once read, not when a megabyte has gathered. Stops at the first error. `--output
/// records` and `--output parquet` write through it.
pub(crate) fn in_order<T, O: Flush>(
    rx: &Receiver<(u64, T)>,
    ordered: bool,
    mut write: impl FnMut(&mut O, T) -> io::Result<()>,
    out: &mut O,
) -> io::Result<()> {
    let mut pending: BTreeMap<u64, T> = BTreeMap::new();
    let mut next = 0u64;
    for (seq, item) in rx {
        if !ordered {
            write(out, item)?;
            if rx.is_empty() {
                out.flush_now()?;
            }
            continue;
        }
        pending.insert(seq, item);
        while let Some(item) = pending.remove(&next) {
            write(out, item)?;
            next += 1;
        }
    }
    for item in pending.into_values() {
        write(out, item)?;
    }
    Ok(())
}

/// What [`in_order`] flushes in live mode.
pub(crate) trait Flush {
    fn flush_now(&mut self) -> io::Result<()>;
}

impl Flush for Box<dyn Write + Send> {
    fn flush_now(&mut self) -> io::Result<()> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn text<'a>(v: &'a Option<Bytes<'_>>) -> Option<Cow<'a, str>> {
        v.as_deref().map(String::from_utf8_lossy)
    }

    /// The record as serde writes it: what `write_record` must write, byte for byte (it did
    /// this itself before it wrote fields by hand).
    #[derive(serde::Serialize)]
    struct Row<'a> {
        input: &'a str,
        line: u64,
        format: &'static str,
        partial: bool,
        start_time: Option<Cow<'a, str>>,
        method: Option<Cow<'a, str>>,
        path: Option<Cow<'a, str>>,
        protocol: Option<Cow<'a, str>>,
        response_code: Option<u16>,
        response_flags: Vec<&'static str>,
        response_flags_other: u8,
        response_code_details: Option<Cow<'a, str>>,
        reset_reason: Option<Cow<'a, str>>,
        details_transport_failure: Option<Cow<'a, str>>,
        connection_termination_details: Option<Cow<'a, str>>,
        upstream_transport_failure_reason: Option<Cow<'a, str>>,
        bytes_received: Option<u64>,
        bytes_sent: Option<u64>,
        duration_ms: Option<u64>,
        upstream_service_time_ms: Option<u64>,
        x_forwarded_for: Option<Cow<'a, str>>,
        user_agent: Option<Cow<'a, str>>,
        request_id: Option<Cow<'a, str>>,
        authority: Option<Cow<'a, str>>,
        upstream_host: Option<Cow<'a, str>>,
        upstream_cluster: Option<Cow<'a, str>>,
        upstream_local_address: Option<Cow<'a, str>>,
        downstream_local_address: Option<Cow<'a, str>>,
        downstream_remote_address: Option<Cow<'a, str>>,
        requested_server_name: Option<Cow<'a, str>>,
        route_name: Option<Cow<'a, str>>,
        policy_status: Option<Cow<'a, str>>,
        log_time: Option<Cow<'a, str>>,
        namespace: Option<Cow<'a, str>>,
        pod: Option<Cow<'a, str>>,
        container: Option<Cow<'a, str>>,
        stream: Option<&'static str>,
        failed: bool,
        cause: Option<&'static str>,
        domain: Option<&'static str>,
        reporter: &'static str,
    }

    fn by_serde(
        rec: &Record<'_>,
        input: &str,
        line: u64,
        reporter: Reporter,
        verdict: Option<&Classification>,
    ) -> Vec<u8> {
        let d = rec.details();
        fn lossy(b: Option<&[u8]>) -> Option<Cow<'_, str>> {
            b.map(String::from_utf8_lossy)
        }
        let row = Row {
            input,
            line,
            format: rec.format.name(),
            partial: rec.partial,
            start_time: text(&rec.start_time),
            method: text(&rec.method),
            path: text(&rec.path),
            protocol: text(&rec.protocol),
            response_code: rec.response_code,
            response_flags: rec.response_flags.iter().map(|f| f.short()).collect(),
            response_flags_other: rec.response_flags.unknown(),
            response_code_details: text(&rec.response_code_details),
            reset_reason: lossy(d.reset_reason),
            details_transport_failure: lossy(d.transport_failure),
            connection_termination_details: text(&rec.connection_termination_details),
            upstream_transport_failure_reason: text(&rec.upstream_transport_failure_reason),
            bytes_received: rec.bytes_received,
            bytes_sent: rec.bytes_sent,
            duration_ms: rec.duration_ms,
            upstream_service_time_ms: rec.upstream_service_time_ms,
            x_forwarded_for: text(&rec.x_forwarded_for),
            user_agent: text(&rec.user_agent),
            request_id: text(&rec.request_id),
            authority: text(&rec.authority),
            upstream_host: text(&rec.upstream_host),
            upstream_cluster: text(&rec.upstream_cluster),
            upstream_local_address: text(&rec.upstream_local_address),
            downstream_local_address: text(&rec.downstream_local_address),
            downstream_remote_address: text(&rec.downstream_remote_address),
            requested_server_name: text(&rec.requested_server_name),
            route_name: text(&rec.route_name),
            policy_status: text(&rec.policy_status),
            log_time: text(&rec.meta.log_time),
            namespace: text(&rec.meta.namespace),
            pod: text(&rec.meta.pod),
            container: text(&rec.meta.container),
            stream: rec.meta.stream.map(|s| match s {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            }),
            failed: verdict.is_some(),
            cause: verdict.map(|v| v.cause.name()),
            domain: verdict.map(|v| v.domain.name()),
            reporter: reporter.name(),
        };
        let mut out = Vec::new();
        super::super::json::write_compact(&mut out, &row).unwrap();
        out.push(b'\n');
        out
    }

    /// Every line of the real logs (text, JSON, wrapped), and the same lines with hostile bytes
    /// put in their fields (quotes, backslashes, controls, DEL, invalid UTF-8, bidi overrides,
    /// at every offset a word test could get wrong), are written as serde writes them.
    #[test]
    fn records_are_written_as_serde_writes_them() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for dir in ["sample-logs", "tests/data/encodings/json", "tests/data/encodings/wrapped"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "log") {
                    lines.extend(std::fs::read(&p).unwrap().split(|&b| b == b'\n').map(<[u8]>::to_vec));
                }
            }
        }
        let base = lines.len();
        let nasty: [&[u8]; 9] =
            [b"\"", b"\\", b"\x01", b"\x1b[31m", b"\x7f", b"\xff\xfe", "\u{202e}".as_bytes(), b"\t", b"~"];
        for (i, l) in lines[..base].to_vec().iter().enumerate().filter(|(i, _)| i % 7 == 0) {
            for (j, n) in nasty.iter().enumerate() {
                let at = (i * 31 + j * 17) % l.len().max(1);
                let mut m = l.clone();
                m.splice(at..at, n.iter().copied());
                lines.push(m);
            }
        }
        let mut seen = 0;
        for (i, l) in lines.iter().enumerate() {
            let mut decoder = crate::format::Decoder::new(crate::format::FormatChoice::Auto);
            let crate::format::Outcome::Record(rec) = decoder.decode(l) else { continue };
            seen += 1;
            let reporter = crate::classify::reporter(&rec, None);
            let verdict = crate::classify::classify(&rec, reporter);
            let input = if i % 3 == 0 { "logs/a \"b\".log" } else { "sample.log" };
            let mut got = Vec::new();
            let pod = [rec.meta.namespace, rec.meta.pod, rec.meta.container];
            write_record(&mut got, &rec, pod, input, i as u64, reporter, verdict.as_ref());
            let want = by_serde(&rec, input, i as u64, reporter, verdict.as_ref());
            assert!(
                got == want,
                "line {i}:\n{}\n{}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
        }
        assert!(seen > base / 2, "{seen} records of {} lines", lines.len());
    }

    #[test]
    fn plain_strings_are_told_from_those_to_escape_at_every_offset() {
        for bad in [b'"', b'\\', 0, 0x1f, 0x7f, 0x80, 0xff] {
            for len in 0..20 {
                for at in 0..len {
                    let mut s = vec![b'a'; len];
                    assert!(plain(&s));
                    s[at] = bad;
                    assert!(!plain(&s), "{bad:#x} at {at} of {len}");
                }
            }
        }
        assert!(plain(b" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"));
    }
}
