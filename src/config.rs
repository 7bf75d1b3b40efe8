//! Validated settings, built from the flags. Errors name the flag and say what is accepted.

use std::path::PathBuf;

use crate::cli::Cli;
use crate::format::FormatChoice;
use crate::pipeline::PipelineConfig;
use crate::report::ReportOptions;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--format: {0}")]
    Format(#[from] crate::format::FormatError),
    #[error("--threads must be at least 1")]
    Threads,
    #[error("--max-clusters must be at least 1")]
    MaxClusters,
    #[error("--interval must be a number of seconds greater than 0 (got {0})")]
    Interval(f64),
    #[error("--follow needs files, directories or quoted glob patterns to follow")]
    FollowWithoutFiles,
    #[error(transparent)]
    FailOn(#[from] crate::failon::FailOnError),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub files: Vec<PathBuf>,
    pub follow: bool,
    pub from_start: bool,
    pub interval: std::time::Duration,
    /// `--fail-on` conditions: (as written, parsed).
    pub fail_on: Vec<(String, crate::failon::Expr)>,
    pub report: ReportOptions,
    pub pipeline: PipelineConfig,
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Config, ConfigError> {
        let format = FormatChoice::parse(&cli.format)?;
        let mut pipeline =
            PipelineConfig { format, max_clusters: cli.max_clusters, ..PipelineConfig::default() };
        if let Some(t) = cli.threads {
            if t == 0 {
                return Err(ConfigError::Threads);
            }
            pipeline.threads = t;
        }
        if cli.max_clusters == 0 {
            return Err(ConfigError::MaxClusters);
        }
        if !(cli.interval.is_finite() && cli.interval > 0.0 && cli.interval < 86_400.0) {
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
        Ok(Config {
            fail_on,
            files: cli.files,
            follow: cli.follow,
            from_start: cli.from_start,
            interval: std::time::Duration::from_secs_f64(cli.interval),
            report: ReportOptions { format: cli.output, top: cli.top, color: cli.color },
            pipeline,
        })
    }
}
