//! Inputs: stdin, files (plain or gzip, detected by magic bytes, not by name), directories
//! (the files under them, recursively, in name order). Also what a Kubernetes log path says
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
#[derive(Debug, Clone, Default)]
pub struct SourceMeta {
    pub name: String,
    pub namespace: Option<Box<[u8]>>,
    pub pod: Option<Box<[u8]>>,
    pub container: Option<Box<[u8]>>,
}

/// Per-input facts gathered by the reader: where it came from, and why it could not be read
/// (all of it), if so.
#[derive(Debug, Clone, Default)]
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

    /// Opens the input, transparently decompressing gzip (including concatenated members).
    /// Plain input is read unbuffered: the reader asks for megabyte chunks, which a buffer in
    /// between would only copy once more.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.open_counted(&Arc::default())
    }

    /// Like [`open`](Self::open), adding the bytes read from the input itself (before any
    /// decompression) to `read`.
    pub fn open_counted(&self, read: &Arc<AtomicU64>) -> io::Result<Box<dyn Read + Send>> {
        let raw: Box<dyn Read + Send> = match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::Path(p) => Box::new(File::open(p)?),
        };
        plain_or_gzip(counted(raw, read))
    }

    /// Like [`open`](Self::open), but a regular file that is not gzip comes back as the
    /// [`File`] itself, which the pipeline's workers read at offsets (each its own chunks, in
    /// parallel); pipes, stdin and gzip come back as a stream that one reader must read in order.
    /// A stream adds the bytes it reads (compressed, for gzip) to `read`; a file's ranges are
    /// counted where they are cut.
    pub fn open_for_reading(&self, read: &Arc<AtomicU64>) -> io::Result<Opened> {
        use std::os::unix::fs::FileExt;
        let Input::Path(p) = self else { return self.open_counted(read).map(Opened::Stream) };
        let file = File::open(p)?;
        if !file.metadata()?.is_file() {
            // A FIFO (`envoy-triage <(kubectl logs …)`) or a device: read it as it comes.
            return Ok(Opened::Stream(plain_or_gzip(counted(Box::new(file), read))?));
        }
        let mut magic = [0u8; 2];
        // `read_at` leaves the file position alone: a gzip file is then read from its start.
        let n = file.read_at(&mut magic, 0)?;
        if n == 2 && magic == [0x1f, 0x8b] {
            return Ok(Opened::Stream(plain_or_gzip(counted(Box::new(file), read))?));
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
}

/// `raw`, adding what it reads to `read` (the progress bar's count). Reads are chunk-sized (a
/// megabyte, or the gzip decoder's 256 KiB buffer): one atomic add each, nothing per line.
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

/// `raw` as it is, or decompressed when it starts with gzip's magic bytes.
fn plain_or_gzip(mut raw: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = Vec::with_capacity(2);
    (&mut raw).take(2).read_to_end(&mut magic)?;
    let gzip = magic == [0x1f, 0x8b];
    let whole = io::Cursor::new(magic).chain(raw);
    if gzip {
        Ok(Box::new(MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, whole))))
    } else {
        Ok(Box::new(whole))
    }
}

/// Why an argument could not become an input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: {source}", crate::report::escape_controls(path))]
    Unreadable { path: String, source: io::Error },
}

/// Expands command-line arguments into inputs: `-` (or nothing) is stdin; a directory means
/// the files in it (not its subdirectories: pass those, or a glob, explicitly), skipping hidden
/// entries and Markdown (sample-logs/README.md and the like). Missing paths are reported, not
/// fatal, so the other inputs still get read.
pub fn expand(args: &[PathBuf]) -> (Vec<Input>, Vec<SourceError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    if args.is_empty() {
        inputs.push(Input::Stdin);
    }
    for arg in args {
        if arg.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(arg) {
            Ok(m) if m.is_dir() => walk(arg, &mut inputs, &mut errors),
            Ok(_) => inputs.push(Input::Path(arg.clone())),
            Err(e) => errors.push(SourceError::Unreadable { path: arg.display().to_string(), source: e }),
        }
    }
    (inputs, errors)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<SourceError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(SourceError::Unreadable { path: dir.display().to_string(), source: e });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        if p.is_file() {
            inputs.push(Input::Path(p));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let Ok(Opened::Stream(mut stream)) = Input::Path(path).open_for_reading(&read) else {
            panic!("gzip is read as a stream")
        };
        let n = io::copy(&mut stream, &mut io::sink()).unwrap();
        assert_eq!(n, 160_000);
        assert_eq!(read.load(Ordering::Relaxed), compressed.len() as u64);
    }
}
