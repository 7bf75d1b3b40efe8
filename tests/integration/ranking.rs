//! Ranking by impact and incidents (README, "How findings are ranked"), on generated mixes whose
//! right answer is known and on the bundled samples: the incident comes first even when it is a
//! few percent of the lines, noise (scanners' `404 NR`, a sporadic keep-alive race, clients
//! hanging up) sinks, and the same requests seen by two proxies are one incident led by the hop
//! that made the failure.

use std::fmt::Write as _;

use serde_json::Value;

use crate::common::{bin, json_of, root};

/// Lines in Istio's default text format, as the sample logs hold them.
struct Mix {
    text: String,
    n: u64,
}

impl Mix {
    fn new() -> Mix {
        Mix { text: String::new(), n: 0 }
    }

    fn id(&mut self) -> String {
        self.n += 1;
        format!("{:08x}-1b54-45b7-8e3c-{:012x}", self.n, self.n * 7919)
    }

    /// A client sidecar's outbound record.
    #[allow(clippy::too_many_arguments)]
    fn client(&mut self, id: &str, code: u16, flags: &str, details: &str, svc: &str, host: &str) {
        let ms = self.n % 1000;
        writeln!(
            self.text,
            r#"[2026-11-20T10:00:{:02}.{ms:03}Z] "GET /api/v1/items HTTP/1.1" {code} {flags} {details} - "-" 0 120 12 11 "-" "python-requests/2.31.0" "{id}" "{svc}:8080" "{host}:8080" outbound|8080||{svc}.shop.svc.cluster.local 10.244.1.5:41000 10.96.0.10:8080 10.244.1.5:52000 - default"#,
            self.n / 1000 % 60
        )
        .unwrap();
    }

    /// The server sidecar's inbound record of the same request.
    fn server(&mut self, id: &str, code: u16, flags: &str, details: &str, svc: &str, host: &str) {
        let ms = self.n % 1000;
        writeln!(
            self.text,
            r#"[2026-11-20T10:00:{:02}.{ms:03}Z] "GET /api/v1/items HTTP/1.1" {code} {flags} {details} - "-" 0 120 10 - "-" "python-requests/2.31.0" "{id}" "{svc}:8080" "{host}:8080" inbound|8080|| - {host}:8080 10.244.1.5:41000 outbound_.8080_._.{svc}.shop.svc.cluster.local default"#,
            self.n / 1000 % 60
        )
        .unwrap();
    }

    /// A record of the ingress gateway with no route for the host: what scanners cause.
    fn scanner(&mut self) {
        let id = self.id();
        writeln!(
            self.text,
            r#"[2026-11-20T10:00:00.000Z] "GET /wp-login.php HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "203.0.113.9" "zgrab/0.x" "{id}" "admin.example.com" "-" - - 10.244.0.7:8080 203.0.113.9:40000 - -"#
        )
        .unwrap();
    }

    fn ok(&mut self, svc: &str, n: usize) {
        for _ in 0..n {
            let id = self.id();
            self.client(&id, 200, "-", "via_upstream", svc, "10.244.2.9");
        }
    }

    fn lines(&self) -> usize {
        self.text.lines().count()
    }
}

fn write_log(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn lead(v: &Value, rank: usize) -> &Value {
    let i = v["incidents"][rank]["findings"][0].as_u64().unwrap() as usize;
    &v["findings"][i]
}

/// A payments outage (its app refuses connections on the pod IP) is 2.4% of the lines, among
/// scanners (1.5%), clients hanging up (1%), a keep-alive race on the busiest upstream and a
/// small rate of `UH` on another: it is incident #1, one incident for both proxies, led by the
/// server sidecar that was refused.
#[test]
fn an_outage_at_a_few_percent_of_the_lines_is_the_first_incident() {
    let mut m = Mix::new();
    m.ok("frontend", 6000);
    for _ in 0..18 {
        let id = m.id();
        m.client(
            &id,
            503,
            "UC",
            "upstream_reset_before_response_started{connection_termination}",
            "frontend",
            "10.244.2.9",
        );
    }
    for _ in 0..100 {
        let id = m.id();
        m.client(&id, 0, "DC", "downstream_remote_disconnect", "frontend", "10.244.2.9");
    }
    for _ in 0..150 {
        m.scanner();
    }
    m.ok("orders", 2000);
    for _ in 0..20 {
        let id = m.id();
        m.client(&id, 503, "UH", "no_healthy_upstream", "orders", "10.244.3.3");
    }
    for i in 0..300 {
        let id = m.id();
        if i % 5 < 2 {
            m.client(&id, 503, "URX", "via_upstream", "payments", "10.244.4.4");
            m.server(
                &id,
                503,
                "URX,UF",
                "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
                "payments",
                "10.244.4.4",
            );
        } else {
            m.client(&id, 200, "-", "via_upstream", "payments", "10.244.4.4");
            m.server(&id, 200, "-", "via_upstream", "payments", "10.244.4.4");
        }
    }
    let failing_lines = 240;
    assert!(failing_lines * 100 / m.lines() < 5, "the outage is under 5% of {} lines", m.lines());
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(&dir, "mix.log", &m.text);

    let (code, v, _) = json_of(&[&log]);
    assert_eq!(code, 0);
    let first = &v["incidents"][0];
    assert_eq!(first["requests"], 120, "{first}");
    let members: Vec<&Value> = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &v["findings"][i.as_u64().unwrap() as usize])
        .collect();
    let seen: Vec<(&str, &str, u64)> = members
        .iter()
        .map(|f| {
            (f["cause"].as_str().unwrap(), f["reporter"].as_str().unwrap(), f["count"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(seen, [("connection_refused", "server_sidecar", 120), ("app_error", "client_sidecar", 120)]);
    assert_eq!(members[1]["upstream"], "outbound|8080||payments.shop.svc.cluster.local");
    assert!(members.iter().all(|f| f["incident"] == 1));
    // Where it broke: the app behind the server sidecar, refusing on the pod IP.
    assert_eq!(first["origin"]["place"], "app", "{first}");
    assert_eq!(first["origin"]["finding"], first["findings"][0], "{first}");
    assert!(first["origin"]["why"].as_str().unwrap().contains("does not listen on the pod IP"), "{first}");
    // The noise comes after every real failure: scanners last.
    let causes: Vec<&str> = (0..v["incidents"].as_array().unwrap().len())
        .map(|r| lead(&v, r)["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes.last(), Some(&"no_route"), "{causes:?}");
    let rank_of = |c: &str| causes.iter().position(|x| *x == c).unwrap();
    assert!(rank_of("no_healthy_upstream") < rank_of("downstream_disconnect"), "{causes:?}");
    assert!(rank_of("downstream_disconnect") < rank_of("no_route"), "{causes:?}");
    // Impacts are in order.
    let impacts: Vec<f64> =
        v["incidents"].as_array().unwrap().iter().map(|i| i["impact"].as_f64().unwrap()).collect();
    assert!(impacts.windows(2).all(|w| w[0] >= w[1]), "{impacts:?}");

    // The first screen leads with it, at 80 columns.
    let out = bin().args(["--color", "never", &log]).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table.lines().skip_while(|l| !l.starts_with("INCIDENTS")).nth(2).unwrap();
    assert!(row.trim_start().starts_with("1  connection_refused"), "{row}\n{table}");
    // At 80 columns who logged it is said short rather than dropped.
    assert!(row.ends_with("  server +1") && row.chars().count() <= 80, "{row}\n{table}");
    assert!(table.contains("#1 connection_refused · application · server sidecar · 120 requests"), "{table}");
    assert!(table.contains("other hop client sidecar: app_error · 120 requests"), "{table}");
    assert!(table.contains("   broke at  the app (behind the server sidecar)\n"), "{table}");
    // The table's `trace` command runs as printed and follows the request to the same hop.
    let trace = table.lines().find(|l| l.starts_with("   trace ")).unwrap();
    let words: Vec<&str> = trace.split_whitespace().skip(1).collect();
    assert_eq!(words[..2], ["envoy-triage", "trace"], "{trace}");
    assert_eq!(words[3], log, "{trace}");
    let out = bin().args(&words[1..]).output().unwrap();
    let traced = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{traced}");
    assert!(traced.contains("originated at: the app (behind the server sidecar), hop 2"), "{traced}");
}

/// A flood of scanners is many more lines than a small outage, and still comes after it.
#[test]
fn scanners_sink_below_a_small_outage() {
    let mut m = Mix::new();
    m.ok("catalog", 4000);
    for _ in 0..500 {
        m.scanner();
    }
    for _ in 0..30 {
        let id = m.id();
        m.client(&id, 503, "UH", "no_healthy_upstream", "cart", "10.244.5.5");
    }
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(&dir, "scan.log", &m.text);
    let (_, v, _) = json_of(&[&log]);
    assert_eq!(lead(&v, 0)["cause"], "no_healthy_upstream", "{}", v["incidents"]);
    assert_eq!(lead(&v, 0)["count"], 30);
    assert_eq!(lead(&v, 1)["cause"], "no_route");
    assert_eq!(lead(&v, 1)["count"], 500);
}

/// On the bundled samples: the 15 s gateway timeout the README shows is on the first screen
/// (it was finding 12 of 34, past the default `--top 10`), one incident with the server
/// sidecar's disconnects of the same requests; the refused reviews requests are one incident
/// led by the server sidecar.
#[test]
fn the_samples_incidents() {
    let (_, v, _) = json_of(&[root().join("sample-logs").to_str().unwrap()]);
    let incidents = v["incidents"].as_array().unwrap();
    let timeout = (0..incidents.len())
        .find(|&r| {
            lead(&v, r)["cause"] == "route_timeout"
                && lead(&v, r)["evidence"]["cutoff_ms"].as_u64() > Some(14_000)
        })
        .expect("the 15 s timeout leads an incident");
    assert!(timeout < 10, "the 15 s timeout is incident {} of {}", timeout + 1, incidents.len());
    let members: Vec<(&str, &str)> = incidents[timeout]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &v["findings"][i.as_u64().unwrap() as usize])
        .map(|f| (f["cause"].as_str().unwrap(), f["reporter"].as_str().unwrap()))
        .collect();
    assert_eq!(members[0], ("route_timeout", "gateway"));
    assert!(members.contains(&("downstream_disconnect", "server_sidecar")), "{members:?}");
    let first = lead(&v, 0);
    assert_eq!(
        (first["cause"].as_str(), first["reporter"].as_str()),
        (Some("connection_refused"), Some("server_sidecar"))
    );
    // Every finding is in exactly one incident.
    let mut seen: Vec<u64> = incidents
        .iter()
        .flat_map(|i| i["findings"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..v["findings"].as_array().unwrap().len() as u64).collect::<Vec<_>>());
}
