//! The table report: the first screen a tired SRE reads in ten seconds — totals, the top
//! findings with their fix, the per-upstream table, and a few malformed lines. Everything
//! taken from logs goes through [`escape_controls`](crate::escape::escape_controls); colour is decided by the output stream
//! (`anstream`: only on a terminal, `NO_COLOR` honoured).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::fit;
use crate::escape::{escape_controls as esc, escape_sample};
use crate::summary::{Finding, Incident, human_ms};
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

pub(crate) fn pct(part: u64, whole: u64) -> String {
    if whole == 0 { "-".to_string() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

/// The filters of the run, when any: `filter: --since 10m (≥ …) · --code 5xx · 1,234 records
/// outside`. Values come from the command line: escaped.
fn filter_line(s: &Summary, width: usize, out: &mut dyn Write) -> io::Result<()> {
    let Some(f) = &s.filters else { return Ok(()) };
    let text =
        format!("{} · {} outside", esc(&f.describe()), plural(s.totals.filtered_out, "record", "records"));
    let lines = fit::wrap(&text, "filter: ".len(), 2, width);
    writeln!(out, "{CYAN}filter{CYAN:#}: {}", lines[0])?;
    for l in &lines[1..] {
        writeln!(out, "  {l}")?;
    }
    Ok(())
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), human_ms)
}

/// How the table is laid out.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The inputs as given (none: stdin), for the `trace` command suggested.
    pub inputs: &'a [String],
    /// Incidents and upstreams listed.
    pub top: usize,
    /// Columns to fit (see [`fit::terminal_width`]).
    pub width: usize,
    /// Incidents whose full text (evidence, why, look at, run) follows the lists.
    pub details: usize,
}

/// Lines of a live screen besides the rows of its two lists: the header (with the live
/// figures and a note), the headline and the lists' titles, column heads and gaps.
pub const LIVE_LINES: usize = 16;

/// Incidents told in full after the lists unless `--verbose`: enough to act on the first
/// screen's top, few enough that the lists stay on it.
pub const DETAILS: usize = 3;

/// `1 request`, `2 requests`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// A cluster as a list shows it: `outbound|8080|v1|checkout.shop.svc.cluster.local` as the
/// service people name, `checkout.shop:8080 v1`; an inbound cluster with the workload that
/// logged it. The incident's full text keeps the cluster's own name.
pub fn short_upstream(cluster: &str, workload: Option<&str>) -> String {
    let c = esc(cluster);
    let parts: Vec<&str> = c.split('|').collect();
    let name = match parts[..] {
        ["outbound", port, subset, host] if !host.is_empty() => {
            let host = host.strip_suffix(".svc.cluster.local").unwrap_or(host);
            let port = if port.is_empty() { String::new() } else { format!(":{port}") };
            let subset = if subset.is_empty() { String::new() } else { format!(" {subset}") };
            format!("{host}{port}{subset}")
        }
        ["inbound", port, _, _] => format!("inbound|{port}"),
        _ if &*c == "-" => "(no upstream)".to_string(),
        _ => c.to_string(),
    };
    match workload {
        Some(w) => format!("{name} ({})", esc(w)),
        None => name,
    }
}

pub(crate) fn reporter_words(r: &str) -> String {
    r.replace('_', " ")
}

/// `client` for `client_sidecar`: where a list is narrow.
fn reporter_short(r: &str) -> &str {
    r.strip_suffix("_sidecar").unwrap_or(r)
}

pub(crate) fn share_text(share: f64) -> String {
    let p = share * 100.0;
    if p >= 99.95 {
        "100%".into()
    } else if p > 0.0 && p < 0.05 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

pub fn write(s: &Summary, view: View<'_>, out: &mut dyn Write) -> io::Result<()> {
    let width = view.width.max(fit::MIN_WIDTH);
    let t = &s.totals;
    writeln!(
        out,
        "{BOLD}envoy-triage{BOLD:#} · {} → {} · {} skipped · {} malformed",
        plural(t.lines, "line", "lines"),
        plural(t.records, "record", "records"),
        thousands(t.skipped),
        if t.malformed > 0 { format!("{YELLOW}{}{YELLOW:#}", thousands(t.malformed)) } else { "0".into() },
    )?;
    let mut context = Vec::new();
    if let Some(r) = &s.time_range {
        // One day's log needs its date once.
        let last = match (r.first_start.split_once('T'), r.last_start.split_once('T')) {
            (Some((d1, _)), Some((d2, t2))) if d1 == d2 => t2.to_string(),
            _ => r.last_start.clone(),
        };
        context.push(format!("requests started {} … {last}", r.first_start));
    }
    if !s.formats.0.is_empty() {
        let f: Vec<String> = s.formats.0.iter().map(|(k, n)| format!("{k} {}", thousands(*n))).collect();
        context.push(format!("formats: {}", f.join(", ")));
    }
    for line in fit::pack(&context, width) {
        writeln!(out, "{DIM}{line}{DIM:#}")?;
    }
    if let Some(w) = &s.windows {
        // Laid out plain, coloured after: escape codes take no columns.
        let fig = |label: &str, f: &crate::aggregate::window::WindowFigures| {
            (format!("{label} {} req ({:.1}/s) ", thousands(f.requests), f.rps), f.error_rate)
        };
        let figs =
            [fig("last 1m", &w.last_1m), fig("last 5m", &w.last_5m), fig("since start", &w.since_start)];
        let parts: Vec<String> = std::iter::once("live".to_string())
            .chain(figs.iter().map(|(text, rate)| format!("{text}{:.1}% failed", rate * 100.0)))
            .collect();
        for line in fit::pack(&parts, width) {
            let mut line = line.replacen("live", &format!("{BOLD}live{BOLD:#}"), 1);
            let mut failing: Vec<String> = figs
                .iter()
                .filter(|(_, r)| *r > 0.0)
                .map(|(_, r)| format!("{:.1}% failed", r * 100.0))
                .collect();
            failing.dedup();
            for failed in failing {
                line = line.replace(&failed, &format!("{RED}{failed}{RED:#}"));
            }
            writeln!(out, "{line}")?;
        }
    }
    let mut notes = Vec::new();
    for input in s.inputs.iter().filter(|i| i.error.is_some()) {
        notes.push((
            format!("{RED}input error{RED:#}"),
            format!(
                "{}: {} (what was read is counted)",
                esc(&input.name),
                esc(input.error.as_deref().unwrap_or(""))
            ),
            "input error".len(),
        ));
    }
    filter_line(s, width, out)?;
    if s.folding.folded_records > 0 {
        notes.push((
            format!("{YELLOW}note{YELLOW:#}"),
            format!(
                "more than {} upstream clusters; {} records of the rest are counted under (other) (raise --max-clusters)",
                thousands(s.folding.max_clusters as u64),
                thousands(s.folding.folded_records)
            ),
            4,
        ));
    }
    if s.folding.folded_failures > 0 {
        notes.push((
            format!("{YELLOW}note{YELLOW:#}"),
            format!(
                "more than {} kinds of failure (cause × upstream × proxy); {} failures of the rest are in the findings at (other)",
                thousands(s.folding.max_groups as u64),
                thousands(s.folding.folded_failures)
            ),
            4,
        ));
    }
    if t.partial > 0 {
        notes.push((
            format!("{YELLOW}note{YELLOW:#}"),
            format!(
                "{} come from cut lines (pasted?) and miss some fields",
                plural(t.partial, "record", "records")
            ),
            4,
        ));
    }
    for (label, text, label_width) in notes {
        let lines = fit::wrap(&text, label_width + 2, 2, width);
        writeln!(out, "{label}: {}", lines[0])?;
        for l in &lines[1..] {
            writeln!(out, "  {l}")?;
        }
    }
    writeln!(out)?;

    if t.records == 0 {
        writeln!(out, "No Envoy access-log records found.")?;
        if t.lines > 0 {
            let hint = "Is this the istio-proxy container (`kubectl logs <pod> -c istio-proxy`), and is access logging on (meshConfig.accessLogFile: /dev/stdout)? For a custom layout pass --format '<the format string>'.";
            for l in fit::wrap(hint, 0, 0, width) {
                writeln!(out, "{l}")?;
            }
        }
    } else if t.analysed == 0 {
        writeln!(out, "No record within the filters.")?;
    } else if t.failed == 0 {
        writeln!(out, "{GREEN}No failed requests{GREEN:#} in {}.", plural(t.analysed, "record", "records"))?;
    } else {
        headline(s, width, out)?;
    }

    let shown = s.incidents.len().min(view.top);
    if shown > 0 {
        writeln!(out)?;
        let more = if shown < s.incidents.len() {
            format!(" — --top {} for all", s.incidents.len())
        } else {
            String::new()
        };
        writeln!(out, "{BOLD}INCIDENTS{BOLD:#} ({} of {} by impact{more})", shown, s.incidents.len())?;
        let cols = [
            fit::Col::fixed("#", true),
            fit::Col { head: "cause", right: false, drop: None, shrink: Some((19, 12)) },
            fit::Col { head: "where", right: false, drop: None, shrink: Some((24, 12)) },
            fit::Col::fixed("requests", true),
            fit::Col::fixed("share", true),
            fit::Col { head: "logged by", right: false, drop: Some(1), shrink: None },
        ];
        let rows = |long: bool| -> Vec<Vec<String>> {
            s.incidents
                .iter()
                .take(shown)
                .map(|inc| {
                    let f = &s.findings[inc.findings[0]];
                    let hops = inc.findings.len() - 1;
                    let by = if long {
                        reporter_words(f.reporter)
                    } else {
                        reporter_short(f.reporter).to_string()
                    };
                    let by = if hops > 0 { format!("{by} +{hops}") } else { by };
                    vec![
                        inc.rank.to_string(),
                        f.cause.to_string(),
                        short_upstream(&f.upstream, f.workload.as_deref()),
                        thousands(f.count),
                        share_text(f.share),
                        by,
                    ]
                })
                .collect()
        };
        // Who logged it matters more than its full name: short names before dropping it.
        let (mut lines, keep) = fit::layout(&cols, &rows(true), 1, width);
        if !keep[5] {
            lines = fit::layout(&cols, &rows(false), 1, width).0;
        }
        writeln!(out, "{DIM}{}{DIM:#}", lines[0])?;
        for l in &lines[1..] {
            writeln!(out, "{l}")?;
        }
    }

    if !s.upstreams.is_empty() {
        upstream_table(s, view.top, width, out)?;
    }

    for inc in s.incidents.iter().take(shown.min(view.details)) {
        writeln!(out)?;
        incident(out, s, inc, view.inputs, width)?;
    }
    if view.details > 0 && shown > view.details.min(shown) {
        writeln!(out)?;
        writeln!(
            out,
            "{DIM}The other {} are told in full with --verbose (or --output json).{DIM:#}",
            plural((shown - view.details.min(shown)) as u64, "incident", "incidents")
        )?;
    }

    if !s.malformed_samples.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{BOLD}MALFORMED{BOLD:#} ({}; first {}) {DIM}{}{DIM:#}",
            plural(t.malformed, "line", "lines"),
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
            let head = format!("  {}:{} col {} ", esc(&m.input), m.line, m.column);
            let room = width.saturating_sub(fit::width(&head) + fit::width(m.message) + 2).max(20);
            let text = fit::elide_end(&esc(&m.text), room);
            writeln!(out, "{head}{YELLOW}{}{YELLOW:#}: {text}", m.message)?;
        }
    }
    Ok(())
}

/// `221 failed of 968 records (22.8%) · 5xx 158 · upstream_reset 31 · …`: the causes by count
/// on at most two lines, as many as fit, always with the first incident's.
fn headline(s: &Summary, width: usize, out: &mut dyn Write) -> io::Result<()> {
    const LINES: usize = 2;
    let t = &s.totals;
    let head = format!(
        "{} failed of {} ({})",
        thousands(t.failed),
        plural(t.analysed, "record", "records"),
        pct(t.failed, t.analysed)
    );
    let lead_cause = s.incidents.first().map(|i| s.findings[i.findings[0]].cause);
    let mut parts = vec![head.clone(), format!("5xx {}", thousands(s.count_5xx()))];
    let mut left_out = false;
    let fits = |parts: &[String]| fit::pack(&[parts, &["…".to_string()]].concat(), width).len() <= LINES;
    for (c, n) in &s.by_cause.0 {
        let text = format!("{c} {}", thousands(*n));
        let mut with = parts.clone();
        with.push(text.clone());
        if fits(&with) {
            parts = with;
            continue;
        }
        left_out = true;
        if Some(c.as_str()) == lead_cause {
            // The cause the first incident names must be on the lines that count causes.
            while parts.len() > 2 && !fits(&[parts.clone(), vec![text.clone()]].concat()) {
                parts.pop();
            }
            parts.push(text);
        }
    }
    if left_out {
        parts.push("…".to_string());
    }
    for (i, line) in fit::pack(&parts, width).into_iter().enumerate() {
        match line.strip_prefix(head.as_str()).filter(|_| i == 0) {
            Some(rest) => writeln!(out, "{RED}{head}{RED:#}{rest}")?,
            None => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

fn upstream_table(s: &Summary, top: usize, width: usize, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    let shown = s.upstreams.len().min(top);
    let more = if shown < s.upstreams.len() {
        format!(" — --top {} for all", s.upstreams.len())
    } else {
        String::new()
    };
    writeln!(
        out,
        "{BOLD}UPSTREAMS{BOLD:#} ({shown} of {} by {}{more})",
        s.upstreams.len(),
        s.upstreams_sorted_by
    )?;
    let live = s.windows.is_some();
    let mut cols = vec![
        fit::Col { head: "cluster", right: false, drop: None, shrink: Some((24, 12)) },
        fit::Col::fixed("requests", true),
        fit::Col::fixed("failed", true),
        fit::Col::fixed("fail%", true),
        fit::Col { head: "top cause", right: false, drop: Some(5), shrink: Some((21, 10)) },
        fit::Col { head: "", right: true, drop: Some(3), shrink: None },
        fit::Col { head: "p50", right: true, drop: Some(2), shrink: None },
        fit::Col { head: "p99", right: true, drop: Some(4), shrink: None },
        fit::Col { head: "max", right: true, drop: Some(1), shrink: None },
    ];
    if live {
        cols.push(fit::Col { head: "1m req/s", right: true, drop: Some(6), shrink: None });
        cols.push(fit::Col { head: "1m fail%", right: true, drop: Some(7), shrink: None });
    }
    let rows: Vec<Vec<String>> = s
        .upstreams
        .iter()
        .take(shown)
        .map(|u| {
            let (cause, n) = u.by_cause.0.first().map_or(("-".to_string(), String::new()), |(c, n)| {
                (c.clone(), format!("({})", thousands(*n)))
            });
            let mut row = vec![
                short_upstream(&u.cluster, u.workload.as_deref()),
                thousands(u.requests),
                thousands(u.failed),
                pct(u.failed, u.requests),
                cause,
                n,
                ms(u.duration_ms.p50),
                ms(u.duration_ms.p99),
                ms(u.duration_ms.max),
            ];
            if live {
                match &u.windows {
                    Some(w) => {
                        row.push(format!("{:.1}", w.last_1m.rps));
                        row.push(pct(w.last_1m.failed, w.last_1m.requests));
                    }
                    None => row.extend(["-".to_string(), "-".to_string()]),
                }
            }
            row
        })
        .collect();
    let (lines, _) = fit::layout(&cols, &rows, 0, width);
    writeln!(out, "{DIM}{}{DIM:#}", lines[0])?;
    for l in &lines[1..] {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

pub(crate) fn duration_note(p: &Percentiles, cutoff: Option<u64>) -> String {
    match cutoff {
        Some(c) => format!("cut-off at {}", human_ms(c)),
        None => match (p.p50, p.max) {
            (Some(a), Some(b)) => format!("p50 {} · max {}", human_ms(a), human_ms(b)),
            _ => String::new(),
        },
    }
}

/// `s` as one shell word: bare when it is only characters no shell treats specially, else in
/// single quotes (a `'` inside written `'\''`).
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The `envoy-triage trace` command that shows request `id` hop by hop over this run's inputs.
pub(crate) fn trace_command(id: &str, inputs: &[String]) -> String {
    let paths: Vec<&String> = inputs.iter().filter(|i| i.as_str() != "-").collect();
    if paths.is_empty() {
        // Stdin cannot be read again: the same logs must be piped in once more.
        return format!("… | envoy-triage trace {}", shell_word(id));
    }
    let mut c = format!("envoy-triage trace {}", shell_word(id));
    for p in paths {
        c.push(' ');
        c.push_str(&shell_word(p));
    }
    c
}

/// Sample values, each escaped and marked when cut.
fn sample_list(values: &[String], from: &Option<Vec<Option<u64>>>) -> Vec<String> {
    let from = |i: usize| from.as_ref().and_then(|f| f.get(i).copied().flatten());
    values.iter().enumerate().map(|(i, v)| escape_sample(v, from(i)).into_owned()).collect()
}

/// Sample values joined by `sep`, each escaped and marked when cut (`from`, the summary's
/// `_truncated_from` list).
fn samples(values: &[String], from: &Option<Vec<Option<u64>>>, sep: &str) -> String {
    let from = |i: usize| from.as_ref().and_then(|f| f.get(i).copied().flatten());
    values.iter().enumerate().map(|(i, v)| escape_sample(v, from(i))).collect::<Vec<_>>().join(sep)
}

/// Label column of an incident's full text.
const LABEL: usize = 13;

/// One labelled field, wrapped under the label.
fn field(out: &mut dyn Write, label: &str, text: &str, width: usize) -> io::Result<()> {
    let lines = fit::wrap(text, LABEL, LABEL, width);
    writeln!(out, "   {DIM}{label:<9}{DIM:#} {}", lines[0])?;
    for l in &lines[1..] {
        writeln!(out, "{:LABEL$}{l}", "")?;
    }
    Ok(())
}

/// A field made of parts joined by `sep`, wrapped between parts only (`p50 0 ms`, a cut value's
/// `…(+N bytes)` stay whole).
fn field_parts(
    out: &mut dyn Write,
    label: &str,
    parts: &[String],
    sep: &str,
    width: usize,
) -> io::Result<()> {
    let mut lines: Vec<String> = Vec::new();
    for p in parts {
        match lines.last_mut() {
            Some(l) if LABEL + fit::width(l) + fit::width(sep) + fit::width(p) <= width => {
                l.push_str(sep);
                l.push_str(p);
            }
            _ => lines.push(p.clone()),
        }
    }
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            writeln!(out, "   {DIM}{label:<9}{DIM:#} {l}")?;
        } else {
            writeln!(out, "{:LABEL$}{l}", "")?;
        }
    }
    Ok(())
}

fn evidence(f: &Finding) -> Vec<String> {
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
    ev
}

fn full_upstream(f: &Finding) -> String {
    match &f.workload {
        Some(w) => format!("{} ({})", esc(&f.upstream), esc(w)),
        None if f.upstream == "-" => "all requests".to_string(),
        None => esc(&f.upstream).into_owned(),
    }
}

/// An incident in full: its lead finding's judgement, evidence and next steps, then how the
/// other proxies saw the same requests.
fn incident(
    out: &mut dyn Write,
    s: &Summary,
    inc: &Incident,
    inputs: &[String],
    width: usize,
) -> io::Result<()> {
    let f = &s.findings[inc.findings[0]];
    let title = format!(
        "{} · {} · {} ({} of {})",
        f.domain,
        reporter_words(f.reporter),
        plural(f.count, "request", "requests"),
        share_text(f.share),
        full_upstream(f)
    );
    let prefix = format!("#{} {} · ", inc.rank, f.cause);
    let lines = fit::wrap(&title, fit::width(&prefix), 3, width);
    writeln!(out, "{BOLD}#{}{BOLD:#} {RED}{}{RED:#} · {}", inc.rank, f.cause, lines[0])?;
    for l in &lines[1..] {
        writeln!(out, "   {l}")?;
    }
    if let Some(o) = &inc.origin {
        let place = crate::classify::origin::Place::ALL
            .into_iter()
            .find(|p| p.name() == o.place)
            .map_or(o.place, |p| p.describe());
        // The why below is the lead's; when another hop shows where it began, name that hop
        // (the full sentence is in the JSON and in `envoy-triage trace`).
        let text = if o.finding != inc.findings[0] {
            let h = &s.findings[o.finding];
            format!("{place}, as the {} at {} shows", reporter_words(h.reporter), full_upstream(h))
        } else {
            place.to_string()
        };
        field(out, "broke at", &text, width)?;
    }
    field_parts(out, "evidence", &evidence(f), " · ", width)?;
    if f.evidence.other_signatures > 0 {
        writeln!(
            out,
            "{:LABEL$}{DIM}({} more with other flags or details){DIM:#}",
            "",
            thousands(f.evidence.other_signatures)
        )?;
    }
    field(out, "why", &esc(&f.hint.summary), width)?;
    field(out, "look at", &esc(&f.hint.look_at), width)?;
    // Commands are never wrapped: they must run as pasted.
    for (i, c) in f.hint.commands.iter().enumerate() {
        let label = if i == 0 { "run" } else { "" };
        writeln!(out, "   {DIM}{label:<9}{DIM:#} {CYAN}{}{CYAN:#}", esc(c))?;
    }
    for &j in &inc.findings[1..] {
        let h = &s.findings[j];
        let text = format!(
            "{}: {} · {} ({} of {}) · {} {}",
            reporter_words(h.reporter),
            h.cause,
            plural(h.count, "request", "requests"),
            share_text(h.share),
            full_upstream(h),
            h.evidence.response_code.map_or("-".to_string(), |c| c.to_string()),
            h.evidence.response_flags
        );
        field(out, if j == inc.findings[1] { "other hop" } else { "" }, &text, width)?;
    }
    if !f.request_ids.is_empty() {
        field_parts(out, "ids", &sample_list(&f.request_ids, &f.request_ids_truncated_from), " ", width)?;
    }
    if let Some(id) = f.request_ids.first().filter(|_| f.request_ids_truncated_from.is_none()) {
        // Commands are never wrapped: it must run as pasted.
        writeln!(out, "   {DIM}{:<9}{DIM:#} {CYAN}{}{CYAN:#}", "trace", esc(&trace_command(id, inputs)))?;
    }
    if !f.pods.is_empty() {
        field_parts(out, "logged by", &sample_list(&f.pods, &f.pods_truncated_from), ", ", width)?;
    }
    let member = |r: &crate::summary::findings::Related| {
        inc.findings.iter().any(|&j| {
            let m = &s.findings[j];
            m.cause == r.cause
                && m.reporter == r.reporter
                && m.upstream == r.upstream
                && m.workload == r.workload
        })
    };
    for r in f.related.iter().filter(|r| !member(r)) {
        let text = format!(
            "{}{} also logged as {} by the {} at {}{}",
            if r.estimated { "≈" } else { "" },
            thousands(r.shared_requests),
            r.cause,
            reporter_words(r.reporter),
            esc(&r.upstream),
            r.workload.as_deref().map(|w| format!(" ({})", esc(w))).unwrap_or_default()
        );
        field(out, "same reqs", &text, width)?;
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
