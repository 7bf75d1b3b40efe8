//! Helpers shared by every module of the integration-test binary: the built `envoy-triage`
//! command, paths into the crate and its `sample-logs/`, and readers of the JSON report.

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

/// The built `envoy-triage` binary, ready for arguments. `COLUMNS` is removed, so that the
/// table is laid out for 80 columns (stdout is a pipe) whatever the shell running the tests
/// exports; a test wanting another width sets it.
pub fn bin() -> Command {
    let mut c = Command::cargo_bin("envoy-triage").unwrap();
    c.env_remove("COLUMNS");
    c
}

/// The crate root (where Cargo.toml, sample-logs/ and docs/ are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled real-Envoy samples.
pub fn samples() -> PathBuf {
    root().join("sample-logs")
}

/// tests/data/encodings/: the same real events as sample-logs/, in Istio's JSON encoding
/// (`json/`) and behind kubectl/CRI wrappers (`wrapped/`). Kept out of sample-logs/ so that
/// `envoy-triage sample-logs/`, which walks it recursively, reads each event once.
pub fn encodings() -> PathBuf {
    root().join("tests/data/encodings")
}

/// Where a real log named as in tests/data/real-expected-counts.tsv is: `json/…` and
/// `wrapped/…` under [`encodings`], the rest under [`samples`].
pub fn log_path(name: &str) -> PathBuf {
    if name.starts_with("json/") || name.starts_with("wrapped/") { encodings() } else { samples() }.join(name)
}

/// The absolute path of a file under sample-logs/, as an argument.
pub fn sample(name: &str) -> String {
    log_path(name).display().to_string()
}

/// The lines of a file under sample-logs/.
pub fn sample_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(log_path(name)).unwrap().lines().map(str::to_string).collect()
}

/// Runs with `--output json` and returns (exit code, parsed stdout, stderr); stdout that is not
/// JSON parses as `Null`. A run killed by a signal fails the test here.
pub fn json_of(args: &[&str]) -> (i32, Value, String) {
    let out = bin().args(["--output", "json"]).args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let code = out.status.code().unwrap_or_else(|| panic!("envoy-triage {args:?}: {}", out.status));
    (code, v, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `totals` of a JSON report: (lines, records, skipped, malformed).
pub fn totals(v: &Value) -> (u64, u64, u64, u64) {
    let t = &v["totals"];
    (
        t["lines"].as_u64().unwrap(),
        t["records"].as_u64().unwrap(),
        t["skipped"].as_u64().unwrap(),
        t["malformed"].as_u64().unwrap(),
    )
}

/// The finding of a JSON report with this cause and reporter; fails the test if there is none.
pub fn finding<'a>(v: &'a Value, cause: &str, reporter: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == cause && f["reporter"] == reporter)
        .unwrap_or_else(|| panic!("no {cause} finding by {reporter} in {:#}", v["findings"]))
}

/// Runs `cmd` to its end (reading `stdin`, writing `stdout`, which is captured when piped;
/// stderr captured) and returns its output and its peak resident set in MiB, as GNU time
/// measures it (`/usr/bin/time`, installed by `.ci/run` where missing). Not `wait4` or
/// `getrusage` on the child: a child spawned by this (large, multi-threaded) test process
/// inherits the test process's peak at its `exec`, so it would report that instead.
pub fn peak_rss_mib(
    cmd: &mut Command,
    stdin: std::process::Stdio,
    stdout: std::process::Stdio,
) -> (std::process::Output, u64) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rss");
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(stdin)
        .stdout(stdout)
        .output()
        .expect("/usr/bin/time (apt-get install time)");
    let kib = std::fs::read_to_string(&report).unwrap();
    // GNU time prints "Command exited with non-zero status N" before the figure then.
    let kib: u64 = kib.lines().last().and_then(|l| l.trim().parse().ok()).expect("a figure in KiB");
    (out, kib / 1024)
}

/// The first of `names` found on PATH: a system program a test needs. Under CI (where `.ci/run`
/// installs it, `install` says how) a missing one fails the test; elsewhere the test skips the
/// checks that need it, saying so.
pub fn system_tool(names: &[&str], install: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found =
        names.iter().find_map(|n| std::env::split_paths(&path).map(|d| d.join(n)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{} is missing: .ci/run installs it ({install})", names[0]);
        eprintln!("SKIPPED: {} is not installed ({install}): the checks that need it did not run", names[0]);
    }
    found
}
