//! `--output json`: the summary as one JSON document (contract: docs/json-contract.md).

use std::io::{self, Write};

use crate::summary::Summary;

pub fn write(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, summary).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// One NDJSON line: `{"type": kind, "seq", "elapsed_ms", …summary}` — live ticks
/// (`"tick"`) and the final `"summary"`.
pub fn write_event(
    summary: &Summary,
    kind: &'static str,
    seq: u64,
    elapsed_ms: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(serde::Serialize)]
    struct Event<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        seq: u64,
        elapsed_ms: u64,
        #[serde(flatten)]
        summary: &'a Summary,
    }
    serde_json::to_writer(&mut *out, &Event { kind, seq, elapsed_ms, summary }).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
