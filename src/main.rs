//! The `envoy-triage` binary: parse flags, validate, run, map errors to exit codes.
//! A closed pipe (`| head`) ends quietly with 0. Every error on stderr starts with
//! `envoy-triage: `, clap's too, and is escaped (arguments come from shell history).

use std::io;
use std::process::ExitCode;

use clap::Parser;
use envoy_triage::cli::{self, Cli, Command};
use envoy_triage::escape::escape_lines;
use envoy_triage::{app, config::Config};

fn main() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
    };
    match cli.command.take() {
        Some(Command::Explain { lines, format }) => return explain(lines, &format),
        Some(Command::Completions { shell }) => return print(&cli::completions(shell)),
        Some(Command::Man) => return print(&cli::man_page()),
        Some(Command::Merge(args)) => {
            return match envoy_triage::config::merge_config(args) {
                Ok((config, states)) => ended(app::merge(&config, &states)),
                Err(e) => {
                    eprintln!("envoy-triage: {}", escape_lines(&e.to_string()));
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Trace { id, paths, ids, output, format, threads }) => {
            return trace(envoy_triage::config::trace_config(id, paths, ids, output, &format, threads));
        }
        None => {}
    }
    let config = match Config::from_cli(cli) {
        Ok(c) => c,
        Err(e) => {
            // Messages quote arguments: escaped like every other error.
            eprintln!("envoy-triage: {}", escape_lines(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    ended(app::run(&config))
}

/// A run's exit code; an error said on stderr (2), a closed pipe quietly (0).
fn ended(run: io::Result<ExitCode>) -> ExitCode {
    match run {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envoy-triage: {}", envoy_triage::escape::escape_controls(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

/// `trace`: its exit code is its own (0 all found, 1 an id not found, 2 error).
fn trace(config: Result<envoy_triage::trace::TraceConfig, envoy_triage::config::TraceError>) -> ExitCode {
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("envoy-triage: {}", escape_lines(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    match envoy_triage::trace::run(&config) {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envoy-triage: {}", envoy_triage::escape::escape_controls(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

/// clap's message in the tool's style: help and version as clap prints them, errors with the
/// tool's prefix instead of clap's `error: `, escaped, exit code 2.
fn clap_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return match e.print() {
            Err(err) if err.kind() != io::ErrorKind::BrokenPipe => ExitCode::from(2),
            _ => ExitCode::SUCCESS,
        };
    }
    let text = e.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    eprint!("envoy-triage: {}", escape_lines(text));
    ExitCode::from(2)
}

fn explain(lines: Vec<String>, format: &str) -> ExitCode {
    use std::io::Write;
    let choice = match envoy_triage::format::FormatChoice::parse(format) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("envoy-triage: --format: {e}");
            return ExitCode::from(2);
        }
    };
    // Arguments that all name files (or `-`, stdin) are read; otherwise each is a line.
    let files = !lines.is_empty() && lines.iter().all(|l| l == "-" || std::path::Path::new(l).is_file());
    let mut ex = envoy_triage::explain::Explainer::new(choice.clone());
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = if lines.is_empty() || files {
        let names: Vec<&str> =
            if lines.is_empty() { vec!["-"] } else { lines.iter().map(String::as_str).collect() };
        let mut written = Ok(());
        for name in names {
            // Read and explained a line at a time: `explain < big.log` holds one line.
            let read = if name == "-" {
                envoy_triage::explain::explain_reader(&mut ex, &mut io::stdin().lock(), &mut out)
            } else {
                match std::fs::File::open(name) {
                    Ok(f) => {
                        envoy_triage::explain::explain_reader(&mut ex, &mut io::BufReader::new(f), &mut out)
                    }
                    Err(e) => Err(Ok(e)),
                }
            };
            match read {
                Ok(()) => {}
                Err(Ok(e)) => {
                    let _ = out.flush();
                    let name = if name == "-" { "stdin" } else { name };
                    eprintln!("envoy-triage: {}: {e}", escape_lines(name));
                    return ExitCode::from(2);
                }
                Err(Err(e)) => {
                    written = Err(e);
                    break;
                }
            }
        }
        if written.is_ok() && ex.lines() == 0 {
            // Nothing to read: say what an empty line is, as for `explain ''`.
            let mut text = String::new();
            ex.line(b"", &mut text);
            written = out.write_all(text.as_bytes());
        }
        written
    } else {
        out.write_all(envoy_triage::explain::explain_lines(lines.join("\n").as_bytes(), choice).as_bytes())
    };
    match written.and_then(|()| out.flush()) {
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
