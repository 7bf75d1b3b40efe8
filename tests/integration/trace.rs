//! `envoy-triage trace`: one request's records across files and pods, in hop order, and the
//! hop where its failure originated — on the real multi-proxy samples (sample-logs/ and their
//! kubectl-wrapped copies) and on a generated gateway → client sidecar → server sidecar chain
//! per failure kind (tests/data/trace/, described in its README). Exit codes as grep's: 0 every
//! id found, 1 one not found, 2 error.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::common::{bin, root, sample};

fn fixture(name: &str) -> String {
    root().join("tests/data/trace").join(name).display().to_string()
}

/// Runs `trace -o json` and returns (exit code, one parsed object per line, stderr).
fn traced(args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = bin().arg("trace").args(["-o", "json"]).args(args).output().unwrap();
    let code = out.status.code().expect("exited");
    let text = String::from_utf8(out.stdout).unwrap();
    let objects =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    (code, objects, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// (reporter, input file name, line) of each hop, in order.
fn hops(t: &Value) -> Vec<(String, String, u64)> {
    t["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let input = h["input"].as_str().unwrap();
            let file = input.rsplit('/').next().unwrap().to_string();
            (h["reporter"].as_str().unwrap().to_string(), file, h["line"].as_u64().unwrap())
        })
        .collect()
}

/// (1-based hop, place) of the origin.
fn origin(t: &Value) -> (u64, String) {
    (t["origin"]["hop"].as_u64().unwrap(), t["origin"]["place"].as_str().unwrap().to_string())
}

fn owned(v: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    v.iter().map(|(r, f, l)| (r.to_string(), f.to_string(), *l)).collect()
}

#[test]
fn the_real_samples_trace_across_hops_to_where_the_failure_began() {
    // Ids from sample-logs/ (real Envoy 1.40 set up as Istio proxies; README-real.md), read
    // with the whole directory as input: every file, every proxy.
    let dir = sample("");
    type Case<'c> = (&'c str, &'c [(&'c str, &'c str, u64)], (u64, &'c str));
    let cases: &[Case<'_>] = &[
        // The app bound to 127.0.0.1: the client's 503 via_upstream, the server's refusal.
        (
            "fd6eb3c7-bdb0-455b-8206-513d90478c8a",
            &[
                ("client_sidecar", "real-refused-localhost.log", 5),
                ("server_sidecar", "real-refused-localhost.log", 4),
            ],
            (2, "app"),
        ),
        // A 15 s route timeout at the gateway; the server sidecar saw it hang up.
        (
            "c4461b2c-48c5-45ef-a274-e414092c68b7",
            &[("gateway", "real-timeout-15s.log", 42), ("server_sidecar", "real-timeout-15s.log", 45)],
            (1, "gateway"),
        ),
        // The client gave up: DC at every hop.
        (
            "98bf5b67-e4a2-46fd-af53-5e671262734d",
            &[
                ("gateway", "real-client-disconnect.log", 9),
                ("server_sidecar", "real-client-disconnect.log", 10),
            ],
            (1, "caller"),
        ),
        // STRICT mTLS: the server's record has no request id; matched by address and time.
        (
            "024165e1-84ea-49f9-bd32-4bf2efc076f8",
            &[
                ("client_sidecar", "real-mtls-strict-plaintext.log", 13),
                ("server_sidecar", "real-mtls-strict-plaintext.log", 12),
            ],
            (1, "client_sidecar"),
        ),
    ];
    let mut args: Vec<&str> = cases.iter().flat_map(|(id, _, _)| ["-e", id]).collect();
    args.push(&dir);
    let (code, traces, err) = traced(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(traces.len(), cases.len());
    for (t, (id, want_hops, (hop, place))) in traces.iter().zip(cases) {
        assert_eq!(t["request_id"], *id);
        assert_eq!(hops(t), owned(want_hops), "{id}");
        assert_eq!(origin(t), (*hop, place.to_string()), "{id}: {}", t["origin"]["why"]);
    }
    let strict = &traces[3]["hops"];
    assert_eq!(strict[0]["matched_by"], "request_id");
    assert_eq!(strict[1]["matched_by"], "address_and_time");
    assert_eq!(strict[1]["response_code_details"], "filter_chain_not_found");
}

#[test]
fn wrapped_logs_name_each_hops_pod() {
    // kubectl logs --prefix: the pod names come with the lines.
    let (code, traces, err) = traced(&[
        "fd6eb3c7-bdb0-455b-8206-513d90478c8a",
        &sample("wrapped/real-refused-localhost.kubectl.log"),
    ]);
    assert_eq!(code, 0, "{err}");
    let pods: Vec<&str> =
        traces[0]["hops"].as_array().unwrap().iter().map(|h| h["pod"].as_str().unwrap()).collect();
    assert_eq!(pods, ["sleep-7656cf8794-9v2gq", "reviews-v1-5b5d6494f4-qg7lz"]);
    assert_eq!(origin(&traces[0]), (2, "app".to_string()));
    let why = traces[0]["origin"]["why"].as_str().unwrap();
    assert!(why.contains("127.0.0.41:9080") && why.contains("bound to 127.0.0.1"), "{why}");

    // The gateway is told by its pod name; the timeout there is the origin.
    let (code, traces, _) =
        traced(&["c4461b2c-48c5-45ef-a274-e414092c68b7", &sample("wrapped/real-timeout-15s.kubectl.log")]);
    assert_eq!(code, 0);
    assert_eq!(traces[0]["hops"][0]["pod"], "istio-ingressgateway-7d4f8b9c6-x2x9z");
    assert_eq!(origin(&traces[0]), (1, "gateway".to_string()));
}

#[test]
fn each_failure_kind_of_a_gateway_client_server_chain_originates_where_it_should() {
    const GW: &str = "gateway";
    const CS: &str = "client_sidecar";
    const SS: &str = "server_sidecar";
    // (file, id, reporters in order, (origin hop, place), words the why must hold)
    type Case<'c> = (&'c str, &'c str, &'c [&'c str], (u64, &'c str), &'c [&'c str]);
    let cases: &[Case<'_>] = &[
        (
            "refused-pod-ip.log",
            "3f9a2c71-5b4e-4d8a-a1f0-2c6e9b7d4a10",
            &[GW, CS, SS],
            (3, "app"),
            &["10.44.2.40:9080", "pod IP", "ss -ltn"],
        ),
        (
            "strict-mtls-plaintext.log",
            "9d0f6bc7-5a4e-4f9c-9d23-6b8a0c4e2f65",
            &[GW, CS, SS],
            (2, "client_sidecar"),
            &["plaintext", "STRICT", "DestinationRule"],
        ),
        (
            "app-5xx.log",
            "8e4b1d62-7c3a-4f19-b2e5-9d0a6c3f7e21",
            &[GW, CS, SS],
            (3, "app"),
            &["answered 500 itself"],
        ),
        (
            "gateway-timeout.log",
            "5a7c3e94-2d1b-4c6f-8a90-3e5d7f1b9c32",
            &[GW, CS, SS],
            (1, "gateway"),
            &["timeout", "(DC)"],
        ),
        (
            "circuit-breaker.log",
            "6b8d4fa5-3e2c-4d7a-9b01-4f6e8a2c0d43",
            &[GW, CS],
            (2, "client_sidecar"),
            &["circuit breaker", "connectionPool"],
        ),
        (
            "no-healthy.log",
            "7c9e5ab6-4f3d-4e8b-8c12-5a7f9b3d1e54",
            &[GW, CS],
            (2, "client_sidecar"),
            &["no healthy endpoint"],
        ),
    ];
    for (file, id, reporters, (hop, place), words) in cases {
        let (code, traces, err) = traced(&[id, &fixture(file)]);
        assert_eq!(code, 0, "{file}: {err}");
        let t = &traces[0];
        let got: Vec<String> = hops(t).into_iter().map(|h| h.0).collect();
        assert_eq!(got, *reporters, "{file}");
        assert_eq!(origin(t), (*hop, place.to_string()), "{file}: {}", t["origin"]["why"]);
        let why = t["origin"]["why"].as_str().unwrap();
        for w in *words {
            assert!(why.contains(w), "{file}: {w:?} not in {why:?}");
        }
    }
}

#[test]
fn a_record_without_the_id_is_matched_by_address_and_time_and_no_other() {
    // The server's filter_chain_not_found is line 6; line 4 is another client's connection at
    // the same moment, line 11 the same client port 40 s later (outside the client's span).
    let (code, traces, err) =
        traced(&["9d0f6bc7-5a4e-4f9c-9d23-6b8a0c4e2f65", &fixture("strict-mtls-plaintext.log")]);
    assert_eq!(code, 0, "{err}");
    let server = &traces[0]["hops"][2];
    assert_eq!(server["line"], 6);
    assert_eq!(server["matched_by"], "address_and_time");
    assert_eq!(server["request_id"], Value::Null, "{server}");
    assert_eq!(server["downstream_remote_address"], traces[0]["hops"][1]["upstream_local_address"]);
    // One line per hop on a wide terminal; a block per hop (the note on its first line, where
    // it was read on the next) on a usual one.
    let table = |columns: &str| {
        let out = bin()
            .env("COLUMNS", columns)
            .args(["trace", "9d0f6bc7-5a4e-4f9c-9d23-6b8a0c4e2f65", &fixture("strict-mtls-plaintext.log")])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let text = table("400");
    let matched: Vec<&str> = text.lines().filter(|l| l.contains("(matched by address and time)")).collect();
    assert_eq!(matched.len(), 1, "{text}");
    assert!(matched[0].contains("strict-mtls-plaintext.log:6"), "{text}");
    let text = table("80");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.contains("(matched by address and time)")).expect("the note");
    assert!(lines[at + 1].contains("strict-mtls-plaintext.log:6 · pod reviews-v1-"), "{text}");
    assert_eq!(text.matches("(matched by address and time)").count(), 1, "{text}");
}

#[test]
fn an_id_not_found_exits_1_and_says_which() {
    let out = bin()
        .args([
            "trace",
            "-e",
            "3f9a2c71-5b4e-4d8a-a1f0-2c6e9b7d4a10",
            "-e",
            "00000000-dead-beef-0000-000000000000",
        ])
        .arg(fixture("refused-pod-ip.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "envoy-triage: request id '00000000-dead-beef-0000-000000000000' not found in 9 records of 1 input\n"
    );
    // The id that was found is still traced.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("request 3f9a2c71-5b4e-4d8a-a1f0-2c6e9b7d4a10 "), "{text}");

    // In JSON every id has its object, in the order given.
    let (code, traces, _) =
        traced(&["-e", "nope", "-e", "3f9a2c71-5b4e-4d8a-a1f0-2c6e9b7d4a10", &fixture("refused-pod-ip.log")]);
    assert_eq!(code, 1);
    assert_eq!(traces[0]["request_id"], "nope");
    assert_eq!(traces[0]["found"], false);
    assert_eq!(traces[0]["hops"], serde_json::json!([]));
    assert_eq!(traces[0]["origin"], Value::Null);
    assert_eq!(traces[1]["found"], true);
}

#[test]
fn an_unreadable_input_exits_2_even_when_the_id_is_found() {
    let out = bin()
        .args([
            "trace",
            "3f9a2c71-5b4e-4d8a-a1f0-2c6e9b7d4a10",
            &fixture("refused-pod-ip.log"),
            "/nonexistent/x.log",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.log"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("originated at"));
}

#[test]
fn a_path_where_the_id_goes_is_said_rather_than_waiting_on_stdin() {
    let out = bin().args(["trace", &fixture("")]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a path, not a request id: give the id first"), "{err}");
    // With -e it is an input.
    let (code, _, err) = traced(&["-e", "6b8d4fa5-3e2c-4d7a-9b01-4f6e8a2c0d43", &fixture("")]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn ids_and_arguments_from_the_terminal_are_escaped() {
    let out = bin().args(["trace", "\x1b[31mred\u{202e}", &fixture("refused-pod-ip.log")]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'\\x1b[31mred\\u{202e}'"), "{err}");
    assert!(!err.contains('\x1b') && !err.contains('\u{202e}'), "{err:?}");
}

#[test]
fn the_json_shape_is_the_documented_one() {
    let (_, traces, _) = traced(&["3f9a2c71-5b4e-4d8a-a1f0-2c6e9b7d4a10", &fixture("refused-pod-ip.log")]);
    // Sorted: serde_json's map keeps keys in order of name.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let sorted = |k: &[&str]| {
        let mut k: Vec<String> = k.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    };
    assert_eq!(keys(&traces[0]), sorted(&["request_id", "found", "hops", "hops_not_shown", "origin"]));
    assert_eq!(
        keys(&traces[0]["hops"][0]),
        sorted(&[
            "hop",
            "reporter",
            "matched_by",
            "input",
            "line",
            "pod",
            "start_time",
            "method",
            "path",
            "authority",
            "response_code",
            "response_flags",
            "response_code_details",
            "upstream_transport_failure_reason",
            "failed",
            "cause",
            "duration_ms",
            "upstream_cluster",
            "upstream_host",
            "upstream_local_address",
            "downstream_local_address",
            "downstream_remote_address",
        ])
    );
    assert_eq!(keys(&traces[0]["origin"]), sorted(&["hop", "place", "why"]));
    let server = &traces[0]["hops"][2];
    assert_eq!(server["response_flags"], serde_json::json!(["UF"]));
    assert_eq!(server["cause"], "connection_refused");
    assert_eq!(server["start_time"], "2026-11-25T03:10:02.034Z");
    // The documentation lists every key.
    let doc = std::fs::read_to_string(root().join("docs/trace.md")).unwrap();
    for k in keys(&traces[0]).iter().chain(&keys(&traces[0]["hops"][0])) {
        assert!(doc.contains(&format!("`{k}`")), "docs/trace.md does not name `{k}`");
    }
}

#[test]
fn stdin_gzip_and_the_first_argument_rule() {
    let id = "6b8d4fa5-3e2c-4d7a-9b01-4f6e8a2c0d43";
    let text = std::fs::read(fixture("circuit-breaker.log")).unwrap();
    // No path, and `-`: stdin.
    for args in [vec![id], vec![id, "-"]] {
        let mut child = bin()
            .arg("trace")
            .args(&args)
            .args(["-o", "json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&text).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let t: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(t["hops"][1]["input"], "-");
        assert_eq!(origin(&t), (2, "client_sidecar".to_string()));
    }
    // gzip, in a directory walked recursively; with -e, the first argument is an input too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pods")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join("pods/cb.log.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&text).unwrap();
    gz.finish().unwrap();
    let other = fixture("no-healthy.log");
    let (code, traces, err) = traced(&[
        "-e",
        id,
        "-e",
        "7c9e5ab6-4f3d-4e8b-8c12-5a7f9b3d1e54",
        &other,
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(traces.len(), 2);
    assert!(traces[0]["hops"][0]["input"].as_str().unwrap().ends_with("cb.log.gz"));
    assert!(traces[1]["hops"][0]["input"].as_str().unwrap().ends_with("no-healthy.log"));
}

#[test]
fn the_table_of_one_trace_is_unchanged_at_any_thread_count() {
    // Relative paths from the crate root, so the snapshot holds no checkout path.
    let run = |threads: &str| {
        let out = bin()
            .current_dir(root())
            .args([
                "trace",
                "-j",
                threads,
                "fd6eb3c7-bdb0-455b-8206-513d90478c8a",
                "tests/data/encodings/wrapped/",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    insta::with_settings!({ description => "envoy-triage trace -j 1|2 fd6eb3c7-bdb0-455b-8206-513d90478c8a tests/data/encodings/wrapped/", omit_expression => true }, {
        insta::assert_snapshot!("trace_table", one);
    });
}

#[test]
fn an_id_thousands_of_records_share_keeps_the_first_thousand_and_says_so() {
    // A client that sends a fixed x-request-id: 2,500 records of one "request".
    let line = r#"[2026-11-25T02:30:52.320Z] "GET /reviews/1 HTTP/1.1" 503 - via_upstream - "-" 0 121 77 75 "-" "python-requests/2.31.0" "fixed-id" "reviews:9080" "127.0.0.40:9080" outbound|9080||reviews.bookinfo.svc.cluster.local 127.0.0.20:34052 127.0.1.2:9080 127.0.0.20:36111 - default"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixed.log");
    std::fs::write(&path, format!("{line}\n").repeat(2_500)).unwrap();
    let path = path.display().to_string();
    let run = |threads: &str| traced(&["-j", threads, "fixed-id", &path]);
    let (code, one, err) = run("1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(one, run("3").1, "the same records at any thread count");
    let t = &one[0];
    assert_eq!(t["hops"].as_array().unwrap().len(), 1_000);
    assert_eq!(t["hops_not_shown"], 1_500);
    let lines: Vec<u64> = t["hops"].as_array().unwrap().iter().map(|h| h["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, (1..=1_000).collect::<Vec<u64>>());
    let table = bin().env("COLUMNS", "400").args(["trace", "fixed-id", &path]).output().unwrap();
    let head = String::from_utf8(table.stdout).unwrap();
    assert!(
        head.lines().next().unwrap().ends_with("· 1000 hops · 1500 more records of this id not shown"),
        "{head:.300}"
    );
}

#[test]
fn past_twenty_thousand_records_without_an_id_the_rest_are_counted_and_said() {
    // 25,000 connections a STRICT server closed, each from another client port, and a traced
    // request: memory stays bounded, and stderr says what matching by address could not see.
    let mut text = std::fs::read_to_string(fixture("circuit-breaker.log")).unwrap();
    for i in 0..25_000u32 {
        text.push_str(&format!(
            "[2026-11-25T03:11:{:02}.{:03}Z] \"- - -\" 0 NR filter_chain_not_found - \"-\" 0 0 0 - \"-\" \"-\" \"-\" \"-\" \"-\" - - 10.44.2.40:9080 10.44.{}.{}:{} - -\n",
            i / 1000 % 60,
            i % 1000,
            i % 200,
            i % 250,
            20_000 + i % 40_000
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.log");
    std::fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    let run = |threads: &str| traced(&["-j", threads, "6b8d4fa5-3e2c-4d7a-9b01-4f6e8a2c0d43", &path]);
    let (code, one, err) = run("1");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        "envoy-triage: 5000 failed records without a request id were not kept for matching by address \
         (at most 20000 are kept, chosen by address): if a hop is missing, trace fewer inputs, or only \
         the proxies of this request\n"
    );
    assert_eq!((one.clone(), err), {
        let (_, v, e) = run("2");
        (v, e)
    });
    assert_eq!(origin(&one[0]), (2, "client_sidecar".to_string()));
}
