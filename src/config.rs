//! Validated settings, built from the flags. Errors name the flag and say what is accepted.

use std::path::PathBuf;

use crate::cli::{Cli, ColorWhen, OutputKind};
use crate::format::FormatChoice;
use crate::pipeline::PipelineConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--format: {0}")]
    Format(#[from] crate::format::FormatError),
    #[error("--threads must be at least 1")]
    Threads,
    #[error("--max-clusters must be at least 1")]
    MaxClusters,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub files: Vec<PathBuf>,
    pub output: OutputKind,
    pub top: usize,
    pub color: ColorWhen,
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
        Ok(Config { files: cli.files, output: cli.output, top: cli.top, color: cli.color, pipeline })
    }
}
