//! Wires a validated [`Config`] to a run and ends every run the same way: batch mode here,
//! live mode in `crate::live` (which hands back what it gathered); both finish in `finish`
//! (input errors on stderr, the report through `report::emit`, the exit code): 0 success,
//! 1 a `--fail-on` condition held, 2 error (an input could not be read, or an argument gave
//! nothing to read: an empty directory; an empty file is read fine, with no records). Inputs
//! that could be read are always analysed and reported, even when another one failed. A long
//! batch run shows a progress bar on a terminal's stderr (`crate::progress`), cleared before
//! the report.

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::Config;
use crate::escape::escape_controls;
use crate::live::{self, LiveSource};
use crate::progress;
use crate::report::{self, Format, Frame};
use crate::source::batch::Progress;
use crate::source::{self, InputInfo};
use crate::state;
use crate::summary::Summary;

/// Whether stdin is a stream (pipe, socket, terminal) rather than a regular file.
fn stdin_is_stream() -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else { return false };
    std::fs::File::from(fd).metadata().is_ok_and(|m| !m.is_file())
}

pub fn run(config: &Config) -> io::Result<ExitCode> {
    let format = config.report.format;
    if format == Format::Parquet && io::IsTerminal::is_terminal(&io::stdout()) {
        eprintln!(
            "envoy-triage: --output parquet writes a binary file: redirect it (`> records.parquet`), or pipe it \
             (`| duckdb -c \"SELECT cause, count(*) FROM read_parquet('/dev/stdin') GROUP BY 1\"`)"
        );
        return Ok(ExitCode::from(2));
    }
    if config.follow {
        let config = &with_filter(config, Some(crate::pipeline::now_ms()));
        let patterns = config.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        let source =
            if patterns.iter().all(|p| p == "-") { LiveSource::Stdin } else { LiveSource::Files(patterns) };
        let ended = live::run(config, source)?;
        return finish(config, &ended.summary, &ended.infos, false, ended.frame);
    }
    let stdin_only = config.files.is_empty() || config.files.iter().all(|f| f.as_os_str() == "-");
    // Live refreshes only help someone watching: a terminal, or an NDJSON consumer.
    let watched = matches!(format, Format::Ndjson | Format::Records)
        || (format == Format::Table && io::IsTerminal::is_terminal(&io::stdout()));
    // An agent (`--listen`) streams whatever its output.
    // A run that saves its state, or reads a shard, is a batch run: it ends, and saves then.
    let batch_only = config.save_state.is_some() || config.shard.is_some();
    if stdin_only && (watched || config.listen.is_some()) && stdin_is_stream() && !batch_only {
        let config = &with_filter(config, Some(crate::pipeline::now_ms()));
        source::hint_if_typing();
        let ended = live::run(config, LiveSource::Stdin)?;
        return finish(config, &ended.summary, &ended.infos, false, ended.frame);
    }
    if config.listen.is_some() {
        eprintln!(
            "envoy-triage: --listen serves metrics in live mode only: add --follow (files), or pipe a \
             stream into stdin"
        );
        return Ok(ExitCode::from(2));
    }
    let (inputs, arguments_failed) = source::expand_and_say(&config.files, subcommand_hint);
    if inputs.is_empty() {
        // Every argument failed, each said above.
        return Ok(ExitCode::from(2));
    }
    // A shard may have no input (more shards than files): it reports and saves an empty state.
    let inputs = match config.shard {
        None => inputs,
        Some(shard) => match shard.select(inputs) {
            Ok(selected) => selected,
            Err(e) => {
                eprintln!("envoy-triage: {e}");
                return Ok(ExitCode::from(2));
            }
        },
    };
    let config = &match resolve_batch_filter(config, &inputs) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("envoy-triage: {}", escape_controls(&e.to_string()));
            return Ok(ExitCode::from(2));
        }
    };
    let output = crate::report::record_output(format, config.pipeline.threads, true);
    let counts = Arc::new(Progress::default());
    let bar = show_progress(format, &inputs)
        .then(|| progress::Bar::start(Arc::clone(&counts), progress::total_bytes(&inputs), inputs.len()));
    let ran = source::batch::run_with_output(&inputs, &config.pipeline, output, &counts);
    // Cleared before anything else is written to the terminal.
    drop(bar);
    let (agg, infos) = ran?;
    let mut failed = arguments_failed;
    if let Some(path) = &config.save_state {
        let settings = state::Settings {
            format: config.forced_format.clone().unwrap_or_else(|| "auto".into()),
            max_clusters: agg.max_clusters,
            max_groups: agg.max_groups,
            filters: config.view.filters.clone(),
        };
        let shards = config.shard.map(state::Span::from);
        let body = state::body(
            settings,
            config.report.inputs.clone(),
            arguments_failed,
            infos.clone(),
            shards,
            &agg,
        );
        failed |= saved(path, &body);
    }
    let mut summary = Summary::build(&agg, &infos);
    config.view.apply(&mut summary);
    finish(config, &summary, &infos, failed, Frame::BATCH)
}

/// Saves a state; false when done, true when it could not be (said on stderr).
fn saved(path: &std::path::Path, body: &state::Body) -> bool {
    let Err(e) = state::save(path, body) else { return false };
    eprintln!(
        "envoy-triage: --save-state {}: {}",
        escape_controls(&path.display().to_string()),
        escape_controls(&e.to_string())
    );
    true
}

/// `envoy-triage merge`: the states at `paths` merged in order, reported as one run over
/// their inputs would have been (`crate::state`).
pub fn merge(config: &Config, paths: &[std::path::PathBuf]) -> io::Result<ExitCode> {
    // Everything that reads the states' numbers runs guarded (`state::guarded`).
    let states = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ");
    let built = state::guarded(std::path::Path::new(&states), || {
        state::merge(paths).map(|m| {
            let summary = Summary::build(&m.aggregate, &m.inputs);
            (m, summary)
        })
    });
    let (merged, mut summary) = match built.and_then(|r| r) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("envoy-triage: {}", escape_controls(&e.to_string()));
            return Ok(ExitCode::from(2));
        }
    };
    for path in &merged.failed_runs {
        eprintln!(
            "envoy-triage: {}: an argument of the run that saved it could not be read (said when it ran)",
            escape_controls(&path.display().to_string())
        );
    }
    let mut config = config.clone();
    config.report.inputs = merged.arguments.clone();
    config.view.filters = merged.settings.filters.clone();
    config.forced_format = (merged.settings.format != "auto").then(|| merged.settings.format.clone());
    let mut failed = merged.arguments_failed;
    if !merged.missing.is_empty() {
        // A tree of merges saves states of some shards: only its last merge must have them all.
        failed |= config.save_state.is_none();
        eprintln!(
            "envoy-triage: shard{} {} of {} {} missing: the report leaves out their inputs (did their runs fail, \
             or their states not arrive?)",
            if merged.missing.len() == 1 { "" } else { "s" },
            state::say_shards(&merged.missing),
            merged.shards_of.unwrap_or(0),
            if merged.missing.len() == 1 { "is" } else { "are" },
        );
    }
    if let Some(path) = &config.save_state {
        if merged.shards_of.is_some() && merged.shards.is_none() {
            // Shards 0-2 and 5-7 merged cannot be told apart from 0-7 later: no state is saved.
            eprintln!(
                "envoy-triage: --save-state {}: not saved: the shards merged leave a gap (merge a run of \
                 consecutive shards)",
                escape_controls(&path.display().to_string())
            );
            failed = true;
        } else {
            let body = state::body(
                merged.settings.clone(),
                merged.arguments.clone(),
                merged.arguments_failed,
                merged.inputs.clone(),
                merged.shards,
                &merged.aggregate,
            );
            failed |= saved(path, &body);
        }
    }
    config.view.apply(&mut summary);
    finish(&config, &summary, &merged.inputs, failed, Frame::BATCH)
}

/// The config with its filter resolved: relative times counted back from `anchor_ms`, into
/// the pipeline's filter and the report's view.
fn with_filter(config: &Config, anchor_ms: Option<i64>) -> Config {
    let mut c = config.clone();
    if let Some(spec) = &config.filter {
        let filter = spec.resolve(anchor_ms);
        c.view.filters = Some(filter.out().clone());
        c.pipeline.filter = Some(Arc::new(filter));
    }
    c
}

/// Batch mode's filter: a relative time counts back from the log's own last record, which is
/// looked for first (`crate::filter::anchor`); only then, and refused for a stream.
fn resolve_batch_filter(
    config: &Config,
    inputs: &[source::Input],
) -> Result<Config, crate::filter::anchor::NeedsAFile> {
    let Some(spec) = config.filter.as_ref().filter(|s| s.is_relative()) else {
        return Ok(with_filter(config, None));
    };
    let flag = match (&spec.since, &spec.until) {
        (Some((arg, crate::filter::TimeSpec::Ago(_))), _) => ("since", arg.as_str()),
        (_, Some((arg, _))) => ("until", arg.as_str()),
        _ => ("since", ""),
    };
    let anchor = crate::filter::anchor::last_record_ms(inputs, &config.pipeline, flag)?;
    Ok(with_filter(config, anchor))
}

/// The progress bar is for someone watching stderr; not over records streaming to the same
/// terminal, nor while they type the input.
fn show_progress(format: Format, inputs: &[source::Input]) -> bool {
    use io::IsTerminal;
    io::stderr().is_terminal()
        && !(matches!(format, Format::Records | Format::Parquet) && io::stdout().is_terminal())
        && !(inputs.contains(&source::Input::Stdin) && io::stdin().is_terminal())
}

/// `explian` is more likely a mistyped subcommand than a missing log file: say so.
fn subcommand_hint(e: &source::SourceError) -> String {
    let source::SourceError::Unreadable { path, source } = e else { return String::new() };
    if source.kind() != io::ErrorKind::NotFound || path.contains('/') {
        return String::new();
    }
    crate::cli::SUBCOMMANDS
        .iter()
        .find(|name| strsim::levenshtein(path, name) <= 2)
        .map_or_else(String::new, |name| format!(" (did you mean the subcommand '{name}'?)"))
}

/// How every run ends: the inputs that failed said on stderr, the final report, the exit code.
fn finish(
    config: &Config,
    summary: &Summary,
    infos: &[InputInfo],
    mut failed: bool,
    frame: Frame,
) -> io::Result<ExitCode> {
    for info in infos {
        if let Some(e) = &info.error {
            failed = true;
            eprintln!("envoy-triage: {}: {}", escape_controls(&info.meta.name), escape_controls(e));
        }
    }
    if let Some(format) = &config.forced_format {
        let t = &summary.totals;
        if t.records == 0 && t.malformed > 0 {
            eprintln!(
                "envoy-triage: --format {} read none of {} lines as records; try --format auto",
                escape_controls(format),
                t.lines
            );
        }
    }
    report::emit(summary, &config.report, frame)?;
    Ok(exit_code(failed, summary, config))
}

/// 2 when an input failed, else 1 when a `--fail-on` condition holds (said on stderr), else 0.
/// A condition left unmet because the logs lack a value it reads (a rate without records) is
/// said too: a silent 0 would read as "all is well".
fn exit_code(input_failed: bool, summary: &Summary, config: &Config) -> ExitCode {
    let mut met = false;
    for (text, expr) in &config.fail_on {
        let verdict = if expr.eval(summary) {
            met = true;
            "met"
        } else if expr.undecided(summary) {
            "not met"
        } else {
            continue;
        };
        eprintln!(
            "envoy-triage: --fail-on '{}' {verdict}: {}",
            escape_controls(text),
            escape_controls(&expr.explain(summary).join(", "))
        );
    }
    if input_failed {
        ExitCode::from(2)
    } else if met {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
