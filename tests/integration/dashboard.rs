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

/// Once the run has ended: the terminal is as it was (normal screen, not raw).
fn assert_restored(t: &Tmux) {
    let screen = t.wait("the terminal's modes", |s| s.contains("TTY "));
    assert!(screen.contains("TTY opost icanon echo"), "raw mode was left on:\n{screen}");
    let alternate = t.cmd().args(["display", "-p", "#{alternate_on}"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&alternate.stdout).trim(),
        "0",
        "still on the alternate screen:\n{screen}"
    );
}

fn widest(screen: &str) -> usize {
    screen.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// Starts the dashboard on an empty followed file and appends `lines()`; returns the session,
/// the file and the batch report's (records, top incident's cause) for the same lines.
fn dashboard(width: u16, height: u16) -> (Tmux, tempfile::TempDir, u64, String) {
    let (t, dir, log) = start(width, height, "", "access.log");
    let (records, cause) = append(&dir, &log);
    (t, dir, records, cause)
}

/// The dashboard following an empty file at `name` (a path under a new directory), run with
/// `env` (`VAR=value …`) before it, on screen.
fn start(width: u16, height: u16, env: &str, name: &str) -> (Tmux, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(name);
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "").unwrap();
    let bin = assert_cmd::cargo::cargo_bin("envoy-triage");
    // The shell stays after the run so that the screen it leaves can be read; `TTY opost icanon echo`
    // says that raw mode (`-opost -icanon -echo`) was left.
    let command = format!(
        "{env} '{}' --follow --from-start --interval 0.2 '{}'; echo EXIT=$?; \
         echo TTY $(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(opost|icanon|echo)'); sleep 600",
        bin.display(),
        log.display()
    );
    let t = Tmux::start(width, height, &command);
    t.wait("the dashboard", |s| s.contains("waiting for lines") || s.contains(" records "));
    (t, dir, log)
}

/// Appends `lines()` to `log`; returns the batch report's (records, top incident's cause) for them.
fn append(dir: &tempfile::TempDir, log: &std::path::Path) -> (u64, String) {
    let all = lines().join("\n") + "\n";
    let batch = dir.path().join("batch.log");
    std::fs::write(&batch, &all).unwrap();
    let (_, v, _) = json_of(&[batch.to_str().unwrap()]);
    let records = v["totals"]["records"].as_u64().unwrap();
    let lead = v["incidents"][0]["findings"][0].as_u64().unwrap() as usize;
    let cause = v["findings"][lead]["cause"].as_str().unwrap().to_string();
    std::fs::OpenOptions::new().append(true).open(log).unwrap().write_all(all.as_bytes()).unwrap();
    (records, cause)
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
    // Names as short as these are shown whole (they were cut to 16 columns beside a sparkline
    // with room to spare: `warehouse…p:8080`).
    let rows: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with(" UPSTREAMS"))
        .skip(1)
        .take_while(|l| !l.starts_with(" DETAIL"))
        .collect();
    assert!(rows.len() >= 2, "{screen}");
    assert!(
        rows.iter().all(|r| !r.split("  ").next().unwrap().contains('…')),
        "an upstream name cut while it fits:\n{screen}"
    );

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
    assert_restored(&t);
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
    assert_restored(&t);
}

/// The incident lines on screen (`#1 cause · upstream · …`).
fn incidents(screen: &str) -> Vec<&str> {
    screen.lines().filter(|l| l.starts_with('#')).collect()
}

#[test]
fn slash_filters_incidents_and_upstreams_by_cause_or_upstream_enter_keeps_esc_clears() {
    let (t, _dir, records, _) = dashboard(80, 24);
    let counted = format!("{records} records");
    let all = t.wait(&counted, |s| s.contains(&counted));
    assert!(incidents(&all).iter().any(|l| l.contains("no_healthy_upstream")), "{all}");
    assert!(all.contains("cart.shop:8080 "), "{all}");

    // A cause, typed after `/`: only its incidents, and only the upstreams that failed with it.
    t.keys("/");
    t.wait("the filter being typed", |s| s.contains("enter keep") && s.contains("esc clear"));
    t.keys("conn");
    let screen = t.wait("the filtered lists", |s| s.contains("/conn▏ shows 2 of "));
    let shown = incidents(&screen);
    assert_eq!(shown.len(), 2, "{screen}");
    assert!(shown.iter().all(|l| l.contains(" connect_timeout ")), "{screen}");
    assert!(!screen.contains("cart.shop:8080"), "cart did not time out connecting:\n{screen}");
    assert!(screen.contains("warehouse.shop:8080 ") && screen.contains("postgres.db:5432 "), "{screen}");
    assert!(widest(&screen) <= 80, "{screen}");

    // Enter keeps it, and the keys are the dashboard's again.
    t.keys("Enter");
    let kept = t.wait("the filter kept", |s| s.contains("/conn shows 2 of ") && s.contains("q quit"));
    assert_eq!(incidents(&kept).len(), 2, "{kept}");

    // Esc clears it.
    t.keys("Escape");
    let cleared = t.wait("the filter cleared", |s| !s.contains("/conn") && s.contains("q quit"));
    assert_eq!(incidents(&cleared), incidents(&all), "{cleared}");

    // An upstream's name.
    t.keys("/");
    t.keys("CART");
    t.keys("Enter");
    let cart = t.wait("the upstream filter", |s| s.contains("/CART shows 1 of "));
    let shown = incidents(&cart);
    assert!(shown.len() == 1 && shown[0].contains("no_healthy_upstream · cart.shop:8080"), "{cart}");
    assert!(!cart.contains("warehouse.shop"), "{cart}");
}

#[test]
fn p_pauses_the_view_while_counting_what_arrives_and_resumes() {
    let (t, dir, records, _) = dashboard(80, 24);
    let counted = format!("{records} records");
    t.wait(&counted, |s| s.contains(&counted));
    t.keys("p");
    t.wait("PAUSED", |s| s.contains("PAUSED, 0 lines since"));

    // The same lines again: read, counted in the footer, not shown.
    let log = dir.path().join("access.log");
    append(&dir, &log);
    let since = format!("PAUSED, {} lines since", lines().len());
    let paused = t.wait(&since, |s| s.contains(&since));
    assert!(paused.contains(&counted), "the view stays as it was:\n{paused}");
    assert!(widest(&paused) <= 80, "{paused}");

    t.keys("p");
    let twice = format!("{} records", 2 * records);
    let resumed = t.wait(&twice, |s| s.contains(&twice));
    assert!(!resumed.contains("PAUSED"), "{resumed}");
}

#[test]
fn question_mark_shows_every_key_and_closes_again() {
    let (t, _dir, records, _) = dashboard(80, 24);
    let counted = format!("{records} records");
    t.wait(&counted, |s| s.contains(&counted));
    t.keys("?");
    let help = t.wait("the help", |s| s.contains(" HELP "));
    for key in ["│q, Ctrl-C ", "│j k ↑ ↓ ", "│enter ", "│s ", "│/ ", "│esc ", "│p ", "│? "]
    {
        assert!(help.contains(key), "{key:?} is not in the help:\n{help}");
    }
    assert!(widest(&help) <= 80, "{help}");
    t.keys("?");
    t.wait("the help closed", |s| !s.contains(" HELP ") && s.contains(&counted));
}

#[test]
fn refits_when_the_terminal_shrinks_from_160x48_to_80x24() {
    let (t, _dir, records, cause) = dashboard(160, 48);
    let counted = format!("{records} records");
    t.wait(&counted, |s| s.contains(&counted));
    assert!(t.cmd().args(["resize-window", "-x", "80", "-y", "24"]).status().unwrap().success());
    // tmux cuts the old screen to the new size; only a redraw puts the footer on the last line.
    let screen = t.wait("the screen laid out again", |s| {
        s.lines().count() == 24
            && s.lines().last().is_some_and(|l| l.starts_with("q quit") && l.contains("? help"))
    });
    assert!(screen.starts_with("envoy-triage live"), "{screen}");
    assert!(screen.contains(&counted) && screen.contains(&format!("#1 {cause} ")), "{screen}");
    assert!(screen.contains("UPSTREAMS") && screen.contains("DETAIL"), "{screen}");
    assert!(widest(&screen) <= 80, "{screen}");
}

#[test]
fn a_long_input_path_is_cut_in_its_middle_not_wrapped_at_80_columns() {
    let deep =
        format!("{}/{}/access.log", "a-directory-with-a-long-name".repeat(3), "and-another-one".repeat(4));
    let (t, dir, log) = start(80, 24, "", &deep);
    let (records, _) = append(&dir, &log);
    let counted = format!("{records} records");
    let screen = t.wait(&counted, |s| s.contains(&counted));
    let top: Vec<&str> = screen.lines().take(3).collect();
    assert!(
        top[0].starts_with("envoy-triage live · ") && top[0].contains('…') && top[0].ends_with("/access.log"),
        "the path keeps its both ends on one line:\n{screen}"
    );
    assert!(top[1].contains(&counted), "the counts stay on the next line:\n{screen}");
    assert!(widest(&screen) <= 80, "{screen}");
    assert_eq!(screen.lines().count(), 24, "{screen}");
}

#[test]
fn a_panic_restores_the_terminal_and_its_message_is_readable() {
    // The hook the dashboard reads only for this test: a panic at the first tick with lines.
    let (t, dir, log) = start(80, 24, "ENVOY_TRIAGE_TEST_PANIC=1", "access.log");
    append(&dir, &log);
    let end = t.wait("the run's end", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=101"), "{end}");
    let all = t.capture_from("-");
    assert!(
        all.contains("panicked") && all.contains("ENVOY_TRIAGE_TEST_PANIC"),
        "the panic's message:\n{all}"
    );
    // Left once: leaving the alternate screen again would put the cursor back where the
    // dashboard began, and the shell's next line over the message.
    let lines: Vec<&str> = all.lines().collect();
    let panicked = lines.iter().position(|l| l.contains("panicked")).unwrap();
    let exit = lines.iter().position(|l| l.contains("EXIT=")).unwrap();
    assert!(exit > panicked && lines[exit] == "EXIT=101", "the message overwritten:\n{all}");
    assert_restored(&t);
}
