//! Live mode: `--follow` on files, or a streaming stdin. Sources run as tokio tasks
//! (`crate::follow`) feeding the batch worker pool; every `--interval` a tick snapshots the
//! workers and renders (the table redrawn in place on a terminal, or one NDJSON object). End of
//! input, SIGINT and SIGTERM all end with the final report and exit code 0.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::cli::OutputKind;
use crate::config::Config;
use crate::pipeline::Workers;
use crate::report;
use crate::source::follow::{self, Registry};
use crate::summary::Summary;

/// Where live data comes from.
pub enum LiveSource {
    Stdin,
    /// Paths or glob patterns to follow.
    Files(Vec<String>),
}

fn write_event(kind: &'static str, seq: u64, started: Instant, s: &Summary) -> io::Result<()> {
    let mut out = io::stdout().lock();
    report::json::write_event(s, kind, seq, started.elapsed().as_millis() as u64, &mut out)?;
    out.flush()
}

pub fn run(config: &Config, source: LiveSource) -> io::Result<ExitCode> {
    let mut pcfg = config.pipeline.clone();
    pcfg.windows = true;
    let workers = Workers::spawn(&pcfg);
    let feed = workers.feed(pcfg.chunk_size);
    let registry: Registry = Registry::default();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let started = Instant::now();
    let redraw = config.output == OutputKind::Table && io::stdout().is_terminal();
    let ticks = redraw || config.output == OutputKind::Ndjson;
    let mut seq = 0u64;

    let result: io::Result<()> = runtime.block_on(async {
        // Both listeners live for the whole loop: a `ctrl_c()` future made afresh in each
        // `select!` only sees signals that arrive while it is polled, so a SIGINT landing while a
        // tick was being rendered was lost and the process ran on (a CI failure of
        // tests/follow.rs). A `Signal` made once remembers a delivery until it is received.
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut task = match source {
            LiveSource::Stdin => tokio::spawn(follow::read_stdin(feed, registry.clone(), stop_rx)),
            LiveSource::Files(patterns) => tokio::spawn(follow::follow_files(
                patterns,
                config.from_start,
                feed,
                registry.clone(),
                stop_rx,
            )),
        };
        let mut interval = tokio::time::interval(config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        interval.tick().await;
        let mut source_done = false;
        let outcome = loop {
            tokio::select! {
                _ = interval.tick(), if ticks => {
                    seq += 1;
                    let agg = workers.snapshot();
                    let infos = registry.lock().expect("registry lock").clone();
                    let summary = Summary::build(&agg, &infos);
                    let r = if redraw {
                        redraw_table(&summary, config)
                    } else {
                        write_event("tick", seq, started, &summary)
                    };
                    if let Err(e) = r {
                        break Err(e);
                    }
                }
                _ = interrupt.recv() => break Ok(()),
                _ = terminate.recv() => break Ok(()),
                _ = &mut task => {
                    source_done = true;
                    break Ok(());
                }
            }
        };
        let _ = stop_tx.send(true);
        if !source_done {
            let _ = task.await;
        }
        outcome
    });
    drop(runtime);
    // Live sources send data, never file ranges: there are no range read errors.
    let (agg, _, written) = workers.finish_with_output();
    result?;
    written?;
    let infos = registry.lock().expect("registry lock").clone();
    let summary = Summary::build(&agg, &infos);
    let failed = infos.iter().any(|i| i.error.is_some());
    for info in infos.iter().filter(|i| i.error.is_some()) {
        eprintln!("envoy-triage: {}: {}", info.meta.name, info.error.as_deref().unwrap_or(""));
    }
    match config.output {
        OutputKind::Ndjson => write_event("summary", seq + 1, started, &summary)?,
        OutputKind::Json => report::json::write(&summary, &mut io::stdout().lock())?,
        OutputKind::Table => {
            if redraw {
                redraw_table(&summary, config)?;
            } else {
                crate::app::write_table(&summary, config)?;
            }
        }
        OutputKind::Records => {}
    }
    Ok(crate::app::exit_code(failed, &summary, config))
}

/// Clears the terminal and draws the table (a terminal only; see `run`).
fn redraw_table(summary: &Summary, config: &Config) -> io::Result<()> {
    {
        let mut out = io::stdout().lock();
        out.write_all(b"\x1b[H\x1b[2J")?;
        out.flush()?;
    }
    crate::app::write_table(summary, config)
}
