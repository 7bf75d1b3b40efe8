//! Reports: each reads only an owned [`Summary`] and writes to any `io::Write`. [`emit`] is
//! the one switch over the outputs, used by batch mode (`crate::app`) and by live mode's ticks
//! and final report (`crate::live`). `table` is for people (first screen, colour on a TTY),
//! `json` is the versioned contract (and live NDJSON), `records` is the per-record output, fed
//! by the pipeline through its sink rather than from the summary. A new output is a file here
//! and an arm in [`emit`].

pub mod json;
pub mod records;
pub mod table;

use std::borrow::Cow;
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
    /// Findings and upstreams shown in the table.
    pub top: usize,
    pub color: Color,
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
            table::write(summary, opts.top, &mut out)?;
            out.flush()
        }
        // The records were the output.
        Format::Records => Ok(()),
    }
}

/// Escapes control characters (C0, DEL, C1 — including ESC, so no ANSI sequence from a log
/// reaches the terminal) as `\xNN`/`\u{NN}`. Log content is written by whoever sends requests.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(escape_controls("curl/8.0"), "curl/8.0");
        assert_eq!(escape_controls("a\x1b[31mred\r\x08\x7f"), "a\\x1b[31mred\\x0d\\x08\\x7f");
        assert_eq!(escape_controls("x\u{9b}y\u{202e}"), "x\\x9by\\u{202e}");
    }
}

#[cfg(test)]
mod every_cause;
