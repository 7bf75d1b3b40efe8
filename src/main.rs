//! The `envoy-triage` binary: parse flags, validate, run, map errors to exit codes.
//! A closed pipe (`| head`) ends quietly with 0.

use std::io;
use std::process::ExitCode;

use clap::Parser;
use envoy_triage::cli::{self, Cli, Command};
use envoy_triage::{app, config::Config};

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    match cli.command.take() {
        Some(Command::Explain { lines, format }) => return explain(lines, &format),
        Some(Command::Completions { shell }) => return print(&cli::completions(shell)),
        Some(Command::Man) => return print(&cli::man_page()),
        None => {}
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
            eprintln!("envoy-triage: {}", envoy_triage::report::escape_controls(&e.to_string()));
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

/// Writes a generated script or page; `| head` is not an error.
fn print(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    match io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("envoy-triage: {e}");
            ExitCode::from(2)
        }
        _ => ExitCode::SUCCESS,
    }
}
