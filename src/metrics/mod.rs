//! The Prometheus exporter of live mode (`--listen`): what the run has seen since it started,
//! as counters that never go backwards, served over HTTP by [`http`]. docs/metrics.md lists
//! the metrics, their labels and the bound on them.
//!
//! Failures, requests and durations are counted per record by a [`RecordSink`] on
//! each worker (the aggregate keeps failures by cause × upstream × reporter only, and its
//! bottom-k folding may later fold a name it kept, which would move that name's counts into
//! `(other)`: a counter going backwards). Each sink gathers a chunk's counts and adds them to
//! the shared `Store` once per chunk. Line totals come from the merged aggregate of each live
//! tick ([`Metrics::set_totals`]); follow counts from `source::follow::FollowStats`.
//! `crate::live` wires them; nothing here knows the report or the core's state.
//!
//! Cardinality: upstream clusters and namespaces are kept by name up to a cap (the first ones
//! seen; `--max-clusters` for clusters), the rest counted under `(other)`; a name once kept
//! stays kept, so no series ever moves. No pod, IP or request id is a label.

pub mod http;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use rustc_hash::FxHashMap;

use crate::aggregate::{FOLDED, MAX_NAME, NO_CLUSTER};
use crate::classify::{Cause, Classification, Domain, Reporter};
use crate::pipeline::{RecordAt, RecordOutput, RecordSink};
use crate::record::Record;
use crate::source::follow::FollowStats;

/// Upper bounds of the duration histogram, in seconds. The usual cut-offs (1, 3, 5, 10, 15, 30,
/// 60, 300 s: Envoy's and Istio's timeouts, client defaults) are edges, each followed by one 50 ms
/// later: a timeout fires a few milliseconds after its cut-off (Envoy logs 15001 ms for a 15 s
/// route timeout), so requests cut by it fill the narrow bucket (T, T + 0.05], where nothing else
/// piles up: `le="15.05"` minus `le="15"` is the wall.
pub const BUCKETS: [f64; 24] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.05, 2.5, 3.0, 3.05, 5.0, 5.05, 10.0, 10.05, 15.0, 15.05,
    30.0, 30.05, 60.0, 60.05, 300.0, 300.05,
];

/// Most namespaces kept by name (a cluster has tens to a few hundred).
pub const MAX_NAMESPACES: usize = 1000;

/// `code_class` values: `0` is no HTTP response (TCP, a reset before any, no code logged).
const CODE_CLASSES: [&str; 6] = ["0", "1xx", "2xx", "3xx", "4xx", "5xx"];

fn code_class(code: Option<u16>) -> u8 {
    match code {
        Some(c @ 100..=599) => (c / 100) as u8,
        _ => 0,
    }
}

/// Names kept by id up to a cap, then `(other)` (id 0 is the fold).
#[derive(Debug)]
struct Names {
    ids: FxHashMap<Box<[u8]>, u32>,
    names: Vec<String>,
    cap: usize,
}

impl Names {
    fn new(cap: usize) -> Names {
        Names { ids: FxHashMap::default(), names: vec![FOLDED.to_string()], cap }
    }

    fn full(&self) -> bool {
        self.ids.len() >= self.cap
    }

    /// The id of `name`, kept if there is room.
    fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        if self.full() {
            return 0;
        }
        let id = self.names.len() as u32;
        self.names.push(String::from_utf8_lossy(name).into_owned());
        self.ids.insert(name.into(), id);
        id
    }
}

/// A failure's labels: cluster id, namespace id, cause, domain, reporter, code class.
type FailKey = (u32, u32, u8, u8, u8, u8);

/// Counts by duration bucket (the last is `+Inf`), and their sum in seconds.
#[derive(Debug, Clone, Default)]
struct Hist {
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
}

impl Hist {
    fn observe(&mut self, ms: u64) {
        let s = ms as f64 / 1000.0;
        let i = BUCKETS.iter().position(|&b| s <= b).unwrap_or(BUCKETS.len());
        self.buckets[i] += 1;
        self.sum += s;
    }

    fn add(&mut self, o: &Hist) {
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        self.sum += o.sum;
    }
}

/// Counts gathered by one worker over one chunk (or since start, in the store).
#[derive(Debug, Default)]
struct Counts {
    failed: FxHashMap<FailKey, u64>,
    requests: FxHashMap<(u32, u32, u8), u64>,
    durations: FxHashMap<u32, Hist>,
}

impl Counts {
    fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Adds `o` into `self` and leaves `o` empty (its tables keep their room).
    fn drain_into(&mut self, o: &mut Counts) {
        for (k, n) in o.failed.drain() {
            *self.failed.entry(k).or_default() += n;
        }
        for (k, n) in o.requests.drain() {
            *self.requests.entry(k).or_default() += n;
        }
        for (k, h) in o.durations.drain() {
            self.durations.entry(k).or_default().add(&h);
        }
    }
}

/// What every worker adds to, and what a scrape reads.
#[derive(Debug)]
struct Store {
    clusters: Names,
    namespaces: Names,
    counts: Counts,
}

/// Line totals, as of the last tick.
#[derive(Debug, Default)]
struct Totals {
    lines: AtomicU64,
    records: AtomicU64,
    skipped: AtomicU64,
    malformed: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    store: Mutex<Store>,
    totals: Totals,
    follow: Arc<FollowStats>,
}

/// The exporter's state: hand [`Metrics::output_beside`] to the workers, [`Metrics::set_totals`] on
/// each tick, and [`Metrics::registry`] to the HTTP server.
#[derive(Debug, Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
}

impl Metrics {
    pub fn new(max_clusters: usize, follow: Arc<FollowStats>) -> Metrics {
        let store = Store {
            clusters: Names::new(max_clusters),
            namespaces: Names::new(MAX_NAMESPACES),
            counts: Counts::default(),
        };
        Metrics { shared: Arc::new(Shared { store: Mutex::new(store), totals: Totals::default(), follow }) }
    }

    /// The per-record output that counts into this exporter, beside `other` (`--output
    /// records`) when there is one.
    pub fn output_beside(&self, other: Option<Box<dyn RecordOutput>>) -> Box<dyn RecordOutput> {
        let mine = Box::new(Output(self.clone()));
        match other {
            Some(other) => Box::new(Tee(mine, other)),
            None => mine,
        }
    }

    /// The line totals of the run so far (from a merged snapshot; they only grow).
    pub fn set_totals(&self, lines: u64, records: u64, skipped: u64, malformed: u64) {
        let t = &self.shared.totals;
        // `fetch_max`: a scrape never sees one go down, whatever order ticks land in.
        t.lines.fetch_max(lines, Ordering::Relaxed);
        t.records.fetch_max(records, Ordering::Relaxed);
        t.skipped.fetch_max(skipped, Ordering::Relaxed);
        t.malformed.fetch_max(malformed, Ordering::Relaxed);
    }

    /// A registry whose one collector reads this exporter on each scrape.
    pub fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix("envoy_triage");
        r.register_collector(Box::new(self.clone()));
        r
    }

    /// The exposition in the Prometheus text format 0.0.4, or OpenMetrics 1.0.
    pub fn encode(registry: &Registry, openmetrics: bool) -> String {
        let mut out = String::new();
        let written = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, registry)
        };
        // Writing into a String cannot fail; the collector's own errors are a bug.
        written.expect("metrics encode into a string");
        out
    }
}

const CAUSE_HELP: &str = "Failed requests by cause, failure domain, who logged them, upstream cluster, \
     the logging proxy's namespace and response code class (see envoy-triage explain)";

impl Collector for Metrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.shared;
        let t = &s.totals;
        let f = &*s.follow;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, v) in [
            ("lines", "Lines read (records + skipped + malformed)", load(&t.lines)),
            ("records", "Lines read as access-log records", load(&t.records)),
            ("skipped_lines", "Lines skipped as not access logs (startup, debug output)", load(&t.skipped)),
            (
                "malformed_lines",
                "Lines that looked like access logs but could not be read",
                load(&t.malformed),
            ),
        ] {
            ConstCounter::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        ConstCounter::new(load(&f.bytes_read)).encode(enc.encode_descriptor(
            "read",
            "Bytes read from the followed files and streams",
            Some(&Unit::Bytes),
            MetricType::Counter,
        )?)?;
        ConstGauge::new(load(&f.files) as i64).encode(enc.encode_descriptor(
            "files_followed",
            "Files open and followed now",
            None,
            MetricType::Gauge,
        )?)?;
        ConstGauge::new(load(&f.lag_bytes) as i64).encode(enc.encode_descriptor(
            "follow_lag",
            "Bytes written to the followed files and not read yet, at the last read",
            Some(&Unit::Bytes),
            MetricType::Gauge,
        )?)?;

        let store = s.store.lock().unwrap_or_else(|p| p.into_inner());
        let cluster = |id: u32| store.clusters.names.get(id as usize).map_or(FOLDED, String::as_str);
        let namespace = |id: u32| store.namespaces.names.get(id as usize).map_or(FOLDED, String::as_str);
        let c = &store.counts;

        let mut failed: Vec<_> = c.failed.iter().collect();
        failed.sort_unstable_by_key(|(k, _)| **k);
        let mut m = enc.encode_descriptor("failed_requests", CAUSE_HELP, None, MetricType::Counter)?;
        for (&(up, ns, cause, domain, reporter, class), &n) in failed {
            let labels = [
                ("cause", Cause::ALL[cause as usize].name()),
                ("domain", Domain::ALL[domain as usize].name()),
                ("reporter", Reporter::ALL[reporter as usize].name()),
                ("upstream_cluster", cluster(up)),
                ("namespace", namespace(ns)),
                ("code_class", CODE_CLASSES[class as usize]),
            ];
            ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
        }

        let mut requests: Vec<_> = c.requests.iter().collect();
        requests.sort_unstable_by_key(|(k, _)| **k);
        let mut m = enc.encode_descriptor(
            "requests",
            "Requests logged, by upstream cluster, the logging proxy's namespace and response code class",
            None,
            MetricType::Counter,
        )?;
        for (&(up, ns, class), &n) in requests {
            let labels = [
                ("upstream_cluster", cluster(up)),
                ("namespace", namespace(ns)),
                ("code_class", CODE_CLASSES[class as usize]),
            ];
            ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
        }

        let mut durations: Vec<_> = c.durations.iter().collect();
        durations.sort_unstable_by_key(|(k, _)| **k);
        let mut m = enc.encode_descriptor(
            "request_duration",
            "Request duration as the proxy logged it (%DURATION%), by upstream cluster",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        let mut buckets = Vec::with_capacity(BUCKETS.len() + 1);
        for (&up, h) in durations {
            buckets.clear();
            buckets.extend(BUCKETS.iter().copied().chain([f64::INFINITY]).zip(h.buckets.iter().copied()));
            let count = h.buckets.iter().sum();
            let labels = [("upstream_cluster", cluster(up))];
            m.encode_family(&labels)?
                .encode_histogram::<prometheus_client::encoding::NoLabelSet>(h.sum, count, &buckets, None)?;
        }
        Ok(())
    }
}

/// The [`RecordOutput`] that gives each worker a [`Sink`].
struct Output(Metrics);

impl RecordOutput for Output {
    fn sink(&self) -> Box<dyn RecordSink> {
        Box::new(Sink {
            shared: Arc::clone(&self.0.shared),
            clusters: NameCache::default(),
            namespaces: NameCache::default(),
            pending: Counts::default(),
        })
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

/// Two per-record outputs: every record goes to both.
struct Tee(Box<dyn RecordOutput>, Box<dyn RecordOutput>);

impl RecordOutput for Tee {
    fn sink(&self) -> Box<dyn RecordSink> {
        Box::new(TeeSink(self.0.sink(), self.1.sink()))
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        let (a, b) = (self.0.finish(), self.1.finish());
        a.and(b)
    }
}

struct TeeSink(Box<dyn RecordSink>, Box<dyn RecordSink>);

impl RecordSink for TeeSink {
    fn record(
        &mut self,
        rec: &Record<'_>,
        at: RecordAt<'_>,
        reporter: Reporter,
        verdict: Option<&Classification>,
    ) {
        self.0.record(rec, at, reporter, verdict);
        self.1.record(rec, at, reporter, verdict);
    }

    fn chunk_done(&mut self, seq: u64) -> bool {
        // Both see every chunk's end, whatever the first says.
        let a = self.0.chunk_done(seq);
        self.1.chunk_done(seq) && a
    }
}

/// One worker's counts for the chunk it is reading, and the ids of the names it met.
struct Sink {
    shared: Arc<Shared>,
    clusters: NameCache,
    namespaces: NameCache,
    pending: Counts,
}

/// The names a worker met → their id in the store (0: folded). Bounded: a name is added only
/// once kept; once the store is full its whole list is copied here and `complete` is set.
#[derive(Default)]
struct NameCache {
    ids: FxHashMap<Box<[u8]>, u32>,
    /// The store is full and `ids` is all of it: a name not in it is folded, without the lock
    /// (past the cap, every record of a folded name would otherwise take it).
    complete: bool,
}

impl Sink {
    /// The id of `name` in the store's `pick` list.
    fn id(shared: &Shared, cache: &mut NameCache, name: &[u8], pick: fn(&mut Store) -> &mut Names) -> u32 {
        if let Some(&id) = cache.ids.get(name) {
            return id;
        }
        if cache.complete {
            return 0;
        }
        let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        let names = pick(&mut store);
        let id = names.intern(name);
        if id != 0 {
            cache.ids.insert(name.into(), id);
        } else {
            // Full: the list will not change any more.
            cache.ids.clone_from(&names.ids);
            cache.complete = true;
        }
        id
    }
}

impl RecordSink for Sink {
    fn record(
        &mut self,
        rec: &Record<'_>,
        at: RecordAt<'_>,
        _reporter: Reporter,
        verdict: Option<&Classification>,
    ) {
        let cluster = rec.upstream_cluster.unwrap_or(NO_CLUSTER.as_bytes());
        let cluster = &cluster[..cluster.len().min(MAX_NAME)];
        let up = Sink::id(&self.shared, &mut self.clusters, cluster, |s| &mut s.clusters);
        let class = code_class(rec.response_code);
        let ns = at.pod_fields(rec)[0].unwrap_or(b"");
        let ns = &ns[..ns.len().min(MAX_NAME)];
        let ns = Sink::id(&self.shared, &mut self.namespaces, ns, |s| &mut s.namespaces);
        *self.pending.requests.entry((up, ns, class)).or_default() += 1;
        if let Some(ms) = rec.duration_ms {
            self.pending.durations.entry(up).or_default().observe(ms);
        }
        if let Some(v) = verdict {
            let key = (up, ns, v.cause as u8, v.domain as u8, v.reporter as u8, class);
            *self.pending.failed.entry(key).or_default() += 1;
        }
    }

    fn chunk_done(&mut self, _seq: u64) -> bool {
        if !self.pending.is_empty() {
            let mut store = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
            store.counts.drain_into(&mut self.pending);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_of(ms: u64) -> f64 {
        let mut h = Hist::default();
        h.observe(ms);
        let i = h.buckets.iter().position(|&n| n == 1).unwrap();
        BUCKETS.get(i).copied().unwrap_or(f64::INFINITY)
    }

    /// Envoy logs a 15 s route timeout as 15000–15002 ms: those fill (15, 15.05], not (15, 30].
    #[test]
    fn a_timeout_fills_the_narrow_bucket_after_its_cut_off() {
        assert_eq!(bucket_of(14_999), 15.0);
        assert_eq!(bucket_of(15_000), 15.0);
        assert_eq!(bucket_of(15_001), 15.05);
        assert_eq!(bucket_of(15_050), 15.05);
        assert_eq!(bucket_of(15_051), 30.0);
        assert_eq!(bucket_of(1_002), 1.05);
        assert_eq!(bucket_of(300_001), 300.05);
        assert_eq!(bucket_of(400_000), f64::INFINITY);
        assert_eq!(bucket_of(0), 0.005);
    }

    #[test]
    fn every_cut_off_is_followed_by_its_slack_edge() {
        for cut in [1.0, 3.0, 5.0, 10.0, 15.0, 30.0, 60.0, 300.0] {
            let i = BUCKETS.iter().position(|&b| b == cut).unwrap();
            assert_eq!(BUCKETS[i + 1], cut + 0.05, "{cut}");
        }
        assert!(BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}
