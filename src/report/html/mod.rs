//! `--output html`: one self-contained HTML file to look at and to share (a ticket, a
//! postmortem), read from the same owned `Summary` as the table. Nothing is fetched when it is
//! opened: styles, the small script and the charts ([`svg`], drawn here in Rust) are inline, and a
//! Content-Security-Policy forbids any request. Without JavaScript every table and chart is
//! there; the script only adds copy buttons and sorting by a column.
//!
//! Everything taken from the log, the file names and the arguments goes through [`esc`]:
//! escaped for HTML text and attributes alike, with control and invisible characters (bidi
//! overrides, zero-width marks) made visible first, as on the terminal (`crate::escape`). The
//! page is the same at any thread count: nothing in it depends on the time of the run.

pub mod svg;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::escape::{escape_controls, escape_sample};
use crate::report::table::{
    duration_note, pct, plural, reporter_words, share_text, short_upstream, thousands, trace_command,
};
use crate::summary::findings::Finding;
use crate::summary::rank::Incident;
use crate::summary::{Summary, human_ms};

/// `s` for HTML element text or a quoted attribute value: `& < > " '` as entities, after control
/// and invisible characters are written visibly (`\x1b`, `\u{202e}`).
pub fn esc(s: &str) -> Cow<'_, str> {
    let s = escape_controls(s);
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A cut sample value, escaped, with how much was cut.
fn sample(v: &str, from: Option<u64>) -> String {
    esc(&escape_sample(v, from)).into_owned()
}

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// The incidents told with their findings; past this, one line each.
const TOLD: usize = 25;
/// The incidents listed at all; the rest are counted (a generated mesh log has hundreds, most of a
/// few requests), so the page stays a few hundred KB.
const LISTED: usize = 100;
/// Upstreams in the hop matrix's columns (by failures).
const HOP_COLUMNS: usize = 12;

pub fn write(s: &Summary, inputs: &[String], out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    let title = match inputs {
        [] => "stdin".to_string(),
        [one] => one.clone(),
        [one, rest @ ..] => format!("{one} and {} more", rest.len()),
    };
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\
         <meta name=\"generator\" content=\"envoy-triage {}\">\
         <title>envoy-triage · {}</title><style>{STYLE}</style></head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&title)
    );
    header(&mut h, s, inputs);
    h.push_str(
        "<nav><a href=\"#timeline\">Over time</a><a href=\"#incidents\">Incidents</a><a href=\"#upstreams\">Upstreams</a><a href=\"#latency\">Latency</a>\
         <a href=\"#hops\">Which hop</a><a href=\"#malformed\">Lines not read</a></nav>\n<main>\n",
    );
    timeline(&mut h, s);
    incidents(&mut h, s, inputs);
    upstreams(&mut h, s);
    latency(&mut h, s);
    hops(&mut h, s);
    malformed(&mut h, s);
    let _ = write!(
        h,
        "</main>\n<footer>envoy-triage {} · schema {} · every value from the log is shown as written (control and \
         invisible characters escaped)</footer>\n<script>{SCRIPT}</script>\n</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        s.schema_version
    );
    out.write_all(h.as_bytes())?;
    out.flush()
}

fn header(h: &mut String, s: &Summary, inputs: &[String]) {
    let t = &s.totals;
    h.push_str("<header><h1>envoy-triage report</h1><dl class=\"facts\">");
    let list: Vec<String> = inputs.iter().map(|i| format!("<code>{}</code>", esc(i))).collect();
    let inputs_html = match list.len() {
        0 => "stdin".to_string(),
        // Many inputs would push the chart off the first screen: folded, the first named.
        n if n > 3 => format!(
            "<details><summary>{} and {} more</summary>{}</details>",
            list[0],
            n - 1,
            list[1..].join(" ")
        ),
        _ => list.join(" "),
    };
    let _ = write!(h, "<dt>inputs</dt><dd class=\"inputs\">{inputs_html}</dd>");
    let _ = write!(
        h,
        "<dt>lines</dt><dd class=\"accounted\" data-lines=\"{}\" data-records=\"{}\" data-skipped=\"{}\" data-malformed=\"{}\">\
         {} = {} records + {} skipped + {} malformed</dd>",
        t.lines,
        t.records,
        t.skipped,
        t.malformed,
        thousands(t.lines),
        thousands(t.records),
        thousands(t.skipped),
        thousands(t.malformed)
    );
    if t.filtered_out > 0 || s.filters.is_some() {
        let f = s.filters.as_ref().map(|f| f.describe()).unwrap_or_default();
        let _ = write!(
            h,
            "<dt>filters</dt><dd>{} · {} analysed, {} outside</dd>",
            esc(&f),
            thousands(t.analysed),
            thousands(t.filtered_out)
        );
    }
    let failed_share = pct(t.failed, t.analysed);
    let _ = write!(
        h,
        "<dt>failed</dt><dd><strong>{}</strong> of {} ({failed_share})</dd>",
        thousands(t.failed),
        thousands(t.analysed)
    );
    if let Some(r) = &s.time_range {
        let _ = write!(h, "<dt>time</dt><dd>{} → {}</dd>", esc(&r.first_start), esc(&r.last_start));
    }
    let formats: Vec<String> =
        s.formats.0.iter().map(|(f, n)| format!("{} {}", esc(f), thousands(*n))).collect();
    if !formats.is_empty() {
        let _ = write!(h, "<dt>formats</dt><dd>{}</dd>", formats.join(" · "));
    }
    let causes: Vec<String> = s
        .by_cause
        .0
        .iter()
        .map(|(c, n)| {
            format!(
                "<span class=\"chip\" style=\"--c:{}\">{} {}</span>",
                svg::cause_colour(c),
                esc(c),
                thousands(*n)
            )
        })
        .collect();
    if !causes.is_empty() {
        let _ = write!(h, "<dt>causes</dt><dd>{}</dd>", causes.join(" "));
    }
    h.push_str("</dl></header>\n");
}

fn timeline(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"timeline\"><h2>Failures over time</h2>");
    match &s.timeline {
        Some(t) => {
            let width = bucket_width(t.width_s);
            let _ = write!(
                h,
                "<p class=\"note\">Failed requests per {width} by cause (bars, left axis) and all requests (line, right \
                 axis), by the records' own start times (UTC).{}</p>",
                if t.untimed > 0 {
                    format!(" {} records without a readable start time are not drawn.", thousands(t.untimed))
                } else {
                    String::new()
                }
            );
            // A phone keeps the chart readable and scrolls it sideways.
            let _ = write!(h, "<div class=\"scroll\">{}</div>", svg::timeline(t));
            let mut seen: Vec<&str> = Vec::new();
            for b in &t.buckets {
                for (c, _) in &b.failed {
                    if !seen.contains(c) {
                        seen.push(c);
                    }
                }
            }
            h.push_str("<p class=\"legend\">");
            for c in seen {
                let _ = write!(
                    h,
                    "<span class=\"chip\" style=\"--c:{}\">{}</span> ",
                    svg::cause_colour(c),
                    esc(c)
                );
            }
            h.push_str("<span class=\"chip line\">requests</span></p>");
        }
        None => h.push_str("<p class=\"none\">Not kept for this run.</p>"),
    }
    h.push_str("</section>\n");
}

/// `1 s`, `30 s`, `5 min`, `3 h`, `1 day`, `7 days`.
fn bucket_width(s: i64) -> String {
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        86_400 => "day".to_string(),
        s => format!("{} days", s / 86_400),
    }
}

fn where_of(f: &Finding) -> String {
    match &f.workload {
        Some(w) => format!("{} ({})", f.upstream, w),
        None if f.upstream == "-" => "all requests".to_string(),
        None => f.upstream.clone(),
    }
}

/// A command in a `<pre>` with a copy button (the script copies the `data-copy` attribute).
fn command(h: &mut String, c: &str) {
    let c = esc(c);
    let _ = write!(
        h,
        "<div class=\"cmd\"><pre><code>{c}</code></pre><button type=\"button\" class=\"copy\" data-copy=\"{c}\">copy</button></div>"
    );
}

fn incidents(h: &mut String, s: &Summary, inputs: &[String]) {
    let _ = write!(
        h,
        "<section id=\"incidents\"><h2>Incidents, by impact <small>({})</small></h2>",
        s.incidents.len()
    );
    if s.incidents.is_empty() {
        h.push_str("<p class=\"none\">No failures.</p></section>\n");
        return;
    }
    h.push_str("<ol class=\"incidents\">");
    for inc in s.incidents.iter().take(LISTED) {
        incident(h, s, inc, inputs, inc.rank <= TOLD);
    }
    h.push_str("</ol>");
    if let Some(rest) = s.incidents.get(LISTED..).filter(|r| !r.is_empty()) {
        let requests: u64 = rest.iter().map(|i| i.requests).sum();
        let _ = write!(
            h,
            "<p class=\"note more\" data-more=\"{}\">{} more incidents ({}) of less impact: <code>--output json</code> \
             lists them all.</p>",
            rest.len(),
            thousands(rest.len() as u64),
            plural(requests, "request", "requests")
        );
    }
    h.push_str("</section>\n");
}

fn incident(h: &mut String, s: &Summary, inc: &Incident, inputs: &[String], told: bool) {
    let f = &s.findings[inc.findings[0]];
    let _ = write!(
        h,
        "<li class=\"incident\" id=\"incident-{r}\" data-rank=\"{r}\" data-cause=\"{c}\"><details{open}><summary>\
         <span class=\"rank\">#{r}</span> <span class=\"cause\" style=\"--c:{col}\">{c}</span> · <span class=\"where\">{w}</span> · \
         {n} · {share} · {rep}{more}</summary>",
        r = inc.rank,
        c = esc(f.cause),
        col = svg::cause_colour(f.cause),
        w = esc(&short_upstream(&f.upstream, f.workload.as_deref())),
        n = plural(f.count, "request", "requests"),
        share = share_text(f.share),
        rep = esc(&reporter_words(f.reporter)),
        more = if inc.findings.len() > 1 { format!(" +{}", inc.findings.len() - 1) } else { String::new() },
        open = if inc.rank <= 3 { " open" } else { "" },
    );
    if !told {
        h.push_str("<p class=\"note\">Told in full in <code>--output json</code>.</p></details></li>");
        return;
    }
    h.push_str("<dl class=\"finding\">");
    let _ = write!(
        h,
        "<dt>what</dt><dd>{} · {} · {} {} ({} of {})</dd>",
        esc(f.domain),
        esc(&reporter_words(f.reporter)),
        thousands(f.count),
        if f.count == 1 { "request" } else { "requests" },
        share_text(f.share),
        esc(&where_of(f))
    );
    if let Some(o) = &inc.origin {
        let place = crate::classify::origin::Place::ALL
            .into_iter()
            .find(|p| p.name() == o.place)
            .map_or(o.place, |p| p.describe());
        let _ = write!(
            h,
            "<dt>broke at</dt><dd class=\"broke\" data-place=\"{}\"><strong>{}</strong> — {}</dd>",
            esc(o.place),
            esc(place),
            esc(&o.why)
        );
    }
    let e = &f.evidence;
    let mut ev = vec![format!(
        "<code>{} {}</code>",
        e.response_code.map_or("-".to_string(), |c| c.to_string()),
        esc(&e.response_flags)
    )];
    for (v, from) in [
        (&e.response_code_details, e.response_code_details_truncated_from),
        (&e.upstream_transport_failure_reason, e.upstream_transport_failure_reason_truncated_from),
        (&e.connection_termination_details, e.connection_termination_details_truncated_from),
    ] {
        if let Some(v) = v {
            ev.push(format!("<code>{}</code>", sample(v, from)));
        }
    }
    let dn = duration_note(&e.duration_ms, e.cutoff_ms);
    if !dn.is_empty() {
        ev.push(esc(&dn).into_owned());
    }
    if !e.upstream_hosts.is_empty() {
        let from =
            |i: usize| e.upstream_hosts_truncated_from.as_ref().and_then(|f| f.get(i).copied().flatten());
        let hosts: Vec<String> =
            e.upstream_hosts.iter().enumerate().map(|(i, v)| sample(v, from(i))).collect();
        ev.push(format!("host {}", hosts.join(", ")));
    }
    let _ = write!(h, "<dt>evidence</dt><dd>{}</dd>", ev.join(" · "));
    if let Some(c) = e.cutoff_ms.filter(|_| !e.duration_bins.is_empty()) {
        let _ = write!(h, "<dt>durations</dt><dd>{}</dd>", svg::durations(&e.duration_bins, c));
    }
    let _ = write!(h, "<dt>why</dt><dd>{}</dd>", esc(&f.hint.summary));
    let _ = write!(h, "<dt>look at</dt><dd>{}</dd>", esc(&f.hint.look_at));
    if !f.hint.commands.is_empty() {
        h.push_str("<dt>run</dt><dd>");
        for c in &f.hint.commands {
            command(h, c);
        }
        h.push_str("</dd>");
    }
    for &j in &inc.findings[1..] {
        let o = &s.findings[j];
        let _ = write!(
            h,
            "<dt>other hop</dt><dd>{}: <span class=\"cause\" style=\"--c:{}\">{}</span> · {} ({} of {}) · <code>{} {}</code></dd>",
            esc(&reporter_words(o.reporter)),
            svg::cause_colour(o.cause),
            esc(o.cause),
            plural(o.count, "request", "requests"),
            share_text(o.share),
            esc(&where_of(o)),
            o.evidence.response_code.map_or("-".to_string(), |c| c.to_string()),
            esc(&o.evidence.response_flags)
        );
    }
    if !f.request_ids.is_empty() {
        let from = |i: usize| f.request_ids_truncated_from.as_ref().and_then(|f| f.get(i).copied().flatten());
        let ids: Vec<String> = f
            .request_ids
            .iter()
            .enumerate()
            .map(|(i, v)| format!("<code>{}</code>", sample(v, from(i))))
            .collect();
        let _ = write!(h, "<dt>request ids</dt><dd class=\"ids\">{}</dd>", ids.join(" "));
    }
    if let Some(id) = f.request_ids.first().filter(|_| f.request_ids_truncated_from.is_none()) {
        h.push_str("<dt>trace</dt><dd>");
        command(h, &trace_command(id, inputs));
        h.push_str("</dd>");
    }
    if !f.pods.is_empty() {
        let from = |i: usize| f.pods_truncated_from.as_ref().and_then(|f| f.get(i).copied().flatten());
        let pods: Vec<String> = f.pods.iter().enumerate().map(|(i, v)| sample(v, from(i))).collect();
        let _ = write!(h, "<dt>logged by</dt><dd>{}</dd>", pods.join(", "));
    }
    h.push_str("</dl></details></li>");
}

fn upstreams(h: &mut String, s: &Summary) {
    let _ = write!(
        h,
        "<section id=\"upstreams\"><h2>Upstreams <small>({})</small></h2><p class=\"note\">Click a column to sort.</p>\
         <div class=\"scroll\"><table class=\"sortable\" id=\"upstream-table\"><thead><tr>\
         <th data-type=\"text\">upstream</th><th data-type=\"num\">requests</th><th data-type=\"num\">failed</th>\
         <th data-type=\"num\">fail %</th><th data-type=\"num\">p50</th><th data-type=\"num\">p99</th>\
         <th data-type=\"text\">top cause</th></tr></thead><tbody>",
        s.upstreams.len()
    );
    for u in &s.upstreams {
        let rate = if u.requests == 0 { 0.0 } else { u.failed as f64 / u.requests as f64 };
        let top = u.by_cause.0.first();
        let ms = |v: Option<u64>| v.map_or("-".to_string(), human_ms);
        let _ = write!(
            h,
            "<tr><td title=\"{full}\" data-v=\"{full}\">{short}</td><td data-v=\"{req}\">{reqs}</td><td data-v=\"{fail}\">{fails}</td>\
             <td data-v=\"{rate:.6}\"><span class=\"rate\">{pct}</span>{bar}</td><td data-v=\"{p50}\">{p50s}</td>\
             <td data-v=\"{p99}\">{p99s}</td><td data-v=\"{tc}\">{tcs}</td></tr>",
            full = esc(&match &u.workload {
                Some(w) => format!("{} ({w})", u.cluster),
                None => u.cluster.clone(),
            }),
            short = esc(&short_upstream(&u.cluster, u.workload.as_deref())),
            req = u.requests,
            reqs = thousands(u.requests),
            fail = u.failed,
            fails = thousands(u.failed),
            pct = pct(u.failed, u.requests),
            bar = svg::bar(rate),
            p50 = u.duration_ms.p50.map_or(-1, |v| v as i64),
            p50s = ms(u.duration_ms.p50),
            p99 = u.duration_ms.p99.map_or(-1, |v| v as i64),
            p99s = ms(u.duration_ms.p99),
            tc = top.map_or(String::new(), |(c, _)| esc(c).into_owned()),
            tcs = top.map_or("-".to_string(), |(c, n)| format!("{} ({})", esc(c), thousands(*n))),
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

/// Upstreams in the latency chart: the slowest by p99.
const LATENCY_ROWS: usize = 20;

fn latency(h: &mut String, s: &Summary) {
    let mut rows: Vec<(String, Option<u64>, Option<u64>)> = s
        .upstreams
        .iter()
        .map(|u| (short_upstream(&u.cluster, u.workload.as_deref()), u.duration_ms.p50, u.duration_ms.p99))
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(LATENCY_ROWS);
    let _ = writeln!(
        h,
        "<section id=\"latency\"><h2>Latency</h2><p class=\"note\">p50 and p99 of <code>%DURATION%</code> per upstream, \
         the {} slowest by p99; every upstream's are in the table above.</p><div class=\"scroll\">{}</div></section>",
        rows.len(),
        svg::latency(&rows)
    );
}

/// Failures by the proxy that logged them × upstream: where, on the path, it is seen.
fn hops(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"hops\"><h2>Which hop</h2><p class=\"note\">Failures by the proxy that logged them (rows) and \
                the upstream they were going to (columns, the busiest by failures).</p>");
    let mut columns: Vec<(String, u64)> = Vec::new();
    for f in &s.findings {
        let name = short_upstream(&f.upstream, f.workload.as_deref());
        match columns.iter_mut().find(|(n, _)| *n == name) {
            Some(c) => c.1 += f.count,
            None => columns.push((name, f.count)),
        }
    }
    if columns.is_empty() {
        h.push_str("<p class=\"none\">No failures.</p></section>\n");
        return;
    }
    columns.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    columns.truncate(HOP_COLUMNS);
    let reporters = ["gateway", "client_sidecar", "server_sidecar", "unknown"];
    let cell = |r: &str, col: &str| -> u64 {
        s.findings
            .iter()
            .filter(|f| f.reporter == r && short_upstream(&f.upstream, f.workload.as_deref()) == col)
            .map(|f| f.count)
            .sum()
    };
    let max = columns
        .iter()
        .flat_map(|(c, _)| reporters.iter().map(move |r| (r, c)))
        .map(|(r, c)| cell(r, c))
        .max()
        .unwrap_or(1)
        .max(1);
    h.push_str("<div class=\"scroll\"><table class=\"hops\"><thead><tr><th>logged by \\ upstream</th>");
    for (c, _) in &columns {
        let _ = write!(h, "<th class=\"col\"><span>{}</span></th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>");
    for r in reporters {
        let row: Vec<u64> = columns.iter().map(|(c, _)| cell(r, c)).collect();
        if row.iter().all(|&n| n == 0) {
            continue;
        }
        let _ = write!(h, "<tr><th>{}</th>", esc(&reporter_words(r)));
        for n in row {
            let alpha = if n == 0 { 0.0 } else { 0.15 + 0.85 * n as f64 / max as f64 };
            let _ = write!(
                h,
                "<td data-v=\"{n}\" style=\"background:rgba(201,42,42,{alpha:.2})\">{}</td>",
                if n == 0 { String::new() } else { thousands(n) }
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn malformed(h: &mut String, s: &Summary) {
    let _ = write!(
        h,
        "<section id=\"malformed\"><h2>Lines not read <small>({} malformed, {} skipped)</small></h2>",
        thousands(s.totals.malformed),
        thousands(s.totals.skipped)
    );
    if s.malformed_samples.is_empty() {
        h.push_str("<p class=\"none\">Every line that looked like an access log was read.</p></section>\n");
        return;
    }
    h.push_str("<ul class=\"malformed\">");
    for m in &s.malformed_samples {
        let _ = write!(
            h,
            "<li><span class=\"where\">{}:{} column {}</span> {} — {}<pre>{}</pre></li>",
            esc(&m.input),
            m.line,
            m.column,
            esc(m.kind),
            esc(m.message),
            esc(&m.text)
        );
    }
    h.push_str("</ul></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_controls_and_bidi() {
        assert_eq!(esc("plain"), "plain");
        assert_eq!(esc("<script>alert('x')</script>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(esc("a\"b&c"), "a&quot;b&amp;c");
        assert_eq!(esc("\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(esc("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(esc("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }
}
