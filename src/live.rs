//! Live mode's tick loop: `--follow` on files, or a streaming stdin. Sources run as tokio tasks
//! (`crate::source::follow`) feeding the batch worker pool; every `--interval` a tick snapshots
//! the workers and renders through `report::emit` (one NDJSON object, or the table redrawn in
//! place with `--no-dashboard`) or, on a terminal, `crate::dashboard`, whose `q` ends the loop. End of input, SIGINT and SIGTERM end the loop; what it gathered goes
//! back to `crate::app`, which writes the final report as batch mode does. A stop never waits
//! for a read that is blocked (a quiet stdin). A closed stdout (`| head`) ends the run quietly,
//! as in batch mode. With `--listen`, each tick also updates the exporter (`crate::metrics`),
//! whose HTTP server runs on the same runtime.

use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::config::Config;
use crate::dashboard::{Action, Dashboard};
use crate::metrics::{self, Metrics};
use crate::pipeline::Workers;
use crate::report::{self, Format, Frame};
use crate::source::InputInfo;
use crate::source::follow::{self, FollowStats, Registry};
use crate::summary::Summary;

/// Where live data comes from.
pub enum LiveSource {
    Stdin,
    /// Paths or glob patterns to follow.
    Files(Vec<String>),
}

/// What a live run gathered, for the final report.
pub struct Ended {
    pub summary: Summary,
    pub infos: Vec<InputInfo>,
    /// How the final report is written (after the last tick's number).
    pub frame: Frame,
}

pub fn run(config: &Config, source: LiveSource) -> io::Result<Ended> {
    let mut pcfg = config.pipeline.clone();
    pcfg.windows = true;
    let format = config.report.format;
    // Records come out as they are read, not in input order: there is no end to wait for.
    let output = report::record_output(format, pcfg.threads, false);
    // Bound first: a bad address or a port in use ends the run before anything is read.
    let listener = config.listen.as_deref().map(metrics::http::bind).transpose()?;
    if let Some(addr) = listener.as_ref().and_then(|l| l.local_addr().ok()) {
        // The port as bound (`:0` picks one), for a person and for a test reading stderr.
        eprintln!("envoy-triage: serving metrics on http://{addr}/metrics");
    }
    let stats = Arc::new(FollowStats::default());
    let metrics = listener.is_some().then(|| Metrics::new(pcfg.max_clusters, Arc::clone(&stats)));
    let output = match &metrics {
        Some(m) => Some(m.output_beside(output)),
        None => output,
    };
    let workers = Workers::spawn_with_output(&pcfg, output)?;
    let feed = workers.feed(pcfg.chunk_size);
    let registry: Registry = Registry::default();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let started = Instant::now();
    let on_terminal = format == Format::Table && io::stdout().is_terminal();
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    // Lines typed on the terminal are the input: its keys are not the dashboard's.
    let typed = matches!(source, LiveSource::Stdin) && io::stdin().is_terminal();
    let mut dashboard = if on_terminal && config.dashboard && !dumb && !typed {
        Some(Dashboard::start(config.report.inputs.clone(), config.view.sort)?)
    } else {
        None
    };
    let redraw = on_terminal && dashboard.is_none();
    let ticks = on_terminal || format == Format::Ndjson;
    let frame =
        |tick: bool, seq: u64| Frame { tick, seq, elapsed_ms: started.elapsed().as_millis() as u64, redraw };
    let mut seq = 0u64;

    let result: io::Result<()> = runtime.block_on(async {
        // Both listeners live for the whole loop: a `ctrl_c()` future made afresh in each
        // `select!` only sees signals that arrive while it is polled, so a SIGINT landing while a
        // tick was being rendered was lost and the process ran on (a CI failure of
        // tests/integration/follow.rs). A `Signal` made once remembers a delivery until it is received.
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let output = OutputWatch::stdout();
        // Set when the record output failed: sources then drop what they read.
        let halted = feed.clone();
        let mut check = tokio::time::interval(follow::POLL);
        let mut task = match source {
            LiveSource::Stdin => tokio::spawn(follow::read_stdin(feed, registry.clone(), stats, stop_rx)),
            LiveSource::Files(patterns) => tokio::spawn(follow::follow_files(
                patterns,
                config.from_start,
                feed,
                registry.clone(),
                stats,
                stop_rx,
            )),
        };
        if let (Some(listener), Some(m)) = (listener, &metrics) {
            tokio::spawn(metrics::http::serve(listener, m.clone()));
        }
        let mut interval = tokio::time::interval(config.interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        interval.tick().await;
        let mut source_done = false;
        let outcome = loop {
            tokio::select! {
                _ = interval.tick(), if ticks || metrics.is_some() => {
                    let agg = workers.snapshot();
                    if let Some(m) = &metrics {
                        m.set_totals(agg.lines(), agg.records, agg.skipped_total(), agg.malformed);
                    }
                    if !ticks {
                        continue;
                    }
                    seq += 1;
                    let infos = registry.lock().expect("registry lock").clone();
                    let mut summary = Summary::build(&agg, &infos);
                    config.view.apply(&mut summary);
                    let shown = match &mut dashboard {
                        Some(d) => d.update(summary),
                        None => report::emit(&summary, &config.report, frame(true, seq)),
                    };
                    if let Err(e) = shown {
                        break Err(e);
                    }
                }
                key = keys(&mut dashboard) => match key {
                    Ok(Action::Continue) => {}
                    Ok(Action::Quit) => break Ok(()),
                    Err(e) => break Err(e),
                },
                _ = interrupt.recv() => break Ok(()),
                _ = terminate.recv() => break Ok(()),
                _ = output.closed() => break Err(io::ErrorKind::BrokenPipe.into()),
                _ = check.tick() => if halted.halted() {
                    // The output's error ends the run (`written` below).
                    break Ok(());
                },
                _ = &mut task => {
                    source_done = true;
                    break Ok(());
                }
            }
        };
        let _ = stop_tx.send(true);
        drop(halted);
        if !source_done {
            let _ = task.await;
        }
        outcome
    });
    // Not a drop, which waits for every blocking thread: tokio reads stdin on one, and a quiet
    // writer (`kubectl logs -f`) would hold the final report until it writes or closes.
    runtime.shutdown_background();
    // The terminal back to normal before the final report is written on it.
    drop(dashboard);
    // Live sources send data, never file ranges: there are no range read errors.
    let (agg, _, written) = workers.finish_with_output();
    result?;
    written?;
    let infos = registry.lock().expect("registry lock").clone();
    let mut summary = Summary::build(&agg, &infos);
    config.view.apply(&mut summary);
    Ok(Ended { summary, infos, frame: frame(false, seq + 1) })
}

/// The dashboard's next key; never, without one.
async fn keys(dashboard: &mut Option<Dashboard>) -> io::Result<Action> {
    match dashboard {
        Some(d) => d.key().await,
        None => std::future::pending().await,
    }
}

/// Tells when stdout is a pipe (or socket) whose reader has gone: the kernel reports an error
/// on it at once, so a run whose output is quiet (a followed file that stopped growing) ends as
/// soon as `head` exits, not at its next write. Unwatched when stdout cannot be polled (a
/// regular file, `/dev/null`): nothing closes those.
struct OutputWatch(Option<AsyncFd<OwnedFd>>);

impl OutputWatch {
    fn stdout() -> OutputWatch {
        let fd = io::stdout().as_fd().try_clone_to_owned().ok();
        // SAFETY: the descriptor is an `OwnedFd` that the `AsyncFd` owns: it stays open, and
        // is the same descriptor, until the `AsyncFd` is dropped (tokio's condition).
        OutputWatch(fd.and_then(|fd| unsafe { AsyncFd::register_with_interest(fd, Interest::ERROR) }.ok()))
    }

    async fn closed(&self) {
        match &self.0 {
            Some(fd) => {
                let _ = fd.ready(Interest::ERROR).await;
            }
            None => std::future::pending().await,
        }
    }
}
