//! The pipeline: readers cut inputs into ~1 MiB chunks of whole lines for a [`Workers`] pool;
//! each worker owns a [`Decoder`] and an [`Aggregate`]; aggregates merge when the input ends, or
//! are cloned on request for a live tick (`Workers::snapshot`). Records never cross threads,
//! only byte buffers do (recycled through a second channel), or, for a regular file, just the
//! place of a chunk ([`FileRange`]), which the worker reads itself. Batch mode ([`run`]) reads
//! inputs here; live mode (`crate::live`, `crate::follow`) feeds the same pool from tokio tasks.
//! Output does not depend on the thread count (see `crate::aggregate` on determinism), nor on
//! how an input was read: ranges are cut where the streaming reader cuts its chunks.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, select};

use crate::aggregate::{Aggregate, Position, SourceMeta};
use crate::format::{Decoded, Decoder, FormatChoice, wrapper};
use crate::record::Record;
use crate::source::{Input, Opened};
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

/// Whole lines of one input: the bytes themselves, or where to read them.
pub struct Chunk {
    /// The lines, when the reader read them (empty for a `range`).
    pub data: Vec<u8>,
    /// Lines of a regular file that the worker reads itself (see [`FileRange`]).
    pub range: Option<FileRange>,
    pub seq: u64,
    pub source: u32,
    pub meta: Arc<SourceMeta>,
    /// 1-based number of the chunk's first line in its input (0 when not counted).
    pub first_line: u64,
}

/// `len` bytes of a regular file from `start`, cut at a line boundary by the reader. The
/// worker reads them with `pread`: getting a file out of the page cache costs about a sixth of
/// the CPU of parsing it, and this way every worker copies its own chunks, in parallel, instead
/// of one reader thread copying everything, sharing the cores with the workers and leaving
/// them waiting whenever it was not scheduled in time.
pub struct FileRange {
    pub file: Arc<File>,
    pub start: u64,
    pub len: usize,
}

impl FileRange {
    /// Reads the range into `buf` (grown and zeroed only when too small) and returns how much
    /// was read: less than `len` when the file was truncated meanwhile, and on an error, what
    /// was read before it.
    fn read_into(&self, buf: &mut Vec<u8>) -> (usize, Option<io::Error>) {
        if buf.len() < self.len {
            buf.resize(self.len, 0);
        }
        let mut done = 0;
        while done < self.len {
            match self.file.read_at(&mut buf[done..self.len], self.start + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (done, Some(e)),
            }
        }
        (done, None)
    }
}

/// Decodes and aggregates one chunk; with `records`, also renders each record as a JSON line.
pub fn process_chunk(
    decoder: &mut Decoder,
    agg: &mut Aggregate,
    chunk: &Chunk,
    data: &[u8],
    mut records: Option<&mut Vec<u8>>,
) {
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

/// File ranges queued ahead of the workers.
const RANGES_AHEAD: usize = 64;

/// One worker thread's state: it owns its decoder, aggregate and read buffer.
struct Worker {
    decoder: Decoder,
    agg: Aggregate,
    /// Where this worker reads its file ranges; kept between chunks.
    own: Vec<u8>,
    /// Buffers of read chunks go back here for the reader to reuse.
    pool: Sender<Vec<u8>>,
    /// Rendered record output (`--output records`), per chunk.
    records: Option<Sender<(u64, Vec<u8>)>>,
    halted: Arc<AtomicBool>,
    read_errors: Arc<Mutex<Vec<(u32, io::Error)>>>,
}

impl Worker {
    /// Takes chunks and ranges until both feeds are closed; answers snapshot requests between
    /// chunks. Returns the aggregate.
    fn run(
        mut self,
        mut data: Receiver<Chunk>,
        mut ranges: Receiver<Chunk>,
        mut ctl: Receiver<Control>,
    ) -> Aggregate {
        let mut open = 2;
        loop {
            select! {
                recv(data) -> msg => match msg {
                    Ok(chunk) => self.handle(chunk),
                    Err(_) => {
                        data = crossbeam_channel::never();
                        open -= 1;
                    }
                },
                recv(ranges) -> msg => match msg {
                    Ok(chunk) => self.handle(chunk),
                    Err(_) => {
                        ranges = crossbeam_channel::never();
                        open -= 1;
                    }
                },
                recv(ctl) -> msg => match msg {
                    Ok(Control::Snapshot(reply)) => {
                        let _ = reply.send(self.agg.clone());
                    }
                    // No more snapshots will be asked for: stop watching.
                    Err(_) => ctl = crossbeam_channel::never(),
                },
            }
            if open == 0 {
                return self.agg;
            }
        }
    }

    fn handle(&mut self, chunk: Chunk) {
        let data = match &chunk.range {
            None => chunk.data.as_slice(),
            Some(range) => {
                let (n, err) = range.read_into(&mut self.own);
                if let Some(e) = err {
                    let mut errors = self.read_errors.lock().unwrap_or_else(|p| p.into_inner());
                    if !errors.iter().any(|(s, _)| *s == chunk.source) {
                        errors.push((chunk.source, e));
                    }
                }
                &self.own[..n]
            }
        };
        match &self.records {
            None => process_chunk(&mut self.decoder, &mut self.agg, &chunk, data, None),
            Some(out) => {
                let mut rendered = Vec::with_capacity(data.len() * 2);
                process_chunk(&mut self.decoder, &mut self.agg, &chunk, data, Some(&mut rendered));
                if out.send((chunk.seq, rendered)).is_err() {
                    self.halted.store(true, Ordering::Relaxed);
                }
            }
        }
        if chunk.range.is_none() {
            let _ = self.pool.try_send(chunk.data);
        } else if self.own.len() > 4 * CHUNK_SIZE {
            // A giant line or fragment run was read: do not hold on to its buffer.
            self.own = Vec::new();
        }
    }
}

/// A request to one worker.
enum Control {
    /// Send a copy of your aggregate.
    Snapshot(Sender<Aggregate>),
}

/// The worker threads, the channel that feeds them, and the buffer pool.
pub struct Workers {
    tx: Option<Sender<Chunk>>,
    range_tx: Option<Sender<Chunk>>,
    control: Vec<Sender<Control>>,
    handles: Vec<JoinHandle<Aggregate>>,
    pool: Receiver<Vec<u8>>,
    /// The first read error of each input whose ranges the workers read: (source, error).
    read_errors: Arc<Mutex<Vec<(u32, io::Error)>>>,
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
    range_tx: Sender<Chunk>,
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
        let _ = self.tx.send(Chunk { data, range: None, seq, source, meta: Arc::clone(meta), first_line });
    }

    /// Sends a range of a regular file, which a worker reads itself (see [`FileRange`]).
    pub fn send_range(&self, range: FileRange, source: u32, meta: &Arc<SourceMeta>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let chunk = Chunk {
            data: Vec::new(),
            range: Some(range),
            seq,
            source,
            meta: Arc::clone(meta),
            first_line: 0,
        };
        let _ = self.range_tx.send(chunk);
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
            .try_send(Chunk { data, range: None, seq, source, meta: Arc::clone(meta), first_line })
            .map_err(|e| e.into_inner().data)
    }
}

impl Workers {
    pub fn spawn(cfg: &PipelineConfig) -> Workers {
        let threads = cfg.threads.max(1);
        // Each buffer is a chunk (~1 MiB): keep just enough in flight to keep every worker busy.
        // One waiting per worker was not: the reader shares the cores with the workers, and
        // when it was not scheduled in time they waited (stdin from a file, 2 workers: 0.389 s →
        // 0.355 s median wall per GB with two per worker; four per worker gained nothing more).
        // The slack is for the reader's scheduling delay, not per worker: at most 8 more, so
        // that many cores do not mean many megabytes waiting.
        let depth = threads + threads.min(8);
        let (tx, rx) = bounded::<Chunk>(depth);
        // A file range holds no data: many can wait, so that a worker finds one ready even when
        // the reader (woken for every one taken) has not been scheduled since.
        let (range_tx, range_rx) = bounded::<Chunk>(RANGES_AHEAD);
        let (pool_tx, pool_rx) = bounded::<Vec<u8>>(depth + 1);
        let mut control = Vec::with_capacity(threads);
        let halted = Arc::new(AtomicBool::new(false));
        let read_errors = Arc::new(Mutex::new(Vec::new()));
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
                let (ctl_tx, ctl_rx) = bounded::<Control>(1);
                control.push(ctl_tx);
                let worker = Worker {
                    decoder: Decoder::new(cfg.format.clone()),
                    agg: if cfg.windows {
                        Aggregate::new_live(cfg.max_clusters)
                    } else {
                        Aggregate::new(cfg.max_clusters)
                    },
                    own: Vec::new(),
                    pool: pool_tx.clone(),
                    records: rec_tx.clone(),
                    halted: Arc::clone(&halted),
                    read_errors: Arc::clone(&read_errors),
                };
                let (rx, range_rx) = (rx.clone(), range_rx.clone());
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || worker.run(rx, range_rx, ctl_rx))
                    .expect("spawn worker thread")
            })
            .collect();
        Workers {
            tx: Some(tx),
            range_tx: Some(range_tx),
            control,
            handles,
            pool: pool_rx,
            read_errors,
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
            range_tx: self.range_tx.clone().expect("workers still running"),
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
        self.range_tx = None;
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
    let mut infos = read_inputs(inputs, &workers.feed(cfg.chunk_size));
    let read_errors = Arc::clone(&workers.read_errors);
    let (agg, written) = workers.finish_with_output();
    for (source, e) in read_errors.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
        if let Some(info) = infos.get_mut(source as usize) {
            info.error.get_or_insert_with(|| describe(&e));
        }
    }
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
        // Record output numbers lines as it goes, which needs every byte on one reader.
        let opened =
            if feed.count_lines { input.open().map(Opened::Stream) } else { input.open_for_reading() };
        let error = match opened {
            Ok(Opened::Stream(reader)) => read_chunks(reader, i as u32, &meta, feed).err(),
            Ok(Opened::File(file)) => cut_ranges(Arc::new(file), i as u32, &meta, feed).err(),
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

/// Cuts a regular file into ranges of whole lines for the workers to read, at the same places
/// [`read_chunks`] would cut it, reading only a few KiB before each cut: the last chunk-size
/// stretch of a range, then more backwards while no safe cut (see [`wrapper::safe_cut`]) is in
/// what was read. The file's size is taken again at its end: data appended meanwhile is read
/// too, and an unfinished last line is not cut off while the file still grows.
fn cut_ranges(file: Arc<File>, source: u32, meta: &Arc<SourceMeta>, feed: &Feed) -> io::Result<()> {
    let chunk_size = feed.chunk_size as u64;
    let mut window = Vec::new();
    let mut start = 0u64;
    let mut size = file.metadata()?.len();
    let send = |start: u64, end: u64| {
        let range = FileRange { file: Arc::clone(&file), start, len: (end - start) as usize };
        feed.send_range(range, source, meta);
    };
    // No `halted` check here, unlike `read_chunks`: only record output halts, and it never
    // reads by ranges.
    while start < size {
        // The first safe cut in the last chunk-size stretch of [start, end), growing `end` a
        // chunk at a time while there is none (as `read_chunks` grows its buffer).
        let mut end = start + chunk_size;
        let mut cut = None;
        // [start, searched) holds no safe cut: a longer stretch is only searched past it.
        let mut searched = start;
        while end <= size {
            match last_safe_cut(&file, start, searched, end, &mut window)? {
                Some(c) => {
                    cut = Some(c);
                    break;
                }
                // One enormous line (or fragment run): pass it on whole rather than grow forever.
                None if end - start >= MAX_CHUNK as u64 => {
                    cut = Some(end);
                    break;
                }
                None => {
                    searched = end;
                    end += chunk_size;
                }
            }
        }
        if let Some(cut) = cut {
            send(start, cut);
            start = cut;
            continue;
        }
        // The end as of now, which `read_chunks` sends whole. If the file has grown meanwhile,
        // only its whole lines go now: an unfinished last line waits for the rest of it.
        let now = file.metadata()?.len();
        if now <= size {
            send(start, size);
            start = size;
        } else {
            if let Some(c) = last_safe_cut(&file, start, start, size, &mut window)? {
                send(start, c);
                start = c;
            }
            size = now;
        }
    }
    Ok(())
}

/// The end of the last whole line (or fragment run) in `file[start..end]`, where `start` begins
/// a line: what `wrapper::safe_cut` finds in those bytes, found by reading backwards from
/// `end` in growing windows. `floor` says that `file[start..floor]` holds no safe cut (a
/// shorter stretch searched before), so the search stops once it has read back past it: one
/// enormous line costs a read of each stretch once, not of everything before it again.
fn last_safe_cut(
    file: &File,
    start: u64,
    floor: u64,
    end: u64,
    window: &mut Vec<u8>,
) -> io::Result<Option<u64>> {
    last_safe_cut_from(file, start, floor, end, window, CUT_WINDOW)
}

/// What is read first before a cut: a few lines (tests pass smaller widths).
const CUT_WINDOW: u64 = 16 << 10;

fn last_safe_cut_from(
    file: &File,
    start: u64,
    floor: u64,
    end: u64,
    window: &mut Vec<u8>,
    first_width: u64,
) -> io::Result<Option<u64>> {
    let mut width = first_width.max(1);
    loop {
        let from = end.saturating_sub(width).max(start);
        let len = (end - from) as usize;
        if window.len() < len {
            window.resize(len, 0);
        }
        let buf = &mut window[..len];
        file.read_exact_at(buf, from)?;
        // Lines are only whole from the first newline on, unless the window reaches `start`.
        let skip = if from == start { Some(0) } else { memchr::memchr(b'\n', buf).map(|n| n + 1) };
        match skip {
            Some(skip) => {
                if let Some(cut) = wrapper::safe_cut(&buf[skip..]) {
                    return Ok(Some(from + (skip + cut) as u64));
                }
                // Every newline from the line start `from + skip` on was looked at, and below
                // `floor` there is none that ends a whole record.
                if from + skip as u64 <= floor {
                    return Ok(None);
                }
            }
            // No newline from `from` on, and none that ends a whole record below `floor`.
            None if from <= floor => return Ok(None),
            None => {}
        }
        if from == start {
            return Ok(None);
        }
        width *= 4;
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
    use std::path::PathBuf;

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

    /// Lines with CRI fragment runs (`P` … `F`) and long lines, for the cutting tests.
    fn fragmented_log(runs: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..runs {
            let parts = 1 + i % 4;
            let body = LINE.repeat(1 + i % 3);
            let step = body.len().div_ceil(parts);
            for (k, piece) in body.as_bytes().chunks(step).enumerate() {
                let tag = if k + 1 == parts { 'F' } else { 'P' };
                data.extend_from_slice(format!("2024-05-16T10:06:02.{i}Z stdout {tag} ").as_bytes());
                data.extend_from_slice(piece);
                data.push(b'\n');
            }
            if i % 5 == 0 {
                data.extend_from_slice(b"plain line\n");
            }
        }
        data
    }

    fn temp_file(name: &str, data: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("envoy-triage-cut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    /// A feed whose chunks and ranges the test takes itself: (feed, chunks, ranges).
    fn test_feed(chunk_size: usize, bound: usize) -> (Feed, Receiver<Chunk>, Receiver<Chunk>) {
        let (tx, rx) = bounded(1 << 16);
        let (range_tx, range_rx) = bounded(bound);
        let (_, pool) = bounded(1);
        let feed = Feed {
            tx,
            range_tx,
            pool,
            seq: Arc::new(AtomicU64::new(0)),
            chunk_size,
            count_lines: false,
            halted: Arc::new(AtomicBool::new(false)),
        };
        (feed, rx, range_rx)
    }

    #[test]
    fn a_cut_read_backwards_in_windows_is_the_cut_of_the_whole_stretch() {
        let data = fragmented_log(60);
        let path = temp_file("windows.log", &data);
        let file = File::open(&path).unwrap();
        let starts: Vec<usize> =
            std::iter::once(0).chain(memchr::memchr_iter(b'\n', &data).map(|n| n + 1)).step_by(3).collect();
        let mut window = Vec::new();
        let mut checked = 0;
        for &start in &starts {
            // As `cut_ranges` uses it: a longer stretch after a shorter one without a cut.
            let mut floor = start;
            for end in (start + 1..=data.len()).step_by(97).chain([data.len()]) {
                let want = wrapper::safe_cut(&data[start..end]).map(|c| (start + c) as u64);
                for width in [1, 40, 300, 5000] {
                    for floor in [start, floor] {
                        let (s, f, e) = (start as u64, floor as u64, end as u64);
                        let got = last_safe_cut_from(&file, s, f, e, &mut window, width).unwrap();
                        assert_eq!(got, want, "start {start} floor {floor} end {end} width {width}");
                        checked += 1;
                    }
                }
                if want.is_none() {
                    floor = end;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn file_ranges_are_cut_where_the_reader_cuts_its_chunks() {
        let data = fragmented_log(300);
        let path = temp_file("ranges.log", &data);
        for chunk_size in [100, 1000, 4096, 1 << 20] {
            let (feed, chunks, ranges) = test_feed(chunk_size, 1 << 16);
            let meta = Arc::new(SourceMeta::default());
            read_chunks(Box::new(File::open(&path).unwrap()), 0, &meta, &feed).unwrap();
            cut_ranges(Arc::new(File::open(&path).unwrap()), 0, &meta, &feed).unwrap();
            drop(feed);
            let read: Vec<Vec<u8>> = chunks.iter().map(|c| c.data).collect();
            let cut: Vec<Vec<u8>> = ranges
                .iter()
                .map(|c| {
                    let mut buf = Vec::new();
                    let r = c.range.unwrap();
                    let (n, err) = r.read_into(&mut buf);
                    assert!(err.is_none());
                    buf.truncate(n);
                    buf
                })
                .collect();
            assert_eq!(read.concat(), data);
            assert_eq!(cut.len(), read.len(), "chunk size {chunk_size}");
            assert!(cut == read, "chunk size {chunk_size}: the ranges differ from the chunks");
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_file_that_grows_while_cut_is_read_whole_and_its_unfinished_line_is_not_split() {
        // The file ends inside a line being written when the cutting starts.
        let mut first = fragmented_log(40);
        first.extend_from_slice(b"[2020-11-25T21:26:18.409Z] \"GET /half");
        let path = temp_file("growing.log", &first);
        // The cutter waits on the test for each range (a rendezvous channel), so the rest of
        // the line arrives after the size was first taken and before the end is reached.
        let (feed, _chunks, ranges) = test_feed(1000, 0);
        let file = Arc::new(File::open(&path).unwrap());
        let meta = Arc::new(SourceMeta::default());
        let cutter = std::thread::spawn(move || cut_ranges(file, 0, &meta, &feed));
        let mut got = Vec::new();
        let mut pieces = Vec::new();
        for (i, c) in ranges.iter().enumerate() {
            if i == 0 {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                f.write_all(b" HTTP/1.1\" 200\n").unwrap();
                f.write_all(LINE.as_bytes()).unwrap();
                f.write_all(b"\n").unwrap();
            }
            let mut buf = Vec::new();
            let (n, _) = c.range.unwrap().read_into(&mut buf);
            buf.truncate(n);
            got.extend_from_slice(&buf);
            pieces.push(buf);
        }
        cutter.join().unwrap().unwrap();
        assert_eq!(got, std::fs::read(&path).unwrap());
        assert!(pieces.len() > 10);
        for p in &pieces {
            assert_eq!(p.last(), Some(&b'\n'), "a range ends inside a line");
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn ranged_and_streamed_reading_give_the_same_summary() {
        let mut data = fragmented_log(500);
        for i in 0..3000 {
            data.extend_from_slice(
                LINE.replace("503 UF", if i % 3 == 0 { "200 -" } else { "503 UF" }).as_bytes(),
            );
            data.push(b'\n');
        }
        let path = temp_file("same.log", &data);
        for (threads, chunk_size) in [(1, 777), (3, 4096), (2, 1 << 20)] {
            let cfg = PipelineConfig { threads, chunk_size, ..PipelineConfig::default() };
            let ranged = {
                let workers = Workers::spawn(&cfg);
                let infos = read_inputs(&[Input::Path(path.clone())], &workers.feed(chunk_size));
                Summary::build(&workers.finish(), &infos)
            };
            let streamed = {
                let workers = Workers::spawn(&cfg);
                let feed = workers.feed(chunk_size);
                let meta = Arc::new(Input::Path(path.clone()).meta());
                read_chunks(Box::new(File::open(&path).unwrap()), 0, &meta, &feed).unwrap();
                drop(feed);
                let infos = vec![InputInfo { meta: (*meta).clone(), error: None }];
                Summary::build(&workers.finish(), &infos)
            };
            assert_eq!(ranged.totals.records, 500 + 3000);
            assert_eq!(serde_json::to_string(&ranged).unwrap(), serde_json::to_string(&streamed).unwrap());
        }
        let _ = std::fs::remove_file(&path);
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
