//! Live mode ends when asked, whatever it is reading: SIGINT and SIGTERM print the final report
//! and exit 0 while waiting on a FIFO with no writer, reading `/dev/zero`, reading a huge file
//! `--from-start`, or waiting on a quiet stdin; a closed stdout (`| head`) ends the run quietly.
//! Also: a FIFO is followed across writers, and a record from the year 2999 does not empty the
//! sliding windows. Each test signals only once the process has shown it is running, then waits
//! for its exit with a generous deadline (which only keeps a regression from hanging the suite).

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::{bin, sample_lines, totals};
use crate::live::{DEADLINE, Live, wait_exit};

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn write_lines(to: &mut impl Write, lines: &[String]) {
    for l in lines {
        writeln!(to, "{l}").unwrap();
    }
    to.flush().unwrap();
}

/// Opening a FIFO blocks until a writer comes, and nothing interrupted that: only SIGKILL ended
/// the run.
#[test]
fn a_fifo_without_a_writer_ends_on_sigint_and_sigterm() {
    for signal in ["INT", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("access.fifo");
        mkfifo(&fifo);
        let mut live = Live::start(&["--follow", fifo.to_str().unwrap()], Stdio::null());
        live.wait_tick("the first tick", |_| true);
        let summary = live.stop_with(signal);
        assert_eq!(totals(&summary), (0, 0, 0, 0));
        assert_eq!(summary["inputs"][0]["name"], fifo.to_str().unwrap());
    }
}

/// A FIFO was sought like a file ("Illegal seek"). It is a stream: each writer's lines are read,
/// a last line without a newline ends with its writer, and the next writer is waited for.
#[test]
fn a_fifo_is_followed_across_writers() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("access.fifo");
    mkfifo(&fifo);
    let mut live = Live::start(&["--follow", fifo.to_str().unwrap()], Stdio::null());
    live.wait_tick("the first tick", |_| true);
    let lines = sample_lines("real-refused-localhost.log");
    {
        let mut writer = OpenOptions::new().write(true).open(&fifo).unwrap();
        write_lines(&mut writer, &lines[..10]);
    }
    live.wait_tick("the first writer's 10 records", |v| v["totals"]["records"] == 10);
    {
        let mut writer = OpenOptions::new().write(true).open(&fifo).unwrap();
        write_lines(&mut writer, &lines[10..14]);
        write!(writer, "{}", lines[14]).unwrap();
    }
    live.wait_tick("the second writer's 5 records", |v| v["totals"]["records"] == 15);
    let summary = live.stop_with("TERM");
    assert_eq!(totals(&summary), (15, 15, 0, 0));
    assert_eq!(summary["inputs"][0]["name"], fifo.to_str().unwrap());
    assert!(summary["inputs"][0]["error"].is_null(), "{:#}", summary["inputs"]);
}

/// A named path that becomes a pipe after the run started: opened as a pipe (a blocking open
/// would wait for a writer, and no stop could end it), read, and stopped.
#[test]
fn a_fifo_made_after_the_start_is_followed_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("later.fifo");
    let mut live = Live::start(&["--follow", fifo.to_str().unwrap()], Stdio::null());
    live.wait_tick("the first tick", |_| true);
    mkfifo(&fifo);
    let lines = sample_lines("real-refused-localhost.log");
    {
        // Blocks until the follower has opened the pipe: it must find it to go on.
        let mut writer = OpenOptions::new().write(true).open(&fifo).unwrap();
        write_lines(&mut writer, &lines[..7]);
    }
    live.wait_tick("the 7 records", |v| v["totals"]["records"] == 7);
    let summary = live.stop_with("INT");
    assert_eq!(totals(&summary), (7, 7, 0, 0));
}

/// A read loop that never ran dry never looked at the stop: 10 minutes after SIGTERM it was
/// still reading.
#[test]
fn a_file_that_never_ends_stops_on_sigterm() {
    let mut live = Live::start(&["--follow", "/dev/zero"], Stdio::null());
    live.wait_tick("a tick with lines read", |v| v["totals"]["lines"].as_u64() > Some(0));
    let summary = live.stop_with("TERM");
    let (lines, records, skipped, malformed) = totals(&summary);
    assert_eq!((records, skipped), (0, 0));
    assert_eq!(malformed, lines, "every line read is accounted for");
}

/// `--from-start` on a huge file honoured SIGINT only once it had read to the end. The file is
/// real lines followed by 16 GiB of hole (sparse: no disk used), far more than can be read
/// before the deadline; a stop inside the hole leaves its unfinished "line" unread.
#[test]
fn from_start_on_a_huge_file_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("huge.log");
    let lines = sample_lines("real-healthy.log");
    {
        let mut f = std::fs::File::create(&log).unwrap();
        write_lines(&mut f, &lines);
        let len = f.metadata().unwrap().len();
        f.set_len(len + (16 << 30)).unwrap();
    }
    let mut live = Live::start(&["--follow", "--from-start", log.to_str().unwrap()], Stdio::null());
    live.wait_tick("the real records", |v| v["totals"]["records"] == lines.len() as u64);
    let summary = live.stop_with("INT");
    let (total, records, skipped, malformed) = totals(&summary);
    assert_eq!((records, skipped), (lines.len() as u64, 0));
    assert_eq!(total, records + malformed, "every line read is accounted for");
}

/// A quiet writer (`kubectl logs -f` on an idle pod) held the final report until it wrote or
/// closed: stdin is read on a blocking thread, and the run waited for it.
#[test]
fn a_quiet_stdin_ends_on_sigint_and_sigterm() {
    let lines = sample_lines("real-refused-localhost.log");
    for signal in ["INT", "TERM"] {
        let mut live = Live::start(&[], Stdio::piped());
        let mut stdin: ChildStdin = live.child.stdin.take().unwrap();
        write_lines(&mut stdin, &lines);
        live.wait_tick("every record", |v| v["totals"]["records"] == lines.len() as u64);
        // The writer stays, silent, until the run has ended.
        let summary = live.stop_with(signal);
        drop(stdin);
        assert_eq!(totals(&summary), (lines.len() as u64, lines.len() as u64, 0, 0));
        assert_eq!(summary["by_cause"]["connection_refused"], 12);
    }
}

/// A `-o records` run, killed if the test fails while it runs.
struct Records(Child);

impl Records {
    fn start(args: &[&str], stdin: Stdio) -> Records {
        let child = bin()
            .args(["--output", "records"])
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Records(child)
    }

    /// Reads `n` records, then closes stdout (as `head -n` does). Each record must come as it
    /// is read: nothing more will be written to fill an output buffer.
    fn read_then_close(&mut self, n: usize) {
        let out = self.0.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            for _ in 0..n {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let v: Value = serde_json::from_str(&line).expect("a record is one JSON object");
                assert!(v["response_code"].is_u64(), "{line}");
            }
            let _ = tx.send(());
        });
        rx.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("{n} records did not come"));
    }

    /// The run ends quietly with 0 once its reader went away, as batch mode does.
    fn ends_quietly(&mut self) {
        let status = wait_exit(&mut self.0);
        let mut stderr = String::new();
        self.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!((status.code(), stderr.as_str()), (Some(0), ""), "a closed pipe ends quietly with 0");
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--follow a.log -o records | head -n 3` on a file that then stays quiet. Records waited in a
/// 1 MiB buffer (head never saw them), and with nothing more written, no write failed: the run
/// went on after head had exited.
#[test]
fn follow_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("istio-proxy.log");
    write_lines(&mut std::fs::File::create(&log).unwrap(), &sample_lines("real-healthy.log")[..5]);
    let mut run = Records::start(&["--follow", "--from-start", log.to_str().unwrap()], Stdio::null());
    run.read_then_close(3);
    run.ends_quietly();
}

/// A slow producer piped into `-o records | head -n 3`: the failed write stopped the output, but
/// the sources read on and the run never ended.
#[test]
fn a_slow_stream_into_a_closed_pipe_ends_quietly() {
    let mut run = Records::start(&[], Stdio::piped());
    let mut stdin = run.0.stdin.take().unwrap();
    let lines = sample_lines("real-healthy.log");
    write_lines(&mut stdin, &lines[..5]);
    let (closed_tx, closed) = channel::<()>();
    // Once the reader has gone: a line every 20 ms, until the run has ended and the pipe breaks.
    let producer = std::thread::spawn(move || {
        let _ = closed.recv();
        for l in lines.iter().cycle() {
            if writeln!(stdin, "{l}").and_then(|()| stdin.flush()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    run.read_then_close(3);
    drop(closed_tx);
    run.ends_quietly();
    producer.join().unwrap();
}

/// `[YYYY-MM-DDTHH:MM:SS.mmmZ]` of now.
fn now_stamp() -> String {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = envoy_triage_synth::civil_from_days(days);
    let s = ms_of_day / 1000;
    format!(
        "[{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z]",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms_of_day % 1000
    )
}

/// A line with its `[start time]` replaced.
fn stamped(line: &str, stamp: &str) -> String {
    let end = line.find(']').unwrap();
    format!("{stamp}{}", &line[end + 1..])
}

/// One record stamped in the year 2999 moved the windows' "now" there: every later record fell
/// outside the last minute for the rest of the run. It counts at its arrival instead.
#[test]
fn a_far_future_timestamp_does_not_empty_the_windows() {
    let mut live = Live::start(&[], Stdio::piped());
    let mut stdin = live.child.stdin.take().unwrap();
    let lines = sample_lines("real-healthy.log");
    write_lines(&mut stdin, &[stamped(&lines[0], "[2999-01-01T00:00:00.000Z]")]);
    live.wait_tick("the year 2999 record", |v| v["totals"]["records"] == 1);
    let now: Vec<String> = lines[1..21].iter().map(|l| stamped(l, &now_stamp())).collect();
    write_lines(&mut stdin, &now);
    let tick = live.wait_tick("21 records", |v| v["totals"]["records"] == 21);
    let w = &tick["windows"];
    assert_eq!(
        (&w["last_1m"]["requests"], &w["last_5m"]["requests"], &w["since_start"]["requests"]),
        (&Value::from(21), &Value::from(21), &Value::from(21)),
        "{w:#}"
    );
    drop(stdin);
    let summary = live.wait_for("the final summary", |v| v["type"] == "summary");
    assert_eq!(summary["windows"]["last_1m"]["requests"], 21, "{:#}", summary["windows"]);
    assert_eq!(wait_exit(&mut live.child).code(), Some(0));
}
