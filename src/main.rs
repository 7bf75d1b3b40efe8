//! The `envoy-triage` binary: parse flags, validate, run, map errors to exit codes.
//! A closed pipe (`| head`) ends quietly with 0.

use std::io;
use std::process::ExitCode;

use clap::Parser;
use envoy_triage::{app, cli::Cli, config::Config};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
