//! The worker pool: readers (`crate::source`) cut inputs into ~1 MiB chunks of whole lines
//! and send them through a [`Feed`]; each worker owns a [`Decoder`], an [`Aggregate`] and, when
//! a per-record output is on, a [`RecordSink`] it pushes every record into (ripgrep's `Sink`:
//! the pool never knows an output's format). Aggregates merge when the input ends, or are
//! cloned on request for a live tick (`Workers::snapshot`). Records never cross threads, only
//! byte buffers do (recycled through a second channel), or, for a regular file, just the place
//! of a chunk ([`FileRange`]), which the worker reads itself, or a whole compressed input (a
//! [`Job`]), which one worker decompresses, sharing its chunks with the others. Batch mode
//! (`crate::source::batch`) and live mode (`crate::live`, `crate::source::follow`) feed the
//! same pool. Output does not depend on the thread count (see `crate::aggregate` on
//! determinism), nor on how an input was read: ranges are cut where the streaming reader cuts
//! its chunks.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, select};

use crate::aggregate::{Aggregate, Position, Shared};
use crate::classify::{self, Classification, Reporter};
use crate::filter::Filter;
use crate::format::{Common, Decoded, Decoder, FormatChoice};
use crate::record::Record;
use crate::source::SourceMeta;

/// Default chunk size.
pub const CHUNK_SIZE: usize = 1 << 20;
/// A run of fragments (or one line) longer than this is cut anyway.
pub const MAX_CHUNK: usize = 64 << 20;
/// A chunk longer than this (made by a line or fragment run longer than a chunk) holds a
/// [`BigPermit`] from its reading to the end of its processing, and its buffer is not kept.
pub const BIG_CHUNK: usize = 4 * CHUNK_SIZE;

/// Chunks longer than [`BIG_CHUNK`] are read, queued and processed one at a time: each worker
/// could otherwise hold one of up to [`MAX_CHUNK`] (a 1 GB line at `-j 16`: 563 MiB; at `-j 2`:
/// 136 MiB). The reader waits for the permit before it reads (or cuts) past `BIG_CHUNK`; the
/// worker gives it back once it has dropped the buffer.
#[derive(Debug, Default)]
pub struct BigChunks {
    taken: Mutex<bool>,
    freed: Condvar,
}

/// The right to hold a chunk longer than [`BIG_CHUNK`]; given back when dropped.
#[derive(Debug)]
pub struct BigPermit(Arc<BigChunks>);

impl BigChunks {
    fn take(self: &Arc<Self>) -> BigPermit {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        while *taken {
            taken = self.freed.wait(taken).unwrap_or_else(|p| p.into_inner());
        }
        *taken = true;
        BigPermit(Arc::clone(self))
    }
}

impl Drop for BigPermit {
    fn drop(&mut self) {
        *self.0.taken.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.freed.notify_one();
    }
}

/// Bytes at the start of a chunk that `continues` a line cut inside (one longer than
/// [`MAX_CHUNK`]): up to and including its first newline. That line was counted in the chunk
/// before, so one physical line stays one line however many chunks it spans.
pub fn continued_len(data: &[u8]) -> usize {
    memchr::memchr(b'\n', data).map_or(data.len(), |n| n + 1)
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub threads: usize,
    pub format: FormatChoice,
    pub max_clusters: usize,
    pub chunk_size: usize,
    /// Keep sliding windows (live mode).
    pub windows: bool,
    /// Keep failures by cause over the log's time (`crate::aggregate::timeline`; `-o html`).
    pub timeline: bool,
    /// Which records to analyse (`None`: all, and nothing is checked per record).
    pub filter: Option<Arc<Filter>>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            format: FormatChoice::Auto,
            max_clusters: 10_000,
            chunk_size: CHUNK_SIZE,
            windows: false,
            timeline: false,
            filter: None,
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
    /// The chunk starts inside a line the chunk before was cut in (see [`continued_len`]).
    pub continues: bool,
    /// Held while the chunk is longer than [`BIG_CHUNK`].
    pub permit: Option<BigPermit>,
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
    /// was read, with an error when that is less than `len`: the read's, or
    /// `source::short_read` when the file ended first (it was truncated meanwhile).
    pub fn read_into(&self, buf: &mut Vec<u8>) -> (usize, Option<io::Error>) {
        if buf.len() < self.len {
            buf.resize(self.len, 0);
        }
        let mut done = 0;
        while done < self.len {
            match self.file.read_at(&mut buf[done..self.len], self.start + done as u64) {
                Ok(0) => return (done, Some(crate::source::short_read())),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (done, Some(e)),
            }
        }
        (done, None)
    }
}

/// Where each record goes besides the worker's aggregate: a per-record output
/// (`--output records`) implements it. Each worker owns one.
pub trait RecordSink: Send {
    /// One record, with who logged it and, if it failed, its classification.
    fn record(
        &mut self,
        rec: &Record<'_>,
        at: RecordAt<'_>,
        reporter: Reporter,
        verdict: Option<&Classification>,
    );
    /// Every record of chunk `seq` has been pushed. False when the output is gone (a closed
    /// pipe): the readers then stop early.
    fn chunk_done(&mut self, seq: u64) -> bool;
}

/// Where a record was read.
#[derive(Debug, Clone, Copy)]
pub struct RecordAt<'a> {
    /// The input's name, as the report shows it.
    pub input: &'a str,
    /// 1-based line number in the input (counted by the reader: see [`Feed::lines_in`]).
    pub line: u64,
    /// What the input's path says (kubelet paths: namespace, pod, container).
    pub source: &'a SourceMeta,
}

impl<'a> RecordAt<'a> {
    /// Namespace, pod and container of the proxy that logged `rec`: what its wrapper (kubectl
    /// `--prefix`, stern, Loki labels) said, else what the kubelet log path says.
    pub fn pod_fields<'x>(&self, rec: &Record<'x>) -> [Option<&'x [u8]>; 3]
    where
        'a: 'x,
    {
        let s = self.source;
        [
            rec.meta.namespace.or(s.namespace.as_deref()),
            rec.meta.pod.or(s.pod.as_deref()),
            rec.meta.container.or(s.container.as_deref()),
        ]
    }
}

/// A per-record output: a [`RecordSink`] for each worker, and whatever writes what they made.
pub trait RecordOutput: Send {
    fn sink(&self) -> Box<dyn RecordSink>;
    /// Called once every sink is gone: waits until everything is written and returns the first
    /// write error.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Decodes and aggregates one chunk, pushing each record into `sink` when there is one. A
/// record `filter` refuses is only counted (`Aggregate::filtered_out`): not aggregated, not
/// pushed.
pub fn process_chunk(
    decoder: &mut Decoder,
    agg: &mut Aggregate,
    chunk: &Chunk,
    data: &[u8],
    filter: Option<&Filter>,
    mut sink: Option<&mut dyn RecordSink>,
) {
    let meta = &*chunk.meta;
    let data = if chunk.continues { &data[continued_len(data)..] } else { data };
    if let Some(live) = agg.live.as_deref_mut() {
        live.arrival_ms = now_ms();
    }
    let mut line_no: u32 = 0;
    // Kept from line to line (see `Decoder::read_common`).
    let mut common = Common::default();
    let mut handle = |start: usize, end: usize, line_no: u32| {
        let line = &data[start..end];
        let pos = Position { chunk: chunk.seq, line: line_no };
        let mut other;
        let rec = match decoder.read_common(line, &mut common) {
            Some(rec) => rec,
            None => {
                // The record is built in place (see `Decoder::decode_into`).
                other = Record::default();
                match decoder.decode_uncommon(line, &mut other) {
                    Decoded::Record => &other,
                    Decoded::Skipped(reason) => return agg.add_skipped(reason),
                    Decoded::Malformed(err) => {
                        let number = if chunk.first_line > 0 { chunk.first_line + line_no as u64 } else { 0 };
                        return agg.add_malformed(err, line, pos, chunk.source, number);
                    }
                }
            }
        };
        let (reporter, verdict) = match filter {
            None => agg.add_record(rec, pos, meta),
            Some(f) => {
                if !f.admits(rec, meta) {
                    agg.filtered_out += 1;
                    return;
                }
                let reporter = classify::reporter(rec, meta.pod.as_deref());
                let verdict = classify::classify(rec, reporter);
                if f.needs_verdict() && !f.admits_verdict(reporter, verdict.as_ref()) {
                    agg.filtered_out += 1;
                    return;
                }
                agg.add_classified(rec, pos, meta, reporter, verdict)
            }
        };
        if let Some(sink) = sink.as_mut() {
            let at = RecordAt { input: &meta.name, line: chunk.first_line + line_no as u64, source: meta };
            sink.record(rec, at, reporter, verdict.as_ref());
        }
    };
    crate::scan::for_each_line(data, |start, end| {
        handle(start, end, line_no);
        line_no += 1;
    });
    let dangling = decoder.discard_pending();
    if dangling > 0 {
        agg.unterminated_fragments(dangling);
    }
    agg.count_chunk(chunk.seq, chunk.source, line_no as u64, chunk.first_line);
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Caps glibc's malloc arenas at two. By default every thread that allocates gets an arena of its
/// own (up to 8 per core), and memory freed in one is never reused by another: a worker that
/// merges a spilled state (see `aggregate::Shared`) grows its arena to the size of the whole
/// capped state, so with many workers each held a copy's worth (1e5 distinct clusters: 81 MB
/// at `-j 1`, 259 MB at `-j 16`; with two arenas, 112 MB). The workers allocate almost
/// nothing per chunk, so they do not contend for it.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets a malloc parameter; called before the workers start.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        });
    }
}

/// File ranges queued ahead of the workers.
const RANGES_AHEAD: usize = 64;

/// A compressed input for one worker to decompress (see [`Feed::send_job`]). It is called
/// with what processes a chunk on the worker itself; it returns the input's read error, if
/// any, with the input's number.
pub type Job = Box<dyn FnOnce(&mut dyn FnMut(Chunk)) -> Result<(), (u32, io::Error)> + Send>;

/// One worker thread's state: it owns its decoder, aggregate and read buffer.
struct Worker {
    decoder: Decoder,
    agg: Aggregate,
    /// Where this worker reads its file ranges; kept between chunks.
    own: Vec<u8>,
    /// Buffers of read chunks go back here for the reader to reuse.
    pool: Sender<Vec<u8>>,
    /// Per-record output, when on.
    sink: Option<Box<dyn RecordSink>>,
    filter: Option<Arc<Filter>>,
    halted: Arc<AtomicBool>,
    read_errors: Arc<Mutex<Vec<(u32, io::Error)>>>,
}

impl Worker {
    /// Takes chunks, ranges and jobs until every feed is closed; answers snapshot requests
    /// between chunks. Returns the aggregate.
    fn run(
        mut self,
        mut data: Receiver<Chunk>,
        mut ranges: Receiver<Chunk>,
        mut jobs: Receiver<Job>,
        mut ctl: Receiver<Control>,
    ) -> Aggregate {
        let mut open = 3;
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
                recv(jobs) -> msg => match msg {
                    Ok(job) => {
                        if let Err((source, e)) = job(&mut |chunk| self.handle(chunk)) {
                            record_read_error(&self.read_errors, source, e);
                        }
                    }
                    Err(_) => {
                        jobs = crossbeam_channel::never();
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

    fn handle(&mut self, mut chunk: Chunk) {
        let data = match &chunk.range {
            None => chunk.data.as_slice(),
            Some(range) => {
                let (n, err) = range.read_into(&mut self.own);
                if let Some(e) = err {
                    record_read_error(&self.read_errors, chunk.source, e);
                }
                &self.own[..n]
            }
        };
        match self.sink.as_deref_mut() {
            None => {
                process_chunk(&mut self.decoder, &mut self.agg, &chunk, data, self.filter.as_deref(), None)
            }
            Some(sink) => {
                let filter = self.filter.as_deref();
                process_chunk(&mut self.decoder, &mut self.agg, &chunk, data, filter, Some(&mut *sink));
                if !sink.chunk_done(chunk.seq) {
                    self.halted.store(true, Ordering::Relaxed);
                }
            }
        }
        // A giant line or fragment run was read: do not hold on to its buffer (recycled, its
        // pages would stay resident), and only then let the next one be read.
        let permit = chunk.permit.take();
        if chunk.range.is_none() {
            let data = std::mem::take(&mut chunk.data);
            if data.capacity() <= BIG_CHUNK {
                let _ = self.pool.try_send(data);
            }
        } else if self.own.len() > BIG_CHUNK {
            self.own = Vec::new();
        }
        drop(permit);
    }
}

/// Keeps the first read error of each input.
fn record_read_error(errors: &Mutex<Vec<(u32, io::Error)>>, source: u32, e: io::Error) {
    let mut errors = errors.lock().unwrap_or_else(|p| p.into_inner());
    if !errors.iter().any(|(s, _)| *s == source) {
        errors.push((source, e));
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
    job_tx: Option<Sender<Job>>,
    control: Vec<Sender<Control>>,
    handles: Vec<JoinHandle<Aggregate>>,
    /// The workers' shared state: cuts and spilled states (see `aggregate::Shared`).
    shared: Arc<Shared>,
    pool: Receiver<Vec<u8>>,
    /// The first read error of each input whose ranges the workers read: (source, error).
    read_errors: Arc<Mutex<Vec<(u32, io::Error)>>>,
    seq: Arc<AtomicU64>,
    max_clusters: usize,
    count_lines: bool,
    output: Option<Box<dyn RecordOutput>>,
    /// Set when the output is gone (a closed pipe): readers stop early.
    halted: Arc<AtomicBool>,
    big: Arc<BigChunks>,
}

/// What a reader needs to feed the workers: a sender, the buffer pool and the chunk counter.
#[derive(Clone)]
pub struct Feed {
    tx: Sender<Chunk>,
    range_tx: Sender<Chunk>,
    job_tx: Sender<Job>,
    pool: Receiver<Vec<u8>>,
    seq: Arc<AtomicU64>,
    pub chunk_size: usize,
    /// Readers count the lines of each chunk (for record line numbers).
    pub count_lines: bool,
    /// Workers in the pool. With one, a reader that inflates an archive itself keeps a second
    /// thread busy, where handing it to the worker would leave one thread doing both.
    pub workers: usize,
    halted: Arc<AtomicBool>,
    /// `None` for a detached feed, whose chunks nobody processes.
    big: Option<Arc<BigChunks>>,
}

impl Feed {
    /// A feed whose chunks and ranges a test takes itself: (feed, chunks, ranges); `bound`
    /// ranges may wait.
    #[cfg(test)]
    pub(crate) fn detached(chunk_size: usize, bound: usize) -> (Feed, Receiver<Chunk>, Receiver<Chunk>) {
        let (tx, rx) = bounded(1 << 16);
        let (range_tx, range_rx) = bounded(bound);
        let (_, pool) = bounded(1);
        let (job_tx, _) = bounded(0);
        let feed = Feed {
            tx,
            range_tx,
            job_tx,
            pool,
            seq: Arc::new(AtomicU64::new(0)),
            chunk_size,
            count_lines: false,
            workers: 2,
            halted: Arc::new(AtomicBool::new(false)),
            big: None,
        };
        (feed, rx, range_rx)
    }

    /// An empty buffer, recycled when one is available.
    pub fn buffer(&self) -> Vec<u8> {
        let mut b = self.pool.try_recv().unwrap_or_default();
        b.clear();
        b.reserve(self.chunk_size);
        b
    }

    /// Waits until no other chunk longer than [`BIG_CHUNK`] is held, and takes the permit to
    /// hold one (`None` from a detached feed).
    pub fn big_permit(&self) -> Option<BigPermit> {
        self.big.as_ref().map(|b| b.take())
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
    /// is the 1-based number of the first line in its input (dropped unless lines are counted).
    pub fn send(&self, data: Vec<u8>, source: u32, meta: &Arc<SourceMeta>, first_line: u64) {
        self.send_cut(data, source, meta, first_line, false, None);
    }

    /// Like [`send`](Self::send), for a chunk that may continue a line cut inside, or hold a
    /// permit.
    pub fn send_cut(
        &self,
        data: Vec<u8>,
        source: u32,
        meta: &Arc<SourceMeta>,
        first_line: u64,
        continues: bool,
        permit: Option<BigPermit>,
    ) {
        let first_line = if self.count_lines { first_line } else { 0 };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let meta = Arc::clone(meta);
        // Workers only stop when every sender is gone, so this cannot fail while we hold one.
        let _ = self.tx.send(Chunk { data, range: None, seq, source, meta, first_line, continues, permit });
    }

    /// Sends a range of a regular file, which a worker reads itself (see [`FileRange`]).
    pub fn send_range(
        &self,
        range: FileRange,
        source: u32,
        meta: &Arc<SourceMeta>,
        continues: bool,
        permit: Option<BigPermit>,
    ) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let chunk = Chunk {
            data: Vec::new(),
            range: Some(range),
            seq,
            source,
            meta: Arc::clone(meta),
            first_line: 0,
            continues,
            permit,
        };
        let _ = self.range_tx.send(chunk);
    }

    /// Reserves `n` chunk numbers, in order after every chunk sent so far, and returns the
    /// first: a job numbers its chunks from there, wherever they are processed, so the merge
    /// orders them as if one reader had sent them in turn.
    pub fn reserve_seqs(&self, n: u64) -> u64 {
        self.seq.fetch_add(n, Ordering::Relaxed)
    }

    /// Hands a compressed input to a worker, which decompresses it itself (blocks while every
    /// worker is busy and one job waits).
    pub fn send_job(&self, job: Job) {
        let _ = self.job_tx.send(job);
    }

    /// Queues a chunk for any worker if there is room, else gives it back (a worker that is
    /// decompressing then processes it itself: it must never wait on a queue that only the
    /// workers drain).
    pub fn offer(&self, chunk: Chunk) -> Result<(), Chunk> {
        self.tx.try_send(chunk).map_err(|e| e.into_inner())
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
        let first_line = if self.count_lines { first_line } else { 0 };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.tx
            .try_send(Chunk {
                data,
                range: None,
                seq,
                source,
                meta: Arc::clone(meta),
                first_line,
                continues: false,
                permit: None,
            })
            .map_err(|e| e.into_inner().data)
    }
}

impl Workers {
    pub fn spawn(cfg: &PipelineConfig) -> io::Result<Workers> {
        Workers::spawn_with_output(cfg, None)
    }

    /// Spawns the workers, each pushing its records into a sink of `output` when there is one.
    /// A thread the system refuses (a process or memory limit) is an error that says so; the
    /// workers already started then end on their own.
    pub fn spawn_with_output(
        cfg: &PipelineConfig,
        output: Option<Box<dyn RecordOutput>>,
    ) -> io::Result<Workers> {
        let threads = cfg.threads.max(1);
        limit_malloc_arenas();
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
        // A waiting job holds an open input and its decoder's buffers: one is enough for a
        // worker to find it ready as soon as it is free.
        let (job_tx, job_rx) = bounded::<Job>(1);
        let (pool_tx, pool_rx) = bounded::<Vec<u8>>(depth + 1);
        let mut control = Vec::with_capacity(threads);
        let halted = Arc::new(AtomicBool::new(false));
        let read_errors = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared::new(threads));
        // On an error, the threads that did start are detached with their handles; with every
        // sender gone (dropped on return) they find their queues closed and end on their own.
        let handles = (0..threads)
            .map(|i| {
                let (ctl_tx, ctl_rx) = bounded::<Control>(1);
                control.push(ctl_tx);
                let worker = Worker {
                    decoder: Decoder::new(cfg.format.clone()),
                    agg: {
                        let mut a = if cfg.windows {
                            Aggregate::new_live(cfg.max_clusters)
                        } else {
                            Aggregate::new(cfg.max_clusters)
                        };
                        a.timeline = cfg.timeline.then(Box::default);
                        a.sharing(Arc::clone(&shared))
                    },
                    own: Vec::new(),
                    pool: pool_tx.clone(),
                    sink: output.as_ref().map(|o| o.sink()),
                    filter: cfg.filter.clone(),
                    halted: Arc::clone(&halted),
                    read_errors: Arc::clone(&read_errors),
                };
                let (rx, range_rx, job_rx) = (rx.clone(), range_rx.clone(), job_rx.clone());
                std::thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || worker.run(rx, range_rx, job_rx, ctl_rx))
                    .map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!(
                                "cannot start worker thread {} of {threads} (try a lower --threads): {e}",
                                i + 1
                            ),
                        )
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Workers {
            tx: Some(tx),
            range_tx: Some(range_tx),
            job_tx: Some(job_tx),
            control,
            handles,
            pool: pool_rx,
            read_errors,
            shared,
            seq: Arc::new(AtomicU64::new(0)),
            max_clusters: cfg.max_clusters,
            // Record line numbers need every line counted as it is read.
            // So do live runs: their chunks are small and many, and numbered lines spare the
            // aggregate a list of them (`Aggregate::count_chunk`).
            count_lines: output.is_some() || cfg.windows,
            output,
            halted,
            big: Arc::default(),
        })
    }

    pub fn feed(&self, chunk_size: usize) -> Feed {
        Feed {
            tx: self.tx.clone().expect("workers still running"),
            range_tx: self.range_tx.clone().expect("workers still running"),
            job_tx: self.job_tx.clone().expect("workers still running"),
            pool: self.pool.clone(),
            seq: Arc::clone(&self.seq),
            chunk_size,
            count_lines: self.count_lines,
            workers: self.control.len(),
            halted: Arc::clone(&self.halted),
            big: Some(Arc::clone(&self.big)),
        }
    }

    /// A merged copy of every worker's state, now (chunks still queued are not in it).
    pub fn snapshot(&self) -> Aggregate {
        let (reply_tx, reply_rx) = bounded(self.control.len());
        let asked =
            self.control.iter().filter(|c| c.send(Control::Snapshot(reply_tx.clone())).is_ok()).count();
        drop(reply_tx);
        let mut merged = self.shared.copy().unwrap_or_else(|| self.empty());
        for agg in reply_rx.iter().take(asked) {
            merged.merge(agg);
        }
        merged.prune();
        merged
    }

    /// Like [`finish`](Self::finish), also returning the first read error of each input whose
    /// ranges the workers read, `(source, error)`, and how the record output ended.
    pub fn finish_with_output(mut self) -> (Aggregate, Vec<(u32, io::Error)>, io::Result<()>) {
        let output = self.output.take();
        let read_errors = Arc::clone(&self.read_errors);
        // The workers' sinks are dropped with them, before the output finishes.
        let agg = self.finish();
        let written = output.map_or(Ok(()), |o| o.finish());
        let read_errors = std::mem::take(&mut *read_errors.lock().unwrap_or_else(|p| p.into_inner()));
        (agg, read_errors, written)
    }

    /// Closes the feed (every `Feed` clone must be gone too), waits for the workers to drain
    /// it, and merges their states.
    pub fn finish(mut self) -> Aggregate {
        self.tx = None;
        self.range_tx = None;
        self.job_tx = None;
        self.control.clear();
        // Joined first: a worker may spill until it ends.
        let own: Vec<Aggregate> =
            self.handles.drain(..).map(|h| h.join().expect("worker thread panicked")).collect();
        let mut merged: Option<Aggregate> = self.shared.take();
        for agg in own {
            match merged.as_mut() {
                None => merged = Some(agg),
                Some(m) => m.merge(agg),
            }
        }
        let mut merged = merged.unwrap_or_else(|| self.empty());
        merged.prune();
        merged
    }

    /// An empty state of this run.
    fn empty(&self) -> Aggregate {
        Aggregate::new(self.max_clusters).sharing(Arc::clone(&self.shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Cause;

    /// What a test sink saw: (input, line, status, cause) per record, and the chunks done.
    #[derive(Default)]
    struct Seen {
        records: Vec<(String, u64, Option<u16>, Option<Cause>)>,
        chunks: Vec<u64>,
    }

    struct TestOutput(Arc<Mutex<Seen>>);

    struct TestSink(Arc<Mutex<Seen>>);

    impl RecordSink for TestSink {
        fn record(
            &mut self,
            rec: &Record<'_>,
            at: RecordAt<'_>,
            _reporter: Reporter,
            verdict: Option<&Classification>,
        ) {
            let row = (at.input.to_string(), at.line, rec.response_code, verdict.map(|v| v.cause));
            self.0.lock().unwrap().records.push(row);
        }

        fn chunk_done(&mut self, seq: u64) -> bool {
            self.0.lock().unwrap().chunks.push(seq);
            true
        }
    }

    impl RecordOutput for TestOutput {
        fn sink(&self) -> Box<dyn RecordSink> {
            Box::new(TestSink(Arc::clone(&self.0)))
        }

        fn finish(self: Box<Self>) -> io::Result<()> {
            Ok(())
        }
    }

    const OK: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/200 HTTP/1.1" 200 - via_upstream - "-" 0 135 4 3 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;
    const REFUSED: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 135 4 - "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local - 10.0.45.184:8000 10.44.1.23:46520 - default"#;

    #[test]
    fn every_record_reaches_the_sink_once_with_its_line_number() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let cfg = PipelineConfig { threads: 3, chunk_size: 1000, ..PipelineConfig::default() };
        let workers =
            Workers::spawn_with_output(&cfg, Some(Box::new(TestOutput(Arc::clone(&seen))))).unwrap();
        let feed = workers.feed(cfg.chunk_size);
        assert!(feed.count_lines, "a sink needs line numbers");
        let meta = Arc::new(SourceMeta { name: "a.log".into(), ..SourceMeta::default() });
        // Chunks of whole lines, as a reader sends them: a record, a non-record, a failure.
        let mut line = 1;
        for _ in 0..50 {
            let data = format!("{OK}\nnot an access log line\n{REFUSED}\n").into_bytes();
            let first = line;
            line += feed.lines_in(&data);
            feed.send(data, 0, &meta, first);
        }
        drop(feed);
        let (agg, _, written) = workers.finish_with_output();
        written.unwrap();
        let mut seen = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(agg.records, 100);
        seen.records.sort_by_key(|r| r.1);
        assert_eq!(seen.records.len(), 100);
        for (k, pair) in seen.records.chunks(2).enumerate() {
            let base = 3 * k as u64 + 1;
            assert_eq!(pair[0], ("a.log".to_string(), base, Some(200), None));
            assert_eq!(pair[1], ("a.log".to_string(), base + 2, Some(503), Some(Cause::ConnectionRefused)));
        }
        seen.chunks.sort_unstable();
        assert_eq!(seen.chunks, (0..50).collect::<Vec<u64>>());
    }

    #[test]
    fn live_chunks_are_numbered_and_leave_no_list_behind() {
        // Live mode: 5,000 small chunks, as polls of a followed file send them. Their lines are
        // numbered by the reader, so the state keeps a count per input, not an entry per chunk.
        let cfg = PipelineConfig { threads: 2, windows: true, ..PipelineConfig::default() };
        let workers = Workers::spawn(&cfg).unwrap();
        let feed = workers.feed(1000);
        assert!(feed.count_lines, "live runs number lines");
        let meta = Arc::new(SourceMeta { name: "a.log".into(), ..SourceMeta::default() });
        let mut line = 1;
        for i in 0..5_000 {
            let data =
                if i == 4_321 { format!("{OK}\n\"GET /\" x\n") } else { format!("{OK}\n") }.into_bytes();
            let first = line;
            line += feed.lines_in(&data);
            feed.send(data, 0, &meta, first);
        }
        drop(feed);
        let agg = workers.finish();
        assert!(agg.chunk_lines.is_empty(), "{} chunks listed", agg.chunk_lines.len());
        assert_eq!(agg.lines_by_source().get(&0), Some(&5_001));
        let sample = &agg.malformed_samples.iter().next().expect("a malformed sample").1;
        assert_eq!(sample.line, 4_323);
    }
}
