//! The `--listen` exporter end to end: a run following kubelet-shaped log paths serves exactly
//! what batch mode counts on the same lines; counters never go backwards through rotation,
//! kubelet compression and folding; `promtool` accepts the exposition and the alert rules
//! under deploy/; and a real Prometheus scraping the agent answers PromQL with the exact
//! values. Every wait is for a condition with a generous deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, json_of, root, sample_lines};

/// Longer than the live tests' deadline: a real Prometheus starts, scrapes every second and
/// evaluates; on a loaded 2-core CI machine that can take a while.
const DEADLINE: Duration = Duration::from_secs(90);

fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where kubelet writes a container's log: the namespace is in the path.
fn pod_log(root: &Path, ns: &str, pod: &str) -> PathBuf {
    let dir = root.join(format!("var/log/pods/{ns}_{pod}_0d1f5b0e-{pod}/istio-proxy"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("0.log")
}

fn append(path: &Path, lines: &[String]) {
    let mut f = OpenOptions::new().create(true).append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Real lines meeting real failures: timeouts at 15 s, mTLS, no healthy upstream, a circuit
/// breaker, connection refused, startup noise (skipped lines) and a healthy baseline.
fn incident_lines() -> Vec<String> {
    [
        "real-timeout-15s.log",
        "real-mtls-strict-plaintext.log",
        "real-no-healthy.log",
        "real-circuit-breaker.log",
        "real-refused-localhost.log",
        "real-mixed-proxy-output.log",
    ]
    .iter()
    .flat_map(|f| sample_lines(f))
    .collect()
}

/// An `envoy-triage --follow … --listen 127.0.0.1:0` run; the port is read from its stderr.
struct Agent {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    fn start(args: &[&str]) -> Agent {
        let mut child = bin()
            .args(["--listen", "127.0.0.1:0", "--interval", "0.1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let port = wait_until("the agent to say where it serves", || {
            stderr.lock().unwrap().iter().find_map(|l| {
                let rest = l.strip_prefix("envoy-triage: serving metrics on http://127.0.0.1:")?;
                rest.strip_suffix("/metrics")?.parse().ok()
            })
        });
        Agent { child, port, stderr }
    }

    fn scrape(&self) -> Exposition {
        let (status, head, body) = get(self.port, "/metrics", None);
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
        Exposition::parse(&body)
    }

    /// Scrapes until `cond` holds; returns that scrape.
    fn scrape_until(&self, what: &str, cond: impl Fn(&Exposition) -> bool) -> Exposition {
        wait_until(what, || Some(self.scrape()).filter(|e| cond(e)))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("agent stderr:\n{}", self.stderr.lock().unwrap().join("\n"));
        }
    }
}

/// One HTTP/1.1 GET: (status, head lowercased, body).
fn get(port: u16, path: &str, accept: Option<&str>) -> (u16, String, String) {
    request(port, "GET", path, accept)
}

fn request(port: u16, method: &str, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}Connection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let head = head.to_lowercase();
    let body = if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    (status, head, body)
}

/// The body of a chunked response (Prometheus' API sends larger answers so).
fn dechunk(mut raw: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, rest) = raw.split_once("\r\n").expect("a chunk size");
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        body.push_str(&rest[..size]);
        raw = &rest[size + 2..];
    }
}

/// A parsed exposition: (metric name, labels, value) per sample.
#[derive(Debug)]
struct Exposition {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    text: String,
}

impl Exposition {
    fn parse(text: &str) -> Exposition {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("a value: {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), BTreeMap::new()),
                Some((name, rest)) => (name.to_string(), labels(rest.strip_suffix('}').unwrap())),
            };
            samples.push((name, labels, value));
        }
        Exposition { samples, text: text.to_string() }
    }

    fn value(&self, name: &str) -> f64 {
        let mut found = self.samples.iter().filter(|(n, l, _)| n == name && l.is_empty());
        let v = found.next().unwrap_or_else(|| panic!("no {name} in\n{}", self.text)).2;
        assert!(found.next().is_none());
        v
    }

    /// `sum by (label) (name)`, as integers.
    fn sum_by(&self, name: &str, label: &str) -> BTreeMap<String, u64> {
        let mut by = BTreeMap::new();
        for (n, l, v) in &self.samples {
            if n == name {
                *by.entry(l.get(label).cloned().unwrap_or_default()).or_insert(0) += *v as u64;
            }
        }
        by
    }

    /// Every series (name and labels) with its value.
    fn series(&self) -> BTreeMap<String, f64> {
        self.samples.iter().map(|(n, l, v)| (format!("{n}{l:?}"), *v)).collect()
    }
}

/// `a="x",b="y\"z"` → {a: x, b: y"z}.
fn labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert_eq!(chars.next(), Some('"'));
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(match chars.next().unwrap() {
                    'n' => '\n',
                    c => c,
                }),
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(name.trim_start_matches(',').to_string(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    out
}

/// What batch mode says about `file`: its JSON summary.
fn batch(file: &Path) -> Value {
    let (code, v, err) = json_of(&[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    v
}

/// What batch mode says about each record of `file` (`--output records`).
fn records_of(file: &Path) -> Vec<Value> {
    let out = bin().arg(file).args(["-o", "records"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().map(|r| serde_json::from_str(r).unwrap()).collect()
}

/// Requests per upstream that took (15 s, 15.05 s]: the wall a 15 s route timeout makes (Envoy
/// logs 15000–15002 ms).
fn wall_of(file: &Path) -> BTreeMap<String, u64> {
    let mut wall = BTreeMap::new();
    for r in records_of(file) {
        if r["duration_ms"].as_u64().is_some_and(|ms| ms > 15_000 && ms <= 15_050) {
            *wall.entry(r["upstream_cluster"].as_str().unwrap_or("-").to_string()).or_insert(0) += 1;
        }
    }
    wall
}

fn counts_of(map: &Value) -> BTreeMap<String, u64> {
    map.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect()
}

#[test]
fn the_endpoint_counts_exactly_what_batch_mode_counts() {
    let dir = tempfile::tempdir().unwrap();
    let log = pod_log(dir.path(), "shop", "checkout-7d9f");
    std::fs::write(&log, "").unwrap();
    let pattern = format!("{}/var/log/pods/*/istio-proxy/*.log", dir.path().display());
    let agent = Agent::start(&["--follow", &pattern]);
    agent.scrape_until("the file to be followed", |e| e.value("envoy_triage_files_followed") == 1.0);

    let lines = incident_lines();
    append(&log, &lines);
    let want = batch(&log);
    let t = &want["totals"];
    let n = lines.len() as f64;
    assert_eq!(t["lines"].as_u64(), Some(lines.len() as u64));
    let e = agent.scrape_until("every line counted", |e| {
        e.value("envoy_triage_lines_total") == n
            && e.sum_by("envoy_triage_requests_total", "").values().sum::<u64>() as f64
                == t["records"].as_f64().unwrap()
    });

    assert_eq!(e.value("envoy_triage_records_total"), t["records"].as_f64().unwrap());
    assert_eq!(e.value("envoy_triage_skipped_lines_total"), t["skipped"].as_f64().unwrap());
    assert_eq!(e.value("envoy_triage_malformed_lines_total"), t["malformed"].as_f64().unwrap());
    assert!(t["skipped"].as_u64().unwrap() > 0, "the mixed proxy output has startup lines");
    assert_eq!(e.value("envoy_triage_read_bytes_total"), std::fs::metadata(&log).unwrap().len() as f64);
    assert_eq!(e.value("envoy_triage_follow_lag_bytes"), 0.0);

    // Failures by cause, domain and reporter, as the batch summary has them.
    let failed = "envoy_triage_failed_requests_total";
    assert_eq!(e.sum_by(failed, "cause"), counts_of(&want["by_cause"]));
    assert_eq!(e.sum_by(failed, "domain"), counts_of(&want["by_domain"]));
    assert!(e.sum_by(failed, "cause").len() >= 5, "{:?}", e.sum_by(failed, "cause"));
    assert_eq!(
        e.sum_by(failed, "namespace"),
        BTreeMap::from([("shop".to_string(), t["failed"].as_u64().unwrap())]),
        "the namespace comes from the kubelet path"
    );
    assert_eq!(
        e.sum_by("envoy_triage_requests_total", "namespace"),
        BTreeMap::from([("shop".to_string(), t["records"].as_u64().unwrap())])
    );
    // Requests per upstream cluster.
    // Inbound clusters repeat across workloads, each its own row in the summary: summed here.
    let mut upstreams: BTreeMap<String, u64> = BTreeMap::new();
    for u in want["upstreams"].as_array().unwrap() {
        *upstreams.entry(u["cluster"].as_str().unwrap().to_string()).or_insert(0) +=
            u["requests"].as_u64().unwrap();
    }
    assert_eq!(e.sum_by("envoy_triage_requests_total", "upstream_cluster"), upstreams);
    // 5xx by code class: the batch summary's codes 500–599.
    let fives: u64 =
        counts_of(&want["by_code"]).iter().filter(|(c, _)| c.starts_with('5')).map(|(_, n)| n).sum();
    assert_eq!(e.sum_by("envoy_triage_requests_total", "code_class")["5xx"], fives);

    // The wall at 15 s: requests cut by the route timeout land in the (15 s, 15.05 s] bucket,
    // counted against the per-record output of the same lines.
    let wall = wall_of(&log);
    assert!(!wall.is_empty(), "the sample has requests cut at 15 s");
    let bucket = |le: &str| -> BTreeMap<String, u64> {
        let mut by = BTreeMap::new();
        for (n, l, v) in &e.samples {
            if n == "envoy_triage_request_duration_seconds_bucket" && l["le"] == le {
                by.insert(l["upstream_cluster"].clone(), *v as u64);
            }
        }
        by
    };
    let (b15, slack) = (bucket("15"), bucket("15.05"));
    let in_wall: BTreeMap<String, u64> =
        slack.iter().map(|(k, v)| (k.clone(), v - b15[k])).filter(|(_, v)| *v > 0).collect();
    assert_eq!(in_wall, wall);

    // The other endpoints and formats.
    let (status, _, body) = get(agent.port, "/healthz", None);
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    assert_eq!(get(agent.port, "/nope", None).0, 404);
    assert_eq!(request(agent.port, "POST", "/metrics", None).0, 405);
    let (status, head, body) =
        get(agent.port, "/metrics", Some("application/openmetrics-text; version=1.0.0"));
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/openmetrics-text; version=1.0.0"), "{head}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(body.contains("# TYPE envoy_triage_failed_requests counter"), "{body}");

    // promtool's linter (naming, help, units) on the Prometheus text exposition.
    if let Some(promtool) = tool("promtool") {
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check.stdin.take().unwrap().write_all(e.text.as_bytes()).unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every scrape's counters are at least the previous scrape's, and no series disappears,
/// through rename rotation, kubelet compression of the old file, lines written to the renamed
/// file, a new pod's file and upstream names beyond `--max-clusters`.
#[test]
fn counters_never_go_backwards_across_rotation_and_folding() {
    let dir = tempfile::tempdir().unwrap();
    let log = pod_log(dir.path(), "shop", "gateway-5c6d");
    std::fs::write(&log, "").unwrap();
    let pods = format!("{}/var/log/pods", dir.path().display());
    let live = format!("{pods}/*/istio-proxy/*.log");
    let rotated = format!("{pods}/*/istio-proxy/*.log.*");
    let agent = Agent::start(&["--follow", &live, &rotated, "--max-clusters", "3"]);
    agent.scrape_until("the file to be followed", |e| e.value("envoy_triage_files_followed") >= 1.0);

    let lines = incident_lines();
    let mut history: Vec<BTreeMap<String, f64>> = Vec::new();
    let mut written = 0usize;
    let third = lines.len() / 3;
    step(&agent, &log, &lines[..third], &mut written, &mut history);
    // kubelet's rotation: rename, a new file, the old one compressed later; the writer may
    // still add to the renamed file before it is compressed.
    let old = log.with_file_name("0.log.20261204-101500");
    std::fs::rename(&log, &old).unwrap();
    step(&agent, &old, &lines[third..third + 10], &mut written, &mut history);
    step(&agent, &log, &lines[third + 10..2 * third], &mut written, &mut history);
    let data = std::fs::read(&old).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data).unwrap();
    std::fs::write(old.with_file_name("0.log.20261204-101500.gz"), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(&old).unwrap();
    // A new pod in another namespace.
    let other = pod_log(dir.path(), "payments", "api-66f8");
    step(&agent, &other, &lines[2 * third..], &mut written, &mut history);

    let e = agent.scrape();
    monotonic(&mut history, &e);
    assert_eq!(e.value("envoy_triage_lines_total"), lines.len() as f64);
    let clusters = e.sum_by("envoy_triage_requests_total", "upstream_cluster");
    assert_eq!(clusters.len(), 4, "3 names kept and (other): {clusters:?}");
    assert!(clusters.contains_key("(other)"), "{clusters:?}");
    let namespaces: BTreeSet<String> =
        e.sum_by("envoy_triage_failed_requests_total", "namespace").into_keys().collect();
    assert_eq!(namespaces, BTreeSet::from(["payments".to_string(), "shop".to_string()]));
    assert!(history.len() >= 5);
}

/// Appends `part` to `path`, then scrapes until every line written so far is counted, checking
/// each scrape against the ones before.
fn step(
    agent: &Agent,
    path: &Path,
    part: &[String],
    written: &mut usize,
    history: &mut Vec<BTreeMap<String, f64>>,
) {
    append(path, part);
    *written += part.len();
    let want = *written as f64;
    wait_until(&format!("{want} lines"), || {
        let e = agent.scrape();
        monotonic(history, &e);
        (e.value("envoy_triage_lines_total") == want).then_some(())
    });
}

/// Checks that no counter of `e` is below its value in the last scrape and no series is gone.
fn monotonic(history: &mut Vec<BTreeMap<String, f64>>, e: &Exposition) {
    let now = e.series();
    if let Some(before) = history.last() {
        for (series, was) in before {
            if series.contains("files_followed") || series.contains("follow_lag") {
                continue; // gauges
            }
            let is = now.get(series).unwrap_or_else(|| panic!("{series} disappeared"));
            assert!(is >= was, "{series} went back from {was} to {is}");
        }
    }
    history.push(now);
}

/// Debian's `prometheus` package gives `prometheus` and `promtool`.
fn tool(name: &str) -> Option<PathBuf> {
    crate::common::system_tool(&[name], "apt-get install prometheus")
}

#[test]
fn promtool_accepts_the_alert_rules_and_their_tests() {
    let Some(promtool) = tool("promtool") else { return };
    let rules = root().join("deploy/prometheus/alerts.yml");
    let tests = root().join("deploy/prometheus/alerts_test.yml");
    for args in [["check", "rules"].as_slice(), ["test", "rules"].as_slice()] {
        let file = if args[0] == "check" { &rules } else { &tests };
        let out = Command::new(&promtool).args(args).arg(file).output().unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The operator's PrometheusRule carries the same groups as the plain rule file.
    let plain = std::fs::read_to_string(&rules).unwrap();
    let operator = std::fs::read_to_string(root().join("deploy/prometheus-rule.yaml")).unwrap();
    let spec = operator.split_once("\nspec:\n").expect("a spec").1;
    let spec: String = spec.lines().map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l))).collect();
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&spec), strip(&plain), "deploy/prometheus-rule.yaml is made from alerts.yml");
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `query` through Prometheus' HTTP API: each result's `by` label value and its value.
fn promql(port: u16, query: &str, by: &str) -> Option<BTreeMap<String, u64>> {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    // Not up yet: refused.
    TcpStream::connect(("127.0.0.1", port)).ok()?;
    let (status, _, body) = get(port, &format!("/api/v1/query?query={encoded}"), None);
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    let result = v["data"]["result"].as_array()?;
    Some(
        result
            .iter()
            .map(|r| {
                let key = r["metric"][by].as_str().unwrap_or("").to_string();
                (key, r["value"][1].as_str().unwrap().parse::<f64>().unwrap() as u64)
            })
            .collect(),
    )
}

#[test]
fn a_real_prometheus_scrapes_the_agent() {
    let Some(prometheus) = tool("prometheus") else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = pod_log(dir.path(), "shop", "reviews-v1-5b8");
    std::fs::write(&log, "").unwrap();
    let agent = Agent::start(&["--follow", log.to_str().unwrap()]);

    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: envoy-triage\n    static_configs:\n      - targets: ['127.0.0.1:{agent}']\n",
            rules = root().join("deploy/prometheus/alerts.yml").display(),
            agent = agent.port
        ),
    )
    .unwrap();
    let server = Server(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(["--log.level=warn", "--storage.tsdb.retention.time=1h"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );

    let lines = incident_lines();
    append(&log, &lines);
    let want = batch(&log);
    let by_cause = counts_of(&want["by_cause"]);

    let got = wait_until("Prometheus to hold every failure by cause", || {
        promql(port, "sum by (cause) (envoy_triage_failed_requests_total)", "cause")
            .filter(|m| *m == by_cause)
    });
    assert_eq!(got, by_cause);
    let lines_total = promql(port, "sum(envoy_triage_lines_total)", "").unwrap();
    assert_eq!(lines_total, BTreeMap::from([(String::new(), lines.len() as u64)]));
    let by_reporter =
        promql(port, "sum by (reporter) (envoy_triage_failed_requests_total)", "reporter").unwrap();
    let mut failed_by_reporter = BTreeMap::new();
    for r in records_of(&log).iter().filter(|r| r["failed"] == true) {
        *failed_by_reporter.entry(r["reporter"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    assert_eq!(by_reporter, failed_by_reporter);
    // The timeout wall, in PromQL: requests cut just after 15 s, by upstream.
    let wall = promql(
        port,
        // Prometheus 2 keeps `le` as scraped: "15" in the text format, "15.0" in OpenMetrics
        // (which it asks for first); Prometheus 3 writes "15.0" for both.
        "sum by (upstream_cluster) (envoy_triage_request_duration_seconds_bucket{le=\"15.05\"}) \
         - sum by (upstream_cluster) (envoy_triage_request_duration_seconds_bucket{le=~\"15(\\\\.0)?\"}) > 0",
        "upstream_cluster",
    )
    .unwrap();
    assert_eq!(wall, wall_of(&log));
    // The alert rules loaded and evaluated without error.
    let (status, _, body) = get(port, "/api/v1/rules", None);
    assert_eq!(status, 200);
    let rules: Value = serde_json::from_str(&body).unwrap();
    let groups = rules["data"]["groups"].as_array().unwrap();
    assert!(!groups.is_empty(), "{body}");
    wait_until("every rule evaluated", || {
        let (_, _, body) = get(port, "/api/v1/rules", None);
        let v: Value = serde_json::from_str(&body).ok()?;
        let all: Vec<Value> = v["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        all.iter().all(|r| r["health"] == "ok").then_some(())
    });
    drop(server);
}

/// `--listen` is for live runs; a bad address or a port in use ends the run at once, exit 2,
/// before anything is read.
#[test]
fn listen_mistakes_are_said_and_exit_2() {
    let sample = crate::common::log_path("real-healthy.log");
    let out = bin().args(["--listen", "127.0.0.1:0"]).arg(&sample).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen serves metrics in live mode only"));

    let out = bin().args(["--follow", "--listen", "9464"]).arg(&sample).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen 9464: not an address"), "{out:?}");

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = bin().args(["--follow", "--listen", &addr]).arg(&sample).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("--listen {addr}:")) && err.contains("in use"), "{err}");
}
