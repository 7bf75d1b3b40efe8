//! Ranking by impact, and incidents: the order a tired SRE should read the findings in.
//! Reads the findings [`super::findings`] built (one per cause × upstream × reporter) and the
//! links it found between them; [`super::Summary::build`] stores the result. No I/O.
//!
//! The rule (README, "How findings are ranked"; docs/json-contract.md):
//!
//! - A finding's **impact** is `count × severity × √share`, where `share` is the finding's part
//!   of its upstream's requests (of all records when it has no upstream) and `severity` is 1 for
//!   a 5xx or no response (`0`), 0.3 for a 4xx or any other code, 0.1 for a client that gave up
//!   (`downstream_disconnect`) and for injected faults (configured on purpose), 0.02 for a
//!   `404 NR` at the edge (scanners probe hosts and paths that do not exist); ×1.5 when a
//!   gateway logged it (users saw it). The count
//!   weighs breadth (how much of the log fails), the square root of the share weighs
//!   concentration (an upstream that fails most of its requests is an outage; a sporadic rate
//!   on a busy one is noise) without letting three requests to a tiny upstream outrank a
//!   thousand failures of a busy one.
//! - Findings that hold the same requests (at least half of the smaller one's request ids) are
//!   one **incident**, as are a client's `UC` and the server's `filter_chain_not_found` at the
//!   address it dialled: the same failure seen by two proxies. An incident's impact is that of
//!   its largest count, its worst severity and its largest share (every hop saw the same
//!   requests, one hop the worst of them); it is shown once, led by the member that is not a symptom of another
//!   (a client passing on a 5xx, a hop that saw a timeout elsewhere as a disconnect), then the
//!   other hops' views.

use super::findings::Finding;
use crate::classify::origin::{Hop, origin};
use crate::classify::{Cause, Reporter};
use crate::response_flags::ResponseFlags;

/// A group of findings that are one failure seen by several proxies.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Incident {
    /// 1-based, in the order shown.
    pub rank: usize,
    /// Its largest count × its worst severity × √ its largest share (see the module doc),
    /// rounded to 0.01.
    pub impact: f64,
    /// The largest member count: the requests at least this many (ids may be missing).
    pub requests: u64,
    /// Indices into `findings`: the lead first, then the other hops (gateway → client sidecar →
    /// server sidecar), larger first.
    pub findings: Vec<usize>,
    /// Where the failure began, judged from every hop's view of it
    /// ([`crate::classify::origin`]), as `envoy-triage trace` judges one request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Broke>,
}

/// Where an incident's failure began.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Broke {
    /// `caller`, `gateway`, `client_sidecar`, `proxy`, `between`, `server_sidecar`, `app`,
    /// `upstream` (`crate::classify::origin::Place`).
    pub place: &'static str,
    /// The index into `findings` of the hop whose record shows it.
    pub finding: usize,
    /// One sentence: the hop, what it saw, what to look at.
    pub why: String,
}

/// The judgement of [`origin`] on findings: each finding's dominant signature is one hop's view.
fn broke(findings: &[Finding], members: &[usize]) -> Option<Broke> {
    let hops: Vec<Hop<'_>> = members
        .iter()
        .map(|&i| {
            let f = &findings[i];
            let e = &f.evidence;
            Hop {
                reporter: Reporter::ALL
                    .into_iter()
                    .find(|r| r.name() == f.reporter)
                    .unwrap_or(Reporter::Unknown),
                cause: Cause::ALL.into_iter().find(|c| c.name() == f.cause),
                response_code: e.response_code,
                flags: ResponseFlags::parse(e.response_flags.as_bytes()).unwrap_or(ResponseFlags::NONE),
                details: e.response_code_details.as_deref().unwrap_or(""),
                upstream_cluster: &f.upstream,
                upstream_host: e.upstream_hosts.first().map_or("", String::as_str),
            }
        })
        .collect();
    let o = origin(&hops)?;
    Some(Broke { place: o.place.name(), finding: members[o.hop], why: o.why })
}

/// How much a finding's failure hurts, per request: see the module doc.
pub fn severity(f: &Finding) -> f64 {
    let code = f.evidence.response_code;
    let edge = f.reporter == "gateway";
    let base = match f.cause {
        "fault_injected" | "downstream_disconnect" => 0.1,
        "no_route" if code == Some(404) && (edge || f.reporter == "unknown") => 0.02,
        _ => match code {
            None | Some(0) | Some(500..=599) => 1.0,
            _ => 0.3,
        },
    };
    if edge { base * 1.5 } else { base }
}

/// The impact of one finding (see the module doc).
pub fn impact(f: &Finding) -> f64 {
    f.count as f64 * severity(f) * f.share.clamp(0.0, 1.0).sqrt()
}

/// The names that break every tie, borrowed: sorting compares them, it need not own them.
fn key(f: &Finding) -> (&str, &str, Option<&str>, &str) {
    (f.cause, &f.upstream, f.workload.as_deref(), f.reporter)
}

/// Where a hop sits on a request's path, for ordering an incident's views.
fn hop_order(reporter: &str) -> u8 {
    match reporter {
        "gateway" => 0,
        "client_sidecar" => 1,
        "server_sidecar" => 2,
        _ => 3,
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Orders `findings` by incident and returns the incidents. `links` pairs indices of
/// `findings` that are the same requests; `symptom` says whether a finding is explained by
/// another. Deterministic: every tie is broken on the findings' names.
pub fn rank(
    findings: Vec<Finding>,
    links: &[(usize, usize)],
    symptom: impl Fn(&Finding) -> bool,
) -> (Vec<Finding>, Vec<Incident>) {
    let n = findings.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for &(a, b) in links {
        if a < n && b < n {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let impacts: Vec<f64> = findings.iter().map(impact).collect();
    let symptoms: Vec<bool> = findings.iter().map(&symptom).collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of = vec![usize::MAX; n];
    for i in 0..n {
        let r = find(&mut parent, i);
        if group_of[r] == usize::MAX {
            group_of[r] = groups.len();
            groups.push(Vec::new());
        }
        groups[group_of[r]].push(i);
    }
    for g in &mut groups {
        // The lead: not a symptom, then the largest impact.
        g.sort_by(|&a, &b| {
            symptoms[a]
                .cmp(&symptoms[b])
                .then_with(|| impacts[b].total_cmp(&impacts[a]))
                .then_with(|| findings[b].count.cmp(&findings[a].count))
                .then_with(|| key(&findings[a]).cmp(&key(&findings[b])))
        });
        let (_, rest) = g.split_at_mut(1);
        rest.sort_by(|&a, &b| {
            hop_order(findings[a].reporter)
                .cmp(&hop_order(findings[b].reporter))
                .then_with(|| findings[b].count.cmp(&findings[a].count))
                .then_with(|| key(&findings[a]).cmp(&key(&findings[b])))
        });
    }
    let group_requests = |g: &Vec<usize>| g.iter().map(|&i| findings[i].count).max().unwrap_or(0);
    // Every hop saw the same failure: it is as large as the most any hop counted, as severe as
    // the worst any hop saw (a gateway's 504 behind a server sidecar's disconnect), as
    // concentrated as the largest share any hop's upstream lost.
    let group_impact = |g: &Vec<usize>| {
        let max = |v: &dyn Fn(&Finding) -> f64| g.iter().map(|&i| v(&findings[i])).fold(0.0, f64::max);
        group_requests(g) as f64 * max(&severity) * max(&|f| f.share.clamp(0.0, 1.0)).sqrt()
    };
    groups.sort_by(|a, b| {
        group_impact(b)
            .total_cmp(&group_impact(a))
            .then_with(|| group_requests(b).cmp(&group_requests(a)))
            .then_with(|| key(&findings[a[0]]).cmp(&key(&findings[b[0]])))
    });
    let totals: Vec<(f64, u64)> = groups.iter().map(|g| (group_impact(g), group_requests(g))).collect();
    let mut slots: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(n);
    let mut incidents = Vec::with_capacity(groups.len());
    for (rank, (g, (impact, requests))) in groups.iter().zip(totals).enumerate() {
        let first = ordered.len();
        for &i in g {
            let mut f = slots[i].take().expect("each finding is in one incident");
            f.impact = round2(impacts[i]);
            f.incident = rank + 1;
            ordered.push(f);
        }
        incidents.push(Incident {
            rank: rank + 1,
            impact: round2(impact),
            requests,
            findings: (first..ordered.len()).collect(),
            origin: None,
        });
    }
    for inc in &mut incidents {
        inc.origin = broke(&ordered, &inc.findings);
    }
    (ordered, incidents)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
