//! Batch reading: every input read once, start to end, into the worker pool. A regular file
//! is cut into ranges of whole lines that the workers read themselves ([`FileRange`]); a
//! compressed regular file goes whole to one worker, which decompresses it and shares its
//! chunks with the others (`decompress_job`: N archives decompress on N cores); stdin, pipes
//! and files whose size says 0 (`/proc`) are read here in order and sent as chunks, as are
//! compressed files when record output numbers every line (it writes chunks in the order of
//! their numbers, which a job's reserved block would leave gaps in). Both cut where [`wrapper::safe_cut`] says a line (or a CRI or docker
//! fragment run) ends, so the pool sees the same chunks either way; a run longer than
//! `MAX_CHUNK` is cut after its last whole line. How far it has got is counted in a
//! [`Progress`] (`crate::progress` draws it). [`run`] is batch mode's whole pipeline: spawn the
//! workers, read, merge.
//! Live mode reads with `super::follow` instead.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Input, InputInfo, Opened, SourceMeta};
use crate::aggregate::Aggregate;
use crate::format::wrapper;
use crate::pipeline::{
    BIG_CHUNK, BigPermit, Chunk, Feed, FileRange, Job, MAX_CHUNK, PipelineConfig, RecordOutput, Workers,
    continued_len,
};

/// How far reading has got, for the progress bar (`crate::progress`): bytes of input read or
/// cut into ranges for the workers, as stored (compressed bytes for gzip), and inputs done.
/// Bumped per read, chunk or range, never per line.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes: Arc<AtomicU64>,
    /// Shared with the workers, which finish compressed inputs.
    pub inputs_done: Arc<AtomicU64>,
}

/// Reads every input, analyses it with `cfg.threads` workers and returns the merged state.
/// An error is the workers failing to start; an input that cannot be read is in its info.
pub fn run(inputs: &[Input], cfg: &PipelineConfig) -> io::Result<(Aggregate, Vec<InputInfo>)> {
    run_with_output(inputs, cfg, None, &Progress::default())
}

/// Like [`run`], with every record also pushed into `output` and reading counted in
/// `progress`; an error is also the record output failing.
pub fn run_with_output(
    inputs: &[Input],
    cfg: &PipelineConfig,
    output: Option<Box<dyn RecordOutput>>,
    progress: &Progress,
) -> io::Result<(Aggregate, Vec<InputInfo>)> {
    let workers = Workers::spawn_with_output(cfg, output)?;
    let mut infos = read_inputs(inputs, &workers.feed(cfg.chunk_size), progress);
    let (agg, read_errors, written) = workers.finish_with_output();
    for (source, e) in read_errors {
        if let Some(info) = infos.get_mut(source as usize) {
            info.error.get_or_insert_with(|| describe(&e));
        }
    }
    written?;
    Ok((agg, infos))
}

/// Reads inputs one after the other into `feed`, counting in `progress`; returns what each one
/// was.
pub fn read_inputs(inputs: &[Input], feed: &Feed, progress: &Progress) -> Vec<InputInfo> {
    let mut infos: Vec<InputInfo> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let meta = Arc::new(input.meta());
        // Record output numbers lines as it goes, which needs every byte on one reader, and
        // writes chunks in an unbroken order of numbers (no job's reserved block).
        let bytes = &progress.bytes;
        let opened = if feed.count_lines {
            input.open_counted(bytes).map(Opened::Stream)
        } else {
            match input.open_for_reading(bytes) {
                // One worker: this thread inflates beside it (as fast as two threads can), and
                // the chunks are numbered in order all the same.
                Ok(Opened::Compressed(reader)) if feed.workers == 1 => Ok(Opened::Stream(reader)),
                other => other,
            }
        };
        let error = match opened {
            Ok(Opened::Stream(reader)) => read_chunks(reader, i as u32, &meta, feed).err(),
            // Its read error, if any, comes back from the worker (`Workers::finish_with_output`).
            Ok(Opened::Compressed(reader)) => {
                let done = Arc::clone(&progress.inputs_done);
                feed.send_job(decompress_job(reader, i as u32, Arc::clone(&meta), feed.clone(), done));
                infos.push(InputInfo { meta: (*meta).clone(), error: None });
                continue;
            }
            Ok(Opened::File(file)) => cut_ranges(Arc::new(file), i as u32, &meta, feed, bytes).err(),
            Err(e) => Some(e),
        };
        progress.inputs_done.fetch_add(1, Ordering::Relaxed);
        infos.push(InputInfo { meta: (*meta).clone(), error: error.map(|e| describe(&e)) });
    }
    infos
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof if e.to_string() != super::SHORT_READ => {
            "unexpected end of file (truncated input?)".to_string()
        }
        _ => e.to_string(),
    }
}

/// Cuts one input into chunks of whole lines and sends them to the workers, numbering their
/// lines when the feed counts them. On a read error the data read so far is still sent (the
/// last partial line included) before the error is returned.
fn read_chunks(
    reader: Box<dyn Read + Send>,
    source: u32,
    meta: &Arc<SourceMeta>,
    feed: &Feed,
) -> io::Result<()> {
    let mut line = 1u64;
    cut_chunks(reader, feed, true, |data, continues, permit| {
        let first = line;
        let skip = if continues { continued_len(&data) } else { 0 };
        line += feed.lines_in(&data[skip..]);
        feed.send_cut(data, source, meta, first, continues, permit);
    })
}

/// Chunk numbers reserved for one compressed input (see [`Feed::reserve_seqs`]): 2^32 chunks
/// of a megabyte are 4 PiB, and 2^32 inputs still fit in the count after them.
const SEQS_PER_JOB: u64 = 1 << 32;

/// A compressed input as a job for one worker ([`Feed::send_job`]): the worker decompresses
/// it, cuts it into chunks as [`read_chunks`] does and offers each to the other workers; when
/// their queue is full it processes the chunk itself. One compressed file thus keeps every
/// worker busy parsing while one decompresses, and N files keep N workers decompressing, each
/// never more than a queue's worth ahead of the parsing (it only ever processes its own chunks
/// then, as the queue is full). Never waiting on the queue is what keeps workers that all
/// decompress from waiting on each other. Its chunks are numbered from a block reserved when
/// the job is sent, in input order, so the merge orders them as if the reader had sent them:
/// the output does not depend on which worker decompressed or parsed what.
///
/// A line or fragment run longer than [`BIG_CHUNK`] is processed where it was read, and takes
/// no [`BigPermit`]: a worker waiting for the permit could wait on a chunk queued behind it
/// that only a worker can process. Memory stays bounded all the same: a decompressing worker
/// holds at most one chunk of up to `MAX_CHUNK`.
/// `done` counts the input as done once it is decompressed (the progress bar's file count).
fn decompress_job(
    reader: Box<dyn Read + Send>,
    source: u32,
    meta: Arc<SourceMeta>,
    feed: Feed,
    done: Arc<AtomicU64>,
) -> Job {
    let base = feed.reserve_seqs(SEQS_PER_JOB);
    Box::new(move |here: &mut dyn FnMut(Chunk)| {
        let mut seq = base;
        let mut line = 1u64;
        let read = cut_chunks(reader, &feed, false, |data, continues, _| {
            let first = if feed.count_lines { line } else { 0 };
            let skip = if continues { continued_len(&data) } else { 0 };
            line += feed.lines_in(&data[skip..]);
            let big = data.len() > BIG_CHUNK;
            let meta = Arc::clone(&meta);
            let chunk =
                Chunk { data, range: None, seq, source, meta, first_line: first, continues, permit: None };
            seq += 1;
            if big {
                here(chunk);
            } else if let Err(chunk) = feed.offer(chunk) {
                here(chunk);
            }
        })
        .map_err(|e| (source, e));
        done.fetch_add(1, Ordering::Relaxed);
        read
    })
}

/// Cuts `reader` into chunks of whole lines, each passed to `send` with whether it continues
/// a line cut in the chunk before, and, when `permits` is on, the [`BigPermit`] it holds.
fn cut_chunks(
    mut reader: Box<dyn Read + Send>,
    feed: &Feed,
    permits: bool,
    mut send: impl FnMut(Vec<u8>, bool, Option<BigPermit>),
) -> io::Result<()> {
    let chunk_size = feed.chunk_size;
    let mut buf = feed.buffer();
    let mut want = chunk_size;
    // `buf[..searched]` holds no safe cut (looked at before `buf` grew): only the lines from
    // there on are looked at, so a long fragment run is read through once, not once per chunk
    // size it grew by.
    let mut searched = 0;
    // `buf` starts inside a line cut in the chunk before (see `continued_len`).
    let mut continues = false;
    // Held while `buf` may grow past BIG_CHUNK, then sent with it.
    let mut permit: Option<BigPermit> = None;
    loop {
        if feed.halted() {
            return Ok(());
        }
        let eof = match fill(&mut reader, &mut buf, want) {
            Ok(eof) => eof,
            Err(e) => {
                if !buf.is_empty() {
                    send(buf, continues, permit);
                }
                return Err(e);
            }
        };
        if eof {
            if !buf.is_empty() {
                send(buf, continues, permit);
            }
            return Ok(());
        }
        // No newline since the last look: no line ended, so there is no cut. Without this, one
        // line longer than a chunk was searched from its start again on every growth
        // (quadratic: a 1 GB line on stdin took 150 s in a debug build).
        let found = if memchr::memchr(b'\n', &buf[searched..]).is_some() {
            let from = memchr::memrchr(b'\n', &buf[..searched]).map_or(0, |n| n + 1);
            wrapper::safe_cut(&buf[from..]).map(|cut| from + cut)
        } else {
            None
        };
        searched = 0;
        let cut = match found {
            Some(cut) => cut,
            // A fragment run this long is cut anyway, rather than grow forever: after its last
            // whole line, as a line cut in two would be counted twice. Only one line longer
            // than this is cut inside, and the next chunk says it continues that line.
            None if buf.len() >= MAX_CHUNK => memchr::memrchr(b'\n', &buf).map_or(buf.len(), |n| n + 1),
            None => {
                searched = buf.len();
                want = buf.len() + chunk_size;
                if want > BIG_CHUNK && permit.is_none() && permits {
                    permit = feed.big_permit();
                }
                continue;
            }
        };
        let cut_inside = cut == buf.len() && buf.last() != Some(&b'\n');
        let mut next = feed.buffer();
        next.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        send(std::mem::replace(&mut buf, next), continues, permit.take());
        continues = cut_inside;
        want = chunk_size;
    }
}

/// Cuts a regular file into ranges of whole lines for the workers to read, at the same places
/// [`read_chunks`] would cut it, reading only a few KiB before each cut: the last chunk-size
/// stretch of a range, then more backwards while no safe cut (see [`wrapper::safe_cut`]) is in
/// what was read. The file's size is taken again at its end: data appended meanwhile is read
/// too, and an unfinished last line is not cut off while the file still grows.
/// `sent` counts the bytes of each range sent (the workers read them soon after: the queue is
/// bounded).
fn cut_ranges(
    file: Arc<File>,
    source: u32,
    meta: &Arc<SourceMeta>,
    feed: &Feed,
    sent: &AtomicU64,
) -> io::Result<()> {
    let chunk_size = feed.chunk_size as u64;
    let mut window = Vec::new();
    let mut start = 0u64;
    let mut size = file.metadata()?.len();
    // The next range starts inside a line cut at the end of the one before.
    let mut continues = false;
    let mut send = |start: u64, end: u64, cut_inside: bool| {
        sent.fetch_add(end - start, Ordering::Relaxed);
        let len = (end - start) as usize;
        let permit = if len > BIG_CHUNK { feed.big_permit() } else { None };
        let range = FileRange { file: Arc::clone(&file), start, len };
        feed.send_range(range, source, meta, continues, permit);
        continues = cut_inside;
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
                    cut = Some(Ok(c));
                    break;
                }
                // A fragment run (or one line) this long: cut where `read_chunks` cuts it.
                None if end - start >= MAX_CHUNK as u64 => {
                    cut = Some(last_line_end(&file, start, end, &mut window)?.ok_or(end));
                    break;
                }
                None => {
                    searched = end;
                    end += chunk_size;
                }
            }
        }
        if let Some(cut) = cut {
            // `Err`: inside one line longer than MAX_CHUNK.
            let (at, inside) = match cut {
                Ok(c) => (c, false),
                Err(c) => (c, true),
            };
            send(start, at, inside);
            start = at;
            continue;
        }
        // The end as of now, which `read_chunks` sends whole. If the file has grown meanwhile,
        // only its whole lines go now: an unfinished last line waits for the rest of it.
        let now = file.metadata()?.len();
        if now <= size {
            send(start, size, false);
            start = size;
        } else {
            if let Some(c) = last_safe_cut(&file, start, start, size, &mut window)? {
                send(start, c, false);
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

/// Just after the last newline in `file[start..end]`, read backwards a window at a time;
/// `None` when there is none (one line longer than the stretch).
fn last_line_end(file: &File, start: u64, end: u64, window: &mut Vec<u8>) -> io::Result<Option<u64>> {
    let mut to = end;
    let mut width = CUT_WINDOW;
    while to > start {
        let from = to.saturating_sub(width).max(start);
        let len = (to - from) as usize;
        if window.len() < len {
            window.resize(len, 0);
        }
        let buf = &mut window[..len];
        file.read_exact_at(buf, from)?;
        if let Some(n) = memchr::memrchr(b'\n', buf) {
            return Ok(Some(from + n as u64 + 1));
        }
        to = from;
        width = (width * 4).min(1 << 20);
    }
    Ok(None)
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
    use crossbeam_channel::Receiver;
    use std::path::PathBuf;

    fn run_on(data: &[u8], threads: usize, chunk_size: usize) -> Summary {
        let dir = std::env::temp_dir().join(format!("envoy-triage-pipeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("x-{}.log", data.len()));
        std::fs::write(&path, data).unwrap();
        let cfg = PipelineConfig { threads, chunk_size, ..PipelineConfig::default() };
        let inputs = vec![Input::Path(path.clone())];
        let (agg, infos) = run(&inputs, &cfg).unwrap();
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
        Feed::detached(chunk_size, bound)
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
            cut_ranges(Arc::new(File::open(&path).unwrap()), 0, &meta, &feed, &AtomicU64::new(0)).unwrap();
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
        let cutter = std::thread::spawn(move || cut_ranges(file, 0, &meta, &feed, &AtomicU64::new(0)));
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

    /// A file truncated after it was cut into ranges and before the workers read them (up to
    /// `RANGES_AHEAD` wait in the queue): the reads that end early say so. They once returned
    /// what they got, and the run ended with 0 and no word of the lost lines.
    #[test]
    fn a_file_cut_before_its_ranges_are_read_is_an_error() {
        let data = fragmented_log(200);
        let path = temp_file("truncated.log", &data);
        let (feed, _chunks, ranges) = test_feed(1000, 1 << 16);
        let file = Arc::new(File::open(&path).unwrap());
        cut_ranges(file, 0, &Arc::new(SourceMeta::default()), &feed, &AtomicU64::new(0)).unwrap();
        drop(feed);
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(data.len() as u64 / 3).unwrap();
        let (mut read, mut errors) = (0, Vec::new());
        for c in ranges.iter() {
            let mut buf = Vec::new();
            let (n, err) = c.range.unwrap().read_into(&mut buf);
            read += n;
            errors.extend(err);
        }
        assert_eq!(read, data.len() / 3);
        assert!(!errors.is_empty(), "a third of the file read, and no error");
        assert!(errors.iter().all(|e| e.to_string() == crate::source::SHORT_READ), "{errors:?}");
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
                let workers = Workers::spawn(&cfg).unwrap();
                let progress = Progress::default();
                let infos = read_inputs(&[Input::Path(path.clone())], &workers.feed(chunk_size), &progress);
                assert_eq!(progress.bytes.load(Ordering::Relaxed), data.len() as u64);
                Summary::build(&workers.finish(), &infos)
            };
            let streamed = {
                let workers = Workers::spawn(&cfg).unwrap();
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

    /// A compressed input is decompressed by a worker, which shares its chunks with the others
    /// or, when their queue is full, processes them itself: the summary is the plain file's,
    /// malformed line numbers included, whatever the chunk size and thread count.
    #[test]
    fn a_compressed_input_read_by_a_worker_gives_the_plain_files_summary() {
        use std::io::Write;
        let mut data = fragmented_log(500);
        for _ in 0..3000 {
            data.extend_from_slice(LINE.as_bytes());
            data.push(b'\n');
        }
        let plain = temp_file("job.log", &data);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gzipped = temp_file("job.log.gz", &gz.finish().unwrap());
        for (threads, chunk_size) in [(1, 777), (3, 4096), (2, 1 << 20), (4, 1000)] {
            let cfg = PipelineConfig { threads, chunk_size, ..PipelineConfig::default() };
            let summary = |path: &PathBuf| {
                let progress = Progress::default();
                let (agg, mut infos) =
                    run_with_output(&[Input::Path(path.clone())], &cfg, None, &progress).unwrap();
                assert!(infos[0].error.is_none(), "{:?}", infos[0].error);
                // The progress bar's count: bytes as stored, the file once done.
                let stored = std::fs::metadata(path).unwrap().len();
                assert_eq!(progress.bytes.load(Ordering::Relaxed), stored);
                assert_eq!(progress.inputs_done.load(Ordering::Relaxed), 1);
                infos[0].meta.name = "x".into();
                Summary::build(&agg, &infos)
            };
            let (want, got) = (summary(&plain), summary(&gzipped));
            // The samples cite line numbers, which the plain file's ranges have right.
            assert!(!got.malformed_samples.is_empty());
            assert_eq!(serde_json::to_string(&got).unwrap(), serde_json::to_string(&want).unwrap());
        }
        let _ = std::fs::remove_file(&plain);
        let _ = std::fs::remove_file(&gzipped);
    }

    /// A docker json-file run longer than MAX_CHUNK (16 KiB pieces, as docker splits), then a
    /// record.
    fn overlong_docker_run() -> Vec<u8> {
        let piece = "A".repeat(16 << 10);
        let mut data = Vec::with_capacity(MAX_CHUNK + (4 << 20));
        while data.len() < MAX_CHUNK + (3 << 20) {
            data.extend_from_slice(
                format!(r#"{{"log":"{piece}","stream":"stdout","time":"2024-01-01T00:00:00Z"}}"#).as_bytes(),
            );
            data.push(b'\n');
        }
        data.extend_from_slice(
            format!(r#"{{"log":"{piece}\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}}"#).as_bytes(),
        );
        data.push(b'\n');
        data.extend_from_slice(LINE.as_bytes());
        data.push(b'\n');
        data
    }

    /// A fragment run too long for one chunk is cut between its lines, at the same place in a
    /// file's ranges as in a stream's chunks: a line cut in two was counted as two lines.
    #[test]
    fn an_overlong_fragment_run_is_cut_between_lines_and_every_line_counted() {
        let data = overlong_docker_run();
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
        let path = temp_file("overlong.log", &data);
        // Large chunks: fewer rescans of the run while it grows (slow in a debug build).
        let chunk_size = 16 << 20;
        let (feed, chunks, ranges) = test_feed(chunk_size, 1 << 16);
        let meta = Arc::new(SourceMeta::default());
        read_chunks(Box::new(File::open(&path).unwrap()), 0, &meta, &feed).unwrap();
        cut_ranges(Arc::new(File::open(&path).unwrap()), 0, &meta, &feed, &AtomicU64::new(0)).unwrap();
        drop(feed);
        let read: Vec<Vec<u8>> = chunks.iter().map(|c| c.data).collect();
        let cut: Vec<(u64, usize)> =
            ranges.iter().map(|c| c.range.map(|r| (r.start, r.len)).unwrap()).collect();
        assert!(read.len() > 1);
        assert_eq!(read.concat(), data);
        let mut at = 0;
        for (chunk, &(start, len)) in read.iter().zip(&cut) {
            assert_eq!(chunk.last(), Some(&b'\n'), "a chunk ends inside a line");
            assert_eq!((start, len), (at as u64, chunk.len()), "a range differs from its chunk");
            at += chunk.len();
        }
        assert_eq!(cut.len(), read.len());
        let s = run_on(&data, 2, chunk_size);
        assert_eq!(s.totals.lines, lines);
        assert_eq!(s.totals.records, 1);
        // The run's lines in the first chunk never complete: malformed, not lost.
        assert!(s.totals.malformed_by_kind.get("truncated") > 0, "{:?}", s.totals.malformed_by_kind);
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
