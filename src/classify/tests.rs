//! One case per cause and per judgement call of failure-semantics.md, on real-shaped lines.

use super::reporter::has_ip;
use super::*;
use crate::format::json::Scratch;
use crate::format::parse_line;

fn verdict(line: &str, pod: Option<&str>) -> Option<(Cause, Domain, Reporter)> {
    let scratch = Scratch::new();
    let rec = parse_line(line.as_bytes(), &scratch).unwrap_or_else(|e| panic!("{e} in {line}"));
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
    // RFCF alone is informational (DI is not: see `delays_count_and_yield_to_real_failures`).
    assert_eq!(verdict(&istio("200", "RFCF", "via_upstream", "-", "4", OUT), None), None);
    // A WebSocket the client closed.
    assert_eq!(verdict(&istio("101", "DC", "downstream_remote_disconnect", "-", "13342", OUT), None), None);
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

/// A ztunnel line (family §10.1) with the interesting fields substituted.
fn ztunnel(direction: &str, duration: &str, error: &str) -> String {
    let error = if error.is_empty() { String::new() } else { format!(" error=\"{error}\"") };
    format!(
        "2025-06-01T10:00:05.000210Z\terror\taccess\tconnection complete\tsrc.addr=10.244.1.6:51844 src.workload=\"curl-5b9c7d8f6-abcde\" src.namespace=\"default\" dst.addr=10.244.2.5:15008 dst.hbone_addr=10.244.2.5:8080 dst.service=\"httpbin.default.svc.cluster.local\" dst.workload=\"httpbin-6d8f9c7b5-fghij\" dst.namespace=\"default\" direction=\"{direction}\" bytes_sent=0 bytes_recv=0 duration=\"{duration}\"{error}"
    )
}

#[test]
fn ztunnel_errors_map_onto_the_causes() {
    type Verdict = Option<(Cause, Domain, Reporter)>;
    let cases: &[(&str, &str, &str, Verdict)] = &[
        ("outbound", "4ms", "", None),
        // Nothing listens on the app port: the destination's ztunnel says so.
        (
            "inbound",
            "0ms",
            "connection failed: Connection refused (os error 111)",
            Some((ConnectionRefused, Application, ServerSidecar)),
        ),
        (
            "outbound",
            "1ms",
            "io error: Connection refused (os error 111)",
            Some((ConnectionRefused, Network, ClientSidecar)),
        ),
        // The source's view of that refusal: a quick 503 to the HBONE CONNECT…
        (
            "outbound",
            "2ms",
            "http status: 503 Service Unavailable",
            Some((ConnectionRefused, Network, ClientSidecar)),
        ),
        // …or a slow one: the destination's connect timed out.
        (
            "outbound",
            "10003ms",
            "http status: 503 Service Unavailable",
            Some((ConnectTimeout, Network, ClientSidecar)),
        ),
        (
            "inbound",
            "10001ms",
            "connection failed: deadline has elapsed",
            Some((ConnectTimeout, Network, ServerSidecar)),
        ),
        (
            "outbound",
            "10000ms",
            "connection timed out, maybe a NetworkPolicy is blocking HBONE port 15008: deadline has elapsed",
            Some((ConnectTimeout, Network, ClientSidecar)),
        ),
        (
            "outbound",
            "10000ms",
            "io error: deadline has elapsed",
            Some((ConnectTimeout, Network, ClientSidecar)),
        ),
        (
            "inbound",
            "0ms",
            "connection closed due to policy rejection: allow policies exist, but none allowed",
            Some((AuthzDenied, Security, ServerSidecar)),
        ),
        (
            "inbound",
            "0ms",
            "connection closed due to policy rejection: explicitly denied by: default/deny-all",
            Some((AuthzDenied, Security, ServerSidecar)),
        ),
        (
            "inbound",
            "0ms",
            "connection closed due to policy rejection",
            Some((AuthzDenied, Security, ServerSidecar)),
        ),
        ("outbound", "1ms", "http status: 401 Unauthorized", Some((AuthzDenied, Security, ClientSidecar))),
        (
            "outbound",
            "0ms",
            "no healthy upstream: 10.96.0.20:8080",
            Some((NoHealthyUpstream, Capacity, ClientSidecar)),
        ),
        (
            "outbound",
            "3ms",
            "tls error: invalid peer certificate",
            Some((TlsFailure, Security, ClientSidecar)),
        ),
        (
            "inbound",
            "9ms",
            "client disconnected before all data was written",
            Some((DownstreamDisconnect, Client, ServerSidecar)),
        ),
        (
            "outbound",
            "9ms",
            "destination disconnected before all data was written",
            Some((UpstreamReset, Network, ClientSidecar)),
        ),
        ("outbound", "0ms", "unknown waypoint: default/waypoint", Some((Other, Network, ClientSidecar))),
    ];
    for (direction, duration, error, want) in cases {
        let line = ztunnel(direction, duration, error);
        assert_eq!(verdict(&line, None), *want, "{error}");
    }
    // The evidence is the error text (and the duration), not the absent code and flags.
    let line = ztunnel("inbound", "0ms", "connection failed: Connection refused (os error 111)");
    let scratch = Scratch::new();
    let rec = parse_line(line.as_bytes(), &scratch).unwrap();
    let c = classify(&rec, reporter(&rec, None)).unwrap();
    assert_eq!(c.evidence, &[Ev::TransportFailure, Ev::Duration]);
}

#[test]
fn reporter_knows_product_cluster_names() {
    use crate::record::{FormatKind, Record};
    let side = |cluster: &str, up: Option<&str>, down: Option<&str>| {
        let rec = Record {
            format: FormatKind::Json,
            response_code: Some(503),
            upstream_cluster: Some(cluster.as_bytes()),
            upstream_local_address: up.map(|a| a.as_bytes()),
            downstream_local_address: down.map(|a| a.as_bytes()),
            ..Record::default()
        };
        reporter(&rec, None)
    };
    let cases: &[(&str, Reporter)] = &[
        // Istio ambient waypoints: the server-side view of the service.
        ("inbound-vip|9080|http|productpage.default.svc.cluster.local", ServerSidecar),
        ("inbound-vip|9080|tcp/v1|productpage.default.svc.cluster.local", ServerSidecar),
        ("connect_originate", ServerSidecar),
        ("main_internal", ServerSidecar),
        ("encap", ServerSidecar),
        // Envoy Gateway, Contour, Emissary, Gloo, kgateway, Cilium: always the gateway.
        ("httproute/default/backend/rule/0", Gateway),
        ("tcproute/default/tls-app-1/rule/-1", Gateway),
        ("service/default/backend/3000", Gateway),
        ("default/kuard/80/da39a3ee5e", Gateway),
        ("extension/projectcontour/authserver", Gateway),
        ("cluster_quote_default", Gateway),
        ("kube-svc:default-petstore-8080_default", Gateway),
        ("kube_default_httpbin_8000", Gateway),
        ("default/details:9080", Gateway),
        // OSM.
        ("bookstore/bookstore-v1|14001", ClientSidecar),
        ("bookstore/bookstore-v1|14001|local", ServerSidecar),
        ("bookstore/bookstore-v1-local", ServerSidecar),
        ("passthrough-outbound", ClientSidecar),
        // Consul.
        ("backend.default.dc1.internal.5e1a3f2c-8b7d-4c6e-9f0a-1b2c3d4e5f60.consul", ClientSidecar),
        ("local_app", ServerSidecar),
        ("original-destination", ClientSidecar),
        // AWS App Mesh.
        ("cds_egress_cb-mesh_colorteller-white-vn_http_9080", ClientSidecar),
        ("cds_ingress_cb-mesh_colorteller-white-vn_http_9080", ServerSidecar),
        ("cds_ingress_cb-mesh_gw_self_redirect_http_15001", Gateway),
        // Names shared with arbitrary clusters say nothing.
        ("default_kuard_80", Unknown),
        ("quote_8080", Unknown),
        ("hosted_proxy", Unknown),
    ];
    for (cluster, want) in cases {
        assert_eq!(side(cluster, None, None), *want, "{cluster}");
    }
    // A Consul upstream logged by a gateway: accepts and connects from its own IP.
    assert_eq!(
        side("backend.default.dc1.internal.5e1a3f2c.consul", Some("10.0.3.11:51512"), Some("10.0.3.11:8443")),
        Gateway
    );
}

#[test]
fn reporter_reads_the_layout_where_it_names_the_role() {
    let emissary = r#"ACCESS [2025-02-11T14:03:07.215Z] "GET /backend/ HTTP/1.1" 503 UF 0 145 1 - "10.244.0.1" "curl/8.5.0" "1d0a4f9e-5c2b-4b8a-9f7e-3a2b1c0d9e8f" "example.com" "10.244.0.21:8080""#;
    assert_eq!(verdict(emissary, None), Some((ConnectionRefused, Network, Gateway)));
    let kuma_out = r#"[2025-04-02T08:15:30.001Z] default "GET /api/counter HTTP/1.1" 503 UF 0 145 2 - "-" "curl/8.5.0" "-" "4e7a9c1d-2b3f-4a5e-8c6d-7f8091a2b3c4" "backend.kuma-demo.svc:3001" "demo-app_kuma-demo_svc_5000" "backend_kuma-demo_svc_3001" "10.244.0.8" "10.244.0.9:3001""#;
    assert_eq!(verdict(kuma_out, None).unwrap().2, ClientSidecar);
    let kuma_in = kuma_out.replace("\"demo-app_kuma-demo_svc_5000\"", "\"unknown\"");
    assert_eq!(verdict(&kuma_in, None).unwrap().2, ServerSidecar);
    // A waypoint's own record.
    let waypoint = r#"[2025-05-20T10:00:00.000Z] "GET /productpage HTTP/1.1" 503 UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 145 2 - "-" "curl/8.7.1" "ab4922ee-f733-4625-84e3-f5c045d979e8" "productpage:9080" "envoy://connect_originate/10.244.1.24:9080" inbound-vip|9080|http|productpage.default.svc.cluster.local envoy://internal_client_address/ 10.96.138.243:9080 envoy://internal_client_address/ - default"#;
    assert_eq!(verdict(waypoint, None), Some((ConnectionRefused, Application, ServerSidecar)));
    // The pod name still wins.
    assert_eq!(verdict(&kuma_in, Some("kuma-gateway-7d9f")).unwrap().2, Gateway);
}

/// `ip_of` as it was first written (a `memrchr` for the last colon), kept as the oracle.
fn ip_of_oracle(addr: &[u8]) -> Option<&[u8]> {
    let colon = memchr::memrchr(b':', addr)?;
    let ip = &addr[..colon];
    (!ip.is_empty() && addr[colon + 1..].iter().all(u8::is_ascii_digit)).then_some(ip)
}

#[test]
fn ip_of_matches_the_last_colon_rule() {
    let cases: &[&[u8]] = &[
        b"10.44.1.23:37652",
        b"[fd00::1]:8080",
        b"[fd00::1]",
        b"fd00::1",
        b"10.0.0.1:",
        b":8080",
        b":",
        b"",
        b"8080",
        b"10.0.0.1",
        b"10.0.0.1:80a",
        b"a:b:80",
        b"a::",
        b"::",
        b"envoy://internal_client_address/",
        b"envoy://connect_originate/10.244.1.24:9080",
        b"unix:/var/run/sock",
        b"x:\xff9",
        b"10.244.14.3:35858",
        b"10.244.14.3:12345678",
        b"10.244.14.3:1234567",
        b"1234567890",
        b":1234567890",
        b"a:12345678",
        b"a:9:/09",
        b"abcdefgh:",
        b"abcdefg:",
        b"abcdefgh:\xb0\xba",
        b"abcdefgh:0\xb9",
    ];
    for &c in cases {
        assert_eq!(ip_of(c), ip_of_oracle(c), "{:?}", String::from_utf8_lossy(c));
    }
    // Pseudo-random strings up to 24 bytes over digits, the colon and their neighbours ('/' and
    // ':' border the digits), other address bytes and high-bit bytes.
    let bytes = b"0123456789:://..[]a\xb0\xba\xff";
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..200_000 {
        let len = (next() % 25) as usize;
        let s: Vec<u8> = (0..len).map(|_| bytes[(next() % bytes.len() as u64) as usize]).collect();
        assert_eq!(ip_of(&s), ip_of_oracle(&s), "{:?}", String::from_utf8_lossy(&s));
    }
    // Every string over a small alphabet up to length 9 (both sides of the 8-byte word).
    let alphabet = b":1a";
    let mut buf = Vec::new();
    for len in 0..=9u32 {
        for n in 0..alphabet.len().pow(len) {
            buf.clear();
            let mut k = n;
            for _ in 0..len {
                buf.push(alphabet[k % alphabet.len()]);
                k /= alphabet.len();
            }
            assert_eq!(ip_of(&buf), ip_of_oracle(&buf), "{:?}", String::from_utf8_lossy(&buf));
            for ip in [&b"1"[..], b"a", b"11", b"1:1", b"a1a", b":", b"1a"] {
                assert_eq!(
                    has_ip(&buf, ip),
                    ip_of_oracle(&buf) == Some(ip),
                    "{:?} has {:?}",
                    String::from_utf8_lossy(&buf),
                    String::from_utf8_lossy(ip)
                );
            }
        }
    }
}

/// Issue 17: the delay the user injected is a finding on any status, but a real failure that
/// came with it keeps its own cause.
#[test]
fn delays_count_and_yield_to_real_failures() {
    assert_eq!(
        verdict(&istio("200", "DI", "via_upstream", "-", "2004", OUT), None),
        Some((FaultInjected, Configuration, ClientSidecar))
    );
    assert_eq!(
        verdict(&istio("504", "DI,UT", "response_timeout", "-", "3000", OUT), None).unwrap().0,
        RouteTimeout
    );
    assert_eq!(verdict(&istio("503", "DI", "via_upstream", "-", "2004", OUT), None).unwrap().0, AppError);
    assert_eq!(
        verdict(&istio("0", "DI,DC", "downstream_remote_disconnect", "-", "900", OUT), None).unwrap().0,
        DownstreamDisconnect
    );
    // An idle timeout closing a WebSocket is one.
    assert_eq!(
        verdict(&istio("101", "SI", "stream_idle_timeout", "-", "413322", OUT), None).unwrap().0,
        StreamIdleTimeout
    );
}
