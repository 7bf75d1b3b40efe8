//! The progress bar of a long batch run: on stderr, drawn by its own thread from the counts
//! that `source::batch` keeps ([`Progress`]: bytes read or cut into ranges, inputs done), so
//! the readers and workers never wait for it. `app` decides whether to show it (stderr a
//! terminal, batch mode) and drops the [`Bar`] before the report, which clears it. Nothing is
//! drawn for a run that ends within [`DELAY`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender, bounded};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::source::Input;
use crate::source::batch::Progress;

/// How long a run goes before the bar appears: a quick run prints its report and nothing else.
pub const DELAY: Duration = Duration::from_secs(1);

/// How often the bar takes the counts.
const TICK: Duration = Duration::from_millis(100);

/// A running progress bar; dropping it stops the thread and clears the bar.
pub struct Bar {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    /// Shows `progress` on stderr after [`DELAY`]: bytes of `total` (unknown when an input is a
    /// stream), inputs done of `inputs`, the rate and, with a total, the time left.
    pub fn start(progress: Arc<Progress>, total: Option<u64>, inputs: usize) -> Bar {
        Bar::start_on(ProgressDrawTarget::stderr(), DELAY, progress, total, inputs)
    }

    fn start_on(
        target: ProgressDrawTarget,
        delay: Duration,
        progress: Arc<Progress>,
        total: Option<u64>,
        inputs: usize,
    ) -> Bar {
        let (stop, stopped) = bounded::<()>(1);
        // A disconnected channel (the Bar dropped) stops the thread as a message would.
        let go_on = move |wait| matches!(stopped.recv_timeout(wait), Err(RecvTimeoutError::Timeout));
        let thread = std::thread::spawn(move || {
            if !go_on(delay) {
                return;
            }
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden())
                .with_style(style(total.is_some()));
            let update = |bar: &ProgressBar| {
                bar.set_position(progress.bytes.load(Ordering::Relaxed));
                let done = progress.inputs_done.load(Ordering::Relaxed);
                bar.set_message(format!("{done}/{inputs} files"));
            };
            update(&bar);
            // The rate is measured from here: what was read before the bar appeared is not a
            // step taken in no time.
            bar.reset_eta();
            bar.set_draw_target(target);
            bar.tick();
            while go_on(TICK) {
                update(&bar);
            }
            bar.finish_and_clear();
        });
        Bar { stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn style(known_total: bool) -> ProgressStyle {
    let template = if known_total {
        "{wide_bar} {bytes}/{total_bytes} · {msg} · {bytes_per_sec} · {eta} left"
    } else {
        "{spinner} {bytes} · {msg} · {bytes_per_sec}"
    };
    ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> ")
}

/// The bytes the inputs hold as stored (what [`Progress::bytes`] counts up to), or `None`
/// when one is stdin, a pipe or otherwise of unknown size.
pub fn total_bytes(inputs: &[Input]) -> Option<u64> {
    inputs.iter().try_fold(0u64, |sum, input| match input {
        Input::Path(p) => std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| sum + m.len()),
        Input::Stdin => None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use indicatif::TermLike;

    use super::*;

    /// A terminal that keeps what was drawn on it, line by line.
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl Screen {
        fn text(&self) -> String {
            self.0.lock().unwrap().join("\n")
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.0.lock().unwrap().push("<cleared>".to_string());
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_bar_shows_bytes_and_files_then_clears() {
        let screen = Screen::default();
        let progress = Arc::new(Progress::default());
        progress.bytes.store(3 << 20, Ordering::Relaxed);
        progress.inputs_done.store(1, Ordering::Relaxed);
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let bar = Bar::start_on(target, Duration::ZERO, Arc::clone(&progress), Some(6 << 20), 2);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !screen.text().contains("3.00 MiB/6.00 MiB · 1/2 files") {
            assert!(Instant::now() < deadline, "never drawn: {}", screen.text());
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(bar);
        assert!(screen.text().ends_with("<cleared>"), "{}", screen.text());
    }

    #[test]
    fn a_run_shorter_than_the_delay_draws_nothing() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let bar = Bar::start_on(target, Duration::from_secs(3600), Arc::default(), None, 1);
        drop(bar);
        assert_eq!(screen.text(), "");
    }

    #[test]
    fn the_total_is_unknown_with_a_stream() {
        let dir = std::env::temp_dir();
        assert_eq!(total_bytes(&[Input::Path(dir.clone())]), None, "a directory has no size to read");
        assert_eq!(total_bytes(&[Input::Stdin]), None);
        assert_eq!(total_bytes(&[]), Some(0));
    }
}
