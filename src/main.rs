//! The `envoy-triage` binary: parse flags, validate, run, map errors to exit codes.
//! A closed pipe (`| head`) ends quietly with 0.

use std::io;
use std::process::ExitCode;

use clap::Parser;
use envoy_triage::{app, cli::Cli, config::Config};

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Some(envoy_triage::cli::Command::Explain { lines, format }) = cli.command.take() {
        return explain(lines, &format);
    }
    let config = match Config::from_cli(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("envoy-triage: {e}");
            return ExitCode::from(2);
        }
    };
    match app::run(&config) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envoy-triage: {e}");
            ExitCode::from(2)
        }
    }
}

fn explain(lines: Vec<String>, format: &str) -> ExitCode {
    use std::io::{Read, Write};
    let choice = match envoy_triage::format::FormatChoice::parse(format) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("envoy-triage: --format: {e}");
            return ExitCode::from(2);
        }
    };
    let input = if lines.is_empty() {
        let mut buf = Vec::new();
        if let Err(e) = io::stdin().read_to_end(&mut buf) {
            eprintln!("envoy-triage: stdin: {e}");
            return ExitCode::from(2);
        }
        buf
    } else {
        lines.join("\n").into_bytes()
    };
    let text = envoy_triage::explain::explain_lines(&input, choice);
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("envoy-triage: {e}");
            ExitCode::from(2)
        }
        _ => ExitCode::SUCCESS,
    }
}
