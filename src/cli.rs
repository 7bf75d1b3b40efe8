//! Command-line flags (clap derive), and what is generated from them: the shell completion
//! scripts and the manual page (`completions`, `man`). `crate::config` validates the flags into
//! a `Config`, and nothing past that boundary sees clap.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum, ValueHint};
use clap_complete::Shell;

use crate::report::{Color, Format};
use crate::summary::UpstreamSort;
use crate::trace::Output as TraceOutput;

/// The examples that end `--help` (and make the manual's EXAMPLES): what each does, then its
/// commands. They are printed through the help template, which clap does not wrap, because
/// `after_long_help` is wrapped to the terminal's width and a command cut inside its quotes no
/// longer runs when pasted. Kept under 80 columns so that they fit a usual terminal too.
pub const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "Pipe a proxy's logs in (the istio-proxy container, not the app's):",
        &["kubectl logs deploy/checkout -c istio-proxy --since=1h | envoy-triage"],
    ),
    (
        "Several pods at once, keeping the pod name (tells gateways from sidecars):",
        &["kubectl logs -l app=checkout -c istio-proxy --prefix --tail=-1 | envoy-triage"],
    ),
    (
        "Files and directories (walked recursively), plain, gzip or zstd (by content):",
        &["envoy-triage /var/log/pods/", "envoy-triage archive/*.log.gz --output json > triage.json"],
    ),
    (
        "Watch live: follow files like tail -F (survives rotation), or a stream:",
        &[
            "envoy-triage --follow '/var/log/pods/*/istio-proxy/*.log'",
            "kubectl logs -f deploy/checkout -c istio-proxy | envoy-triage --interval 5",
        ],
    ),
    (
        "Which hop failed? One request across gateway and sidecars, by x-request-id:",
        &[
            "envoy-triage trace fd6eb3c7-bdb0-455b-8206-513d90478c8a logs/",
            "envoy-triage trace -e ID1 -e ID2 logs/ -o json | jq .origin",
        ],
    ),
    (
        "A custom access-log format (the string from meshConfig.accessLogFormat):",
        &["envoy-triage --format '%START_TIME% %RESPONSE_CODE% %RESPONSE_FLAGS%' app.log"],
    ),
    (
        "Fail a CI step or an alert when a condition holds (exit code 1):",
        &[
            "envoy-triage logs/ --fail-on 'rate(5xx) > 1%' --fail-on 'code(504) > 0'",
            "envoy-triage logs/ --fail-on 'p99(duration) > 2s'",
        ],
    ),
    (
        "Narrow: the last 15 minutes of the log (not of now), one namespace's 5xx:",
        &["envoy-triage archive/ --since 15m --namespace shop --code 5xx --sort fail-rate"],
    ),
    (
        "An archive in 16 shards, run anywhere (a Job, xargs -P), then merged:",
        &[
            "envoy-triage archive/ --shard 3/16 --save-state states/3.state",
            "envoy-triage merge states/ -o html > report.html",
        ],
    ),
    (
        "Tab completion and this manual (the README's Install says where, per shell):",
        &[
            "envoy-triage completions fish > ~/.config/fish/completions/envoy-triage.fish",
            "envoy-triage man > ~/.local/share/man/man1/envoy-triage.1",
        ],
    ),
    ("A file named like a subcommand (explain, trace, man, …): give its path:", &["envoy-triage ./man"]),
];

/// The prose after the examples in `--help` (wrapped by clap) and the manual's NOTES.
pub const NOTES: &str = "\
Live mode (--follow, or a streaming stdin on a terminal or with --output ndjson) refreshes the \
report every --interval; Ctrl-C (SIGINT), SIGTERM or the end of input print the final report.

Exit codes: 0 success, 1 a --fail-on condition was met, 2 error (unreadable input, bad flag); the \
report is still printed for the inputs that could be read.";

/// clap's default layout with the examples between the options and `after_help`.
fn help_template() -> String {
    let header = clap::builder::Styles::default().get_header().to_owned();
    let mut t = format!(
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{{all-args}}\n\n\
         {header}Examples:{header:#}"
    );
    for (i, (what, commands)) in EXAMPLES.iter().enumerate() {
        t.push_str(if i == 0 { "\n" } else { "\n\n" });
        t.push_str(&format!("  # {what}"));
        for command in *commands {
            t.push_str(&format!("\n  {command}"));
        }
    }
    t + "{after-help}"
}

/// Turns Envoy and Istio access logs into answers: what is failing, where, why, and what to run
/// next.
///
/// Reads Envoy's default format, every Istio text layout, Istio JSON and any custom
/// %OPERATOR% format, with kubectl, stern, kail, CRI, docker and docker compose wrappers,
/// detected line by line.
#[derive(Debug, Parser)]
#[command(
    name = "envoy-triage",
    version,
    help_template = help_template(),
    after_long_help = NOTES,
    after_help = "Run with --help for live mode and exit codes.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Access-log files (plain, gzip or zstd) or directories (walked recursively); `-` or none
    /// reads stdin.
    ///
    /// A file named like a command (explain, trace, completions, man) is read when given as a path:
    /// `./man`.
    #[arg(value_hint = ValueHint::AnyPath)]
    pub files: Vec<PathBuf>,

    /// Report format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    /// Log format: auto (detect per line), envoy, istio, json, or an Envoy format string.
    #[arg(short = 'F', long, default_value = "auto", value_name = "FORMAT")]
    pub format: String,

    /// Worker threads, 1 to 1024; they read plain files themselves (stdin, pipes and gzip get
    /// one more thread that reads) [default: the cores available].
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Incidents and upstreams listed in the table.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Tell every incident listed in full (evidence, why, what to look at, what to run), not
    /// only the first three.
    #[arg(short, long)]
    pub verbose: bool,

    /// Order of the upstream table (and of the JSON `upstreams`), largest first.
    #[arg(long, value_enum, default_value_t = UpstreamSort::Failed, value_name = "BY")]
    pub sort: UpstreamSort,

    /// Distinct upstream clusters tracked before the rest are folded into `(other)` (at most
    /// 1000000).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_clusters: usize,

    /// Follow files like `tail -F`: keep reading, survive rotation, pick up new files matching
    /// a quoted glob.
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// With --follow, read what the files already hold first (default: start at their end).
    #[arg(long, requires = "follow")]
    pub from_start: bool,

    /// In live mode (--follow, or a stream on stdin), serve Prometheus metrics on this address
    /// (`:9464`, `127.0.0.1:9464`, `[::]:9464`): GET /metrics and /healthz (docs/metrics.md).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Seconds between live refreshes, 0.001 to 86400 (decimals allowed, e.g. 0.5).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub interval: f64,

    /// Live mode on a terminal: redraw the plain table report instead of the full-screen
    /// dashboard (also the default when TERM=dumb).
    #[arg(long)]
    pub no_dashboard: bool,

    /// Also save what this run found to FILE, for `envoy-triage merge` to combine with the states
    /// of the other shards of an archive, exactly (batch runs; docs/merge.md).
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, conflicts_with_all = ["follow", "listen"])]
    pub save_state: Option<PathBuf>,

    /// Read only shard INDEX of COUNT (INDEX from 0, as a Kubernetes Indexed Job numbers its
    /// pods): the inputs, expanded and in order, cut into COUNT runs of about equal bytes. With
    /// --save-state, `envoy-triage merge` puts the shards back in order.
    #[arg(long, value_name = "INDEX/COUNT", value_parser = crate::source::Shard::parse, conflicts_with = "follow")]
    pub shard: Option<crate::source::Shard>,

    /// Exit with code 1 when this condition holds, e.g. 'rate(5xx) > 1%',
    /// 'count(cause:tls_failure) > 0' or 'p99(duration) > 2s' (repeatable; see docs/fail-on.md).
    #[arg(long, value_name = "EXPR")]
    pub fail_on: Vec<String>,

    /// When to use colours (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,

    /// Only requests that started at or after TIME: RFC 3339 (2026-11-25T02:30:00Z; no zone =
    /// UTC), or a span (10m, 1h30m, 2d) back from the log's last record (from now when live).
    #[arg(long, value_name = "TIME", help_heading = "Filters", allow_hyphen_values = true)]
    pub since: Option<String>,

    /// Only requests that started before TIME (same forms as --since).
    #[arg(long, value_name = "TIME", help_heading = "Filters", allow_hyphen_values = true)]
    pub until: Option<String>,

    /// Only records logged by a pod in NS (wrapper or kubelet path), or calling a service in NS
    /// (outbound|…||svc.NS.svc.cluster.local) (repeatable).
    #[arg(long, value_name = "NS", help_heading = "Filters")]
    pub namespace: Vec<String>,

    /// Only upstream clusters matching GLOB, e.g. '*reviews*', 'outbound|9080||*' (repeatable).
    #[arg(long, value_name = "GLOB", help_heading = "Filters")]
    pub upstream: Vec<String>,

    /// Only these response codes: 503, 5xx, 0 (no response); comma list or repeated.
    #[arg(long, value_name = "CODES", help_heading = "Filters")]
    pub code: Vec<String>,

    /// Only failures of this cause, as in the JSON (route_timeout, tls_failure, …; repeatable).
    #[arg(long, value_name = "CAUSE", help_heading = "Filters")]
    pub cause: Vec<String>,

    /// Only records logged by: gateway, client_sidecar, server_sidecar, unknown (repeatable).
    #[arg(long, value_name = "WHO", help_heading = "Filters")]
    pub reporter: Vec<String>,
}

/// The subcommands' names (for "did you mean" when a file argument is not found).
pub const SUBCOMMANDS: [&str; 5] = ["explain", "trace", "merge", "completions", "man"];

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain access-log lines in plain words: every field, flag and detail, who logged it,
    /// the cause and the next step. Lines as arguments, from files, or on stdin.
    ///
    /// Example: envoy-triage explain '[2025-01-01T10:00:00.000Z] "GET /api HTTP/1.1" 503 UF …'
    Explain {
        /// The lines to explain (each argument is one line); when every argument names an
        /// existing file (or is `-`, stdin), their lines are read instead; none reads stdin.
        lines: Vec<String>,
        /// Log format, as for the main command.
        #[arg(short = 'F', long, default_value = "auto", value_name = "FORMAT")]
        format: String,
    },
    /// Trace requests across hops: every record of a request id (x-request-id) across files and
    /// pods, in hop order (gateway → client sidecar → server sidecar), and the hop where its
    /// failure originated, with why.
    ///
    /// As in ripgrep, the first argument is the request id and the others are inputs; with -e,
    /// every argument is an input. Inputs are read as by the main command (files, directories,
    /// gzip, zstd, kubectl/stern/CRI wrappers); none or `-` reads stdin. Records without a
    /// request id are attached by address and time. Exit code 0 when every id was found, 1 when
    /// one was not (said on stderr), 2 on error.
    ///
    /// Example: envoy-triage trace fd6eb3c7-bdb0-455b-8206-513d90478c8a logs/
    Trace {
        /// The request id to trace (`%REQ(X-REQUEST-ID)%`); with -e, the first input instead.
        #[arg(value_name = "REQUEST-ID", required_unless_present = "ids")]
        id: Option<OsString>,
        /// Access-log files or directories; `-` or none reads stdin.
        #[arg(value_name = "PATH", value_hint = ValueHint::AnyPath)]
        paths: Vec<PathBuf>,
        /// A request id to trace (repeatable); every argument is then an input.
        #[arg(short = 'e', long = "id", value_name = "ID")]
        ids: Vec<String>,
        /// How traces are written.
        #[arg(short, long, value_enum, default_value_t = TraceOutput::Table)]
        output: TraceOutput,
        /// Log format, as for the main command.
        #[arg(short = 'F', long, default_value = "auto", value_name = "FORMAT")]
        format: String,
        /// Worker threads, as for the main command [default: the cores available].
        #[arg(short = 'j', long, value_name = "N")]
        threads: Option<usize>,
    },
    /// Merge the states that runs with --save-state wrote (shards of an archive, run anywhere)
    /// into one report: the same, byte for byte, as one run over all their inputs (states of
    /// --shard runs in shard order, others in the order given).
    ///
    /// States merge when made by this version with the same --format, --max-clusters and
    /// filters. Report options are given here; --save-state saves the merged state (merge in a
    /// tree). Exit codes as for the main command.
    ///
    /// Example: envoy-triage merge shards/*.state --output json > triage.json
    Merge(MergeArgs),
    /// Print the completion script for a shell to stdout.
    ///
    /// e.g. `envoy-triage completions bash > ~/.local/share/bash-completion/completions/envoy-triage`
    /// (README, Install, says where each shell looks).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the manual page (roff) to stdout.
    ///
    /// e.g. `envoy-triage man > ~/.local/share/man/man1/envoy-triage.1`, or read it at once with
    /// `envoy-triage man | man -l -`.
    Man,
}

/// `envoy-triage merge`'s arguments.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// State files, or directories of them (their *.state files). States of --shard runs are
    /// put in shard order; others are taken in the order given (a directory's by name).
    #[arg(value_name = "STATE", required = true, value_hint = ValueHint::FilePath)]
    pub states: Vec<PathBuf>,
    /// Report format (not records or parquet: those are written by each shard's run).
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Incidents and upstreams listed in the table.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Tell every incident listed in full.
    #[arg(short, long)]
    pub verbose: bool,
    /// Order of the upstream table (and of the JSON `upstreams`), largest first.
    #[arg(long, value_enum, default_value_t = UpstreamSort::Failed, value_name = "BY")]
    pub sort: UpstreamSort,
    /// Exit with code 1 when this condition holds (repeatable; as for the main command).
    #[arg(long, value_name = "EXPR")]
    pub fail_on: Vec<String>,
    /// When to use colours (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,
    /// Also save the merged state to FILE.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub save_state: Option<PathBuf>,
}

/// The completion script for `shell`, generated from the flags above so that it never drifts.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "envoy-triage", &mut script);
    script
}

/// The manual page (roff): clap_mangen's sections for the flags, then the commands, the
/// examples, set unfilled so that each command stays on its line, and the notes.
pub fn man_page() -> Vec<u8> {
    use roff::{Roff, bold, roman};
    let man = clap_mangen::Man::new(Cli::command());
    let mut page = Vec::new();
    // Writing into a Vec cannot fail.
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    let mut extra = Roff::new();
    // clap_mangen's own list points at a page per command (envoy-triage-explain(1)), which
    // this one page does not come with.
    extra.control("SH", ["COMMANDS"]);
    let cli = Cli::command();
    for command in cli.get_subcommands().filter(|c| c.get_name() != "help") {
        // The short line: the commands' long help holds examples, which filled text would cut.
        let about = command.get_about().map(|a| a.to_string());
        extra.control("TP", []).text([bold(format!("envoy-triage {}", command.get_name()))]);
        extra.text([roman(about.unwrap_or_default())]);
    }
    extra.control("SH", ["EXAMPLES"]);
    for (what, commands) in EXAMPLES {
        extra.control("PP", []).text([roman(*what)]);
        extra.control("RS", ["4"]).control("nf", []);
        for command in *commands {
            extra.text([bold(*command)]);
        }
        extra.control("fi", []).control("RE", []);
    }
    extra.control("SH", ["NOTES"]);
    for paragraph in NOTES.split("\n\n") {
        extra.control("PP", []).text([roman(paragraph)]);
    }
    extra.to_writer(&mut page).unwrap();
    man.render_version_section(&mut page).unwrap();
    page
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
            Format::Parquet => PossibleValue::new("parquet").help(
                "Every record with its cause as an Apache Parquet file on stdout (redirect it: `> records.parquet`), \
                 typed, for DuckDB, ClickHouse, Spark; see docs/parquet.md",
            ),
            Format::Html => PossibleValue::new("html").help(
                "One self-contained HTML page with charts, to look at and to share (redirect it: `> report.html`); \
                 see docs/html-report.md",
            ),
        })
    }
}

impl ValueEnum for TraceOutput {
    fn value_variants<'a>() -> &'a [Self] {
        &TraceOutput::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            TraceOutput::Table => PossibleValue::new("table")
                .help("Each request: its hops in order, one line each, then where its failure originated"),
            TraceOutput::Json => PossibleValue::new("json")
                .help("One JSON object per line per request id, with its hops and origin (docs/trace.md)"),
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

impl ValueEnum for UpstreamSort {
    fn value_variants<'a>() -> &'a [Self] {
        &UpstreamSort::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(match self {
            UpstreamSort::Failed => "Failed requests (the incident first)",
            UpstreamSort::Requests => "Requests (the busiest first)",
            UpstreamSort::FailRate => "Failed share of requests",
            UpstreamSort::P99 => "p99 duration (the slowest first)",
        }))
    }
}
