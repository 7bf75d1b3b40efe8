//! Bounded memory and one answer: inputs with more distinct upstreams, failure groups, pods or
//! longer names than the caps allow give the same output at every thread count and on every
//! run, and the built binary's peak RSS (GNU time: `common::peak_rss_mib`) stays
//! under a generous bound at any `-j`. Each test fails if folding goes back to per-worker
//! first-come caps (outputs differ by `-j`) or if memory grows with threads or names again.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use envoy_triage_synth::{Limit, Style, SynthConfig, Wrapper, write_log};
use serde_json::Value;

use crate::common::{bin, peak_rss_mib};

/// The bound for hostile inputs at any `-j` (the target). Debug builds use a little
/// more than release; this is far below what the old per-worker caps took (1.3 GB at `-j 8`).
const MAX_RSS_KB: u64 = 128 * 1024;

/// Runs `cmd` with stdout to `out`, returns (exit code, peak RSS in KiB) of that run.
fn run_measured(cmd: &mut Command, out: &Path) -> (i32, u64) {
    let (output, mib) = peak_rss_mib(cmd, Stdio::null(), File::create(out).unwrap().into());
    (output.status.code().unwrap_or(-1), mib * 1024)
}

/// The JSON report without its only run-dependent field.
fn report(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("elapsed_ms");
    v.to_string()
}

/// Runs `args` with `-o json` at each `-j` in `threads` (`runs` times each) and checks that every
/// output is the same and every run stays under `MAX_RSS_KB`. Returns the report.
fn one_answer_in_bounds(dir: &Path, args: &[&str], threads: &[u32], runs: usize) -> Value {
    let out = dir.join("out.json");
    let mut first: Option<String> = None;
    for &j in threads {
        for run in 0..runs {
            let (code, rss) = run_measured(bin().args(args).args(["-o", "json", "-j", &j.to_string()]), &out);
            assert_eq!(code, 0, "-j {j}");
            assert!(rss <= MAX_RSS_KB, "-j {j} run {run}: peak RSS {rss} KiB over {MAX_RSS_KB}");
            let r = report(&out);
            match &first {
                None => first = Some(r),
                Some(f) => assert!(*f == r, "-j {j} run {run}: the output differs from -j {}", threads[0]),
            }
        }
    }
    serde_json::from_str(first.as_deref().unwrap()).unwrap()
}

const FORMAT: &str = "%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %REQ(X-REQUEST-ID)%";

#[test]
fn distinct_clusters_past_the_cap_fold_the_same_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("many.log");
    let mut w = std::io::BufWriter::new(File::create(&p).unwrap());
    // 100,000 distinct clusters, each failing, each with its own request id: the worst case
    // for upstreams, groups and sketches at once.
    for i in 0..100_000u32 {
        writeln!(w, "503 UF outbound|80||svc-{i}.ns.svc.cluster.local id-{i}").unwrap();
    }
    drop(w);
    let v = one_answer_in_bounds(dir.path(), &[p.to_str().unwrap(), "--format", FORMAT], &[1, 2, 8], 1);
    assert_eq!(v["totals"]["records"], 100_000);
    assert_eq!(v["folding"]["max_clusters"], 10_000);
    assert_eq!(v["folding"]["folded_records"], 90_000);
    let ups = v["upstreams"].as_array().unwrap();
    assert_eq!(ups.len(), 10_001);
    assert_eq!(ups[0]["cluster"], "(other)");
    assert_eq!(ups[0]["requests"], 90_000);
}

#[test]
fn many_causes_at_many_clusters_keep_at_most_the_group_cap() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("groups.log");
    let mut w = std::io::BufWriter::new(File::create(&p).unwrap());
    // 3,000 clusters x 8 causes: 24,000 failure groups, past the cap of 4,096.
    let failures = ["503 UF", "503 UO", "503 UH", "504 UT", "503 URX,UF", "429 RL", "503 UC", "500 -"];
    for i in 0..3_000u32 {
        for f in failures {
            writeln!(w, "{f} outbound|80||svc-{i}.ns.svc.cluster.local id-{i}").unwrap();
        }
    }
    drop(w);
    let v = one_answer_in_bounds(dir.path(), &[p.to_str().unwrap(), "--format", FORMAT], &[1, 2, 8], 1);
    assert_eq!(v["totals"]["failed"], 24_000);
    // Every failure is in a finding: the kept groups plus those of `(other)`.
    let findings = v["findings"].as_array().unwrap();
    let in_findings: u64 = findings.iter().map(|f| f["count"].as_u64().unwrap()).sum();
    assert_eq!(in_findings, 24_000);
    let kept = findings.iter().filter(|f| f["upstream"] != "(other)").count();
    assert!(kept <= 4_096, "{kept} groups kept");
    assert!(findings.iter().any(|f| f["upstream"] == "(other)"), "the rest are folded");
    let folded = v["folding"]["folded_failures"].as_u64().unwrap();
    assert!(folded > 0 && v["folding"]["max_groups"] == 4_096);
    let table = bin().args([p.to_str().unwrap(), "--format", FORMAT, "--color", "never"]).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("more than 4,096 kinds of failure"), "{text}");
}

#[test]
fn long_cluster_names_are_cut_and_cost_no_more_than_short_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.log");
    let mut w = std::io::BufWriter::new(File::create(&p).unwrap());
    // 2,000 distinct 20 KB cluster names (40 MB): kept whole, 2,000 x 20 KB x (name, key,
    // index) would be over the bound at every -j.
    let filler = "x".repeat(20_000);
    for i in 0..2_000u32 {
        writeln!(w, "503 UF c{i}-{filler} id-{i}").unwrap();
    }
    drop(w);
    let v = one_answer_in_bounds(dir.path(), &[p.to_str().unwrap(), "--format", FORMAT], &[1, 4], 1);
    for u in v["upstreams"].as_array().unwrap() {
        assert!(u["cluster"].as_str().unwrap().len() <= 512, "{}", u["cluster"].as_str().unwrap().len());
    }
    assert_eq!(v["totals"]["records"], 2_000);
}

#[test]
fn a_generated_mesh_log_gives_one_report_on_every_run() {
    // Ties (same counts) between evidence signatures, upstreams and findings are settled by
    // content, not by which worker's state merged first.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gen.log");
    let cfg = SynthConfig {
        seed: 11,
        limit: Limit::Lines(60_000),
        style: Style::IstioText,
        wrapper: Wrapper::None,
        clusters: 200,
        ..SynthConfig::default()
    };
    let mut file = std::io::BufWriter::new(File::create(&p).unwrap());
    write_log(&cfg, &mut file).unwrap();
    drop(file);
    let v =
        one_answer_in_bounds(dir.path(), &[p.to_str().unwrap(), "--max-clusters", "50"], &[1, 2, 3, 2], 2);
    assert!(v["folding"]["folded_records"].as_u64().unwrap() > 0);
}
