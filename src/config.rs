//! Validated settings, built from the flags. Errors name the flag and say what is accepted.

use std::path::PathBuf;

use crate::cli::Cli;
use crate::filter::{FilterArgs, FilterSpec};
use crate::format::FormatChoice;
use crate::pipeline::PipelineConfig;
use crate::report::ReportOptions;
use crate::summary::View;
use crate::trace::{Output, TraceConfig};

/// Most worker threads `--threads` takes. A fixed number, not a multiple of this machine's
/// cores, so that a command line means the same on a laptop and in CI; above the hardware
/// threads of today's largest servers (a few hundred), so it never stops a real use. Each
/// worker keeps its own state and up to two chunks (~1 MiB each) in flight, so the cap also
/// bounds what a typo (`-j 20000`) costs before anything is read.
pub const MAX_THREADS: usize = 1024;

/// Most upstream clusters `--max-clusters` takes. Each worker tracks up to this many, with
/// latency histograms each: a million is already far more than a mesh has, and a bigger
/// number only lets memory grow without bound on hostile input.
pub const MAX_CLUSTERS: usize = 1_000_000;

/// Shortest `--interval`, in seconds: the timer's resolution (tokio's wheel ticks in
/// milliseconds), so a shorter one was not honoured but ran refreshes back to back, each
/// merging every worker's state. Not higher: tests/integration/follow.rs refreshes every 2 ms
/// to land signals during a refresh.
pub const MIN_INTERVAL: f64 = 0.001;

/// Longest `--interval`, in seconds (a day).
pub const MAX_INTERVAL: f64 = 86_400.0;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--format: {0}")]
    Format(#[from] crate::format::FormatError),
    #[error("--threads must be from 1 to {MAX_THREADS} (got {0})")]
    Threads(usize),
    #[error("--max-clusters must be from 1 to {MAX_CLUSTERS} (got {0})")]
    MaxClusters(usize),
    #[error("--interval must be a number of seconds from {MIN_INTERVAL} to {MAX_INTERVAL} (a day) (got {0})")]
    Interval(f64),
    #[error("--follow needs files, directories or quoted glob patterns to follow")]
    FollowWithoutFiles,
    #[error("{0}")]
    Listen(String),
    #[error(transparent)]
    FailOn(#[from] crate::failon::FailOnError),
    #[error(transparent)]
    Filter(#[from] crate::filter::FilterError),
    #[error(
        "--save-state needs absolute times (--since 2026-11-25T02:30:00Z): each shard would count \
         --{0} back from its own last record, and the states would not merge into one report"
    )]
    RelativeWithState(&'static str),
    #[error(
        "merge writes reports: --output {0} is written record by record as a run reads its inputs \
         (give it to each shard's run, beside --save-state)"
    )]
    MergeRecords(&'static str),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub files: Vec<PathBuf>,
    pub follow: bool,
    pub from_start: bool,
    /// Live mode may take the terminal for the dashboard (`--no-dashboard` says no).
    pub dashboard: bool,
    pub interval: std::time::Duration,
    /// `--fail-on` conditions: (as written, parsed).
    pub fail_on: Vec<(String, crate::failon::Expr)>,
    pub report: ReportOptions,
    pub pipeline: PipelineConfig,
    /// `--format` as written, when it was given (not `auto`): said back if it read nothing.
    pub forced_format: Option<String>,
    /// The filter flags, checked; relative times are resolved when the run starts
    /// (`crate::app`), into `pipeline.filter` and `view.filters`.
    pub filter: Option<FilterSpec>,
    /// How the summary is shown (`--sort`; the filters once resolved).
    pub view: View,
    /// `--listen`: where live mode serves its metrics (checked to be an address).
    pub listen: Option<String>,
    /// `--save-state`: where a batch run saves its state (`crate::state`).
    pub save_state: Option<PathBuf>,
    /// `--shard`: the share of the inputs this run reads.
    pub shard: Option<crate::source::Shard>,
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Config, ConfigError> {
        let format = FormatChoice::parse(&cli.format)?;
        let mut pipeline = PipelineConfig {
            format,
            max_clusters: cli.max_clusters,
            // Only the HTML report draws failures over time: off, the timeline costs nothing.
            // A state is kept whole (`crate::state`): any report can be made from it later.
            timeline: cli.output == crate::report::Format::Html || cli.save_state.is_some(),
            ..PipelineConfig::default()
        };
        if let Some(t) = cli.threads {
            if !(1..=MAX_THREADS).contains(&t) {
                return Err(ConfigError::Threads(t));
            }
            pipeline.threads = t;
        }
        if !(1..=MAX_CLUSTERS).contains(&cli.max_clusters) {
            return Err(ConfigError::MaxClusters(cli.max_clusters));
        }
        // NaN fails the range test too.
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&cli.interval) {
            return Err(ConfigError::Interval(cli.interval));
        }
        if cli.follow && cli.files.is_empty() {
            return Err(ConfigError::FollowWithoutFiles);
        }
        let fail_on = cli
            .fail_on
            .iter()
            .map(|e| crate::failon::Expr::parse(e).map(|x| (e.clone(), x)))
            .collect::<Result<Vec<_>, _>>()?;
        let forced_format = (cli.format != "auto").then(|| cli.format.clone());
        let filter = FilterSpec::parse(&FilterArgs {
            since: cli.since,
            until: cli.until,
            namespace: cli.namespace,
            upstream: cli.upstream,
            code: cli.code,
            cause: cli.cause,
            reporter: cli.reporter,
        })?;
        if let Some(spec) = filter.as_ref().filter(|f| f.is_relative() && cli.save_state.is_some()) {
            let relative = |t: &Option<(String, crate::filter::TimeSpec)>| {
                matches!(t, Some((_, crate::filter::TimeSpec::Ago(_))))
            };
            return Err(ConfigError::RelativeWithState(if relative(&spec.since) {
                "since"
            } else {
                "until"
            }));
        }
        if let Some(addr) = &cli.listen {
            crate::metrics::http::parse_addr(addr).map_err(ConfigError::Listen)?;
        }
        Ok(Config {
            forced_format,
            listen: cli.listen,
            fail_on,
            report: ReportOptions {
                format: cli.output,
                top: cli.top,
                color: cli.color,
                verbose: cli.verbose,
                inputs: cli.files.iter().map(|f| f.to_string_lossy().into_owned()).collect(),
            },
            files: cli.files,
            follow: cli.follow,
            from_start: cli.from_start,
            dashboard: !cli.no_dashboard,
            interval: std::time::Duration::from_secs_f64(cli.interval),
            pipeline,
            filter,
            view: View { sort: cli.sort, filters: None },
            save_state: cli.save_state,
            shard: cli.shard,
        })
    }
}

/// Why `trace`'s arguments were refused.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("a request id cannot be empty")]
    EmptyId,
    /// (Escaped where it is printed, as every argument error is.)
    #[error(
        "'{0}' is a path, not a request id: give the id first (envoy-triage trace <REQUEST-ID> {0}), or ids with -e"
    )]
    IdIsAPath(String),
}

/// `envoy-triage merge`'s config: the report options given to it; what shaped the analysis
/// (format, filters) comes from the states (`crate::app::merge`).
pub fn merge_config(args: crate::cli::MergeArgs) -> Result<(Config, Vec<PathBuf>), ConfigError> {
    use crate::report::Format;
    match args.output {
        Format::Records => return Err(ConfigError::MergeRecords("records")),
        Format::Parquet => return Err(ConfigError::MergeRecords("parquet")),
        Format::Table | Format::Json | Format::Ndjson | Format::Html => {}
    }
    let fail_on = args
        .fail_on
        .iter()
        .map(|e| crate::failon::Expr::parse(e).map(|x| (e.clone(), x)))
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config {
        files: Vec::new(),
        follow: false,
        from_start: false,
        dashboard: false,
        interval: std::time::Duration::from_secs(2),
        fail_on,
        report: ReportOptions {
            format: args.output,
            top: args.top,
            color: args.color,
            verbose: args.verbose,
            inputs: Vec::new(),
        },
        pipeline: PipelineConfig::default(),
        forced_format: None,
        filter: None,
        view: View { sort: args.sort, filters: None },
        listen: None,
        save_state: args.save_state,
        shard: None,
    };
    Ok((config, args.states))
}

/// From `trace`'s flags: `id` is the first positional argument, a path when ids come with
/// `-e` (ripgrep's rule for its pattern).
pub fn trace_config(
    id: Option<std::ffi::OsString>,
    mut files: Vec<PathBuf>,
    given: Vec<String>,
    output: Output,
    format: &str,
    threads: Option<usize>,
) -> Result<TraceConfig, TraceError> {
    let mut pipeline = PipelineConfig {
        format: crate::format::FormatChoice::parse(format).map_err(ConfigError::from)?,
        ..PipelineConfig::default()
    };
    if let Some(t) = threads {
        if !(1..=MAX_THREADS).contains(&t) {
            return Err(ConfigError::Threads(t).into());
        }
        pipeline.threads = t;
    }
    let mut ids = given;
    match id {
        Some(first) if !ids.is_empty() => files.insert(0, PathBuf::from(first)),
        // `trace logs/` forgot the id: it would read stdin for a request named `logs/`.
        Some(first) if files.is_empty() && std::path::Path::new(&first).exists() => {
            return Err(TraceError::IdIsAPath(first.to_string_lossy().into_owned()));
        }
        Some(first) => ids.push(first.to_string_lossy().into_owned()),
        None => {}
    }
    if ids.iter().any(String::is_empty) {
        return Err(TraceError::EmptyId);
    }
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Ok(TraceConfig { ids, files, output, pipeline })
}
