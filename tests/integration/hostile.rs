//! Hostile and broken input: huge lines, NUL bytes, invalid UTF-8, terminal escapes and
//! invisible characters (in log content and file names, on every output), a million clusters,
//! truncated and corrupt gzip, unreadable inputs, empty and all-noise input, and `--fail-on`
//! exit codes. Each test fails if its protection is removed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::common::{bin, json_of, peak_rss_mib, sample, sample_lines};

fn istio_line(ua: &[u8], cluster: &[u8]) -> Vec<u8> {
    istio_line_with_id(ua, b"0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1", cluster)
}

fn istio_line_with_id(ua: &[u8], id: &[u8], cluster: &[u8]) -> Vec<u8> {
    let mut l = br#"[2025-01-01T10:00:00.000Z] "GET /api HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 3 - "-" ""#.to_vec();
    l.extend_from_slice(ua);
    l.extend_from_slice(br#"" ""#);
    l.extend_from_slice(id);
    l.extend_from_slice(br#"" "api:80" "10.1.0.9:8080" "#);
    l.extend_from_slice(cluster);
    l.extend_from_slice(b" 10.1.0.5:1 10.0.0.3:80 10.1.0.5:40000 - default\n");
    l
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn a_2_mib_line_is_read_or_rejected_without_harm() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = istio_line(&vec![b'A'; 2 << 20], b"outbound|80||api.shop.svc.cluster.local");
    data.extend_from_slice(&vec![b'x'; 2 << 20]);
    data.push(b'\n');
    let p = write(dir.path(), "huge.log", &data);
    let (code, v, _) = json_of(&[p.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!((v["totals"]["records"].as_u64(), v["totals"]["malformed"].as_u64()), (Some(1), Some(1)));
    // The sample keeps the start of the line only.
    assert!(v["malformed_samples"][0]["text"].as_str().unwrap().len() <= 240);
}

#[test]
fn nul_bytes_invalid_utf8_and_escapes_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    data.extend(istio_line(
        b"nul\0byte \xff\xfe invalid \x1b[2J\x1b]0;title\x07 \r\x08\x08",
        b"outbound|80||a\xffb\x1b[31m.svc",
    ));
    data.extend(b"\x1b[31mgarbage \0 \xff\xff\x9b1m\r\n");
    let p = write(dir.path(), "evil.log", &data);
    let out = bin().arg(&p).args(["--color", "always"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = &out.stdout;
    for bad in [
        &b"\0"[..],
        b"\x1b[2J",
        b"\x1b]0",
        b"\x07",
        b"\x08",
        b"\r",
        b"\x1b[31m.svc",
        b"\x1b[31mgarbage",
        b"\xc2\x9b",
    ] {
        assert!(!text.windows(bad.len()).any(|w| w == bad), "raw {bad:?} in output");
    }
    // JSON stays valid and carries the text (escaped by JSON itself).
    let (_, v, _) = json_of(&[p.to_str().unwrap()]);
    assert_eq!(v["totals"]["records"], 1);
    assert_eq!(v["totals"]["malformed"], 1);
    assert!(v["upstreams"][0]["cluster"].as_str().unwrap().contains('\u{fffd}'));
}

/// What a terminal obeys or hides: ESC, BEL, CR, BS, DEL, a C1 control (CSI), bidi marks,
/// overrides and isolates, zero-width characters, a byte order mark, a soft hyphen, tag
/// characters.
const HIDDEN: &[char] = &[
    '\x1b',
    '\x07',
    '\r',
    '\x08',
    '\x7f',
    '\u{9b}',
    '\u{85}',
    '\u{200e}',
    '\u{200f}',
    '\u{61c}',
    '\u{202a}',
    '\u{202e}',
    '\u{2066}',
    '\u{2069}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{2060}',
    '\u{feff}',
    '\u{ad}',
    '\u{e0001}',
    '\u{e0041}',
    '\u{e007f}',
];

/// The characters of [`HIDDEN`] found raw in `out`.
fn raw_hidden(out: &[u8]) -> Vec<char> {
    let text = String::from_utf8_lossy(out);
    HIDDEN.iter().copied().filter(|c| text.contains(*c)).collect()
}

/// A cluster name (service, subset and port), user agent and request id that look like plain
/// ones but carry every character of [`HIDDEN`].
fn look_alike() -> (String, String, String) {
    let cluster = "outbound|80\u{202e}\u{7f}|v1\u{200e}\u{200f}\u{61c}\u{202a}\u{2066}\u{2069}\x07|\
                   api\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}\u{ad}.shop\x1b[31m\u{9b}31m\u{85}\
                   .svc\u{e0001}\u{e0041}\u{e007f}.cluster.local";
    let ua = "curl/8.0\r\x08\x08\x1b]0;owned\x07\u{202e}\u{e0041}";
    let id = "0b0c5a3e\u{200b}-a8a3\u{9b}-4b71\u{feff}-9d51-0d6c1e1b1ab1\u{7f}";
    (cluster.to_string(), ua.to_string(), id.to_string())
}

#[test]
fn invisible_and_control_characters_never_reach_any_output_raw() {
    let (cluster, ua, id) = look_alike();
    let line = istio_line_with_id(ua.as_bytes(), id.as_bytes(), cluster.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "look-alike.log", &line);
    let p = p.to_str().unwrap();

    // Without colour: its own ESC sequences would hide a raw one.
    let table = bin().arg(p).args(["--color", "never"]).output().unwrap();
    assert_eq!(table.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&table.stdout);
    assert!(shown.contains("api\\u{200b}"), "{shown}");
    assert_eq!(raw_hidden(&table.stdout), [], "table:\n{shown}");

    let explain =
        bin().arg("explain").arg(String::from_utf8(line.clone()).unwrap().trim_end()).output().unwrap();
    assert_eq!(explain.status.code(), Some(0));
    let shown = String::from_utf8_lossy(&explain.stdout);
    // The words built from the cluster's service, subset and port too.
    assert!(shown.contains("the service api\\u{200b}"), "{shown}");
    assert_eq!(raw_hidden(&explain.stdout), [], "explain:\n{shown}");

    let json = bin().arg(p).args(["-o", "json"]).output().unwrap();
    assert_eq!(raw_hidden(&json.stdout), [], "json:\n{}", String::from_utf8_lossy(&json.stdout));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["upstreams"][0]["cluster"], cluster.as_str());
    assert_eq!(v["findings"][0]["request_ids"][0], id.as_str());

    let ndjson = bin().arg(p).args(["-o", "ndjson"]).output().unwrap();
    assert_eq!(raw_hidden(&ndjson.stdout), [], "ndjson:\n{}", String::from_utf8_lossy(&ndjson.stdout));
    let last = ndjson.stdout.split(|&b| b == b'\n').rfind(|l| !l.is_empty()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(last).unwrap();
    assert_eq!(v["upstreams"][0]["cluster"], cluster.as_str());

    let records = bin().arg(p).args(["-o", "records"]).output().unwrap();
    assert_eq!(raw_hidden(&records.stdout), [], "records:\n{}", String::from_utf8_lossy(&records.stdout));
    let v: serde_json::Value = serde_json::from_slice(&records.stdout).unwrap();
    assert_eq!(
        (&v["upstream_cluster"], &v["user_agent"], &v["request_id"]),
        (&cluster.as_str().into(), &ua.as_str().into(), &id.as_str().into())
    );
}

#[test]
fn file_names_on_stderr_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("miss\x1b[2Jing\u{202e}gol.log");
    let out = bin().arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("miss\\x1b[2Jing\\u{202e}gol.log"), "{err}");
    assert_eq!(raw_hidden(&out.stderr), [], "{err}");

    // Read, then broken: said on stderr and in the table.
    let healthy = std::fs::read(sample("real-healthy.log")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&healthy).unwrap();
    let full = gz.finish().unwrap();
    let cut = write(dir.path(), "cut\x1b]0;x\x07\u{200f}.log.gz", &full[..full.len() / 2]);
    let out = bin().arg(&cut).args(["--color", "never"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut\\x1b]0;x\\x07\\u{200f}.log.gz"), "{err}");
    assert_eq!(raw_hidden(&out.stderr), [], "{err}");
    assert_eq!(raw_hidden(&out.stdout), [], "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_million_distinct_clusters_fold_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::with_capacity(14 << 20);
    for i in 0..1_000_000u32 {
        writeln!(data, "503 UF c{i}").unwrap();
    }
    let p = write(dir.path(), "many.log", &data);
    let (code, v, _) = json_of(&[
        p.to_str().unwrap(),
        "--format",
        "%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER%",
        "-j",
        "1",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["totals"]["records"], 1_000_000);
    assert_eq!(v["folding"]["max_clusters"], 10_000);
    assert_eq!(v["folding"]["folded_records"], 990_000);
    let ups = v["upstreams"].as_array().unwrap();
    assert_eq!(ups.len(), 10_001);
    assert_eq!(ups[0]["cluster"], "(other)");
    let table = bin()
        .arg(&p)
        .args(["--format", "%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER%", "-j", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("counted under (other)"));
}

#[test]
fn truncated_and_corrupt_gzip_report_what_was_read_then_fail() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = std::fs::read(sample("real-healthy.log")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&healthy).unwrap();
    let full = gz.finish().unwrap();
    let cut = write(dir.path(), "cut.log.gz", &full[..full.len() * 2 / 3]);
    let (code, v, err) = json_of(&[cut.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cut.log.gz"), "{err}");
    let records = v["totals"]["records"].as_u64().unwrap();
    assert!(records > 50 && records < 276, "{records}");
    assert!(v["inputs"][0]["error"].is_string());
    assert_eq!(v["totals"]["lines"].as_u64(), Some(records + v["totals"]["malformed"].as_u64().unwrap()));

    let mut bad = full.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let corrupt = write(dir.path(), "corrupt.log.gz", &bad);
    let (code, _, err) = json_of(&[corrupt.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("corrupt.log.gz"));
}

#[test]
fn one_unreadable_input_among_readable_ones() {
    let tcp = sample("real-tcp.log");
    // Opening /proc/self/mem works, reading it fails (EIO): an input that breaks mid-way.
    let (code, v, err) = json_of(&[&tcp, "/proc/self/mem", &tcp]);
    assert_eq!(code, 2);
    assert!(err.contains("/proc/self/mem"), "{err}");
    assert_eq!(v["totals"]["records"], 52);
    assert!(v["inputs"][1]["error"].is_string());
}

#[test]
fn empty_input_and_input_without_access_lines() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.log", b"");
    let (code, v, _) = json_of(&[empty.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["totals"]["lines"], 0);
    let noise = write(
        dir.path(),
        "noise.log",
        b"2021-09-13T06:29:50.786352Z\twarning\tenvoy config\tclosed\n2020-11-22T19:32:17.857430Z\tinfo\tFLAG: --x\n\n",
    );
    let (code, v, _) = json_of(&[noise.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!((v["totals"]["records"].as_u64(), v["totals"]["skipped"].as_u64()), (Some(0), Some(3)));
    let out = bin().arg(&noise).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("No Envoy access-log records found"));
}

#[test]
fn the_application_containers_own_logs_are_not_taken_for_access_records() {
    // `kubectl logs deploy/x` without `-c istio-proxy`: a Spring Boot line, an nginx access line
    // (shaped like Envoy's default without its start time), a structured JSON log about a
    // request, a stack-trace line. None is an Envoy record, and the report says what to check.
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    for i in 0..2000 {
        data.extend_from_slice(match i % 4 {
            0 => format!("2026-11-20 10:00:{:02}.123  INFO 1 --- [nio-8080-exec-1] c.e.shop.CartController : GET /cart/{i} took 12 ms\n", i % 60),
            1 => format!("10.0.0.{} - - [20/Nov/2026:10:00:00 +0000] \"GET /api/items/{i} HTTP/1.1\" 503 1043 \"-\" \"Mozilla/5.0 (X11)\"\n", i % 250),
            2 => format!("{{\"level\":\"error\",\"ts\":1732096800.5,\"msg\":\"request failed\",\"path\":\"/items/{i}\",\"status\":503,\"duration\":40}}\n"),
            _ => "    at com.example.shop.CartService.load(CartService.java:42)\n".to_string(),
        }.as_bytes());
    }
    let app = write(dir.path(), "app.log", &data);
    let (code, v, _) = json_of(&[app.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["totals"]["lines"], 2000);
    assert_eq!(v["totals"]["records"], 0, "{}", v["totals"]);
    assert_eq!(v["by_code"].as_object().map(|m| m.len()), Some(0));
    let out = bin().args(["--color", "never"]).arg(&app).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("No Envoy access-log records found"), "{table}");
    assert!(table.contains("-c istio-proxy"), "{table}");
}

#[test]
fn fail_on_sets_exit_code_1_only_when_met() {
    let refused = sample("real-refused-localhost.log");
    let s = refused.as_str();
    let out = bin().args([s, "--fail-on", "rate(5xx) > 1%"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("met: rate(5xx) = 36.364%"), "{err}");
    let out = bin().args([s, "--fail-on", "cause(tls_failure) > 0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = bin()
        .args([s, "--fail-on", "cause(connection_refused) >= 12 and count(malformed) == 0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = bin().args([s, "--fail-on", "rate(5xx) >> 1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("column"));
}

/// Docker json-file pieces of one record (`log` without a newline continues in the next
/// object), each escaped on its own as docker writes them.
fn docker_pieces(record: &[u8], piece: usize, finished: bool) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut lines = 0;
    let pieces: Vec<&[u8]> = record.chunks(piece).collect();
    for (i, p) in pieces.iter().enumerate() {
        out.extend_from_slice(br#"{"log":""#);
        for &b in *p {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        if finished && i + 1 == pieces.len() {
            out.extend_from_slice(br"\n");
        }
        out.extend_from_slice(b"\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00.000000000Z\"}\n");
        lines += 1;
    }
    (out, lines)
}

/// A record docker split into 200,000 pieces is joined whole, every piece counted; a run that
/// never ends is counted malformed, line for line. (Joining once copied the run so far for
/// every piece: 17 s for this input in a release build, quadratic in the pieces; now 0.3 s.)
#[test]
fn a_docker_record_in_200k_pieces_is_joined_and_every_piece_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut record = istio_line(&vec![b'A'; 2_000_000], b"outbound|80||api.shop.svc.cluster.local");
    assert_eq!(record.pop(), Some(b'\n'));
    let (data, n) = docker_pieces(&record, 10, true);
    assert!(n > 200_000);
    let p = write(dir.path(), "docker.log", &data);
    let (code, v, err) = json_of(&[p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let t = &v["totals"];
    assert_eq!(
        (t["lines"].as_u64(), t["records"].as_u64(), t["failed"].as_u64()),
        (Some(n), Some(1), Some(1))
    );
    assert_eq!(t["skipped_by_reason"]["fragment"].as_u64(), Some(n - 1), "{t}");
    assert_eq!(t["malformed"], 0, "{t}");
    assert!(v["upstreams"][0]["cluster"].as_str().unwrap().contains("api.shop"), "{}", v["upstreams"]);
    let (data, n) = docker_pieces(&record, 10, false);
    let p = write(dir.path(), "unfinished.log", &data);
    let (_, v, _) = json_of(&[p.to_str().unwrap()]);
    let t = &v["totals"];
    assert_eq!(
        (t["lines"].as_u64(), t["records"].as_u64(), t["skipped"].as_u64()),
        (Some(n), Some(0), Some(0))
    );
    assert_eq!(t["malformed_by_kind"]["truncated"].as_u64(), Some(n), "{t}");
}

/// `explain < file` explains each line as it is read: 16 MB of lines once took 8 times their
/// size in memory (all of stdin, then all of the text), about 125 MiB; now a few MiB.
#[test]
fn explain_reads_stdin_a_line_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let line = sample_lines("real-refused-localhost.log").remove(0) + "\n";
    let data = line.repeat(16_000_000 / line.len());
    let p = write(dir.path(), "many.log", data.as_bytes());
    let stdin = std::fs::File::open(&p).unwrap();
    // About 100 MB of explanations: into a file, not this test's memory.
    let text = dir.path().join("explained.txt");
    let stdout = std::fs::File::create(&text).unwrap();
    let (out, mib) = peak_rss_mib(bin().arg("explain"), stdin.into(), stdout.into());
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read(&text).unwrap();
    let n = data.len() / line.len();
    let last = format!("\nLine {n}:\n");
    assert!(text.windows(last.len()).any(|w| w == last.as_bytes()), "the last line is explained");
    assert!(mib < 48, "peak RSS {mib} MiB");
}

/// An Istio line whose request id, authority, upstream host, transport failure reason, SNI and
/// route are the given values.
fn line_with_samples(
    cluster: &str,
    id: &str,
    authority: &str,
    host: &str,
    tf: &str,
    sni: &str,
    route: &str,
) -> String {
    format!(
        r#"[2025-01-01T10:00:00.000Z] "GET /api HTTP/1.1" 503 UF upstream_reset_before_response_started{{connection_failure}} - "{tf}" 0 91 3 - "-" "curl/8.0" "{id}" "{authority}" "{host}" {cluster} 10.1.0.5:1 10.0.0.3:80 10.1.0.5:40000 {sni} {route}"#
    ) + "\n"
}

/// Sample values are kept to their first 512 bytes and say how long they were: in the JSON
/// (`<field>_truncated_from`), the table (`…(+N bytes)`) and `explain`; a cut authority is not
/// put into a command. Values that fit are shown whole, without the extra fields.
#[test]
fn long_sample_values_are_cut_and_say_how_long_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let long = |c: &str, n: usize| c.repeat(n);
    // "é" straddles byte 512 of the id: the cut goes before it.
    let id = format!("{}é{}", long("i", 511), long("i", 99_487));
    let cluster = "outbound|80||api.shop.svc.cluster.local";
    let line = line_with_samples(
        cluster,
        &id,
        &long("a", 5000),
        &long("h", 600),
        &long("t", 20_000),
        &long("s", 513),
        &long("r", 10_000),
    );
    let short = line_with_samples(cluster, "id-2", "api:80", "10.1.0.9:8080", "-", "-", "default");
    let p = write(dir.path(), "long.log", format!("{line}{short}").as_bytes());
    let (code, v, _) = json_of(&[p.to_str().unwrap()]);
    assert_eq!(code, 0);
    let f = &v["findings"][0];
    assert_eq!(f["request_ids"][0], long("i", 511));
    assert_eq!(f["request_ids"][1], "id-2");
    assert_eq!(f["request_ids_truncated_from"], serde_json::json!([100_000, null]));
    let e = &f["evidence"];
    assert_eq!(e["upstream_transport_failure_reason"], long("t", 512));
    assert_eq!(e["upstream_transport_failure_reason_truncated_from"], 20_000);
    assert_eq!(e["route_name"], long("r", 512));
    assert_eq!(e["route_name_truncated_from"], 10_000);
    assert_eq!(e["upstream_hosts"], serde_json::json!([long("h", 512), "10.1.0.9:8080"]));
    assert_eq!(e["upstream_hosts_truncated_from"], serde_json::json!([600, null]));
    assert!(e.get("response_code_details_truncated_from").is_none(), "{e}");
    // The cut authority names no host: the command keeps its placeholder.
    assert!(!f["hint"].to_string().contains("aaaa"), "{}", f["hint"]);

    let table = bin().arg(&p).args(["--color", "never"]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    // A word longer than a line is never broken: the cut id has a line of its own.
    assert!(table.contains(&format!("{}…(+99489 bytes)\n{:13}id-2\n", long("i", 511), "")), "{table}");
    assert!(table.contains(&format!("host {}…(+88 bytes), 10.1.0.9:8080", long("h", 512))), "{table}");
    assert!(table.len() < 6000, "{table}");

    let one = write(dir.path(), "one.log", line.as_bytes());
    let explain = bin().arg("explain").arg(&one).output().unwrap();
    let explain = String::from_utf8(explain.stdout).unwrap();
    assert!(explain.contains(&format!("{}…(+9488 bytes)\n", long("r", 512))), "{explain}");
    assert!(explain.len() < 12_000, "{}", explain.len());

    // Values that fit: no `_truncated_from` anywhere.
    let p = write(dir.path(), "short.log", short.as_bytes());
    let (_, v, _) = json_of(&[p.to_str().unwrap()]);
    assert!(!v.to_string().contains("truncated_from"), "{v}");
}

/// 500 groups (one per cluster) with a 100 KB request id each: the ids were kept whole,
/// their size in memory and in the report; now 512 bytes of each.
#[test]
fn long_request_ids_do_not_grow_memory() {
    let dir = tempfile::tempdir().unwrap();
    let id = "0".repeat(100_000);
    let mut data = String::with_capacity(51 << 20);
    for i in 0..500 {
        data += &line_with_samples(
            &format!("outbound|80||c{i}"),
            &id,
            "api:80",
            "10.1.0.9:8080",
            "-",
            "-",
            "default",
        );
    }
    let p = write(dir.path(), "ids.log", data.as_bytes());
    let (out, mib) = peak_rss_mib(
        bin().arg(&p).args(["-o", "json", "-j", "2"]),
        std::process::Stdio::null(),
        std::process::Stdio::piped(),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(mib < 40, "peak RSS {mib} MiB");
    assert!(out.stdout.len() < 2 << 20, "{} bytes of JSON", out.stdout.len());
}

/// A file cut short while it is read is an input error (exit 2, named on stderr), not a
/// complete read of less. `--output records` reads a file as a stream and writes as it goes;
/// with this test not reading its output, every queue between the file and the pipe fills and
/// reading stops a few MiB ahead of what was written (all of them are bounded). So once the
/// first record is out, cutting the 48 MiB file to 24 MiB happens before the reader gets
/// there, whatever the timing. (Ranges that the workers read themselves: the unit test
/// `source::batch::tests::a_file_cut_while_its_ranges_are_read_is_an_error`.)
#[test]
fn a_file_truncated_while_it_is_read_is_an_input_error() {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let line = sample_lines("real-refused-localhost.log").remove(0) + "\n";
    let data = line.repeat((48 << 20) / line.len());
    let p = write(dir.path(), "cut\x1b[31m.log", data.as_bytes());
    let mut child = bin()
        .arg(&p)
        .args(["-o", "records", "-j", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"response_code\""), "{first}");
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(24 << 20).unwrap();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cut\\x1b[31m.log") && err.contains("got shorter"), "{err}");
    let records = 1 + rest.iter().filter(|&&b| b == b'\n').count();
    // Every line before the cut is read, the one cut in two too (a partial record).
    assert_eq!(records, (24usize << 20).div_ceil(line.len()));
}

/// One line longer than the largest chunk (64 MiB) is cut into several chunks; it is still one
/// line (it was one per chunk: a 1 GB line was 16 lines), the line numbers after it are right,
/// and memory does not grow with `-j`: those chunks are read and processed one at a time
/// (each worker once held one: 200 MiB here at `-j 8`), read from a file by the workers or
/// from stdin by the reader.
#[test]
fn a_line_longer_than_the_largest_chunk_is_one_line_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("giant.log");
    let line = sample_lines("real-refused-localhost.log").remove(0);
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        f.write_all(line.as_bytes()).unwrap();
        let mib = vec![b'A'; 1 << 20];
        for _ in 0..200 {
            f.write_all(&mib).unwrap();
        }
        write!(f, "\ngarbage \x01 line\n{line}\n").unwrap();
    }
    for stdin in [false, true] {
        let mut cmd = bin();
        cmd.args(["-o", "json", "-j", "8"]);
        let input = if stdin {
            std::fs::File::open(&p).unwrap().into()
        } else {
            cmd.arg(&p);
            std::process::Stdio::null()
        };
        let (out, mib) = peak_rss_mib(&mut cmd, input, std::process::Stdio::piped());
        assert_eq!(out.status.code(), Some(0), "stdin: {stdin}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let t = &v["totals"];
        assert_eq!((t["lines"].as_u64(), t["records"].as_u64()), (Some(3), Some(2)), "stdin: {stdin}: {t}");
        assert_eq!(v["malformed_samples"][0]["line"], 2, "stdin: {stdin}");
        assert!(mib < 110, "stdin: {stdin}: peak RSS {mib} MiB");
    }
}

/// A CRI `P` run longer than the largest chunk (64 MiB) is cut between its lines: every
/// physical line counted once (`wc -l`), and the line numbers after it right.
#[test]
fn an_overlong_cri_fragment_run_counts_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cri.log");
    let line = sample_lines("real-refused-localhost.log").remove(0);
    let piece = format!("2024-05-16T10:06:02.1Z stdout P {}\n", "x".repeat(16_000));
    let mut lines = 0;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        for _ in 0..(65 << 20) / piece.len() + 1 {
            f.write_all(piece.as_bytes()).unwrap();
            lines += 1;
        }
        writeln!(f, "2024-05-16T10:06:02.1Z stdout F end").unwrap();
        for _ in 0..10 {
            writeln!(f, "2024-05-16T10:06:02.1Z stdout F {line}").unwrap();
        }
        writeln!(f, "garbage \x01 line").unwrap();
        lines += 12;
    }
    let (code, v, _) = json_of(&[p.to_str().unwrap(), "-j", "2"]);
    assert_eq!(code, 0);
    assert_eq!(v["totals"]["lines"], lines);
    assert_eq!(v["totals"]["records"], 10);
    let last = v["malformed_samples"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&last["line"], last["text"].as_str().map(|t| t.starts_with("garbage"))),
        (&lines.into(), Some(true))
    );
}
