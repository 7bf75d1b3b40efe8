//! What an argument becomes: directories walked recursively (kubelet trees), hidden and binary
//! files skipped and said so, gzip and zstd read, other compression named, and a clear word
//! when there is nothing to read.

use std::io::Write;
use std::path::Path;

use crate::common::{bin, json_of, log_path, samples, totals};

fn put(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn sample_bytes(name: &str) -> Vec<u8> {
    std::fs::read(log_path(name)).unwrap()
}

#[test]
fn a_kubelet_tree_is_read_whole_and_skipped_files_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pods = dir.path().join("pods");
    let proxy = pods.join("shop_checkout-7d9f8b-x2x9z_0d2c/istio-proxy");
    put(&proxy.join("0.log"), &sample_bytes("wrapped/real-healthy-gateway.cri.log"));
    put(&proxy.join("0.log.20241201-120000"), &sample_bytes("real-no-healthy.log"));
    put(&proxy.join("0.log.20241130-120000.gz"), &gzip(&sample_bytes("real-tcp.log")));
    put(&pods.join(".cache/0.log"), &sample_bytes("real-reset.log"));
    // An ELF header: read as a log, its junk once made a phantom 503 record.
    put(&proxy.join("core"), b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00 503 UF \n");
    let (code, v, stderr) = json_of(&[pods.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let one = |name: &str| totals(&json_of(&[log_path(name).to_str().unwrap()]).1);
    let parts =
        [one("wrapped/real-healthy-gateway.cri.log"), one("real-no-healthy.log"), one("real-tcp.log")];
    let sum = parts.iter().fold((0, 0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2, a.3 + t.3));
    assert_eq!(totals(&v), sum);
    assert_eq!(v["inputs"].as_array().unwrap().len(), 3);
    let skipped =
        format!("envoy-triage: skipped 1 binary file and 1 hidden entry under {}\n", pods.display());
    assert_eq!(stderr, skipped);
}

#[test]
fn an_empty_directory_or_one_with_only_skipped_files_says_so_and_exits_2_an_empty_file_0() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = bin().arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, format!("envoy-triage: nothing to read under {}: no files\n", empty.display()));

    let junk = dir.path().join("junk");
    put(&junk.join("a.bin"), b"\0\x01\x02");
    put(&junk.join("README.md"), b"# notes\n");
    let out = bin().arg(&junk).arg(samples().join("real-tcp.log")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "nothing to read under {}: every file skipped (1 binary file and 1 Markdown file)",
            junk.display()
        )),
        "{stderr}"
    );
    // The other input is still read and reported.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("records"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // An empty file, though, is read fine: no records is an answer, not an error.
    let path = dir.path().join("empty-file/0.log");
    put(&path, b"");
    let out = bin().arg(path.parent().unwrap()).arg("--color=never").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No Envoy access-log records found"));
}

#[test]
fn zstd_is_read_like_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = sample_bytes("real-no-healthy.log");
    let (half, rest) = plain.split_at(plain.len() / 2);
    // Two frames, as `zstd` appending to a rotated file writes.
    let mut data = zstd::encode_all(half, 3).unwrap();
    data.extend(zstd::encode_all(rest, 19).unwrap());
    reads_like_real_no_healthy(&dir.path().join("0.log.zst"), &data);
}

/// `data` written at `path` (a compressed `real-no-healthy.log`) gives the plain file's totals
/// and findings.
fn reads_like_real_no_healthy(path: &std::path::Path, data: &[u8]) {
    put(path, data);
    let (code, v, stderr) = json_of(&[path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (_, want, _) = json_of(&[samples().join("real-no-healthy.log").to_str().unwrap()]);
    assert_eq!(totals(&v), totals(&want));
    assert_eq!(v["findings"], want["findings"]);
}

#[test]
fn bzip2_xz_and_double_gzip_are_named_and_the_other_inputs_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let bz = dir.path().join("archive.log.bz2");
    put(&bz, b"BZh91AY&SY\x8a\x13\x07junk junk 503 UF\n");
    let xz = dir.path().join("archive.log.xz");
    put(&xz, b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F junk 503 UF\n");
    let twice = dir.path().join("archive.log.gz");
    put(&twice, &gzip(&gzip(&sample_bytes("real-tcp.log"))));
    let good = samples().join("real-no-healthy.log");
    let args = [bz.to_str().unwrap(), xz.to_str().unwrap(), twice.to_str().unwrap(), good.to_str().unwrap()];
    let (code, v, stderr) = json_of(&args);
    assert_eq!(code, 2);
    let (b, x, t) = (bz.display(), xz.display(), twice.display());
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!("envoy-triage: {b}: bzip2-compressed; decompress it first (bzcat {b} | envoy-triage)"),
            format!("envoy-triage: {x}: xz-compressed; decompress it first (xzcat {x} | envoy-triage)"),
            format!(
                "envoy-triage: {t}: gzip inside gzip, compressed twice; decompress the outer layer first (gunzip -c {t} | envoy-triage)"
            ),
        ]
    );
    let (_, want, _) = json_of(&[good.to_str().unwrap()]);
    assert_eq!(totals(&v), totals(&want));
}

#[test]
fn gzip_members_concatenated_are_read_whole() {
    // `cat a.gz b.gz > c.gz` and pigz write several members; each is read, not just the first.
    let dir = tempfile::tempdir().unwrap();
    let plain = sample_bytes("real-no-healthy.log");
    let (half, rest) = plain.split_at(plain.len() / 2);
    let mut data = gzip(half);
    data.extend(gzip(rest));
    reads_like_real_no_healthy(&dir.path().join("0.log.gz"), &data);
}

/// A generated Istio log of `lines` lines (about 350 bytes each: several 1 MiB chunks).
fn generated(seed: u64, lines: u64) -> Vec<u8> {
    use envoy_triage_synth::{Limit, SynthConfig, generate};
    generate(&SynthConfig { seed, limit: Limit::Lines(lines), ..SynthConfig::default() }).0
}

/// An Istio line whose response code is garbled: malformed.
const BAD_LINE: &str = r#"[2026-11-20T10:00:00.003Z] "POST /v2/payments/62806/capture HTTP/1.1" 2x1 - via_upstream - "-" 122 902 90 89"#;

/// Three archives of several chunks each (two gzip, one of them in two members, and a zstd),
/// with a malformed line at line 5,000 of the second: one worker decompresses each, the
/// others parse what it shares, in whatever order the threads make.
fn archives(dir: &Path) -> Vec<String> {
    let a = generated(1, 12_000);
    let (a1, a2) = a.split_at(memchr::memchr(b'\n', &a[a.len() / 2..]).unwrap() + a.len() / 2 + 1);
    let mut a_gz = gzip(a1);
    a_gz.extend(gzip(a2));
    let b = generated(2, 12_000);
    let at = memchr::memchr_iter(b'\n', &b).nth(4_998).unwrap() + 1;
    let b = [&b[..at], BAD_LINE.as_bytes(), b"\n", &b[at..]].concat();
    let c = zstd::encode_all(&generated(3, 12_000)[..], 3).unwrap();
    let paths = [("a.log.gz", a_gz), ("b.log.gz", gzip(&b)), ("c.log.zst", c)];
    paths
        .into_iter()
        .map(|(name, data)| {
            let p = dir.join(name);
            put(&p, &data);
            p.to_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn several_archives_give_the_same_output_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let files = archives(dir.path());
    let run = |threads: &str, json: bool| {
        let mut cmd = bin();
        cmd.args(&files).args(["--color", "never", "-j", threads]);
        if json {
            cmd.args(["--output", "json"]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let (json, table) = (run("1", true), run("1", false));
    for threads in ["2", "4"] {
        assert!(run(threads, true) == json, "JSON at -j {threads} differs from -j 1");
        assert!(run(threads, false) == table, "the table at -j {threads} differs from -j 1");
    }
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let (lines, records, skipped, malformed) = totals(&v);
    assert_eq!(lines, 36_001);
    assert_eq!(records + skipped + malformed, lines);
    let samples = v["malformed_samples"].as_array().unwrap();
    let cut: Vec<_> = samples.iter().filter(|s| s["input"].as_str().unwrap().ends_with("b.log.gz")).collect();
    assert_eq!(cut.len(), 1, "{samples:?}");
    assert_eq!(cut[0]["line"], 5_000, "{:?}", cut[0]);
}

#[test]
fn a_truncated_archive_among_others_is_an_error_and_the_others_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = archives(dir.path());
    let whole = std::fs::read(&files[1]).unwrap();
    let cut = dir.path().join("cut.log.gz");
    put(&cut, &whole[..whole.len() / 2]);
    files[1] = cut.to_str().unwrap().to_string();
    let out = bin().args(&files).args(["--output", "json", "-j", "2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}: unexpected end of file (truncated input?)", files[1])), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let inputs = v["inputs"].as_array().unwrap();
    assert!(inputs[1]["error"].is_string(), "{v}");
    for i in [0, 2] {
        assert!(inputs[i]["error"].is_null(), "{}", inputs[i]);
        assert_eq!(inputs[i]["lines"], 12_000, "{}", inputs[i]);
    }
    let cut_lines = inputs[1]["lines"].as_u64().unwrap();
    assert!(cut_lines > 1_000 && cut_lines < 12_000, "{cut_lines}");
    let (lines, records, skipped, malformed) = totals(&v);
    assert_eq!(lines, 24_000 + cut_lines);
    assert_eq!(records + skipped + malformed, lines);
}
