//! Table-driven tests: every example line of reference §10 and §8, and one case per layout,
//! wrapper and non-access line. Each case names the fields it expects; `"∅"` means absent.

use super::*;
use crate::flags::Flag;

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
    // Cut in the middle: the furthest layout reports where it stopped.
    let e =
        malformed(r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135"#);
    assert_eq!(e.kind, ErrorKind::Truncated);
    assert!(e.column > 60, "{e:?}");
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
            assert_eq!(r.route_name.as_deref(), Some(&b"default"[..]));
            assert_eq!(r.meta.log_time.as_deref(), Some(&b"2024-05-16T10:06:02.3Z"[..]));
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
        Outcome::Record(r) => assert_eq!(r.user_agent.as_deref(), Some(&b"curl/7.47.0"[..])),
        other => panic!("{other:?}"),
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
            assert_eq!(r.start_time.as_deref(), Some(&b"2026-11-20T10:00:00.003Z"[..]));
        }
        other => panic!("{other:?}"),
    }
    // The same format behind a real kubectl timestamp still works.
    match d.decode(b"2026-11-20T10:00:01.000000000Z 2026-11-20T10:00:00.003Z 503") {
        Outcome::Record(r) => assert_eq!(r.response_code, Some(503)),
        other => panic!("{other:?}"),
    }
}
