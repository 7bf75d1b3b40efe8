//! `--output json`: the summary as one JSON document (contract: docs/json-contract.md).

use std::io::{self, Write};

use crate::summary::Summary;

pub fn write(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, summary).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
