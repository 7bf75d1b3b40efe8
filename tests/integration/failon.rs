//! `--fail-on` as a CI step sees it: exit code 0 (not met), 1 (met) or 2 (the expression is
//! wrong), and stderr saying what was measured or what to write instead.

use std::process::{Output, Stdio};

use crate::common::{bin, sample};

fn run(input: Option<&str>, exprs: &[&str]) -> (i32, String) {
    let mut cmd = bin();
    cmd.args(["--output", "json"]);
    match input {
        Some(name) => {
            cmd.arg(sample(name));
        }
        None => {
            cmd.stdin(Stdio::null());
        }
    }
    for e in exprs {
        cmd.args(["--fail-on", e]);
    }
    let Output { status, stderr, .. } = cmd.output().unwrap();
    (
        status.code().unwrap_or_else(|| panic!("--fail-on {exprs:?}: {status}")),
        String::from_utf8_lossy(&stderr).into(),
    )
}

#[test]
fn a_threshold_of_the_wrong_kind_is_an_error_saying_what_to_write() {
    for (expr, says) in [
        // Meant 1 %, would have meant 100 % and never fired.
        ("rate(5xx) > 1", "rate(5xx) is a percentage: write '1%'"),
        ("count(5xx) > 10%", "count(5xx) is a number of requests, not a percentage"),
        ("p99(duration) > 2", "p99(duration) is a duration: give '2' a unit, '2ms' or '2s'"),
        ("count(503) > nan", "'nan' is not a threshold"),
        ("count(503) > -inf", "'-inf' is not a threshold"),
        ("1 > 0", "reads no counts from the logs"),
    ] {
        let (code, err) = run(Some("real-refused-localhost.log"), &[expr]);
        assert_eq!(code, 2, "{expr}: {err}");
        assert!(err.contains(says), "{expr}: {err}");
    }
}

#[test]
fn errors_show_the_expression_with_carets_under_the_mistake() {
    let (code, err) = run(Some("real-refused-localhost.log"), &["rate(cause:tls_failur) > 1%"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "envoy-triage: --fail-on: unknown cause 'tls_failur' (did you mean tls_failure?)\n  rate(cause:tls_failur) > 1%\n       ^^^^^^^^^^^^^^^^\n"
    );
}

#[test]
fn the_printed_rate_is_the_compared_rate() {
    let (code, err) = run(Some("real-refused-localhost.log"), &["rate(5xx) == 36.364%"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("'rate(5xx) == 36.364%' met: rate(5xx) = 36.364%"), "{err}");
}

#[test]
fn latency_conditions_say_the_measured_value() {
    let (code, err) = run(
        Some("real-timeout-15s.log"),
        &[
            "p99(duration) > 10s",
            "p99(duration, upstream:outbound|80||frontend.shop.svc.cluster.local) > 50ms",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("'p99(duration) > 10s' met: p99(duration) = 15039 ms"), "{err}");
    assert!(!err.contains("frontend"), "46 ms is not above 50 ms: {err}");
    let (code, err) = run(
        Some("real-timeout-15s.log"),
        &["max(duration, upstream:outbound|80||frontend.shop.svc.cluster.local) >= 46ms"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("= 46 ms"), "{err}");
}

/// An input that stopped sending is not a healthy one: `rate(5xx) < 1%` is not met without
/// records, and stderr says why instead of a silent 0.
#[test]
fn rates_of_an_empty_input_are_not_met() {
    let (code, err) = run(None, &["rate(5xx) < 1%"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--fail-on 'rate(5xx) < 1%' not met: rate(5xx) = n/a (no records)"), "{err}");
    let (code, err) = run(None, &["count(records) == 0"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "envoy-triage: --fail-on 'count(records) == 0' met: count(records) = 0\n")
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}count(records) > 0{}", "(".repeat(7_200), ")".repeat(7_200));
    let (code, err) = run(Some("real-refused-localhost.log"), &[&deep]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("parentheses nest deeper than 64"), "{err}");
}

#[test]
fn control_characters_in_the_expression_are_escaped_on_stderr() {
    // A mistake: the expression is shown under the message.
    let (code, err) = run(Some("real-refused-localhost.log"), &["count(records)\n> 0\x1b[2J"]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains('\x1b'), "{err:?}");
    // Met: the expression is echoed with the values.
    let (code, err) = run(Some("real-refused-localhost.log"), &["count(records)\r> 0"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err, "envoy-triage: --fail-on 'count(records)\\x0d> 0' met: count(records) = 66\n");
}
