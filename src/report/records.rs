//! `--output records`: NDJSON, one object per record, every parsed field under stable names
//! (docs/records.md), with its classification and where it was read. Every key is always
//! present (`null` when absent) so that the stream loads as one table in DuckDB or ClickHouse;
//! strings are escaped as in every JSON output ([`super::json::Escaping`]).
//! [`RecordsOutput`] is the pipeline's [`RecordOutput`]: each worker's [`RecordsSink`] renders
//! its chunk's records into a buffer, and one writer thread writes the buffers in input order
//! (batch) or as they come (live).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::classify::{Classification, Reporter};
use crate::pipeline::{RecordAt, RecordOutput, RecordSink};
use crate::record::{Bytes, Record, Stream};

fn text<'a>(v: &'a Option<Bytes<'_>>) -> Option<Cow<'a, str>> {
    v.as_deref().map(String::from_utf8_lossy)
}

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

/// Appends one record as a JSON line.
pub fn write_record(
    out: &mut Vec<u8>,
    rec: &Record<'_>,
    input: &str,
    line: u64,
    reporter: Reporter,
    verdict: Option<&Classification>,
) {
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
    // Writing into a Vec cannot fail; serialising borrowed strings cannot either.
    let _ = super::json::write_compact(&mut *out, &row);
    out.push(b'\n');
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
        let src = at.source;
        if src.namespace.is_some() || src.pod.is_some() || src.container.is_some() {
            // A kubelet log path names the pod: said as the wrapper would, as the JSON report's
            // `pods` and `--namespace` read it.
            let mut rec = rec.clone();
            [rec.meta.namespace, rec.meta.pod, rec.meta.container] = at.pod_fields(&rec);
            write_record(&mut self.buf, &rec, at.input, at.line, reporter, verdict);
        } else {
            write_record(&mut self.buf, rec, at.input, at.line, reporter, verdict);
        }
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
