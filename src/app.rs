//! Wires a validated [`Config`] to the pipeline and the reports, and decides the exit code:
//! 0 success, 2 error (an input could not be read, or a flag was invalid). Inputs that could
//! be read are always analysed and reported, even when another one failed.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::cli::{ColorWhen, OutputKind};
use crate::config::Config;
use crate::pipeline;
use crate::report;
use crate::source;
use crate::summary::Summary;

pub fn run(config: &Config) -> io::Result<ExitCode> {
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
    let (agg, infos) = pipeline::run(&inputs, &config.pipeline);
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
        OutputKind::Table => {
            let choice = match config.color {
                ColorWhen::Auto => anstream::ColorChoice::Auto,
                ColorWhen::Always => anstream::ColorChoice::Always,
                ColorWhen::Never => anstream::ColorChoice::Never,
            };
            let mut out = anstream::AutoStream::new(io::stdout().lock(), choice);
            report::table::write(&summary, config.top, &mut out)?;
            out.flush()?;
        }
    }
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
