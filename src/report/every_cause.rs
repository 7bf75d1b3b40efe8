//! Every cause through the whole path: a real-shaped line per cause is decoded, classified,
//! aggregated, summarised and written by every output, and each output names each cause. The
//! `match` in [`line_for`] has no wildcard, so a new [`Cause`] does not compile until it has a
//! line here; before causes were counted by the compiler, adding one passed every test and the
//! binary then panicked on the first failure no rule explained.

use std::path::PathBuf;

use crate::aggregate::{Aggregate, Position};
use crate::classify::Cause;
use crate::format::{Decoded, Decoder, FormatChoice};
use crate::record::Record;
use crate::source::SourceMeta;
use crate::summary::Summary;

/// The first line of a bundled real-Envoy sample that contains `needle`.
fn real(file: &str, needle: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-logs").join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} in {file}")).to_string()
}

/// An Istio 1.9+ line from a client sidecar, with the fields that decide the cause.
fn istio(code: &str, flags: &str, details: &str, dur: &str, route: &str) -> String {
    format!(
        r#"[2025-03-04T10:00:00.000Z] "GET /api/v1/orders HTTP/1.1" {code} {flags} {details} - "-" 0 91 {dur} - "-" "curl/8.5.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "orders:8080" "10.1.0.9:8080" outbound|8080||orders.shop.svc.cluster.local 10.1.0.5:41022 10.96.12.7:8080 10.1.0.5:40000 - {route}"#
    )
}

/// A line that the classifier calls `cause` (the same lines as tests/integration/explain.rs).
fn line_for(cause: Cause) -> String {
    match cause {
        Cause::RouteTimeout => real("real-timeout-15s.log", "504 UT response_timeout"),
        Cause::PerTryTimeout => real("real-per-try-timeout.log", "upstream_per_try_timeout"),
        Cause::ConnectionRefused => real("real-refused-localhost.log", "Connection_refused"),
        Cause::ConnectTimeout => real("real-connect-timeout.log", "connection_timeout"),
        Cause::TlsFailure => real("real-tls-mismatch.log", "WRONG_VERSION_NUMBER"),
        Cause::UpstreamReset => {
            real("real-reset.log", "UC upstream_reset_before_response_started{connection_termination}")
        }
        Cause::Overflow => real("real-circuit-breaker.log", " UO "),
        Cause::NoHealthyUpstream => real("real-no-healthy.log", "no_healthy_upstream"),
        Cause::NoRoute => real("real-no-route.log", "route_not_found"),
        Cause::NoCluster => real("real-no-route.log", "cluster_not_found"),
        Cause::ProtocolError => real("real-protocol-error.log", "502 UPE"),
        Cause::DownstreamDisconnect => real("real-client-disconnect.log", "downstream_remote_disconnect"),
        Cause::AppError => real("real-refused-localhost.log", "503 - via_upstream"),
        Cause::RateLimited => istio("429", "RL", "local_rate_limited", "0", "default"),
        // Reference §10 example 9: a server sidecar's AuthorizationPolicy deny (Istio PR #27903).
        Cause::AuthzDenied => r#"[2020-10-29T03:25:20.162Z] "GET /headers HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "curl/7.73.0-DEV" "07541777-6ee2-908f-a78b-867fe257ac80" "httpbin:8000" "-" - - 172.17.0.7:80 172.17.0.6:60898 outbound_.8000_._.httpbin.foo.svc.cluster.local -"#.to_string(),
        Cause::FaultInjected => istio("503", "FI", "fault_filter_abort", "0", "orders-fault"),
        Cause::BlockedEgress => real("real-no-route.log", "block_all"),
        Cause::StreamIdleTimeout => istio("504", "SI", "stream_idle_timeout", "300001", "default"),
        Cause::Other => istio("503", "UO", "maintenance_mode", "0", "default"),
    }
}

#[test]
fn every_cause_is_counted_summarised_and_written_by_every_output() {
    let meta = SourceMeta { name: "every-cause.log".into(), ..SourceMeta::default() };
    let mut decoder = Decoder::new(FormatChoice::Auto);
    let mut agg = Aggregate::new(100);
    let mut records = Vec::new();
    for (i, cause) in Cause::ALL.into_iter().enumerate() {
        let line = line_for(cause);
        let mut rec = Record::default();
        assert!(matches!(decoder.decode_into(line.as_bytes(), &mut rec), Decoded::Record), "{line}");
        let (reporter, verdict) = agg.add_record(&rec, Position { chunk: 0, line: i as u32 }, &meta);
        assert_eq!(verdict.as_ref().map(|v| v.cause), Some(cause), "{line}");
        super::records::write_record(
            &mut records,
            &rec,
            [rec.meta.namespace, rec.meta.pod, rec.meta.container],
            &meta.name,
            i as u64 + 1,
            reporter,
            verdict.as_ref(),
        );
    }
    agg.count_chunk(0, 0, Cause::COUNT as u64, 0);
    assert!(agg.causes.iter().all(|&n| n == 1), "{:?}", agg.causes);

    let infos = [crate::source::InputInfo { meta: meta.clone(), error: None }];
    let summary = Summary::build(&agg, &infos);
    assert_eq!(summary.totals.failed, Cause::COUNT as u64);
    let by_cause: Vec<&str> = summary.by_cause.0.iter().map(|(name, _)| name.as_str()).collect();
    let mut json = Vec::new();
    super::json::write(&summary, &mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    let mut event = Vec::new();
    super::json::write_event(&summary, "summary", 1, 0, &mut event).unwrap();
    let event = String::from_utf8(event).unwrap();
    let mut table = Vec::new();
    let view =
        super::table::View { inputs: &[], top: Cause::COUNT * 4, width: 120, details: Cause::COUNT * 4 };
    super::table::write(&summary, view, &mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    let records = String::from_utf8(records).unwrap();
    for cause in Cause::ALL {
        let name = cause.name();
        assert!(by_cause.contains(&name), "{name} not in by_cause {by_cause:?}");
        assert!(summary.findings.iter().any(|f| f.cause == name), "no finding for {name}");
        let quoted = format!("\"{name}\"");
        assert!(json.contains(&quoted), "{name} not in the JSON");
        assert!(event.contains(&quoted), "{name} not in the NDJSON event");
        assert!(records.contains(&format!("\"cause\":{quoted}")), "{name} not in the records");
        assert!(table.contains(name), "{name} not in the table:\n{table}");
    }
}
