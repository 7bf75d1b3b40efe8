//! Filters and views on the real samples: the counts under each filter equal what a jq-like
//! selection over `--output records` gives (done here with serde_json, so CI needs no jq);
//! records outside the filters are counted, never dropped; relative times count back from the
//! log's own last record; `--sort` orders the upstreams; bad values exit 2 naming the flag.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::common::{bin, json_of, samples, totals};
use crate::live::Live;

/// Every record of sample-logs/ as `--output records` gives it, without filters.
fn all_records() -> Vec<Value> {
    records_of(&[samples().to_str().unwrap()])
}

fn records_of(args: &[&str]) -> Vec<Value> {
    let out = bin().args(["--output", "records"]).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn code(r: &Value) -> Option<u64> {
    r["response_code"].as_u64()
}

fn cluster(r: &Value) -> &str {
    r["upstream_cluster"].as_str().unwrap_or("-")
}

/// The namespace of the service an `outbound|port|subset|svc.NS.svc.cluster.local` names.
fn service_ns(r: &Value) -> Option<&str> {
    let host = cluster(r).strip_prefix("outbound|")?.rsplit('|').next()?;
    let labels: Vec<&str> = host.split('.').collect();
    (labels.len() >= 3 && labels[2] == "svc").then(|| labels[1])
}

fn start(r: &Value) -> &str {
    r["start_time"].as_str().unwrap_or("")
}

type Select = fn(&Value) -> bool;

/// Each filter, and the selection over records that must give the same count.
const CASES: &[(&[&str], Select)] = &[
    (&["--code", "5xx"], |r| code(r).is_some_and(|c| (500..600).contains(&c))),
    (&["--code", "503,0", "--code", "404"], |r| matches!(code(r), Some(503 | 0 | 404))),
    (&["--code", "2xx"], |r| code(r).is_some_and(|c| (200..300).contains(&c))),
    (&["--upstream", "*reviews*"], |r| cluster(r).contains("reviews")),
    (&["--upstream", "outbound|8080||*"], |r| cluster(r).starts_with("outbound|8080||")),
    (&["--upstream", "inbound|*", "--upstream", "PassthroughCluster"], |r| {
        cluster(r).starts_with("inbound|") || cluster(r) == "PassthroughCluster"
    }),
    (&["--cause", "route_timeout"], |r| r["cause"] == "route_timeout"),
    (&["--cause", "tls_failure", "--cause", "connection_refused"], |r| {
        r["cause"] == "tls_failure" || r["cause"] == "connection_refused"
    }),
    (&["--reporter", "client_sidecar"], |r| r["reporter"] == "client_sidecar"),
    (&["--reporter", "gateway", "--reporter", "server_sidecar"], |r| {
        r["reporter"] == "gateway" || r["reporter"] == "server_sidecar"
    }),
    (&["--namespace", "shop"], |r| r["namespace"] == "shop" || service_ns(r) == Some("shop")),
    (&["--namespace", "bookinfo", "--namespace", "foo"], |r| {
        matches!(service_ns(r), Some("bookinfo" | "foo"))
            || r["namespace"] == "bookinfo"
            || r["namespace"] == "foo"
    }),
    // Canonical UTC times order like their text: since inclusive, until exclusive.
    (&["--since", "2026-11-25T02:31:00Z"], |r| start(r) >= "2026-11-25T02:31:00.000Z"),
    (&["--until", "2026-11-25T02:31:00"], |r| !start(r).is_empty() && start(r) < "2026-11-25T02:31:00.000Z"),
    (&["--since", "2026-11-25T02:30:40+00:00", "--until", "2026-11-25 02:31:10"], |r| {
        start(r) >= "2026-11-25T02:30:40.000Z" && start(r) < "2026-11-25T02:31:10.000Z"
    }),
    (&["--code", "5xx", "--reporter", "client_sidecar", "--namespace", "shop"], |r| {
        code(r).is_some_and(|c| (500..600).contains(&c))
            && r["reporter"] == "client_sidecar"
            && (r["namespace"] == "shop" || service_ns(r) == Some("shop"))
    }),
];

#[test]
fn counts_under_each_filter_equal_a_selection_over_the_records() {
    let all = all_records();
    let dir = samples();
    let dir = dir.to_str().unwrap();
    let (lines, records, skipped, malformed) = totals(&json_of(&[dir]).1);
    assert_eq!(records, all.len() as u64);
    for (args, select) in CASES {
        let want: Vec<&Value> = all.iter().filter(|r| select(r)).collect();
        let n = want.len() as u64;
        assert!(n > 0 && n < records, "{args:?} selects {n} of {records}: not a telling case");
        let (code, v, stderr) = json_of(&[&[dir][..], args].concat());
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let t = &v["totals"];
        assert_eq!(t["analysed"], n, "{args:?}");
        assert_eq!(t["filtered_out"], records - n, "{args:?}");
        // Nothing is dropped: every line is still one of record, skipped, malformed.
        assert_eq!(totals(&v), (lines, records, skipped, malformed), "{args:?}");
        let failed = want.iter().filter(|r| r["failed"] == true).count() as u64;
        assert_eq!(t["failed"], failed, "{args:?}");
        let by_upstream: u64 =
            v["upstreams"].as_array().unwrap().iter().map(|u| u["requests"].as_u64().unwrap()).sum();
        assert_eq!(by_upstream, n, "{args:?}: the upstreams hold the analysed records");
        // The records output prints exactly the matching records.
        let got = records_of(&[&[dir][..], args].concat());
        assert_eq!(got.len() as u64, n, "{args:?}");
        assert!(got.iter().all(select), "{args:?}: a record outside the filter was printed");
    }
}

#[test]
fn a_filtered_report_is_the_same_at_any_thread_count() {
    let dir = samples();
    let args = ["--code", "5xx,0", "--namespace", "shop", dir.to_str().unwrap()];
    let one = json_of(&[&["-j", "1"][..], &args].concat()).1;
    for j in ["2", "5"] {
        assert_eq!(json_of(&[&["-j", j][..], &args].concat()).1, one, "-j {j}");
    }
}

#[test]
fn the_filters_are_said_in_the_table_and_the_json() {
    let dir = samples();
    let dir = dir.to_str().unwrap();
    let out =
        bin().args([dir, "--code", "5xx", "--cause", "route_timeout", "--color", "never"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (_, v, _) = json_of(&[dir, "--code", "5xx", "--cause", "route_timeout"]);
    let outside = v["totals"]["filtered_out"].as_u64().unwrap();
    let line = format!("filter: --code 5xx · --cause route_timeout · {outside} records outside");
    assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    let f = &v["filters"];
    assert_eq!(f["code"], serde_json::json!(["5xx"]));
    assert_eq!(f["cause"], serde_json::json!(["route_timeout"]));
    assert_eq!(f["since"], Value::Null);
    // Filters nothing passes: said as such, not as "no failed requests".
    let out =
        bin().args([dir, "--code", "200", "--cause", "no_cluster", "--color", "never"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let all = json_of(&[dir]).1["totals"]["records"].as_u64().unwrap();
    let all = envoy_triage::report::table::thousands(all);
    assert!(text.contains(&format!("· {all} records outside\n\nNo record within the filters.\n")), "{text}");
    // Without filters, nothing is said.
    let (_, plain, _) = json_of(&[dir]);
    assert!(plain.get("filters").is_none());
    assert_eq!(plain["totals"]["filtered_out"], 0);
    assert_eq!(plain["totals"]["analysed"], plain["totals"]["records"]);
}

#[test]
fn fail_on_is_evaluated_on_the_filtered_records() {
    let dir = samples();
    let dir = dir.to_str().unwrap();
    let run = |extra: &[&str]| {
        let out =
            bin().args([dir, "-o", "json", "--fail-on", "count(5xx) > 0"]).args(extra).output().unwrap();
        out.status.code()
    };
    assert_eq!(run(&[]), Some(1));
    assert_eq!(run(&["--code", "2xx"]), Some(0), "no 5xx among the 2xx records");
    // A rate's base is the analysed records: every one of the 5xx records is a 5xx.
    let out =
        bin().args([dir, "-o", "json", "--code", "5xx", "--fail-on", "rate(5xx) < 100%"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An Istio access-log line that started at `t`, with a given code.
fn line_at(t: &str, code: u16) -> String {
    format!(
        r#"[{t}] "GET /x HTTP/1.1" {code} - via_upstream - "-" 0 24 10 9 "-" "curl" "id-{t}" "httpbin:8000" "10.0.0.30:8080" outbound|8000||httpbin.foo.svc.cluster.local 10.0.0.1:5000 10.0.0.10:8000 10.0.0.1:4000 - default"#
    )
}

/// A log of one request a minute from 01:00 to 02:00 (61 records), then one logged last that
/// started at 01:30 (a slow one): its last line is not its latest start.
fn an_hour_of_records() -> String {
    let mut text = String::new();
    for m in 0..=60 {
        let t = format!("2026-11-25T{:02}:{:02}:00.000Z", 1 + m / 60, m % 60);
        text += &line_at(&t, if m % 2 == 0 { 200 } else { 503 });
        text.push('\n');
    }
    text + &line_at("2026-11-25T01:30:00.000Z", 200) + "\n"
}

#[test]
fn a_relative_since_counts_back_from_the_logs_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hour.log");
    std::fs::write(&path, an_hour_of_records()).unwrap();
    let p = path.to_str().unwrap();
    // 02:00 − 10m = 01:50: 01:50 … 02:00 are 11 records, whatever the clock says now.
    let (code, v, stderr) = json_of(&[p, "--since", "10m"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(v["totals"]["analysed"], 11);
    assert_eq!(v["totals"]["filtered_out"], 62 - 11);
    assert_eq!(v["filters"]["since"], "2026-11-25T01:50:00.000Z");
    assert_eq!(v["filters"]["since_arg"], "10m");
    assert_eq!(v["filters"]["anchor"], "2026-11-25T02:00:00.000Z");
    // --until too: before 02:00 − 50m = 01:10, from 01:00: 10 records.
    let (_, v, _) = json_of(&[p, "--since", "1h", "--until", "50m"]);
    assert_eq!(v["totals"]["analysed"], 10);
    // Stdin redirected from the file is a file: read back from its end the same way.
    let out = bin()
        .args(["-o", "json", "--since", "10m"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["analysed"], 11);
}

#[test]
fn a_relative_since_reads_the_whole_file_when_its_end_has_no_record_and_gzip_whole() {
    let dir = tempfile::tempdir().unwrap();
    // The last 5 MiB are the proxy's own chatter: no record to count back from there.
    let mut text = an_hour_of_records();
    let chatter = "2026-11-25T03:00:00.000000Z\twarning\tenvoy main\tthere is no configured limit to the number of allowed active connections\n";
    while text.len() < 5 << 20 {
        text.push_str(chatter);
    }
    let path = dir.path().join("chatty.log");
    std::fs::write(&path, &text).unwrap();
    let (code, v, stderr) = json_of(&[path.to_str().unwrap(), "--since", "10m"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(v["totals"]["skipped"].as_u64().unwrap() > 1000, "the chatter is skipped, not records");
    assert_eq!(v["totals"]["analysed"], 11);
    assert_eq!(v["filters"]["anchor"], "2026-11-25T02:00:00.000Z");
    // gzip has no end to seek to: read whole first.
    let gz_path = dir.path().join("hour.log.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(an_hour_of_records().as_bytes()).unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let (_, v, _) = json_of(&[gz_path.to_str().unwrap(), "--since", "10m"]);
    assert_eq!(v["totals"]["analysed"], 11);
}

#[test]
fn a_relative_time_on_a_piped_stdin_is_refused_with_what_to_do() {
    let mut child = bin()
        .args(["-o", "json", "--since", "10m"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written on a thread: the run may refuse before reading any of it.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(an_hour_of_records().as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("envoy-triage: --since 10m counts back from the log's last record"), "{err}");
    assert!(err.contains("give an absolute time (--since 2026-11-25T02:30:00Z)"), "{err}");
    // An absolute time needs nothing first.
    let mut child = bin()
        .args(["-o", "json", "--since", "2026-11-25T01:50:00Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(an_hour_of_records().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["analysed"], 11);
}

#[test]
fn live_mode_filters_every_tick_and_counts_back_from_now() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hour.log");
    std::fs::write(&path, an_hour_of_records()).unwrap();
    let p = path.to_str().unwrap();
    let mut live = Live::start(&["--follow", "--from-start", p, "--code", "503"], Stdio::null());
    let tick = live.wait_records(62);
    assert_eq!(tick["totals"]["analysed"], 30);
    assert_eq!(tick["totals"]["filtered_out"], 32);
    assert_eq!(tick["filters"]["code"], serde_json::json!(["503"]));
    let summary = live.stop_with("INT");
    assert_eq!(summary["totals"]["analysed"], 30);
    // Live, a span counts back from now, not from the log's last record.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let before = envoy_triage::summary::format_epoch_ms(now);
    let mut live = Live::start(&["--follow", "--from-start", p, "--since", "10m"], Stdio::null());
    let tick = live.wait_records(62);
    let anchor = tick["filters"]["anchor"].as_str().unwrap().to_string();
    assert!(anchor >= before, "the anchor {anchor} is now (after {before}), not the log's end");
    live.stop_with("INT");
}

#[test]
fn sort_orders_the_upstreams_by_what_it_names() {
    let dir = samples();
    let dir = dir.to_str().unwrap();
    let p99 = |u: &Value| u["duration_ms"]["p99"].as_u64();
    let rate = |u: &Value| u["failed"].as_f64().unwrap() / u["requests"].as_f64().unwrap().max(1.0);
    for (by, name) in [
        (None, "failed"),
        (Some("failed"), "failed"),
        (Some("requests"), "requests"),
        (Some("fail-rate"), "fail-rate"),
        (Some("p99"), "p99"),
    ] {
        let mut args = vec![dir];
        if let Some(by) = by {
            args.extend(["--sort", by]);
        }
        let (code, v, _) = json_of(&args);
        assert_eq!(code, 0);
        assert_eq!(v["upstreams_sorted_by"], name);
        let ups = v["upstreams"].as_array().unwrap();
        assert!(ups.len() > 3);
        for w in ups.windows(2) {
            let ok = match name {
                "failed" => w[0]["failed"].as_u64() >= w[1]["failed"].as_u64(),
                "requests" => w[0]["requests"].as_u64() >= w[1]["requests"].as_u64(),
                "fail-rate" => rate(&w[0]) >= rate(&w[1]),
                _ => p99(&w[0]) >= p99(&w[1]),
            };
            assert!(ok, "--sort {name}: {} before {}", w[0], w[1]);
        }
    }
    // The default puts a failing upstream first, and the table says the order.
    let (_, v, _) = json_of(&[dir]);
    assert!(v["upstreams"][0]["failed"].as_u64().unwrap() > 0);
    let out = bin().args([dir, "--sort", "p99", "--color", "never"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let title = text.lines().find(|l| l.starts_with("UPSTREAMS")).unwrap();
    assert!(title.starts_with("UPSTREAMS (10 of ") && title.contains(" by p99 — --top "), "{text}");
}

#[test]
fn bad_filter_values_exit_2_naming_the_flag_and_what_it_takes() {
    let dir = samples();
    let dir = dir.to_str().unwrap();
    for (args, want) in [
        (
            &["--since", "yesterday"][..],
            "envoy-triage: --since: cannot read 'yesterday': give a time (2026-11-25T02:30:00Z",
        ),
        (&["--until", "2026-11-25T25:00:00Z"], "envoy-triage: --until: cannot read '2026-11-25T25:00:00Z'"),
        (&["--since", "10"], "envoy-triage: --since: cannot read '10'"),
        (&["--since", "2026-11-25T03:00:00Z", "--until", "2026-11-25T02:00:00Z"], "is not before --until"),
        (
            &["--code", "503,5x"],
            "envoy-triage: --code: cannot read '5x': give a status (503), a class (5xx, 4xx) or 0",
        ),
        (
            &["--cause", "route-timeout"],
            "envoy-triage: --cause: no cause 'route-timeout' (did you mean 'route_timeout'?); causes: route_timeout,",
        ),
        (
            &["--reporter", "client-sidecar"],
            "envoy-triage: --reporter: no reporter 'client-sidecar' (did you mean 'client_sidecar'?); reporters: gateway,",
        ),
        (&["--upstream", "outbound|[9080"], "envoy-triage: --upstream: bad pattern 'outbound|[9080'"),
        (&["--namespace", ""], "envoy-triage: --namespace: give a namespace name"),
        (&["--sort", "slowest"], "envoy-triage: invalid value 'slowest' for '--sort <BY>'"),
    ] {
        let out = bin().arg(dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: no report");
    }
}

#[test]
fn namespace_from_a_kubelet_path_is_filtered_on_and_shown_in_the_records() {
    let dir = tempfile::tempdir().unwrap();
    for (ns, pod, n) in
        [("shop", "checkout-7b9c8d6f5-w3x4v", 3), ("bookinfo", "reviews-v1-5c9d7f8b6-abcde", 5)]
    {
        let d = dir.path().join("pods").join(format!("{ns}_{pod}_0c1d2e3f")).join("istio-proxy");
        std::fs::create_dir_all(&d).unwrap();
        let text: String =
            (0..n).map(|i| line_at(&format!("2026-11-25T01:00:0{i}.000Z"), 200) + "\n").collect();
        std::fs::write(d.join("0.log"), text).unwrap();
    }
    let root = dir.path().join("pods");
    let root = root.to_str().unwrap();
    // The lines call httpbin.foo: only the path says shop.
    let (_, v, _) = json_of(&[root, "--namespace", "shop"]);
    assert_eq!(v["totals"]["analysed"], 3);
    assert_eq!(v["totals"]["filtered_out"], 5);
    let got = records_of(&[root, "--namespace", "shop"]);
    assert_eq!(got.len(), 3);
    for r in &got {
        assert_eq!(r["namespace"], "shop", "{r}");
        assert_eq!(r["pod"], "checkout-7b9c8d6f5-w3x4v", "{r}");
        assert_eq!(r["container"], "istio-proxy", "{r}");
    }
    // And the service's namespace from the cluster name matches every record.
    assert_eq!(json_of(&[root, "--namespace", "foo"]).1["totals"]["analysed"], 8);
}
