//! `--output parquet` read back by an independent reader: DuckDB (from PyPI; `.ci/run` installs
//! it) finds every record with the summary's counts per cause and upstream, the same rows as
//! `--output records` in the same order, typed columns, row groups as the records stream, and
//! the same bytes at any thread count. A terminal gets a message, not binary.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{bin, json_of, samples};

/// Runs `sql` in DuckDB (Python); each result row as a JSON array. `None` where DuckDB is not
/// installed, outside CI (under CI, where `.ci/run` installs it, that fails the test).
fn duckdb(sql: &str) -> Option<Vec<Vec<Value>>> {
    let script = "import duckdb, json, sys\n\
                  for row in duckdb.sql(sys.argv[1]).fetchall():\n    print(json.dumps(row, default=str))\n";
    let out = Command::new("python3").args(["-c", script, sql]).output();
    match out {
        Ok(out) if out.status.success() => Some(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        ),
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named 'duckdb'") => {
            assert!(
                std::env::var_os("CI").is_none(),
                "DuckDB is missing: .ci/run installs it (pip install duckdb)"
            );
            eprintln!(
                "SKIPPED: DuckDB is not installed (pip install duckdb): the Parquet file was not read back"
            );
            None
        }
        Ok(out) => panic!("duckdb: {sql}\n{}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => panic!("python3: {e}"),
    }
}

fn parquet_of(args: &[&str], out: &Path) {
    let file = std::fs::File::create(out).unwrap();
    let status = bin().args(args).args(["-o", "parquet"]).stdout(file).status().unwrap();
    assert_eq!(status.code(), Some(0));
}

fn counts(rows: Vec<Vec<Value>>) -> BTreeMap<String, u64> {
    rows.into_iter().map(|r| (r[0].as_str().unwrap_or("-").to_string(), r[1].as_u64().unwrap())).collect()
}

fn json_counts(map: &Value) -> BTreeMap<String, u64> {
    map.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect()
}

#[test]
fn duckdb_reads_every_record_with_the_summarys_counts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("records.parquet");
    let samples = samples();
    let samples = samples.to_str().unwrap();
    parquet_of(&[samples], &file);
    let (_, summary, _) = json_of(&[samples]);
    let from = format!("read_parquet('{}')", file.display());

    let Some(total) = duckdb(&format!("SELECT count(*) FROM {from}")) else { return };
    assert_eq!(total[0][0], summary["totals"]["records"]);
    let by_cause =
        counts(duckdb(&format!("SELECT cause, count(*) FROM {from} WHERE failed GROUP BY 1")).unwrap());
    assert_eq!(by_cause, json_counts(&summary["by_cause"]));
    let by_reporter = counts(duckdb(&format!("SELECT reporter, count(*) FROM {from} GROUP BY 1")).unwrap());
    assert_eq!(by_reporter, json_counts(&summary["by_reporter"]));
    let by_upstream = counts(
        duckdb(&format!("SELECT coalesce(upstream_cluster, '-'), count(*) FROM {from} GROUP BY 1")).unwrap(),
    );
    // Inbound clusters repeat across workloads, each its own row in the summary: summed here.
    let mut upstreams: BTreeMap<String, u64> = BTreeMap::new();
    for u in summary["upstreams"].as_array().unwrap() {
        *upstreams.entry(u["cluster"].as_str().unwrap().to_string()).or_insert(0) +=
            u["requests"].as_u64().unwrap();
    }
    assert_eq!(by_upstream, upstreams);

    // Typed: times are timestamps, codes and durations integers, flags a list.
    let types: BTreeMap<String, String> = duckdb(&format!("DESCRIBE SELECT * FROM {from}"))
        .unwrap()
        .into_iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(types["start_time"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(types["log_time"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(types["response_code"], "USMALLINT");
    assert_eq!(types["duration_ms"], "UBIGINT");
    assert_eq!(types["response_flags"], "VARCHAR[]");
    assert_eq!(types["failed"], "BOOLEAN");
    // A 15 s timeout as a typed query: UT records of 15 s and more, by upstream.
    let walls = duckdb(&format!(
        "SELECT upstream_cluster, count(*) FROM {from} WHERE list_contains(response_flags, 'UT') \
         AND duration_ms >= 15000 GROUP BY 1"
    ))
    .unwrap();
    assert!(!walls.is_empty());

    // The same rows, in the same order, as `--output records`.
    let records = bin().arg(samples).args(["-o", "records"]).output().unwrap();
    let want: Vec<Vec<Value>> = String::from_utf8(records.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            ["input", "line", "start_time", "response_code", "request_id", "cause"]
                .iter()
                .map(|k| r[*k].clone())
                .collect()
        })
        .collect();
    let got = duckdb(&format!(
        "SELECT input, line, strftime(start_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ'), response_code, \
         request_id, cause FROM {from}"
    ))
    .unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}

#[test]
fn the_same_file_at_any_thread_count_in_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    // 70,000 real lines: more than one row group (65,536 rows).
    let lines: Vec<String> =
        crate::common::sample_lines("real-healthy.log").into_iter().filter(|l| l.starts_with('[')).collect();
    let log = dir.path().join("big.log");
    let text: String = (0..70_000).map(|i| format!("{}\n", lines[i % lines.len()])).collect();
    std::fs::write(&log, text).unwrap();
    let (one, four) = (dir.path().join("j1.parquet"), dir.path().join("j4.parquet"));
    parquet_of(&["-j", "1", log.to_str().unwrap()], &one);
    parquet_of(&["-j", "4", log.to_str().unwrap()], &four);
    assert!(std::fs::read(&one).unwrap() == std::fs::read(&four).unwrap(), "-j1 and -j4 differ");

    let Some(groups) = duckdb(&format!(
        "SELECT row_group_id, any_value(row_group_num_rows) FROM parquet_metadata('{}') GROUP BY 1 ORDER BY 1",
        one.display()
    )) else {
        return;
    };
    let rows: Vec<u64> = groups.iter().map(|g| g[1].as_u64().unwrap()).collect();
    assert_eq!(rows, [65_536, 4_464]);
}

#[test]
fn a_terminal_gets_a_message_not_binary() {
    let sample = samples().join("real-healthy.log");
    let command = format!(
        "'{}' '{}' -o parquet; echo EXIT=$?",
        assert_cmd::cargo::cargo_bin("envoy-triage").display(),
        sample.display()
    );
    let out =
        Command::new("script").args(["-qec", &command, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("--output parquet writes a binary file: redirect it"), "{shown}");
    assert!(shown.contains("EXIT=2"), "{shown}");
    assert!(!shown.contains("PAR1"), "{shown}");
}
