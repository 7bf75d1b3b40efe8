//! Table-driven tests: every example line of reference §10 and §8, and one case per layout,
//! wrapper and non-access line. Each case names the fields it expects; `"∅"` means absent.

use super::*;
use crate::response_flags::Flag;

const ABSENT: &str = "∅";

fn decode_one(line: &str) -> Outcome<'static> {
    let line: &'static [u8] = Box::leak(line.as_bytes().to_vec().into_boxed_slice());
    let decoder: &'static mut Decoder = Box::leak(Box::new(Decoder::new(FormatChoice::Auto)));
    decoder.decode(line)
}

fn check(line: &str, kind: FormatKind, expected: &[(&str, &str)]) {
    let rec = match decode_one(line) {
        Outcome::Record(r) => r,
        other => panic!("expected a record, got {other:?} for {line}"),
    };
    assert_eq!(rec.format, kind, "layout of {line}");
    let fields = rec.fields();
    for (name, want) in expected {
        let got = fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if *want == ABSENT {
            assert_eq!(got, None, "field {name} of {line}");
        } else {
            assert_eq!(got, Some(*want), "field {name} of {line}");
        }
    }
}

macro_rules! cases {
    ($($name:ident: $line:expr => $kind:ident { $($k:literal : $v:expr),* $(,)? })*) => {
        $(#[test] fn $name() { check($line, FormatKind::$kind, &[$(($k, $v)),*]); })*
    };
}

cases! {
    // §10.1 Envoy default format.
    ex01_envoy_docs_stale_tcp_host:
        r#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80""#
        => EnvoyDefault { "start_time": "2016-04-15T20:17:00.310Z", "method": "POST", "path": "/api/v1/locations",
            "protocol": "HTTP/2", "response_code": "204", "response_flags": ABSENT, "bytes_received": "154",
            "bytes_sent": "0", "duration_ms": "226", "upstream_service_time_ms": "100", "x_forwarded_for": "10.0.35.28",
            "user_agent": "nsq2http", "request_id": "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2", "authority": "locations",
            "upstream_host": "tcp://10.0.2.1:80", "upstream_cluster": ABSENT }
    ex02_envoy_default_katacoda:
        r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#
        => EnvoyDefault { "response_code": "200", "x_forwarded_for": ABSENT, "upstream_host": "172.18.0.4:80", "duration_ms": "4" }
    ex03_envoy_default_uf_ipv6:
        r#"[2024-09-26T22:50:30.159Z] "POST /v1/chat/completions HTTP/1.1" 503 UF 98 173 3 - "-" "OpenAI/Python 1.46.1" "30dee192-a123-46e0-8236-a45417eaf02d" "bolt:10000" "[2607:7700:0:33:0:1:ac42:f3]:443""#
        => EnvoyDefault { "response_code": "503", "response_flags": "UF", "upstream_service_time_ms": ABSENT,
            "user_agent": "OpenAI/Python 1.46.1", "upstream_host": "[2607:7700:0:33:0:1:ac42:f3]:443" }
    ex04a_istio_1_1_pre_http:
        r#"[2019-01-24T12:17:11.640Z] "GET /headers HTTP/1.1" 200 - 0 599 214 214 "-" "curl/7.60.0" "17fde8f7-fa62-9b39-8999-302324e6def2" "httpbin.org" "35.173.6.94:80" outbound|80||httpbin.org - 35.173.6.94:80 172.30.109.82:55314 -"#
        => Istio11Pre { "upstream_cluster": "outbound|80||httpbin.org", "upstream_local_address": ABSENT,
            "downstream_local_address": "35.173.6.94:80", "downstream_remote_address": "172.30.109.82:55314", "requested_server_name": ABSENT }
    ex04b_istio_1_1_pre_tcp:
        r#"[2019-01-24T12:48:54.977Z] "- - -" 0 - 601 17766 1289 - "-" "-" "-" "-" "172.217.161.36:443" outbound|443||www.google.com 172.30.109.82:59480 172.217.161.36:443 172.30.109.82:59478 www.google.com"#
        => Istio11Pre { "method": ABSENT, "path": ABSENT, "protocol": ABSENT, "response_code": "0", "bytes_received": "601",
            "bytes_sent": "17766", "requested_server_name": "www.google.com" }

    // §10.2 Istio text format.
    ex05_istio_client_sidecar:
        r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#
        => Istio19 { "start_time": "2020-11-25T21:26:18.409Z", "method": "GET", "path": "/status/418", "protocol": "HTTP/1.1",
            "response_code": "418", "response_flags": ABSENT, "response_code_details": "via_upstream",
            "connection_termination_details": ABSENT, "upstream_transport_failure_reason": ABSENT,
            "bytes_received": "0", "bytes_sent": "135", "duration_ms": "4", "upstream_service_time_ms": "4",
            "x_forwarded_for": ABSENT, "user_agent": "curl/7.73.0-DEV", "request_id": "84961386-6d84-929d-98bd-c5aee93b5c88",
            "authority": "httpbin:8000", "upstream_host": "10.44.1.27:80",
            "upstream_cluster": "outbound|8000||httpbin.foo.svc.cluster.local", "upstream_local_address": "10.44.1.23:37652",
            "downstream_local_address": "10.0.45.184:8000", "downstream_remote_address": "10.44.1.23:46520",
            "requested_server_name": ABSENT, "route_name": "default" }
    ex06_istio_server_sidecar:
        r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 3 1 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "127.0.0.1:80" inbound|8000|| 127.0.0.1:41854 10.44.1.27:80 10.44.1.23:37652 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#
        => Istio19 { "upstream_cluster": "inbound|8000||", "requested_server_name": "outbound_.8000_._.httpbin.foo.svc.cluster.local",
            "upstream_service_time_ms": "1" }
    ex07_filter_chain_not_found:
        r#"[2020-10-29T03:23:33.415Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 172.17.0.7:80 172.17.0.6:59800 - -"#
        => Istio19 { "method": ABSENT, "response_code": "0", "response_flags": "NR", "response_code_details": "filter_chain_not_found",
            "upstream_host": ABSENT, "upstream_cluster": ABSENT, "route_name": ABSENT }
    ex08_dpe_codec_error:
        r#"[2020-10-29T03:24:13.520Z] "- - HTTP/1.1" 400 DPE http1.codec_error - "-" 0 11 0 - "-" "-" "-" "-" "-" - - 172.17.0.7:80 172.17.0.6:60214 - -"#
        => Istio19 { "method": ABSENT, "protocol": "HTTP/1.1", "response_code": "400", "response_flags": "DPE",
            "response_code_details": "http1.codec_error" }
    ex09_rbac_denied:
        r#"[2020-10-29T03:25:20.162Z] "GET /headers HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "curl/7.73.0-DEV" "07541777-6ee2-908f-a78b-867fe257ac80" "httpbin:8000" "-" - - 172.17.0.7:80 172.17.0.6:60898 outbound_.8000_._.httpbin.foo.svc.cluster.local -"#
        => Istio19 { "response_code": "403", "response_code_details": "rbac_access_denied_matched_policy[none]", "upstream_cluster": ABSENT }
    ex10_inbound_200:
        r#"[2020-10-29T03:22:16.126Z] "GET /headers HTTP/1.1" 200 - via_upstream - "-" 0 547 5 4 "-" "curl/7.73.0-DEV" "24e58e43-e576-9048-829b-02e3f3da16f0" "httpbin:8000" "127.0.0.1:80" inbound|8000|| 127.0.0.1:51680 172.17.0.7:80 172.17.0.6:59022 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#
        => Istio19 { "response_code": "200", "bytes_sent": "547" }
    ex12_uc_server_sidecar_120s:
        r#"[2024-06-18T10:19:42.614Z] "POST /v1/accounting/api-portal/card/CSP_XXXXXXX/ORE00000/DEC000000/topup HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 138 95 120001 - "-" "-" "ed37e325-1a4e-9827-b994-1a3317bcc0b1" "internal-api:8080" "10.34.127.167:8080" inbound|8080|| 127.0.0.6:58719 10.34.127.167:8080 10.34.126.119:57080 outbound_.8080_._.internal-api.default.svc.cluster.local default"#
        => Istio19 { "response_code": "503", "response_flags": "UC", "duration_ms": "120001", "user_agent": ABSENT,
            "response_code_details": "upstream_reset_before_response_started{connection_termination}" }
    ex14_tcp_nc:
        r#"[2022-07-07T09:52:22.441Z] "- - -" 0 NC - - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 182.25.6.252:80 172.25.12.234:56080 - -"#
        => Istio19 { "response_flags": "NC", "response_code_details": ABSENT, "downstream_local_address": "182.25.6.252:80" }
    ex15_istio_1_3_passthrough_with_kubelet_timestamp:
        r#"2020-11-22T20:04:54.223086877Z [2020-11-22T20:04:33.157Z] "- - -" 0 - "-" "-" 4841 9845236 16230 - "-" "-" "-" "-" "104.20.28.24:443" PassthroughCluster 172.18.0.10:49944 104.20.28.24:443 172.18.0.10:49942 - -"#
        => Istio13 { "log_time": "2020-11-22T20:04:54.223086877Z", "policy_status": ABSENT, "upstream_transport_failure_reason": ABSENT,
            "bytes_received": "4841", "bytes_sent": "9845236", "duration_ms": "16230", "upstream_cluster": "PassthroughCluster",
            "route_name": ABSENT }
    ex17a_blackhole_tcp:
        r#"[2022-04-26T13:14:30.905Z] "- - -" 0 UH - - "-" 0 0 7 - "-" "-" "-" "-" "-" BlackHoleCluster - 180.97.34.94:443 10.122.158.52:54192 - -"#
        => Istio19 { "response_flags": "UH", "upstream_cluster": "BlackHoleCluster", "duration_ms": "7" }
    ex17b_block_all_direct_502:
        r#"[2022-04-26T13:16:32.023Z] "HEAD / HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.81.0-DEV" "cb171c15-848a-93d8-88d6-beeadcbb683f" "www.baidu.com" "-" - - 180.97.34.94:80 10.122.158.52:48708 - block_all"#
        => Istio19 { "response_code": "502", "response_code_details": "direct_response", "route_name": "block_all" }
    ex18_gateway_504_ut:
        r#"[2025-05-15T20:00:21.626Z] "GET /items HTTP/1.1" 504 UT response_timeout - "-" 0 24 501 - "172.18.0.1" "curl/8.7.1" "cb846eff-07ac-902e-9890-7af478c84166" "catalog.istioinaction.io:30000" "10.10.0.13:3000" outbound|80|version-v2|catalog.istioinaction.svc.cluster.local 10.10.0.7:58078 10.10.0.7:8080 172.18.0.1:61108 - -"#
        => Istio19 { "response_code": "504", "response_flags": "UT", "response_code_details": "response_timeout", "duration_ms": "501",
            "upstream_cluster": "outbound|80|version-v2|catalog.istioinaction.svc.cluster.local" }

    // §8 wrappers.
    wrap_kubectl_timestamps:
        r#"2020-11-22T20:04:54.223002528Z [2020-11-22T20:04:32.765Z] "GET /products HTTP/1.1" 500 - "-" "-" 0 122 11939 11933 "-" "PostmanRuntime/7.26.8" "66fa4542-266e-9364-8447-e7d63047b344" "172.17.0.2:30164" "127.0.0.1:8080" inbound|8080|http-8080|scrappers-service.default.svc.cluster.local 127.0.0.1:52034 172.18.0.10:8080 172.18.0.1:37035 - default"#
        => Istio13 { "log_time": "2020-11-22T20:04:54.223002528Z", "response_code": "500", "duration_ms": "11939",
            "upstream_cluster": "inbound|8080|http-8080|scrappers-service.default.svc.cluster.local" }
    wrap_kubectl_prefix_and_timestamps:
        r#"[pod/httpbin-8cb97b8f4-9dk9p/istio-proxy] 2024-05-16T10:06:02.123456789Z [2024-05-16T10:06:02.120Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 3 1 "-" "curl/8.5.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" inbound|80|| 127.0.0.6:41854 10.44.1.27:80 10.44.1.23:37652 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#
        => Istio19 { "pod": "httpbin-8cb97b8f4-9dk9p", "container": "istio-proxy", "log_time": "2024-05-16T10:06:02.123456789Z",
            "response_code": "418", "upstream_cluster": "inbound|80||" }
    wrap_kubectl_prefix_only:
        r#"[pod/istio-ingressgateway-7d4f8b9c6-x2x9z/istio-proxy] [2025-05-15T20:00:21.626Z] "GET /items HTTP/1.1" 504 UT response_timeout - "-" 0 24 15001 - "172.18.0.1" "curl/8.7.1" "cb846eff-07ac-902e-9890-7af478c84166" "catalog:80" "10.10.0.13:3000" outbound|80||catalog.shop.svc.cluster.local 10.10.0.7:58078 10.10.0.7:8080 172.18.0.1:61108 - -"#
        => Istio19 { "pod": "istio-ingressgateway-7d4f8b9c6-x2x9z", "log_time": ABSENT, "duration_ms": "15001" }
    wrap_cri_containerd:
        r#"2024-05-16T10:06:02.12345678Z stdout F [2024-05-16T10:06:02.120Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 3 1 "-" "curl/8.5.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" inbound|80|| 127.0.0.6:41854 10.44.1.27:80 10.44.1.23:37652 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#
        => Istio19 { "log_time": "2024-05-16T10:06:02.12345678Z", "stream": "stdout", "response_code": "418" }
    wrap_cri_crio_offset:
        r#"2024-05-16T10:06:02.123456780+00:00 stdout F [2024-05-16T10:06:02.120Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#
        => EnvoyDefault { "log_time": "2024-05-16T10:06:02.123456780+00:00", "stream": "stdout", "response_code": "200" }
    wrap_stern_default:
        r#"forum-7985546ffb-clxhz istio-proxy [2023-01-07T11:12:51.472Z] "GET /users HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.81.0" "cb171c15-848a-93d8-88d6-beeadcbb683f" "users" "-" - - 10.0.0.1:80 10.0.0.2:48708 - block_all"#
        => Istio19 { "pod": "forum-7985546ffb-clxhz", "container": "istio-proxy", "namespace": ABSENT, "response_code": "502" }
    wrap_stern_namespace_and_colours:
        "\x1b[32mshop\x1b[0m \x1b[33mforum-7985546ffb-clxhz\x1b[0m \x1b[34mistio-proxy\x1b[0m [2023-01-07T11:12:51.472Z] \"GET /users HTTP/1.1\" 200 - via_upstream - \"-\" 0 10 3 2 \"-\" \"curl/7.81.0\" \"cb171c15-848a-93d8-88d6-beeadcbb683f\" \"users\" \"10.0.0.9:80\" outbound|80||users.shop.svc.cluster.local 10.0.0.2:1 10.0.0.1:80 10.0.0.2:48708 - default"
        => Istio19 { "namespace": "shop", "pod": "forum-7985546ffb-clxhz", "container": "istio-proxy", "response_code": "200" }
    wrap_stern_with_timestamps:
        r#"forum-7985546ffb-clxhz istio-proxy 2023-01-07T11:12:51.472000000Z [2023-01-07T11:12:51.472Z] "GET /users HTTP/1.1" 200 - via_upstream - "-" 0 10 3 2 "-" "curl/7.81.0" "cb171c15-848a-93d8-88d6-beeadcbb683f" "users" "10.0.0.9:80" outbound|80||users.shop.svc.cluster.local 10.0.0.2:1 10.0.0.1:80 10.0.0.2:48708 - default"#
        => Istio19 { "pod": "forum-7985546ffb-clxhz", "log_time": "2023-01-07T11:12:51.472000000Z" }
    wrap_docker_json_file:
        r#"{"log":"[2020-11-25T21:26:18.409Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 4 4 \"-\" \"curl/7.73.0-DEV\" \"84961386-6d84-929d-98bd-c5aee93b5c88\" \"httpbin:8000\" \"10.44.1.27:80\" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default\n","stream":"stdout","time":"2020-11-25T21:26:18.41Z"}"#
        => Istio19 { "stream": "stdout", "log_time": "2020-11-25T21:26:18.41Z", "user_agent": "curl/7.73.0-DEV", "response_code": "418" }
    wrap_docker_json_around_istio_json:
        r#"{"log":"{\"response_code\":503,\"response_flags\":\"UF,URX\",\"duration\":0,\"upstream_cluster\":\"outbound|80||a.b.svc.cluster.local\"}\n","stream":"stdout","time":"2020-11-25T21:26:18.41Z"}"#
        => Json { "response_code": "503", "response_flags": "UF,URX", "upstream_cluster": "outbound|80||a.b.svc.cluster.local" }

    // Layouts with no example in §10, built from their format strings (§2.3).
    layout_istio_1_0_http_no_space_before_protocol:
        r#"[2018-10-01T10:00:00.000Z] "GET /productpageHTTP/1.1" 200 - 0 5183 43 42 "-" "curl/7.60.0" "5e1f1c4b-0a4f-9b8e-a4a1-6c8b2a0f6e1d" "productpage:9080" "10.1.0.7:9080" outbound|9080||productpage.default.svc.cluster.local - 10.1.0.7:9080 10.1.0.5:44844"#
        => Istio10Http { "path": "/productpage", "protocol": "HTTP/1.1", "response_code": "200",
            "upstream_cluster": "outbound|9080||productpage.default.svc.cluster.local", "downstream_remote_address": "10.1.0.5:44844" }
    layout_istio_1_0_tcp:
        r#"[2018-10-01T10:00:00.000Z] UF 0 0 10003 "10.1.0.9:3306" outbound|3306||mysql.default.svc.cluster.local - 10.0.0.9:3306 10.1.0.5:44848"#
        => Istio10Tcp { "response_flags": "UF", "response_code": ABSENT, "duration_ms": "10003",
            "upstream_cluster": "outbound|3306||mysql.default.svc.cluster.local" }
    layout_istio_1_1_mixer_status:
        r#"[2019-03-20T10:00:00.000Z] "GET /ratings/0 HTTP/1.1" 503 UH ""UNAVAILABLE:no healthy upstream"" 0 19 0 - "-" "Apache-CXF/3.1.14" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "ratings:9080" "-" outbound|9080||ratings.default.svc.cluster.local - 10.0.0.3:9080 10.1.0.5:40000 -"#
        => Istio11 { "response_flags": "UH", "policy_status": "\"UNAVAILABLE:no healthy upstream\"", "bytes_sent": "19" }
    layout_istio_1_2:
        r#"[2019-07-01T10:00:00.000Z] "GET /ratings/0 HTTP/1.1" 503 UF "-" "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" 0 91 2 - "-" "curl/7.64.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "ratings:9080" "10.1.0.9:9080" outbound|9080||ratings.default.svc.cluster.local - 10.0.0.3:9080 10.1.0.5:40000 -"#
        => Istio12 { "response_flags": "UF", "policy_status": ABSENT,
            "upstream_transport_failure_reason": "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" }
    layout_istio_1_8:
        r#"[2020-09-01T10:00:00.000Z] "GET /ratings/0 HTTP/1.1" 503 UF,URX "-" 0 91 30 - "-" "curl/7.64.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "ratings:9080" "10.1.0.9:9080" outbound|9080||ratings.default.svc.cluster.local - 10.0.0.3:9080 10.1.0.5:40000 - default"#
        => Istio18 { "response_flags": "UF,URX", "route_name": "default", "duration_ms": "30" }
    layout_istio_1_23_trailing_semicolon:
        r#"[2024-09-01T10:00:00.000Z] "GET /ratings/0 HTTP/1.1" 200 - via_upstream - "-" 0 91 3 2 "-" "curl/8.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "ratings:9080" "10.1.0.9:9080" outbound|9080||ratings.default.svc.cluster.local; 10.1.0.5:1 10.0.0.3:9080 10.1.0.5:40000 - default"#
        => Istio19 { "upstream_cluster": "outbound|9080||ratings.default.svc.cluster.local" }
    istio_user_agent_with_embedded_quotes:
        r#"[2024-09-01T10:00:00.000Z] "GET /x HTTP/1.1" 200 - via_upstream - "-" 0 91 3 2 "-" "evil" "agent" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "ratings:9080" "10.1.0.9:9080" outbound|9080||r.default.svc.cluster.local 10.1.0.5:1 10.0.0.3:9080 10.1.0.5:40000 - default"#
        => Istio19 { "user_agent": "evil\" \"agent", "request_id": "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1", "authority": "ratings:9080" }
    istio_termination_details_with_spaces:
        r#"[2024-09-01T10:00:00.000Z] "- - -" 0 - - transport socket timeout was reached "-" 0 0 10000 - "-" "-" "-" "-" "10.1.0.9:9080" inbound|9080|| 127.0.0.6:1 10.1.0.9:9080 10.1.0.5:40000 - -"#
        => Istio19 { "connection_termination_details": "transport socket timeout was reached", "duration_ms": "10000" }
    istio_tcp_rbac_deny_in_termination_details:
        r#"[2024-09-01T10:00:00.000Z] "- - -" 0 - - rbac_access_denied_matched_policy[ns[foo]-policy[deny-db]-rule[0]] "-" 0 0 0 - "-" "-" "-" "-" "10.1.0.9:5432" inbound|5432|| - 10.1.0.9:5432 10.1.0.5:40000 - -"#
        => Istio19 { "response_code": "0", "connection_termination_details": "rbac_access_denied_matched_policy[ns[foo]-policy[deny-db]-rule[0]]" }
    istio_retried_refusal_1_31:
        r#"[2025-01-01T10:00:00.000Z] "GET /api HTTP/1.1" 503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 152 45 - "-" "curl/8.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "api:80" "10.1.0.9:8080" outbound|80||api.shop.svc.cluster.local - 10.0.0.3:80 10.1.0.5:40000 - default"#
        => Istio19 { "response_flags": "UF,URX", "upstream_transport_failure_reason": "delayed_connect_error:_Connection_refused",
            "upstream_local_address": ABSENT }

    // §10.3 Istio JSON.
    ex21_json_untyped_istio_1_3:
        r#"{"bytes_sent":"303518","upstream_cluster":"InboundPassthroughClusterIpv4","downstream_remote_address":"10.150.17.125:40302","authority":"-","path":"-","protocol":"-","upstream_service_time":"-","upstream_local_address":"127.0.0.6:55337","duration":"109727","downstream_local_address":"REDACTED_IP2:15090","upstream_transport_failure_reason":"-","route_name":"-","response_code":"0","user_agent":"-","response_flags":"-","start_time":"2019-09-17T08:55:01.420Z","method":"-","request_id":"-","upstream_host":"REDACTED_IP2:15090","x_forwarded_for":"-","requested_server_name":"-","bytes_received":"2048","istio_policy_status":"-"}"#
        => Json { "bytes_sent": "303518", "duration_ms": "109727", "response_code": "0", "method": ABSENT, "authority": ABSENT,
            "upstream_cluster": "InboundPassthroughClusterIpv4", "policy_status": ABSENT }
    ex21b_json_untyped_tcp_uf_urx:
        r#"{"bytes_sent":"0","upstream_cluster":"outbound|7600||keycloak-headless.our_ns.svc.cluster.local","downstream_remote_address":"REDACTED_IP2:46505","authority":"-","path":"-","protocol":"-","upstream_service_time":"-","upstream_local_address":"-","duration":"10006","downstream_local_address":"REDACTED_IP1:7600","upstream_transport_failure_reason":"-","route_name":"-","response_code":"0","user_agent":"-","response_flags":"UF,URX","start_time":"2019-09-17T08:57:20.669Z","method":"-","request_id":"-","upstream_host":"REDACTED_IP1:7600","x_forwarded_for":"-","requested_server_name":"-","bytes_received":"0","istio_policy_status":"-"}"#
        => Json { "response_flags": "UF,URX", "duration_ms": "10006", "upstream_local_address": ABSENT }
    ex22_json_uaex_escaped_mixer_status:
        r#"{"bytes_sent":"31","upstream_cluster":"-","downstream_remote_address":"100.100.0.0:54652","authority":"loki.example.com","path":"/api/prom/push","protocol":"HTTP/1.1","upstream_service_time":"-","upstream_local_address":"-","duration":"0","downstream_local_address":"100.108.0.25:443","upstream_transport_failure_reason":"-","route_name":"-","response_code":"503","user_agent":"Go-http-client/1.1","response_flags":"UAEX","start_time":"2019-11-19T03:27:35.402Z","method":"POST","request_id":"639632b6-8795-45e9-8435-fb5b07aede5e","upstream_host":"-","x_forwarded_for":"100.100.0.0","requested_server_name":"loki.example.com","bytes_received":"0","istio_policy_status":"\"UNAVAILABLE:no healthy upstream\""}"#
        => Json { "response_code": "503", "response_flags": "UAEX", "policy_status": "\"UNAVAILABLE:no healthy upstream\"", "upstream_cluster": ABSENT }
    ex23_json_typed_custom_map:
        r#"{"path":null,"authority":null,"downstream_remote_address":"49.37.131.33:64345","duration":5303,"upstream_local_address":"0.0.0.0:49171","bytes_sent":8453,"x_forwarded_for":null,"downstream_local_address":"172.17.160.240:443","upstream_transport_failure_reason":null,"request_id":null,"user_id":null,"response_code":0,"req_method":null,"req_path":null,"response_flags":"-","route_name":null,"upstream_cluster":"hosted_proxy","method":null,"req_body":null,"upstream_service_time":null,"upstream_host":"10.0.0.5:8443","start_time":"2022-09-10T14:27:14.956Z","requested_server_name":"4349494d-6743-434b-4167-45416f537949.rapatchimanaged.k8sconnect.azure.com","bytes_received":17341,"protocol":null,"user_agent":null}"#
        => Json { "duration_ms": "5303", "response_code": "0", "upstream_cluster": "hosted_proxy", "bytes_received": "17341", "path": ABSENT }
    ex24_json_typed_unsorted:
        r#"{"requested_server_name":null,"path":"/reviews/0","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/92.0.4515.131 Safari/537.36","downstream_local_address":"10.110.231.110:9080","start_time":"2021-08-29T10:19:39.660Z","protocol":"HTTP/1.1","upstream_service_time":"8","duration":8,"request_id":"6f867212-d7cf-4c68-9468-6fbc5f927335","x_forwarded_for":null,"response_flags":"-","bytes_received":0,"upstream_local_address":"10.1.0.223:34460","bytes_sent":295,"authority":"reviews:9080","connection_termination_details":null,"downstream_remote_address":"10.1.0.223:42980","upstream_host":"10.1.0.227:9080","response_code_details":"via_upstream","upstream_transport_failure_reason":null,"method":"GET","route_name":"default","upstream_cluster":"outbound|9080||reviews.default.svc.cluster.local","response_code":200}"#
        => Json { "upstream_service_time_ms": "8", "duration_ms": "8", "response_code": "200", "response_code_details": "via_upstream",
            "upstream_cluster": "outbound|9080||reviews.default.svc.cluster.local" }
    ex25_json_gateway_nr:
        r#"{"response_code":404,"bytes_received":0,"authority":"54.180.199.250","upstream_transport_failure_reason":null,"x_forwarded_for":"135.125.218.67","response_flags":"NR","upstream_cluster":null,"protocol":"HTTP/1.1","path":"/","bytes_sent":0,"method":"POST","connection_termination_details":null,"downstream_local_address":"10.0.30.69:8080","route_name":null,"duration":0,"upstream_service_time":null,"upstream_host":null,"response_code_details":"route_not_found","request_id":"f7fc89a9-e0ed-9e71-841c-dea2a8456f7e","downstream_remote_address":"135.125.218.67:34364","upstream_local_address":null,"requested_server_name":null,"start_time":"2024-01-25T06:58:45.826Z","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.129 Safari/537.36"}"#
        => Json { "response_code": "404", "response_flags": "NR", "response_code_details": "route_not_found", "upstream_cluster": ABSENT }
    ex26_json_sorted_keys:
        r#"{"authority":"httpbin.local.kyma.dev","bytes_received":0,"bytes_sent":442,"connection_termination_details":null,"downstream_local_address":"10.42.0.9:8443","downstream_remote_address":"10.42.0.1:22564","duration":15,"method":"GET","path":"/headers","protocol":"HTTP/2","request_id":"b947e4b6-2965-4cca-af90-51e3a1f4673f","requested_server_name":"httpbin.local.kyma.dev","response_code":200,"response_code_details":"via_upstream","response_flags":"-","route_name":null,"start_time":"2026-06-30T09:09:58.374Z","upstream_cluster":"outbound|8000||httpbin.test.svc.cluster.local","upstream_host":"10.42.0.13:80","upstream_local_address":"10.42.0.9:35226","upstream_service_time":"13","upstream_transport_failure_reason":null,"user_agent":"curl/8.7.1","x_forwarded_for":"10.42.0.1"}"#
        => Json { "protocol": "HTTP/2", "response_code": "200", "upstream_service_time_ms": "13", "requested_server_name": "httpbin.local.kyma.dev" }
    ex27_json_waypoint:
        r#"{"duration":2,"route_name":"default","authority":"productpage:9080","bytes_sent":1683,"upstream_host":"envoy://connect_originate/10.244.1.24:9080","protocol":"HTTP/1.1","start_time":"2023-08-28T11:59:08.924Z","upstream_cluster":"inbound-vip|9080|http|productpage.default.svc.cluster.local","response_code":200,"request_id":"ab4922ee-f733-4625-84e3-f5c045d979e8","upstream_transport_failure_reason":null,"response_flags":"-","user_agent":"curl/8.2.1","x_forwarded_for":null,"bytes_received":0,"method":"GET","downstream_local_address":"10.96.138.243:9080","requested_server_name":null,"connection_termination_details":null,"downstream_remote_address":"envoy://internal_client_address/","upstream_service_time":"2","response_code_details":"via_upstream","path":"/","upstream_local_address":"envoy://internal_client_address/"}"#
        => Json { "upstream_host": "envoy://connect_originate/10.244.1.24:9080", "upstream_cluster": "inbound-vip|9080|http|productpage.default.svc.cluster.local" }
    json_trailing_semicolon_stripped:
        r#"{"response_code":503,"response_flags":"UF","upstream_cluster":"outbound|80||reviews.default.svc.cluster.local;","duration":1}"#
        => Json { "upstream_cluster": "outbound|80||reviews.default.svc.cluster.local" }
}

fn skipped(line: &str) -> SkipReason {
    match decode_one(line) {
        Outcome::Skipped(r) => r,
        other => panic!("expected a skip, got {other:?} for {line}"),
    }
}

fn malformed(line: &str) -> ParseError {
    match decode_one(line) {
        Outcome::Malformed(e) => e,
        other => panic!("expected malformed, got {other:?} for {line}"),
    }
}

#[test]
fn non_access_lines_of_an_istio_proxy_are_skipped() {
    let cases: &[(&str, SkipReason)] = &[
        ("", SkipReason::Blank),
        ("   \t", SkipReason::Blank),
        (
            "[2019-08-13 17:36:34.683][22][warning][config] [bazel-out/k8-opt/bin/external/envoy/source/common/config/_virtual_includes/grpc_stream_lib/common/config/grpc_stream.h:86] gRPC config stream closed: 13,",
            SkipReason::EnvoyLog,
        ),
        (
            "[Envoy (Epoch 0)] [2020-08-10 07:51:42.368][34][debug][pool] [external/envoy/source/common/http/http1/conn_pool.cc:95] creating a new connection",
            SkipReason::EnvoyLog,
        ),
        (
            "2021-09-13T06:29:50.786352Z\twarning\tenvoy config\tStreamAggregatedResources gRPC config stream closed: 14, closing transport due to: connection error",
            SkipReason::EnvoyLog,
        ),
        (
            "2023-10-12T08:08:15.270118Z\tdebug\tenvoy pool external/envoy/source/common/conn_pool/conn_pool_base.cc:265\t[C107599] using existing fully connected connection\tthread=25",
            SkipReason::EnvoyLog,
        ),
        (
            "[2024-11-20 19:16:00.927][16][debug][http] [source/common/http/conn_manager_impl.cc:257] [Tags: \"ConnectionId\":\"19\"] doEndStream() resetting stream",
            SkipReason::EnvoyLog,
        ),
        ("2020-11-22T19:32:17.857430Z\tinfo\tFLAG: --concurrency=\"2\"", SkipReason::AgentLog),
        (
            "2021-10-26T14:49:36.629208Z\tinfo\txdsproxy\tconnected to upstream XDS server: istiod.istio-system.svc:15012",
            SkipReason::AgentLog,
        ),
        (
            "2026-10-09T23:51:21.206503Z\tinfo\txdsproxy\tconnected to delta upstream XDS server: istiod.istio-system.svc:15012\tid=2",
            SkipReason::AgentLog,
        ),
        (
            "{\"level\":\"info\",\"time\":\"2024-01-01T00:00:00.000000Z\",\"scope\":\"envoy main\",\"msg\":\"hello\",\"caller\":\"x.cc:1\",\"thread\":\"12\"}",
            SkipReason::EnvoyLog,
        ),
        (
            "{\"level\":\"info\",\"time\":\"2024-01-01T00:00:00.000000Z\",\"scope\":\"xdsproxy\",\"msg\":\"connected\"}",
            SkipReason::AgentLog,
        ),
        (
            "Defaulted container \"istio-proxy\" out of: istio-proxy, istio-init (init)",
            SkipReason::KubectlNotice,
        ),
        ("':status', '503'", SkipReason::EnvoyLog),
        (
            "svc-one-deployment-7d8dcc748-4v7tp istio-proxy 2022-07-21T10:51:54.739441Z      debug   envoy http      [C440203][S374698705624913161] request end stream",
            SkipReason::EnvoyLog,
        ),
        (
            "2020-11-22T20:04:54.223002528Z 2020-11-22T19:32:17.857430Z\tinfo\tFLAG: --concurrency=\"2\"",
            SkipReason::AgentLog,
        ),
        (
            "2016-10-06T00:17:09.669794202Z stderr F 2021-09-13T06:29:50.786352Z\twarning\tenvoy config\tclosed",
            SkipReason::EnvoyLog,
        ),
        (
            r#"{"log":"[2019-05-29 15:32:47.807][182][debug][http] [external/envoy/source/common/http/async_client_impl.cc:94] async http request response headers (end_stream=false):\n","stream":"stderr","time":"2019-05-29T15:32:47.807691662Z"}"#,
            SkipReason::EnvoyLog,
        ),
    ];
    for (line, reason) in cases {
        assert_eq!(skipped(line), *reason, "{line}");
    }
}

#[test]
fn malformed_lines_carry_a_kind_and_a_column() {
    let e = malformed("hello world");
    assert_eq!(e.kind, ErrorKind::Unrecognised);
    // Cut before the response code (after it, the line is a partial record): the furthest
    // layout reports where it stopped.
    let e = malformed(r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" "#);
    assert_eq!(e.kind, ErrorKind::Truncated);
    assert!(e.column > 50, "{e:?}");
    // A non-numeric duration.
    let e = malformed(
        r#"[2020-11-25T21:26:18.409Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 135 x4 4 "-" "c" "r" "a" "h" c 1 2 3 - d"#,
    );
    assert_eq!(e.kind, ErrorKind::BadNumber);
    assert_eq!(e.column, 76);
    // The column counts the wrapper that was peeled.
    let e = malformed(
        r#"[pod/a-1/istio-proxy] [2020-11-25T21:26:18.409Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 135 x4 4 "-" "c" "r" "a" "h" c 1 2 3 - d"#,
    );
    assert_eq!(e.column, 76 + 22);
    assert_eq!(malformed("{\"a\":").kind, ErrorKind::BadJson);
}

#[test]
fn cri_partial_records_are_joined_per_stream() {
    let full = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;
    let (a, rest) = full.split_at(40);
    let (b, c) = rest.split_at(100);
    let lines = [
        format!("2024-05-16T10:06:02.1Z stdout P {a}"),
        "2024-05-16T10:06:02.11Z stderr F 2021-09-13T06:29:50.786352Z\twarning\tenvoy config\tclosed"
            .to_string(),
        format!("2024-05-16T10:06:02.2Z stdout P {b}"),
        format!("2024-05-16T10:06:02.3Z stdout F {c}"),
    ];
    let mut d = Decoder::new(FormatChoice::Auto);
    assert!(matches!(d.decode(lines[0].as_bytes()), Outcome::Skipped(SkipReason::Fragment)));
    assert!(d.has_pending_fragments());
    assert!(matches!(d.decode(lines[1].as_bytes()), Outcome::Skipped(SkipReason::EnvoyLog)));
    assert!(matches!(d.decode(lines[2].as_bytes()), Outcome::Skipped(SkipReason::Fragment)));
    match d.decode(lines[3].as_bytes()) {
        Outcome::Record(r) => {
            assert_eq!(r.response_code, Some(418));
            assert_eq!(r.route_name, Some(&b"default"[..]));
            assert_eq!(r.meta.log_time, Some(&b"2024-05-16T10:06:02.3Z"[..]));
        }
        other => panic!("{other:?}"),
    }
    assert!(!d.has_pending_fragments());
}

#[test]
fn docker_split_objects_are_joined() {
    let mut d = Decoder::new(FormatChoice::Auto);
    let p1 = r#"{"log":"[2018-11-23T04:51:00.281Z] \"GET / HTTP/1.1\" 200 - 0 58 4 1 \"-\" \"curl","stream":"stdout","time":"2019-05-29T15:32:47.8Z"}"#;
    let p2 = r#"{"log":"/7.47.0\" \"f21ebd42-6770-4aa5-88d4-e56118165a7d\" \"one.example.com\" \"172.18.0.4:80\"\n","stream":"stdout","time":"2019-05-29T15:32:47.9Z"}"#;
    assert!(matches!(d.decode(p1.as_bytes()), Outcome::Skipped(SkipReason::Fragment)));
    match d.decode(p2.as_bytes()) {
        Outcome::Record(r) => assert_eq!(r.user_agent, Some(&b"curl/7.47.0"[..])),
        other => panic!("{other:?}"),
    }
}

/// Pieces of one record, each escaped on its own as docker writes them: a run of three, a
/// whole object after it, and a run broken by a corrupt object, which leaves nothing behind.
#[test]
fn docker_runs_of_many_pieces_are_joined_in_order_and_reset() {
    let envoy = r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#;
    let piece = |s: &str, last: bool| {
        let nl = if last { "\\n" } else { "" };
        format!(
            r#"{{"log":"{}{nl}","stream":"stdout","time":"2019-05-29T15:32:47.8Z"}}"#,
            s.replace('"', "\\\"")
        )
    };
    let mut d = Decoder::new(FormatChoice::Auto);
    let (a, rest) = envoy.split_at(40);
    let (b, c) = rest.split_at(60);
    for _ in 0..2 {
        assert!(matches!(d.decode(piece(a, false).as_bytes()), Outcome::Skipped(SkipReason::Fragment)));
        assert!(matches!(d.decode(piece(b, false).as_bytes()), Outcome::Skipped(SkipReason::Fragment)));
        assert!(d.has_pending_fragments());
        match d.decode(piece(c, true).as_bytes()) {
            Outcome::Record(r) => {
                assert_eq!(r.user_agent, Some(&b"curl/7.47.0"[..]));
                assert_eq!(r.authority, Some(&b"one.example.com"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(!d.has_pending_fragments());
        assert!(matches!(d.decode(piece(envoy, true).as_bytes()), Outcome::Record(_)));
        // A corrupt escape inside a run: the run is dropped, the next one starts clean.
        assert!(matches!(d.decode(piece(a, false).as_bytes()), Outcome::Skipped(SkipReason::Fragment)));
        let bad = r#"{"log":"\q","stream":"stdout","time":"2019-05-29T15:32:47.8Z"}"#;
        assert!(matches!(d.decode(bad.as_bytes()), Outcome::Malformed(_)));
        assert!(!d.has_pending_fragments());
    }
}

#[test]
fn kubectl_timestamps_inside_split_records_are_removed() {
    let line = r#"2024-05-16T10:06:02.123456789Z [2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-67702024-05-16T10:06:02.123456790Z -4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#;
    check(line, FormatKind::EnvoyDefault, &[("request_id", "f21ebd42-6770-4aa5-88d4-e56118165a7d")]);
}

#[test]
fn forced_formats_restrict_detection() {
    let envoy_line = r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#;
    let mut istio = Decoder::new(FormatChoice::parse("istio").unwrap());
    assert!(matches!(istio.decode(envoy_line.as_bytes()), Outcome::Malformed(_)));
    let mut envoy = Decoder::new(FormatChoice::parse("envoy").unwrap());
    assert!(matches!(envoy.decode(envoy_line.as_bytes()), Outcome::Record(_)));
    let mut json = Decoder::new(FormatChoice::parse("json").unwrap());
    assert!(matches!(json.decode(envoy_line.as_bytes()), Outcome::Malformed(_)));
    let mut custom =
        Decoder::new(FormatChoice::parse("%RESPONSE_CODE% %RESPONSE_FLAGS% %DURATION%").unwrap());
    match custom.decode(b"503 UF,URX 12") {
        Outcome::Record(r) => {
            assert!(r.response_flags.contains(Flag::URX));
            assert_eq!(r.format, FormatKind::Custom);
        }
        other => panic!("{other:?}"),
    }
    // Skippable lines stay skipped under a custom format.
    assert!(matches!(custom.decode(b"2020-11-22T19:32:17.857430Z\tinfo\tFLAG: x"), Outcome::Skipped(_)));
}

#[test]
fn auto_detection_remembers_the_last_layout_but_reads_mixed_input() {
    let mut d = Decoder::new(FormatChoice::Auto);
    let envoy = r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#;
    let istio = r#"[2020-10-29T03:23:33.415Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 172.17.0.7:80 172.17.0.6:59800 - -"#;
    for line in [envoy, istio, envoy, envoy, istio] {
        match d.decode(line.as_bytes()) {
            Outcome::Record(r) => {
                let want = if line == envoy { FormatKind::EnvoyDefault } else { FormatKind::Istio19 };
                assert_eq!(r.format, want);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_custom_format_starting_with_a_bare_timestamp_is_not_taken_for_a_kubectl_prefix() {
    let mut d = Decoder::new(FormatChoice::parse("%START_TIME% %RESPONSE_CODE%").unwrap());
    match d.decode(b"2026-11-20T10:00:00.003Z 200") {
        Outcome::Record(r) => {
            assert_eq!(r.response_code, Some(200));
            assert_eq!(r.start_time, Some(&b"2026-11-20T10:00:00.003Z"[..]));
        }
        other => panic!("{other:?}"),
    }
    // The same format behind a real kubectl timestamp still works.
    match d.decode(b"2026-11-20T10:00:01.000000000Z 2026-11-20T10:00:00.003Z 503") {
        Outcome::Record(r) => assert_eq!(r.response_code, Some(503)),
        other => panic!("{other:?}"),
    }
}

// Envoy-family products' defaults (envoy-family-formats.md), built from their format strings or
// copied from the reference's examples.
cases! {
    // §1.5 Envoy Gateway ≥v1.2.7: typed JSON, header-named keys, sorted (Envoy ≥1.33).
    eg_json_default_refused:
        r#"{":authority":"www.example.com","bytes_received":0,"bytes_sent":167,"connection_termination_details":null,"downstream_local_address":"10.244.0.12:10080","downstream_remote_address":"172.18.0.1:50312","duration":3,"method":"GET","protocol":"HTTP/1.1","requested_server_name":null,"response_code":503,"response_code_details":"upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}","response_flags":"UF","route_name":"httproute/default/backend/rule/0/match/0/www_example_com","start_time":"2025-06-01T10:00:00.000Z","upstream_cluster":"httproute/default/backend/rule/0","upstream_host":"10.244.0.15:3000","upstream_local_address":null,"upstream_transport_failure_reason":"delayed_connect_error:_Connection_refused","user-agent":"curl/8.7.1","x-envoy-origin-path":"/get","x-envoy-upstream-service-time":null,"x-forwarded-for":"172.18.0.1","x-request-id":"3f1c2a9e-7b4d-4f7a-9c59-1d2e3f4a5b6c"}"#
        => Json { "authority": "www.example.com", "path": "/get", "method": "GET", "response_code": "503", "response_flags": "UF",
            "upstream_transport_failure_reason": "delayed_connect_error:_Connection_refused", "user_agent": "curl/8.7.1",
            "x_forwarded_for": "172.18.0.1", "request_id": "3f1c2a9e-7b4d-4f7a-9c59-1d2e3f4a5b6c", "upstream_service_time_ms": ABSENT,
            "upstream_cluster": "httproute/default/backend/rule/0", "duration_ms": "3", "bytes_sent": "167", "partial": ABSENT }
    // §1.2 Envoy Gateway v0.6–v1.3.0: JSON-shaped text, every value a string, `-` for missing.
    eg_legacy_text_valid_json:
        r#"{"start_time":"2024-05-01T10:00:00.000Z","method":"GET","x-envoy-origin-path":"/slow","protocol":"HTTP/1.1","response_code":"504","response_flags":"UT","response_code_details":"response_timeout","connection_termination_details":"-","upstream_transport_failure_reason":"-","bytes_received":"0","bytes_sent":"24","duration":"15001","x-envoy-upstream-service-time":"-","x-forwarded-for":"172.18.0.1","user-agent":"curl/8.4.0","x-request-id":"8d2f6b1a-0c4e-4d7f-a1b2-c3d4e5f60718",":authority":"www.example.com","upstream_host":"10.244.0.15:3000","upstream_cluster":"httproute/default/backend/rule/0","upstream_local_address":"10.244.0.12:41234","downstream_local_address":"10.244.0.12:10080","downstream_remote_address":"172.18.0.1:50400","requested_server_name":"-","route_name":"httproute/default/backend/rule/0/match/0/www_example_com"}"#
        => Json { "response_code": "504", "response_flags": "UT", "duration_ms": "15001", "path": "/slow", "authority": "www.example.com",
            "connection_termination_details": ABSENT, "upstream_service_time_ms": ABSENT, "requested_server_name": ABSENT }
    // The same format with a quote in the User-Agent: not JSON any more, read as text.
    eg_legacy_text_unescaped_quote:
        r#"{"start_time":"2024-05-01T10:00:00.000Z","method":"GET","x-envoy-origin-path":"/slow","protocol":"HTTP/1.1","response_code":"504","response_flags":"UT","response_code_details":"response_timeout","connection_termination_details":"-","upstream_transport_failure_reason":"-","bytes_received":"0","bytes_sent":"24","duration":"15001","x-envoy-upstream-service-time":"-","x-forwarded-for":"172.18.0.1","user-agent":"evil","agent\"","x-request-id":"8d2f6b1a-0c4e-4d7f-a1b2-c3d4e5f60718",":authority":"www.example.com","upstream_host":"10.244.0.15:3000","upstream_cluster":"httproute/default/backend/rule/0","upstream_local_address":"10.244.0.12:41234","downstream_local_address":"10.244.0.12:10080","downstream_remote_address":"172.18.0.1:50400","requested_server_name":"-","route_name":"httproute/default/backend/rule/0/match/0/www_example_com"}"#
        => EnvoyGatewayText { "user_agent": "evil\",\"agent\\\"", "response_code": "504", "response_flags": "UT",
            "request_id": "8d2f6b1a-0c4e-4d7f-a1b2-c3d4e5f60718", "upstream_cluster": "httproute/default/backend/rule/0" }
    // §2 Contour: Envoy's default text; JSON mode with `@timestamp` (1.28–1.30: absent keys dropped).
    contour_default_text:
        r#"[2025-03-10T09:12:44.518Z] "GET /api HTTP/1.1" 503 UH 0 19 0 - "172.18.0.1" "curl/8.5.0" "9b1f8f0a-3c5e-4f7e-9d2a-6c1b2a3d4e5f" "kuard.example.com" "-""#
        => EnvoyDefault { "response_code": "503", "response_flags": "UH", "upstream_host": ABSENT, "authority": "kuard.example.com" }
    contour_json:
        r#"{"@timestamp":"2025-03-10T09:12:44.518Z","authority":"kuard.example.com","bytes_received":0,"bytes_sent":19,"downstream_local_address":"10.244.1.7:8080","downstream_remote_address":"172.18.0.1:41566","duration":0,"method":"GET","path":"/api","protocol":"HTTP/1.1","request_id":"9b1f8f0a-3c5e-4f7e-9d2a-6c1b2a3d4e5f","response_code":503,"response_flags":"UH","upstream_cluster":"default_kuard_80","user_agent":"curl/8.5.0","x_forwarded_for":"172.18.0.1"}"#
        => Json { "start_time": "2025-03-10T09:12:44.518Z", "response_code": "503", "response_flags": "UH", "upstream_cluster": "default_kuard_80",
            "upstream_host": ABSENT }
    contour_json_1_31_nulls:
        r#"{"@timestamp":"2025-03-10T09:12:44.518Z","authority":"kuard.example.com","bytes_received":0,"bytes_sent":19,"downstream_local_address":"10.244.1.7:8080","downstream_remote_address":"172.18.0.1:41566","duration":0,"grpc_status":null,"grpc_status_number":null,"method":"GET","path":"/api","protocol":"HTTP/1.1","request_id":"9b1f8f0a-3c5e-4f7e-9d2a-6c1b2a3d4e5f","requested_server_name":null,"response_code":503,"response_flags":"UH","uber_trace_id":null,"upstream_cluster":"default_kuard_80","upstream_host":null,"upstream_local_address":null,"upstream_service_time":null,"user_agent":"curl/8.5.0","x_forwarded_for":"172.18.0.1"}"#
        => Json { "response_code": "503", "upstream_host": ABSENT, "upstream_service_time_ms": ABSENT, "requested_server_name": ABSENT }
    // §3 Emissary: `ACCESS ` + Envoy's default.
    emissary_default:
        r#"ACCESS [2025-02-11T14:03:07.215Z] "GET /backend/ HTTP/1.1" 503 UF 0 145 1 - "10.244.0.1" "curl/8.5.0" "1d0a4f9e-5c2b-4b8a-9f7e-3a2b1c0d9e8f" "example.com" "10.244.0.21:8080""#
        => Emissary { "start_time": "2025-02-11T14:03:07.215Z", "method": "GET", "path": "/backend/", "response_code": "503", "response_flags": "UF",
            "bytes_sent": "145", "duration_ms": "1", "x_forwarded_for": "10.244.0.1", "authority": "example.com", "upstream_host": "10.244.0.21:8080" }
    emissary_json_untyped:
        r#"{"start_time":"2025-02-11T14:03:07.215Z","method":"GET","path":"/backend/","protocol":"HTTP/1.1","response_code":"503","response_flags":"UF","bytes_received":"0","bytes_sent":"145","duration":"1","upstream_service_time":"-","x_forwarded_for":"10.244.0.1","user_agent":"curl/8.5.0","request_id":"1d0a4f9e-5c2b-4b8a-9f7e-3a2b1c0d9e8f","authority":"example.com","upstream_host":"10.244.0.21:8080","upstream_cluster":"quote_8080","upstream_local_address":"-","downstream_local_address":"10.244.0.9:8080","downstream_remote_address":"10.244.0.1:41234","requested_server_name":"-","istio_policy_status":"-","upstream_transport_failure_reason":"-"}"#
        => Json { "response_code": "503", "upstream_cluster": "quote_8080", "policy_status": ABSENT, "upstream_local_address": ABSENT }
    // §4 Gloo Edge with an empty `stringFormat`: Envoy's default.
    gloo_default_text:
        r#"[2025-01-20T08:00:01.010Z] "GET /sample-route-1 HTTP/1.1" 504 UT 0 24 15000 - "-" "curl/8.5.0" "2b7e4c1d-9a0f-4e3b-8c5d-6f7a8b9c0d1e" "35.196.131.38" "10.52.0.54:8080""#
        => EnvoyDefault { "response_code": "504", "response_flags": "UT", "duration_ms": "15000" }
    // Gloo's documented camelCase JSON keys.
    gloo_camel_case_json:
        r#"{"startTime":"2025-01-20T08:00:01.010Z","httpMethod":"GET","requestPath":"/x","protocol":"HTTP/1.1","responseCode":"503","responseFlags":"UF","upstreamCluster":"default-petstore-8080_gloo-system","upstreamHost":"10.52.0.54:8080","duration":"4","requestId":"2b7e4c1d","userAgent":"curl/8.5.0","xForwardedFor":"10.0.0.1","upstreamTransportFailureReason":"delayed_connect_error:_111"}"#
        => Json { "start_time": "2025-01-20T08:00:01.010Z", "method": "GET", "path": "/x", "response_code": "503", "response_flags": "UF",
            "upstream_cluster": "default-petstore-8080_gloo-system", "upstream_host": "10.52.0.54:8080", "duration_ms": "4", "request_id": "2b7e4c1d",
            "user_agent": "curl/8.5.0", "x_forwarded_for": "10.0.0.1", "upstream_transport_failure_reason": "delayed_connect_error:_111" }
    // §5 Open Service Mesh: typed JSON, unsorted, `time_to_first_byte`.
    osm_json:
        r#"{"response_flags":"UF","upstream_service_time":null,"user_agent":"curl/7.85.0","x_forwarded_for":null,"bytes_received":0,"duration":38,"method":"GET","request_id":"5c0e3d7a-91b2-4c3d-8e4f-5a6b7c8d9e0f","response_code":503,"requested_server_name":null,"time_to_first_byte":38,"upstream_cluster":"bookstore/bookstore-v1|14001","upstream_host":"10.244.0.33:14001","authority":"bookstore.bookstore:14001","bytes_sent":91,"path":"/books-bought","protocol":"HTTP/1.1","response_code_details":"upstream_reset_before_response_started{connection_failure}","start_time":"2023-03-02T10:11:12.134Z"}"#
        => Json { "response_code": "503", "response_flags": "UF", "duration_ms": "38", "upstream_cluster": "bookstore/bookstore-v1|14001",
            "response_code_details": "upstream_reset_before_response_started{connection_failure}" }
    // §6 Consul: Istio's 24 keys, SNI-style cluster names.
    consul_json:
        r#"{"authority":"backend:8080","bytes_received":0,"bytes_sent":24,"connection_termination_details":null,"downstream_local_address":"127.0.0.1:9191","downstream_remote_address":"127.0.0.1:50322","duration":15002,"method":"GET","path":"/items","protocol":"HTTP/1.1","request_id":"0f1e2d3c-4b5a-4697-8877-66554433aabb","requested_server_name":null,"response_code":504,"response_code_details":"response_timeout","response_flags":"UT","route_name":"backend","start_time":"2025-07-01T09:00:00.000Z","upstream_cluster":"backend.default.dc1.internal.5e1a3f2c-8b7d-4c6e-9f0a-1b2c3d4e5f60.consul","upstream_host":"10.0.3.14:20000","upstream_local_address":"10.0.3.11:51512","upstream_service_time":null,"upstream_transport_failure_reason":null,"user_agent":"curl/8.5.0","x_forwarded_for":null}"#
        => Json { "response_code": "504", "route_name": "backend",
            "upstream_cluster": "backend.default.dc1.internal.5e1a3f2c-8b7d-4c6e-9f0a-1b2c3d4e5f60.consul" }
    // §7 Kuma / Kong Mesh.
    kuma_http:
        r#"[2025-04-02T08:15:30.001Z] default "GET /api/counter HTTP/1.1" 503 UF 0 145 2 - "-" "curl/8.5.0" "-" "4e7a9c1d-2b3f-4a5e-8c6d-7f8091a2b3c4" "backend.kuma-demo.svc:3001" "demo-app_kuma-demo_svc_5000" "backend_kuma-demo_svc_3001" "10.244.0.8" "10.244.0.9:3001""#
        => KumaHttp { "start_time": "2025-04-02T08:15:30.001Z", "method": "GET", "path": "/api/counter", "response_code": "503", "response_flags": "UF",
            "bytes_sent": "145", "duration_ms": "2", "request_id": "4e7a9c1d-2b3f-4a5e-8c6d-7f8091a2b3c4", "authority": "backend.kuma-demo.svc:3001",
            "source_workload": "demo-app_kuma-demo_svc_5000", "upstream_cluster": "backend_kuma-demo_svc_3001", "upstream_host": "10.244.0.9:3001",
            "downstream_remote_address": ABSENT }
    kuma_http_before_1_3_1:
        r#"[2021-08-02T08:15:30.001Z] default "GET /api/counter HTTP/1.1" 200 - 0 12 2 1 "-" "curl/7.77.0" "4e7a9c1d-2b3f-4a5e-8c6d-7f8091a2b3c4" "backend:3001" "unknown" "backend_kuma-demo_svc_3001" "10.244.0.9" "10.244.0.9:3001""#
        => KumaHttpPre131 { "response_code": "200", "upstream_service_time_ms": "1", "source_workload": "unknown",
            "upstream_cluster": "backend_kuma-demo_svc_3001" }
    kuma_tcp:
        r#"[2025-04-02T08:15:31.442Z] UF default 10.244.0.8(demo-app_kuma-demo_svc_5000)->10.244.0.10:6379(redis_kuma-demo_svc_6379) took 1ms, sent 0 bytes, received: 0 bytes"#
        => KumaTcp { "response_flags": "UF", "response_code": ABSENT, "source_workload": "demo-app_kuma-demo_svc_5000",
            "upstream_host": "10.244.0.10:6379", "upstream_cluster": "redis_kuma-demo_svc_6379", "duration_ms": "1", "bytes_sent": "0",
            "bytes_received": "0" }
    // §8.2 Amazon ECS Service Connect.
    ecs_http:
        r#"[2025-08-01T12:00:00.000Z] "GET /orders HTTP/1.1" 503 0 145 2 - "-" "curl/8.5.0" "c0ffee00-1111-4222-8333-444455556666" "orders.myapp.namespace:8080" "10.0.1.25:8080""#
        => EcsHttp { "response_code": "503", "response_flags": ABSENT, "bytes_received": "0", "bytes_sent": "145", "duration_ms": "2",
            "authority": "orders.myapp.namespace:8080", "upstream_host": "10.0.1.25:8080" }
    ecs_http2:
        r#"[2025-08-01T12:00:00.000Z] "GET /orders HTTP/2" 200 0 512 3 2 "-" "curl/8.5.0" "c0ffee00-1111-4222-8333-444455556666" "orders:8080" "10.0.1.25:8080" "5""#
        => EcsHttp2 { "protocol": "HTTP/2", "response_code": "200", "upstream_service_time_ms": "2" }
    ecs_grpc:
        r#"[2025-08-01T12:00:00.000Z] "POST /orders.Orders/Get HTTP/2" 200 Unavailable 5 0 3 - "-" "grpc-go/1.60.0" "c0ffee00-1111-4222-8333-444455556666" "orders:8080" "10.0.1.25:8080" "1""#
        => EcsGrpc { "response_code": "200", "bytes_received": "5", "duration_ms": "3", "path": "/orders.Orders/Get" }
    ecs_tcp:
        r#"[2025-08-01T12:00:00.000Z] 10.0.1.7:50012 50012 120 4096 35 - 7"#
        => EcsTcp { "downstream_remote_address": "10.0.1.7:50012", "bytes_received": "120", "bytes_sent": "4096", "duration_ms": "35",
            "response_code": ABSENT, "connection_termination_details": ABSENT }
    ecs_json:
        r#"{"start_time":"2025-08-01T12:00:00.000Z","method":"GET","path":"/orders","protocol":"HTTP/1.1","response_code":503,"bytes_received":0,"bytes_sent":145,"duration_ms":2,"upstream_service_time":null,"forwarded_for":"10.0.0.9","user_agent":"curl/8.5.0","request_id":"c0ffee00-1111-4222-8333-444455556666","authority":"orders.myapp.namespace:8080","upstream_host":"10.0.1.25:8080"}"#
        => Json { "response_code": "503", "duration_ms": "2", "x_forwarded_for": "10.0.0.9" }
    // §9 Cilium Gateway API opt-in JSON (15 keys, no cluster).
    cilium_json:
        r#"{"authority":"example.com","bytes_received":0,"bytes_sent":19,"duration":1,"method":"GET","path":"/","protocol":"HTTP/1.1","request_id":"7d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b","response_code":503,"response_flags":"UH","start_time":"2026-01-01T00:00:00.000Z","upstream_host":null,"upstream_service_time":null,"user_agent":"curl/8.5.0","x_forwarded_for":"10.0.0.1"}"#
        => Json { "response_code": "503", "response_flags": "UH", "upstream_host": ABSENT }
    // §10.2 Istio ambient waypoint, Istio ≥1.23 text.
    waypoint_text:
        r#"[2025-05-20T10:00:00.000Z] "GET /productpage HTTP/1.1" 200 - via_upstream - "-" 0 1683 2 2 "-" "curl/8.7.1" "ab4922ee-f733-4625-84e3-f5c045d979e8" "productpage:9080" "envoy://connect_originate/10.244.1.24:9080" inbound-vip|9080|http|productpage.default.svc.cluster.local envoy://internal_client_address/ 10.96.138.243:9080 envoy://internal_client_address/ - default"#
        => Istio19 { "upstream_host": "envoy://connect_originate/10.244.1.24:9080",
            "upstream_cluster": "inbound-vip|9080|http|productpage.default.svc.cluster.local",
            "downstream_remote_address": "envoy://internal_client_address/" }
}

// JSON with keys nobody configured the same way twice (family §13).
cases! {
    json_uppercase_operator_keys:
        r#"{"START_TIME":"2025-01-01T00:00:00.000Z","RESPONSE_CODE":"503","RESPONSE_FLAGS":"UF","DURATION":"3","UPSTREAM_CLUSTER":"outbound|80||a.b.svc.cluster.local"}"#
        => Json { "start_time": "2025-01-01T00:00:00.000Z", "response_code": "503", "response_flags": "UF", "duration_ms": "3",
            "upstream_cluster": "outbound|80||a.b.svc.cluster.local" }
    json_generic_spellings:
        r#"{"timestamp":"2025-01-01T00:00:00.000Z","status":503,"flags":"UF,URX","details":"upstream_reset_before_response_started{connection_failure}","request_time":"12","upstream":"10.0.0.5:8080","cluster":"backend","x-request-id":"r-1","host":"api.example.com","src":"10.0.0.1:5000","bytes_in":10,"bytes_out":20}"#
        => Json { "start_time": "2025-01-01T00:00:00.000Z", "response_code": "503", "response_flags": "UF,URX", "duration_ms": "12",
            "upstream_host": "10.0.0.5:8080", "upstream_cluster": "backend", "request_id": "r-1", "authority": "api.example.com",
            "downstream_remote_address": "10.0.0.1:5000", "bytes_received": "10", "bytes_sent": "20",
            "response_code_details": "upstream_reset_before_response_started{connection_failure}" }
    json_long_flags_and_stackdriver_labels:
        r#"{"response_code":503,"response_flag":"-","response_flags_long":"UpstreamConnectionFailure,UpstreamRetryLimitExceeded","response_details":"via_upstream","duration":7}"#
        => Json { "response_flags": "UF,URX", "response_code_details": "via_upstream" }
    json_filebeat_and_ecs_schema_keys:
        r#"{"@timestamp":"2025-01-01T00:00:00.000Z","http.response.status_code":504,"envoyproxy.response_flags":"UT","envoyproxy.request_id":"abc","duration":15000}"#
        => Json { "response_code": "504", "response_flags": "UT", "request_id": "abc", "start_time": "2025-01-01T00:00:00.000Z" }
    json_header_service_time_is_a_string_even_typed:
        r#"{"response_code":200,"duration":9,"x_envoy_upstream_service_time":"8","upstream_time":null}"#
        => Json { "upstream_service_time_ms": "8" }
    json_null_never_overwrites_another_spelling:
        r#"{"path":"/a","req_path":null,"response_code":200,"status":"-","duration":1}"#
        => Json { "path": "/a", "response_code": "200" }
    json_lenient_alias_with_a_foreign_value:
        r#"{"code":"E_TIMEOUT","response_code":504,"duration":10}"#
        => Json { "response_code": "504" }
}

#[test]
fn json_absent_values_agree_null_dash_and_missing() {
    let lines = [
        r#"{"response_code":503,"duration":1,"upstream_host":null,"route_name":null,"user_agent":null}"#,
        r#"{"response_code":"503","duration":"1","upstream_host":"-","route_name":"-","user_agent":"-"}"#,
        r#"{"response_code":503,"duration":1}"#,
    ];
    let fields: Vec<_> = lines
        .iter()
        .map(|l| match decode_one(l) {
            Outcome::Record(r) => r.fields(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(fields[0], fields[1]);
    assert_eq!(fields[1], fields[2]);
}

#[test]
fn json_that_is_not_an_access_log_stays_unrecognised() {
    assert_eq!(malformed(r#"{"status":"ok","user":"bob"}"#).kind, ErrorKind::NotAccessJson);
    // Istio's own keys keep their types strict.
    assert_eq!(malformed(r#"{"response_code":"abc","duration":1}"#).kind, ErrorKind::BadStatus);
}

// `key=value` lines (family §14).
cases! {
    kv_guide_format:
        r#"time=2026-02-24T10:00:00.000Z method=GET path="/api/items?x=1" protocol=HTTP/1.1 response_code=503 response_flags=UF bytes_in=0 bytes_out=91 duration=3 upstream=10.1.0.9:8080 request_id=0b0c5a3e authority=api:80 user_agent="curl/8.0 (x86_64)""#
        => KeyValue { "start_time": "2026-02-24T10:00:00.000Z", "method": "GET", "path": "/api/items?x=1", "protocol": "HTTP/1.1",
            "response_code": "503", "response_flags": "UF", "bytes_received": "0", "bytes_sent": "91", "duration_ms": "3",
            "upstream_host": "10.1.0.9:8080", "request_id": "0b0c5a3e", "authority": "api:80", "user_agent": "curl/8.0 (x86_64)" }
    kv_troubleshooting_variant:
        r#"[2026-02-24T10:00:00.000Z] "GET /api HTTP/1.1" src=10.1.0.5:40000 dst=10.1.0.9:8080 cluster=outbound|80||api.shop.svc.cluster.local code=503 flags=UF,URX duration=45ms upstream_time=-ms req_bytes=0 resp_bytes=152 request_id=0b0c5a3e"#
        => KeyValue { "start_time": "2026-02-24T10:00:00.000Z", "method": "GET", "path": "/api", "protocol": "HTTP/1.1",
            "downstream_remote_address": "10.1.0.5:40000", "upstream_host": "10.1.0.9:8080", "upstream_cluster": "outbound|80||api.shop.svc.cluster.local",
            "response_code": "503", "response_flags": "UF,URX", "duration_ms": "45", "upstream_service_time_ms": ABSENT, "bytes_sent": "152" }
    kv_envoy_test_style_keys:
        "RESPONSE_CODE=504 RESPONSE_FLAGS=UT DURATION=15000 UPSTREAM_HOST=10.0.0.1:80"
        => KeyValue { "response_code": "504", "response_flags": "UT", "duration_ms": "15000", "upstream_host": "10.0.0.1:80" }
}

// Shippers' envelopes, docker compose and free-text prefixes.
const ISTIO_418: &str = r#"[2020-11-25T21:26:18.409Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 4 4 \"-\" \"curl/7.73.0-DEV\" \"84961386-6d84-929d-98bd-c5aee93b5c88\" \"httpbin:8000\" \"10.44.1.27:80\" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;

#[test]
fn shipper_envelopes_are_peeled() {
    let want = [
        ("response_code", "418"),
        ("user_agent", "curl/7.73.0-DEV"),
        ("route_name", "default"),
        ("partial", ABSENT),
    ];
    let cases = [
        // Fluent Bit with the Kubernetes filter (newline stripped, extra keys).
        format!(
            r#"{{"date":1606339578.41,"log":"{ISTIO_418}","stream":"stdout","time":"2020-11-25T21:26:18.41Z","kubernetes":{{"pod_name":"httpbin-1","namespace_name":"foo","container_name":"istio-proxy"}}}}"#
        ),
        // Fluentd: docker's keys, the newline kept, metadata added.
        format!(
            r#"{{"log":"{ISTIO_418}\n","stream":"stdout","time":"2020-11-25T21:26:18.41Z","docker":{{"container_id":"abc"}},"kubernetes":{{"pod_name":"httpbin-1"}}}}"#
        ),
        // A bare `{"log":…}` without docker's stream and time.
        format!(r#"{{"log":"{ISTIO_418}"}}"#),
        // Vector.
        format!(
            r#"{{"message":"{ISTIO_418}","timestamp":"2020-11-25T21:26:18.41Z","source_type":"kubernetes_logs"}}"#
        ),
        // Filebeat: `log` is file metadata, `message` the CRI line.
        format!(
            r#"{{"@timestamp":"2020-11-25T21:26:18.41Z","log":{{"offset":1234,"file":{{"path":"/var/log/containers/x.log"}}}},"message":"2020-11-25T21:26:18.41Z stdout F {ISTIO_418}","host":{{"name":"node-1"}}}}"#
        ),
        // An application-log shape whose message is the record.
        format!(r#"{{"level":"info","msg":"{ISTIO_418}","time":"2020-11-25T21:26:18.41Z"}}"#),
    ];
    for line in &cases {
        check(line, FormatKind::Istio19, &want);
    }
}

cases! {
    envelope_with_an_embedded_json_record:
        r#"{"log":{"response_code":503,"response_flags":"UF","duration":2,"upstream_cluster":"outbound|80||a.b.svc.cluster.local"},"kubernetes":{"pod_name":"a-1"}}"#
        => Json { "response_code": "503", "response_flags": "UF", "upstream_cluster": "outbound|80||a.b.svc.cluster.local" }
    envelope_with_an_escaped_json_record:
        r#"{"message":"{\"response_code\":504,\"response_flags\":\"UT\",\"duration\":15000}","timestamp":"2025-01-01T00:00:00Z"}"#
        => Json { "response_code": "504", "response_flags": "UT", "duration_ms": "15000" }
    // Escapes at two levels: the envelope's, then the record's own (unescaped into the
    // decoder's scratch arena on the rare path).
    envelope_with_an_escaped_json_record_with_escaped_values:
        r#"{"message":"{\"response_code\":503,\"user_agent\":\"curl \\\"x\\\"\",\"duration\":2,\"response_flags\":\"UF\"}"}"#
        => Json { "response_code": "503", "response_flags": "UF", "user_agent": "curl \"x\"" }
    json_record_with_escaped_values:
        r#"{"response_code":503,"response_flags":"UF","user_agent":"a\u00e9\"b","path":"\/x","duration":1}"#
        => Json { "user_agent": "a\u{e9}\"b", "path": "/x", "duration_ms": "1" }
    compose_prefix:
        r#"front-envoy-1  | [2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#
        => EnvoyDefault { "container": "front-envoy-1", "response_code": "200", "upstream_host": "172.18.0.4:80" }
    compose_v1_prefix_with_colours:
        "\x1b[36menvoy_1     |\x1b[0m [2018-11-23T04:51:00.281Z] \"GET / HTTP/1.1\" 503 UF 0 91 4 - \"-\" \"curl/7.47.0\" \"f21ebd42-6770-4aa5-88d4-e56118165a7d\" \"one.example.com\" \"172.18.0.4:80\""
        => EnvoyDefault { "container": "envoy_1", "response_code": "503", "response_flags": "UF" }
    free_text_prefix_syslog:
        r#"Jun  1 10:00:00 node-1 envoy[42]: [2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 503 UF 0 91 4 - "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#
        => EnvoyDefault { "response_code": "503", "response_flags": "UF", "partial": ABSENT }
    free_text_prefix_before_json:
        r#"2025-06-01 10:00:00,123 INFO access {"response_code":503,"response_flags":"UF","duration":2}"#
        => Json { "response_code": "503", "response_flags": "UF" }
    free_text_prefix_before_a_cut_record:
        r#"my-notes: "GET /x HTTP/1.1" 503 UF 0 91 4 - "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#
        => EnvoyDefault { "method": "GET", "response_code": "503", "response_flags": "UF", "start_time": ABSENT, "partial": "true" }
}

#[test]
fn one_decoder_unescapes_line_after_line() {
    // The scratch arena is emptied before each line and reused (growing past its first chunk
    // now and then): every record still reads its own unescaped values.
    let mut d = Decoder::new(FormatChoice::Auto);
    for i in 0..300usize {
        let tail = "y".repeat(i * 37 % 5000);
        let line = format!(
            r#"{{"response_code":503,"response_flags":"UF","user_agent":"ua{i}\"{tail}","authority":"h\u0041{i}","duration":1}}"#
        );
        match d.decode(line.as_bytes()) {
            Outcome::Record(r) => {
                assert_eq!(r.user_agent, Some(format!("ua{i}\"{tail}").as_bytes()), "{i}");
                assert_eq!(r.authority, Some(format!("hA{i}").as_bytes()), "{i}");
            }
            other => panic!("{i}: {other:?}"),
        }
    }
}

#[test]
fn envelopes_of_non_access_lines_stay_skipped() {
    let envoy_debug = r#"{"log":"[2019-05-29 15:32:47.807][182][debug][http] [external/envoy/source/common/http/async_client_impl.cc:94] async http request response headers (end_stream=false):","kubernetes":{"pod_name":"a-1"}}"#;
    assert_eq!(skipped(envoy_debug), SkipReason::EnvoyLog);
    let agent = r#"{"level":"info","time":"2024-01-01T00:00:00.000000Z","scope":"xdsproxy","msg":"connected to upstream XDS server: istiod.istio-system.svc:15012"}"#;
    assert_eq!(skipped(agent), SkipReason::AgentLog);
}

// Lines as people paste them (reference §10): cut at either end, quotes escaped or doubled.
cases! {
    ex11_start_time_cut:
        r#""GET /v1/status HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 0 - "10.90.16.220" "Apache-HttpClient/4.5.1 (Java/1.8.0_372)" "3a7cbcc1-af72-47fb-bbac-a7672951f50f" "health.abc.com" "10.80.47.192:8181" outbound|80||health-api.production.svc.cluster.local 10.80.45.233:37132 10.80.45.233:80 10.80.46.220:59375 - -"#
        => Istio19 { "partial": "true", "start_time": ABSENT, "method": "GET", "path": "/v1/status", "protocol": "HTTP/1.1",
            "response_code": "503", "response_flags": "UC", "response_code_details": "upstream_reset_before_response_started{connection_termination}",
            "bytes_sent": "95", "duration_ms": "0", "x_forwarded_for": "10.90.16.220", "user_agent": "Apache-HttpClient/4.5.1 (Java/1.8.0_372)",
            "authority": "health.abc.com", "upstream_host": "10.80.47.192:8181", "upstream_cluster": "outbound|80||health-api.production.svc.cluster.local",
            "upstream_local_address": "10.80.45.233:37132", "downstream_local_address": "10.80.45.233:80", "route_name": ABSENT }
    ex13_cut_inside_the_request_line:
        r#"PUT /v2/admin/user/6191ef725cc069dc7e71949z?host=travels.com HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "5.195.224.128" "hub-api-my-account-api-proxy/1.0,Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36" "806d8e1e4e91122988ffd998716fa518" "cross-products-myaccount-api.cross-products.svc.cluster.local" "-" - - 172.20.15.70:80 5.195.224.128:0 - -"#
        => Istio19 { "partial": "true", "method": "PUT", "path": "/v2/admin/user/6191ef725cc069dc7e71949z?host=travels.com", "protocol": "HTTP/1.1",
            "response_code": "404", "response_flags": "NR", "response_code_details": "route_not_found", "x_forwarded_for": "5.195.224.128",
            "user_agent": "hub-api-my-account-api-proxy/1.0,Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36",
            "request_id": "806d8e1e4e91122988ffd998716fa518", "authority": "cross-products-myaccount-api.cross-products.svc.cluster.local",
            "upstream_host": ABSENT, "upstream_cluster": ABSENT, "downstream_local_address": "172.20.15.70:80",
            "downstream_remote_address": "5.195.224.128:0" }
    ex16_backslash_escaped_quotes:
        r#"[2021-06-23T07:15:29.541Z] \"POST /user/query/encryptMobile HTTP/1.1\" 404 NR \"-\" \"-\" 0 0 0 - \"10.128.17.153\" \"Java/1.8.0_292\" \"ad1b3656-5d61-9757-8f56-27ab511cc632\" \"10.128.32.225:8080\" \"-\" - - 10.128.32.225:8080 10.128.17.153:46632 - -"#
        => Istio13 { "partial": "true", "start_time": "2021-06-23T07:15:29.541Z", "method": "POST", "path": "/user/query/encryptMobile",
            "response_code": "404", "response_flags": "NR", "policy_status": ABSENT, "x_forwarded_for": "10.128.17.153",
            "user_agent": "Java/1.8.0_292", "request_id": "ad1b3656-5d61-9757-8f56-27ab511cc632", "authority": "10.128.32.225:8080",
            "downstream_local_address": "10.128.32.225:8080", "downstream_remote_address": "10.128.17.153:46632" }
    ex19_start_cut_and_elided:
        r#""- - -" 0 UF,URX - - "delayed_connect_error:_Connection_refused" 0 0 1 - "-" "-" "-" "-" "10.244.0.6:443" outbound|443|httpbin-org|istio-egress.istio-egress.svc.cluster.local ... httpbin.org -"#
        => Istio19 { "partial": "true", "method": ABSENT, "protocol": ABSENT, "response_code": "0", "response_flags": "UF,URX",
            "upstream_transport_failure_reason": "delayed_connect_error:_Connection_refused", "bytes_received": "0", "bytes_sent": "0",
            "duration_ms": "1", "upstream_host": "10.244.0.6:443",
            "upstream_cluster": "outbound|443|httpbin-org|istio-egress.istio-egress.svc.cluster.local",
            "upstream_local_address": ABSENT, "requested_server_name": ABSENT, "route_name": ABSENT }
    ex20_doubled_quotes_cut_at_both_ends:
        r#"POST /xyz/abc HTTP/1.1"" 0 DC downstream_remote_disconnect - ""-"" 515 0 4969 - """#
        => Istio19 { "partial": "true", "method": "POST", "path": "/xyz/abc", "protocol": "HTTP/1.1", "response_code": "0",
            "response_flags": "DC", "response_code_details": "downstream_remote_disconnect", "bytes_received": "515", "bytes_sent": "0",
            "duration_ms": "4969", "x_forwarded_for": ABSENT, "user_agent": ABSENT, "upstream_cluster": ABSENT }
    cut_at_the_end_keeps_whole_values_only:
        r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135"#
        => Istio19 { "partial": "true", "start_time": "2020-11-25T21:26:18.409Z", "response_code": "418",
            "response_code_details": "via_upstream", "bytes_received": "0", "bytes_sent": ABSENT }
    envoy_default_without_start_time:
        r#""GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#
        => EnvoyDefault { "partial": "true", "response_code": "200", "upstream_host": "172.18.0.4:80", "start_time": ABSENT }
    start_time_cut_in_the_middle:
        r#"9.541Z] "GET / HTTP/1.1" 503 UF 0 91 4 - "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#
        => EnvoyDefault { "partial": "true", "start_time": ABSENT, "method": "GET", "response_code": "503", "response_flags": "UF" }
}

#[test]
fn cut_lines_without_a_code_and_flags_or_request_stay_malformed() {
    for line in [
        r#""GET /x HTTP/1.1" "#,
        r#"- - 172.20.15.70:80 5.195.224.128:0 - -"#,
        r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418"#,
        "503",
    ] {
        malformed(line);
    }
}

#[test]
fn a_forced_format_does_not_read_another_formats_record_as_a_cut_one() {
    let envoy_line = r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#;
    let mut istio = Decoder::new(FormatChoice::parse("istio").unwrap());
    assert!(matches!(istio.decode(envoy_line.as_bytes()), Outcome::Malformed(_)));
    // A really cut Istio line still reads under `istio`.
    let cut = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135"#;
    assert!(matches!(istio.decode(cut.as_bytes()), Outcome::Record(r) if r.partial));
}

// Istio ambient ztunnel (family §10.1, base §9.3).
const ZT_OUT: &str = "2025-06-01T10:00:00.123456Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.6:42020 src.workload=\"curl-5b9c7d8f6-abcde\" src.namespace=\"default\" src.identity=\"spiffe://cluster.local/ns/default/sa/curl\" dst.addr=10.244.2.5:15008 dst.hbone_addr=10.244.2.5:8080 dst.service=\"httpbin.default.svc.cluster.local\" dst.workload=\"httpbin-6d8f9c7b5-fghij\" dst.namespace=\"default\" dst.identity=\"spiffe://cluster.local/ns/default/sa/httpbin\" direction=\"outbound\" bytes_sent=86 bytes_recv=412 duration=\"4ms\"";
const ZT_REFUSED: &str = "2025-06-01T10:00:05.000210Z\terror\taccess\tconnection complete\tsrc.addr=10.244.1.6:51844 src.workload=\"curl-5b9c7d8f6-abcde\" src.namespace=\"default\" src.identity=\"spiffe://cluster.local/ns/default/sa/curl\" dst.addr=10.244.2.5:8080 dst.hbone_addr=10.244.2.5:8080 dst.service=\"httpbin.default.svc.cluster.local\" dst.workload=\"httpbin-6d8f9c7b5-fghij\" dst.namespace=\"default\" dst.identity=\"spiffe://cluster.local/ns/default/sa/httpbin\" direction=\"inbound\" bytes_sent=0 bytes_recv=0 duration=\"0ms\" error=\"connection failed: Connection refused (os error 111)\"";

cases! {
    ztunnel_outbound_complete:
        ZT_OUT
        => Ztunnel { "start_time": "2025-06-01T10:00:00.123456Z", "downstream_remote_address": "10.244.1.6:42020",
            "source_workload": "curl-5b9c7d8f6-abcde", "upstream_host": "10.244.2.5:8080",
            "authority": "httpbin.default.svc.cluster.local", "destination_workload": "httpbin-6d8f9c7b5-fghij", "direction": "outbound",
            "bytes_sent": "86", "bytes_received": "412", "duration_ms": "4", "upstream_transport_failure_reason": ABSENT,
            "response_code": ABSENT, "method": ABSENT }
    ztunnel_inbound_refused:
        ZT_REFUSED
        => Ztunnel { "direction": "inbound", "duration_ms": "0",
            "upstream_transport_failure_reason": "connection failed: Connection refused (os error 111)" }
    ztunnel_pasted_without_time_as_in_the_pr:
        "error\taccess\tconnection complete\tsrc.addr=10.244.1.6:42020 src.workload=\"curl\" direction=\"inbound\" bytes_sent=0 bytes_recv=0 duration=\"0ms\" error=\"connection closed due to policy rejection: allow policies exist, but none allowed\""
        => Ztunnel { "start_time": ABSENT, "source_workload": "curl",
            "upstream_transport_failure_reason": "connection closed due to policy rejection: allow policies exist, but none allowed" }
    ztunnel_1_22_bare_names_and_spaces_for_tabs:
        "2024-05-01T10:00:00.000001Z  error  access  connection complete  src.addr=10.244.1.6:42020 src.workload=curl-5b9c7d8f6-abcde src.namespace=default dst.addr=10.244.2.5:15008 dst.hbone_addr=10.244.2.5:8080 dst.service=httpbin.default.svc.cluster.local direction=\"outbound\" bytes_sent=0 bytes_recv=0 duration=\"10001ms\" error=\"io error: deadline has elapsed\""
        => Ztunnel { "source_workload": "curl-5b9c7d8f6-abcde", "authority": "httpbin.default.svc.cluster.local",
            "duration_ms": "10001", "upstream_transport_failure_reason": "io error: deadline has elapsed" }
    ztunnel_early_deny:
        "2025-06-01T10:00:06.000001Z\twarn\taccess\tconnection failed\tsrc.addr=10.244.1.6:51900 dst.addr=10.244.2.5:8080 direction=\"inbound\" error=\"connection closed due to policy rejection: explicitly denied by: default/deny-all\""
        => Ztunnel { "upstream_host": "10.244.2.5:8080", "direction": "inbound",
            "upstream_transport_failure_reason": "connection closed due to policy rejection: explicitly denied by: default/deny-all" }
    ztunnel_behind_kubectl_prefix_and_timestamps:
        "[pod/ztunnel-x7k2p/istio-proxy] 2025-06-01T10:00:05.000300000Z 2025-06-01T10:00:05.000210Z\terror\taccess\tconnection complete\tsrc.addr=10.244.1.6:51844 direction=\"outbound\" error=\"http status: 503 Service Unavailable\""
        => Ztunnel { "pod": "ztunnel-x7k2p", "log_time": "2025-06-01T10:00:05.000300000Z", "start_time": "2025-06-01T10:00:05.000210Z",
            "upstream_transport_failure_reason": "http status: 503 Service Unavailable" }
    ztunnel_json:
        r#"{"level":"error","time":"2025-06-01T10:00:05.000210Z","scope":"access","message":"connection complete","src.addr":"10.244.1.6:51844","src.workload":"curl-5b9c7d8f6-abcde","src.namespace":"default","dst.addr":"10.244.2.5:8080","dst.hbone_addr":"10.244.2.5:8080","dst.service":"httpbin.default.svc.cluster.local","dst.workload":"httpbin-6d8f9c7b5-fghij","dst.namespace":"default","direction":"inbound","bytes_sent":0,"bytes_recv":0,"duration":"0ms","error":"connection failed: Connection refused (os error 111)"}"#
        => Ztunnel { "start_time": "2025-06-01T10:00:05.000210Z", "source_workload": "curl-5b9c7d8f6-abcde", "direction": "inbound",
            "duration_ms": "0", "bytes_received": "0", "authority": "httpbin.default.svc.cluster.local",
            "upstream_transport_failure_reason": "connection failed: Connection refused (os error 111)" }
}

#[test]
fn ztunnel_debug_opened_lines_are_not_records() {
    let opened = "2025-06-01T10:00:00.100000Z\tdebug\taccess\tconnection opened\tsrc.addr=10.244.1.6:42020 direction=\"outbound\"";
    assert_eq!(skipped(opened), SkipReason::AgentLog);
    let json = r#"{"level":"debug","time":"2025-06-01T10:00:00.1Z","scope":"access","message":"connection opened","src.addr":"10.244.1.6:42020"}"#;
    assert_eq!(skipped(json), SkipReason::AgentLog);
    // A pilot-agent line with the same shape but another scope stays an agent log.
    assert_eq!(skipped("2025-06-01T10:00:00.100000Z\tinfo\txdsproxy\tconnected"), SkipReason::AgentLog);
}

#[test]
fn every_built_in_layout_reads_only_its_own_example() {
    // Each example line must be read by exactly the layout it was written in, whichever layout
    // the decoder tried first (auto-detection starts with the last one that matched).
    let examples: &[(FormatKind, &str)] = &[
        (
            FormatKind::Istio19,
            r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#,
        ),
        (
            FormatKind::EnvoyDefault,
            r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#,
        ),
        (
            FormatKind::Istio10Tcp,
            r#"[2018-10-01T10:00:00.000Z] UF 0 0 10003 "10.1.0.9:3306" outbound|3306||mysql.default.svc.cluster.local - 10.0.0.9:3306 10.1.0.5:44848"#,
        ),
        (
            FormatKind::KumaHttp,
            r#"[2025-04-02T08:15:30.001Z] default "GET /api/counter HTTP/1.1" 503 UF 0 145 2 - "-" "curl/8.5.0" "-" "4e7a9c1d-2b3f-4a5e-8c6d-7f8091a2b3c4" "backend.kuma-demo.svc:3001" "demo-app_kuma-demo_svc_5000" "backend_kuma-demo_svc_3001" "10.244.0.8" "10.244.0.9:3001""#,
        ),
        (
            FormatKind::KumaTcp,
            r#"[2025-04-02T08:15:31.442Z] UF default 10.244.0.8(demo-app_kuma-demo_svc_5000)->10.244.0.10:6379(redis_kuma-demo_svc_6379) took 1ms, sent 0 bytes, received: 0 bytes"#,
        ),
        (
            FormatKind::EcsHttp,
            r#"[2025-08-01T12:00:00.000Z] "GET /orders HTTP/1.1" 503 0 145 2 - "-" "curl/8.5.0" "c0ffee00-1111-4222-8333-444455556666" "orders.myapp.namespace:8080" "10.0.1.25:8080""#,
        ),
        (
            FormatKind::EcsGrpc,
            r#"[2025-08-01T12:00:00.000Z] "POST /o.O/Get HTTP/2" 200 Ok 5 0 3 - "-" "grpc-go/1.60.0" "c0ffee00-1111-4222-8333-444455556666" "orders:8080" "10.0.1.25:8080" "1""#,
        ),
        (FormatKind::EcsTcp, r#"[2025-08-01T12:00:00.000Z] 10.0.1.7:50012 50012 120 4096 35 - 7"#),
    ];
    let layouts = builtin::text_layouts();
    for &(kind, line) in examples {
        for start in 0..layouts.len() {
            let mut last = start;
            match parse_payload(&FormatChoice::Auto, &mut last, line.as_bytes(), &json::Scratch::new()) {
                Ok(PayloadOutcome::Record(r)) => assert_eq!(r.format, kind, "starting at {start}: {line}"),
                _ => panic!("not read starting at {start}: {line}"),
            }
        }
    }
}

#[test]
fn every_cut_of_every_layout_decodes_without_panicking() {
    let lines = [
        r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#,
        r#"ACCESS [2025-02-11T14:03:07.215Z] "GET /backend/ HTTP/1.1" 503 UF 0 145 1 - "10.244.0.1" "curl/8.5.0" "1d0a4f9e-5c2b-4b8a-9f7e-3a2b1c0d9e8f" "example.com" "10.244.0.21:8080""#,
        r#"[2025-04-02T08:15:31.442Z] UF default 10.244.0.8(demo-app_kuma-demo_svc_5000)->10.244.0.10:6379(redis_kuma-demo_svc_6379) took 1ms, sent 0 bytes, received: 0 bytes"#,
        r#"[2018-10-01T10:00:00.000Z] "GET /productpageHTTP/1.1" 200 - 0 5183 43 42 "-" "curl/7.60.0" "5e1f1c4b-0a4f-9b8e-a4a1-6c8b2a0f6e1d" "productpage:9080" "10.1.0.7:9080" outbound|9080||productpage.default.svc.cluster.local - 10.1.0.7:9080 10.1.0.5:44844"#,
        r#"{"start_time":"2024-05-01T10:00:00.000Z","method":"GET","x-envoy-origin-path":"/slow","protocol":"HTTP/1.1","response_code":"504","response_flags":"UT","response_code_details":"response_timeout","connection_termination_details":"-","upstream_transport_failure_reason":"-","bytes_received":"0","bytes_sent":"24","duration":"15001","x-envoy-upstream-service-time":"-","x-forwarded-for":"172.18.0.1","user-agent":"ev"il","x-request-id":"8d2f",":authority":"www.example.com","upstream_host":"10.244.0.15:3000","upstream_cluster":"httproute/default/backend/rule/0","upstream_local_address":"-","downstream_local_address":"-","downstream_remote_address":"-","requested_server_name":"-","route_name":"-"}"#,
        r#"{"date":1.5,"log":"[2020-11-25T21:26:18.409Z] \"GET / HTTP/1.1\" 200 - 0 58 4 1 \"-\" \"c\" \"r\" \"a\" \"h\"","kubernetes":{"pod_name":"a"}}"#,
        r#"{"log":"[2018-11-23T04:51:00.281Z] \"GET / HTTP/1.1\" 200 - 0 58 4 1 \"-\" \"curl\" \"f21e\" \"one\" \"172.18.0.4:80\"\n","stream":"stdout","attrs":{"a":"b"},"time":"2019-05-29T15:32:47.8Z"}"#,
        r#"[2026-02-24T10:00:00.000Z] "GET /api HTTP/1.1" src=10.1.0.5:40000 cluster=outbound|80||a code=503 flags=UF,URX duration=45ms ua="x \"y\" z""#,
        ZT_REFUSED,
        r#"{"level":"error","time":"2025-06-01T10:00:05.000210Z","scope":"access","message":"connection complete","src.addr":"10.244.1.6:51844","duration":"0ms","error":"connection failed"}"#,
        r#"[2021-06-23T07:15:29.541Z] \"POST /u HTTP/1.1\" 404 NR \"-\" \"-\" 0 0 0 - \"10.128.17.153\" \"Java\" \"ad1b\" \"10.128.32.225:8080\" \"-\" - - 10.128.32.225:8080 10.128.17.153:46632 - -"#,
        r#"POST /xyz/abc HTTP/1.1"" 0 DC downstream_remote_disconnect - ""-"" 515 0 4969 - """#,
        "front-envoy-1  | Jun  1 10:00:00 node envoy[1]: [2018-11-23T04:51:00.281Z] \"GET / HTTP/1.1\" 200 - 0 58 4 1 \"-\" \"curl\" \"f\" \"o\" \"1.2.3.4:80\"",
    ];
    let mut d = Decoder::new(FormatChoice::Auto);
    let mut partial = 0;
    for line in lines {
        let b = line.as_bytes();
        for cut in 0..=b.len() {
            for piece in [&b[..cut], &b[cut..]] {
                if let Outcome::Record(r) = d.decode(piece) {
                    partial += usize::from(r.partial);
                    // A partial record always has what makes it one.
                    if r.partial {
                        assert!(r.response_code.is_some(), "{}", String::from_utf8_lossy(piece));
                    }
                }
            }
            // Quotes and spaces swapped at the cut.
            let mut m = b.to_vec();
            if cut < m.len() {
                m[cut] = match m[cut] {
                    b'"' => b' ',
                    b' ' => b'"',
                    b'\\' => b'"',
                    _ => b'"',
                };
                let _ = d.decode(&m);
            }
        }
    }
    assert!(partial > 100, "{partial}");
}

cases! {
    envelope_kubernetes_metadata_names_the_pod:
        r#"{"log":"[2018-11-23T04:51:00.281Z] \"GET / HTTP/1.1\" 503 UF 0 91 4 - \"-\" \"curl/7.47.0\" \"f21ebd42-6770-4aa5-88d4-e56118165a7d\" \"one.example.com\" \"172.18.0.4:80\"","kubernetes":{"pod_name":"istio-ingressgateway-7d4f8b9c6-x2x9z","namespace_name":"istio-system","container_name":"istio-proxy","labels":{"app":"x"}}}"#
        => EnvoyDefault { "pod": "istio-ingressgateway-7d4f8b9c6-x2x9z", "namespace": "istio-system", "container": "istio-proxy",
            "response_code": "503" }
    envelope_filebeat_kubernetes_metadata:
        r#"{"@timestamp":"2018-11-23T04:51:00.281Z","message":"[2018-11-23T04:51:00.281Z] \"GET / HTTP/1.1\" 503 UF 0 91 4 - \"-\" \"curl/7.47.0\" \"f21ebd42-6770-4aa5-88d4-e56118165a7d\" \"one.example.com\" \"172.18.0.4:80\"","kubernetes":{"pod":{"name":"web-1","uid":"x"},"namespace":"shop","container":{"name":"istio-proxy"}}}"#
        => EnvoyDefault { "pod": "web-1", "namespace": "shop", "container": "istio-proxy" }
}
