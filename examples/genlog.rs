//! Writes a synthetic Envoy/Istio access log to stdout (see the `envoy_triage_synth` crate,
//! `crates/synth`).
//!
//! ```text
//! cargo run --release --example genlog -- --style istio|json|envoy (--bytes 1G | --lines N) \
//!     [--seed 7] [--wrapper none|kubectl|timestamps|kubectl-timestamps|cri] [--noise 0.02] \
//!     [--clusters 24] > out.log
//! ```
//!
//! The exact counts of what was written go to stderr as one JSON line.

use std::io::Write;
use std::process::ExitCode;

use envoy_triage_synth::{self as synth, Limit, Style, SynthConfig, Wrapper};

const USAGE: &str = "usage: genlog [--style istio|json|envoy] [--bytes SIZE | --lines N] [--seed N] \
[--wrapper none|kubectl|timestamps|kubectl-timestamps|cri] [--noise RATIO] [--clusters N]
  SIZE is a number with an optional K, M or G suffix (powers of 1024), e.g. 512M or 1G.";

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("genlog: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match synth::write_log(&cfg, &mut out) {
        Ok(stats) => {
            let json = serde_json::to_string(&stats).expect("stats serialize");
            eprintln!("{json}");
            ExitCode::SUCCESS
        }
        // `genlog … | head` is a normal way to look at a few lines.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "genlog: writing the log: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(None)` means `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<SynthConfig>, String> {
    let mut cfg = SynthConfig::default();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"));
        match name.as_str() {
            "--style" => {
                let v = value()?;
                cfg.style = Style::from_name(&v).ok_or(format!("unknown --style {v:?}"))?;
            }
            "--wrapper" => {
                let v = value()?;
                cfg.wrapper = Wrapper::from_name(&v).ok_or(format!("unknown --wrapper {v:?}"))?;
            }
            "--bytes" => cfg.limit = Limit::Bytes(parse_size(&value()?)?),
            "--lines" => cfg.limit = Limit::Lines(parse_number(&name, &value()?)?),
            "--seed" => cfg.seed = parse_number(&name, &value()?)?,
            "--clusters" => cfg.clusters = parse_number(&name, &value()?)? as usize,
            "--noise" => {
                let v = value()?;
                cfg.noise_ratio = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or(format!("--noise wants a ratio between 0 and 1, got {v:?}"))?;
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(Some(cfg))
}

fn parse_number(name: &str, v: &str) -> Result<u64, String> {
    v.replace('_', "").parse().map_err(|_| format!("{name} wants a whole number, got {v:?}"))
}

/// `4096`, `64K`, `512M`, `1G`, `1GiB`, `2gb`: powers of 1024.
fn parse_size(v: &str) -> Result<u64, String> {
    let lower = v.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("--bytes: unknown unit in {v:?} (use K, M or G)")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("--bytes wants a size like 512M or 1G, got {v:?}"))?;
    n.checked_mul(1 << shift).ok_or(format!("--bytes {v:?} is too large"))
}
