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
use crate::source::{InputInfo, Shard};

/// Bumped on any change of what a state holds or how it is encoded.
pub const FORMAT: u32 = 1;

const MAGIC: &str = "envoy-triage state ";

/// Most bytes a state decodes to. The largest this version writes (a million upstreams, the
/// `--max-clusters` cap, with their histograms) is under 1 GiB; a file that inflates past this
/// is not one of them, and is not read into memory.
const MAX_DECODED: u64 = 2 << 30;
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
    /// The shards of the archive this state covers (`--shard`, and merges of such states).
    pub shards: Option<Span>,
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
    #[error("{}: no *.state file in this directory", dir.display())]
    NoStates { dir: PathBuf },
    #[error("{}: covers shards that {} covers too", path.display(), other.display())]
    Overlap { path: PathBuf, other: PathBuf },
}

/// Writes `body` to `path`, through a temporary file beside it renamed into place: a run
/// killed while writing leaves no state that looks whole.
pub fn save(path: &Path, body: &Body) -> io::Result<()> {
    let encoded = postcard::to_stdvec(body).map_err(io::Error::other)?;
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // A Job's merge step saves into a directory of the shared volume that no step made.
        std::fs::create_dir_all(dir)?;
    }
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
            version: version.to_string(),
            format: format.to_string(),
        });
    }
    let damaged = |why: String| StateError::Damaged { path: path.to_path_buf(), why };
    let mut encoded = Vec::new();
    zstd::stream::Decoder::with_buffer(file)
        .and_then(|d| d.take(MAX_DECODED + 1).read_to_end(&mut encoded))
        .map_err(|e| damaged(e.to_string()))?;
    if encoded.len() as u64 > MAX_DECODED {
        return Err(damaged(format!("more than {} GiB decoded", MAX_DECODED >> 30)));
    }
    let (body, rest): (Body, _) = postcard::take_from_bytes(&encoded).map_err(|e| damaged(e.to_string()))?;
    if !rest.is_empty() {
        return Err(damaged(format!("{} bytes after the state", rest.len())));
    }
    Ok(body)
}

/// The shards (`--shard`) a state covers: `from..to` of `of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub from: u32,
    pub to: u32,
    pub of: u32,
}

impl From<Shard> for Span {
    fn from(s: Shard) -> Span {
        Span { from: s.index, to: s.index + 1, of: s.count }
    }
}

/// What orders a state among others and says whether it can be merged with them.
#[derive(Debug, PartialEq)]
struct Head {
    settings: Settings,
    arguments: Vec<String>,
    shards: Option<Span>,
}

impl Head {
    fn of(body: &Body) -> Head {
        Head { settings: body.settings.clone(), arguments: body.arguments.clone(), shards: body.shards }
    }
}

/// The states merged.
#[derive(Debug)]
pub struct Merged {
    pub settings: Settings,
    pub arguments: Vec<String>,
    pub arguments_failed: bool,
    /// The states whose run could not read one of its arguments.
    pub failed_runs: Vec<PathBuf>,
    pub inputs: Vec<InputInfo>,
    pub aggregate: Aggregate,
    /// The shards covered, when the states are shards and leave no gap between them.
    pub shards: Option<Span>,
    /// How many shards the archive was cut into, for states of `--shard` runs.
    pub shards_of: Option<u32>,
    /// Shards that no state covers (none for states without shards).
    pub missing: Vec<u32>,
}

/// Merges the states at `paths`: the result is what one run over their inputs would have
/// built. States of `--shard` runs are put in shard order (their inputs' order), whatever the
/// order given; other states are taken in the order given.
pub fn merge(paths: &[PathBuf]) -> Result<Merged, StateError> {
    let paths = expand(paths)?;
    // Read twice: first what orders and checks the states, then each state in turn, so that
    // memory holds one state and the merge, whatever the number of shards.
    let mut states = Vec::with_capacity(paths.len());
    for path in &paths {
        states.push((path.clone(), Head::of(&load(path)?)));
    }
    let Some((first_path, first)) = states.first() else { return Err(StateError::Empty) };
    let first_shards = first.shards;
    for (path, body) in &states[1..] {
        let difference =
            body.settings.difference(&first.settings).or_else(|| match (body.shards, first_shards) {
                (Some(a), Some(b)) if a.of != b.of => {
                    Some((format!("--shard …/{}", a.of), format!("--shard …/{}", b.of)))
                }
                (Some(_), Some(_)) if body.arguments != first.arguments => {
                    Some((quote(&body.arguments), quote(&first.arguments)))
                }
                (Some(_), None) => Some(("--shard".into(), "no --shard".into())),
                (None, Some(_)) => Some(("no --shard".into(), "--shard".into())),
                _ => None,
            });
        if let Some((theirs, first)) = difference {
            return Err(StateError::Mismatch {
                path: path.clone(),
                theirs,
                first_path: first_path.clone(),
                first,
            });
        }
    }
    let mut missing = Vec::new();
    let mut shards = first_shards;
    if let Some(span) = first_shards {
        states.sort_by_key(|(_, b)| b.shards.map(|s| s.from));
        let mut next = 0;
        for (i, (path, body)) in states.iter().enumerate() {
            let s = body.shards.unwrap_or(span);
            if s.from < next {
                let other = states[..i].iter().rev().find(|(_, b)| b.shards.is_some_and(|o| o.to > s.from));
                return Err(StateError::Overlap {
                    path: path.clone(),
                    other: other.map_or_else(PathBuf::new, |(p, _)| p.clone()),
                });
            }
            if s.from > next && i > 0 {
                shards = None;
            }
            missing.extend(next..s.from);
            next = s.to;
        }
        missing.extend(next..span.of);
        let (lo, hi) = (states[0].1.shards.unwrap_or(span).from, next);
        shards = shards.map(|_| Span { from: lo, to: hi, of: span.of });
    }
    let mut merged: Option<Merged> = None;
    let mut chunks = 0u64;
    for (path, head) in states {
        let body = load(&path)?;
        if Head::of(&body) != head {
            return Err(StateError::Damaged { path, why: "changed while being merged".into() });
        }
        let mut agg = Aggregate::from_saved(body.aggregate)
            .map_err(|e| StateError::Damaged { path: path.clone(), why: e.to_string() })?;
        let failed_run = body.arguments_failed.then(|| path.clone());
        let Some(m) = &mut merged else {
            chunks = agg.chunks_used();
            merged = Some(Merged {
                settings: body.settings,
                arguments: body.arguments,
                arguments_failed: body.arguments_failed,
                failed_runs: failed_run.into_iter().collect(),
                inputs: body.inputs,
                aggregate: agg,
                shards,
                shards_of: first_shards.map(|s| s.of),
                missing: std::mem::take(&mut missing),
            });
            continue;
        };
        let used = agg.chunks_used();
        let sources = u32::try_from(m.inputs.len()).unwrap_or(u32::MAX);
        agg.shift(chunks, sources);
        chunks += used;
        m.aggregate.merge(agg);
        // Shards of one run share its arguments; other states each had their own.
        if first_shards.is_none() {
            m.arguments.extend(body.arguments);
        }
        m.arguments_failed |= body.arguments_failed;
        m.failed_runs.extend(failed_run);
        m.inputs.extend(body.inputs);
    }
    merged.ok_or(StateError::Empty)
}

/// The state files named: a directory stands for its `*.state` files, by name (a distroless
/// image has no shell to expand a glob; a Job's merge step names the volume).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, StateError> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let io_err = |source| StateError::Io { path: path.clone(), source };
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io_err)?;
        found.retain(|p| p.extension().is_some_and(|e| e == "state") && p.is_file());
        if found.is_empty() {
            return Err(StateError::NoStates { dir: path.clone() });
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Runs `f` over loaded states; a panic in it is an error naming `path`. This build's states
/// always hold together, and `Aggregate::from_saved` checks what an index or count relies on;
/// a hand-made state could still contradict itself where no check looks, and a merge must end
/// with a message, not a crash. The panic's own message is kept off stderr meanwhile.
pub fn guarded<T>(path: &Path, f: impl FnOnce() -> T) -> Result<T, StateError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        StateError::Damaged {
            path: path.to_path_buf(),
            why: format!("its numbers contradict each other: {why}"),
        }
    })
}

fn quote(arguments: &[String]) -> String {
    format!("the arguments '{}'", arguments.join(" "))
}

/// Missing shard numbers said briefly: `3, 5-7 and 9`.
pub fn say_shards(numbers: &[u32]) -> String {
    let mut runs: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        runs.push(if j == i { numbers[i].to_string() } else { format!("{}-{}", numbers[i], numbers[j]) });
        i = j + 1;
    }
    match runs.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => runs.concat(),
    }
}

/// The body a run saves.
pub fn body(
    settings: Settings,
    arguments: Vec<String>,
    arguments_failed: bool,
    inputs: Vec<InputInfo>,
    shards: Option<Span>,
    agg: &Aggregate,
) -> Body {
    Body { settings, arguments, arguments_failed, inputs, shards, aggregate: agg.to_saved() }
}
