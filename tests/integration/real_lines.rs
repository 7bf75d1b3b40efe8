//! Real lines as people meet them, one table per class of issue 17: behind the wrappers of
//! the tools they were read with, and cut or redacted as they were pasted. Each case is a line
//! copied from the source named above it and what `-o records` must say about it: its cause,
//! domain and reporter, or the fields the line holds; a line that is not a record must be
//! skipped for its reason, never malformed.
//!
//! Where a source shows the payload bare and the wrapper is the one the tool writes, the case
//! joins the two; the wrapper's shape then comes from the tool's own source, named too.

use serde_json::Value;

use crate::common::bin;

/// What one line must become.
enum Want {
    /// A record with these fields (`null` for absent; numbers and booleans as JSON text).
    Record(&'static [(&'static str, &'static str)]),
    /// A skipped line, for this reason.
    Skipped(&'static str),
}

/// Runs the lines as one file through `-o records` and `-o json`, and checks each.
fn check(cases: &[(&str, Want)]) {
    check_with(&[], cases)
}

/// [`check`] with more arguments (a `--format`).
fn check_with(args: &[&str], cases: &[(&str, Want)]) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pasted.log");
    let text: String = cases.iter().map(|(line, _)| format!("{line}\n")).collect();
    std::fs::write(&log, text).unwrap();
    let out = bin().args(args).args(["-o", "records", "-j", "1"]).arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (i, (line, want)) in cases.iter().enumerate() {
        let n = i as u64 + 1;
        let rec = records.iter().find(|r| r["line"] == n);
        match want {
            Want::Record(fields) => {
                let rec = rec.unwrap_or_else(|| panic!("line {n} is no record: {line}"));
                for (key, expected) in *fields {
                    let got = match &rec[*key] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    assert_eq!(got, *expected, "{key} of line {n}: {line}");
                }
            }
            Want::Skipped(_) => assert!(rec.is_none(), "line {n} read as a record: {line}"),
        }
    }
    // Every skipped line for its reason, and nothing malformed.
    let out = bin().args(args).args(["-o", "json"]).arg(&log).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["malformed"], 0, "{}", v["totals"]);
    let mut reasons = std::collections::BTreeMap::<&str, u64>::new();
    for (_, want) in cases {
        if let Want::Skipped(reason) = want {
            *reasons.entry(reason).or_default() += 1;
        }
    }
    for (reason, count) in reasons {
        assert_eq!(v["totals"]["skipped_by_reason"][reason], count, "{reason}: {}", v["totals"]);
    }
}

use Want::{Record, Skipped};

/// Envoy's access lines the wrapper cases carry.
/// https://github.com/katanemo/plano/pull/89 (plain Envoy, default format, connection refused).
const PLANO_503_UF: &str = r#"[2024-09-26T22:50:30.159Z] "POST /v1/chat/completions HTTP/1.1" 503 UF 98 173 3 - "-" "OpenAI/Python 1.46.1" "30dee192-a123-46e0-8236-a45417eaf02d" "bolt:10000" "[2607:7700:0:33:0:1:ac42:f3]:443""#;
/// envoyproxy/katacoda-scenarios `migrating-from-nginx-to-envoy/step6.md` (a success).
const KATACODA_200: &str = r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#;
/// https://github.com/istio/istio.io `content/en/docs/tasks/observability/logs/access-log/index.md`.
const ISTIO_DOCS_418: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;

/// Class 1: wrappers. Plain Envoy in docker compose is how many people first meet Envoy.
#[test]
fn lines_behind_every_collectors_prefix_are_read() {
    // docker compose writes `fmt.Sprintf("%-"+width+"s | ", name)`, coloured as a whole when
    // the output is a terminal, and with `-t` the time (`RFC3339NanoFixed`, local zone) and a
    // space after it: docker/compose `cmd/formatter/logs.go` (`setPrefix`, `write`).
    let compose = format!("envoy-1  | {PLANO_503_UF}");
    let compose_t = format!("envoy-1  | 2024-09-26T22:50:30.160213456Z {PLANO_503_UF}");
    let compose_colour_t =
        format!("\x1b[36menvoy-1  | \x1b[0m2024-09-26T23:50:30.160213456+01:00 {PLANO_503_UF}");
    let compose_v1 = format!("front-envoy_1  | {KATACODA_200}");
    // `docker logs -t`: an RFC3339Nano time and a space (docs.docker.com/reference/cli/docker/container/logs).
    let docker_t = format!("2024-09-26T22:50:30.16021345Z {PLANO_503_UF}");
    // kail writes `namespace/pod[container]: line` (its shape: https://github.com/istio/istio/issues/9113).
    let kail = format!("foo/curl-5b9c7d8f6-abcde[istio-proxy]: {ISTIO_DOCS_418}");
    // Loki's `logcli query` writes `<time> <label set> <line>`
    // (https://grafana.com/docs/loki/latest/query/logcli/: `2018-06-25T12:52:09Z {instance="cons…`),
    // here with the labels Promtail's Kubernetes discovery sets.
    let logcli = format!(
        r#"2020-11-25T21:26:18.41Z {{app="curl", container="istio-proxy", job="foo/curl", namespace="foo", pod="curl-5b9c7d8f6-abcde", stream="stdout"}} {ISTIO_DOCS_418}"#
    );
    let cases: Vec<(&str, Want)> = vec![
        (
            &compose,
            Record(&[
                ("cause", "connection_refused"),
                ("domain", "network"),
                ("reporter", "unknown"),
                ("container", "envoy-1"),
                ("log_time", "null"),
            ]),
        ),
        (
            &compose_t,
            Record(&[
                ("cause", "connection_refused"),
                ("domain", "network"),
                ("container", "envoy-1"),
                ("log_time", "2024-09-26T22:50:30.160213456Z"),
            ]),
        ),
        (
            &compose_colour_t,
            Record(&[
                ("cause", "connection_refused"),
                ("container", "envoy-1"),
                ("log_time", "2024-09-26T23:50:30.160213456+01:00"),
            ]),
        ),
        (&compose_v1, Record(&[("cause", "null"), ("failed", "false"), ("container", "front-envoy_1")])),
        (
            &docker_t,
            Record(&[
                ("cause", "connection_refused"),
                ("domain", "network"),
                ("log_time", "2024-09-26T22:50:30.16021345Z"),
            ]),
        ),
        (
            &kail,
            Record(&[
                ("namespace", "foo"),
                ("pod", "curl-5b9c7d8f6-abcde"),
                ("container", "istio-proxy"),
                ("reporter", "client_sidecar"),
                ("response_code", "418"),
            ]),
        ),
        (
            &logcli,
            Record(&[
                ("namespace", "foo"),
                ("pod", "curl-5b9c7d8f6-abcde"),
                ("container", "istio-proxy"),
                ("log_time", "2020-11-25T21:26:18.41Z"),
                ("partial", "false"),
                ("response_code", "418"),
            ]),
        ),
        // https://github.com/envoyproxy/envoy/issues/35705 (docker-compose v1, Envoy's debug
        // output and its header dump, a blank line of it).
        (
            "front-envoy_1  | [2024-08-14 08:30:04.560][35][debug][http] [source/common/http/async_client_impl.cc:123] async http request response headers (end_stream=false):",
            Skipped("envoy_log"),
        ),
        ("front-envoy_1  | ':status', '503'", Skipped("envoy_log")),
        ("front-envoy_1  | ", Skipped("blank")),
        // https://github.com/envoyproxy/envoy/issues/1887 (docker-compose v1, 2017).
        (
            "proxy_1    | [2017-10-18 23:44:20.651][6][warning][main] source/server/server.cc:164] initializing epoch 0 (hot restart version=8.2490552)",
            Skipped("envoy_log"),
        ),
        // https://github.com/istio/istio/issues/9113 (kail).
        (
            "preprod-cb/classification-helper-ui-76f9cdcd4d-rz6n9[istio-proxy]: [2018-10-03 08:47:42.958][95][debug][http] external/envoy/source/common/http/conn_manager_impl.cc:889] [C32][S16141632285256672176] request end stream",
            Skipped("envoy_log"),
        ),
        // https://github.com/istio/istio/issues/22802 (stern).
        (
            "tmp-1 istio-proxy [2020-04-08 08:42:36.539][31][debug][http] [external/envoy/source/common/http/conn_manager_impl.cc:1255] [C6][S15320993954660358114] Sending local reply with details upstream_reset_before_response_started{connection failure}",
            Skipped("envoy_log"),
        ),
        // `kubectl logs ds/envoy -c envoy -n projectcontour` (a Contour guide in the public code
        // index): kubectl names the pod it picked.
        ("Found 3 pods, using pod/envoy-g86st", Skipped("kubectl_notice")),
    ];
    check(&cases);
}

/// Class 2: lines people cut or redact. What is left is read as a partial record, and a
/// transport failure reason `TLS error: …` makes it a TLS failure.
#[test]
fn cut_and_redacted_lines_are_read_for_what_they_hold() {
    let cases: Vec<(&str, Want)> = vec![
        // https://github.com/Cray-HPE/docs-csm/blob/main/operations/kubernetes/Troubleshoot_Intermittent_503s.md
        // (cut right after the transport failure reason; Istio 1.3–1.7 layout).
        (
            r#"[2022-05-10T16:27:29.232Z] "POST /apis/hbtd/hmi/v1/heartbeat HTTP/2" 503 UF,URX "-" "TLS error: Secret is not supplied by SDS""#,
            Record(&[
                ("cause", "tls_failure"),
                ("domain", "security"),
                ("reporter", "unknown"),
                ("partial", "true"),
                ("upstream_transport_failure_reason", "TLS error: Secret is not supplied by SDS"),
                ("bytes_received", "null"),
            ]),
        ),
        // The same, from an older revision of that page, wrapped by its author after the user
        // agent (the rest of it, on its own line, holds no response code).
        (
            r#"[2022-05-10T16:27:29.232Z] "POST /apis/hbtd/hmi/v1/heartbeat HTTP/2" 503 UF,URX "-" "TLS error: Secret is not supplied by SDS" 132 91 25 - "10.39.0.0" "-""#,
            Record(&[
                ("cause", "tls_failure"),
                ("domain", "security"),
                ("partial", "true"),
                ("duration_ms", "25"),
                ("x_forwarded_for", "10.39.0.0"),
            ]),
        ),
        // The first line with its flags cut down to `URX` (hand-edited; no public line has
        // another flag with a TLS reason): the reason alone decides, since Envoy writes one
        // only for a failed upstream connection.
        (
            r#"[2022-05-10T16:27:29.232Z] "POST /apis/hbtd/hmi/v1/heartbeat HTTP/2" 503 URX "-" "TLS error: Secret is not supplied by SDS""#,
            Record(&[("cause", "tls_failure"), ("domain", "security"), ("response_flags", "[\"URX\"]")]),
        ),
        // https://github.com/istio/istio/issues/25062 (Istio 1.4; cut at both ends).
        (
            r#"503 UF,URX "-" "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER""#,
            Record(&[
                ("cause", "tls_failure"),
                ("domain", "security"),
                ("partial", "true"),
                (
                    "upstream_transport_failure_reason",
                    "TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER",
                ),
            ]),
        ),
        // istio/istio.io `content/en/docs/ops/diagnostic-tools/multicluster/index.md` (cut
        // inside the request line and after the reason).
        (
            r#"HTTP/2" 503 UF,URX "-" "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED""#,
            Record(&[
                ("cause", "tls_failure"),
                ("domain", "security"),
                ("protocol", "HTTP/2"),
                ("response_code", "503"),
            ]),
        ),
        // Istio 1.9+, cut after the reason (a Cray-HPE support issue in the public code index
        // shows the whole record: `… 503 UF,URX "-" "TLS error: Secret is not supplied by SDS" 52 91 18 …`).
        (
            r#"[2022-04-19T13:35:23.864Z] "POST / HTTP/1.1" 503 UF,URX "-" "TLS error: Secret is not supplied by SDS" 52 91 18 - "-" "curl/7.79.1" "622c1d7d-b9bf-4fea-9bc2-28dfe57ae9f0" "cray-dhcp-kea-api:8000" "10.37.0.73:8000" outbound|8000||cray-dhcp-kea-api.services.svc.cluster.local - 10.27.72.242:8000 10.37.0.73:58716 - default"#,
            Record(&[
                ("cause", "tls_failure"),
                ("domain", "security"),
                ("reporter", "client_sidecar"),
                ("partial", "false"),
            ]),
        ),
        // Paths, hosts and clusters replaced by `xxxxx` (an Istio 1.6 post-mortem in the public
        // code index): whole records, classified as they are.
        (
            r#"[2020-08-20T13:36:24.347Z] "GET /xxxxx/xxxxx/3CAEBLblqQhADTNs4k5NsKzSWDCFwBgNWqP8qiRcvPB3sAzGd32Fg9czGHIA1wRYmRdM1vjut7XaObydDhO3Hf0RldDT_OW50 HTTP/1.1" 503 UF "-" "-" 0 91 0 - "10.69.102.12" "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko" "ad6fb381-691e-44d8-a2d5-ff88fc84f8d4" "xxxxx-xxx.micro.xxxxx.com" "127.0.0.1:8080" inbound|80|http|xxxxx.prod.svc.cluster.local - 100.64.11.157:8080 10.69.102.12:0 outbound_.80_._.xxxxx.prod.svc.cluster.local default"#,
            Record(&[
                ("cause", "connection_refused"),
                ("domain", "application"),
                ("reporter", "server_sidecar"),
            ]),
        ),
        (
            r#"[2020-08-20T23:21:25.233Z] "GET /xxxxx/xxxxx/3QAFBLblqDhC59dcYAXUsMgv_mBpCtarUeIvIwJn7C6MtsKhepyxJ_bVgrqcPZOMi1DnJIIzmZkYFu1yjo7vyTtJuW509JFAx HTTP/1.1" 503 UH "-" "-" 0 19 0 - "10.70.38.234" "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0.4147.135 Safari/537.36" "f2bf2de3-4a01-4cef-b9f7-803086033014" "xxxxx-xxx.micro.xxxxx.com" "-" - - 100.64.3.159:443 10.70.38.234:25117 xxxxx-xxx.micro.xxxxx.com -"#,
            Record(&[("cause", "no_healthy_upstream"), ("domain", "capacity"), ("partial", "false")]),
        ),
        // Issue 17's own example of a request line without its protocol, on the Istio docs'
        // line (istio/istio.io, as above) with `HTTP/1.1` left out.
        (
            r#"[2020-11-25T21:26:18.409Z] "POST /foo/bar" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 4 - "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#,
            Record(&[
                ("cause", "connection_refused"),
                ("reporter", "client_sidecar"),
                ("partial", "true"),
                ("method", "POST"),
                ("path", "/foo/bar"),
                ("protocol", "null"),
                ("upstream_cluster", "outbound|8000||httpbin.foo.svc.cluster.local"),
            ]),
        ),
    ];
    check(&cases);
}

/// Class 6: commands run as printed. Over the wrapped sample logs (`kubectl logs --prefix`,
/// which names the pod but not its namespace; an Istio ingress gateway in `istio-system`
/// calling `httpbin` in `foo`), every `-n` is the namespace of the pod the command names —
/// the pod that logged the line — and a command naming the service takes the service's.
#[test]
fn every_suggested_namespace_is_the_one_the_command_needs() {
    // pod name prefix → its namespace, as far as the log can tell.
    let pods = [
        // Istio's gateways live in istio-system unless the input says otherwise.
        ("istio-ingressgateway-", "istio-system"),
        // Server sidecars: their inbound cluster (or authority) names their own Service.
        ("httpbin-", "foo"),
        ("reviews-", "bookinfo"),
        // A client sidecar: nothing in the log says where it runs.
        ("sleep-", "<namespace of the logging pod>"),
    ];
    let mut checked = 0;
    for log in [
        "tests/data/encodings/wrapped/real-timeout-15s.kubectl.log",
        "tests/data/encodings/wrapped/real-refused-localhost.kubectl.log",
        "tests/data/encodings/wrapped/real-healthy-gateway.cri.log",
    ] {
        let out = bin().args(["-o", "json"]).arg(log).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        for f in v["findings"].as_array().unwrap() {
            let upstream = f["upstream"].as_str().unwrap();
            // `outbound|8000||httpbin.foo.svc.cluster.local` → foo; the bare inbound cluster's
            // service is named by the mTLS SNI `outbound_.9080_._.reviews.bookinfo.svc.cluster.local`.
            let svc_ns = match upstream {
                "inbound|9080||" => Some("bookinfo"),
                _ => upstream.rsplit('|').next().and_then(|h| h.split('.').nth(1)),
            };
            for cmd in f["hint"]["commands"].as_array().unwrap() {
                let cmd = cmd.as_str().unwrap();
                // The kubectl or istioctl part: `grep -n` after a pipe is no namespace.
                let head = cmd.split(" | ").next().unwrap();
                let Some((_, rest)) = head.split_once(" -n ") else { continue };
                let ns = if let Some(n) = rest.strip_prefix('<') {
                    &rest[..n.find('>').unwrap() + 2]
                } else {
                    rest.split(' ').next().unwrap()
                };
                let named_pod = pods.iter().find(|(p, _)| cmd.contains(p));
                match named_pod {
                    Some((pod, want)) => assert_eq!(ns, *want, "{pod} in {cmd}"),
                    None => assert_eq!(Some(ns), svc_ns, "{cmd}"),
                }
                // No empty placeholder, and logs read whole.
                assert!(!cmd.contains("''"), "{cmd}");
                if cmd.contains("kubectl logs") && cmd.contains(" -l ") {
                    assert!(cmd.contains("--tail=-1") && !cmd.contains("--since="), "{cmd}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "only {checked} commands checked");
}

/// Every `kubectl logs -l` we suggest reads the pods' whole logs: with a selector kubectl sends
/// only the last 10 lines per pod unless `--tail` says otherwise, and refuses to follow (`-f`)
/// more than 5 pods unless `--max-log-requests` says more (kubectl `logs.go`: `DefaultTail`
/// with a selector, `MaxFollowConcurrency`).
#[test]
fn every_suggested_selector_reads_whole_logs() {
    let help = bin().arg("--help").output().unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let text = format!("{}\n{readme}", String::from_utf8_lossy(&help.stdout));
    let mut seen = 0;
    for line in text.lines().filter(|l| l.contains("kubectl logs") && l.contains(" -l ")) {
        let follow = line.contains(" -f ") || line.contains("--follow");
        assert!(follow || line.contains("--tail=-1"), "{line}");
        assert!(!follow || line.contains("--max-log-requests"), "{line}");
        seen += 1;
    }
    assert!(seen >= 2, "{seen}");
}

/// `explain` on a line that cannot say where it was logged or how the connection failed: no
/// empty placeholder in a command, and a verdict that says it is a guess.
#[test]
fn explain_on_a_fragment_hedges_and_prints_no_empty_placeholder() {
    // The Plano line whole (no cluster, 3 ms), then cut after the bytes received, before the
    // duration. (Cut right after `UF`, the flags are not read: the last field of a cut line
    // is taken as possibly cut itself.)
    let cut = &PLANO_503_UF[..PLANO_503_UF.find(" UF 98").unwrap() + 6];
    for (line, undecided) in
        [(PLANO_503_UF, "guessed from the duration"), (cut, "refused, connect timeout or TLS handshake")]
    {
        let out = bin().arg("explain").arg(line).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Verdict: connection_refused"), "{text}");
        let hedge = text.lines().find(|l| l.starts_with("Uncertain: ")).unwrap_or_else(|| panic!("{text}"));
        assert!(hedge.contains(undecided), "{hedge}");
        assert!(!text.contains("''"), "{text}");
        assert!(text.contains("--cluster '<cluster>'"), "{text}");
    }
}

/// The finding's summary for the lines, one file (`-o json`).
fn summaries(lines: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pasted.log");
    std::fs::write(&log, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out = bin().args(["-o", "json"]).arg(&log).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!("{}: {} {}", f["cause"].as_str().unwrap(), f["hint"]["summary"], f["hint"]["commands"])
        })
        .collect()
}

/// https://github.com/istio/istio/issues/33281 (Istio 1.9.5 JSON, a stern-like prefix; REGISTRY_ONLY
/// blocked `curl https://www.espn.com`): code 0, `UH`, and the cluster `null`.
const ISTIO_33281_JSON: &str = r#"{"response_code":0,"upstream_service_time":null,"upstream_host":null,"upstream_local_address":null,"request_id":null,"downstream_remote_address":"172.17.3.28:35070","bytes_sent":0,"upstream_cluster":null,"upstream_transport_failure_reason":null,"authority":null,"duration":8,"response_code_details":null,"response_flags":"UH","protocol":null,"user_agent":null,"path":null,"connection_termination_details":null,"method":null,"downstream_local_address":"13.249.75.75:443","route_name":null,"x_forwarded_for":null,"requested_server_name":null,"start_time":"2021-06-04T14:35:50.462Z","bytes_received":0}"#;

/// ztunnel's refusal under STRICT mTLS. The error text is as users quote it from ztunnel's log
/// (e.g. the Istio-on-SNO runbook and a k1s0 report in the public code index); the policy name
/// is istio/istio `staticStrictPolicyName` (pilot/pkg/serviceregistry/kube/controller/ambient/
/// policies.go); the fields around it are a worked lab's ztunnel line (public code index), with
/// the time and tabs ztunnel writes (family reference §10.1).
const ZTUNNEL_STATIC_STRICT: &str = "2026-09-20T10:00:00.000000Z\terror\taccess\tconnection complete\tsrc.addr=10.244.1.21:47646 dst.addr=10.244.1.14:8080 dst.service=\"worker.lab.svc.cluster.local\" dst.workload=\"worker-bd46d84b5-4h4hl\" dst.namespace=\"lab\" direction=\"inbound\" error=\"connection closed due to policy rejection: explicitly denied by: istio-system/istio_converted_static_strict\"";

/// Class 4: failure signatures that name their cause outright.
#[test]
fn signatures_that_name_their_cause_are_read_for_it() {
    let stern_33281 = format!("[ubuntu istio-proxy] {ISTIO_33281_JSON}");
    let cases: Vec<(&str, Want)> = vec![
        // Ambient: STRICT PeerAuthentication refusing plaintext is an mTLS mismatch (security),
        // not an AuthorizationPolicy denial.
        (
            ZTUNNEL_STATIC_STRICT,
            Record(&[("cause", "tls_failure"), ("domain", "security"), ("reporter", "server_sidecar")]),
        ),
        // REGISTRY_ONLY: a TCP `UH` without a cluster is the BlackHoleCluster, not an empty
        // endpoint set.
        (
            ISTIO_33281_JSON,
            Record(&[("cause", "blocked_egress"), ("domain", "configuration"), ("reporter", "unknown")]),
        ),
        (&stern_33281, Record(&[("cause", "blocked_egress"), ("domain", "configuration")])),
        // https://github.com/istio/istio/issues/51178 (text log, the cluster named).
        (
            r#"[2023-04-24T15:57:17.434Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 142.250.217.115:443 10.52.97.65:58576 sqa.ory.sh -"#,
            Record(&[
                ("cause", "blocked_egress"),
                ("domain", "configuration"),
                ("reporter", "client_sidecar"),
            ]),
        ),
        // Istio 1.0-era records: code 0 and no flag — the client went away (an nginx timeout
        // in front, the thread found). https://github.com/istio/istio/issues/7001
        (
            r#"[2018-07-11T07:00:34.795Z] "GET /suu/showSuu?data=%7B%22clue_id%22%3A36016173%2C%22city_id%22%3A66%2C%22tag_id%22%3A161315%2C%22car_id%22%3A17ss3740%2C%22consign_price%22%3A314500%7D&appkey=&nonce=5b45ab12c0d61&expires=1531292534&signature=d855717847 HTTP/1.1" 0 - 0 0 1000 - "10.16.12.164" "DzleHttp/6.2.1 curl/7.29.0 PHP/7.1.15" "61ff014a4bd39d0d094af8f34e8bf" "nr-form.local-apps.com" "-""#,
            Record(&[("cause", "downstream_disconnect"), ("domain", "client"), ("reporter", "unknown")]),
        ),
        // https://github.com/envoyproxy/envoy/issues/5119 ("the client hung up"; cut by its author).
        (
            r#"[2018-11-26T03:17:43.818Z] "POST /foo HTTP/2" 0 - 32 0 450"#,
            Record(&[("cause", "downstream_disconnect"), ("domain", "client"), ("bytes_received", "32")]),
        ),
    ];
    check(&cases);
    // The judgements say so, and the certificate problem comes with its fix. The SDS line:
    // a Cray-HPE support issue in the public code index (Istio 1.9+, whole).
    let sds = r#"[2022-04-19T13:35:23.864Z] "POST / HTTP/1.1" 503 UF,URX "-" "TLS error: Secret is not supplied by SDS" 52 91 18 - "-" "curl/7.79.1" "622c1d7d-b9bf-4fea-9bc2-28dfe57ae9f0" "cray-dhcp-kea-api:8000" "10.37.0.73:8000" outbound|8000||cray-dhcp-kea-api.services.svc.cluster.local - 10.27.72.242:8000 10.37.0.73:58716 - default"#;
    let all = summaries(&[ZTUNNEL_STATIC_STRICT, ISTIO_33281_JSON, sds]).join("\n");
    assert!(
        all.contains("tls_failure: \"1 plaintext connections were refused by ztunnel under STRICT mTLS"),
        "{all}"
    );
    assert!(all.contains("not an AuthorizationPolicy"), "{all}");
    assert!(all.contains("blocked_egress: "), "{all}");
    assert!(all.contains("SDS never delivered it") && all.contains("restart the pod"), "{all}");
    assert!(all.contains("istioctl proxy-config secret"), "{all}");
}

/// Class 3: faults and flags on any status. A delay the user injected shows up as
/// `fault_injected` with the delay it cost, even on a 200; a WebSocket the client closed is
/// no failure, one an idle timeout closed is; 4xx with flags name their cause.
#[test]
fn faults_and_flags_count_on_any_status() {
    let cases: Vec<(&str, Want)> = vec![
        // A 10 s delay on the catalogue (Packt "Bootstrap Service Mesh Implementations with
        // Istio", ch. 5, sock-shop; its translation in the public code index).
        (
            r#"[2022-08-27T00:39:09.547Z] "GET /catalogue/3395a43e-2d88-40de-b95f-e00e1502085b HTTP/1.1" 200 DI via_upstream - "-" 0 286 10005 4 "-" "-" "d83fc92e-4781-99ec-91af-c523e55cdbce" "catalogue" "10.10.10.170:80" outbound|80||catalogue.sock-shop.svc.cluster.local 10.10.10.155:59312 172.20.246.13:80 10.10.10.155:40834 - -"#,
            Record(&[
                ("cause", "fault_injected"),
                ("domain", "configuration"),
                ("reporter", "client_sidecar"),
                ("duration_ms", "10005"),
            ]),
        ),
        // A 500 ms delay at an ingress gateway (an Istio fault-injection walkthrough in the
        // public code index, 2022).
        (
            r#"[2022-05-03T20:32:51.440Z] "HEAD /status/200 HTTP/1.1" 200 DI via_upstream - "-" 0 0 502 2 "10.138.0.43" "curl/7.68.0" "24012ce2-bb7a-9cb5-a683-1af1e91a9c37" "httpbin.example.com" "10.100.0.7:80" outbound|8000||httpbin.default.svc.cluster.local 10.100.0.8:53388 10.100.0.8:8080 10.138.0.43:37455 - -"#,
            Record(&[("cause", "fault_injected"), ("domain", "configuration"), ("reporter", "gateway")]),
        ),
        // Plain Envoy's fault filter in docker compose (a 2021 blog's lab in the public code
        // index: "DI表示delay注入").
        (
            r#"service_c_envoy_1  | [2021-09-21T00:33:25.895Z] "GET / HTTP/1.1" 200 DI 0 22 1000 0 "-" "Go-http-client/1.1" "c35c0d2d-da3d-9e21-b33f-0dcd25c5ebd2" "service_a_envoy:8791" "192.168.160.2:8083""#,
            Record(&[("cause", "fault_injected"), ("domain", "configuration"), ("reporter", "unknown")]),
        ),
        // The same lab's abort: FI was a failure already.
        (
            r#"service_b_envoy_1  | [2021-09-21T00:33:55.178Z] "GET / HTTP/1.1" 503 FI 0 18 0 - "-" "Go-http-client/1.1" "bd8a3861-66b7-9b62-9314-eaa664f755dd" "service_a_envoy:8791" "-""#,
            Record(&[("cause", "fault_injected"), ("domain", "configuration")]),
        ),
        // 4xx with flags. Istio local rate limit at a server sidecar (a 2024 lab in the public
        // code index).
        (
            r#"[2024-09-15T16:27:47.687Z] "HEAD / HTTP/1.1" 429 RL local_rate_limited - "-" 0 0 0 - "192.168.245.106" "curl/8.5.0" "467a7648-b9ef-4e9b-b75b-f9f500a88589" "nginx.test.local" "-" inbound|80|| - 10.0.196.75:80 192.168.245.106:0 outbound_.80_._.nginx.istio-test.svc.cluster.local default"#,
            Record(&[("cause", "rate_limited"), ("domain", "capacity"), ("reporter", "server_sidecar")]),
        ),
        // ext_authz denial at a server sidecar (an Istio ext_authz lab in the public code index).
        (
            r#"[2026-08-09T00:56:18.465Z] "GET /v1/customer/123456789 HTTP/1.1" 403 UAEX ext_authz_denied - "-" 0 125 11 - "-" "curl/8.2.1" "78adb6f2-1fad-4e0c-a786-03def12899ae" "dummy-svc-app:8080" "-" inbound|8080|| - 10.244.0.28:8080 10.244.0.30:36340 outbound_.8080_._.dummy-svc-app.foo.svc.cluster.local default"#,
            Record(&[("cause", "authz_denied"), ("domain", "security"), ("reporter", "server_sidecar")]),
        ),
        // Emissary's `ACCESS` line (a Seldon Core question in the public code index, 2022).
        (
            r#"ACCESS [2022-03-08T17:26:14.593Z] "POST /seldon/default/mlscore/api/v0.1/predictions HTTP/1.1" 403 UAEX 72 0 0 - "192.168.63.233" "curl/7.74.0" "9241129b-aa14-4922-9025-c780bc2096af" "10.100.225.193" "-""#,
            Record(&[("cause", "authz_denied"), ("domain", "security"), ("reporter", "gateway")]),
        ),
        // A front Envoy with ext_authz in docker compose (aws-bootcamp-cruddur-2023 journal).
        (
            r#"aws-bootcamp-cruddur-2023-front-envoy-1             | [2023-03-10T16:02:09.153Z] "OPTIONS /api/activities/home HTTP/1.1" 403 UAEX 0 0 4 2 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36" "0701d2ff-559f-46c7-9cbc-28ab80e8a045" "localhost:8000" "-""#,
            Record(&[("cause", "authz_denied"), ("domain", "security"), ("reporter", "unknown")]),
        ),
        // https://github.com/istio/istio/issues/33632 (Istio 1.1–1.7 layout, a pod-IP call; formats
        // reference §10 example 16, its escaped quotes undone).
        (
            r#"[2021-06-23T07:15:29.541Z] "POST /user/query/encryptMobile HTTP/1.1" 404 NR "-" "-" 0 0 0 - "10.128.17.153" "Java/1.8.0_292" "ad1b3656-5d61-9757-8f56-27ab511cc632" "10.128.32.225:8080" "-" - - 10.128.32.225:8080 10.128.17.153:46632 - -"#,
            Record(&[("cause", "no_route"), ("domain", "configuration"), ("reporter", "unknown")]),
        ),
    ];
    check(&cases);
    // WebSockets through plain Envoy in docker compose, `-t`, the default format plus
    // `%RESPONSE_CODE_DETAILS%` (a WebSocket lab README in the public code index, websocat).
    let format = r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%""#;
    let ws: Vec<(&str, Want)> = vec![
        // The client closed the socket after 13 s: how a WebSocket ends.
        (
            r#"envoy-1           | 2024-07-21T08:33:12.906672966Z [2024-07-21T08:32:59.547Z] "GET /ws HTTP/1.1" 101 DC downstream_remote_disconnect 61 105 13342 - "-" "-" "e5248829-b318-443a-a763-e2460530f070" "localhost:8000" "192.168.5.2:8080""#,
            Record(&[("failed", "false"), ("cause", "null"), ("response_code", "101")]),
        ),
        // The idle timeout closed a quiet socket after 7 min.
        (
            r#"envoy-1           | 2024-07-21T09:18:26.815973385Z [2024-07-21T09:11:33.481Z] "GET /ws HTTP/1.1" 101 SI stream_idle_timeout 100 154 413322 - "-" "-" "8a458ce2-bb8d-4e80-a305-f323bbab338f" "localhost:8000" "192.168.5.2:8080""#,
            Record(&[("cause", "stream_idle_timeout"), ("domain", "application"), ("reporter", "unknown")]),
        ),
    ];
    check_with(&["--format", format], &ws);
}

/// The judgement of a delay says it was injected and how long it took.
#[test]
fn an_injected_delay_is_a_finding_with_its_delay() {
    let line = r#"[2022-08-27T00:39:09.547Z] "GET /catalogue/3395a43e-2d88-40de-b95f-e00e1502085b HTTP/1.1" 200 DI via_upstream - "-" 0 286 10005 4 "-" "-" "d83fc92e-4781-99ec-91af-c523e55cdbce" "catalogue" "10.10.10.170:80" outbound|80||catalogue.sock-shop.svc.cluster.local 10.10.10.155:59312 172.20.246.13:80 10.10.10.155:40834 - -"#;
    let all = summaries(&[line]).join("\n");
    assert!(all.contains("fault_injected: \"1 requests (100.0% of outbound|80||catalogue.sock-shop.svc.cluster.local) were delayed by fault injection (DI) — median 10.0 s"), "{all}");
}
