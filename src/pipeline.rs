//! The pipeline: readers cut inputs into ~1 MiB chunks of whole lines and send them over a
//! bounded `crossbeam-channel` to a [`Workers`] pool; each worker owns a [`Decoder`] and an
//! [`Aggregate`]; aggregates merge when the input ends, or are cloned on request for a live
//! tick (`Workers::snapshot`). Records never cross threads, only byte buffers do, and those are
//! recycled through a second channel. Batch mode ([`run`]) reads files here; live mode
//! (`crate::live`, `crate::follow`) feeds the same pool from tokio tasks. Output does not depend
//! on the thread count (see `crate::aggregate` on determinism).

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, select};

use crate::aggregate::{Aggregate, Position, SourceMeta};
use crate::format::{Decoded, Decoder, FormatChoice, wrapper};
use crate::record::Record;
use crate::source::Input;
use crate::summary::InputInfo;

/// Default chunk size.
pub const CHUNK_SIZE: usize = 1 << 20;
/// A run of fragments (or one line) longer than this is cut anyway.
pub const MAX_CHUNK: usize = 64 << 20;

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub threads: usize,
    pub format: FormatChoice,
    pub max_clusters: usize,
    pub chunk_size: usize,
    /// Keep sliding windows (live mode).
    pub windows: bool,
    /// Write every record as NDJSON (`--output records`).
    pub records: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            format: FormatChoice::Auto,
            max_clusters: 10_000,
            chunk_size: CHUNK_SIZE,
            windows: false,
            records: false,
        }
    }
}

/// Whole lines of one input.
pub struct Chunk {
    pub data: Vec<u8>,
    pub seq: u64,
    pub source: u32,
    pub meta: Arc<SourceMeta>,
    /// 1-based number of the chunk's first line in its input (0 when not counted).
    pub first_line: u64,
}

/// Decodes and aggregates one chunk; with `records`, also renders each record as a JSON line.
pub fn process_chunk(
    decoder: &mut Decoder,
    agg: &mut Aggregate,
    chunk: &Chunk,
    mut records: Option<&mut Vec<u8>>,
) {
    let data = chunk.data.as_slice();
    let meta = &*chunk.meta;
    if let Some(live) = agg.live.as_deref_mut() {
        live.arrival_ms = now_ms();
    }
    let mut start = 0;
    let mut line_no: u32 = 0;
    let mut handle = |line: &[u8], line_no: u32| {
        let pos = Position { chunk: chunk.seq, line: line_no };
        // The record is built in place (see `Decoder::decode_into`).
        let mut rec = Record::default();
        match decoder.decode_into(line, &mut rec) {
            Decoded::Record => {
                let (reporter, verdict) = agg.add_record(&rec, pos, meta);
                if let Some(out) = records.as_deref_mut() {
                    let line = chunk.first_line + line_no as u64;
                    crate::report::records::write_record(
                        out,
                        &rec,
                        &meta.name,
                        line,
                        reporter,
                        verdict.as_ref(),
                    );
                }
            }
            Decoded::Skipped(reason) => agg.add_skipped(reason),
            Decoded::Malformed(err) => agg.add_malformed(err, line, pos, chunk.source),
        }
    };
    for nl in memchr::memchr_iter(b'\n', data) {
        handle(&data[start..nl], line_no);
        line_no += 1;
        start = nl + 1;
    }
    if start < data.len() {
        handle(&data[start..], line_no);
        line_no += 1;
    }
    let dangling = decoder.discard_pending();
    if dangling > 0 {
        agg.unterminated_fragments(dangling);
    }
    agg.chunk_lines.push((chunk.seq, chunk.source, line_no as u64));
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A request to one worker.
enum Control {
    /// Send a copy of your aggregate.
    Snapshot(Sender<Aggregate>),
}

/// The worker threads, the channel that feeds them, and the buffer pool.
pub struct Workers {
    tx: Option<Sender<Chunk>>,
    control: Vec<Sender<Control>>,
    handles: Vec<JoinHandle<Aggregate>>,
    pool: Receiver<Vec<u8>>,
    seq: Arc<AtomicU64>,
    max_clusters: usize,
    count_lines: bool,
    writer: Option<JoinHandle<io::Result<()>>>,
    /// Set when the output is gone (a closed pipe): readers stop early.
    halted: Arc<AtomicBool>,
}

/// What a reader needs to feed the workers: a sender, the buffer pool and the chunk counter.
#[derive(Clone)]
pub struct Feed {
    tx: Sender<Chunk>,
    pool: Receiver<Vec<u8>>,
    seq: Arc<AtomicU64>,
    pub chunk_size: usize,
    /// Readers count the lines of each chunk (for record line numbers).
    pub count_lines: bool,
    halted: Arc<AtomicBool>,
}

impl Feed {
    /// An empty buffer, recycled when one is available.
    pub fn buffer(&self) -> Vec<u8> {
        let mut b = self.pool.try_recv().unwrap_or_default();
        b.clear();
        b.reserve(self.chunk_size);
        b
    }

    /// True once nothing more can be written (the reader of our output went away).
    pub fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// Lines in `data` (a last line without newline counts), when counting is on.
    pub fn lines_in(&self, data: &[u8]) -> u64 {
        if !self.count_lines {
            return 0;
        }
        let n = memchr::memchr_iter(b'\n', data).count() as u64;
        n + u64::from(data.last().is_some_and(|&b| b != b'\n'))
    }

    /// Sends whole lines of `source` to the workers (blocks while they are busy). `first_line`
    /// is the 1-based number of the first line in its input.
    pub fn send(&self, data: Vec<u8>, source: u32, meta: &Arc<SourceMeta>, first_line: u64) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        // Workers only stop when every sender is gone, so this cannot fail while we hold one.
        let _ = self.tx.send(Chunk { data, seq, source, meta: Arc::clone(meta), first_line });
    }

    /// Like [`send`](Self::send) but gives the chunk back when the workers are busy (for async
    /// callers that must not block).
    pub fn try_send(
        &self,
        data: Vec<u8>,
        source: u32,
        meta: &Arc<SourceMeta>,
        first_line: u64,
    ) -> Result<(), Vec<u8>> {
        // A number lost to a full channel leaves a gap, which line numbering tolerates (and live
        // record output does not wait for it).
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.tx
            .try_send(Chunk { data, seq, source, meta: Arc::clone(meta), first_line })
            .map_err(|e| e.into_inner().data)
    }
}

impl Workers {
    pub fn spawn(cfg: &PipelineConfig) -> Workers {
        let threads = cfg.threads.max(1);
        // Each buffer is a chunk (~1 MiB): keep just enough in flight to keep every worker busy.
        let (tx, rx) = bounded::<Chunk>(threads);
        let (pool_tx, pool_rx) = bounded::<Vec<u8>>(threads + 1);
        let mut control = Vec::with_capacity(threads);
        let halted = Arc::new(AtomicBool::new(false));
        // Record output: workers render per chunk, one thread writes (in input order in batch
        // mode; as it comes in live mode, where chunk numbers may have gaps).
        let (rec_tx, writer) = if cfg.records {
            let (t, r) = bounded::<(u64, Vec<u8>)>(threads * 4);
            let ordered = !cfg.windows;
            (Some(t), Some(std::thread::spawn(move || write_records(r, ordered))))
        } else {
            (None, None)
        };
        let handles = (0..threads)
            .map(|i| {
                let rx: Receiver<Chunk> = rx.clone();
                let (ctl_tx, mut ctl_rx) = bounded::<Control>(1);
                control.push(ctl_tx);
                let pool_tx = pool_tx.clone();
                let format = cfg.format.clone();
                let max_clusters = cfg.max_clusters;
                let windows = cfg.windows;
                let rec_tx = rec_tx.clone();
                let halted = Arc::clone(&halted);
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || {
                        let mut decoder = Decoder::new(format);
                        let mut agg = if windows {
                            Aggregate::new_live(max_clusters)
                        } else {
                            Aggregate::new(max_clusters)
                        };
                        loop {
                            select! {
                                recv(rx) -> msg => match msg {
                                    Ok(chunk) => {
                                        match &rec_tx {
                                            None => process_chunk(&mut decoder, &mut agg, &chunk, None),
                                            Some(out) => {
                                                let mut rendered = Vec::with_capacity(chunk.data.len() * 2);
                                                process_chunk(&mut decoder, &mut agg, &chunk, Some(&mut rendered));
                                                if out.send((chunk.seq, rendered)).is_err() {
                                                    halted.store(true, Ordering::Relaxed);
                                                }
                                            }
                                        }
                                        let _ = pool_tx.try_send(chunk.data);
                                    }
                                    Err(_) => break,
                                },
                                recv(ctl_rx) -> msg => match msg {
                                    Ok(Control::Snapshot(reply)) => {
                                        let _ = reply.send(agg.clone());
                                    }
                                    // No more snapshots will be asked for: stop watching.
                                    Err(_) => ctl_rx = crossbeam_channel::never(),
                                },
                            }
                        }
                        agg
                    })
                    .expect("spawn worker thread")
            })
            .collect();
        Workers {
            tx: Some(tx),
            control,
            handles,
            pool: pool_rx,
            seq: Arc::new(AtomicU64::new(0)),
            max_clusters: cfg.max_clusters,
            count_lines: cfg.records,
            writer,
            halted,
        }
    }

    pub fn feed(&self, chunk_size: usize) -> Feed {
        Feed {
            tx: self.tx.clone().expect("workers still running"),
            pool: self.pool.clone(),
            seq: Arc::clone(&self.seq),
            chunk_size,
            count_lines: self.count_lines,
            halted: Arc::clone(&self.halted),
        }
    }

    /// A merged copy of every worker's state, now (chunks still queued are not in it).
    pub fn snapshot(&self) -> Aggregate {
        let (reply_tx, reply_rx) = bounded(self.control.len());
        let asked =
            self.control.iter().filter(|c| c.send(Control::Snapshot(reply_tx.clone())).is_ok()).count();
        drop(reply_tx);
        let mut merged = Aggregate::new(self.max_clusters);
        for agg in reply_rx.iter().take(asked) {
            merged.merge(agg);
        }
        merged
    }

    /// Like [`finish`](Self::finish), also returning how the record writer ended.
    pub fn finish_with_output(mut self) -> (Aggregate, io::Result<()>) {
        let writer = self.writer.take();
        let agg = self.finish();
        let written = writer.map_or(Ok(()), |w| w.join().expect("record writer panicked"));
        (agg, written)
    }

    /// Closes the feed (every `Feed` clone must be gone too), waits for the workers to drain
    /// it, and merges their states.
    pub fn finish(mut self) -> Aggregate {
        self.tx = None;
        self.control.clear();
        let mut merged: Option<Aggregate> = None;
        for h in self.handles.drain(..) {
            let agg = h.join().expect("worker thread panicked");
            match merged.as_mut() {
                None => merged = Some(agg),
                Some(m) => m.merge(agg),
            }
        }
        merged.unwrap_or_else(|| Aggregate::new(self.max_clusters))
    }
}

/// Reads every input, analyses it with `cfg.threads` workers and returns the merged state.
pub fn run(inputs: &[Input], cfg: &PipelineConfig) -> (Aggregate, Vec<InputInfo>) {
    let (agg, infos, _) = run_with_output(inputs, cfg);
    (agg, infos)
}

/// Like [`run`], also returning how record output (`cfg.records`) ended.
pub fn run_with_output(
    inputs: &[Input],
    cfg: &PipelineConfig,
) -> (Aggregate, Vec<InputInfo>, io::Result<()>) {
    let workers = Workers::spawn(cfg);
    let infos = read_inputs(inputs, &workers.feed(cfg.chunk_size));
    let (agg, written) = workers.finish_with_output();
    (agg, infos, written)
}

/// Writes rendered record buffers to stdout, in chunk order when `ordered`. Stops on a write
/// error (a closed pipe) and returns it; workers then find the channel closed.
fn write_records(rx: Receiver<(u64, Vec<u8>)>, ordered: bool) -> io::Result<()> {
    use std::io::Write;
    let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let mut pending: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
    let mut next = 0u64;
    for (seq, buf) in rx {
        if !ordered {
            out.write_all(&buf)?;
            continue;
        }
        pending.insert(seq, buf);
        while let Some(buf) = pending.remove(&next) {
            out.write_all(&buf)?;
            next += 1;
        }
    }
    for buf in pending.into_values() {
        out.write_all(&buf)?;
    }
    out.flush()
}

/// Reads inputs one after the other into `feed`; returns what each one was.
pub fn read_inputs(inputs: &[Input], feed: &Feed) -> Vec<InputInfo> {
    let mut infos: Vec<InputInfo> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let meta = Arc::new(input.meta());
        let error = match input.open() {
            Ok(reader) => read_chunks(reader, i as u32, &meta, feed).err(),
            Err(e) => Some(e),
        };
        infos.push(InputInfo { meta: (*meta).clone(), error: error.map(|e| describe(&e)) });
    }
    infos
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "unexpected end of file (truncated input?)".to_string(),
        _ => e.to_string(),
    }
}

/// Cuts one input into chunks of whole lines. On a read error the data read so far is still
/// sent (the last partial line included) before the error is returned.
fn read_chunks(
    mut reader: Box<dyn Read + Send>,
    source: u32,
    meta: &Arc<SourceMeta>,
    feed: &Feed,
) -> io::Result<()> {
    let chunk_size = feed.chunk_size;
    let mut buf = feed.buffer();
    let mut want = chunk_size;
    let mut line = 1u64;
    let mut send = |data: Vec<u8>| {
        let first = line;
        line += feed.lines_in(&data);
        feed.send(data, source, meta, first);
    };
    loop {
        if feed.halted() {
            return Ok(());
        }
        let eof = match fill(&mut reader, &mut buf, want) {
            Ok(eof) => eof,
            Err(e) => {
                if !buf.is_empty() {
                    send(buf);
                }
                return Err(e);
            }
        };
        if eof {
            if !buf.is_empty() {
                send(buf);
            }
            return Ok(());
        }
        match wrapper::safe_cut(&buf) {
            Some(cut) => {
                let mut next = feed.buffer();
                next.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                send(std::mem::replace(&mut buf, next));
                want = chunk_size;
            }
            None if buf.len() >= MAX_CHUNK => {
                // One enormous line (or fragment run): pass it on whole rather than grow forever.
                let next = feed.buffer();
                send(std::mem::replace(&mut buf, next));
                want = chunk_size;
            }
            None => want = buf.len() + chunk_size,
        }
    }
}

/// Reads until `buf` holds at least `want` bytes; returns true at end of input.
///
/// `read_to_end` on a `Take` reads into the vector's spare capacity without zeroing it first
/// (readers such as `File` and `Stdin` fill uninitialised memory directly).
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    while buf.len() < want {
        let need = want - buf.len();
        buf.reserve(need);
        match reader.take(need as u64).read_to_end(buf) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Summary;

    fn run_on(data: &[u8], threads: usize, chunk_size: usize) -> Summary {
        let dir = std::env::temp_dir().join(format!("envoy-triage-pipeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("x-{}.log", data.len()));
        std::fs::write(&path, data).unwrap();
        let cfg = PipelineConfig { threads, chunk_size, ..PipelineConfig::default() };
        let inputs = vec![Input::Path(path.clone())];
        let (agg, infos) = run(&inputs, &cfg);
        let _ = std::fs::remove_file(&path);
        Summary::build(&agg, &infos)
    }

    const LINE: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 135 4 - "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local - 10.0.45.184:8000 10.44.1.23:46520 - default"#;

    #[test]
    fn small_chunks_and_a_last_line_without_newline() {
        let mut data = Vec::new();
        for i in 0..1000 {
            data.extend_from_slice(LINE.as_bytes());
            data.push(b'\n');
            if i % 7 == 0 {
                data.extend_from_slice(b"garbage line\n\n");
            }
        }
        data.extend_from_slice(LINE.as_bytes());
        let one = run_on(&data, 1, 1000);
        let four = run_on(&data, 4, 777);
        assert_eq!(one.totals.records, 1001);
        assert_eq!(one.totals.malformed, 143);
        assert_eq!(one.totals.skipped, 143);
        assert_eq!(one.totals.lines, 1001 + 286);
        assert_eq!(serde_json::to_string(&one).unwrap(), serde_json::to_string(&four).unwrap());
        assert_eq!(one.malformed_samples[0].line, 2);
    }

    #[test]
    fn fragment_runs_stay_in_one_chunk() {
        let mut data = Vec::new();
        for _ in 0..200 {
            let (a, b) = LINE.split_at(100);
            data.extend_from_slice(format!("2024-05-16T10:06:02.1Z stdout P {a}\n").as_bytes());
            data.extend_from_slice(format!("2024-05-16T10:06:02.2Z stdout F {b}\n").as_bytes());
        }
        let s = run_on(&data, 3, 500);
        assert_eq!(s.totals.records, 200);
        assert_eq!(s.totals.skipped, 200);
        assert_eq!(s.totals.malformed, 0);
    }

    #[test]
    fn an_unfinished_fragment_at_the_end_is_malformed_not_lost() {
        let data = b"2024-05-16T10:06:02.1Z stdout P [2020-11-25T21:26:18.409Z] \"GET /x";
        let s = run_on(data, 1, 1 << 20);
        assert_eq!((s.totals.lines, s.totals.malformed, s.totals.skipped), (1, 1, 0));
    }
}
