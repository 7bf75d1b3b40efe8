//! Command-line flags (clap derive). Only flags live here; `crate::config` validates them into
//! a `Config`, and nothing past that boundary sees clap.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Parser, Subcommand, ValueEnum};

use crate::report::{Color, Format};

const EXAMPLES: &str = "\
Examples:
  # Pipe a proxy's logs in (the istio-proxy container, not the app's):
  kubectl logs deploy/checkout -c istio-proxy --since=1h | envoy-triage

  # Several pods at once, keeping the pod name (helps tell gateways from sidecars):
  kubectl logs -l app=checkout -c istio-proxy --prefix --timestamps | envoy-triage

  # Files and directories (walked recursively), plain, gzip or zstd (detected by content):
  envoy-triage /var/log/pods/
  envoy-triage archive/*.log.gz --output json > triage.json

  # Watch live: follow files like tail -F (rotation survived), or a streaming pipe:
  envoy-triage --follow '/var/log/pods/*/istio-proxy/*.log'
  kubectl logs -f deploy/checkout -c istio-proxy | envoy-triage --interval 5

  # A custom access-log format (the string from meshConfig.accessLogFormat):
  envoy-triage --format '[%START_TIME%] %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %DURATION%' app.log

Live mode (--follow, or a streaming stdin on a terminal or with --output ndjson) refreshes the
report every --interval; Ctrl-C (SIGINT), SIGTERM or the end of input print the final report.

  # Fail a CI step or an alert when a condition holds (exit code 1):
  envoy-triage logs/ --fail-on 'rate(5xx) > 1%' --fail-on 'cause(tls_failure) > 0'

Exit codes: 0 success, 1 a --fail-on condition was met, 2 error (unreadable input, bad flag); the
report is still printed for the inputs that could be read.";

/// Turns Envoy and Istio access logs into answers: what is failing, where, why, and what to run
/// next.
///
/// Reads Envoy's default format, every Istio text layout, Istio JSON and any custom
/// %OPERATOR% format, with kubectl, stern, CRI and docker wrappers, detected line by line.
#[derive(Debug, Parser)]
#[command(
    name = "envoy-triage",
    version,
    after_long_help = EXAMPLES,
    after_help = "Run with --help for examples.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Access-log files (plain, gzip or zstd) or directories (walked recursively); `-` or none
    /// reads stdin.
    pub files: Vec<PathBuf>,

    /// Report format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    /// Log format: auto (detect per line), envoy, istio, json, or an Envoy format string.
    #[arg(short = 'F', long, default_value = "auto", value_name = "FORMAT")]
    pub format: String,

    /// Worker threads; they read plain files themselves (stdin, pipes and gzip get one more
    /// thread that reads) [default: the cores available].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Findings and upstreams shown in the table.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Distinct upstream clusters tracked before the rest are folded into `(other)`.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_clusters: usize,

    /// Follow files like `tail -F`: keep reading, survive rotation, pick up new files matching
    /// a quoted glob.
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// With --follow, read what the files already hold first (default: start at their end).
    #[arg(long, requires = "follow")]
    pub from_start: bool,

    /// Seconds between live refreshes (decimals allowed, e.g. 0.5).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub interval: f64,

    /// Exit with code 1 when this condition holds, e.g. 'rate(5xx) > 1%' or
    /// 'count(cause:tls_failure) > 0' (repeatable; see docs/fail-on.md).
    #[arg(long, value_name = "EXPR")]
    pub fail_on: Vec<String>,

    /// When to use colours (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain access-log lines in plain words: every field, flag and detail, who logged it,
    /// the cause and the next step. Lines as arguments, or on stdin.
    ///
    /// Example: envoy-triage explain '[2025-01-01T10:00:00.000Z] "GET /api HTTP/1.1" 503 UF …'
    Explain {
        /// The lines to explain (each argument is one line); none reads stdin.
        lines: Vec<String>,
        /// Log format, as for the main command.
        #[arg(short = 'F', long, default_value = "auto", value_name = "FORMAT")]
        format: String,
    },
}

// The report's own enums, spelled and explained for the command line here, so that the core
// knows nothing of clap. The matches have no wildcard: a new output does not compile until it
// has its flag value and help.
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &Format::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Format::Table => PossibleValue::new("table")
                .help("A first screen for people: totals, top findings with their fix, upstreams"),
            Format::Json => {
                PossibleValue::new("json").help("The versioned JSON contract (docs/json-contract.md)")
            }
            Format::Ndjson => PossibleValue::new("ndjson").help(
                "Live: one JSON object per tick (`\"type\":\"tick\"`) and a final `\"type\":\"summary\"`",
            ),
            Format::Records => PossibleValue::new("records").help(
                "One JSON object per record, every field under stable names, with its cause (for jq, DuckDB, \
                 ClickHouse); see docs/records.md",
            ),
        })
    }
}

impl ValueEnum for Color {
    fn value_variants<'a>() -> &'a [Self] {
        &Color::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            Color::Auto => "auto",
            Color::Always => "always",
            Color::Never => "never",
        }))
    }
}
