//! How `trace` writes its traces ([`super::Trace`]): a table for people — a line per request,
//! one per hop in hop order with its columns aligned, then where the failure originated — or
//! one JSON object per line per request id (docs/trace.md). Every value from logs and
//! arguments is escaped: `escape_controls` in the table, the JSON outputs' formatter in JSON.

use std::borrow::Cow;
use std::io::{self, Write};

use super::{Hit, Trace};
use crate::escape::escape_controls as esc;
use crate::summary::human_ms;

/// The table: for each request found, its header, its hops, and its origin.
pub fn table(traces: &[Trace], out: &mut dyn Write) -> io::Result<()> {
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
        writeln!(out, "{}", header.join(" · "))?;
        let mut rows: Vec<Vec<String>> = t.hops.iter().enumerate().map(|(i, h)| row(i, h)).collect();
        // The pod column only when a wrapper or a kubelet path named one.
        if t.hops.iter().all(|h| h.pod.is_none()) {
            rows.iter_mut().for_each(|r| drop(r.remove(POD)));
        }
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|v| width(v)).max().unwrap_or(0))
            .collect();
        for (r, h) in rows.iter().zip(&t.hops) {
            let mut line = String::from(" ");
            for (c, v) in r.iter().enumerate() {
                line.push_str(v);
                if c + 1 < r.len() {
                    line.push_str(&" ".repeat(widths[c] - width(v) + 2));
                }
            }
            if h.matched {
                line.push_str("  (matched by address and time)");
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        match &t.origin {
            Some(o) => {
                writeln!(out, " originated at: {}, hop {} — {}", o.place.describe(), o.hop + 1, esc(&o.why))?
            }
            None => writeln!(out, " no failure: no hop's record is a failure")?,
        }
    }
    Ok(())
}

/// Where the pod is among a hop's columns.
const POD: usize = 2;

/// Columns of one hop: number, reporter, pod, where it was read, code, flags, details, upstream,
/// duration. Every one is present (`-` when unknown), so that they line up.
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
    ]
}

/// Columns a value takes on a terminal (one per character: escaping left none that draws
/// nothing, and logs rarely hold wide ones).
fn width(s: &str) -> usize {
    s.chars().count()
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
