//! `--save-state` and `envoy-triage merge`: the states of any split of the inputs merge into the
//! report one run over all of them gives, byte for byte, in every report format; states that
//! cannot be merged (truncated, foreign, another version, other settings) are refused with a
//! message and exit code 2, never half read.

use std::io::Write;
use std::path::{Path, PathBuf};

use envoy_triage_synth::{Limit, Style, SynthConfig, Wrapper, generate};

use crate::common::{bin, sample_lines};

/// A malformed line (its response code is not a number) in the real 15 s-timeout log's shape.
fn malformed(i: usize) -> String {
    sample_lines("real-timeout-15s.log")[0].replacen("\" 200 - via", &format!("\" 2x{i} - via"), 1)
}

fn synth(seed: u64, lines: u64, style: Style, wrapper: Wrapper, clusters: usize) -> Vec<u8> {
    let cfg =
        SynthConfig { seed, limit: Limit::Lines(lines), style, wrapper, clusters, ..SynthConfig::default() };
    generate(&cfg).0
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Real lines of some sample logs, with malformed lines among them.
fn real_with_malformed(names: &[&str], every: usize) -> Vec<u8> {
    let mut out = String::new();
    let lines = names.iter().flat_map(|n| sample_lines(n));
    for (i, line) in lines.enumerate() {
        if i % every == 3 {
            out += &malformed(i % 10);
            out.push('\n');
        }
        out += &line;
        out.push('\n');
    }
    out.into_bytes()
}

/// Ten inputs of every kind a shard meets: generated text over several 1 MiB chunks, real lines
/// with malformed ones among them, gzip, JSON, kubectl-prefixed (pods), an empty file and a file
/// of malformed lines only. Returns their paths in order.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("f00.log", synth(1, 9_000, Style::IstioText, Wrapper::None, 30)),
        ("f01.log", real_with_malformed(&["real-timeout-15s.log", "real-no-healthy.log"], 40)),
        ("f02.log.gz", gzip(&synth(2, 3_000, Style::IstioJson, Wrapper::None, 8))),
        ("f03.log", Vec::new()),
        ("f04.log", synth(4, 3_000, Style::IstioText, Wrapper::KubectlPrefix, 60)),
        ("f05.log", real_with_malformed(&["real-tls-mismatch.log", "real-mtls-strict-plaintext.log"], 25)),
        ("f06.log", (0..20).map(|i| malformed(i) + "\n").collect::<String>().into_bytes()),
        ("f07.log", synth(7, 2_000, Style::EnvoyDefault, Wrapper::None, 5)),
        ("f08.log.gz", gzip(&synth(8, 4_000, Style::IstioText, Wrapper::Cri, 40))),
        ("f09.log", real_with_malformed(&["real-circuit-breaker.log", "real-refused-localhost.log"], 30)),
    ];
    files
        .into_iter()
        .map(|(name, data)| {
            let p = dir.join(name);
            std::fs::write(&p, data).unwrap();
            p
        })
        .collect()
}

fn args_of(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// Runs envoy-triage with `args`; returns (exit code, stdout, stderr).
fn run(args: &[String]) -> (i32, Vec<u8>, String) {
    let out = bin().args(args).output().unwrap();
    (out.status.code().unwrap(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The report formats a merge writes, each with the flags that make it deterministic.
const REPORTS: [&[&str]; 4] = [
    &["--output", "json"],
    &["--output", "table", "--color", "never", "--verbose", "--top", "40"],
    &["--output", "ndjson"],
    &["--output", "html"],
];

/// Saves a state per shard (`split` gives each shard's number of inputs), alternating 1 and 2
/// threads, merges them and checks every report against one run over all the inputs.
fn check_split(dir: &Path, files: &[PathBuf], split: &[usize], extra: &[&str]) {
    assert_eq!(split.iter().sum::<usize>(), files.len());
    let mut states = Vec::new();
    let mut at = 0;
    for (i, &n) in split.iter().enumerate() {
        let state = dir.join(format!("shard-{i:03}.state"));
        let mut args = args_of(&files[at..at + n]);
        args.extend(s(&[
            "--save-state",
            &state.display().to_string(),
            "-j",
            if i % 2 == 0 { "1" } else { "2" },
        ]));
        args.extend(s(extra));
        let (code, _, err) = run(&args);
        assert!(code == 0 || code == 2 && n == 0, "shard {i}: exit {code}: {err}");
        assert!(state.exists(), "shard {i}: no state: {err}");
        states.push(state.display().to_string());
        at += n;
    }
    for report in REPORTS {
        let mut one = args_of(files);
        one.extend(s(report));
        one.extend(s(extra));
        let (code_one, want, err_one) = run(&one);
        let mut merge = vec!["merge".to_string()];
        merge.extend(states.iter().cloned());
        merge.extend(s(report));
        let (code, got, err) = run(&merge);
        assert_eq!(code, code_one, "{report:?} split {split:?}: {err} / {err_one}");
        assert!(!want.is_empty());
        if got != want {
            let (w, g) = (String::from_utf8_lossy(&want), String::from_utf8_lossy(&got));
            let line = w.lines().zip(g.lines()).position(|(a, b)| a != b);
            panic!(
                "{report:?} {extra:?} split {split:?}: merged report differs from one pass at line {line:?}:\n\
                 one pass: {:?}\nmerged:   {:?}",
                line.and_then(|l| w.lines().nth(l)),
                line.and_then(|l| g.lines().nth(l))
            );
        }
    }
}

#[test]
fn merged_states_of_any_split_report_exactly_as_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(dir.path());
    // The run itself must be worth comparing: failures, folding, malformed samples, pods.
    let mut args = args_of(&files);
    args.extend(s(&["--max-clusters", "12"]));
    let (_, v, _) = crate::common::json_of(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(v["totals"]["failed"].as_u64().unwrap() > 100, "{}", v["totals"]);
    assert!(v["totals"]["malformed"].as_u64().unwrap() >= 20 + 10, "{}", v["totals"]);
    assert!(v["folding"]["folded_records"].as_u64().unwrap() > 0, "{}", v["folding"]);
    assert_eq!(v["malformed_samples"].as_array().unwrap().len(), 5);

    check_split(dir.path(), &files, &[5, 5], &[]);
    check_split(dir.path(), &files, &[3, 4, 3], &["--max-clusters", "12"]);
    // Ten shards: one input each, among them a shard with no line (f03) and one with no record
    // (f06, malformed lines only).
    check_split(dir.path(), &files, &[1; 10], &["--max-clusters", "12"]);
}

#[test]
fn merged_states_keep_filters_and_merge_in_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    let files = inputs(dir.path());
    let filter = [
        "--code",
        "5xx",
        "--since",
        "2020-01-01T00:00:00Z",
        "--namespace",
        "shop",
        "--namespace",
        "bookinfo",
    ];
    let mut args = args_of(&files);
    args.extend(s(&filter));
    let (_, v, _) = crate::common::json_of(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let t = &v["totals"];
    assert!(t["analysed"].as_u64() > Some(100) && t["filtered_out"].as_u64() > Some(1000), "{t}");
    check_split(dir.path(), &files, &[2, 8], &filter);

    // Merged states merge again (a tree of merges): the same report.
    let state = |i: usize| dir.path().join(format!("t{i}.state")).display().to_string();
    for (i, part) in files.chunks(3).enumerate() {
        let mut args = args_of(part);
        args.extend(s(&["--save-state", &state(i), "--output", "json"]));
        assert_eq!(run(&args).0, 0);
    }
    let left = dir.path().join("left.state").display().to_string();
    assert_eq!(run(&s(&["merge", &state(0), &state(1), "--save-state", &left, "-o", "json"])).0, 0);
    let (_, tree, _) = run(&s(&["merge", &left, &state(2), &state(3), "-o", "json"]));
    let mut one = args_of(&files);
    one.extend(s(&["-o", "json"]));
    assert_eq!(String::from_utf8(tree).unwrap(), String::from_utf8(run(&one).1).unwrap());
}

/// A state saved from the real timeout log: (dir, path).
fn one_state() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("a.state");
    let log = crate::common::sample("real-timeout-15s.log");
    let (code, _, err) = run(&s(&[&log, "--save-state", &state.display().to_string()]));
    assert_eq!(code, 0, "{err}");
    (dir, state)
}

fn merge_refused(states: &[&Path]) -> String {
    let mut args = vec!["merge".to_string()];
    args.extend(states.iter().map(|p| p.display().to_string()));
    let (code, out, err) = run(&args);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "a refused merge reports nothing: {}", String::from_utf8_lossy(&out));
    assert!(err.starts_with("envoy-triage: ") && err.lines().count() == 1, "{err}");
    err
}

#[test]
fn truncated_damaged_and_foreign_states_are_refused() {
    let (dir, state) = one_state();
    let bytes = std::fs::read(&state).unwrap();
    for cut in [bytes.len() - 1, bytes.len() / 2, 40] {
        let p = dir.path().join(format!("cut-{cut}.state"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let err = merge_refused(&[&state, &p]);
        assert!(err.contains("truncated or damaged"), "cut at {cut}: {err}");
    }
    let mut flipped = bytes.clone();
    let at = bytes.len() - 20;
    flipped[at] ^= 0x55;
    let p = dir.path().join("flipped.state");
    std::fs::write(&p, &flipped).unwrap();
    assert!(merge_refused(&[&p]).contains("truncated or damaged"));

    let log = crate::common::log_path("real-timeout-15s.log");
    let err = merge_refused(&[&state, &log]);
    assert!(err.contains("not an envoy-triage state"), "{err}");
    let empty = dir.path().join("empty.state");
    std::fs::write(&empty, b"").unwrap();
    assert!(merge_refused(&[&empty]).contains("not an envoy-triage state"));
    let missing = dir.path().join("missing.state");
    assert!(merge_refused(&[&missing]).contains("missing.state"));
}

#[test]
fn a_state_of_another_version_is_refused_saying_both() {
    let (dir, state) = one_state();
    let bytes = std::fs::read(&state).unwrap();
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let head = String::from_utf8(bytes[..nl].to_vec()).unwrap();
    assert_eq!(head, format!("envoy-triage state 1 {}", env!("CARGO_PKG_VERSION")));
    for (other, says) in [
        ("envoy-triage state 1 0.0.1", "saved by envoy-triage 0.0.1 (state format 1)"),
        ("envoy-triage state 99 9.9.9", "(state format 99)"),
    ] {
        let mut b = other.as_bytes().to_vec();
        b.extend_from_slice(&bytes[nl..]);
        let p = dir.path().join("other.state");
        std::fs::write(&p, b).unwrap();
        let err = merge_refused(&[&p]);
        assert!(err.contains(says) && err.contains("run that shard again with this version"), "{err}");
    }
}

#[test]
fn states_made_with_other_settings_are_refused() {
    let (dir, state) = one_state();
    let log = crate::common::sample("real-no-healthy.log");
    for (flags, says) in [
        (&["--max-clusters", "5"][..], "--max-clusters 5"),
        (&["--format", "istio"][..], "--format istio"),
        (&["--code", "503"][..], "--code 503"),
    ] {
        let other = dir.path().join("other.state");
        let mut args = s(&[&log, "--save-state", &other.display().to_string()]);
        args.extend(s(flags));
        assert_eq!(run(&args).0, 0);
        let err = merge_refused(&[&state, &other]);
        assert!(err.contains(says) && err.contains("same --format, --max-clusters and filters"), "{err}");
    }
}

#[test]
fn save_state_refuses_relative_times_and_merge_refuses_record_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("a.state").display().to_string();
    let log = crate::common::sample("real-timeout-15s.log");
    let (code, _, err) = run(&s(&[&log, "--save-state", &state, "--since", "1h"]));
    assert_eq!(code, 2);
    assert!(err.contains("--save-state needs absolute times"), "{err}");
    assert!(!Path::new(&state).exists());
    let (code, _, err) = run(&s(&[&log, "--save-state", &state, "--follow"]));
    assert_eq!(code, 2, "{err}");

    // A shard may write its records too; the merge then reports on their states.
    let parquet = dir.path().join("a.parquet");
    let out = bin()
        .args([&log, "--save-state", &state, "--output", "parquet"])
        .stdout(std::fs::File::create(&parquet).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&parquet).unwrap().len() > 0);
    let (_, merged, _) = run(&s(&["merge", &state, "-o", "json"]));
    assert_eq!(merged, run(&s(&[&log, "-o", "json"])).1);
    for format in ["records", "parquet"] {
        let (code, out, err) = run(&s(&["merge", &state, "-o", format]));
        assert_eq!((code, out.is_empty()), (2, true));
        assert!(err.contains("merge writes reports") && err.contains("beside --save-state"), "{err}");
    }
}

#[test]
fn merge_exit_codes_follow_fail_on_and_unreadable_inputs_as_one_pass_does() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.state").display().to_string();
    let b = dir.path().join("b.state").display().to_string();
    let timeout = crate::common::sample("real-timeout-15s.log");
    let missing = dir.path().join("missing.log").display().to_string();
    assert_eq!(run(&s(&[&timeout, "--save-state", &a])).0, 0);
    // An argument that cannot be read: the shard exits 2, and so does every merge of it.
    let (code, _, err) = run(&s(&[&missing, &timeout, "--save-state", &b]));
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = run(&s(&["merge", &a, &b]));
    assert_eq!(code, 2, "{err}");
    assert!(!out.is_empty());
    assert!(err.contains("b.state") && err.contains("could not be read"), "{err}");

    let cond = "count(cause:route_timeout) > 0";
    let (one, _, _) = run(&s(&[&timeout, "--fail-on", cond]));
    let (merged, _, err) = run(&s(&["merge", &a, "--fail-on", cond]));
    assert_eq!((one, merged), (1, 1), "{err}");
    assert!(err.contains("--fail-on 'count(cause:route_timeout) > 0' met"), "{err}");
}

/// `--shard I/N` over a directory: every shard expands it alike and reads its run of files; the
/// merge puts the states back in shard order whatever order they are given in (a shell glob
/// sorts `10.state` before `2.state`), and says which shards are missing.
#[test]
fn shards_of_a_directory_merge_in_shard_order_and_missing_ones_are_said() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir(&archive).unwrap();
    inputs(&archive);
    let arch = archive.display().to_string();
    let state = |i: u32| dir.path().join(format!("{i}.state")).display().to_string();
    for report in REPORTS {
        let (code, want, _) = run(&[&[arch.clone()][..], &s(report)].concat());
        assert_eq!(code, 0);
        // 13 shards of 10 files: some read nothing and save an empty state.
        for i in 0..13 {
            let (code, _, err) = run(&s(&[&arch, "--shard", &format!("{i}/13"), "--save-state", &state(i)]));
            assert_eq!(code, 0, "shard {i}: {err}");
        }
        let mut merge = s(&["merge"]);
        merge.extend((0..13).rev().map(state));
        merge.extend(s(report));
        let (code, got, err) = run(&merge);
        assert_eq!(code, 0, "{err}");
        assert!(
            got == want,
            "{report:?}: the merged shards differ from one pass:\n{}",
            String::from_utf8_lossy(&got)
        );
    }

    // A tree of merges: the last one checks that every shard is there.
    let left = dir.path().join("left.state").display().to_string();
    let (code, _, err) = run(&s(&["merge", &state(0), &state(1), &state(2), "--save-state", &left]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("shards 3-12 of 13 are missing"), "{err}");
    let mut rest: Vec<String> = (3..13).map(state).collect();
    rest.extend(s(&["-o", "json"]));
    let (code, tree, err) = run(&[&s(&["merge", &left])[..], &rest].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(tree, run(&s(&[&arch, "-o", "json"])).1);

    // A shard whose state did not arrive: said, exit 2, the rest still reported.
    let some: Vec<String> = (0..13).filter(|i| ![4, 6, 7].contains(i)).map(state).collect();
    let (code, out, err) = run(&[&s(&["merge"])[..], &some].concat());
    assert_eq!(code, 2);
    assert!(!out.is_empty());
    assert!(err.contains("shards 4 and 6-7 of 13 are missing"), "{err}");
    // The same shard twice, and shards of another cut, are refused.
    let err = merge_refused(&[Path::new(&state(3)), Path::new(&state(3))]);
    assert!(err.contains("covers shards that") && err.contains("3.state"), "{err}");
    let other = dir.path().join("other.state").display().to_string();
    assert_eq!(run(&s(&[&arch, "--shard", "1/4", "--save-state", &other])).0, 0);
    let err = merge_refused(&[Path::new(&state(0)), Path::new(&other)]);
    assert!(err.contains("--shard …/4") && err.contains("--shard …/13"), "{err}");

    let (code, _, err) = run(&s(&["-", "--shard", "0/2"]));
    assert_eq!(code, 2);
    assert!(err.contains("stdin cannot be split"), "{err}");
}

/// The README's recipe for one big machine, run as written (xargs -P and GNU parallel) with the
/// built binary first on PATH, in a directory holding `archive/`: its merge is one pass's report.
#[test]
fn the_readme_recipe_runs_as_written() {
    let readme = std::fs::read_to_string(crate::common::root().join("README.md")).unwrap();
    let block = readme.split("<!-- recipe:").nth(1).expect("README has the recipe");
    let script: String = block.split("```sh\n").nth(1).unwrap().split("```").next().unwrap().to_string();
    assert!(
        script.contains("xargs -P") && script.contains("parallel -j") && script.contains("merge states/")
    );
    if crate::common::system_tool(&["parallel"], "apt-get install parallel").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    std::fs::create_dir(&archive).unwrap();
    inputs(&archive);
    let bin_dir = assert_cmd::cargo::cargo_bin("envoy-triage").parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let states = std::fs::read_dir(dir.path().join("states")).unwrap().count();
    assert_eq!(states, 16);
    let report = std::fs::read(dir.path().join("report.html")).unwrap();
    let one = bin().current_dir(dir.path()).args(["archive/", "--output", "html"]).output().unwrap();
    assert!(report == one.stdout, "the recipe's report differs from one pass");
}

/// The `args:` of the first container of a Job manifest (each `- "…"` line after `args:`).
fn job_args(manifest: &str) -> Vec<String> {
    let text = std::fs::read_to_string(crate::common::root().join("deploy/batch").join(manifest)).unwrap();
    let mut lines = text.lines().skip_while(|l| l.trim() != "args:").skip(1);
    let mut args = Vec::new();
    for l in lines.by_ref() {
        let Some(v) = l.trim().strip_prefix("- ") else { break };
        args.push(v.trim_matches('"').to_string());
    }
    args
}

/// The Kubernetes recipe's commands, as the kubelet would run them: the Indexed Job's args for
/// every completion index (`$(JOB_COMPLETION_INDEX)` expanded, the volumes' mount paths moved
/// into a temporary directory), then the merge Job's: its report is one pass's. No cluster is
/// started; what is checked is that the manifests' commands and counts agree and work.
#[test]
fn the_indexed_job_recipe_runs_as_its_pods_would() {
    let text = std::fs::read_to_string(crate::common::root().join("deploy/batch/indexed-job.yaml")).unwrap();
    let completions: u32 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions: "))
        .expect("completions")
        .parse()
        .unwrap();
    let shard_args = job_args("indexed-job.yaml");
    let count = format!("$(JOB_COMPLETION_INDEX)/{completions}");
    assert!(shard_args.contains(&count), "--shard must say the Job's completions: {shard_args:?}");
    let merge_args = job_args("merge-job.yaml");
    assert_eq!(merge_args[0], "merge");
    // Valid objects for the Kubernetes API, unknown fields refused (offline, against the
    // schemas of the oldest version the manifests need: backoffLimitPerIndex is 1.29's).
    if crate::common::system_tool(&["kubernetes-validate"], "pip install kubernetes-validate").is_some() {
        let dir = crate::common::root().join("deploy/batch");
        let out = std::process::Command::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", "1.29.0"])
            .args([dir.join("indexed-job.yaml"), dir.join("merge-job.yaml")])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.matches("passed").count() == 4, "{said}");
    }

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    std::fs::create_dir(dir.path().join("archive")).unwrap();
    std::fs::create_dir(dir.path().join("states")).unwrap();
    inputs(&dir.path().join("archive"));
    let mount = |a: &str| {
        a.replace("/archive", &format!("{root}/archive")).replace("/states", &format!("{root}/states"))
    };
    for index in 0..completions {
        let args: Vec<String> = shard_args
            .iter()
            .map(|a| mount(&a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string())))
            .collect();
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "index {index}: {err}");
    }
    let args: Vec<String> = merge_args.iter().map(|a| mount(a)).collect();
    let (code, merged, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let output = merge_args.iter().position(|a| a == "--output").map(|i| merge_args[i + 1].clone()).unwrap();
    let (_, one, _) = run(&s(&[&format!("{root}/archive"), "--output", &output]));
    assert!(merged == one, "the merge Job's report differs from one pass");
    // Its saved state is outside the shards' directory: merging that again still works.
    let (code, again, err) = run(&s(&["merge", &format!("{root}/states"), "--output", &output]));
    assert_eq!((code, again == one), (0, true), "{err}");
}
