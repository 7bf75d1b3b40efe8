//! One case per cause and per judgement call of failure-semantics.md, on real-shaped lines.

use super::*;
use crate::format::parse_line;

fn verdict(line: &str, pod: Option<&str>) -> Option<(Cause, Domain, Reporter)> {
    let rec = parse_line(line.as_bytes()).unwrap_or_else(|e| panic!("{e} in {line}"));
    let rep = reporter(&rec, pod.map(str::as_bytes));
    classify(&rec, rep).map(|c| (c.cause, c.domain, c.reporter))
}

/// Istio ≥1.9 line with the interesting fields substituted.
fn istio(code: &str, flags: &str, details: &str, tf: &str, dur: &str, cluster: &str) -> String {
    format!(
        r#"[2025-01-01T10:00:00.000Z] "GET /api HTTP/1.1" {code} {flags} {details} - "{tf}" 0 91 {dur} - "-" "curl/8.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "api:80" "10.1.0.9:8080" {cluster} 10.1.0.5:1 10.0.0.3:80 10.1.0.5:40000 - default"#
    )
}

const OUT: &str = "outbound|80||api.shop.svc.cluster.local";
const IN: &str = "inbound|8080||";

use Cause::*;
use Domain::*;
use Reporter::*;

#[test]
fn timeouts() {
    assert_eq!(
        verdict(&istio("504", "UT", "response_timeout", "-", "15000", OUT), None),
        Some((RouteTimeout, Application, ClientSidecar))
    );
    assert_eq!(
        verdict(&istio("504", "UT", "upstream_response_timeout", "-", "15000", OUT), None).unwrap().0,
        RouteTimeout
    );
    assert_eq!(
        verdict(&istio("504", "UT,URX", "upstream_per_try_timeout", "-", "3006", OUT), None).unwrap().0,
        PerTryTimeout
    );
    assert_eq!(
        verdict(&istio("504", "SI", "stream_idle_timeout", "-", "300000", OUT), None).unwrap().0,
        StreamIdleTimeout
    );
    // 504 without UT: a downstream-side timeout, not a route timeout (§4.3).
    assert_eq!(
        verdict(&istio("504", "-", "request_overall_timeout", "-", "60000", OUT), None).unwrap().0,
        StreamIdleTimeout
    );
    // Envoy default format has no details: UT with URX means tries timed out.
    let envoy = r#"[2024-09-26T22:50:30.159Z] "GET /x HTTP/1.1" 504 UT,URX 0 24 3004 - "-" "c" "30dee192-a123-46e0-8236-a45417eaf02d" "b:1" "10.0.0.1:80""#;
    assert_eq!(verdict(envoy, None).unwrap().0, PerTryTimeout);
}

#[test]
fn connect_failures_by_envoy_version() {
    let refused = [
        ("UF", "upstream_reset_before_response_started{connection_failure}", "-", "0"),
        (
            "UF",
            "upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111}",
            "delayed_connect_error:_111",
            "1",
        ),
        (
            "UF,URX",
            "upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_111}",
            "delayed_connect_error:_111",
            "2",
        ),
        (
            "URX,UF",
            "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
            "delayed_connect_error:_Connection_refused",
            "45",
        ),
        // Envoy 1.21–1.22: the field is "-" and the reason only in the braces.
        (
            "UF",
            "upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111}",
            "-",
            "0",
        ),
    ];
    for (flags, details, tf, dur) in refused {
        assert_eq!(
            verdict(&istio("503", flags, details, tf, dur, OUT), None),
            Some((ConnectionRefused, Network, ClientSidecar)),
            "{details}"
        );
    }
    // Refused at the server sidecar: the app is not listening on the pod IP.
    assert_eq!(
        verdict(
            &istio(
                "503",
                "UF",
                "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
                "delayed_connect_error:_Connection_refused",
                "0",
                IN
            ),
            None
        ),
        Some((ConnectionRefused, Application, ServerSidecar))
    );
    // ≥1.27 names the connect timeout; ≤1.26 shows a bare connection_failure at ~10 s.
    assert_eq!(
        verdict(
            &istio(
                "503",
                "UF",
                "upstream_reset_before_response_started{connection_timeout}",
                "-",
                "10001",
                OUT
            ),
            None
        )
        .unwrap()
        .0,
        ConnectTimeout
    );
    assert_eq!(
        verdict(
            &istio(
                "503",
                "UF,URX",
                "upstream_reset_before_response_started{connection_failure}",
                "-",
                "30012",
                OUT
            ),
            None
        )
        .unwrap()
        .0,
        ConnectTimeout
    );
    assert_eq!(verdict(&istio("503", "UF", "upstream_reset_before_response_started{remote_connection_failure|immediate_connect_error:_Network_is_unreachable|remote_address:10.0.0.1:80}", "-", "0", OUT), None).unwrap().0, ConnectTimeout);
    // TCP: 0 UF,URX is one failed connect attempt.
    let tcp = r#"[2025-01-01T10:00:00.000Z] "- - -" 0 UF,URX - - "delayed_connect_error:_Connection_refused" 0 0 1 - "-" "-" "-" "-" "10.244.0.6:443" outbound|443||db.shop.svc.cluster.local - 10.0.0.1:443 10.1.0.5:4 - -"#;
    assert_eq!(verdict(tcp, None).unwrap().0, ConnectionRefused);
    let tcp_timeout = r#"{"bytes_sent":"0","upstream_cluster":"outbound|7600||keycloak-headless.our_ns.svc.cluster.local","duration":"10006","response_code":"0","response_flags":"UF,URX","method":"-","path":"-","protocol":"-"}"#;
    assert_eq!(verdict(tcp_timeout, None).unwrap().0, ConnectTimeout);
}

#[test]
fn tls_and_mtls() {
    let tls = [
        "TLS_error:|268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end",
        "TLS_error:_268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
        "TLS_error:_Secret_is_not_supplied_by_SDS",
    ];
    for tf in tls {
        let details = format!("upstream_reset_before_response_started{{remote_connection_failure|{tf}}}");
        assert_eq!(
            verdict(&istio("503", "UF", &details, tf, "1", OUT), None),
            Some((TlsFailure, Security, ClientSidecar)),
            "{tf}"
        );
    }
    // Plaintext client against STRICT mTLS: the server logs a TCP-level NR.
    let fcnf = r#"[2020-10-29T03:23:33.415Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 172.17.0.7:80 172.17.0.6:59800 - -"#;
    assert_eq!(verdict(fcnf, None).unwrap().0, TlsFailure);
}

#[test]
fn resets_overflow_and_health() {
    assert_eq!(
        verdict(
            &istio(
                "503",
                "UC",
                "upstream_reset_before_response_started{connection_termination}",
                "-",
                "0",
                IN
            ),
            None
        ),
        Some((UpstreamReset, Network, ServerSidecar))
    );
    assert_eq!(
        verdict(
            &istio("503", "UR", "upstream_reset_before_response_started{remote_reset}", "-", "3", OUT),
            None
        )
        .unwrap()
        .0,
        UpstreamReset
    );
    // A 200 can be a failure: the reset came after the headers.
    assert_eq!(
        verdict(
            &istio("200", "UR", "upstream_reset_after_response_started{remote_reset}", "-", "3", OUT),
            None
        )
        .unwrap()
        .0,
        UpstreamReset
    );
    assert_eq!(
        verdict(&istio("503", "UO", "upstream_reset_before_response_started{overflow}", "-", "0", OUT), None),
        Some((Overflow, Capacity, ClientSidecar))
    );
    // Maintenance mode sets UO but is not a circuit breaker.
    assert_eq!(verdict(&istio("503", "UO", "maintenance_mode", "-", "0", OUT), None).unwrap().0, Other);
    assert_eq!(
        verdict(&istio("503", "UH", "no_healthy_upstream", "-", "0", OUT), None),
        Some((NoHealthyUpstream, Capacity, ClientSidecar))
    );
}

#[test]
fn routing_and_egress() {
    let nr = r#"{"response_code":404,"response_flags":"NR","upstream_cluster":null,"response_code_details":"route_not_found","duration":0,"method":"POST"}"#;
    assert_eq!(
        verdict(nr, Some("istio-ingressgateway-7d4f8b9c6-x2x9z")),
        Some((NoRoute, Configuration, Gateway))
    );
    let nc = r#"[2022-07-07T09:52:22.441Z] "- - -" 0 NC - - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 182.25.6.252:80 172.25.12.234:56080 - -"#;
    assert_eq!(verdict(nc, None).unwrap().0, NoCluster);
    // Envoy ≤1.17: cluster not found was 503 NR.
    assert_eq!(verdict(&istio("503", "NR", "cluster_not_found", "-", "0", OUT), None).unwrap().0, NoCluster);
    let block_all = r#"[2022-04-26T13:16:32.023Z] "HEAD / HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.81.0-DEV" "cb171c15-848a-93d8-88d6-beeadcbb683f" "www.baidu.com" "-" - - 180.97.34.94:80 10.122.158.52:48708 - block_all"#;
    assert_eq!(verdict(block_all, None), Some((BlockedEgress, Configuration, ClientSidecar)));
    let blackhole = r#"[2022-04-26T13:14:30.905Z] "- - -" 0 UH - - "-" 0 0 7 - "-" "-" "-" "-" "-" BlackHoleCluster - 180.97.34.94:443 10.122.158.52:54192 - -"#;
    assert_eq!(verdict(blackhole, None).unwrap().0, BlockedEgress);
}

#[test]
fn who_produced_the_status() {
    // 503 via_upstream is the next hop's answer, not a mesh failure at this hop.
    assert_eq!(
        verdict(&istio("503", "-", "via_upstream", "-", "4", IN), None),
        Some((AppError, Application, ServerSidecar))
    );
    assert_eq!(verdict(&istio("503", "URX", "via_upstream", "-", "40", OUT), None).unwrap().0, AppError);
    // Envoy default format: a 500 without flags came from upstream.
    let envoy = r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 500 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#;
    assert_eq!(verdict(envoy, None), Some((AppError, Application, Unknown)));
}

#[test]
fn client_side_and_policy() {
    assert_eq!(
        verdict(&istio("0", "DC", "downstream_remote_disconnect", "-", "4969", OUT), None),
        Some((DownstreamDisconnect, Client, ClientSidecar))
    );
    assert_eq!(
        verdict(&istio("0", "-", "http2.remote_reset", "-", "10", OUT), None).unwrap().0,
        DownstreamDisconnect
    );
    let rbac = r#"[2020-10-29T03:25:20.162Z] "GET /headers HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "curl/7.73.0-DEV" "07541777-6ee2-908f-a78b-867fe257ac80" "httpbin:8000" "-" - - 172.17.0.7:80 172.17.0.6:60898 outbound_.8000_._.httpbin.foo.svc.cluster.local -"#;
    assert_eq!(verdict(rbac, None), Some((AuthzDenied, Security, ServerSidecar)));
    let tcp_rbac = r#"[2024-09-01T10:00:00.000Z] "- - -" 0 - - rbac_access_denied_matched_policy[ns[foo]-policy[deny-db]-rule[0]] "-" 0 0 0 - "-" "-" "-" "-" "10.1.0.9:5432" inbound|5432|| - 10.1.0.9:5432 10.1.0.5:40000 - -"#;
    assert_eq!(verdict(tcp_rbac, None).unwrap().0, AuthzDenied);
    assert_eq!(
        verdict(&istio("302", "UAEX", "ext_authz_denied", "-", "1", OUT), None).unwrap().0,
        AuthzDenied
    );
    assert_eq!(
        verdict(&istio("429", "RL", "local_rate_limited", "-", "0", OUT), None),
        Some((RateLimited, Capacity, ClientSidecar))
    );
    assert_eq!(
        verdict(&istio("503", "FI", "fault_filter_abort", "-", "0", OUT), None),
        Some((FaultInjected, Configuration, ClientSidecar))
    );
    assert_eq!(
        verdict(
            &istio("502", "UPE", "upstream_reset_before_response_started{protocol_error}", "-", "2", OUT),
            None
        ),
        Some((ProtocolError, Configuration, ClientSidecar))
    );
    assert_eq!(
        verdict(&istio("400", "DPE", "http1.codec_error", "-", "0", IN), None).unwrap().0,
        ProtocolError
    );
}

#[test]
fn successes_are_not_failures() {
    assert_eq!(verdict(&istio("200", "-", "via_upstream", "-", "4", OUT), None), None);
    assert_eq!(verdict(&istio("404", "-", "via_upstream", "-", "4", OUT), None), None);
    // Delay injection alone is informational.
    assert_eq!(verdict(&istio("200", "DI", "via_upstream", "-", "2004", OUT), None), None);
    // A TCP session has code 0 and no flags.
    let tcp_ok = r#"2020-11-22T20:04:54.223086877Z [2020-11-22T20:04:33.157Z] "- - -" 0 - "-" "-" 4841 9845236 16230 - "-" "-" "-" "-" "104.20.28.24:443" PassthroughCluster 172.18.0.10:49944 104.20.28.24:443 172.18.0.10:49942 - -"#;
    let mut d = crate::format::Decoder::new(crate::format::FormatChoice::Auto);
    match d.decode(tcp_ok.as_bytes()) {
        crate::format::Outcome::Record(r) => assert!(!is_failure(&r)),
        other => panic!("{other:?}"),
    }
    // A 2xx/3xx direct response is not a failure.
    assert_eq!(verdict(&istio("301", "-", "direct_response", "-", "0", OUT), None), None);
}

#[test]
fn gateways_are_told_apart_without_a_pod_name() {
    // Gateway: accepts on its own pod IP (:8080) and connects out from the same IP.
    let gw = r#"[2025-05-15T20:00:21.626Z] "GET /items HTTP/1.1" 504 UT response_timeout - "-" 0 24 501 - "172.18.0.1" "curl/8.7.1" "cb846eff-07ac-902e-9890-7af478c84166" "catalog.istioinaction.io:30000" "10.10.0.13:3000" outbound|80|version-v2|catalog.istioinaction.svc.cluster.local 10.10.0.7:58078 10.10.0.7:8080 172.18.0.1:61108 - -"#;
    assert_eq!(verdict(gw, None).unwrap().2, Gateway);
    // Client sidecar: accepts on the ClusterIP the app dialled.
    let sc = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 504 UT response_timeout - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;
    assert_eq!(verdict(sc, None).unwrap().2, ClientSidecar);
}

#[test]
fn every_cause_has_a_row_and_a_unique_name() {
    for (i, c) in CAUSES.iter().enumerate() {
        assert_eq!(c.cause as usize, i);
        assert_eq!(Cause::from_name(c.name), Some(c.cause));
        assert!(!c.commands.is_empty());
    }
}
