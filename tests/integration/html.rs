//! `--output html` in a real browser: headless Chromium (Debian's package; `.ci/run` installs
//! it) loads the report from a `file://` URL with networking disabled, and the DOM it dumps is
//! checked: the page's script ran without an error, the incidents are in rank order, the charts
//! hold the run's failures, a link sorts the upstream table. Hostile log content in every field
//! stays text. The page is the same at any thread count.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{bin, json_of, samples};

fn chromium() -> Option<PathBuf> {
    crate::common::system_tool(&["chromium", "chromium-browser", "google-chrome"], "apt-get install chromium")
}

/// The DOM after the page's scripts ran, as Chromium dumps it; its stderr too. Networking is
/// off: every host resolves nowhere and the proxy is a closed port.
fn dump_dom(browser: &Path, url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        // Files, not pipes: a page bigger than a pipe's buffer would block the browser while
        // the wait below does not read.
        .stdout(std::fs::File::create(profile.path().join("dom")).unwrap())
        .stderr(std::fs::File::create(profile.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    // A browser that hangs fails the test instead of the run.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let read =
        |name: &str| String::from_utf8_lossy(&std::fs::read(profile.path().join(name)).unwrap()).into_owned();
    (read("dom"), read("log"))
}

fn html_of(args: &[&str], out: &Path) {
    let file = std::fs::File::create(out).unwrap();
    let status = bin().args(args).args(["-o", "html"]).stdout(file).status().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// Every value of attribute `attr` in `html`, in order.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let key = format!(" {attr}=\"");
    html.match_indices(&key)
        .map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn the_report_in_a_browser_with_networking_off() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let samples = samples();
    let samples = samples.to_str().unwrap();
    html_of(&[samples], &page);
    let (_, summary, _) = json_of(&[samples]);
    let text = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch.
    assert!(attrs(&text, "src").is_empty(), "an element loads something");
    assert!(attrs(&text, "href").iter().all(|h| h.starts_with('#')), "a link leaves the page");
    assert!(text.contains("http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';"));
    assert!(text.len() < 400_000, "{} bytes", text.len());

    let Some(browser) = chromium() else { return };
    let url = format!("file://{}#sort=requests", page.display());
    let (dom, log) = dump_dom(&browser, &url);
    assert!(dom.contains("data-ready=\"1\""), "the page's script did not finish:\n{log}");
    assert!(!dom.contains("data-error="), "a script error: {dom}");
    assert!(!log.contains("Uncaught"), "{log}");
    assert!(!log.contains("Content Security Policy"), "the page tried to load something:\n{log}");

    // The incidents in rank order, the first the summary's first.
    let ranks: Vec<usize> = attrs(&dom, "data-rank").iter().map(|r| r.parse().unwrap()).collect();
    assert_eq!(ranks, (1..=summary["incidents"].as_array().unwrap().len()).collect::<Vec<_>>());
    let lead = summary["incidents"][0]["findings"][0].as_u64().unwrap() as usize;
    let cause = summary["findings"][lead]["cause"].as_str().unwrap();
    let incidents = &dom[dom.find("id=\"incidents\"").unwrap()..];
    assert_eq!(attrs(incidents, "data-cause")[0], cause, "the first incident");

    // The timeline holds every failure and request of the run, drawn as bars with a height.
    let sum = |attr: &str| attrs(&dom, attr).iter().map(|v| v.parse::<u64>().unwrap()).sum::<u64>();
    assert_eq!(sum("data-failed"), summary["totals"]["failed"].as_u64().unwrap());
    assert_eq!(sum("data-requests"), summary["totals"]["records"].as_u64().unwrap());
    let heights: Vec<f64> = attrs(&dom, "height").iter().filter_map(|h| h.parse().ok()).collect();
    assert!(heights.iter().filter(|&&h| h > 0.5).count() >= 20, "{heights:?}");
    // p50 and p99 per upstream, the slowest first: the 15 s timeout's upstream leads.
    let p99: Vec<u64> = attrs(&dom, "data-p99").iter().map(|v| v.parse().unwrap()).collect();
    assert!(p99.len() >= 10 && p99.windows(2).all(|w| w[0] >= w[1]) && p99[0] >= 15_000, "{p99:?}");
    // The 15 s timeout's durations, with the cut-off marked.
    assert!(
        dom.contains("data-cutoff-ms=\"15001\"") || dom.contains("data-cutoff-ms=\"15000\""),
        "no wall chart"
    );

    // `#sort=requests` sorted the upstream table by requests, largest first (the page is
    // written sorted by failures).
    let table = &dom[dom.find("id=\"upstream-table\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let requests: Vec<u64> =
        table.split("<tr>").skip(2).map(|row| attrs(row, "data-v")[1].parse().unwrap()).collect();
    assert!(requests.len() > 10);
    assert!(requests.windows(2).all(|w| w[0] >= w[1]), "{requests:?}");
    assert!(table.contains("aria-sort=\"descending\""));
    let written: Vec<u64> = text[text.find("id=\"upstream-table\"").unwrap()..]
        .split("<tr>")
        .skip(2)
        .take(requests.len())
        .map(|row| attrs(row, "data-v")[1].parse().unwrap())
        .collect();
    assert_ne!(written, requests, "the sort changed nothing");
}

/// A line of Istio's default format with `fields` in place of the real ones.
fn line(path: &str, details: &str, ua: &str, id: &str, authority: &str, cluster: &str) -> String {
    format!(
        "[2026-11-25T02:30:26.683Z] \"GET {path} HTTP/1.1\" 503 UF {details} - \"-\" 0 24 31 - \"-\" \"{ua}\" \"{id}\" \
         \"{authority}\" \"10.0.0.9:8080\" {cluster} 10.0.0.1:47696 10.0.0.1:8080 10.0.0.2:54055 - -"
    )
}

#[test]
fn hostile_content_in_every_field_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>\u{202e}gpj.exe\u{1b}[31m";
    let lines: Vec<String> = (0..6)
        .map(|i| {
            line(
                &format!("/a{i}?q={evil}"),
                &format!("upstream_reset_before_response_started{{{evil}}}"),
                evil,
                &format!("id-{i}-{evil}"),
                evil,
                &format!("outbound|80||{evil}.svc.cluster.local"),
            )
        })
        .collect();
    // A file name can carry markup too (no `/` in a name).
    let log = dir.path().join("<svg onload=alert(3)>\u{202e}'.log");
    std::fs::write(&log, lines.join("\n") + "\nnot an access log <script>bad()</script> \u{1b}[2J\n")
        .unwrap();
    let page = dir.path().join("report.html");
    html_of(&[log.to_str().unwrap()], &page);
    let text = std::fs::read_to_string(&page).unwrap();
    assert_eq!(text.matches("<script").count(), 1, "only the page's own script");
    assert!(!text.contains("<img"), "markup from the log became an element");
    assert!(
        !text.contains('\u{202e}') && !text.contains('\u{1b}'),
        "an invisible or control character went through"
    );
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the log's text is shown, escaped");
    assert!(text.contains("\\u{202e}gpj.exe"), "the bidi override is shown");
    // Attributes never close early: every quote inside a value is an entity.
    for v in attrs(&text, "data-copy").iter().chain(attrs(&text, "title").iter()) {
        assert!(!v.contains('<') && !v.contains('\''), "{v}");
    }

    let Some(browser) = chromium() else { return };
    let (dom, log) = dump_dom(&browser, &format!("file://{}", page.display()));
    assert!(dom.contains("data-ready=\"1\""), "the page's script did not finish:\n{log}");
    assert!(!dom.contains("data-error="), "{dom}");
    assert_eq!(dom.matches("<script").count(), 1, "a script element from the log");
    assert!(!dom.contains("<img"), "an element from the log");
}

#[test]
fn the_same_page_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    // Several files of real lines: each read by whichever worker takes it.
    let samples = samples();
    let mut names = Vec::new();
    for (i, entry) in std::fs::read_dir(&samples).unwrap().enumerate() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "log") {
            let to = dir.path().join(format!("{i}.log"));
            std::fs::copy(&p, &to).unwrap();
            names.push(to.display().to_string());
        }
    }
    let mut pages = Vec::new();
    for j in ["1", "2", "5"] {
        let out = dir.path().join(format!("j{j}.html"));
        let mut args = vec!["-j", j];
        args.extend(names.iter().map(String::as_str));
        html_of(&args, &out);
        pages.push(std::fs::read(&out).unwrap());
    }
    assert!(pages[0] == pages[1] && pages[1] == pages[2], "the page differs with the thread count");
}
