//! `--output parquet`: every record with its classification as an Apache Parquet file, for the
//! analytic engines users already run (DuckDB, ClickHouse, Spark, Trino). The columns are those of
//! `--output records` ([`super::records`]), under the same names, typed: times as UTC timestamps,
//! codes, sizes and durations as integers, response flags as a list (docs/parquet.md).
//!
//! [`ParquetOutput`] is the pipeline's [`RecordOutput`]: each worker's [`ParquetSink`] builds an
//! Arrow batch of its chunk's records; one writer thread writes the batches in input order
//! through the `parquet` crate's `ArrowWriter`, in row groups of [`ROW_GROUP`] rows, so memory
//! stays bounded whatever the input and the file is the same at any thread count. The file is
//! whole (its footer written) when the run ends.

use std::io::{self, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow_array::builder::{
    BooleanBuilder, ListBuilder, StringBuilder, TimestampMillisecondBuilder, UInt8Builder, UInt16Builder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use crossbeam_channel::{Receiver, Sender, bounded};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::classify::{Classification, Reporter};
use crate::pipeline::{RecordAt, RecordOutput, RecordSink};
use crate::record::{Record, Stream, parse_rfc3339_ms};

/// Rows per row group: small enough that the writer holds a few tens of MB at most, large
/// enough for engines to skip and read column chunks efficiently.
pub const ROW_GROUP: usize = 65_536;

/// The string columns, in schema order after the fixed ones (see [`schema`]).
const TEXT: [&str; 25] = [
    "method",
    "path",
    "protocol",
    "response_code_details",
    "reset_reason",
    "details_transport_failure",
    "connection_termination_details",
    "upstream_transport_failure_reason",
    "x_forwarded_for",
    "user_agent",
    "request_id",
    "authority",
    "upstream_host",
    "upstream_cluster",
    "upstream_local_address",
    "downstream_local_address",
    "downstream_remote_address",
    "requested_server_name",
    "route_name",
    "policy_status",
    "namespace",
    "pod",
    "container",
    "stream",
    "cause",
];

/// The file's schema: the records' keys, in their order, typed.
pub fn schema() -> SchemaRef {
    let utc = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let mut fields = vec![
        Field::new("input", DataType::Utf8, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("format", DataType::Utf8, false),
        Field::new("partial", DataType::Boolean, false),
        Field::new("start_time", utc(), true),
    ];
    fields.extend(TEXT[..3].iter().map(|n| text(n)));
    fields.push(Field::new("response_code", DataType::UInt16, true));
    fields.push(Field::new(
        "response_flags",
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        false,
    ));
    fields.push(Field::new("response_flags_other", DataType::UInt8, false));
    fields.extend(TEXT[3..8].iter().map(|n| text(n)));
    for n in ["bytes_received", "bytes_sent", "duration_ms", "upstream_service_time_ms"] {
        fields.push(Field::new(n, DataType::UInt64, true));
    }
    fields.extend(TEXT[8..20].iter().map(|n| text(n)));
    fields.push(Field::new("log_time", utc(), true));
    fields.extend(TEXT[20..24].iter().map(|n| text(n)));
    fields.push(Field::new("failed", DataType::Boolean, false));
    fields.push(text(TEXT[24]));
    fields.push(text("domain"));
    fields.push(Field::new("reporter", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// One chunk's rows, column by column.
struct Columns {
    input: StringBuilder,
    line: UInt64Builder,
    format: StringBuilder,
    partial: BooleanBuilder,
    start_time: TimestampMillisecondBuilder,
    response_code: UInt16Builder,
    response_flags: ListBuilder<StringBuilder>,
    response_flags_other: UInt8Builder,
    /// `bytes_received`, `bytes_sent`, `duration_ms`, `upstream_service_time_ms`.
    numbers: [UInt64Builder; 4],
    log_time: TimestampMillisecondBuilder,
    failed: BooleanBuilder,
    domain: StringBuilder,
    reporter: StringBuilder,
    /// The [`TEXT`] columns.
    text: Vec<StringBuilder>,
    rows: usize,
}

impl Columns {
    fn new() -> Columns {
        let utc = || TimestampMillisecondBuilder::new().with_timezone("UTC");
        Columns {
            input: StringBuilder::new(),
            line: UInt64Builder::new(),
            format: StringBuilder::new(),
            partial: BooleanBuilder::new(),
            start_time: utc(),
            response_code: UInt16Builder::new(),
            response_flags: ListBuilder::new(StringBuilder::new()),
            response_flags_other: UInt8Builder::new(),
            numbers: std::array::from_fn(|_| UInt64Builder::new()),
            log_time: utc(),
            failed: BooleanBuilder::new(),
            domain: StringBuilder::new(),
            reporter: StringBuilder::new(),
            text: TEXT.iter().map(|_| StringBuilder::new()).collect(),
            rows: 0,
        }
    }

    fn push(
        &mut self,
        rec: &Record<'_>,
        at: RecordAt<'_>,
        reporter: Reporter,
        verdict: Option<&Classification>,
    ) {
        let [namespace, pod, container] = at.pod_fields(rec);
        let d = rec.details();
        let texts: [Option<&[u8]>; 25] = [
            rec.method,
            rec.path,
            rec.protocol,
            rec.response_code_details,
            d.reset_reason,
            d.transport_failure,
            rec.connection_termination_details,
            rec.upstream_transport_failure_reason,
            rec.x_forwarded_for,
            rec.user_agent,
            rec.request_id,
            rec.authority,
            rec.upstream_host,
            rec.upstream_cluster,
            rec.upstream_local_address,
            rec.downstream_local_address,
            rec.downstream_remote_address,
            rec.requested_server_name,
            rec.route_name,
            rec.policy_status,
            namespace,
            pod,
            container,
            rec.meta.stream.map(|s| match s {
                Stream::Stdout => &b"stdout"[..],
                Stream::Stderr => &b"stderr"[..],
            }),
            verdict.map(|v| v.cause.name().as_bytes()),
        ];
        for (b, v) in self.text.iter_mut().zip(texts) {
            // Log bytes that are not UTF-8 are written as `--output records` writes them.
            b.append_option(v.map(String::from_utf8_lossy));
        }
        self.input.append_value(at.input);
        self.line.append_value(at.line);
        self.format.append_value(rec.format.name());
        self.partial.append_value(rec.partial);
        self.start_time.append_option(rec.start_epoch_ms());
        self.response_code.append_option(rec.response_code);
        for f in rec.response_flags.iter() {
            self.response_flags.values().append_value(f.short());
        }
        self.response_flags.append(true);
        self.response_flags_other.append_value(rec.response_flags.unknown());
        let numbers = [rec.bytes_received, rec.bytes_sent, rec.duration_ms, rec.upstream_service_time_ms];
        for (b, v) in self.numbers.iter_mut().zip(numbers) {
            b.append_option(v);
        }
        self.log_time.append_option(rec.meta.log_time.and_then(parse_rfc3339_ms));
        self.failed.append_value(verdict.is_some());
        self.domain.append_option(verdict.map(|v| v.domain.name()));
        self.reporter.append_value(reporter.name());
        self.rows += 1;
    }

    /// The rows so far as a batch in [`schema`]'s order; the builders start again empty.
    fn finish(&mut self, schema: &SchemaRef) -> RecordBatch {
        let t = &mut self.text;
        let mut text = |i: usize| Arc::new(t[i].finish()) as ArrayRef;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.input.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.format.finish()),
            Arc::new(self.partial.finish()),
            Arc::new(self.start_time.finish()),
        ];
        columns.extend((0..3).map(&mut text));
        columns.push(Arc::new(self.response_code.finish()));
        columns.push(Arc::new(self.response_flags.finish()));
        columns.push(Arc::new(self.response_flags_other.finish()));
        columns.extend((3..8).map(&mut text));
        columns.extend(self.numbers.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        columns.extend((8..20).map(&mut text));
        columns.push(Arc::new(self.log_time.finish()));
        columns.extend((20..24).map(&mut text));
        columns.push(Arc::new(self.failed.finish()));
        columns.push(text(24));
        columns.push(Arc::new(self.domain.finish()));
        columns.push(Arc::new(self.reporter.finish()));
        self.rows = 0;
        RecordBatch::try_new(Arc::clone(schema), columns).expect("the columns follow the schema")
    }
}

/// `--output parquet`: a sink per worker, one thread writing.
pub struct ParquetOutput {
    tx: Option<Sender<(u64, RecordBatch)>>,
    writer: JoinHandle<io::Result<()>>,
    schema: SchemaRef,
}

impl ParquetOutput {
    /// Writes to `out`: batches in chunk (input) order when `ordered`, else as chunks come
    /// (live mode). `threads` sizes how many chunks may wait.
    pub fn new(out: Box<dyn Write + Send>, threads: usize, ordered: bool) -> ParquetOutput {
        let schema = schema();
        let (tx, rx) = bounded::<(u64, RecordBatch)>(threads.max(1) * 4);
        let s = Arc::clone(&schema);
        let writer = std::thread::spawn(move || write_batches(rx, out, s, ordered));
        ParquetOutput { tx: Some(tx), writer, schema }
    }

    pub fn stdout(threads: usize, ordered: bool) -> ParquetOutput {
        ParquetOutput::new(Box::new(io::BufWriter::with_capacity(1 << 20, io::stdout())), threads, ordered)
    }
}

impl RecordOutput for ParquetOutput {
    fn sink(&self) -> Box<dyn RecordSink> {
        let tx = self.tx.clone().expect("sinks are made before the output finishes");
        Box::new(ParquetSink { columns: Columns::new(), tx, schema: Arc::clone(&self.schema) })
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.tx = None;
        self.writer.join().expect("parquet writer panicked")
    }
}

/// One worker's records of the chunk being read, as columns.
pub struct ParquetSink {
    columns: Columns,
    tx: Sender<(u64, RecordBatch)>,
    schema: SchemaRef,
}

impl RecordSink for ParquetSink {
    fn record(
        &mut self,
        rec: &Record<'_>,
        at: RecordAt<'_>,
        reporter: Reporter,
        verdict: Option<&Classification>,
    ) {
        self.columns.push(rec, at, reporter, verdict);
    }

    fn chunk_done(&mut self, seq: u64) -> bool {
        // An empty chunk still takes its place in the order.
        let batch = self.columns.finish(&self.schema);
        self.tx.send((seq, batch)).is_ok()
    }
}

fn parquet_error(e: parquet::errors::ParquetError) -> io::Error {
    match e {
        parquet::errors::ParquetError::External(e) => match e.downcast::<io::Error>() {
            Ok(e) => *e,
            Err(e) => io::Error::other(e),
        },
        e => io::Error::other(e),
    }
}

/// A Parquet file is whole only once its footer is written: nothing to flush before.
impl<W: Write + Send> super::records::Flush for ArrowWriter<W> {
    fn flush_now(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes batches, in chunk order when `ordered`, then the footer. Stops on a write error (a
/// full disk, a closed pipe) and returns it; the sinks then find the channel closed.
fn write_batches(
    rx: Receiver<(u64, RecordBatch)>,
    out: Box<dyn Write + Send>,
    schema: SchemaRef,
    ordered: bool,
) -> io::Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 exists")))
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_created_by(format!("envoy-triage {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut w = ArrowWriter::try_new(out, schema, Some(props)).map_err(parquet_error)?;
    let write = |w: &mut ArrowWriter<_>, batch: RecordBatch| {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        w.write(&batch).map_err(parquet_error)
    };
    super::records::in_order(&rx, ordered, write, &mut w)?;
    // Writes the footer and gives the writer back, to flush it (a drop would lose a write error).
    let mut out = w.into_inner().map_err(parquet_error)?;
    out.flush()
}
