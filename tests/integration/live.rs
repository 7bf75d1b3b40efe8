//! The harness for live-mode tests (`follow`, `signals`): a run with NDJSON events parsed on a
//! thread as they arrive, waits on events with a generous deadline, and stopping by signal with
//! the final summary and exit code checked. Killed if a test fails while it runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::bin;

/// How long any wait may take before the test fails: only keeps a regression from hanging.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Live {
    pub child: Child,
    events: Receiver<Value>,
}

impl Live {
    /// `envoy-triage --output ndjson --interval 0.2 ARGS`.
    pub fn start(args: &[&str], stdin: Stdio) -> Live {
        Live::start_every("0.2", args, stdin)
    }

    pub fn start_every(interval: &str, args: &[&str], stdin: Stdio) -> Live {
        let mut cmd = bin();
        cmd.args(["--output", "ndjson", "--interval", interval])
            .args(args)
            .stdin(stdin)
            .stderr(Stdio::inherit());
        Live::spawn(cmd)
    }

    /// Runs `cmd` (which asks for NDJSON) with its events parsed as they come.
    pub fn spawn(mut cmd: Command) -> Live {
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).expect("each line is one JSON object");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Live { child, events }
    }

    /// Waits for an event satisfying `cond`; returns it.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) if cond(&v) => return v,
                Ok(_) => continue,
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    pub fn wait_tick(&self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(what, |v| v["type"] == "tick" && cond(v))
    }

    pub fn wait_records(&self, n: u64) -> Value {
        self.wait_tick(&format!("{n} records"), |v| v["totals"]["records"] == n)
    }

    /// Sends `signal` (`INT`, `TERM`), waits for the final summary and the exit; the exit code
    /// must be 0.
    pub fn stop_with(&mut self, signal: &str) -> Value {
        self.stop_expecting(signal, 0)
    }

    pub fn stop_expecting(&mut self, signal: &str, exit: i32) -> Value {
        kill(&self.child, signal);
        let summary =
            self.wait_for(&format!("the final summary after SIG{signal}"), |v| v["type"] == "summary");
        let status = wait_exit(&mut self.child);
        assert_eq!(status.code(), Some(exit), "SIG{signal} ends with the report and exit code {exit}");
        summary
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill(child: &Child, signal: &str) {
    let status =
        Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Waits for the child to exit; kills it and fails the test at the deadline.
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running {DEADLINE:?} after it was asked to end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
