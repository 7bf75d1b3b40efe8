//! The table report: the first screen a tired SRE reads in ten seconds — totals, the top
//! findings with their fix, the per-upstream table, and a few malformed lines. Everything
//! taken from logs goes through [`escape_controls`](crate::escape::escape_controls); colour is decided by the output stream
//! (`anstream`: only on a terminal, `NO_COLOR` honoured).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use crate::escape::{escape_controls as esc, escape_sample};
use crate::summary::{Finding, human_ms};
use crate::summary::{Percentiles, Summary};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 { "-".to_string() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

/// The filters of the run, when any: `filter: --since 10m (≥ …) · --code 5xx · 1,234 records
/// outside`. Values come from the command line: escaped.
fn filter_line(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let Some(f) = &s.filters else { return Ok(()) };
    let outside = s.totals.filtered_out;
    writeln!(
        out,
        "{CYAN}filter{CYAN:#}: {} · {} record{} outside",
        esc(&f.describe()),
        thousands(outside),
        if outside == 1 { "" } else { "s" }
    )
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), human_ms)
}

pub fn write(s: &Summary, top: usize, out: &mut dyn Write) -> io::Result<()> {
    let t = &s.totals;
    writeln!(
        out,
        "{BOLD}envoy-triage{BOLD:#} · {} lines → {} records · {} skipped · {} malformed",
        thousands(t.lines),
        thousands(t.records),
        thousands(t.skipped),
        if t.malformed > 0 { format!("{YELLOW}{}{YELLOW:#}", thousands(t.malformed)) } else { "0".into() },
    )?;
    let mut context = Vec::new();
    if let Some(r) = &s.time_range {
        context.push(format!("requests started {} … {}", r.first_start, r.last_start));
    }
    if !s.formats.0.is_empty() {
        let f: Vec<String> = s.formats.0.iter().map(|(k, n)| format!("{k} {}", thousands(*n))).collect();
        context.push(format!("formats: {}", f.join(", ")));
    }
    if !context.is_empty() {
        writeln!(out, "{DIM}{}{DIM:#}", context.join(" · "))?;
    }
    if let Some(w) = &s.windows {
        let fig = |label: &str, f: &crate::aggregate::window::WindowFigures| {
            format!(
                "{label} {} req ({:.1}/s) {}{:.1}% failed{}",
                thousands(f.requests),
                f.rps,
                if f.error_rate > 0.0 { RED } else { Style::new() },
                f.error_rate * 100.0,
                if f.error_rate > 0.0 { RED } else { Style::new() }.render_reset()
            )
        };
        writeln!(
            out,
            "{BOLD}live{BOLD:#} · {} · {} · {}",
            fig("last 1m", &w.last_1m),
            fig("last 5m", &w.last_5m),
            fig("since start", &w.since_start)
        )?;
    }
    for input in s.inputs.iter().filter(|i| i.error.is_some()) {
        writeln!(
            out,
            "{RED}input error{RED:#} {}: {} (what was read is counted)",
            esc(&input.name),
            esc(input.error.as_deref().unwrap_or(""))
        )?;
    }
    filter_line(s, out)?;
    if s.folding.folded_records > 0 {
        writeln!(
            out,
            "{YELLOW}note{YELLOW:#}: more than {} upstream clusters; {} records of the rest are counted under (other) (raise --max-clusters)",
            thousands(s.folding.max_clusters as u64),
            thousands(s.folding.folded_records)
        )?;
    }
    if s.folding.folded_failures > 0 {
        writeln!(
            out,
            "{YELLOW}note{YELLOW:#}: more than {} kinds of failure (cause × upstream × proxy); {} failures of the rest are in the findings at (other)",
            thousands(s.folding.max_groups as u64),
            thousands(s.folding.folded_failures)
        )?;
    }
    if t.partial > 0 {
        writeln!(
            out,
            "{YELLOW}note{YELLOW:#}: {} records come from cut lines (pasted?) and miss some fields",
            thousands(t.partial)
        )?;
    }
    writeln!(out)?;

    if t.records == 0 {
        writeln!(out, "No Envoy access-log records found.")?;
        if t.lines > 0 {
            writeln!(
                out,
                "Is this the istio-proxy container (`kubectl logs <pod> -c istio-proxy`), and is access logging on (meshConfig.accessLogFile: /dev/stdout)? For a custom layout pass --format '<the format string>'."
            )?;
        }
    } else if t.analysed == 0 {
        writeln!(out, "No record within the filters.")?;
    } else if t.failed == 0 {
        writeln!(out, "{GREEN}No failed requests{GREEN:#} in {} records.", thousands(t.analysed))?;
    } else {
        let causes: Vec<String> =
            s.by_cause.0.iter().take(6).map(|(c, n)| format!("{c} {}", thousands(*n))).collect();
        writeln!(
            out,
            "{RED}{} failed{RED:#} of {} records ({}) · 5xx {} · {}",
            thousands(t.failed),
            thousands(t.analysed),
            pct(t.failed, t.analysed),
            thousands(s.count_5xx()),
            causes.join(" · ")
        )?;
    }

    if !s.findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{BOLD}TOP FINDINGS{BOLD:#} ({} of {})", s.findings.len().min(top), s.findings.len())?;
        for (i, f) in s.findings.iter().take(top).enumerate() {
            finding(out, i + 1, f)?;
        }
    }

    if !s.upstreams.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{BOLD}UPSTREAMS{BOLD:#} (top {} of {} by {})",
            s.upstreams.len().min(top),
            s.upstreams.len(),
            s.upstreams_sorted_by
        )?;
        let live = s.windows.is_some();
        let mut table = Table::new();
        table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
        let mut header = vec!["cluster", "requests", "failed", "fail%", "top cause", "p50", "p99", "max"];
        if live {
            header.extend(["1m req/s", "1m fail%"]);
        }
        table.set_header(header);
        for u in s.upstreams.iter().take(top) {
            let top_cause =
                u.by_cause.0.first().map_or("-".to_string(), |(c, n)| format!("{c} ({})", thousands(*n)));
            let name = match &u.workload {
                Some(w) => format!("{} ({})", esc(&u.cluster), esc(w)),
                None => esc(&u.cluster).into_owned(),
            };
            let mut row = vec![
                name,
                thousands(u.requests),
                thousands(u.failed),
                pct(u.failed, u.requests),
                top_cause,
                ms(u.duration_ms.p50),
                ms(u.duration_ms.p99),
                ms(u.duration_ms.max),
            ];
            if let Some(w) = &u.windows {
                row.push(format!("{:.1}", w.last_1m.rps));
                row.push(pct(w.last_1m.failed, w.last_1m.requests));
            }
            table.add_row(row);
        }
        for i in [1, 2, 3, 5, 6, 7, 8, 9] {
            if let Some(c) = table.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        for line in table.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
    }

    if !s.malformed_samples.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{BOLD}MALFORMED{BOLD:#} ({} lines; first {}) {DIM}{}{DIM:#}",
            thousands(t.malformed),
            s.malformed_samples.len(),
            s.totals
                .malformed_by_kind
                .0
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        for m in &s.malformed_samples {
            let mut text: String = esc(&m.text).into_owned();
            if text.chars().count() > 100 {
                text = text.chars().take(100).collect::<String>() + "…";
            }
            writeln!(
                out,
                "  {}:{} col {} {YELLOW}{}{YELLOW:#}: {}",
                esc(&m.input),
                m.line,
                m.column,
                m.message,
                text
            )?;
        }
    }
    Ok(())
}

fn duration_note(p: &Percentiles, cutoff: Option<u64>) -> String {
    match cutoff {
        Some(c) => format!("cut-off at {}", human_ms(c)),
        None => match (p.p50, p.max) {
            (Some(a), Some(b)) => format!("p50 {} · max {}", human_ms(a), human_ms(b)),
            _ => String::new(),
        },
    }
}

/// Sample values joined by `sep`, each escaped and marked when cut (`from`, the summary's
/// `_truncated_from` list).
fn samples(values: &[String], from: &Option<Vec<Option<u64>>>, sep: &str) -> String {
    let from = |i: usize| from.as_ref().and_then(|f| f.get(i).copied().flatten());
    values.iter().enumerate().map(|(i, v)| escape_sample(v, from(i))).collect::<Vec<_>>().join(sep)
}

fn finding(out: &mut dyn Write, n: usize, f: &Finding) -> io::Result<()> {
    let share = format!("{:.1}%", f.share * 100.0);
    writeln!(
        out,
        " {BOLD}#{n}{BOLD:#} {RED}{}{RED:#} · {} · {} · {} requests ({share} of {})",
        f.cause,
        f.domain,
        f.reporter.replace('_', " "),
        thousands(f.count),
        match &f.workload {
            Some(w) => format!("{} ({})", esc(&f.upstream), esc(w)),
            None if f.upstream == "-" => "all requests".to_string(),
            None => esc(&f.upstream).into_owned(),
        }
    )?;
    let e = &f.evidence;
    let mut ev = vec![];
    ev.push(format!("{} {}", e.response_code.map_or("-".to_string(), |c| c.to_string()), e.response_flags));
    for (v, from) in [
        (&e.response_code_details, e.response_code_details_truncated_from),
        (&e.upstream_transport_failure_reason, e.upstream_transport_failure_reason_truncated_from),
        (&e.connection_termination_details, e.connection_termination_details_truncated_from),
    ] {
        if let Some(v) = v {
            ev.push(escape_sample(v, from).into_owned());
        }
    }
    let dn = duration_note(&e.duration_ms, e.cutoff_ms);
    if !dn.is_empty() {
        ev.push(dn);
    }
    if !e.upstream_hosts.is_empty() {
        ev.push(format!("host {}", samples(&e.upstream_hosts, &e.upstream_hosts_truncated_from, ", ")));
    }
    writeln!(out, "     {DIM}evidence{DIM:#}  {}", ev.join(" · "))?;
    if e.other_signatures > 0 {
        writeln!(
            out,
            "               {DIM}({} more with other flags or details){DIM:#}",
            thousands(e.other_signatures)
        )?;
    }
    writeln!(out, "     {DIM}why{DIM:#}       {}", esc(&f.hint.summary))?;
    writeln!(out, "     {DIM}look at{DIM:#}   {}", esc(&f.hint.look_at))?;
    for (i, c) in f.hint.commands.iter().enumerate() {
        let label = if i == 0 { "run" } else { "" };
        writeln!(out, "     {DIM}{label:<9}{DIM:#} {CYAN}{}{CYAN:#}", esc(c))?;
    }
    if !f.request_ids.is_empty() {
        writeln!(
            out,
            "     {DIM}ids{DIM:#}       {}",
            samples(&f.request_ids, &f.request_ids_truncated_from, " ")
        )?;
    }
    if !f.pods.is_empty() {
        writeln!(out, "     {DIM}logged by{DIM:#} {}", samples(&f.pods, &f.pods_truncated_from, ", "))?;
    }
    for r in &f.related {
        writeln!(
            out,
            "     {DIM}same reqs{DIM:#} {}{} also logged as {} by the {} at {}{}",
            if r.estimated { "≈" } else { "" },
            thousands(r.shared_requests),
            r.cause,
            r.reporter.replace('_', " "),
            esc(&r.upstream),
            r.workload.as_deref().map(|w| format!(" ({})", esc(w))).unwrap_or_default()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
