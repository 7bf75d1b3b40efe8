//! Snapshots of the three reports on sample-logs/ (one real log per scenario; the README's
//! first command): the table, the JSON contract (`-o json`) and the records (`-o records`), all
//! with `--color never`. Each is run at `-j 1` and at `-j 2`; the
//! two outputs must be byte-identical before one is compared with its .snap file in
//! tests/integration/snapshots/ (integration__snapshots__*.snap).
//!
//! The binary runs in the crate root with relative arguments, so the outputs name inputs as
//! `sample-logs/…` and carry no path of the checkout. The JSON holds the crate version from
//! Cargo.toml (`"version"`): a version bump changes that snapshot. Update a snapshot after an
//! intended change with `INSTA_UPDATE=always cargo test --test integration snapshots::`, then
//! read the diff of the .snap file.

use crate::common::{bin, root};

/// Runs `envoy-triage --color never -j N <args>` in the crate root for N = 1 and N = 2, checks
/// that both succeed quietly with the same bytes on stdout, and returns that output.
fn output_at_1_and_2_threads(args: &[&str]) -> String {
    output_at_1_and_2_threads_in(args, None)
}

/// As [`output_at_1_and_2_threads`], laid out for `columns` (`COLUMNS`) when given.
fn output_at_1_and_2_threads_in(args: &[&str], columns: Option<usize>) -> String {
    let run = |threads: &str| {
        let mut cmd = bin();
        if let Some(c) = columns {
            cmd.env("COLUMNS", c.to_string());
        }
        let out =
            cmd.current_dir(root()).args(["--color", "never", "-j", threads]).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "-j {threads} {args:?}: {err}");
        assert!(err.is_empty(), "-j {threads} {args:?}: {err}");
        String::from_utf8(out.stdout).unwrap()
    };
    let (one, two) = (run("1"), run("2"));
    if one != two {
        // The first line that differs, not two whole outputs (the records run ~140 KB).
        let (n, (a, b)) =
            one.lines().zip(two.lines()).enumerate().find(|(_, (a, b))| a != b).unwrap_or((0, ("", "")));
        panic!(
            "{args:?}: -j 1 and -j 2 differ (lengths {} and {}), first at line {}:\n-j 1: {a}\n-j 2: {b}",
            one.len(),
            two.len(),
            n + 1
        );
    }
    one
}

/// Compares `text` with the snapshot `name`, byte for byte. insta trims trailing whitespace,
/// reads CRLF as LF and, as a fallback for old snapshots, ignores leading newlines; the checks
/// before it pin what it would not see.
fn assert_bytes_snapshot(name: &str, command: &str, text: &str) {
    assert!(text.ends_with('\n'), "{name}: the output ends with a newline");
    assert_eq!(text.trim_end().len() + 1, text.len(), "{name}: nothing but one newline at the end");
    assert!(!text.starts_with('\n') && !text.contains('\r'), "{name}: no leading newline, no CR");
    insta::with_settings!({ description => command, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The first screen at 80 columns (a pipe, or a usual terminal) and at 120: every row of the
/// lists fits; only a command (never wrapped: it must run as pasted) or a single value longer
/// than a line may pass the edge.
#[test]
fn the_table_on_the_sample_directory_is_unchanged() {
    for columns in [80, 120] {
        let text = output_at_1_and_2_threads_in(&["sample-logs/"], Some(columns));
        let may_pass_the_edge = |l: &str| {
            // The text of an incident's field starts at column 13.
            let value = l.get(13..).unwrap_or("");
            let command = ["kubectl ", "istioctl ", "envoy-triage "].iter().any(|c| value.starts_with(c));
            command
                && (l.starts_with("   run ") || l.starts_with("   trace ") || l.starts_with(&" ".repeat(13)))
                || !value.trim().contains(' ')
        };
        let too_wide: Vec<&str> =
            text.lines().filter(|l| l.chars().count() > columns && !may_pass_the_edge(l)).collect();
        assert!(too_wide.is_empty(), "{columns} columns: {too_wide:#?}");
        let name = format!("table_{columns}");
        let command = format!("COLUMNS={columns} envoy-triage --color never -j 1|2 sample-logs/");
        assert_bytes_snapshot(&name, &command, &text);
    }
    // Not a terminal and no COLUMNS: 80.
    let text = output_at_1_and_2_threads(&["sample-logs/"]);
    assert_eq!(text, output_at_1_and_2_threads_in(&["sample-logs/"], Some(80)));
}

#[test]
fn the_json_report_on_the_sample_directory_is_unchanged() {
    let text = output_at_1_and_2_threads(&["-o", "json", "sample-logs/"]);
    assert_bytes_snapshot("json", "envoy-triage --color never -j 1|2 -o json sample-logs/", &text);
}

/// The records of the whole directory are ~1.1 MB (a JSON object of ~1 KB per record), too
/// large for a snapshot anyone reads, so these are three files: a plain-text one with Envoy's
/// own log lines among the access lines (skipped lines, so the line numbers have gaps), one in
/// Istio's JSON format and one with kubectl's `[pod/…/container]` prefix (the pod is named).
#[test]
fn the_records_of_a_text_a_json_and_a_wrapped_sample_are_unchanged() {
    let files = [
        "sample-logs/real-mixed-proxy-output.log",
        "tests/data/encodings/json/real-tcp.json.log",
        "tests/data/encodings/wrapped/real-timeout-15s.kubectl.log",
    ];
    let text = output_at_1_and_2_threads(&[&["-o", "records"][..], &files].concat());
    assert!(files.iter().all(|f| text.contains(&format!("\"input\":\"{f}\""))), "every file has records");
    let command = format!("envoy-triage --color never -j 1|2 -o records {}", files.join(" "));
    assert_bytes_snapshot("records", &command, &text);
}
