//! Live sources on tokio: `--follow` tailers that behave like `tail -F` (start at the end,
//! survive rename rotation and copytruncate, wait for files that do not exist yet, pick up new
//! files matching a glob), and a streaming stdin reader (`kubectl logs -f | envoy-triage`).
//! A named pipe (`mkfifo`) is read as a stream from whoever writes it next. A stop (SIGINT,
//! SIGTERM) ends every read within a chunk, even of a file that never ends (`/dev/zero`).
//! Both cut whole lines (never inside a CRI `P` run, see `format::wrapper::safe_cut`) and feed
//! the same worker pool as batch mode through a [`Feed`]. `crate::live` drives them;
//! `super::batch` is the batch counterpart.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::{Input, InputInfo, SourceMeta};
use crate::format::wrapper;
use crate::pipeline::{Feed, MAX_CHUNK};

/// How often files are polled for new data and rotation.
pub const POLL: Duration = Duration::from_millis(100);
/// How often patterns are re-expanded for new files.
pub const DISCOVER: Duration = Duration::from_millis(1000);
/// What a file may still give once the run is stopping: what was written since the last poll
/// (at 100k lines/s, a few MiB), but not the rest of a file that never ends (`/dev/zero`) or of
/// a large file read `--from-start`, which would hold the final report back.
const LAST_LOOK: u64 = 16 << 20;

/// Inputs seen so far, for the report (tailers register themselves).
pub type Registry = Arc<Mutex<Vec<InputInfo>>>;

/// Sends without blocking the async runtime: retries while the workers are busy.
async fn send(feed: &Feed, mut data: Vec<u8>, source: u32, meta: &Arc<SourceMeta>, line: &mut u64) {
    let first = *line;
    *line += feed.lines_in(&data);
    loop {
        if feed.halted() {
            return;
        }
        match feed.try_send(data, source, meta, first) {
            Ok(()) => return,
            Err(back) => {
                data = back;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
}

/// Sends the complete lines in `carry` (keeping an unfinished line or fragment run).
async fn send_lines(feed: &Feed, carry: &mut Vec<u8>, source: u32, meta: &Arc<SourceMeta>, line: &mut u64) {
    let cut = match wrapper::safe_cut(carry) {
        Some(cut) => cut,
        // Cut anyway, after the last whole line (see `batch::read_chunks`).
        None if carry.len() >= MAX_CHUNK => memchr::memrchr(b'\n', carry).map_or(carry.len(), |n| n + 1),
        None => return,
    };
    let mut out = feed.buffer();
    out.extend_from_slice(&carry[..cut]);
    carry.drain(..cut);
    send(feed, out, source, meta, line).await;
}

/// Sends whatever is left, complete or not (end of input, or the old file of a rotation).
async fn flush(feed: &Feed, carry: &mut Vec<u8>, source: u32, meta: &Arc<SourceMeta>, line: &mut u64) {
    if !carry.is_empty() {
        let mut out = feed.buffer();
        out.append(carry);
        send(feed, out, source, meta, line).await;
    }
}

/// Streams stdin until it ends or `stop` is set.
pub async fn read_stdin(feed: Feed, registry: Registry, mut stop: watch::Receiver<bool>) {
    let meta = Arc::new(Input::Stdin.meta());
    let source = register(&registry, &meta);
    let mut stdin = tokio::io::stdin();
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut line = 1u64;
    loop {
        let n = tokio::select! {
            r = stdin.read(&mut buf) => r,
            _ = stop.changed() => break,
        };
        match n {
            Ok(0) => break,
            Ok(n) => {
                carry.extend_from_slice(&buf[..n]);
                send_lines(&feed, &mut carry, source, &meta, &mut line).await;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                set_error(&registry, source, &e);
                break;
            }
        }
    }
    flush(&feed, &mut carry, source, &meta, &mut line).await;
}

fn register(registry: &Registry, meta: &Arc<SourceMeta>) -> u32 {
    let mut r = registry.lock().expect("registry lock");
    r.push(InputInfo { meta: (**meta).clone(), error: None });
    (r.len() - 1) as u32
}

fn set_error(registry: &Registry, source: u32, e: &io::Error) {
    if let Some(info) = registry.lock().expect("registry lock").get_mut(source as usize) {
        info.error = Some(e.to_string());
    }
}

/// Expands a pattern: glob metacharacters are expanded, anything else is one path (which may
/// not exist yet).
fn expand(pattern: &str) -> Vec<PathBuf> {
    if pattern.contains(['*', '?', '[']) {
        glob::glob(pattern).map(|paths| paths.flatten().filter(|p| p.is_file()).collect()).unwrap_or_default()
    } else {
        vec![PathBuf::from(pattern)]
    }
}

/// Tails every file the patterns name, now and later, until `stop` is set.
pub async fn follow_files(
    patterns: Vec<String>,
    from_start: bool,
    feed: Feed,
    registry: Registry,
    stop: watch::Receiver<bool>,
) {
    let mut known: HashSet<PathBuf> = HashSet::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut first_round = true;
    let mut stop_watch = stop.clone();
    loop {
        for pattern in &patterns {
            for path in expand(pattern) {
                if known.insert(path.clone()) {
                    // Files there when we start are followed from their end (unless
                    // --from-start); files that appear later are new, so from their start.
                    let at_end = first_round && !from_start && path.exists();
                    if std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
                        tasks.spawn(follow_fifo(path, feed.clone(), registry.clone(), stop.clone()));
                        continue;
                    }
                    let tail = Tail::new(path, at_end, &registry, stop.clone());
                    tasks.spawn(tail.run(feed.clone(), registry.clone()));
                }
            }
        }
        first_round = false;
        tokio::select! {
            _ = tokio::time::sleep(DISCOVER) => {}
            _ = stop_watch.changed() => break,
        }
    }
    drop(feed);
    while tasks.join_next().await.is_some() {}
}

/// One followed path.
struct Tail {
    path: PathBuf,
    file: Option<File>,
    /// (device, inode) of the open file: a different one under the path means rotation.
    id: (u64, u64),
    offset: u64,
    at_end: bool,
    carry: Vec<u8>,
    source: u32,
    meta: Arc<SourceMeta>,
    /// Number of the next line to send (counted across rotations: one followed name).
    line: u64,
    /// Set when the run stops: reads end early (see [`LAST_LOOK`]).
    stop: watch::Receiver<bool>,
}

impl Tail {
    fn new(path: PathBuf, at_end: bool, registry: &Registry, stop: watch::Receiver<bool>) -> Tail {
        let meta = Arc::new(Input::Path(path.clone()).meta());
        let source = register(registry, &meta);
        Tail {
            path,
            file: None,
            id: (0, 0),
            offset: 0,
            at_end,
            carry: Vec::new(),
            source,
            meta,
            line: 1,
            stop,
        }
    }

    async fn run(mut self, feed: Feed, registry: Registry) {
        let mut stop = self.stop.clone();
        loop {
            if let Err(e) = self.poll(&feed).await {
                set_error(&registry, self.source, &e);
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => break,
            }
        }
        // Last look before the final report: read what was written, keep nothing back.
        let _ = self.poll(&feed).await;
        flush(&feed, &mut self.carry, self.source, &self.meta, &mut self.line).await;
    }

    async fn poll(&mut self, feed: &Feed) -> io::Result<()> {
        if self.file.is_none() {
            let Ok(file) = File::open(&self.path) else {
                return Ok(()); // not there (yet): wait for it
            };
            let md = file.metadata()?;
            self.id = (md.dev(), md.ino());
            self.offset = if self.at_end { md.len() } else { 0 };
            self.at_end = false;
            self.file = Some(file);
        }
        self.read_available(feed).await?;
        match std::fs::metadata(&self.path) {
            Ok(md) if (md.dev(), md.ino()) != self.id => {
                // Rename rotation: a new file under the name. Finish the old one first.
                self.read_available(feed).await?;
                flush(feed, &mut self.carry, self.source, &self.meta, &mut self.line).await;
                self.file = None;
                self.offset = 0;
            }
            Ok(md) if md.len() < self.offset => {
                // copytruncate: the file was emptied in place. Start over from its beginning.
                flush(feed, &mut self.carry, self.source, &self.meta, &mut self.line).await;
                self.offset = 0;
                self.read_available(feed).await?;
            }
            // Gone without a successor yet (between rename and create): keep the old file.
            _ => {}
        }
        Ok(())
    }

    async fn read_available(&mut self, feed: &Feed) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut read = 0u64;
        loop {
            let want = feed.chunk_size.max(64 * 1024);
            let before = self.carry.len();
            let n = file.by_ref().take(want as u64).read_to_end(&mut self.carry)?;
            debug_assert_eq!(self.carry.len(), before + n);
            self.offset += n as u64;
            if n == 0 {
                break;
            }
            send_lines(feed, &mut self.carry, self.source, &self.meta, &mut self.line).await;
            read += n as u64;
            if n < want {
                break;
            }
            if *self.stop.borrow() && read >= LAST_LOOK {
                // Stopped inside the file: the unfinished line is left unread with the rest,
                // not counted as a malformed one.
                self.offset -= self.carry.len() as u64;
                self.carry.clear();
                break;
            }
        }
        Ok(())
    }
}

/// Follows a named pipe: read as a stream (no seek, no rotation). When its writer closes, what
/// it left is a whole line, and the pipe is opened again to wait for the next writer, as
/// `tail -F` waits for a file to come back. Opened without blocking (a blocking open waits for
/// a writer and no stop can interrupt it), so a stop ends the wait at once.
async fn follow_fifo(path: PathBuf, feed: Feed, registry: Registry, mut stop: watch::Receiver<bool>) {
    let meta = Arc::new(Input::Path(path.clone()).meta());
    let source = register(&registry, &meta);
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut line = 1u64;
    'open: loop {
        let mut pipe = match tokio::net::unix::pipe::OpenOptions::new().open_receiver(&path) {
            Ok(pipe) => pipe,
            Err(e) => {
                set_error(&registry, source, &e);
                break;
            }
        };
        loop {
            let n = tokio::select! {
                r = pipe.read(&mut buf) => r,
                _ = stop.changed() => break 'open,
            };
            match n {
                Ok(0) => {
                    flush(&feed, &mut carry, source, &meta, &mut line).await;
                    continue 'open;
                }
                Ok(n) => {
                    carry.extend_from_slice(&buf[..n]);
                    send_lines(&feed, &mut carry, source, &meta, &mut line).await;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    set_error(&registry, source, &e);
                    break 'open;
                }
            }
        }
    }
    flush(&feed, &mut carry, source, &meta, &mut line).await;
}
