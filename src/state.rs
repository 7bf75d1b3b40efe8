//! Saved states: what `--save-state FILE` writes after a batch run, and what `envoy-triage
//! merge STATE…` combines. A state holds the run's merged [`Aggregate`] (as
//! `aggregate::Saved`: counters, HdrHistogram V2 histograms, request-id sketches, groups,
//! samples, time range, timeline, folding cuts), its inputs, its arguments and the settings
//! that shaped it. Merging the states of any split of the inputs, in input order, builds the
//! same aggregate as one pass over all of them, so every report (`crate::report::emit`) is
//! byte-identical: the states are merged like the workers of one run are, each moved after the
//! inputs of the states before it (`Aggregate::shift`).
//!
//! The file: one text line, `envoy-triage state <FORMAT> <version>`, then one zstd frame
//! (with its checksum: a truncated or damaged file is refused, not half read) of the postcard
//! encoding of [`Body`]. A state of another format or version is refused: classification,
//! ranks and caps may differ between versions, and a merge across them would be wrong
//! silently. `crate::app` writes and reads them; nothing else here does I/O.

use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregate, Saved};
use crate::filter::FilterOut;
use crate::source::InputInfo;

/// Bumped on any change of what a state holds or how it is encoded.
pub const FORMAT: u32 = 1;

const MAGIC: &str = "envoy-triage state ";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What must be the same for states to be merged: the options that decide which lines are
/// records and which records are counted where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `--format` as given (`auto`, `istio`, a format string).
    pub format: String,
    pub max_clusters: usize,
    pub max_groups: usize,
    /// The filters, resolved (absolute times only: see `crate::config`).
    pub filters: Option<FilterOut>,
}

impl Settings {
    /// The differing setting, said as flags: (this state's, the other's).
    fn difference(&self, o: &Settings) -> Option<(String, String)> {
        if self.format != o.format {
            return Some((format!("--format {}", self.format), format!("--format {}", o.format)));
        }
        if self.max_clusters != o.max_clusters {
            return Some((
                format!("--max-clusters {}", self.max_clusters),
                format!("--max-clusters {}", o.max_clusters),
            ));
        }
        if self.max_groups != o.max_groups {
            return Some((
                format!("{} groups at most", self.max_groups),
                format!("{} groups at most", o.max_groups),
            ));
        }
        if self.filters != o.filters {
            let say =
                |f: &Option<FilterOut>| f.as_ref().map_or_else(|| "no filter".to_string(), |f| f.describe());
            return Some((say(&self.filters), say(&o.filters)));
        }
        None
    }
}

/// Everything a state file holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Body {
    pub settings: Settings,
    /// The run's arguments as given (`ReportOptions::inputs`): the reports quote them.
    pub arguments: Vec<String>,
    /// An argument of the run could not be read (said when it ran): a merge exits 2 too.
    pub arguments_failed: bool,
    pub inputs: Vec<InputInfo>,
    pub aggregate: Saved,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not an envoy-triage state (those are written by --save-state)", path.display())]
    Foreign { path: PathBuf },
    #[error(
        "{}: saved by envoy-triage {version} (state format {format}); this is {VERSION} (format {FORMAT}): \
         run that shard again with this version",
        path.display()
    )]
    Version { path: PathBuf, version: String, format: String },
    #[error("{}: truncated or damaged ({why}): run that shard again", path.display())]
    Damaged { path: PathBuf, why: String },
    #[error(
        "{}: made with {theirs}, but {} with {first}: states merge only when made with the same \
         --format, --max-clusters and filters",
        path.display(),
        first_path.display()
    )]
    Mismatch { path: PathBuf, theirs: String, first_path: PathBuf, first: String },
    #[error("no state to merge")]
    Empty,
}

/// Writes `body` to `path`, through a temporary file beside it renamed into place: a run
/// killed while writing leaves no state that looks whole.
pub fn save(path: &Path, body: &Body) -> io::Result<()> {
    let encoded = postcard::to_stdvec(body).map_err(io::Error::other)?;
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let write = || -> io::Result<()> {
        let mut file = io::BufWriter::new(std::fs::File::create(&tmp)?);
        file.write_all(format!("{MAGIC}{FORMAT} {VERSION}\n").as_bytes())?;
        let mut z = zstd::stream::Encoder::new(file, 3)?;
        z.include_checksum(true)?;
        z.set_pledged_src_size(Some(encoded.len() as u64))?;
        z.write_all(&encoded)?;
        z.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()
    };
    if let Err(e) = write().and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Reads the state at `path`.
pub fn load(path: &Path) -> Result<Body, StateError> {
    let io_err = |source| StateError::Io { path: path.to_path_buf(), source };
    let mut file = io::BufReader::new(std::fs::File::open(path).map_err(io_err)?);
    let mut head = Vec::new();
    // The line is short: a foreign file is not read further than this.
    (&mut file).take(128).read_until(b'\n', &mut head).map_err(io_err)?;
    let line = std::str::from_utf8(&head).ok().and_then(|l| l.strip_suffix('\n'));
    let Some(rest) = line.and_then(|l| l.strip_prefix(MAGIC)) else {
        return Err(StateError::Foreign { path: path.to_path_buf() });
    };
    let (format, version) = rest.split_once(' ').unwrap_or((rest, "?"));
    if format != FORMAT.to_string() || version != VERSION {
        return Err(StateError::Version {
            path: path.to_path_buf(),
            version: crate::escape::escape_controls(version).into_owned(),
            format: crate::escape::escape_controls(format).into_owned(),
        });
    }
    let damaged = |why: String| StateError::Damaged { path: path.to_path_buf(), why };
    let mut encoded = Vec::new();
    zstd::stream::Decoder::with_buffer(file)
        .and_then(|mut d| d.read_to_end(&mut encoded))
        .map_err(|e| damaged(e.to_string()))?;
    let (body, rest): (Body, _) = postcard::take_from_bytes(&encoded).map_err(|e| damaged(e.to_string()))?;
    if !rest.is_empty() {
        return Err(damaged(format!("{} bytes after the state", rest.len())));
    }
    Ok(body)
}

/// The states merged, in the order given.
#[derive(Debug)]
pub struct Merged {
    pub settings: Settings,
    pub arguments: Vec<String>,
    pub arguments_failed: bool,
    /// The states whose run could not read one of its arguments.
    pub failed_runs: Vec<PathBuf>,
    pub inputs: Vec<InputInfo>,
    pub aggregate: Aggregate,
}

/// Merges the states at `paths`, in order: the result is what one run over their inputs, in
/// that order, would have built.
pub fn merge(paths: &[PathBuf]) -> Result<Merged, StateError> {
    let mut merged: Option<(PathBuf, Merged)> = None;
    let mut chunks = 0u64;
    for path in paths {
        let body = load(path)?;
        let mut agg = Aggregate::from_saved(body.aggregate)
            .map_err(|e| StateError::Damaged { path: path.clone(), why: e.to_string() })?;
        let Some((first_path, m)) = &mut merged else {
            chunks = agg.chunks_used();
            merged = Some((
                path.clone(),
                Merged {
                    settings: body.settings,
                    arguments: body.arguments,
                    arguments_failed: body.arguments_failed,
                    failed_runs: if body.arguments_failed { vec![path.clone()] } else { Vec::new() },
                    inputs: body.inputs,
                    aggregate: agg,
                },
            ));
            continue;
        };
        if let Some((theirs, first)) = body.settings.difference(&m.settings) {
            return Err(StateError::Mismatch {
                path: path.clone(),
                theirs,
                first_path: first_path.clone(),
                first,
            });
        }
        let used = agg.chunks_used();
        let sources = u32::try_from(m.inputs.len()).unwrap_or(u32::MAX);
        agg.shift(chunks, sources);
        chunks += used;
        m.aggregate.merge(agg);
        m.arguments.extend(body.arguments);
        m.arguments_failed |= body.arguments_failed;
        if body.arguments_failed {
            m.failed_runs.push(path.clone());
        }
        m.inputs.extend(body.inputs);
    }
    merged.map(|(_, m)| m).ok_or(StateError::Empty)
}

/// The body a run saves.
pub fn body(
    settings: Settings,
    arguments: Vec<String>,
    arguments_failed: bool,
    inputs: Vec<InputInfo>,
    agg: &Aggregate,
) -> Body {
    Body { settings, arguments, arguments_failed, inputs, aggregate: agg.to_saved() }
}
