//! Live mode's full-screen dashboard on a terminal (`ratatui` on `crossterm`): `crate::live`
//! hands it the same `Summary` every tick that the other outputs get, and asks it for keys; it
//! owns the terminal (alternate screen, raw mode) until it is dropped, or a panic, restores it.
//! The final report is still `crate::report::emit`'s, on the normal screen. The core knows
//! nothing of ratatui: this module only reads `crate::summary`.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::report::table::short_upstream;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use tokio::sync::mpsc;

use crate::escape::escape_controls;
use crate::summary::{Summary, UpstreamSort};

/// Per-tick failure counts kept per upstream for the sparkline.
const SPARK: usize = 24;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// What a key asks of the live loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Redrawn already; carry on.
    Continue,
    /// `q` or Ctrl-C (raw mode turns Ctrl-C into a key, not a SIGINT): end as SIGINT does.
    Quit,
}

pub struct Dashboard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    keys: mpsc::UnboundedReceiver<Event>,
    stop_keys: Arc<AtomicBool>,
    ui: Ui,
}

/// What the screen shows.
struct Ui {
    inputs: Vec<String>,
    summary: Option<Summary>,
    sort: UpstreamSort,
    selected: usize,
    details: bool,
    paused: bool,
    help: bool,
    /// The previous tick's lines and when, for lines/s.
    last: Option<(u64, Instant)>,
    lines_per_s: f64,
    /// Upstream → (failed at the last tick, failures per tick).
    sparks: HashMap<String, (u64, VecDeque<u64>)>,
}

/// Leaves raw mode and the alternate screen; safe to call twice.
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

impl Dashboard {
    /// Takes the terminal. Keys are read on a thread of their own (crossterm reads `/dev/tty`
    /// when stdin is not a terminal, so `kubectl logs -f | envoy-triage` still gets keys).
    pub fn start(inputs: Vec<String>, sort: UpstreamSort) -> io::Result<Dashboard> {
        // Restore first, so a panic's message lands on the normal screen, readable.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode()?;
        if let Err(e) = execute!(io::stdout(), EnterAlternateScreen) {
            restore();
            return Err(e);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        let (tx, keys) = mpsc::unbounded_channel();
        let stop_keys = Arc::new(AtomicBool::new(false));
        let stop = stop_keys.clone();
        // Polled with a timeout so the thread ends with the dashboard and does not swallow a
        // key typed after it (at the shell prompt).
        std::thread::Builder::new().name("dashboard-keys".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match event::poll(Duration::from_millis(100)) {
                    Ok(true) => match event::read() {
                        Ok(e) => {
                            if tx.send(e).is_err() {
                                break;
                            }
                        }
                        Err(_) => break,
                    },
                    Ok(false) => {}
                    Err(_) => break,
                }
            }
        })?;
        let ui = Ui {
            inputs,
            summary: None,
            sort,
            selected: 0,
            details: true,
            paused: false,
            help: false,
            last: None,
            lines_per_s: 0.0,
            sparks: HashMap::new(),
        };
        let mut d = Dashboard { terminal, keys, stop_keys, ui };
        d.draw()?;
        Ok(d)
    }

    /// A tick's summary.
    pub fn update(&mut self, mut summary: Summary) -> io::Result<()> {
        let now = Instant::now();
        if let Some((lines, at)) = self.ui.last {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                self.ui.lines_per_s = summary.totals.lines.saturating_sub(lines) as f64 / secs;
            }
        }
        self.ui.last = Some((summary.totals.lines, now));
        for u in &summary.upstreams {
            let (prev, ring) = self.ui.sparks.entry(spark_key(u)).or_default();
            ring.push_back(u.failed.saturating_sub(*prev));
            *prev = u.failed;
            if ring.len() > SPARK {
                ring.pop_front();
            }
        }
        if self.ui.paused {
            return Ok(());
        }
        self.ui.sort.sort(&mut summary.upstreams);
        self.ui.selected = self.ui.selected.min(summary.incidents.len().saturating_sub(1));
        self.ui.summary = Some(summary);
        self.draw()
    }

    /// The next key's effect (redrawn when it changed the view); pending forever without keys.
    pub async fn key(&mut self) -> io::Result<Action> {
        let Some(ev) = self.keys.recv().await else {
            return std::future::pending().await;
        };
        let key = match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => k,
            Event::Resize(..) => {
                self.draw()?;
                return Ok(Action::Continue);
            }
            _ => return Ok(Action::Continue),
        };
        let n = self.ui.summary.as_ref().map_or(0, |s| s.incidents.len());
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return Ok(Action::Quit),
            KeyCode::Char('q') | KeyCode::Esc if !self.ui.help || key.code == KeyCode::Char('q') => {
                return Ok(Action::Quit);
            }
            KeyCode::Esc => self.ui.help = false,
            KeyCode::Down | KeyCode::Char('j') => {
                self.ui.selected = (self.ui.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') => self.ui.selected = self.ui.selected.saturating_sub(1),
            KeyCode::Enter => self.ui.details = !self.ui.details,
            KeyCode::Char('s') => {
                let all = UpstreamSort::ALL;
                let i = all.iter().position(|s| *s == self.ui.sort).unwrap_or(0);
                self.ui.sort = all[(i + 1) % all.len()];
                if let Some(s) = &mut self.ui.summary {
                    self.ui.sort.sort(&mut s.upstreams);
                }
            }
            KeyCode::Char('p') => self.ui.paused = !self.ui.paused,
            KeyCode::Char('?') => self.ui.help = !self.ui.help,
            _ => return Ok(Action::Continue),
        }
        self.draw()?;
        Ok(Action::Continue)
    }

    fn draw(&mut self) -> io::Result<()> {
        let ui = &self.ui;
        self.terminal.draw(|f| ui.render(f))?;
        Ok(())
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop_keys.store(true, Ordering::Relaxed);
        restore();
    }
}

/// An upstream's sparkline is its own: inbound clusters repeat across the workloads that log them.
fn spark_key(u: &crate::summary::UpstreamSummary) -> String {
    format!("{}\u{0}{}", u.cluster, u.workload.as_deref().unwrap_or(""))
}

fn esc(s: &str) -> String {
    escape_controls(s).into_owned()
}

fn spark(counts: &VecDeque<u64>) -> String {
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&c| if max == 0 || c == 0 { ' ' } else { BARS[((c * 7).div_ceil(max)) as usize] })
        .collect()
}

fn rate(requests: u64, failed: u64) -> String {
    if requests == 0 { "-".into() } else { format!("{:.1}%", failed as f64 * 100.0 / requests as f64) }
}

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);

impl Ui {
    fn render(&self, f: &mut ratatui::Frame) {
        let area = f.area();
        let detail_rows = if self.details { 6 } else { 0 };
        let [header, body, detail, footer] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Min(4),
            Constraint::Length(detail_rows),
            Constraint::Length(1),
        ])
        .areas(area);
        let [incidents, upstreams] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        f.render_widget(Paragraph::new(self.header()), header);
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
        let state = if self.paused { "PAUSED · " } else { "" };
        let keys = format!(
            "{state}q quit · j/k ↑/↓ select · enter details · s sort ({}) · p pause · ? help",
            self.sort.name()
        );
        f.render_widget(
            Paragraph::new(Span::styled(keys, Style::new().add_modifier(Modifier::REVERSED))),
            footer,
        );
        if self.help {
            let w = area.width.min(60);
            let h = area.height.min(10);
            let r = Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h);
            f.render_widget(Clear, r);
            let text = vec![
                Line::from("q, Ctrl-C   quit: the final report follows"),
                Line::from("j k ↑ ↓     select an incident"),
                Line::from("enter       show or hide the selected incident"),
                Line::from("s           sort upstreams: failed, requests, fail-rate, p99"),
                Line::from("p           pause redrawing (input is still read)"),
                Line::from("?           this help"),
            ];
            f.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: false }).block(Block::bordered().title(" HELP ")),
                r,
            );
        }
    }

    fn header(&self) -> Vec<Line<'static>> {
        let inputs = if self.inputs.is_empty() { "stdin".to_string() } else { esc(&self.inputs.join(", ")) };
        let Some(s) = &self.summary else {
            return vec![
                Line::from(vec![Span::styled("envoy-triage live", BOLD), Span::raw(format!(" · {inputs}"))]),
                Line::from("waiting for lines…"),
            ];
        };
        let t = &s.totals;
        let accounted = t.records + t.skipped + t.malformed;
        let range = s.time_range.as_ref().map_or_else(
            || "no timestamps yet".to_string(),
            |r| format!("{} → {}", esc(&r.first_start), esc(&r.last_start)),
        );
        let mut lines = vec![
            Line::from(vec![Span::styled("envoy-triage live", BOLD), Span::raw(format!(" · {inputs}"))]),
            Line::from(format!(
                "{:.0} lines/s · {} records · {} failed · accounted {}/{} lines · {range}",
                self.lines_per_s, t.records, t.failed, accounted, t.lines
            )),
        ];
        // The table's wording (`--since 10m (≥ …) · --code 5xx`), not the JSON.
        lines.push(Line::from(match &s.filters {
            Some(f) => format!("filter: {} · {} outside", esc(&f.describe()), t.filtered_out),
            None => "no filters".to_string(),
        }));
        lines
    }

    fn incidents(&self, f: &mut ratatui::Frame, area: Rect) {
        let block = Block::new().borders(Borders::TOP).title(Span::styled(" INCIDENTS (by impact) ", BOLD));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let Some(s) = &self.summary else { return };
        if s.incidents.is_empty() {
            f.render_widget(Paragraph::new("no failures yet"), inner);
            return;
        }
        let rows = inner.height as usize;
        // Keep the selected line on screen.
        let first = self.selected.saturating_sub(rows.saturating_sub(1));
        let lines: Vec<Line> = s
            .incidents
            .iter()
            .enumerate()
            .skip(first)
            .take(rows)
            .map(|(i, inc)| {
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
                let style = if i == self.selected {
                    Style::new().add_modifier(Modifier::REVERSED)
                } else {
                    Style::new()
                };
                Line::styled(text, style)
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
        let Some(s) = &self.summary else { return };
        let width = inner.width as usize;
        let lines: Vec<Line> = s
            .upstreams
            .iter()
            .take(inner.height as usize)
            .map(|u| {
                let w = |x: Option<crate::aggregate::window::WindowFigures>| {
                    x.map_or_else(
                        || "-".to_string(),
                        |x| format!("{}/{}", x.requests, rate(x.requests, x.failed)),
                    )
                };
                let (m1, m5) = (w(u.windows.map(|x| x.last_1m)), w(u.windows.map(|x| x.last_5m)));
                let all = format!("{}/{}", u.requests, rate(u.requests, u.failed));
                let sp = self.sparks.get(&spark_key(u)).map(|(_, r)| spark(r)).unwrap_or_default();
                let figures = format!(" {m1:>12} {m5:>12} {all:>12} {sp}");
                let name_w =
                    width.saturating_sub(unicode_width::UnicodeWidthStr::width(figures.as_str())).max(8);
                let name = crate::report::fit::elide_middle(
                    &short_upstream(&u.cluster, u.workload.as_deref()),
                    name_w,
                );
                Line::from(format!("{name:<name_w$}{figures}"))
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }

    fn detail(&self) -> Vec<Line<'static>> {
        let Some(s) = &self.summary else { return vec![] };
        let Some(inc) = s.incidents.get(self.selected) else {
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
