//! Live sources on tokio: `--follow` tailers that behave like `tail -F` and a node agent, and a
//! streaming stdin reader (`kubectl logs -f | envoy-triage`). Followed files start at their end
//! (new ones at their start); a file is one file by (device, inode), however many paths or
//! patterns reach it, so kubelet's renamed generations are never read twice and compressed ones
//! (by name or first bytes) never read as text; a file no path reaches any more (renamed away,
//! deleted) is read until it has been idle for [`IDLE`], then closed; copytruncate is told by size
//! and by first bytes; a file that cannot be opened (other than "not there yet") is said once and
//! retried. Reads are woken by inotify (the `notify` crate), with polling as the fallback.
//! A named pipe (`mkfifo`) is read as a stream from whoever writes it next. A stop (SIGINT,
//! SIGTERM) ends every read within a chunk, even of a file that never ends (`/dev/zero`).
//! Both cut whole lines (never inside a CRI `P` run, see `format::wrapper::safe_cut`) and feed
//! the same worker pool as batch mode through a [`Feed`]. `crate::live` drives them;
//! `super::batch` is the batch counterpart.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::{Compression, Input, InputInfo, SourceMeta};
use crate::escape::escape_controls;
use crate::format::wrapper;
use crate::pipeline::{Feed, MAX_CHUNK};

/// How often open files are read for new data, and, without kernel notifications, every one of them.
pub const POLL: Duration = Duration::from_millis(100);
/// How often patterns are re-expanded for new files and every followed path is looked at.
pub const DISCOVER: Duration = Duration::from_millis(1000);
/// What a file may still give once the run is stopping: what was written since the last poll
/// (at 100k lines/s, a few MiB), but not the rest of a file that never ends (`/dev/zero`) or of
/// a large file read `--from-start`, which would hold the final report back.
const LAST_LOOK: u64 = 16 << 20;
/// With kernel notifications, how often every open file is read all the same (a safety net for
/// events that never come: network filesystems, a full event queue).
pub const SAFETY: Duration = Duration::from_millis(1000);
/// How long a file no followed path reaches any more (renamed away, deleted) is still read after
/// its last new byte: a writer that has not reopened yet still appends to it.
pub const IDLE: Duration = Duration::from_secs(5);
/// The first bytes of a file remembered to tell it was rewritten from its start (copytruncate
/// followed by more writes than were there before) from a file that grew.
const HEAD: usize = 512;
/// Files closed while still on disk (rotated out of the patterns), remembered so that one found
/// again (a later pattern match, a rename back) resumes where it was instead of being read again.
const RETIRED: usize = 4096;
/// Inputs named apart in the report. A node agent meets new files with every pod for weeks; past
/// this many, new ones share one entry (their records still carry their own path's namespace and
/// pod), so the inputs list, and each worker's line count per input, stay bounded.
pub const MAX_NAMED_INPUTS: usize = 4096;
/// How long a path no pattern reaches keeps its input: a rotation (rename, then a new file under
/// the old name) takes far less, so the new file is the same input; a pod deleted is forgotten.
const FORGET: Duration = Duration::from_secs(60);

/// Inputs seen so far, for the report (tailers register themselves).
pub type Registry = Arc<Mutex<Vec<InputInfo>>>;

/// What the live sources are doing, for the exporter (`crate::metrics`).
#[derive(Debug, Default)]
pub struct FollowStats {
    /// Bytes read from every file, pipe and stdin since the start.
    pub bytes_read: AtomicU64,
    /// Files open now.
    pub files: AtomicU64,
    /// Bytes the open files held past what was read, at their last read.
    pub lag_bytes: AtomicU64,
}

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
pub async fn read_stdin(
    feed: Feed,
    registry: Registry,
    stats: Arc<FollowStats>,
    mut stop: watch::Receiver<bool>,
) {
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
                stats.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
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
    if r.len() < MAX_NAMED_INPUTS {
        r.push(InputInfo { meta: (**meta).clone(), error: None });
        return (r.len() - 1) as u32;
    }
    if r.len() == MAX_NAMED_INPUTS {
        let name = format!("(files after the first {MAX_NAMED_INPUTS})");
        r.push(InputInfo { meta: SourceMeta { name, ..SourceMeta::default() }, error: None });
    }
    MAX_NAMED_INPUTS as u32
}

fn set_error(registry: &Registry, source: u32, e: &io::Error) {
    if let Some(info) = registry.lock().expect("registry lock").get_mut(source as usize) {
        info.error = Some(e.to_string());
    }
}

/// What makes a file one file, whatever paths reach it: (device, inode).
type Id = (u64, u64);

/// Expands a pattern: glob metacharacters are expanded, anything else is one path (which may
/// not exist yet). Directories the glob could not read come back as errors.
fn expand(pattern: &str, errors: &mut Vec<(PathBuf, io::Error)>) -> Vec<PathBuf> {
    if !is_glob(pattern) {
        return vec![PathBuf::from(pattern)];
    }
    let Ok(paths) = glob::glob(pattern) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in paths {
        match entry {
            // Whether it is a file is seen by the caller's one look at it.
            Ok(p) => out.push(p),
            // A directory not there (yet) is like a file not there yet.
            Err(e) if e.error().kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let path = e.path().to_path_buf();
                errors.push((path, e.into()));
            }
        }
    }
    out
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Rotated history by its name (kubelet's `0.log.20241201-120000.gz` and its `.gz.tmp` while it
/// is written, logrotate's `.1.gz`, …); content is checked too (`Compression::of`).
fn compressed_name(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    [".gz", ".tgz", ".zst", ".bz2", ".xz", ".lz4", ".zip", ".gz.tmp"].iter().any(|s| name.ends_with(s))
}

/// Tails every file the patterns name, now and later, until `stop` is set. Each file is read
/// once, by its (device, inode), whatever paths reach it.
pub async fn follow_files(
    patterns: Vec<String>,
    from_start: bool,
    feed: Feed,
    registry: Registry,
    stats: Arc<FollowStats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut follower =
        Follower::new(patterns, from_start, registry.clone(), Arc::clone(&stats), stop.clone());
    let mut fifos = tokio::task::JoinSet::new();
    // Kernel notifications wake the reads; without them (or with a watch refused) every open
    // file is read each POLL, as `tail -F` does.
    let mut wake = Wake::start();
    let mut next_scan = Instant::now();
    let mut next_all = Instant::now();
    loop {
        let now = Instant::now();
        let (dirty, rescan) = wake.as_ref().map(Wake::take).unwrap_or_default();
        if rescan || now >= next_scan {
            follower.scan();
            for path in follower.new_fifos.drain(..) {
                fifos.spawn(follow_fifo(
                    path,
                    feed.clone(),
                    registry.clone(),
                    Arc::clone(&stats),
                    stop.clone(),
                ));
            }
            if let Some(w) = &mut wake
                && !w.watch(follower.watch_dirs())
            {
                wake = None;
            }
            next_scan = now + DISCOVER;
        }
        if wake.is_none() || now >= next_all {
            follower.read_all(&feed).await;
            next_all = now + SAFETY;
        } else {
            follower.read_some(&feed, &dirty).await;
        }
        follower.publish();
        let notified = async {
            match &wake {
                Some(w) => w.shared.notify.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = notified => {}
            _ = stop.changed() => break,
        }
    }
    // Last look before the final report: read what was written, keep nothing back.
    follower.scan();
    follower.read_all(&feed).await;
    for tail in follower.open.values_mut() {
        flush(&feed, &mut tail.carry, tail.source, &tail.meta, &mut tail.line).await;
    }
    // They end on the stop too.
    while fifos.join_next().await.is_some() {}
}

/// The inotify watcher (through `notify`) and what it saw since the last look: paths written
/// to, and whether paths appeared, went or were renamed (a new look at the patterns is due).
struct Wake {
    watcher: notify::RecommendedWatcher,
    shared: Arc<WakeShared>,
    watched: HashSet<PathBuf>,
}

#[derive(Default)]
struct WakeShared {
    seen: Mutex<(HashSet<PathBuf>, bool)>,
    notify: tokio::sync::Notify,
}

impl Wake {
    fn start() -> Option<Wake> {
        use notify::{EventKind, event::ModifyKind};
        let shared = Arc::new(WakeShared::default());
        let handler = {
            let shared = Arc::clone(&shared);
            move |event: notify::Result<notify::Event>| {
                let mut seen = shared.seen.lock().expect("wake lock");
                match event {
                    Ok(e) if e.need_rescan() => seen.1 = true,
                    Ok(e) => match e.kind {
                        EventKind::Access(_) => return,
                        EventKind::Modify(
                            ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Metadata(_),
                        ) => seen.0.extend(e.paths),
                        _ => {
                            seen.0.extend(e.paths);
                            seen.1 = true;
                        }
                    },
                    Err(_) => seen.1 = true,
                }
                drop(seen);
                shared.notify.notify_one();
            }
        };
        let watcher = notify::recommended_watcher(handler).ok()?;
        Some(Wake { watcher, shared, watched: HashSet::new() })
    }

    fn take(&self) -> (HashSet<PathBuf>, bool) {
        let mut seen = self.shared.seen.lock().expect("wake lock");
        (std::mem::take(&mut seen.0), std::mem::take(&mut seen.1))
    }

    /// Watches exactly `dirs`; false when the kernel refused one (out of watches): then polling
    /// takes over.
    fn watch(&mut self, dirs: HashSet<PathBuf>) -> bool {
        use notify::Watcher;
        for gone in self.watched.difference(&dirs) {
            // A directory removed is unwatched by the kernel already: nothing to say.
            let _ = self.watcher.unwatch(gone);
        }
        for dir in dirs.difference(&self.watched) {
            match self.watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => {}
                Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                Err(e) if matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == io::ErrorKind::NotFound) =>
                    {}
                Err(_) => return false,
            }
        }
        self.watched = dirs;
        true
    }
}

/// Every followed file, by identity.
struct Follower {
    patterns: Vec<String>,
    from_start: bool,
    registry: Registry,
    stats: Arc<FollowStats>,
    /// The files being read.
    open: HashMap<Id, Tail>,
    /// Each followed path at the last look: the file it reached, and where a symlink led.
    paths: HashMap<PathBuf, (Id, Option<PathBuf>)>,
    /// Files closed while still on disk, oldest first (see [`RETIRED`]).
    retired: HashMap<Id, Retired>,
    retired_order: VecDeque<Id>,
    /// Compressed files, rotated history: never read.
    skipped: HashSet<Id>,
    /// Paths that could not be opened (for a reason other than "not there"), retried each look,
    /// with the offset to start from once open (the end of what was there on the first look).
    failed: HashMap<PathBuf, u64>,
    /// Paths whose failure was said (once each).
    reported: HashSet<PathBuf>,
    /// Where relative patterns start from: notifications name absolute paths.
    cwd: PathBuf,
    /// A descriptor held back, let go while the patterns are expanded: out of descriptors
    /// (`EMFILE`), directories can still be listed, so every file is either read or said to fail.
    reserve: Option<File>,
    /// The input each path name is reported as (a name keeps its input across rotations), and
    /// when a pattern last reached it (forgotten after [`FORGET`]).
    sources: HashMap<PathBuf, (u32, Instant)>,
    first_look: bool,
    /// Named pipes found: each is read by a task of its own ([`follow_fifo`]), never opened here
    /// (opening a pipe blocks until a writer comes).
    fifos: HashSet<Id>,
    /// Pipes found at the last look, for `follow_files` to start.
    new_fifos: Vec<PathBuf>,
    /// Set when the run stops: reads end early (see [`LAST_LOOK`]).
    stop: watch::Receiver<bool>,
}

/// One open file.
struct Tail {
    file: File,
    offset: u64,
    /// Its first bytes (up to [`HEAD`]), as read.
    head: Vec<u8>,
    carry: Vec<u8>,
    source: u32,
    meta: Arc<SourceMeta>,
    /// Number of the next line to send.
    line: u64,
    /// Whether a followed path reached it at the last look.
    reached: bool,
    /// When it last gave data, or stopped being reached: a file no path reaches is closed after [`IDLE`].
    active: Instant,
    /// Bytes the file held past what was read, at the last read.
    behind: u64,
}

/// A closed file still on disk: where it was left, and a hash of its first bytes (an inode is
/// reused once a file is deleted: the same inode with other first bytes is another file).
struct Retired {
    offset: u64,
    head: (usize, u64),
    source: u32,
    meta: Arc<SourceMeta>,
    line: u64,
}

/// What a read of a tail found.
enum Outcome {
    /// Whether new bytes came.
    Data(bool),
    /// The file turned out compressed (its first bytes arrived): rotated history, not a log to read.
    Compressed,
}

impl Follower {
    fn new(
        patterns: Vec<String>,
        from_start: bool,
        registry: Registry,
        stats: Arc<FollowStats>,
        stop: watch::Receiver<bool>,
    ) -> Follower {
        let mut f = Follower {
            patterns,
            from_start,
            registry,
            stats,
            open: HashMap::new(),
            paths: HashMap::new(),
            retired: HashMap::new(),
            retired_order: VecDeque::new(),
            skipped: HashSet::new(),
            failed: HashMap::new(),
            reported: HashSet::new(),
            cwd: std::env::current_dir().unwrap_or_default(),
            reserve: File::open("/dev/null").ok(),
            sources: HashMap::new(),
            first_look: true,
            fifos: HashSet::new(),
            new_fifos: Vec::new(),
            stop,
        };
        // A path named outright is an input from the start, there or not (yet).
        for pattern in f.patterns.clone() {
            if !is_glob(&pattern) {
                f.source_of(Path::new(&pattern));
            }
        }
        f
    }

    fn source_of(&mut self, path: &Path) -> (u32, Arc<SourceMeta>) {
        let meta = Arc::new(Input::Path(path.to_path_buf()).meta());
        let source = match self.sources.get(path) {
            Some(&(s, _)) => s,
            None => {
                let s = register(&self.registry, &meta);
                self.sources.insert(path.to_path_buf(), (s, Instant::now()));
                s
            }
        };
        (source, meta)
    }

    /// Says once, on stderr now and as the input's error in the final report (exit code 2),
    /// that `path` could not be opened or listed.
    fn fail(&mut self, path: &Path, e: &io::Error, start: u64) {
        self.failed.entry(path.to_path_buf()).or_insert(start);
        if !self.reported.insert(path.to_path_buf()) {
            return;
        }
        let (source, meta) = self.source_of(path);
        eprintln!(
            "envoy-triage: {}: {} (following the other files; retried)",
            escape_controls(&meta.name),
            escape_controls(&e.to_string())
        );
        set_error(&self.registry, source, e);
    }

    /// Looks at every path the patterns name: opens files not seen before, notes which open
    /// files a path still reaches.
    fn scan(&mut self) {
        let mut errors = Vec::new();
        let mut found = Vec::new();
        self.reserve = None;
        for pattern in &self.patterns {
            for path in expand(pattern, &mut errors) {
                found.push((path, !is_glob(pattern)));
            }
        }
        self.reserve = File::open("/dev/null").ok();
        for (path, e) in errors {
            self.fail(&path, &e, 0);
        }
        let mut paths = HashMap::with_capacity(found.len());
        for (path, named) in found {
            let md = match std::fs::metadata(&path) {
                Ok(md) => md,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // not there (yet)
                Err(e) => {
                    self.fail(&path, &e, 0);
                    continue;
                }
            };
            // A glob's directories are not followed; a path named outright is, whatever it is.
            if !named && !md.is_file() {
                continue;
            }
            let id = (md.dev(), md.ino());
            if md.file_type().is_fifo() {
                if self.fifos.insert(id) {
                    self.new_fifos.push(path.clone());
                }
                continue;
            }
            let link = match self.paths.get(&path) {
                Some((known, link)) if *known == id => link.clone(),
                // Where a symlink leads is where the writes show (for the watches).
                _ => std::fs::canonicalize(&path).ok().filter(|c| *c != path),
            };
            if !self.open.contains_key(&id) && !self.skipped.contains(&id) {
                self.start(&path, id, md.len(), named);
            }
            paths.insert(path, (id, link));
        }
        let reached: HashSet<Id> = paths.values().map(|(id, _)| *id).collect();
        let now = Instant::now();
        for (id, tail) in &mut self.open {
            let was = std::mem::replace(&mut tail.reached, reached.contains(id));
            if was && !tail.reached {
                tail.active = now;
            }
        }
        self.skipped.retain(|id| reached.contains(id));
        for (path, (_, seen)) in &mut self.sources {
            if paths.contains_key(path) {
                *seen = now;
            }
        }
        // Paths named outright stay inputs whether there or not; those a glob found and lost
        // (a deleted pod's log) are forgotten, or a node agent would remember every pod for weeks.
        let patterns = &self.patterns;
        let failed = &self.failed;
        self.sources.retain(|path, (_, seen)| {
            now.duration_since(*seen) < FORGET
                || failed.contains_key(path)
                || patterns.iter().any(|p| !is_glob(p) && Path::new(p) == path)
        });
        self.paths = paths;
        self.first_look = false;
    }

    /// Opens a file found under `path`, from where it was left (a retired file), its end (on the
    /// first look, unless --from-start) or its start (new since).
    fn start(&mut self, path: &Path, id: Id, size: u64, named: bool) {
        let first = if self.first_look && !self.from_start { size } else { 0 };
        let start = self.failed.get(path).copied().unwrap_or(first);
        if compressed_name(path) {
            self.skip(id, path, named);
            return;
        }
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return, // gone since the look
            Err(e) => return self.fail(path, &e, start),
        };
        let md = match file.metadata() {
            Ok(md) => md,
            Err(e) => return self.fail(path, &e, start),
        };
        // Replaced between the look and the open: the file opened is the one that counts.
        let id = (md.dev(), md.ino());
        if self.open.contains_key(&id) || self.skipped.contains(&id) {
            return;
        }
        let head = if md.is_file() { read_head(&file, HEAD) } else { Vec::new() };
        if Compression::of(&head) != Compression::None {
            self.skip(id, path, named);
            return;
        }
        self.failed.remove(path);
        let (offset, source, meta, line) = match self.retired.remove(&id) {
            Some(r) if head.get(..r.head.0).is_some_and(|h| hash(h) == r.head.1) => {
                (r.offset, r.source, r.meta, r.line)
            }
            _ => {
                let (source, meta) = self.source_of(path);
                (start.min(md.len()), source, meta, 1)
            }
        };
        let tail = Tail {
            file,
            offset,
            head,
            carry: Vec::new(),
            source,
            meta,
            line,
            reached: true,
            active: Instant::now(),
            behind: 0,
        };
        self.open.insert(id, tail);
    }

    fn skip(&mut self, id: Id, path: &Path, named: bool) {
        if self.skipped.insert(id) && named {
            let (_, meta) = self.source_of(path);
            eprintln!(
                "envoy-triage: {}: compressed, not followed (rotated history: read it without --follow)",
                escape_controls(&meta.name)
            );
        }
    }

    /// Files open and bytes behind, for the exporter.
    fn publish(&self) {
        self.stats.files.store(self.open.len() as u64, Ordering::Relaxed);
        let behind = self.open.values().map(|t| t.behind).sum();
        self.stats.lag_bytes.store(behind, Ordering::Relaxed);
    }

    /// The directories whose notifications matter: those of every followed path and of where a
    /// symlink leads.
    fn watch_dirs(&self) -> HashSet<PathBuf> {
        let mut dirs = HashSet::new();
        let parent = |p: &Path| self.cwd.join(p.parent().unwrap_or(Path::new("")));
        for (path, (_, link)) in &self.paths {
            dirs.insert(parent(path));
            if let Some(link) = link {
                dirs.insert(parent(link));
            }
        }
        for pattern in &self.patterns {
            if !is_glob(pattern) {
                dirs.insert(parent(Path::new(pattern)));
            }
        }
        dirs
    }

    async fn read_all(&mut self, feed: &Feed) {
        let ids: Vec<Id> = self.open.keys().copied().collect();
        for id in ids {
            self.read(feed, id).await;
        }
    }

    /// Reads the files written to (`dirty`, from notifications) and those no path reaches any
    /// more (their writes are not watched).
    async fn read_some(&mut self, feed: &Feed, dirty: &HashSet<PathBuf>) {
        let mut ids: HashSet<Id> = self.open.iter().filter(|(_, t)| !t.reached).map(|(id, _)| *id).collect();
        for (path, (id, link)) in &self.paths {
            if dirty.contains(&self.cwd.join(path)) || link.as_ref().is_some_and(|l| dirty.contains(l)) {
                ids.insert(*id);
            }
        }
        for id in ids {
            if self.open.contains_key(&id) {
                self.read(feed, id).await;
            }
        }
    }

    /// Reads one open file; closes it when no path reaches it and it has been idle for [`IDLE`].
    async fn read(&mut self, feed: &Feed, id: Id) {
        let Some(tail) = self.open.get_mut(&id) else { return };
        let outcome = tail.read_available(feed, &self.stop, &self.stats).await;
        let now = Instant::now();
        let close = match outcome {
            Ok(Outcome::Data(true)) => {
                tail.active = now;
                false
            }
            Ok(Outcome::Data(false)) => !tail.reached && now.duration_since(tail.active) >= IDLE,
            Ok(Outcome::Compressed) => {
                self.skipped.insert(id);
                self.open.remove(&id);
                return;
            }
            Err(e) => {
                set_error(&self.registry, tail.source, &e);
                !tail.reached
            }
        };
        if !close {
            return;
        }
        let Some(mut tail) = self.open.remove(&id) else { return };
        flush(feed, &mut tail.carry, tail.source, &tail.meta, &mut tail.line).await;
        // A deleted file is gone for good (its inode may be reused): only one still on disk is remembered.
        if tail.file.metadata().is_ok_and(|md| md.nlink() > 0) {
            if self.retired_order.len() >= RETIRED
                && let Some(old) = self.retired_order.pop_front()
            {
                self.retired.remove(&old);
            }
            self.retired_order.push_back(id);
            let Tail { offset, head, source, meta, line, .. } = tail;
            self.retired.insert(id, Retired { offset, head: (head.len(), hash(&head)), source, meta, line });
        }
    }
}

fn hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(bytes)
}

/// Up to `n` first bytes of `file` (its position left alone).
fn read_head(file: &File, n: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match file.read_at(&mut head[got..], got as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    head.truncate(got);
    head
}

impl Tail {
    /// Reads what was appended since the last read. A file now shorter than where we were, or
    /// whose first bytes changed, was rewritten from its start (copytruncate, perhaps already
    /// grown past where we were): it is read again from its start.
    /// Once `stop` is set, at most [`LAST_LOOK`] more bytes are read.
    async fn read_available(
        &mut self,
        feed: &Feed,
        stop: &watch::Receiver<bool>,
        stats: &FollowStats,
    ) -> io::Result<Outcome> {
        let md = self.file.metadata()?;
        let mut size = None;
        if md.is_file() {
            let size = *size.insert(md.len());
            if size == self.offset {
                self.behind = 0;
                return Ok(Outcome::Data(false));
            }
            if size < self.offset || read_head(&self.file, self.head.len()) != self.head {
                flush(feed, &mut self.carry, self.source, &self.meta, &mut self.line).await;
                self.offset = 0;
                self.head.clear();
            }
            if self.head.len() < HEAD && size > self.head.len() as u64 {
                let short = self.head.len() < 6;
                self.head = read_head(&self.file, HEAD.min(size as usize));
                // A file found empty whose first bytes say compressed (kubelet's `.gz.tmp` being
                // written): never read as text.
                if short && Compression::of(&self.head) != Compression::None {
                    return Ok(Outcome::Compressed);
                }
            }
        }
        let before = self.offset;
        let file = &mut self.file;
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
            stats.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
            send_lines(feed, &mut self.carry, self.source, &self.meta, &mut self.line).await;
            read += n as u64;
            if n < want {
                break;
            }
            // The stop is checked between chunks: a file that never ends (or a huge one read
            // --from-start) must not hold the final report back.
            if read >= LAST_LOOK && *stop.borrow() {
                // Stopped inside the file: the unfinished line is left unread with the rest,
                // not counted as a malformed one.
                self.offset -= self.carry.len() as u64;
                self.carry.clear();
                break;
            }
        }
        self.behind = size.map_or(0, |s| s.saturating_sub(self.offset));
        Ok(Outcome::Data(self.offset != before))
    }
}

/// Follows a named pipe: read as a stream (no seek, no rotation). When its writer closes, what
/// it left is a whole line, and the pipe is opened again to wait for the next writer, as
/// `tail -F` waits for a file to come back. Opened without blocking (a blocking open waits for
/// a writer and no stop can interrupt it), so a stop ends the wait at once.
async fn follow_fifo(
    path: PathBuf,
    feed: Feed,
    registry: Registry,
    stats: Arc<FollowStats>,
    mut stop: watch::Receiver<bool>,
) {
    let meta = Arc::new(Input::Path(path.clone()).meta());
    let source = register(&registry, &meta);
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut line = 1u64;
    'open: loop {
        if *stop.borrow() {
            break;
        }
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
                    stats.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Weeks of pods on a node: the inputs list stops growing at [`MAX_NAMED_INPUTS`] + 1.
    #[test]
    fn inputs_past_the_cap_share_one_entry() {
        let registry = Registry::default();
        let ids: Vec<u32> = (0..MAX_NAMED_INPUTS + 500)
            .map(|i| {
                let path = format!("/var/log/pods/shop_checkout-7d9f8b6c5d-{i:05x}_uid/istio-proxy/0.log");
                register(&registry, &Arc::new(Input::Path(path.into()).meta()))
            })
            .collect();
        let r = registry.lock().unwrap();
        assert_eq!(r.len(), MAX_NAMED_INPUTS + 1);
        assert_eq!(ids[MAX_NAMED_INPUTS - 1], (MAX_NAMED_INPUTS - 1) as u32);
        assert!(ids[MAX_NAMED_INPUTS..].iter().all(|&id| id == MAX_NAMED_INPUTS as u32));
        assert_eq!(r[MAX_NAMED_INPUTS].meta.name, "(files after the first 4096)");
        assert!(r[MAX_NAMED_INPUTS - 1].meta.name.ends_with("-00fff_uid/istio-proxy/0.log"));
    }
}
