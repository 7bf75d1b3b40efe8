//! The report: run the built binary on the bundled real-Envoy samples and on generated input,
//! and check what users rely on — exact counts, causes, findings, the JSON contract,
//! exit codes, and output safety.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{bin, encodings, finding, json_of, root, sample, samples, totals};

/// Per file: lines, records, records per code, records per flag.
struct Expected {
    lines: u64,
    records: u64,
    codes: BTreeMap<String, u64>,
    flags: BTreeMap<String, u64>,
}

/// Expected counts computed from the files by tools/real-envoy/postprocess.py.
fn expected_counts() -> BTreeMap<String, Expected> {
    let tsv = std::fs::read_to_string(root().join("tests/data/real-expected-counts.tsv")).unwrap();
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, lines, records, code, flags, n) =
            (f[0], f[1].parse().unwrap(), f[2].parse().unwrap(), f[3], f[4], f[6].parse::<u64>().unwrap());
        let e = out.entry(file.to_string()).or_insert(Expected {
            lines,
            records,
            codes: BTreeMap::new(),
            flags: BTreeMap::new(),
        });
        *e.codes.entry(code.to_string()).or_insert(0) += n;
        if flags != "-" {
            for flag in flags.split(',') {
                *e.flags.entry(flag.to_string()).or_insert(0) += n;
            }
        }
    }
    out
}

#[test]
fn every_real_envoy_sample_is_read_exactly() {
    let expected = expected_counts();
    assert!(expected.len() >= 20, "{} files", expected.len());
    for (file, Expected { lines, records, codes, flags }) in &expected {
        let (code, v, err) = json_of(&[&sample(file)]);
        assert_eq!(code, 0, "{file}: {err}");
        let (l, r, s, m) = totals(&v);
        assert_eq!((l, r), (*lines, *records), "{file}");
        assert_eq!(l, r + s + m, "{file}: lines = records + skipped + malformed");
        assert_eq!(m, 0, "{file}: {:#}", v["malformed_samples"]);
        let got_codes: BTreeMap<String, u64> =
            v["by_code"].as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).collect();
        assert_eq!(&got_codes, codes, "{file}");
        let got_flags: BTreeMap<String, u64> =
            v["by_flag"].as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).collect();
        assert_eq!(&got_flags, flags, "{file}");
    }
}

#[test]
fn the_sample_directory_accounts_for_every_line() {
    let (code, v, _) = json_of(&[&samples().display().to_string()]);
    assert_eq!(code, 0);
    let (l, r, s, m) = totals(&v);
    assert_eq!((l, r, s, m), (1100, 968, 132, 0));
    assert_eq!(v["totals"]["skipped_by_reason"]["envoy_log"], 132);
    // Walked recursively, it holds one text file per scenario (each event once; the other
    // encodings are in tests/data/encodings/) and READMEs, which are skipped.
    assert_eq!(v["inputs"].as_array().unwrap().len(), 15);
}

#[test]
fn json_and_wrapped_variants_read_the_same_events() {
    for (plain, other) in [
        ("real-timeout-15s.log", "json/real-timeout-15s.json.log"),
        ("real-tls-mismatch.log", "json/real-tls-mismatch.json.log"),
        ("real-refused-localhost.log", "wrapped/real-refused-localhost.kubectl.log"),
        ("real-timeout-15s.log", "wrapped/real-timeout-15s.kubectl.log"),
    ] {
        let (_, a, _) = json_of(&[&sample(plain)]);
        let (_, b, _) = json_of(&[&sample(other)]);
        for key in ["by_code", "by_flag", "by_cause"] {
            assert_eq!(a[key], b[key], "{key}: {plain} vs {other}");
        }
    }
}

#[test]
fn a_15s_wall_at_the_gateway_is_called_a_configured_timeout() {
    let (_, v, _) = json_of(&[&sample("real-timeout-15s.log")]);
    let f = finding(&v, "route_timeout", "gateway");
    assert_eq!(f["count"], 6);
    assert_eq!(f["upstream"], "outbound|8000||httpbin.foo.svc.cluster.local");
    let cutoff = f["evidence"]["cutoff_ms"].as_u64().unwrap();
    assert!((14_950..=15_050).contains(&cutoff), "{cutoff}");
    let why = f["hint"]["summary"].as_str().unwrap();
    assert!(why.contains("all 6 at 15.0 s"), "{why}");
    assert!(why.contains("not Istio's"), "{why}");
    assert_eq!(f["evidence"]["response_code_details"], "response_timeout");
    // The server sidecar saw the same requests end with the caller leaving.
    let dc = finding(&v, "downstream_disconnect", "server_sidecar");
    assert_eq!(dc["related"][0]["cause"], "route_timeout");
    assert_eq!(dc["related"][0]["shared_requests"], 6);
}

#[test]
fn the_kubectl_prefix_names_the_gateway_pod_in_commands() {
    let (_, v, _) = json_of(&[&sample("wrapped/real-timeout-15s.kubectl.log")]);
    let f = finding(&v, "route_timeout", "gateway");
    assert_eq!(f["pods"][0], "istio-ingressgateway-7d4f8b9c6-x2x9z");
    let cmd = f["hint"]["commands"][0].as_str().unwrap();
    assert!(
        // The gateway's namespace (issue 17), not that of the service it calls (`httpbin.foo`).
        cmd.contains("istioctl proxy-config routes istio-ingressgateway-7d4f8b9c6-x2x9z -n istio-system"),
        "{cmd}"
    );
}

#[test]
fn an_app_bound_to_localhost_is_found_at_the_server_sidecar() {
    let (_, v, _) = json_of(&[&sample("real-refused-localhost.log")]);
    let f = finding(&v, "connection_refused", "server_sidecar");
    assert_eq!((f["count"].as_u64(), f["share"].as_f64()), (Some(12), Some(1.0)));
    assert_eq!(f["domain"], "application");
    assert!(f["hint"]["summary"].as_str().unwrap().contains("127.0.0.1"));
    assert!(f["hint"]["look_at"].as_str().unwrap().contains("0.0.0.0"));
    // The client sidecar only saw 503 via_upstream; the report links it to the real cause.
    let c = finding(&v, "app_error", "client_sidecar");
    assert_eq!(c["related"][0]["cause"], "connection_refused");
    assert!(
        c["hint"]["summary"].as_str().unwrap().contains("logged 12 of these requests as connection_refused")
    );
    // Symptoms are listed after their cause.
    assert_eq!(v["findings"][0]["cause"], "connection_refused");
}

#[test]
fn plaintext_against_strict_mtls_is_a_security_finding_on_both_sides() {
    let (_, v, _) = json_of(&[&sample("real-mtls-strict-plaintext.log")]);
    let server = finding(&v, "tls_failure", "unknown");
    assert_eq!(server["evidence"]["response_code_details"], "filter_chain_not_found");
    let client = finding(&v, "upstream_reset", "client_sidecar");
    assert_eq!(client["domain"], "security");
    assert!(client["hint"]["summary"].as_str().unwrap().contains("not a keep-alive race"));
    assert!(client["hint"]["commands"][0].as_str().unwrap().contains("peerauthentication"));
}

#[test]
fn tls_origination_to_plaintext_and_trust_failures() {
    let (_, v, _) = json_of(&[&sample("real-tls-mismatch.log")]);
    assert_eq!(v["by_cause"]["tls_failure"], 20);
    let f = &v["findings"][0];
    assert_eq!(f["cause"], "tls_failure");
    assert!(
        f["evidence"]["upstream_transport_failure_reason"].as_str().unwrap().contains("TLS_error"),
        "{f:#}"
    );
}

#[test]
fn each_playbook_scenario_has_its_cause() {
    for (file, cause, count) in [
        ("real-per-try-timeout.log", "per_try_timeout", 8),
        ("real-circuit-breaker.log", "overflow", 15),
        ("real-no-healthy.log", "no_healthy_upstream", 10),
        ("real-no-route.log", "no_route", 8),
        ("real-no-route.log", "no_cluster", 5),
        ("real-no-route.log", "blocked_egress", 4),
        ("real-protocol-error.log", "protocol_error", 18),
        ("real-connect-timeout.log", "connect_timeout", 7),
        ("real-tcp.log", "connection_refused", 6),
        ("real-client-disconnect.log", "downstream_disconnect", 16),
    ] {
        let (_, v, _) = json_of(&[&sample(file)]);
        assert_eq!(v["by_cause"][cause], count, "{file}: {:#}", v["by_cause"]);
    }
    let (_, v, _) = json_of(&[&sample("real-healthy.log")]);
    assert_eq!(v["totals"]["failed"], 0);
    assert!(v["findings"].as_array().unwrap().is_empty());
}

#[test]
fn a_named_pipe_is_read_as_a_stream_and_a_gzip_file_whole() {
    // `envoy-triage <(kubectl logs …)` passes a FIFO path: it cannot be read at offsets.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("logs.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let data = std::fs::read(sample("real-no-route.log")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, &data).unwrap())
    };
    let (code, v, _) = json_of(&[fifo.to_str().unwrap()]);
    assert_eq!(code, 0);
    // Checked before joining: a reader that never read the pipe would leave the writer blocked.
    assert_eq!(totals(&v), (39, 39, 0, 0));
    writer.join().unwrap();
    let gz = dir.path().join("logs.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(sample("real-no-route.log")).unwrap()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let (_, z, _) = json_of(&[gz.to_str().unwrap()]);
    assert_eq!(totals(&z), (39, 39, 0, 0));
    assert_eq!(z["by_cause"], v["by_cause"]);
}

#[test]
fn a_finding_without_a_cluster_is_a_share_of_all_requests() {
    // NR, NC and blackhole records name no cluster ("-"): the share is of every record, and the
    // text must say so rather than "20.5% of -".
    let (_, v, _) = json_of(&[&sample("real-no-route.log")]);
    let f = finding(&v, "no_route", "unknown");
    assert_eq!(f["upstream"], "-");
    let why = f["hint"]["summary"].as_str().unwrap();
    assert!(why.starts_with("8 requests (20.5% of all requests)"), "{why}");
    let out = bin().arg(sample("real-no-route.log")).env("NO_COLOR", "1").output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("(20.5% of all requests)"), "{table}");
    assert!(!table.contains("% of -)"), "{table}");
}

#[test]
fn the_json_contract_has_its_documented_shape() {
    let (_, v, _) = json_of(&[&sample("real-refused-localhost.log")]);
    assert_eq!(v["schema_version"], 1);
    for key in ["lines", "records", "skipped", "malformed", "failed"] {
        assert!(v["totals"][key].is_u64(), "totals.{key}");
    }
    for key in ["by_code", "by_flag", "by_cause", "by_domain", "by_reporter"] {
        assert!(v[key].is_object(), "{key}");
    }
    assert!(v["by_code"]["503"].is_u64());
    let u = &v["upstreams"][0];
    for key in ["cluster", "requests", "by_code", "by_flag", "by_cause", "duration_ms"] {
        assert!(!u[key].is_null(), "upstreams[].{key}");
    }
    for key in ["p50", "p90", "p99", "max"] {
        assert!(u["duration_ms"][key].is_u64(), "duration_ms.{key}");
    }
    let f = &v["findings"][0];
    for key in ["cause", "domain", "reporter", "upstream", "count", "evidence", "hint", "request_ids"] {
        assert!(!f[key].is_null(), "findings[].{key}");
    }
    assert!(f["hint"]["commands"].as_array().is_some_and(|c| !c.is_empty()));
    // Documented in docs/json-contract.md.
    let doc = std::fs::read_to_string(root().join("docs/json-contract.md")).unwrap();
    for key in ["totals", "by_code", "by_flag", "by_cause", "upstreams", "findings", "schema_version"] {
        assert!(doc.contains(&format!("`{key}`")), "{key} undocumented");
    }
}

#[test]
fn a_missing_file_is_reported_with_exit_code_2_and_the_rest_is_still_read() {
    let out = bin().args(["--output", "json", "no/such/file.log", &sample("real-tcp.log")]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/file.log") && err.contains("No such file"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["records"], 26);

    let out = bin().arg("only/missing.log").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_closed_pipe_exits_0_without_a_message() {
    let mut child = bin()
        .arg(samples())
        .arg("--color=never")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the report is written, like `| head` that already quit.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_output_ends_quietly_with_0_on_a_closed_pipe() {
    let line = std::fs::read_to_string(sample("real-no-route.log")).unwrap();
    let line = line.lines().next().unwrap().to_string();
    let dir = samples().display().to_string();
    let runs: [Vec<&str>; 6] = [
        vec!["-o", "json", &dir],
        vec!["-o", "ndjson", &dir],
        vec!["-o", "records", &dir],
        vec!["explain", &line],
        vec!["completions", "bash"],
        vec!["man"],
    ];
    for args in runs {
        let mut child = bin().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Closed before anything is written, like `| head` that already quit.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{:?}: {stderr}", &args[..2]);
        assert!(stderr.is_empty(), "{:?}: {stderr}", &args[..2]);
    }
}

/// A FIFO in `dir` for a run to read: the run lasts until the test closes its writing end.
fn fifo_in(dir: &Path) -> PathBuf {
    let fifo = dir.join("logs.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    fifo
}

/// `command` run by `script` (util-linux) on a pseudo-terminal: the child, its keyboard (what
/// is written reaches the command's terminal stdin) and what it draws, copied by a thread.
struct Terminal {
    child: std::process::Child,
    keyboard: std::process::ChildStdin,
    drawn: std::sync::mpsc::Receiver<Vec<u8>>,
    copier: std::thread::JoinHandle<()>,
    shown: Vec<u8>,
}

impl Terminal {
    fn run(command: &str) -> Terminal {
        let mut child = Command::new("script")
            .args(["-qec", command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let keyboard = child.stdin.take().unwrap();
        let mut terminal = child.stdout.take().unwrap();
        let (tx, drawn) = std::sync::mpsc::channel();
        let copier = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut terminal, &mut buf) {
                let _ = tx.send(buf[..n].to_vec());
            }
        });
        Terminal { child, keyboard, drawn, copier, shown: Vec::new() }
    }

    /// Waits (60 s at most) until the terminal shows `text`; returns all it showed so far.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !String::from_utf8_lossy(&self.shown).contains(text) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.drawn.recv_timeout(left) {
                Ok(bytes) => self.shown.extend(bytes),
                Err(_) => panic!("no {text:?} on the terminal: {:?}", String::from_utf8_lossy(&self.shown)),
            }
        }
        String::from_utf8_lossy(&self.shown).into_owned()
    }

    /// Waits for the command to end successfully; returns everything it showed.
    fn finish(mut self) -> Vec<u8> {
        drop(self.keyboard);
        assert!(self.child.wait().unwrap().success());
        self.copier.join().unwrap();
        self.shown.extend(self.drawn.try_iter().flatten());
        self.shown
    }
}

#[test]
fn a_long_run_shows_progress_on_a_terminal_and_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo_in(dir.path());
    let command = format!("'{}' '{}' > /dev/null", env!("CARGO_BIN_EXE_envoy-triage"), fifo.display());
    let mut terminal = Terminal::run(&command);
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(&std::fs::read(sample("real-no-route.log")).unwrap()).unwrap();
    // The input stays open until the bar is seen: the run lasts as long as it needs to.
    let text = terminal.wait_for("0/1 files");
    assert!(text.contains("KiB"), "bytes read: {text:?}");
    drop(writer);
    let drawn = terminal.finish();
    // Cleared at the end: the report (here to /dev/null) starts on a clean line.
    assert!(drawn.ends_with(b"\r\x1b[2K"), "{:?}", String::from_utf8_lossy(&drawn));
}

#[test]
fn a_terminal_on_stdin_is_told_how_to_pipe_logs_in_in_live_mode_too() {
    // On a pseudo-terminal (stdin and stdout), a streaming stdin with a table is live mode.
    let mut terminal = Terminal::run(&format!("'{}'", env!("CARGO_BIN_EXE_envoy-triage")));
    let shown = terminal.wait_for("reading access logs from the terminal");
    assert!(shown.contains("| envoy-triage"), "how to pipe logs in");
    // Ctrl-D ends the input; the run ends with its report.
    terminal.keyboard.write_all(b"\x04").unwrap();
    terminal.finish();
}

#[test]
fn every_error_starts_with_the_tools_name_and_is_escaped() {
    for args in [&["--bogus"][..], &["-o", "nope", "x.log"], &["--x\r\u{202e}"]] {
        let out = bin().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr.starts_with("envoy-triage: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains(['\r', '\u{202e}']), "{args:?}: raw control or bidi character: {stderr:?}");
    }
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("envoy-triage "));
}

#[test]
fn a_mistyped_subcommand_is_named_not_only_reported_missing() {
    let out = bin().args(["explian", "x.log"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("explian: No such file or directory")
            && stderr.contains("(did you mean the subcommand 'explain'?)"),
        "{stderr}"
    );
    let line = stderr.lines().find(|l| l.contains("x.log")).unwrap();
    assert!(!line.contains("did you mean"), "{line}");
}

#[test]
fn explain_reads_the_lines_of_a_file_given_as_its_argument() {
    let out = bin().args(["explain", &sample("real-tcp.log")]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = std::fs::read_to_string(sample("real-tcp.log")).unwrap().lines().count();
    assert_eq!(text.matches("\nLine ").count() + usize::from(text.starts_with("Line ")), lines);
    assert!(text.contains("Verdict: connection_refused"), "{text}");
}

#[test]
fn a_forced_format_that_reads_nothing_says_so() {
    let out = bin().args(["-F", "json", "-o", "json", &sample("real-tcp.log")]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr.contains("--format json read none of 26 lines as records; try --format auto"), "{stderr}");
    let fits = bin().args(["-F", "istio", "-o", "json", &sample("real-tcp.log")]).output().unwrap();
    assert!(fits.stderr.is_empty(), "{}", String::from_utf8_lossy(&fits.stderr));
}

#[test]
fn stdin_and_gzip_are_read() {
    let text = std::fs::read(samples().join("real-tcp.log")).unwrap();
    let mut child =
        bin().args(["--output", "json"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&text).unwrap();
    child.stdin.take().unwrap().write_all(&gz.finish().unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["records"], 26);
    assert_eq!(v["inputs"][0]["name"], "-");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let plain = bin().arg(sample("real-tcp.log")).output().unwrap();
    assert!(!plain.stdout.contains(&0x1b), "piped output must not carry colour");
    let forced = bin().args([&sample("real-tcp.log"), "--color", "always"]).output().unwrap();
    assert!(forced.stdout.contains(&0x1b));
    let no_color = bin().arg(sample("real-tcp.log")).env("NO_COLOR", "1").output().unwrap();
    assert!(!no_color.stdout.contains(&0x1b));
}

#[test]
fn control_characters_from_logs_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.log");
    let evil = "[2020-11-25T21:26:18.409Z] \"GET /\x1b]0;pwned\x07 HTTP/1.1\" 503 UF upstream_reset_before_response_started{connection_failure} - \"-\" 0 91 3 - \"-\" \"curl\x1b[2J\" \"id-\x1b[31m1\" \"evil:80\" \"10.0.0.1:80\" outbound|80||evil\x1b[5m.ns.svc.cluster.local 10.0.0.2:1 10.0.0.3:80 10.0.0.2:2 - default\n\x1b[31mnot a log line\x08\x08\r\n";
    std::fs::write(&path, evil).unwrap();
    for color in ["never", "always"] {
        let out = bin().arg(&path).args(["--color", color]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for bad in ["\x1b]0;", "\x1b[2J", "\x1b[5m", "\x1b[31mnot", "\x08", "\x07"] {
            assert!(!text.contains(bad), "{color}: raw {bad:?} in output:\n{text}");
        }
        assert!(text.contains("\\x1b[5m"), "escaped form shown: {text}");
    }
}

#[test]
fn malformed_lines_are_counted_and_shown_with_kind_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    let good = std::fs::read_to_string(samples().join("real-tcp.log")).unwrap();
    let first = good.lines().next().unwrap();
    // Cut before the response code: not even a partial record.
    let cut = &first[..35];
    std::fs::write(&path, format!("{first}\n{cut}\nhello world\n\n")).unwrap();
    let (code, v, _) = json_of(&[path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(totals(&v), (4, 1, 1, 2));
    assert_eq!(v["malformed_samples"][0]["line"], 2);
    assert_eq!(v["malformed_samples"][0]["kind"], "truncated");
    assert_eq!(v["malformed_samples"][1]["line"], 3);
    assert_eq!(v["malformed_samples"][1]["kind"], "unrecognised");
    let table = bin().arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("MALFORMED (2 lines"), "{text}");
    assert!(text.contains("mixed.log:3 col 1"), "{text}");
    // Cut after the code and flags: a partial record, counted and flagged.
    let partial = dir.path().join("partial.log");
    std::fs::write(&partial, format!("{}\n", &first[..60])).unwrap();
    let (_, v, _) = json_of(&[partial.to_str().unwrap()]);
    assert_eq!((v["totals"]["records"].as_u64(), v["totals"]["partial"].as_u64()), (Some(1), Some(1)));
}

/// A multi-megabyte input built from every sample (text, JSON, wrapped) with fresh request ids.
fn big_input(dir: &Path) -> PathBuf {
    let mut sources = Vec::new();
    for dir in [samples(), encodings().join("json"), encodings().join("wrapped")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "log") {
                sources.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    sources.sort();
    let path = dir.join("big.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut written = 0usize;
    let mut round = 0u32;
    while written < 6 << 20 {
        for s in &sources {
            for line in s.lines() {
                // Fresh ids per round so that request-id correlation sees many requests.
                let l = line.replacen("-4", &format!("-{round:x}"), 1);
                written += l.len() + 1;
                writeln!(out, "{l}").unwrap();
            }
        }
        round += 1;
    }
    out.flush().unwrap();
    path
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_input(dir.path());
    let p = path.to_str().unwrap();
    let (_, one, _) = json_of(&[p, "--threads", "1"]);
    let (_, eight, _) = json_of(&[p, "--threads", "8"]);
    assert!(one["totals"]["records"].as_u64().unwrap() > 10_000);
    assert_eq!(one, eight);
    let t1 = bin().args([p, "--threads", "1"]).output().unwrap();
    let t8 = bin().args([p, "--threads", "8"]).output().unwrap();
    assert_eq!(t1.stdout, t8.stdout);
}

#[test]
fn help_shows_an_example_for_each_use() {
    let out = bin().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["kubectl logs", "-c istio-proxy", ".log.gz", "--format"] {
        assert!(text.contains(needle), "{needle} missing from --help");
    }
}

#[test]
fn help_examples_stay_whole_on_a_narrow_terminal() {
    // Without a terminal clap takes the width from COLUMNS.
    for flag in ["--help", "-h"] {
        let out = bin().arg(flag).env("COLUMNS", "40").output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        // The narrow width is in force: the prose around the examples is wrapped to it.
        let usage = text.lines().find(|l| l.starts_with("Usage:")).unwrap();
        assert!(usage.len() <= 40, "COLUMNS=40 not honoured:\n{text}");
        for (_, commands) in envoy_triage::cli::EXAMPLES {
            for command in *commands {
                let line = format!("  {command}");
                assert!(text.lines().any(|l| l == line), "{flag}: `{command}` cut:\n{text}");
            }
        }
        let cut = text.lines().filter(|l| l.starts_with("  envoy-triage") || l.starts_with("  kubectl"));
        for line in cut {
            let whole = envoy_triage::cli::EXAMPLES.iter().flat_map(|(_, c)| c.iter());
            assert!(whole.clone().any(|c| line == format!("  {c}")), "not an example: {line}");
        }
    }
}

#[test]
fn completions_and_the_manual_page_are_printed() {
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("--output") && script.contains("--fail-on"), "{script}");
    assert!(script.contains("table json ndjson records"), "the --output values: {script}");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(String::from_utf8(out.stdout).unwrap().contains("fail-on"), "{shell}");
    }

    let out = bin().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH envoy-triage 1"), "{page}");
    // roff spells a hyphen that must stay a hyphen (for copying) `\-`.
    for needle in [r"\-\-output", r"\-\-fail\-on", r"\-\-follow", ".SH EXAMPLES", ".SH COMMANDS"] {
        assert!(page.contains(needle), "{needle} missing from the manual page");
    }
    assert!(page.contains(r"kubectl logs deploy/checkout \-c istio\-proxy \-\-since=1h | envoy\-triage"));
    assert!(!page.contains("envoy-triage-explain(1)"), "no such page is installed");
}

#[test]
fn a_file_named_like_a_command_is_read_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(samples().join("real-tcp.log"), dir.path().join("man")).unwrap();
    let out = bin().current_dir(dir.path()).args(["./man", "--output", "json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = json_of(&[&sample("real-tcp.log")]).1;
    assert_eq!(totals(&v), totals(&expected));
    // Bare, it is the command.
    let out = bin().current_dir(dir.path()).arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH envoy-triage 1"));
}

#[test]
fn bad_flags_are_explained_with_exit_code_2() {
    let out = bin().args(["--format", "[%START_TIME%] %BOGUS"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--format") && err.contains("byte 15"), "{err}");
    let out = bin().args(["--threads", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A misspelt operator in `--format` once compiled as an ignored field: every `503 UF,URX`
/// then read as an application error. Now the run stops before reading, naming the operator and
/// the closest real one, in `explain` too.
#[test]
fn an_unknown_format_operator_is_refused_with_the_closest_name() {
    let format = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAG% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%";
    let line = r#"[2024-09-26T22:50:30.159Z] "POST /v1/chat/completions HTTP/1.1" 503 UF,URX 98 173 3"#;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, format!("{line}\n")).unwrap();
    let out = bin().args(["-o", "json", "--format", format]).arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "envoy-triage: --format: unknown operator %RESPONSE_FLAG% at byte 94 (did you mean %RESPONSE_FLAGS%?)\n"
    );
    let out = bin().args(["explain", "--format", format, line]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean %RESPONSE_FLAGS%?"));
    // Spelt right, the same line is the connection failure it is.
    let fixed = format.replace("%RESPONSE_FLAG%", "%RESPONSE_FLAGS%");
    let out = bin().args(["-o", "json", "--format", &fixed]).arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["by_flag"]["UF"], 1, "{v}");
    assert!(v["by_cause"].get("app_error").is_none(), "{v}");
}

/// Out-of-range numbers once panicked (`-j 20000` spawning threads, `-j 18446744073709551615`
/// allocating) or busy-looped (`--interval 1e-9`): each is refused up front, naming the flag
/// and what it takes.
#[test]
fn out_of_range_numbers_are_refused_with_what_is_accepted() {
    let log = sample("real-healthy.log");
    for (args, says) in [
        (&["-j", "20000"][..], ["--threads", "1 to 1024"]),
        (&["-j", "1025"], ["--threads", "1 to 1024"]),
        (&["-j", "4294967296"], ["--threads", "1 to 1024"]),
        (&["-j", "18446744073709551615"], ["--threads", "1 to 1024"]),
        (&["--interval", "1e-9"], ["--interval", "0.001 to 86400"]),
        (&["--interval", "0.0009"], ["--interval", "0.001 to 86400"]),
        (&["--interval", "86401"], ["--interval", "0.001 to 86400"]),
        (&["--interval", "NaN"], ["--interval", "0.001 to 86400"]),
        (&["--max-clusters", "1000001"], ["--max-clusters", "1 to 1000000"]),
        (&["--max-clusters", "18446744073709551615"], ["--max-clusters", "1 to 1000000"]),
    ] {
        let out = bin().args(args).arg(&log).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(says.iter().all(|s| err.contains(s)), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // The bounds themselves are taken.
    let (_, plain, _) = json_of(&[log.as_str()]);
    for args in [&["--interval", "0.001"][..], &["--interval", "86400"], &["--max-clusters", "1000000"]] {
        let (code, v, err) = json_of(&[args, &[log.as_str()]].concat());
        assert_eq!((code, totals(&v)), (0, totals(&plain)), "{args:?}: {err}");
    }
}

/// A system that refuses a worker thread (a process limit, no memory for its stack) is an
/// error that says what to change, not a panic. A stack larger than the address space makes
/// the refusal certain on any machine.
#[test]
fn a_refused_worker_thread_is_an_error_not_a_panic() {
    let out = bin()
        .env("RUST_MIN_STACK", (1u64 << 60).to_string())
        .args(["-j", "2", &sample("real-healthy.log")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot start worker thread") && err.contains("--threads"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn records_into_a_closed_pipe_stop_early_and_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_input(dir.path());
    let mut child = bin()
        .args(["-o", "records", "-j", "2"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 1000];
        std::io::Read::read_exact(&mut out, &mut first).unwrap();
        assert!(first.starts_with(b"{\"input\""));
    } // like `| head -c 1000`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// On a terminal, each live refresh redraws one screen that fits it: no line wider than
/// `COLUMNS`, no more lines than `LINES` (the header and the lists stay in view; the incidents'
/// full text waits for the final report).
#[test]
fn a_live_screen_fits_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = fifo_in(dir.path());
    let command = format!(
        // The plain table redrawn (the dashboard is tests/integration/dashboard.rs).
        "COLUMNS=90 LINES=30 '{}' --no-dashboard --color never --interval 0.05 < '{}'",
        env!("CARGO_BIN_EXE_envoy-triage"),
        fifo.display()
    );
    let mut terminal = Terminal::run(&command);
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    for name in ["real-refused-localhost.log", "real-timeout-15s.log", "real-circuit-breaker.log"] {
        writer.write_all(&std::fs::read(sample(name)).unwrap()).unwrap();
    }
    // A whole frame: from a clear-screen that drew the lists to the next clear-screen.
    const CLEAR: &str = "\x1b[H\x1b[2J";
    let shown = terminal.wait_for("UPSTREAMS");
    let start = shown[..shown.rfind("UPSTREAMS").unwrap()].rfind(CLEAR).unwrap() + CLEAR.len();
    let mut frame = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while frame.is_empty() {
        let text = String::from_utf8_lossy(&terminal.shown).into_owned();
        if let Some(end) = text[start..].find(CLEAR) {
            frame = text[start..start + end].to_string();
        } else {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            terminal.shown.extend(terminal.drawn.recv_timeout(left).expect("a second frame"));
        }
    }
    let lines: Vec<&str> = frame.trim_end().split("\r\n").collect();
    assert!(lines.len() <= 30, "{} lines:\n{frame}", lines.len());
    assert!(lines.iter().all(|l| l.chars().count() <= 90), "{frame}");
    assert!(lines[0].starts_with("envoy-triage ·") && frame.contains("\r\nlive · "), "{frame}");
    assert!(frame.contains("INCIDENTS") && !frame.contains("   why "), "{frame}");
    drop(writer);
    // The end of input prints the final report, with the full text.
    let drawn = String::from_utf8_lossy(&terminal.finish()).into_owned();
    let last = &drawn[drawn.rfind(CLEAR).unwrap()..];
    assert!(last.contains("   why "), "{last}");
}
