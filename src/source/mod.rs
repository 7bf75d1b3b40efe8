//! Inputs: stdin, files (plain, gzip or zstd, detected by magic bytes, not by name; bzip2, xz and
//! double compression named, never read as text), directories (the files under them,
//! recursively, in name order, hidden and binary files skipped and counted for `crate::app` to
//! say on stderr). Also what a Kubernetes log path says
//! about the proxy that wrote it (`/var/log/pods/<ns>_<pod>_<uid>/<container>/N.log`,
//! `/var/log/containers/<pod>_<ns>_<container>-<id>.log`). The pipeline reads from here.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

pub mod batch;
pub mod follow;

/// What the source (file path) says about the proxy that wrote it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SourceMeta {
    pub name: String,
    pub namespace: Option<Box<[u8]>>,
    pub pod: Option<Box<[u8]>>,
    pub container: Option<Box<[u8]>>,
}

/// Per-input facts gathered by the reader: where it came from, and why it could not be read
/// (all of it), if so.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct InputInfo {
    pub meta: SourceMeta,
    pub error: Option<String>,
}

/// One input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::Path(p) => p.display().to_string(),
        }
    }

    /// Opens the input as a stream, decompressed (see `decoded`).
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.open_counted(&Arc::default())
    }

    /// Like [`open`](Self::open), adding the bytes read from the input itself (before any
    /// decompression) to `read`.
    pub fn open_counted(&self, read: &Arc<AtomicU64>) -> io::Result<Box<dyn Read + Send>> {
        let raw: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::Path(p) => whole(File::open(p)?)?,
        };
        decoded(counted(raw, read), &self.name())
    }

    /// Like [`open`](Self::open), but a plain regular file comes back as the [`File`] itself,
    /// which the pipeline's workers read at offsets (each its own chunks, in parallel); pipes,
    /// stdin and files whose size says 0 (`/proc` files, which have content all the same) come
    /// back as a stream that one reader must read in order; a compressed regular file comes
    /// back decompressing, as a stream too, but one that a worker may take whole (see
    /// `batch`). A stream adds the bytes it reads (compressed, for gzip and zstd) to `read`; a file's
    /// ranges are counted where they are cut.
    pub fn open_for_reading(&self, read: &Arc<AtomicU64>) -> io::Result<Opened> {
        use std::os::unix::fs::FileExt;
        let Input::Path(p) = self else { return self.open_counted(read).map(Opened::Stream) };
        let file = File::open(p)?;
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() == 0 {
            // A FIFO (`envoy-triage <(kubectl logs …)`), a device or a `/proc` file: read it as
            // it comes (an empty regular file reads as empty either way).
            return Ok(Opened::Stream(decoded(counted(whole(file)?, read), &self.name())?));
        }
        let mut magic = [0u8; 6];
        // `read_at` leaves the file position alone: a compressed file is then read from its start.
        let n = file.read_at(&mut magic, 0)?;
        if Compression::of(&magic[..n]) != Compression::None {
            return Ok(Opened::Compressed(decoded(counted(whole(file)?, read), &self.name())?));
        }
        Ok(Opened::File(file))
    }

    /// Pod, namespace and container when the path is a kubelet log path.
    pub fn meta(&self) -> SourceMeta {
        let mut meta = SourceMeta { name: self.name(), ..SourceMeta::default() };
        if let Input::Path(p) = self {
            let parts: Vec<String> =
                p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let n = parts.len();
            // /var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log[.<date>][.gz]
            if n >= 3 {
                let dir = &parts[n - 3];
                let pieces: Vec<&str> = dir.splitn(3, '_').collect();
                if pieces.len() == 3 && parts.iter().any(|c| c == "pods") {
                    meta.namespace = Some(pieces[0].as_bytes().into());
                    meta.pod = Some(pieces[1].as_bytes().into());
                    meta.container = Some(parts[n - 2].as_bytes().into());
                    return meta;
                }
            }
            // /var/log/containers/<pod>_<ns>_<container>-<64 hex>.log
            if n >= 2 && parts[n - 2] == "containers" {
                let file = parts[n - 1].trim_end_matches(".log");
                let pieces: Vec<&str> = file.splitn(3, '_').collect();
                if pieces.len() == 3 {
                    meta.pod = Some(pieces[0].as_bytes().into());
                    meta.namespace = Some(pieces[1].as_bytes().into());
                    let container = pieces[2].rsplit_once('-').map_or(pieces[2], |(c, _)| c);
                    meta.container = Some(container.as_bytes().into());
                }
            }
        }
        meta
    }
}

/// An opened input: a regular file read at offsets, or a stream read in order.
pub enum Opened {
    File(File),
    Stream(Box<dyn Read + Send>),
    /// A compressed regular file, decompressed as it is read: a stream that stands alone (no
    /// terminal, pipe or stdin behind it), so any thread may read it.
    Compressed(Box<dyn Read + Send>),
}

/// `file` as a stream that fails with `UnexpectedEof` when it ends before the size the file had
/// when opened: a file cut short while it is read (truncated, or copytruncate rotation) says so
/// instead of ending early as if complete. Files whose size says 0 (`/proc`, FIFOs) are read as
/// they come.
fn whole(file: File) -> io::Result<Box<dyn Read + Send>> {
    struct Whole {
        file: File,
        /// Bytes still expected.
        left: u64,
    }
    impl Read for Whole {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.file.read(buf)?;
            if n == 0 && self.left > 0 && !buf.is_empty() {
                return Err(short_read());
            }
            self.left = self.left.saturating_sub(n as u64);
            Ok(n)
        }
    }
    let meta = file.metadata()?;
    let left = if meta.is_file() { meta.len() } else { 0 };
    Ok(Box::new(Whole { file, left }))
}

/// What an input that got shorter while it was read says.
pub const SHORT_READ: &str = "the file got shorter while it was read (truncated?)";

/// The error of a file that got shorter while it was read.
pub fn short_read() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, SHORT_READ)
}

/// `raw`, adding what it reads to `read` (the progress bar's count). Reads are chunk-sized (a
/// megabyte, or a decoder's buffer): one atomic add each, nothing per line.
fn counted(raw: Box<dyn Read + Send>, read: &Arc<AtomicU64>) -> Box<dyn Read + Send> {
    struct Counted(Box<dyn Read + Send>, Arc<AtomicU64>);
    impl Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }
    Box::new(Counted(raw, Arc::clone(read)))
}

/// How much decoded content is looked at to tell a log from a binary file: ripgrep's rule, a NUL
/// byte in the first few KiB.
const SNIFF_LEN: usize = 8 * 1024;

/// What an input's first bytes say it is, by content, never by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    pub fn of(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

impl Compression {
    fn label(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    /// The command that undoes this compression, for the hint in an error.
    fn undo(self) -> &'static str {
        match self {
            Compression::None => "cat",
            Compression::Gzip => "gunzip -c",
            Compression::Zstd => "zstdcat",
            Compression::Bzip2 => "bzcat",
            Compression::Xz => "xzcat",
        }
    }
}

/// The error for `name`, whose content is still `inner`-compressed once its `outer` layer (if
/// any) is undone: compressed bytes are never read as text.
fn still_compressed(inner: Compression, outer: Compression, name: &str) -> io::Error {
    let why = if outer == Compression::None {
        format!("{}-compressed; decompress it first ({} {name} | envoy-triage)", inner.label(), inner.undo())
    } else {
        format!(
            "{} inside {}, compressed twice; decompress the outer layer first ({} {name} | envoy-triage)",
            inner.label(),
            outer.label(),
            outer.undo()
        )
    };
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// `raw` decompressed as its first bytes say (gzip, concatenated members included; zstd, every
/// frame), or as it is; an error when it is bzip2, xz or compressed twice. Plain input
/// is read unbuffered: the reader asks for megabyte chunks, which a buffer in between would
/// only copy once more.
fn decoded(mut raw: Box<dyn Read + Send>, name: &str) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = Vec::with_capacity(6);
    (&mut raw).take(6).read_to_end(&mut magic)?;
    let outer = Compression::of(&magic);
    let whole = io::Cursor::new(magic).chain(raw);
    let mut reader: Box<dyn Read + Send> = match outer {
        Compression::None => return Ok(Box::new(whole)),
        Compression::Gzip => Box::new(MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, whole))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
        Compression::Bzip2 | Compression::Xz => return Err(still_compressed(outer, Compression::None, name)),
    };
    // A few decoded bytes say whether the content is compressed again.
    let mut head = Vec::with_capacity(6);
    (&mut reader).take(6).read_to_end(&mut head)?;
    match Compression::of(&head) {
        Compression::None => Ok(Box::new(io::Cursor::new(head).chain(reader))),
        inner => Err(still_compressed(inner, outer, name)),
    }
}

/// Whether the file at `path` is binary: ripgrep's rule, a NUL byte in its first few KiB once
/// decompressed. Only a directory walk asks: a file named on the command line is read as
/// given (a log with a stray NUL byte is still a log, its NUL escaped on output).
fn is_binary(path: &Path) -> io::Result<bool> {
    let reader = decoded(Box::new(File::open(path)?), &path.display().to_string())?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    reader.take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    Ok(memchr::memchr(0, &head).is_some())
}

/// Why an argument could not become an input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: {source}", crate::escape::escape_controls(path))]
    Unreadable { path: String, source: io::Error },
    #[error("nothing to read under {}: {why}", crate::escape::escape_controls(path))]
    NothingUnder { path: String, why: String },
}

/// What a directory walk left out, for the stderr line that says so.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub hidden: usize,
    pub markdown: usize,
    pub binary: usize,
    pub loops: usize,
}

impl Skipped {
    /// "2 binary files and 1 hidden entry", or `None` when nothing worth saying was skipped
    /// (Markdown, the READMEs beside logs, is left out silently, as ripgrep's type filters do).
    pub fn describe(&self, with_markdown: bool) -> Option<String> {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = Vec::new();
        if self.binary > 0 {
            parts.push(plural(self.binary, "binary file", "binary files"));
        }
        if self.hidden > 0 {
            parts.push(plural(self.hidden, "hidden entry", "hidden entries"));
        }
        if self.loops > 0 {
            parts.push(plural(self.loops, "symlink loop", "symlink loops"));
        }
        if with_markdown && self.markdown > 0 {
            parts.push(plural(self.markdown, "Markdown file", "Markdown files"));
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => {
                let last = parts.pop().unwrap();
                Some(format!("{} and {last}", parts.join(", ")))
            }
        }
    }
}

/// What [`expand`] made of the arguments.
#[derive(Debug, Default)]
pub struct Expanded {
    pub inputs: Vec<Input>,
    /// Arguments that gave nothing to read: missing, unreadable, or directories with no log in
    /// them. Each one makes the run exit 2.
    pub errors: Vec<SourceError>,
    /// Directories and what their walk skipped (only those that skipped something).
    pub skipped: Vec<(String, Skipped)>,
}

/// [`expand`], with what it met said on stderr as every command says it: each argument that
/// gave nothing (followed by `hint` of its error), what directory walks skipped, and how logs
/// get in when one input is a terminal. Returns the inputs, and whether an argument failed
/// (the run then exits 2).
pub fn expand_and_say(files: &[PathBuf], hint: impl Fn(&SourceError) -> String) -> (Vec<Input>, bool) {
    let Expanded { inputs, errors, skipped } = expand(files);
    for e in &errors {
        eprintln!("envoy-triage: {}{}", crate::escape::escape_controls(&e.to_string()), hint(e));
    }
    for (dir, skipped) in &skipped {
        if let Some(what) = skipped.describe(false) {
            eprintln!("envoy-triage: skipped {what} under {}", crate::escape::escape_controls(dir));
        }
    }
    if inputs.contains(&Input::Stdin) {
        hint_if_typing();
    }
    (inputs, !errors.is_empty())
}

/// Expands command-line arguments into inputs: `-` (or nothing) is stdin; a directory means
/// the files under it, recursively, in name order (as ripgrep walks), skipping hidden entries,
/// Markdown (sample-logs/README.md and the like) and binary files; symlinks are followed, loops
/// skipped. A directory with nothing left to read is an error, like a missing path; errors are
/// not fatal, so the other inputs still get read.
pub fn expand(args: &[PathBuf]) -> Expanded {
    let mut out = Expanded::default();
    if args.is_empty() {
        out.inputs.push(Input::Stdin);
    }
    for arg in args {
        if arg.as_os_str() == "-" {
            out.inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(arg) {
            Ok(m) if m.is_dir() => walk(arg, &mut out),
            Ok(_) => out.inputs.push(Input::Path(arg.clone())),
            Err(e) => out.errors.push(SourceError::Unreadable { path: arg.display().to_string(), source: e }),
        }
    }
    out
}

/// One of `count` shards of an archive (`--shard index/count`, `index` from 0, as a Kubernetes
/// Indexed Job numbers its pods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Most shards: far more than any archive is split into, small enough to list.
    pub const MAX: u32 = 100_000;

    /// `I/N`, `I < N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard wants INDEX/COUNT with INDEX from 0 to COUNT-1 and COUNT up to {}, e.g. 3/16 (got {s:?})",
                Shard::MAX
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) =
            (i.trim().parse::<u32>().map_err(|_| bad())?, n.trim().parse::<u32>().map_err(|_| bad())?);
        if count == 0 || count > Shard::MAX || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// This shard's inputs: the inputs in order, cut into `count` runs of about equal bytes
    /// (each file where its middle falls), this one's run. Every shard expands the same
    /// arguments to the same list, so the shards cover it exactly, in order, whatever machine
    /// runs them. Stdin cannot be split: `Err`.
    pub fn select(self, inputs: Vec<Input>) -> Result<Vec<Input>, String> {
        if inputs.contains(&Input::Stdin) {
            return Err("--shard splits files and directories; stdin cannot be split".into());
        }
        let sizes: Vec<u64> = inputs
            .iter()
            .map(|i| match i {
                Input::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
                Input::Stdin => 0,
            })
            .collect();
        Ok(inputs
            .into_iter()
            .zip(self.owners(&sizes))
            .filter(|(_, o)| *o == self.index)
            .map(|(i, _)| i)
            .collect())
    }

    /// The shard of each file of these sizes: by the middle of its bytes (by its position when
    /// every file is empty). Never decreasing, so each shard's files are one run.
    fn owners(self, sizes: &[u64]) -> Vec<u32> {
        let total: u128 = sizes.iter().map(|&s| s as u128).sum();
        let n = self.count as u128;
        let mut before = 0u128;
        sizes
            .iter()
            .enumerate()
            .map(|(j, &size)| {
                let at = if total == 0 {
                    (2 * j as u128 + 1) * n / (2 * sizes.len() as u128)
                } else {
                    (2 * before + size as u128) * n / (2 * total)
                };
                before += size as u128;
                at.min(n - 1) as u32
            })
            .collect()
    }
}

/// Walks with `walkdir` rather than `ignore` (ripgrep's own walker): log directories have no
/// `.gitignore` to honour, and a kubelet tree must be read whole.
fn walk(dir: &Path, out: &mut Expanded) {
    let mut skipped = Skipped::default();
    let before = out.inputs.len();
    let is_hidden =
        |e: &walkdir::DirEntry| e.depth() > 0 && e.file_name().as_encoded_bytes().starts_with(b".");
    let mut it = walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name().into_iter();
    while let Some(entry) = it.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.loop_ancestor().is_some() => {
                skipped.loops += 1;
                continue;
            }
            Err(e) => {
                let path = e.path().unwrap_or(dir).display().to_string();
                let source = e.into_io_error().unwrap_or_else(|| io::Error::other("unreadable"));
                out.errors.push(SourceError::Unreadable { path, source });
                continue;
            }
        };
        if is_hidden(&entry) {
            skipped.hidden += 1;
            if entry.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_dir() {
            continue;
        }
        if entry.file_name().as_encoded_bytes().ends_with(b".md") {
            skipped.markdown += 1;
            continue;
        }
        match is_binary(entry.path()) {
            Ok(true) => skipped.binary += 1,
            // Compressed in a way that is not read, or unreadable: the reader says so, for
            // this file.
            Ok(false) | Err(_) => out.inputs.push(Input::Path(entry.into_path())),
        }
    }
    let name = dir.display().to_string();
    if out.inputs.len() == before {
        let why = match skipped.describe(true) {
            None => "no files".to_string(),
            Some(s) => format!("every file skipped ({s})"),
        };
        out.errors.push(SourceError::NothingUnder { path: name, why });
    } else if skipped.describe(false).is_some() {
        out.skipped.push((name, skipped));
    }
}

/// Someone is about to type log lines by hand, which is rarely what they meant: say how logs
/// get in (in batch and in live mode alike: a terminal is a stream).
pub fn hint_if_typing() {
    if io::IsTerminal::is_terminal(&io::stdin()) {
        eprintln!(
            "envoy-triage: reading access logs from the terminal (end with Ctrl-D); pipe them in \
             (kubectl logs deploy/NAME -c istio-proxy | envoy-triage) or pass files"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cut_the_inputs_into_runs_of_about_equal_bytes() {
        let owners = |sizes: &[u64], n| Shard { index: 0, count: n }.owners(sizes);
        assert_eq!(owners(&[10, 10, 10, 10], 2), [0, 0, 1, 1]);
        assert_eq!(owners(&[100, 1, 1, 1, 100], 2), [0, 0, 1, 1, 1]);
        // More shards than files: some shards read nothing, none reads a file twice.
        assert_eq!(owners(&[5, 5], 8), [2, 6]);
        assert_eq!(owners(&[0, 0, 0], 3), [0, 1, 2]);
        assert_eq!(owners(&[u64::MAX, u64::MAX], 100_000), [25_000, 75_000]);
        for n in 1..12u32 {
            let sizes: Vec<u64> = (0..30).map(|i| (i * 7919 % 101) as u64).collect();
            let o = owners(&sizes, n);
            assert!(o.windows(2).all(|w| w[0] <= w[1]) && o.iter().all(|&x| x < n), "{n}: {o:?}");
        }
        assert_eq!(Shard::parse("3/16"), Ok(Shard { index: 3, count: 16 }));
        for bad in ["16/16", "1/0", "-1/4", "3", "a/b", "1/100001"] {
            assert!(Shard::parse(bad).unwrap_err().contains("INDEX/COUNT"), "{bad}");
        }
    }

    #[test]
    fn kubelet_paths_name_the_pod() {
        let m = Input::Path("/var/log/pods/shop_checkout-7d9f8b-x2x9z_0d2c/istio-proxy/0.log".into()).meta();
        assert_eq!(m.namespace.as_deref(), Some(&b"shop"[..]));
        assert_eq!(m.pod.as_deref(), Some(&b"checkout-7d9f8b-x2x9z"[..]));
        assert_eq!(m.container.as_deref(), Some(&b"istio-proxy"[..]));
        let m = Input::Path(
            "/var/log/containers/istio-ingressgateway-5d4f_istio-system_istio-proxy-0123abcd.log".into(),
        )
        .meta();
        assert_eq!(m.pod.as_deref(), Some(&b"istio-ingressgateway-5d4f"[..]));
        assert_eq!(m.namespace.as_deref(), Some(&b"istio-system"[..]));
        assert_eq!(m.container.as_deref(), Some(&b"istio-proxy"[..]));
        assert!(Input::Path("logs/app.log".into()).meta().pod.is_none());
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain-name.log");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"hello\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let mut s = String::new();
        Input::Path(path).open().unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello\n");
    }

    fn write(path: &Path, data: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn read_all(input: &Input) -> io::Result<String> {
        let mut s = String::new();
        input.open()?.read_to_string(&mut s)?;
        Ok(s)
    }

    #[test]
    fn a_kubelet_tree_is_walked_recursively_in_name_order_with_pods_from_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let pods = dir.path().join("pods");
        let a = pods.join("shop_checkout-1_uid1/istio-proxy");
        let b = pods.join("shop_cart-2_uid2/istio-proxy");
        write(&a.join("0.log"), b"a0\n");
        write(&a.join("0.log.20241201-120000"), b"a-rotated\n");
        write(&a.join("0.log.20241130-120000.gz"), &gzip(b"a-rotated-gz\n"));
        write(&b.join("0.log"), b"b0\n");
        write(&pods.join(".hidden/istio-proxy/0.log"), b"hidden\n");
        write(&pods.join("README.md"), b"# notes\n");
        write(&b.join("core"), b"\x7fELF\x02\x01\x01\x00\x00\x00");
        let out = expand(std::slice::from_ref(&pods));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let names: Vec<String> = out
            .inputs
            .iter()
            .map(|i| match i {
                Input::Path(p) => p.strip_prefix(&pods).unwrap().display().to_string(),
                Input::Stdin => "-".into(),
            })
            .collect();
        assert_eq!(
            names,
            [
                "shop_cart-2_uid2/istio-proxy/0.log",
                "shop_checkout-1_uid1/istio-proxy/0.log",
                "shop_checkout-1_uid1/istio-proxy/0.log.20241130-120000.gz",
                "shop_checkout-1_uid1/istio-proxy/0.log.20241201-120000",
            ]
        );
        let meta = out.inputs[2].meta();
        assert_eq!(meta.pod.as_deref(), Some(&b"checkout-1"[..]));
        assert_eq!(meta.namespace.as_deref(), Some(&b"shop"[..]));
        assert_eq!(meta.container.as_deref(), Some(&b"istio-proxy"[..]));
        assert_eq!(read_all(&out.inputs[2]).unwrap(), "a-rotated-gz\n");
        let skipped = Skipped { hidden: 1, markdown: 1, binary: 1, loops: 0 };
        assert_eq!(out.skipped, [(pods.display().to_string(), skipped.clone())]);
        assert_eq!(skipped.describe(false).unwrap(), "1 binary file and 1 hidden entry");
    }

    #[test]
    fn a_symlink_loop_is_skipped_not_followed_forever() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a/0.log"), b"x\n");
        std::os::unix::fs::symlink(dir.path(), dir.path().join("a/up")).unwrap();
        let out = expand(&[dir.path().to_path_buf()]);
        assert_eq!(out.inputs.len(), 1);
        assert_eq!(out.skipped[0].1.loops, 1);
    }

    #[test]
    fn a_directory_with_nothing_to_read_is_an_error_that_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let out = expand(&[dir.path().to_path_buf()]);
        assert!(out.inputs.is_empty());
        assert!(out.errors[0].to_string().ends_with(": no files"), "{}", out.errors[0]);
        write(&dir.path().join("bin"), b"\0\0\0");
        write(&dir.path().join(".x.log"), b"log\n");
        let out = expand(&[dir.path().to_path_buf()]);
        assert!(
            out.errors[0].to_string().ends_with(": every file skipped (1 binary file and 1 hidden entry)"),
            "{}",
            out.errors[0]
        );
    }

    #[test]
    fn zstd_is_read_every_frame_detected_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain-name.log");
        let mut data = zstd::encode_all(&b"first\n"[..], 3).unwrap();
        data.extend(zstd::encode_all(&b"second\n"[..], 3).unwrap());
        write(&path, &data);
        assert_eq!(read_all(&Input::Path(path.clone())).unwrap(), "first\nsecond\n");
        let Opened::Compressed(mut r) = Input::Path(path).open_for_reading(&Arc::default()).unwrap() else {
            panic!("zstd read by ranges")
        };
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "first\nsecond\n");
    }

    #[test]
    fn unsupported_compression_is_named_never_read_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, Vec<u8>, &str); 3] = [
            ("a.bz2", b"BZh91AY&SY\x01\x02junk".to_vec(), "bzip2-compressed; decompress it first (bzcat "),
            ("a.xz", b"\xfd7zXZ\x00\x00\x04junk".to_vec(), "xz-compressed; decompress it first (xzcat "),
            (
                "a.gz.gz",
                gzip(&gzip(b"line\n")),
                "gzip inside gzip, compressed twice; decompress the outer layer first (gunzip -c ",
            ),
        ];
        for (name, data, want) in cases {
            let path = dir.path().join(name);
            write(&path, &data);
            for opened in [
                Input::Path(path.clone()).open().err(),
                Input::Path(path.clone()).open_for_reading(&Arc::default()).err(),
            ] {
                let e = opened.unwrap_or_else(|| panic!("{name} read as text"));
                assert!(e.to_string().starts_with(want), "{name}: {e}");
            }
        }
    }

    #[test]
    fn a_file_whose_size_says_0_is_read_as_a_stream() {
        let path = Path::new("/proc/self/status");
        assert_eq!(std::fs::metadata(path).unwrap().len(), 0);
        let Opened::Stream(mut r) = Input::Path(path.into()).open_for_reading(&Arc::default()).unwrap()
        else {
            panic!("a size-0 file read by ranges (as empty)")
        };
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert!(s.contains("Pid:"), "{s}");
    }

    #[test]
    fn a_gzip_stream_counts_its_compressed_bytes() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&b"GET /api 503 UF\n".repeat(10_000)).unwrap();
        let compressed = gz.finish().unwrap();
        std::fs::write(&path, &compressed).unwrap();
        let read = Arc::new(AtomicU64::new(0));
        let Ok(Opened::Compressed(mut stream)) = Input::Path(path).open_for_reading(&read) else {
            panic!("gzip is read as a stream")
        };
        let n = io::copy(&mut stream, &mut io::sink()).unwrap();
        assert_eq!(n, 160_000);
        assert_eq!(read.load(Ordering::Relaxed), compressed.len() as u64);
    }
}
