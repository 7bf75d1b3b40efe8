//! How `trace` writes its traces ([`super::Trace`]): a table for people — a line per request,
//! one per hop in hop order with its columns aligned, then where the failure originated — or
//! one JSON object per line per request id (docs/trace.md). Every value from logs and
//! arguments is escaped: `escape_controls` in the table, the JSON outputs' formatter in JSON.

use std::borrow::Cow;
use std::io::{self, Write};

use super::{Hit, Trace};
use crate::escape::escape_controls as esc;
use crate::report::fit;
use crate::summary::human_ms;

/// The table: for each request found, its header, its hops, and its origin, laid out for
/// `width` columns (`crate::report::fit`: long values lose their middle, the origin wraps).
pub fn table(traces: &[Trace], width: usize, out: &mut dyn Write) -> io::Result<()> {
    let mut first = true;
    for t in traces.iter().filter(|t| !t.hops.is_empty()) {
        if !first {
            writeln!(out)?;
        }
        first = false;
        let about = |f: fn(&Hit) -> Option<&String>| t.hops.iter().find_map(f).map(|v| esc(v).into_owned());
        let mut header = vec![format!("request {}", esc(&t.id))];
        match (about(|h| h.method.as_ref()), about(|h| h.path.as_ref())) {
            (Some(m), Some(p)) => header.push(format!("{m} {p}")),
            (None, Some(p)) => header.push(p),
            _ => {}
        }
        if let Some(a) = about(|h| h.authority.as_ref()) {
            header.push(a);
        }
        let n = t.hops.len();
        header.push(format!("{n} {}", if n == 1 { "hop" } else { "hops" }));
        if t.not_shown > 0 {
            header.push(format!("{} more records of this id not shown", t.not_shown));
        }
        for line in fit::pack(&header, width) {
            writeln!(out, "{line}")?;
        }
        let mut rows: Vec<Vec<String>> = t.hops.iter().enumerate().map(|(i, h)| row(i, h)).collect();
        let mut cols = COLUMNS.to_vec();
        // The pod column only when a wrapper or a kubelet path named one.
        if t.hops.iter().all(|h| h.pod.is_none()) {
            cols.remove(POD);
            rows.iter_mut().for_each(|r| drop(r.remove(POD)));
        }
        // One line per hop when every value fits whole; else a block per hop, each value on
        // a line of its own: a trace is read for its values, which must not lose their middle.
        let natural: usize = 1
            + (0..cols.len())
                .map(|c| rows.iter().map(|r| fit::width(&r[c])).max().unwrap_or(0))
                .filter(|&w| w > 0)
                .map(|w| w + 2)
                .sum::<usize>();
        if natural <= width + 2 {
            // Rows only: the values say what they are.
            let (lines, _) = fit::layout(&cols, &rows, 1, width);
            for line in &lines[1..] {
                writeln!(out, "{line}")?;
            }
        } else {
            for (i, h) in t.hops.iter().enumerate() {
                block(out, i, h, width)?;
            }
        }
        match &t.origin {
            Some(o) => {
                let text =
                    format!("originated at: {}, hop {} — {}", o.place.describe(), o.hop + 1, esc(&o.why));
                for (i, l) in fit::wrap(&text, 1, 3, width).iter().enumerate() {
                    writeln!(out, "{}{l}", if i == 0 { " " } else { "   " })?;
                }
            }
            None => writeln!(out, " no failure: no hop's record is a failure")?,
        }
    }
    Ok(())
}

/// One hop as a block: its number, reporter, code, flags and time, then where it was read (and
/// its pod), its upstream and its details, each on its own line.
fn block(out: &mut dyn Write, i: usize, h: &Hit, width: usize) -> io::Result<()> {
    let r = row(i, h);
    let head = format!("{}  {}  {}  {}  {}", r[0], r[1], r[4], r[5], r[8]);
    let matched = if h.matched { "  (matched by address and time)" } else { "" };
    writeln!(out, " {head}{matched}")?;
    let read = if h.pod.is_some() { format!("{} · pod {}", r[3], r[2]) } else { r[3].clone() };
    for value in [read, r[7].clone(), r[6].clone()] {
        if value != "-" {
            // Whole values: a long one passes the edge rather than lose its middle.
            let _ = width;
            writeln!(out, "    {value}")?;
        }
    }
    Ok(())
}

/// Where the pod is among a hop's columns.
const POD: usize = 2;

/// A hop's columns: what never shortens (number, reporter, code, flags, duration) and what
/// loses its middle when the row is too wide (pod, where it was read, details, upstream).
const COLUMNS: [fit::Col; 10] = [
    fit::Col::fixed("#", true),
    fit::Col::fixed("reporter", false),
    fit::Col { head: "pod", right: false, drop: Some(1), shrink: Some((20, 10)) },
    fit::Col { head: "read at", right: false, drop: None, shrink: Some((24, 12)) },
    fit::Col::fixed("code", true),
    fit::Col::fixed("flags", false),
    fit::Col { head: "details", right: false, drop: None, shrink: Some((24, 12)) },
    fit::Col { head: "upstream", right: false, drop: None, shrink: Some((24, 12)) },
    fit::Col::fixed("time", true),
    fit::Col { head: "", right: false, drop: Some(2), shrink: None },
];

/// Columns of one hop: number, reporter, pod, where it was read, code, flags, details, upstream,
/// duration, and whether it was matched by address and time. Every one is present (`-` when
/// unknown), so that they line up.
fn row(i: usize, h: &Hit) -> Vec<String> {
    let or_dash = |v: &str| if v.is_empty() { "-".to_string() } else { esc(v).into_owned() };
    let upstream = match (h.upstream_cluster.is_empty(), h.upstream_host.is_empty()) {
        (true, true) => "-".to_string(),
        (false, true) => esc(&h.upstream_cluster).into_owned(),
        (true, false) => format!("→ {}", esc(&h.upstream_host)),
        (false, false) => format!("{} → {}", esc(&h.upstream_cluster), esc(&h.upstream_host)),
    };
    vec![
        format!("{}", i + 1),
        h.reporter.name().to_string(),
        h.pod.as_deref().map_or_else(|| "-".to_string(), |p| esc(p).into_owned()),
        format!("{}:{}", esc(&h.input), h.line),
        h.response_code.map_or_else(|| "-".to_string(), |c| c.to_string()),
        h.flags.to_string(),
        or_dash(&h.details),
        upstream,
        h.duration_ms.map_or_else(|| "-".to_string(), human_ms),
        if h.matched { "(matched by address and time)".to_string() } else { String::new() },
    ]
}

#[derive(serde::Serialize)]
struct JsonTrace<'a> {
    request_id: &'a str,
    found: bool,
    hops: Vec<JsonHop<'a>>,
    hops_not_shown: u64,
    origin: Option<JsonOrigin<'a>>,
}

#[derive(serde::Serialize)]
struct JsonHop<'a> {
    hop: usize,
    reporter: &'static str,
    matched_by: &'static str,
    input: &'a str,
    line: u64,
    pod: Option<&'a str>,
    start_time: Option<&'a str>,
    method: Option<&'a str>,
    path: Option<&'a str>,
    authority: Option<&'a str>,
    response_code: Option<u16>,
    response_flags: Vec<&'static str>,
    response_code_details: Option<&'a str>,
    upstream_transport_failure_reason: Option<&'a str>,
    failed: bool,
    cause: Option<&'static str>,
    duration_ms: Option<u64>,
    upstream_cluster: Option<&'a str>,
    upstream_host: Option<&'a str>,
    upstream_local_address: Option<&'a str>,
    downstream_local_address: Option<&'a str>,
    downstream_remote_address: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct JsonOrigin<'a> {
    /// 1-based, as `hops[].hop`.
    hop: usize,
    place: &'static str,
    why: Cow<'a, str>,
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// One JSON object per line per request id, in the order the ids were given; an id not found
/// has `"found": false` and no hops.
pub fn json(traces: &[Trace], out: &mut dyn Write) -> io::Result<()> {
    for t in traces {
        let hops = t
            .hops
            .iter()
            .enumerate()
            .map(|(i, h)| JsonHop {
                hop: i + 1,
                reporter: h.reporter.name(),
                matched_by: if h.matched { "address_and_time" } else { "request_id" },
                input: &h.input,
                line: h.line,
                pod: h.pod.as_deref(),
                start_time: h.start_time.as_deref(),
                method: h.method.as_deref(),
                path: h.path.as_deref(),
                authority: h.authority.as_deref(),
                response_code: h.response_code,
                response_flags: h.flags.iter().map(|f| f.short()).collect(),
                response_code_details: nonempty(&h.details),
                upstream_transport_failure_reason: h.transport_failure.as_deref(),
                failed: h.cause.is_some(),
                cause: h.cause.map(|c| c.name()),
                duration_ms: h.duration_ms,
                upstream_cluster: nonempty(&h.upstream_cluster),
                upstream_host: nonempty(&h.upstream_host),
                upstream_local_address: h.upstream_local.as_deref(),
                downstream_local_address: h.downstream_local.as_deref(),
                downstream_remote_address: h.downstream_remote.as_deref(),
            })
            .collect();
        let origin = t.origin.as_ref().map(|o| JsonOrigin {
            hop: o.hop + 1,
            place: o.place.name(),
            why: Cow::Borrowed(&o.why),
        });
        let row = JsonTrace {
            request_id: &t.id,
            found: !t.hops.is_empty(),
            hops,
            hops_not_shown: t.not_shown,
            origin,
        };
        crate::report::json::write_compact(&mut *out, &row).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
