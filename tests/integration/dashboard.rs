//! The live dashboard as a user sees it: run in a detached tmux session of a fixed size,
//! following a file that real lines are appended to; the screen is read with
//! `tmux capture-pane`. Every wait polls the screen until a condition holds (generous deadline).

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::{json_of, sample_lines};

/// A tmux server on a private socket, killed with the test whatever happens.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(width: u16, height: u16, command: &str) -> Tmux {
        static N: AtomicU32 = AtomicU32::new(0);
        let socket = format!("et-dash-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let t = Tmux { socket };
        let ok = t
            .cmd()
            .args(["new-session", "-d", "-x", &width.to_string(), "-y", &height.to_string(), command])
            .status()
            .expect("tmux is installed (.ci/run installs it)")
            .success();
        assert!(ok, "tmux new-session failed");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn capture(&self) -> String {
        self.capture_from("0")
    }

    /// The screen from line `start` (`-`: all the history the normal screen scrolled away).
    fn capture_from(&self, start: &str) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-S", start]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(self.cmd().args(["send-keys", keys]).status().unwrap().success());
    }

    /// The screen once `ok` holds for it.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// Real log lines with failures of two causes (sample comments left out).
fn lines() -> Vec<String> {
    let mut v = sample_lines("real-no-healthy.log");
    v.extend(sample_lines("real-connect-timeout.log"));
    v.retain(|l| l.starts_with('['));
    v
}

fn widest(screen: &str) -> usize {
    screen.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// Starts the dashboard on an empty followed file and appends `lines()`; returns the session,
/// the file and the batch report's (records, top incident's cause) for the same lines.
fn dashboard(width: u16, height: u16) -> (Tmux, tempfile::TempDir, u64, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let all = lines().join("\n") + "\n";
    let batch = dir.path().join("batch.log");
    std::fs::write(&batch, &all).unwrap();
    let (_, v, _) = json_of(&[batch.to_str().unwrap()]);
    let records = v["totals"]["records"].as_u64().unwrap();
    let lead = v["incidents"][0]["findings"][0].as_u64().unwrap() as usize;
    let cause = v["findings"][lead]["cause"].as_str().unwrap().to_string();

    let bin = assert_cmd::cargo::cargo_bin("envoy-triage");
    // The shell stays after the run so that the screen it leaves can be read.
    let command = format!(
        "'{}' --follow --from-start --interval 0.2 '{}'; echo EXIT=$?; sleep 600",
        bin.display(),
        log.display()
    );
    let t = Tmux::start(width, height, &command);
    t.wait("the dashboard", |s| s.contains("waiting for lines") || s.contains(" records "));
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(all.as_bytes()).unwrap();
    (t, dir, records, cause)
}

#[test]
fn shows_counts_and_top_incident_within_80x24_and_keys_change_it() {
    let (t, _dir, records, cause) = dashboard(80, 24);
    let counted = format!("{records} records");
    let screen = t.wait(&counted, |s| s.contains(&counted));
    assert!(screen.contains(&format!("#1 {cause} ")), "top incident #1 {cause}:\n{screen}");
    assert!(screen.contains("UPSTREAMS"), "{screen}");
    assert!(screen.contains("q quit"), "the footer shows the keys:\n{screen}");
    assert!(widest(&screen) <= 80, "a line wider than the pane:\n{screen}");
    assert_eq!(screen.lines().count(), 24, "{screen}");

    // `j` selects the second incident: the detail shows its why, not the first's.
    let why = |s: &str| s.lines().find(|l| l.starts_with("   why ")).map(str::to_string);
    let first = why(&screen).expect("the selected incident's why");
    t.keys("j");
    t.wait("another incident's detail", |s| why(s).is_some_and(|w| w != first));

    t.keys("s");
    t.wait("the sort by requests", |s| {
        s.contains("sort (requests)") && s.contains("UPSTREAMS (by requests)")
    });

    t.keys("Enter");
    t.wait("details hidden", |s| !s.contains("DETAIL") && s.contains("q quit"));

    t.keys("q");
    t.wait("the final report", |s| s.contains("EXIT="));
    let end = t.capture_from("-");
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(
        end.contains("INCIDENTS") && end.contains("   why "),
        "the final report on the normal screen:\n{end}"
    );
    assert!(!end.contains("q quit"), "the dashboard left the screen:\n{end}");
}

#[test]
fn fits_160x48() {
    let (t, _dir, records, cause) = dashboard(160, 48);
    let counted = format!("{records} records");
    let screen = t.wait(&counted, |s| s.contains(&counted));
    assert!(screen.contains(&format!("#1 {cause} ")), "{screen}");
    assert!(widest(&screen) <= 160, "{screen}");
    assert_eq!(screen.lines().count(), 48, "{screen}");
    t.keys("C-c");
    t.wait("the final report", |s| s.contains("EXIT="));
    let end = t.capture_from("-");
    assert!(end.contains("EXIT=0") && end.contains("INCIDENTS"), "{end}");
}
