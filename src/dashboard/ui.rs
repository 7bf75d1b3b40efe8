//! The dashboard's state: what the ticks said (the summary shown, lines/s, the sparklines) and
//! what the keys chose (selection, sort, `/` filter, pause, help). `super` feeds it ticks and
//! keys and draws it with `super::view`; it knows no terminal, so its rules are unit-tested here.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::report::table::short_upstream;
use crate::summary::{Incident, Summary, UpstreamSort, UpstreamSummary};

/// Per-tick failure counts kept per upstream for the sparkline.
pub(super) const SPARK: usize = 24;

/// What a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// The view changed: draw it.
    Redraw,
    /// Not a key of ours.
    Nothing,
    Quit,
}

pub(super) struct Ui {
    pub inputs: Vec<String>,
    /// The summary on screen: frozen while paused.
    pub summary: Option<Summary>,
    /// While paused, the newest tick's summary, shown on unpause.
    pub pending: Option<Summary>,
    pub sort: UpstreamSort,
    /// Index into [`Ui::shown_incidents`].
    pub selected: usize,
    pub details: bool,
    pub paused: bool,
    pub help: bool,
    /// The `/` filter: a substring of an upstream's name or a cause, any case; empty for none.
    pub filter: String,
    /// Keys are typed into the filter (after `/`, until enter or esc).
    pub editing: bool,
    /// The previous tick's lines and when, for lines/s.
    last: Option<(u64, Instant)>,
    /// None until two ticks have been seen: one tick gives no rate, and `0 lines/s` would lie.
    pub lines_per_s: Option<f64>,
    /// Upstream → (failed at the last tick, failures per tick).
    pub sparks: HashMap<String, (u64, VecDeque<u64>)>,
}

/// An upstream's sparkline is its own: inbound clusters repeat across the workloads that log them.
pub(super) fn spark_key(u: &UpstreamSummary) -> String {
    format!("{}\u{0}{}", u.cluster, u.workload.as_deref().unwrap_or(""))
}

impl Ui {
    pub fn new(inputs: Vec<String>, sort: UpstreamSort) -> Ui {
        Ui {
            inputs,
            summary: None,
            pending: None,
            sort,
            selected: 0,
            details: true,
            paused: false,
            help: false,
            filter: String::new(),
            editing: false,
            last: None,
            lines_per_s: None,
            sparks: HashMap::new(),
        }
    }

    /// A tick's summary, read at `now`.
    pub fn absorb(&mut self, summary: Summary, now: Instant) {
        if let Some((lines, at)) = self.last {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                self.lines_per_s = Some(summary.totals.lines.saturating_sub(lines) as f64 / secs);
            }
        }
        self.last = Some((summary.totals.lines, now));
        for u in &summary.upstreams {
            let (prev, ring) = self.sparks.entry(spark_key(u)).or_default();
            ring.push_back(u.failed.saturating_sub(*prev));
            *prev = u.failed;
            if ring.len() > SPARK {
                ring.pop_front();
            }
        }
        if self.paused {
            self.pending = Some(summary);
        } else {
            self.show(summary);
        }
    }

    fn show(&mut self, mut summary: Summary) {
        self.sort.sort(&mut summary.upstreams);
        self.summary = Some(summary);
        self.clamp();
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.shown_incidents().len().saturating_sub(1));
    }

    /// Lines read since the view was paused (0 when it is not).
    pub fn unseen_lines(&self) -> u64 {
        match (&self.pending, &self.summary) {
            (Some(p), Some(s)) => p.totals.lines.saturating_sub(s.totals.lines),
            (Some(p), None) => p.totals.lines,
            _ => 0,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Effect {
        if key.kind == KeyEventKind::Release {
            return Effect::Nothing;
        }
        // Raw mode makes Ctrl-C a key, not a SIGINT: it ends the run as SIGINT does, even mid-filter.
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Effect::Quit;
        }
        if self.editing {
            match key.code {
                KeyCode::Esc => {
                    self.filter.clear();
                    self.editing = false;
                }
                KeyCode::Enter => self.editing = false,
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
                    self.filter.push(c)
                }
                _ => return Effect::Nothing,
            }
            // A new filter shows its first incident.
            self.selected = 0;
            return Effect::Redraw;
        }
        let n = self.shown_incidents().len();
        match key.code {
            KeyCode::Char('q') => return Effect::Quit,
            // Esc dismisses; it never ends a run that may have followed a node for hours.
            KeyCode::Esc if self.help => self.help = false,
            KeyCode::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.selected = 0;
            }
            KeyCode::Char('/') => {
                self.editing = true;
                self.help = false;
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Enter => self.details = !self.details,
            KeyCode::Char('s') => {
                let all = UpstreamSort::ALL;
                let i = all.iter().position(|s| *s == self.sort).unwrap_or(0);
                self.sort = all[(i + 1) % all.len()];
                if let Some(s) = &mut self.summary {
                    self.sort.sort(&mut s.upstreams);
                }
            }
            KeyCode::Char('p') => {
                self.paused = !self.paused;
                if let Some(s) = self.pending.take() {
                    self.show(s);
                }
            }
            KeyCode::Char('?') => self.help = !self.help,
            _ => return Effect::Nothing,
        }
        Effect::Redraw
    }

    /// The lowercased filter, when one is typed.
    fn needle(&self) -> Option<String> {
        (!self.filter.is_empty()).then(|| self.filter.to_lowercase())
    }

    /// The incidents the filter lets through, as indices into `summary.incidents`: those with a
    /// hop whose upstream (as shown or in full) or cause contains it.
    pub fn shown_incidents(&self) -> Vec<usize> {
        let Some(s) = &self.summary else { return vec![] };
        let needle = self.needle();
        (0..s.incidents.len())
            .filter(|&i| needle.as_deref().is_none_or(|n| incident_matches(s, &s.incidents[i], n)))
            .collect()
    }

    /// The upstreams the filter lets through: those whose name contains it or that failed with
    /// a cause that does.
    pub fn shown_upstreams(&self) -> Vec<&UpstreamSummary> {
        let Some(s) = &self.summary else { return vec![] };
        let needle = self.needle();
        s.upstreams.iter().filter(|u| needle.as_deref().is_none_or(|n| upstream_matches(u, n))).collect()
    }
}

fn has(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(needle)
}

fn name_matches(cluster: &str, workload: Option<&str>, needle: &str) -> bool {
    has(cluster, needle)
        || has(&short_upstream(cluster, workload), needle)
        || workload.is_some_and(|w| has(w, needle))
}

fn incident_matches(s: &Summary, inc: &Incident, needle: &str) -> bool {
    inc.findings
        .iter()
        .filter_map(|&i| s.findings.get(i))
        .any(|f| has(f.cause, needle) || name_matches(&f.upstream, f.workload.as_deref(), needle))
}

fn upstream_matches(u: &UpstreamSummary, needle: &str) -> bool {
    name_matches(&u.cluster, u.workload.as_deref(), needle)
        || u.by_cause.0.iter().any(|(cause, n)| *n > 0 && has(cause, needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(ui: &mut Ui, text: &str) {
        for c in text.chars() {
            ui.on_key(key(KeyCode::Char(c)));
        }
    }

    /// The summary of real lines: two causes on two upstreams, and upstreams that did not fail.
    fn summary(lines: u64) -> Summary {
        let text: String = ["real-no-healthy.log", "real-connect-timeout.log"]
            .iter()
            .map(|n| {
                std::fs::read_to_string(format!("{}/sample-logs/{n}", env!("CARGO_MANIFEST_DIR"))).unwrap()
            })
            .collect();
        let mut agg = crate::aggregate::Aggregate::new(100);
        let scratch = crate::format::json::Scratch::new();
        let src = crate::source::SourceMeta::default();
        for (i, line) in text.lines().filter(|l| l.starts_with('[')).enumerate() {
            let record = crate::format::parse_line(line.as_bytes(), &scratch).unwrap();
            agg.add_record(&record, crate::aggregate::Position { chunk: 0, line: i as u32 }, &src);
        }
        let mut s = Summary::build(&agg, &[]);
        s.totals.lines = lines;
        s
    }

    #[test]
    fn lines_per_second_is_unknown_until_a_second_tick() {
        let mut ui = Ui::new(vec![], UpstreamSort::Failed);
        let t0 = Instant::now();
        ui.absorb(summary(100), t0);
        assert_eq!(ui.lines_per_s, None);
        ui.absorb(summary(300), t0 + Duration::from_secs(2));
        assert_eq!(ui.lines_per_s, Some(100.0));
    }

    #[test]
    fn the_filter_keeps_incidents_and_upstreams_by_name_or_cause_and_esc_clears_it() {
        let mut ui = Ui::new(vec![], UpstreamSort::Failed);
        ui.absorb(summary(1), Instant::now());
        let all = (ui.shown_incidents().len(), ui.shown_upstreams().len());
        assert!(all.0 >= 3 && all.1 >= 4, "{all:?}");

        assert_eq!(ui.on_key(key(KeyCode::Char('/'))), Effect::Redraw);
        typed(&mut ui, "CART");
        let s = ui.summary.as_ref().unwrap();
        let shown = ui.shown_incidents();
        assert_eq!(shown.len(), 1);
        assert_eq!(
            s.findings[s.incidents[shown[0]].findings[0]].upstream,
            "outbound|8080||cart.shop.svc.cluster.local"
        );
        assert_eq!(ui.shown_upstreams().len(), 1);
        // `q` is typed, not obeyed, while the filter is edited.
        assert_eq!(ui.on_key(key(KeyCode::Char('q'))), Effect::Redraw);
        ui.on_key(key(KeyCode::Backspace));
        assert_eq!(ui.filter, "CART");
        ui.on_key(key(KeyCode::Enter));
        assert!(!ui.editing && ui.filter == "CART");

        // A cause: every incident of it, and the upstreams that failed with it.
        ui.on_key(key(KeyCode::Esc));
        assert_eq!((ui.shown_incidents().len(), ui.shown_upstreams().len()), all);
        ui.on_key(key(KeyCode::Char('/')));
        typed(&mut ui, "connect_timeout");
        assert_eq!(ui.shown_incidents().len(), 2);
        assert_eq!(ui.shown_upstreams().len(), 2);
        ui.on_key(key(KeyCode::Esc));
        assert!(ui.filter.is_empty() && !ui.editing);
        assert_eq!(
            ui.on_key(key(KeyCode::Esc)),
            Effect::Nothing,
            "esc with nothing to dismiss does not quit"
        );
    }

    #[test]
    fn paused_keeps_the_view_and_counts_what_came_since() {
        let mut ui = Ui::new(vec![], UpstreamSort::Failed);
        let t0 = Instant::now();
        ui.absorb(summary(10), t0);
        ui.on_key(key(KeyCode::Char('p')));
        ui.absorb(summary(25), t0 + Duration::from_secs(1));
        assert_eq!(ui.summary.as_ref().unwrap().totals.lines, 10);
        assert_eq!(ui.unseen_lines(), 15);
        ui.on_key(key(KeyCode::Char('p')));
        assert_eq!(ui.summary.as_ref().unwrap().totals.lines, 25);
        assert_eq!(ui.unseen_lines(), 0);
    }
}
