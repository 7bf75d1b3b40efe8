//! Wires a validated [`Config`] to the pipeline and the reports, and decides the exit code:
//! 0 success, 2 error (an input could not be read, or a flag was invalid). Inputs that could
//! be read are always analysed and reported, even when another one failed.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::cli::{ColorWhen, OutputKind};
use crate::config::Config;
use crate::report;
use crate::source;
use crate::summary::Summary;

/// Whether stdin is a stream (pipe, socket, terminal) rather than a regular file.
fn stdin_is_stream() -> bool {
    use std::os::fd::AsFd;
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else { return false };
    std::fs::File::from(fd).metadata().is_ok_and(|m| !m.is_file())
}

pub fn run(config: &Config) -> io::Result<ExitCode> {
    if config.follow {
        let patterns = config.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        if patterns.iter().all(|p| p == "-") {
            return crate::live::run(config, crate::live::LiveSource::Stdin);
        }
        return crate::live::run(config, crate::live::LiveSource::Files(patterns));
    }
    let stdin_only = config.files.is_empty() || config.files.iter().all(|f| f.as_os_str() == "-");
    // Live refreshes only help someone watching: a terminal, or an NDJSON consumer.
    let watched = matches!(config.output, OutputKind::Ndjson | OutputKind::Records)
        || (config.output == OutputKind::Table && io::IsTerminal::is_terminal(&io::stdout()));
    if stdin_only && watched && stdin_is_stream() {
        return crate::live::run(config, crate::live::LiveSource::Stdin);
    }
    let (inputs, errors) = source::expand(&config.files);
    let mut failed = !errors.is_empty();
    for e in &errors {
        eprintln!("envoy-triage: {e}");
    }
    if inputs.is_empty() {
        return Ok(ExitCode::from(2));
    }
    if inputs.contains(&source::Input::Stdin) && io::IsTerminal::is_terminal(&io::stdin()) {
        eprintln!(
            "envoy-triage: reading access logs from the terminal (end with Ctrl-D); pipe `kubectl logs … -c istio-proxy` in or pass files"
        );
    }
    let (agg, infos, written) = source::batch::run_with_output(&inputs, &config.pipeline);
    written?;
    for info in &infos {
        if let Some(e) = &info.error {
            failed = true;
            eprintln!("envoy-triage: {}: {e}", info.meta.name);
        }
    }
    let summary = Summary::build(&agg, &infos);
    match config.output {
        OutputKind::Json => {
            let mut out = io::stdout().lock();
            report::json::write(&summary, &mut out)?;
            out.flush()?;
        }
        OutputKind::Ndjson => {
            let mut out = io::stdout().lock();
            report::json::write_event(&summary, "summary", 1, 0, &mut out)?;
            out.flush()?;
        }
        OutputKind::Table => write_table(&summary, config)?,
        // The records were the output.
        OutputKind::Records => {}
    }
    Ok(exit_code(failed, &summary, config))
}

/// 2 when an input failed, else 1 when a `--fail-on` condition holds (said on stderr), else 0.
pub fn exit_code(input_failed: bool, summary: &Summary, config: &Config) -> ExitCode {
    let mut met = false;
    for (text, expr) in &config.fail_on {
        if expr.eval(summary) {
            met = true;
            eprintln!("envoy-triage: --fail-on '{text}' met: {}", expr.explain(summary).join(", "));
        }
    }
    if input_failed {
        ExitCode::from(2)
    } else if met {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The table on stdout, coloured per `--color` (and `NO_COLOR`, and whether it is a terminal).
pub fn write_table(summary: &Summary, config: &Config) -> io::Result<()> {
    let choice = match config.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    let mut out = anstream::AutoStream::new(io::stdout().lock(), choice);
    report::table::write(summary, config.top, &mut out)?;
    out.flush()
}
