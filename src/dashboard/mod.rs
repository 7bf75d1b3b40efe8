//! Live mode's full-screen dashboard on a terminal (`ratatui` on `crossterm`): `crate::live`
//! hands it the same `Summary` every tick that the other outputs get, and asks it for keys; it
//! owns the terminal (alternate screen, raw mode) until it is dropped, or a panic, restores it.
//! The final report is still `crate::report::emit`'s, on the normal screen. The core knows
//! nothing of ratatui: this module only reads `crate::summary`. Here: the terminal, the key
//! reader and the panic hook; `ui` is the state the ticks and keys change, `view` draws it.
//!
//! Two environment variables exist for the tests and the bench only, read when the dashboard
//! starts: `ENVOY_TRIAGE_TEST_PANIC` makes the first tick with lines panic, so that
//! tests/integration/dashboard.rs can see the terminal restored after a panic (nothing else can
//! make it panic from outside); `ENVOY_TRIAGE_DASHBOARD_STATS=FILE` writes the number of redraws
//! and the time spent in them to FILE when the dashboard ends (benches/dashboard-cost.sh).

mod ui;
mod view;

use std::io::{self, Stdout};
use std::panic::PanicHookInfo;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::summary::{Summary, UpstreamSort};
use ui::{Effect, Ui};

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
    /// Dropped after `Drop::drop` has restored the terminal: the hook in place before ours returns.
    _hook: PanicGuard,
    panic_on_tick: bool,
    stats: Stats,
}

/// Redraws and the wall time spent in them, for `ENVOY_TRIAGE_DASHBOARD_STATS`.
#[derive(Default)]
struct Stats {
    file: Option<PathBuf>,
    redraws: u64,
    drawing: Duration,
}

/// Whether the terminal is the dashboard's (raw, alternate screen) and not yet given back.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Leaves raw mode and the alternate screen, once: a panic restores from its hook and then
/// again as the dashboard is dropped while unwinding, and leaving the alternate screen a second
/// time puts the cursor back where the dashboard began, so the shell's prompt lands on the
/// panic's message.
fn restore() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// While it lives, a panic first runs `restore` (so that its message lands on the normal
/// screen, readable), then the hook that was in place; dropped, it puts that hook back: a panic
/// after the dashboard (in the final report) is the process's business again, not the
/// terminal code's of a dashboard that is gone.
struct PanicGuard {
    previous: Option<Arc<Hook>>,
}

impl PanicGuard {
    fn install(restore: fn()) -> PanicGuard {
        let previous: Arc<Hook> = Arc::new(std::panic::take_hook());
        let chained = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            chained(info);
        }));
        PanicGuard { previous: Some(previous) }
    }
}

impl Drop for PanicGuard {
    fn drop(&mut self) {
        // `take_hook` and `set_hook` panic on a panicking thread; the process is ending with
        // that panic anyway (live mode does not catch it).
        if std::thread::panicking() {
            return;
        }
        let Some(previous) = self.previous.take() else { return };
        // Ours, holding the other reference to `previous`: nothing installs a hook over it.
        drop(std::panic::take_hook());
        match Arc::try_unwrap(previous) {
            Ok(hook) => std::panic::set_hook(hook),
            Err(shared) => std::panic::set_hook(Box::new(move |info| shared(info))),
        }
    }
}

impl Dashboard {
    /// Takes the terminal. Keys are read on a thread of their own (crossterm reads `/dev/tty`
    /// when stdin is not a terminal, so `kubectl logs -f | envoy-triage` still gets keys).
    pub fn start(inputs: Vec<String>, sort: UpstreamSort) -> io::Result<Dashboard> {
        // Before the terminal changes: from here on, a panic restores it first.
        let hook = PanicGuard::install(restore);
        TAKEN.store(true, Ordering::SeqCst);
        if let Err(e) = enable_raw_mode() {
            restore();
            return Err(e);
        }
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
        let reader = std::thread::Builder::new().name("dashboard-keys".into()).spawn(move || {
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
        });
        if let Err(e) = reader {
            restore();
            return Err(e);
        }
        let stats = Stats {
            file: std::env::var_os("ENVOY_TRIAGE_DASHBOARD_STATS").map(PathBuf::from),
            ..Stats::default()
        };
        let mut d = Dashboard {
            terminal,
            keys,
            stop_keys,
            ui: Ui::new(inputs, sort),
            _hook: hook,
            panic_on_tick: std::env::var_os("ENVOY_TRIAGE_TEST_PANIC").is_some(),
            stats,
        };
        d.draw()?;
        Ok(d)
    }

    /// A tick's summary.
    pub fn update(&mut self, summary: Summary) -> io::Result<()> {
        if self.panic_on_tick && summary.totals.lines > 0 {
            panic!("ENVOY_TRIAGE_TEST_PANIC: a panic while the dashboard is on screen");
        }
        self.ui.absorb(summary, Instant::now());
        // Paused, the footer still counts the lines read since.
        self.draw()
    }

    /// The next key's effect (redrawn when it changed the view); pending forever without keys.
    pub async fn key(&mut self) -> io::Result<Action> {
        let Some(ev) = self.keys.recv().await else {
            return std::future::pending().await;
        };
        match ev {
            Event::Key(k) => match self.ui.on_key(k) {
                Effect::Quit => return Ok(Action::Quit),
                Effect::Redraw => self.draw()?,
                Effect::Nothing => {}
            },
            // `Terminal::draw` fits the new size.
            Event::Resize(..) => self.draw()?,
            _ => {}
        }
        Ok(Action::Continue)
    }

    fn draw(&mut self) -> io::Result<()> {
        let started = Instant::now();
        let ui = &self.ui;
        self.terminal.draw(|f| ui.render(f))?;
        self.stats.redraws += 1;
        self.stats.drawing += started.elapsed();
        Ok(())
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop_keys.store(true, Ordering::Relaxed);
        restore();
        if let Some(file) = &self.stats.file {
            let _ = std::fs::write(
                file,
                format!("redraws {}\ndraw_ms {}\n", self.stats.redraws, self.stats.drawing.as_millis()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static RESTORED: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        RESTORED.fetch_add(1, Ordering::SeqCst);
    }

    /// The hook is process-wide: other tests' panics may run it while it is installed, which
    /// only adds to the count; none can once it is given back.
    #[test]
    fn the_panic_hook_restores_the_terminal_then_is_given_back() {
        let guard = PanicGuard::install(count);
        let before = RESTORED.load(Ordering::SeqCst);
        assert!(std::panic::catch_unwind(|| panic!("while the dashboard is on")).is_err());
        assert!(RESTORED.load(Ordering::SeqCst) > before, "a panic restores the terminal");
        drop(guard);
        let after = RESTORED.load(Ordering::SeqCst);
        assert!(std::panic::catch_unwind(|| panic!("in the final report")).is_err());
        assert_eq!(RESTORED.load(Ordering::SeqCst), after, "the dashboard's hook is gone");
    }
}
