//! `--output records` agrees with `--output json` on a generated log: the same counts by code,
//! flag and cause, every line accounted, line numbers pointing at the right lines.

use std::collections::BTreeMap;

use envoy_triage_synth::{Limit, Style, SynthConfig, Wrapper, write_log};
use serde_json::Value;

use crate::common::bin;

#[test]
fn records_agree_with_the_summary_on_a_generated_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gen.log");
    let cfg = SynthConfig {
        seed: 11,
        limit: Limit::Lines(30_000),
        style: Style::IstioText,
        wrapper: Wrapper::KubectlPrefix,
        noise_ratio: 0.02,
        ..SynthConfig::default()
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let stats = write_log(&cfg, &mut file).unwrap();
    drop(file);
    let p = path.to_str().unwrap();

    let out = bin().args(["-o", "records", p]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let content = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = content.lines().collect();
    let (mut codes, mut flags, mut causes) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut n = 0u64;
    let mut last_line = 0;
    for row in text.lines() {
        let r: Value = serde_json::from_str(row).unwrap();
        n += 1;
        let line = r["line"].as_u64().unwrap();
        assert!(line > last_line, "records come in input order");
        last_line = line;
        // The line number points at the line the record came from.
        let src = lines[line as usize - 1];
        if let Some(id) = r["request_id"].as_str() {
            assert!(src.contains(id), "line {line}: {src}");
        }
        *codes.entry(r["response_code"].to_string()).or_insert(0u64) += 1;
        for f in r["response_flags"].as_array().unwrap() {
            *flags.entry(f.as_str().unwrap().to_string()).or_insert(0u64) += 1;
        }
        if let Some(c) = r["cause"].as_str() {
            *causes.entry(c.to_string()).or_insert(0u64) += 1;
        }
        assert_eq!(r["failed"].as_bool(), Some(!r["cause"].is_null()));
        assert!(r["pod"].is_string(), "the kubectl prefix names the pod");
    }

    let out = bin().args(["-o", "json", p]).output().unwrap();
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(n, s["totals"]["records"].as_u64().unwrap());
    assert_eq!(n, stats.records);
    let obj = |k: &str| -> BTreeMap<String, u64> {
        s[k].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect()
    };
    assert_eq!(codes, obj("by_code"));
    assert_eq!(flags, obj("by_flag"));
    assert_eq!(causes, obj("by_cause"));
    assert!(causes.len() >= 6, "{causes:?}");
}
