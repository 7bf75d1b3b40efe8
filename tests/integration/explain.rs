//! `envoy-triage explain`: one snapshot per cause (real Envoy 1.40 lines from sample-logs/
//! where the scenario exists there, realistic Istio lines otherwise), plus stdin and non-record
//! lines. Snapshots live in tests/integration/snapshots/ (integration__explain__*.snap).

use std::io::Write;
use std::process::Stdio;

use crate::common::{bin, sample_lines};

/// The first line of a sample file that contains `needle`.
fn real(file: &str, needle: &str) -> String {
    sample_lines(file).into_iter().find(|l| l.contains(needle)).unwrap()
}

fn explain(line: &str) -> String {
    let out = bin().args(["explain", line]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).unwrap()
}

fn istio(code: &str, flags: &str, details: &str, ctd: &str, dur: &str, route: &str) -> String {
    format!(
        r#"[2025-03-04T10:00:00.000Z] "GET /api/v1/orders HTTP/1.1" {code} {flags} {details} {ctd} "-" 0 91 {dur} - "-" "curl/8.5.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "orders:8080" "10.1.0.9:8080" outbound|8080||orders.shop.svc.cluster.local 10.1.0.5:41022 10.96.12.7:8080 10.1.0.5:40000 - {route}"#
    )
}

macro_rules! snapshot {
    ($($name:ident: $line:expr, $cause:literal;)*) => {$(
        #[test]
        fn $name() {
            let text = explain(&$line);
            assert!(text.contains(concat!("Verdict: ", $cause)), "{text}");
            insta::assert_snapshot!(stringify!($name), text);
        }
    )*};
}

snapshot! {
    route_timeout: real("real-timeout-15s.log", "504 UT response_timeout"), "route_timeout";
    per_try_timeout: real("real-per-try-timeout.log", "upstream_per_try_timeout"), "per_try_timeout";
    connection_refused: real("real-refused-localhost.log", "Connection_refused"), "connection_refused";
    connect_timeout: real("real-connect-timeout.log", "connection_timeout"), "connect_timeout";
    tls_failure: real("real-tls-mismatch.log", "WRONG_VERSION_NUMBER"), "tls_failure";
    upstream_reset: real("real-reset.log", "UC upstream_reset_before_response_started{connection_termination}"), "upstream_reset";
    overflow: real("real-circuit-breaker.log", " UO "), "overflow";
    no_healthy_upstream: real("real-no-healthy.log", "no_healthy_upstream"), "no_healthy_upstream";
    no_route: real("real-no-route.log", "route_not_found"), "no_route";
    no_cluster: real("real-no-route.log", "cluster_not_found"), "no_cluster";
    protocol_error: real("real-protocol-error.log", "502 UPE"), "protocol_error";
    downstream_disconnect: real("real-client-disconnect.log", "downstream_remote_disconnect"), "downstream_disconnect";
    app_error: real("real-refused-localhost.log", "503 - via_upstream"), "app_error";
    blocked_egress: real("real-no-route.log", "block_all"), "blocked_egress";
    rate_limited: istio("429", "RL", "local_rate_limited", "-", "0", "default"), "rate_limited";
    // Reference §10 example 9: a server sidecar's AuthorizationPolicy deny (Istio PR #27903).
    authz_denied: r#"[2020-10-29T03:25:20.162Z] "GET /headers HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "curl/7.73.0-DEV" "07541777-6ee2-908f-a78b-867fe257ac80" "httpbin:8000" "-" - - 172.17.0.7:80 172.17.0.6:60898 outbound_.8000_._.httpbin.foo.svc.cluster.local -"#, "authz_denied";
    fault_injected: istio("503", "FI", "fault_filter_abort", "-", "0", "orders-fault"), "fault_injected";
    stream_idle_timeout: istio("504", "SI", "stream_idle_timeout", "-", "300001", "default"), "stream_idle_timeout";
    other: istio("503", "UO", "maintenance_mode", "-", "0", "default"), "other";
}

#[test]
fn lines_on_stdin_and_lines_that_are_not_records() {
    let mut child = bin().arg("explain").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let input = format!(
        "{}\n2021-09-13T06:29:50.786352Z\twarning\tenvoy config\tclosed\nhello \x1b[31mworld\n",
        real("real-tcp.log", "UF,URX")
    );
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Line 1:") && text.contains("Verdict: connection_refused"), "{text}");
    assert!(text.contains("Line 2:\nNot an access-log record: envoy log"), "{text}");
    assert!(text.contains("Line 3:\nNot readable as an access-log record"), "{text}");
    assert!(!text.contains('\x1b'));
}
