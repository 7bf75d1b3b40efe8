//! Draws `super::ui::Ui` into a ratatui frame of any size: header, incidents, upstreams,
//! detail, footer, and the help over them. Every line is cut to the frame's width here (with
//! `…`, by `crate::report::fit`), never wrapped into the next region, except the detail's prose.

use std::collections::VecDeque;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::ui::{SPARK, Ui, spark_key};
use crate::escape::escape_controls;
use crate::report::fit::{elide_end, elide_middle, width};
use crate::report::table::short_upstream;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const REVERSED: Style = Style::new().add_modifier(Modifier::REVERSED);

/// Every key, as the help shows it.
const HELP: [&str; 8] = [
    "q, Ctrl-C  quit: the final report follows",
    "j k ↑ ↓    select an incident",
    "enter      show or hide the selected incident",
    "s          sort upstreams: failed, requests, fail-rate, p99",
    "/          filter by upstream or cause (enter keeps, esc clears)",
    "esc        close this help; clear the filter",
    "p          pause the view (input is still read)",
    "?          this help",
];

fn esc(s: &str) -> String {
    escape_controls(s).into_owned()
}

/// The last `cols` counts as bars, the newest at the right edge (padded on the left).
fn spark(counts: &VecDeque<u64>, cols: usize) -> String {
    let recent = counts.iter().skip(counts.len().saturating_sub(cols));
    let max = recent.clone().copied().max().unwrap_or(0);
    let bars: String = recent
        .map(|&c| if max == 0 || c == 0 { ' ' } else { BARS[((c * 7).div_ceil(max)) as usize] })
        .collect();
    format!("{bars:>cols$}")
}

fn rate(requests: u64, failed: u64) -> String {
    if requests == 0 { "-".into() } else { format!("{:.1}%", failed as f64 * 100.0 / requests as f64) }
}

/// `parts` joined by ` · `, or by two spaces when that is too wide, cut to `max` columns.
fn joined(parts: &[String], max: usize) -> String {
    let wide = parts.join(" · ");
    if width(&wide) <= max {
        return wide;
    }
    elide_end(&parts.join("  "), max)
}

impl Ui {
    pub(super) fn render(&self, f: &mut ratatui::Frame) {
        let area = f.area();
        let header = self.header(area.width as usize);
        let detail_rows = if self.details { 6 } else { 0 };
        let [top, body, detail, footer] = Layout::vertical([
            Constraint::Length(header.len() as u16),
            Constraint::Min(4),
            Constraint::Length(detail_rows),
            Constraint::Length(1),
        ])
        .areas(area);
        let [incidents, upstreams] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        f.render_widget(Paragraph::new(header), top);
        self.incidents(f, incidents);
        self.upstreams(f, upstreams);
        if self.details {
            f.render_widget(
                Paragraph::new(self.detail())
                    .wrap(Wrap { trim: false })
                    .block(Block::new().borders(Borders::TOP).title(Span::styled(" DETAIL ", BOLD))),
                detail,
            );
        }
        f.render_widget(Paragraph::new(Span::styled(self.footer(area.width as usize), REVERSED)), footer);
        if self.help {
            let w = area.width.min(2 + HELP.iter().map(|l| width(l)).max().unwrap_or(0) as u16);
            let h = area.height.min(2 + HELP.len() as u16);
            let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
            f.render_widget(Clear, r);
            let inner = w.saturating_sub(2) as usize;
            let text: Vec<Line> = HELP.iter().map(|l| Line::from(elide_end(l, inner))).collect();
            f.render_widget(Paragraph::new(text).block(Block::bordered().title(" HELP ")), r);
        }
    }

    fn footer(&self, max: usize) -> String {
        if self.editing {
            return joined(
                &[
                    "filter: type part of an upstream or a cause".into(),
                    "enter keep".into(),
                    "esc clear".into(),
                ],
                max,
            );
        }
        let mut parts = vec![];
        if self.paused {
            parts.push(format!("PAUSED, {} lines since", self.unseen_lines()));
            parts.push("p resume".into());
        }
        parts.extend(["q quit".into(), "j/k select".into(), "enter detail".into()]);
        parts.push(format!("s sort ({})", self.sort.name()));
        parts.push("/ filter".into());
        if !self.paused {
            parts.push("p pause".into());
        }
        parts.push("? help".into());
        joined(&parts, max)
    }

    /// Three lines, four while a `/` filter is typed or kept; each cut to `max` columns.
    fn header(&self, max: usize) -> Vec<Line<'static>> {
        let inputs = if self.inputs.is_empty() { "stdin".to_string() } else { esc(&self.inputs.join(", ")) };
        const TITLE: &str = "envoy-triage live";
        // A long path keeps its both ends: the directory says where, the file name which.
        let title = Line::from(vec![
            Span::styled(TITLE, BOLD),
            Span::raw(format!(" · {}", elide_middle(&inputs, max.saturating_sub(width(TITLE) + 3)))),
        ]);
        let Some(s) = &self.summary else {
            return vec![title, Line::from(elide_end("waiting for lines…", max))];
        };
        let t = &s.totals;
        let accounted = t.records + t.skipped + t.malformed;
        let rate = self.lines_per_s.map_or_else(|| "—".to_string(), |r| format!("{r:.0}"));
        let counts = format!(
            "{rate} lines/s · {} records · {} failed · accounted {accounted}/{} lines",
            t.records, t.failed, t.lines
        );
        let range = s.time_range.as_ref().map_or_else(
            || "no timestamps yet".to_string(),
            |r| {
                // The end's date only when it is not the start's.
                let same_day = r.first_start.get(..11).is_some_and(|d| r.last_start.starts_with(d));
                let last = if same_day { &r.last_start[11..] } else { &r.last_start };
                format!("{} → {}", esc(&r.first_start), esc(last))
            },
        );
        // The table's wording (`--since 10m (≥ …) · --code 5xx`), not the JSON.
        let filters = match &s.filters {
            Some(f) => format!("filter: {} · {} outside", esc(&f.describe()), t.filtered_out),
            None => "no filters".to_string(),
        };
        let mut lines = vec![
            title,
            Line::from(elide_end(&counts, max)),
            Line::from(elide_end(&format!("{range} · {filters}"), max)),
        ];
        if self.editing || !self.filter.is_empty() {
            let cursor = if self.editing { "▏" } else { "" };
            let text = format!(
                "/{}{cursor} shows {} of {} incidents, {} of {} upstreams",
                esc(&self.filter),
                self.shown_incidents().len(),
                s.incidents.len(),
                self.shown_upstreams().len(),
                s.upstreams.len()
            );
            lines.push(Line::styled(elide_end(&text, max), BOLD));
        }
        lines
    }

    fn incidents(&self, f: &mut ratatui::Frame, area: Rect) {
        let block = Block::new().borders(Borders::TOP).title(Span::styled(" INCIDENTS (by impact) ", BOLD));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let Some(s) = &self.summary else { return };
        let shown = self.shown_incidents();
        if shown.is_empty() {
            let none = if s.incidents.is_empty() {
                "no failures yet".to_string()
            } else {
                format!("no incident matches /{}", esc(&self.filter))
            };
            f.render_widget(Paragraph::new(elide_end(&none, inner.width as usize)), inner);
            return;
        }
        let rows = inner.height as usize;
        // Keep the selected line on screen.
        let first = self.selected.saturating_sub(rows.saturating_sub(1));
        let lines: Vec<Line> = shown
            .iter()
            .enumerate()
            .skip(first)
            .take(rows)
            .map(|(i, &at)| {
                let inc = &s.incidents[at];
                let lead = &s.findings[inc.findings[0]];
                let by = lead.reporter.strip_suffix("_sidecar").unwrap_or(lead.reporter);
                let hops = inc.findings.len() - 1;
                let by = if hops > 0 { format!("{by} +{hops}") } else { by.to_string() };
                let text = format!(
                    "#{} {} · {} · {} req · {:.0}% · {by}",
                    inc.rank,
                    lead.cause,
                    short_upstream(&lead.upstream, lead.workload.as_deref()),
                    inc.requests,
                    lead.share * 100.0,
                );
                let style = if i == self.selected { REVERSED } else { Style::new() };
                Line::styled(elide_end(&text, inner.width as usize), style)
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }

    fn upstreams(&self, f: &mut ratatui::Frame, area: Rect) {
        let title =
            format!(" UPSTREAMS (by {}) req/fail%: 1m · 5m · all · failures per tick ", self.sort.name());
        let block = Block::new().borders(Borders::TOP).title(Span::styled(title, BOLD));
        let inner = block.inner(area);
        f.render_widget(block, area);
        if self.summary.is_none() {
            return;
        }
        let width = inner.width as usize;
        let shown: Vec<_> = self.shown_upstreams().into_iter().take(inner.height as usize).collect();
        let names: Vec<String> =
            shown.iter().map(|u| short_upstream(&u.cluster, u.workload.as_deref())).collect();
        // The figures take 3 × 13 columns. Names whole first (a cut name is a guess), as far as an
        // 8-column sparkline leaves room; then the sparkline takes what is left, up to its length.
        let longest = names.iter().map(|n| self::width(n)).max().unwrap_or(0);
        let name_w = longest.clamp(16, width.saturating_sub(3 * 13 + 1 + 8).max(16));
        let spark_cols = SPARK.min(width.saturating_sub(3 * 13 + 1 + name_w));
        let lines: Vec<Line> = shown
            .into_iter()
            .zip(names)
            .map(|(u, name)| {
                let w = |x: Option<crate::aggregate::window::WindowFigures>| {
                    x.map_or_else(
                        || "-".to_string(),
                        |x| format!("{}/{}", x.requests, rate(x.requests, x.failed)),
                    )
                };
                let (m1, m5) = (w(u.windows.map(|x| x.last_1m)), w(u.windows.map(|x| x.last_5m)));
                let all = format!("{}/{}", u.requests, rate(u.requests, u.failed));
                let sp = self
                    .sparks
                    .get(&spark_key(u))
                    .map_or_else(|| " ".repeat(spark_cols), |(_, r)| spark(r, spark_cols));
                let figures = format!(" {m1:>12} {m5:>12} {all:>12} {sp}");
                let name = elide_middle(&name, name_w);
                Line::from(elide_end(&format!("{name:<name_w$}{figures}"), width))
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }

    fn detail(&self) -> Vec<Line<'static>> {
        let Some(s) = &self.summary else { return vec![] };
        let Some(inc) = self.shown_incidents().get(self.selected).map(|&i| &s.incidents[i]) else {
            return vec![Line::from("no incident selected")];
        };
        let lead = &s.findings[inc.findings[0]];
        let mut lines = vec![
            Line::from(vec![Span::styled("   why ", BOLD), Span::raw(esc(&lead.hint.summary))]),
            Line::from(vec![Span::styled("look at ", BOLD), Span::raw(esc(&lead.hint.look_at))]),
        ];
        if let Some(c) = lead.hint.commands.first() {
            lines.push(Line::from(vec![Span::styled("    run ", BOLD), Span::raw(esc(c))]));
        }
        if let Some(o) = &inc.origin {
            lines.push(Line::from(vec![Span::styled("broke at ", BOLD), Span::raw(esc(&o.why))]));
        }
        lines
    }
}
