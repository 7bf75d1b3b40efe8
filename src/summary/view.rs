//! How a run wants its summary shown, applied after `Summary::build` by `crate::app` and
//! `crate::live`: the order of the upstreams (`--sort`) and the filters said back (the JSON
//! `filters`, the table's `filter:` line). Nothing here changes a count.

use super::{Summary, UpstreamSummary};
use crate::filter::FilterOut;

listed_enum! {
/// What the upstreams are ordered by (`--sort`), largest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamSort {
    /// Failed requests: where the incident is. The default: by requests, the top row is often a
    /// busy, healthy `PassthroughCluster`.
    #[default]
    Failed,
    Requests,
    /// Failed / requests.
    FailRate,
    /// p99 of the duration (upstreams without durations last).
    P99,
}
}

impl UpstreamSort {
    /// The name `--sort` takes and the JSON `upstreams_sorted_by` says.
    pub fn name(self) -> &'static str {
        match self {
            UpstreamSort::Failed => "failed",
            UpstreamSort::Requests => "requests",
            UpstreamSort::FailRate => "fail-rate",
            UpstreamSort::P99 => "p99",
        }
    }

    /// Sorts `ups`, largest first. Stable: ties keep the order `Summary::build` gave them (by
    /// requests, then by raw name), so the result is the same on every run.
    pub fn sort(self, ups: &mut [UpstreamSummary]) {
        match self {
            UpstreamSort::Requests => ups.sort_by_key(|u| std::cmp::Reverse(u.requests)),
            UpstreamSort::Failed => ups.sort_by_key(|u| std::cmp::Reverse(u.failed)),
            // a.failed / a.requests < b.failed / b.requests, without division; none requested
            // is a rate of 0.
            UpstreamSort::FailRate => ups.sort_by(|a, b| {
                let rate = |u: &UpstreamSummary| (u.failed as u128, u.requests.max(1) as u128);
                let ((fa, ra), (fb, rb)) = (rate(a), rate(b));
                (fb * ra).cmp(&(fa * rb))
            }),
            UpstreamSort::P99 => ups.sort_by_key(|u| std::cmp::Reverse(u.duration_ms.p99)),
        }
    }
}

/// The view of a run: set once from the flags (and the resolved filter).
#[derive(Debug, Clone, Default)]
pub struct View {
    pub sort: UpstreamSort,
    pub filters: Option<FilterOut>,
}

impl View {
    /// Orders the upstreams and notes the filters.
    pub fn apply(&self, s: &mut Summary) {
        self.sort.sort(&mut s.upstreams);
        s.upstreams_sorted_by = self.sort.name();
        s.filters = self.filters.clone();
    }
}
