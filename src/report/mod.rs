//! Reports: each reads only an owned [`Summary`] and writes to any `io::Write`. [`emit`] is
//! the one switch over the outputs, used by batch mode (`crate::app`) and by live mode's ticks
//! and final report (`crate::live`). `table` is for people (first screen, colour on a TTY),
//! `json` is the versioned contract (and live NDJSON), `records` is the per-record output, fed
//! by the pipeline through its sink rather than from the summary. A new output is a file here
//! and an arm in [`emit`].

pub mod fit;
pub mod html;
pub mod json;
pub mod parquet;
pub mod records;
pub mod table;

use std::io::{self, Write};

use crate::summary::Summary;

listed_enum! {
/// Which report (`--output`; its spelling and help are in `crate::cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    /// One JSON line per record, written as records are read (see [`records`]); nothing at
    /// the end.
    Records,
    /// Every record with its classification as an Apache Parquet file (see [`parquet`]), written
    /// as records are read; nothing at the end.
    Parquet,
    /// One self-contained HTML page with charts (see [`html`]).
    Html,
}
}

listed_enum! {
/// When the table is coloured (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    Always,
    Never,
}
}

/// How reports are written, from the flags.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub format: Format,
    /// Incidents and upstreams shown in the table.
    pub top: usize,
    pub color: Color,
    /// Every incident shown is told in full (`--verbose`), not only the first
    /// [`table::DETAILS`].
    pub verbose: bool,
    /// The inputs as given on the command line (none: stdin), for the `envoy-triage trace`
    /// command the table suggests.
    pub inputs: Vec<String>,
}

/// What a report is written for: a live refresh or the final report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// A live refresh (`"type":"tick"` in NDJSON) rather than the final report.
    pub tick: bool,
    /// The report's number (NDJSON `seq`).
    pub seq: u64,
    /// Since live mode started (NDJSON `elapsed_ms`).
    pub elapsed_ms: u64,
    /// The table replaces what the terminal shows (live mode on a terminal).
    pub redraw: bool,
}

impl Frame {
    /// Batch mode's one report.
    pub const BATCH: Frame = Frame { tick: false, seq: 1, elapsed_ms: 0, redraw: false };
}

/// The per-record output `format` asks for, if any: records in input order when `ordered`
/// (batch), as they come otherwise (live).
pub fn record_output(
    format: Format,
    threads: usize,
    ordered: bool,
) -> Option<Box<dyn crate::pipeline::RecordOutput>> {
    match format {
        Format::Records => Some(Box::new(records::RecordsOutput::stdout(threads, ordered))),
        Format::Parquet => Some(Box::new(parquet::ParquetOutput::stdout(threads, ordered))),
        Format::Table | Format::Json | Format::Ndjson | Format::Html => None,
    }
}

/// Writes `summary` to stdout as `opts` say.
pub fn emit(summary: &Summary, opts: &ReportOptions, frame: Frame) -> io::Result<()> {
    match opts.format {
        Format::Json => {
            let mut out = io::stdout().lock();
            json::write(summary, &mut out)?;
            out.flush()
        }
        Format::Ndjson => {
            let kind = if frame.tick { "tick" } else { "summary" };
            let mut out = io::stdout().lock();
            json::write_event(summary, kind, frame.seq, frame.elapsed_ms, &mut out)?;
            out.flush()
        }
        Format::Table => {
            if frame.redraw {
                let mut out = io::stdout().lock();
                out.write_all(b"\x1b[H\x1b[2J")?;
                out.flush()?;
            }
            let choice = match opts.color {
                Color::Auto => anstream::ColorChoice::Auto,
                Color::Always => anstream::ColorChoice::Always,
                Color::Never => anstream::ColorChoice::Never,
            };
            let mut out = anstream::AutoStream::new(io::stdout().lock(), choice);
            let mut view = table::View {
                inputs: &opts.inputs,
                top: opts.top,
                width: fit::terminal_width(),
                details: if opts.verbose { opts.top } else { table::DETAILS },
            };
            if frame.redraw && frame.tick {
                // A redrawn screen shows its top: the lists, as many rows as the terminal
                // holds; the incidents' full text is in the final report.
                view.details = 0;
                if let Some(rows) = fit::terminal_height() {
                    view.top = view.top.min(rows.saturating_sub(table::LIVE_LINES) / 2).max(1);
                }
            }
            table::write(summary, view, &mut out)?;
            out.flush()
        }
        // The records were the output.
        Format::Html => html::write(summary, &opts.inputs, &mut io::stdout().lock()),
        Format::Records | Format::Parquet => Ok(()),
    }
}

#[cfg(test)]
mod every_cause;
