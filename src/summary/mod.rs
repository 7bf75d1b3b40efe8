//! The owned summary every report reads, and the versioned JSON contract
//! (`docs/json-contract.md`). Built from the merged [`Aggregate`] (never from workers' state);
//! deterministic: groups are sorted, percentiles are integers in milliseconds, maps keep a
//! documented order. [`findings`] turns the aggregate's failure groups into ranked judgements;
//! `values` holds the plain value types both use. Reports (`crate::report`) read only this.

use std::collections::HashMap;

use crate::aggregate::{Aggregate, Position};
use crate::classify::{Cause, Domain, Reporter};
use crate::format::SkipReason;
use crate::response_flags::Flag;
use crate::source::InputInfo;

pub mod findings;
pub mod rank;
mod values;
mod view;

pub use findings::Finding;
pub use rank::Incident;
pub use values::{Counts, Percentiles, format_epoch_ms, human_ms};
pub use view::{UpstreamSort, View};

/// Bumped on any incompatible change of the JSON output; additions keep the version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Totals {
    pub lines: u64,
    /// Every record read: `analysed + filtered_out`.
    pub records: u64,
    /// Records the filters let through (all of them without filters): what every other count,
    /// rate and percentile of the report is about.
    pub analysed: u64,
    /// Records outside the filters (`--since`, `--code`, …; 0 without filters).
    pub filtered_out: u64,
    pub skipped: u64,
    pub malformed: u64,
    /// Records read from cut lines (pasted into a ticket), with only some fields (a subset of
    /// `records`).
    pub partial: u64,
    /// Records classified as failures (a subset of `analysed`).
    pub failed: u64,
    pub skipped_by_reason: Counts,
    pub malformed_by_kind: Counts,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct InputSummary {
    pub name: String,
    pub lines: u64,
    /// Set when the input could not be read completely; what was read is still counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UpstreamSummary {
    pub cluster: String,
    /// For inbound clusters: the workload whose sidecar logged them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    pub requests: u64,
    pub failed: u64,
    pub by_code: Counts,
    pub by_flag: Counts,
    pub by_cause: Counts,
    pub duration_ms: Percentiles,
    pub upstream_service_time_ms: Percentiles,
    /// Live mode only: last minute, last five minutes, since start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<crate::aggregate::window::Windows>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Folding {
    pub max_clusters: usize,
    /// Records whose cluster was counted under `(other)` because the cap was reached.
    pub folded_records: u64,
    /// Most failure groups (cause × upstream × reporter) kept apart.
    pub max_groups: usize,
    /// Failures of kept upstreams counted in a finding at `(other)` because their own group is
    /// past `max_groups`.
    pub folded_failures: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MalformedOut {
    pub input: String,
    pub line: u64,
    pub kind: &'static str,
    pub column: u32,
    pub message: &'static str,
    /// The start of the line, raw (JSON escapes it; terminal output escapes controls).
    pub text: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TimeRange {
    pub first_start: String,
    pub last_start: String,
}

/// Everything a report shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub tool: &'static str,
    pub version: &'static str,
    pub totals: Totals,
    /// The filters of the run, when any was given (see `crate::filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<crate::filter::FilterOut>,
    pub inputs: Vec<InputSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_range: Option<TimeRange>,
    pub formats: Counts,
    pub by_code: Counts,
    pub by_flag: Counts,
    pub by_cause: Counts,
    pub by_domain: Counts,
    pub by_reporter: Counts,
    pub duration_ms: Percentiles,
    pub upstream_service_time_ms: Percentiles,
    /// Live mode only: last minute, last five minutes, since start, over all records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<crate::aggregate::window::Windows>,
    /// What `upstreams` is ordered by (`--sort`): `failed`, `requests`, `fail-rate`, `p99`.
    pub upstreams_sorted_by: &'static str,
    pub upstreams: Vec<UpstreamSummary>,
    pub folding: Folding,
    /// Ordered by incident (see [`rank`]): each incident's lead, then its other hops.
    pub findings: Vec<Finding>,
    /// Findings that are one failure seen by several proxies, by impact.
    pub incidents: Vec<Incident>,
    pub malformed_samples: Vec<MalformedOut>,
    /// Requests and failures by cause over the log's own time, when the run kept them (`-o
    /// html`); not part of the JSON contract.
    #[serde(skip)]
    pub timeline: Option<TimelineOut>,
}

/// [`crate::aggregate::timeline::Timeline`], for a report.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineOut {
    /// Bucket width in seconds.
    pub width_s: i64,
    /// Buckets with records, in time order.
    pub buckets: Vec<TimeBucket>,
    /// Records whose start time could not be read: in no bucket.
    pub untimed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimeBucket {
    pub start_ms: i64,
    pub requests: u64,
    /// Failures by cause, the causes in `Cause::ALL` order, those with none left out.
    pub failed: Vec<(&'static str, u64)>,
}

impl TimelineOut {
    fn of(t: &crate::aggregate::timeline::Timeline) -> TimelineOut {
        let buckets = t
            .buckets()
            .iter()
            .map(|b| TimeBucket {
                start_ms: b.start * 1000,
                requests: b.requests,
                failed: Cause::ALL
                    .iter()
                    .filter(|c| b.failed[**c as usize] > 0)
                    .map(|c| (c.name(), b.failed[*c as usize]))
                    .collect(),
            })
            .collect();
        TimelineOut { width_s: t.width_s(), buckets, untimed: t.untimed }
    }
}

fn flag_counts(f: &crate::aggregate::FlagCounts) -> Counts {
    let mut v: Vec<(String, u64)> = Flag::ALL
        .iter()
        .filter(|fl| f.get(**fl) > 0)
        .map(|fl| (fl.short().to_string(), f.get(*fl)))
        .collect();
    if f.unknown > 0 {
        v.push(("other".to_string(), f.unknown));
    }
    Counts(v)
}

fn cause_counts(c: &[u64; Cause::COUNT]) -> Counts {
    let mut v: Vec<(String, u64)> = Cause::ALL
        .iter()
        .filter(|x| c[**x as usize] > 0)
        .map(|x| (x.name().to_string(), c[*x as usize]))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Counts(v)
}

fn code_counts(c: &crate::aggregate::CodeCounts) -> Counts {
    Counts(c.sorted().into_iter().map(|(code, n)| (code.to_string(), n)).collect())
}

/// Line numbers: chunk → (source, first line number of the chunk, 1-based).
pub struct LineMap(HashMap<u64, (u32, u64)>);

impl LineMap {
    pub fn new(chunk_lines: &[(u64, u32, u64)]) -> LineMap {
        let mut sorted = chunk_lines.to_vec();
        sorted.sort_unstable();
        let mut next: HashMap<u32, u64> = HashMap::new();
        let mut map = HashMap::with_capacity(sorted.len());
        for (chunk, source, lines) in sorted {
            let first = next.entry(source).or_insert(1);
            map.insert(chunk, (source, *first));
            *first += lines;
        }
        LineMap(map)
    }

    pub fn line_number(&self, pos: Position) -> u64 {
        self.0.get(&pos.chunk).map_or(0, |(_, first)| first + pos.line as u64)
    }
}

impl Summary {
    pub fn build(agg: &Aggregate, inputs: &[InputInfo]) -> Summary {
        let lines_map = LineMap::new(&agg.chunk_lines);
        let overall = agg.overall_latency();
        let mut per_input = vec![0u64; inputs.len()];
        for (source, lines) in agg.lines_by_source() {
            if let Some(n) = per_input.get_mut(source as usize) {
                *n += lines;
            }
        }
        let totals = Totals {
            lines: agg.lines(),
            records: agg.records + agg.filtered_out,
            analysed: agg.records,
            filtered_out: agg.filtered_out,
            skipped: agg.skipped_total(),
            malformed: agg.malformed,
            partial: agg.partial,
            failed: agg.failed,
            skipped_by_reason: Counts::nonzero(
                SkipReason::ALL.map(|r| (r.as_str(), agg.skipped[r as usize])),
            ),
            malformed_by_kind: {
                let mut v: Vec<(String, u64)> =
                    agg.malformed_by_kind.iter().map(|(k, n)| (k.as_str().to_string(), *n)).collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                Counts(v)
            },
        };
        let live = agg.live.as_deref().and_then(|l| Some((l, l.latest_ms?, l.first_ms?)));
        // Sorted on the raw names: two names that differ only in bytes that are not UTF-8
        // read the same once made strings, and would tie.
        let mut order: Vec<usize> = (0..agg.upstreams.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&agg.upstreams[a], &agg.upstreams[b]);
            b.requests
                .cmp(&a.requests)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.workload.cmp(&b.workload))
        });
        let upstreams: Vec<UpstreamSummary> = order
            .into_iter()
            .map(|i| (i, &agg.upstreams[i]))
            .map(|(i, u)| UpstreamSummary {
                cluster: String::from_utf8_lossy(&u.name).into_owned(),
                workload: u.workload.as_deref().map(|w| String::from_utf8_lossy(w).into_owned()),
                requests: u.requests,
                failed: u.failed,
                by_code: code_counts(&u.codes),
                by_flag: flag_counts(&u.flags),
                by_cause: cause_counts(&u.causes),
                duration_ms: Percentiles::of(&u.duration.histogram()),
                upstream_service_time_ms: Percentiles::of(&u.upstream_service_time.histogram()),
                windows: live.and_then(|(l, now, first)| {
                    l.upstreams.get(i).map(|ring| {
                        crate::aggregate::window::Windows::of(ring, now, first, (u.requests, u.failed))
                    })
                }),
            })
            .collect();
        let mut formats: Vec<(String, u64)> =
            agg.formats.iter().map(|(k, n)| (k.name().to_string(), *n)).collect();
        formats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let malformed_samples = agg
            .malformed_samples
            .iter()
            .map(|(pos, s)| MalformedOut {
                input: inputs.get(s.source as usize).map(|i| i.meta.name.clone()).unwrap_or_default(),
                line: if s.line > 0 { s.line } else { lines_map.line_number(*pos) },
                kind: s.error.kind.as_str(),
                column: s.error.column,
                message: s.error.kind.describe(),
                text: String::from_utf8_lossy(&s.text).into_owned(),
            })
            .collect();
        let (findings, links) = findings::build(agg);
        let (findings, incidents) = rank::rank(findings, &links, findings::is_symptom);
        Summary {
            schema_version: SCHEMA_VERSION,
            tool: "envoy-triage",
            version: env!("CARGO_PKG_VERSION"),
            totals,
            filters: None,
            inputs: inputs
                .iter()
                .zip(per_input)
                .map(|(i, lines)| InputSummary { name: i.meta.name.clone(), lines, error: i.error.clone() })
                .collect(),
            time_range: agg
                .start_range()
                .map(|(a, b)| TimeRange { first_start: format_epoch_ms(a), last_start: format_epoch_ms(b) }),
            formats: Counts(formats),
            by_code: code_counts(&agg.codes),
            by_flag: flag_counts(&agg.flags),
            by_cause: cause_counts(&agg.causes),
            by_domain: Counts::nonzero(Domain::ALL.map(|d| (d.name(), agg.domains[d as usize]))),
            by_reporter: Counts::nonzero(Reporter::ALL.map(|r| (r.name(), agg.reporters[r as usize]))),
            duration_ms: Percentiles::of(&overall.0),
            upstream_service_time_ms: Percentiles::of(&overall.1),
            windows: live.map(|(l, now, first)| {
                crate::aggregate::window::Windows::of(&l.overall, now, first, (agg.records, agg.failed))
            }),
            upstreams_sorted_by: "requests",
            upstreams,
            folding: Folding {
                max_clusters: agg.max_clusters,
                folded_records: agg.folded_records,
                max_groups: agg.max_groups,
                folded_failures: agg.folded_failures(),
            },
            findings,
            incidents,
            malformed_samples,
            timeline: agg.timeline.as_deref().map(TimelineOut::of),
        }
    }

    /// Requests with a 5xx response code.
    pub fn count_5xx(&self) -> u64 {
        self.by_code.0.iter().filter(|(c, _)| c.starts_with('5') && c.len() == 3).map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_formatting_round_trips() {
        let ms = crate::record::parse_rfc3339_ms(b"2020-11-25T21:26:18.409Z").unwrap();
        assert_eq!(format_epoch_ms(ms), "2020-11-25T21:26:18.409Z");
        assert_eq!(format_epoch_ms(0), "1970-01-01T00:00:00.000Z");
        let leap = crate::record::parse_rfc3339_ms(b"2024-02-29T23:59:59.999Z").unwrap();
        assert_eq!(format_epoch_ms(leap), "2024-02-29T23:59:59.999Z");
    }

    #[test]
    fn line_numbers_follow_chunk_order_per_input() {
        let m = LineMap::new(&[(2, 0, 5), (0, 0, 10), (1, 1, 7), (3, 1, 1)]);
        assert_eq!(m.line_number(Position { chunk: 0, line: 0 }), 1);
        assert_eq!(m.line_number(Position { chunk: 2, line: 4 }), 15);
        assert_eq!(m.line_number(Position { chunk: 3, line: 0 }), 8);
    }
}
