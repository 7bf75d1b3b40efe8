//! Per-worker aggregate state: counters, latency histograms, per-upstream statistics and the
//! groups of failures that become findings. Each pipeline worker owns one [`Aggregate`], feeds
//! it every decoded line, and the pipeline merges them at the end (`merge`). Nothing here is
//! shared or locked. `crate::summary` turns the merged state into the owned report contract.
//!
//! Determinism: whatever is kept as a sample (request ids, malformed lines, evidence) is the
//! earliest by input position, so the merged result does not depend on how chunks were spread
//! over threads. Memory is bounded: at most `max_clusters` upstream names per worker (later ones
//! fold into `(other)`), a few samples per group, and a fixed number of evidence signatures.
//!
//! This file holds [`Aggregate`] itself (what a record, a skipped or malformed line, and a
//! merge do to it) and the live-mode state. The parts it is built from, each usable on its
//! own: `upstream` (per-upstream statistics and their fast lookup), `group` (a group of
//! failures and its evidence), `stats` (latency and code/flag counters), `sketch` (bounded,
//! order-independent samples) and [`window`] (live sliding windows). Their public types are re-exported here: callers name `crate::aggregate::X`.

mod group;
mod sketch;
mod stats;
mod upstream;
pub mod window;

use std::collections::HashMap;

use hdrhistogram::Histogram;
use rustc_hash::FxBuildHasher;

use crate::classify::{self, Cause, Classification, Domain, Reporter};
use crate::format::{ErrorKind, ParseError, SkipReason};
use crate::record::{FormatKind, Record};
use crate::source::SourceMeta;

pub use group::{EvidenceSample, Group, NamespacedPod};
pub use sketch::{
    BOTTOM_K, BottomK, Clipped, Earliest, ExactValues, PairCounts, SAMPLE_VALUE_BYTES, clip_point,
};
pub use stats::{CodeCounts, FlagCounts, Latency};
pub use upstream::{UpstreamStats, workload_of};

use stats::{count_format, new_histogram};
use upstream::{PairIndex, pair_hash};

/// Where a line was read: the pipeline's chunk sequence number and the line's index in it.
/// Ordered like the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub chunk: u64,
    pub line: u32,
}

/// Name under which records without an upstream cluster are counted.
pub const NO_CLUSTER: &str = "-";
/// Name under which clusters past the cap are counted.
pub const FOLDED: &str = "(other)";

/// A malformed line kept as a sample.
#[derive(Debug, Clone)]
pub struct MalformedSample {
    pub source: u32,
    pub error: ParseError,
    /// The line's first bytes (raw; escaped when written out).
    pub text: Box<[u8]>,
}

/// Bytes of a malformed line kept in a sample.
pub const SAMPLE_BYTES: usize = 240;

/// Live-mode state: sliding windows overall and per upstream (parallel to `upstreams`).
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub overall: window::Ring,
    pub upstreams: Vec<window::Ring>,
    pub first_ms: Option<i64>,
    pub latest_ms: Option<i64>,
    /// Arrival time of the chunk being processed: the time of records without a timestamp.
    pub arrival_ms: i64,
}

/// A canonical start time (`2020-11-25T21:26:18.409Z`) as two big-endian integers: ordered
/// like its bytes, compared in two steps instead of a `memcmp` call, and kept without
/// re-reading the bytes per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StartKey(u128, u64);

impl StartKey {
    /// Stand-ins for "none yet" that every real key beats: a canonical time has `T` at byte 10,
    /// so it is neither all zeros nor all `0xff`.
    const NONE_FIRST: StartKey = StartKey(u128::MAX, u64::MAX);
    const NONE_LAST: StartKey = StartKey(0, 0);

    #[inline]
    fn of(t: &[u8; 24]) -> StartKey {
        let hi = u128::from_be_bytes(t[..16].try_into().expect("16 bytes"));
        StartKey(hi, u64::from_be_bytes(t[16..].try_into().expect("8 bytes")))
    }

    /// `self > o`, spelled as branches: records mostly share the first 16 bytes (same day,
    /// hour, minute) and the derived order compiles to a longer branch-free sequence.
    #[inline]
    fn after(self, o: StartKey) -> bool {
        if self.0 != o.0 { self.0 > o.0 } else { self.1 > o.1 }
    }

    /// The bytes back, unless this is a stand-in.
    fn bytes(self) -> Option<[u8; 24]> {
        if self == StartKey::NONE_FIRST || self == StartKey::NONE_LAST {
            return None;
        }
        let mut b = [0; 24];
        b[..16].copy_from_slice(&self.0.to_be_bytes());
        b[16..].copy_from_slice(&self.1.to_be_bytes());
        Some(b)
    }
}

/// The per-worker state.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub max_clusters: usize,
    pub records: u64,
    /// Records read from cut (pasted) lines: some fields missing.
    pub partial: u64,
    pub failed: u64,
    pub skipped: [u64; SkipReason::COUNT],
    pub malformed: u64,
    pub malformed_by_kind: HashMap<ErrorKind, u64>,
    /// Records per layout. Usually one or two layouts per input: a linear scan beats hashing
    /// (this runs once per line).
    pub formats: Vec<(FormatKind, u64)>,
    pub codes: CodeCounts,
    pub flags: FlagCounts,
    pub causes: [u64; Cause::COUNT],
    pub domains: [u64; Domain::COUNT],
    pub reporters: [u64; Reporter::COUNT],
    /// Upstream key (cluster name, or `cluster \0 workload`) → index into `upstreams`.
    index: HashMap<Box<[u8]>, u32, FxBuildHasher>,
    /// The same upstreams by (cluster, workload): the per-record lookup.
    pairs: PairIndex,
    pub upstreams: Vec<UpstreamStats>,
    key_buf: Vec<u8>,
    /// Records counted under `(other)` because the cluster cap was reached.
    pub folded_records: u64,
    pub groups: HashMap<(Cause, u32, Reporter), Group, FxBuildHasher>,
    pub malformed_samples: Earliest<MalformedSample, 5>,
    /// (chunk, source, lines) for every chunk this worker read: turns positions into line numbers.
    pub chunk_lines: Vec<(u64, u32, u64)>,
    first_start_ms: Option<i64>,
    last_start_ms: Option<i64>,
    /// Earliest and latest canonical start time, as [`StartKey`]s ([`StartKey::NONE_FIRST`] and
    /// [`StartKey::NONE_LAST`] until one is seen).
    first_raw: StartKey,
    last_raw: StartKey,
    /// Present in live mode only (windows cost a timestamp parse per record).
    pub live: Option<Box<Live>>,
}

impl Aggregate {
    pub fn new(max_clusters: usize) -> Aggregate {
        Aggregate {
            max_clusters: max_clusters.max(1),
            records: 0,
            partial: 0,
            failed: 0,
            skipped: [0; SkipReason::COUNT],
            malformed: 0,
            malformed_by_kind: HashMap::new(),
            formats: Vec::new(),
            codes: CodeCounts::default(),
            flags: FlagCounts::default(),
            causes: [0; Cause::COUNT],
            domains: [0; Domain::COUNT],
            reporters: [0; Reporter::COUNT],
            index: HashMap::default(),
            pairs: PairIndex::default(),
            upstreams: Vec::new(),
            key_buf: Vec::new(),
            folded_records: 0,
            groups: HashMap::default(),
            malformed_samples: Earliest::default(),
            chunk_lines: Vec::new(),
            first_start_ms: None,
            last_start_ms: None,
            first_raw: StartKey::NONE_FIRST,
            last_raw: StartKey::NONE_LAST,
            live: None,
        }
    }

    /// An aggregate that also keeps sliding windows (live mode).
    pub fn new_live(max_clusters: usize) -> Aggregate {
        Aggregate { live: Some(Box::default()), ..Aggregate::new(max_clusters) }
    }

    /// Lines accounted for: every line is exactly one of these.
    pub fn lines(&self) -> u64 {
        self.records + self.skipped.iter().sum::<u64>() + self.malformed
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Index of the upstream `cluster` (per `workload` for inbound clusters), creating it, or
    /// folding it into `(other)` once `max_clusters` are tracked (counted in `folded_records`).
    #[inline]
    fn upstream_index(&mut self, cluster: &[u8], workload: Option<&[u8]>) -> u32 {
        let h = pair_hash(cluster, workload);
        if let Some(i) = self.pairs.get(h, &self.upstreams, cluster, workload) {
            return i;
        }
        let i = self.upstream_index_by_key(cluster, workload);
        let up = &self.upstreams[i as usize];
        if *up.name == *cluster && up.workload.as_deref() == workload {
            self.pairs.insert(h, i, &self.upstreams);
        }
        i
    }

    /// The lookup by `index`, the authority: new upstreams, folded ones, merged ones.
    #[inline(never)]
    fn upstream_index_by_key(&mut self, cluster: &[u8], workload: Option<&[u8]>) -> u32 {
        let key: &[u8] = match workload {
            None => cluster,
            Some(w) => {
                self.key_buf.clear();
                self.key_buf.extend_from_slice(cluster);
                self.key_buf.push(0);
                self.key_buf.extend_from_slice(w);
                &self.key_buf
            }
        };
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let (key, cluster, workload): (Box<[u8]>, &[u8], Option<&[u8]>) =
            if self.index.len() >= self.max_clusters {
                // Only here does a record land in `(other)` under another name (a cluster
                // literally named `(other)` has that key).
                if cluster != FOLDED.as_bytes() {
                    self.folded_records += 1;
                }
                if let Some(&i) = self.index.get(FOLDED.as_bytes()) {
                    return i;
                }
                (FOLDED.as_bytes().into(), FOLDED.as_bytes(), None)
            } else {
                (key.into(), cluster, workload)
            };
        let i = self.upstreams.len() as u32;
        self.upstreams.push(UpstreamStats::new(cluster, workload));
        self.index.insert(key, i);
        i
    }

    /// Counts one record; returns who logged it and, if it failed, its classification.
    pub fn add_record(
        &mut self,
        rec: &Record<'_>,
        pos: Position,
        source: &SourceMeta,
    ) -> (Reporter, Option<Classification>) {
        self.records += 1;
        self.partial += rec.partial as u64;
        count_format(&mut self.formats, rec.format, 1);
        let code = rec.response_code;
        if let Some(c) = code {
            self.codes.add(c, 1);
        }
        self.flags.add(rec.response_flags);
        if let Some(t) = rec.start_time {
            self.note_start(t);
        }
        let cluster = rec.upstream_cluster.unwrap_or(NO_CLUSTER.as_bytes());
        // Inbound cluster names (`inbound|8080||`) repeat across workloads: tell them apart by
        // the workload of the pod that logged them or, failing that, by the pod IP the sidecar
        // accepted on.
        let workload = if cluster.starts_with(b"inbound|") {
            rec.meta
                .pod
                .or(source.pod.as_deref())
                .map(workload_of)
                .or_else(|| rec.downstream_local_address.and_then(crate::classify::ip_of))
        } else {
            None
        };
        let ui = self.upstream_index(cluster, workload);
        let reporter = classify::reporter(rec, source.pod.as_deref());
        self.reporters[reporter as usize] += 1;
        let verdict = classify::classify(rec, reporter);
        let up = &mut self.upstreams[ui as usize];
        up.requests += 1;
        if let Some(c) = code {
            up.codes.add(c, 1);
        }
        up.flags.add(rec.response_flags);
        if let Some(d) = rec.duration_ms {
            up.duration.record(d);
        }
        if let Some(t) = rec.upstream_service_time_ms {
            up.upstream_service_time.record(t);
        }
        if let Some(live) = self.live.as_deref_mut() {
            let t = rec.start_epoch_ms().unwrap_or(live.arrival_ms);
            live.first_ms = Some(live.first_ms.map_or(t, |f| f.min(t)));
            live.latest_ms = Some(live.latest_ms.map_or(t, |l| l.max(t)));
            live.overall.add(t, verdict.is_some());
            if live.upstreams.len() <= ui as usize {
                live.upstreams.resize_with(ui as usize + 1, Default::default);
            }
            live.upstreams[ui as usize].add(t, verdict.is_some());
        }
        if let Some(v) = &verdict {
            self.add_failure(v, ui, rec, pos, source);
        }
        (reporter, verdict)
    }

    /// The failure's share of [`Aggregate::add_record`], out of line: most records succeed and
    /// should not pay for its stack frame and registers.
    #[inline(never)]
    fn add_failure(
        &mut self,
        v: &Classification,
        ui: u32,
        rec: &Record<'_>,
        pos: Position,
        source: &SourceMeta,
    ) {
        let up = &mut self.upstreams[ui as usize];
        up.failed += 1;
        up.causes[v.cause as usize] += 1;
        self.failed += 1;
        self.causes[v.cause as usize] += 1;
        self.domains[v.domain as usize] += 1;
        self.groups.entry((v.cause, ui, v.reporter)).or_insert_with(|| Group::new(v)).add(rec, pos, source);
    }

    /// Tracks the earliest and latest start time. Envoy's own `%START_TIME%` rendering
    /// (`2020-11-25T21:26:18.409Z`, fixed width, UTC) orders like its bytes, so the common case
    /// is a comparison; other renderings are parsed.
    #[inline]
    fn note_start(&mut self, t: &[u8]) {
        if let Ok(canonical) = <[u8; 24]>::try_from(t) {
            if canonical[23] == b'Z' && canonical[19] == b'.' && canonical[10] == b'T' {
                let k = StartKey::of(&canonical);
                if k.after(self.last_raw) {
                    self.last_raw = k;
                    // Once set, first ≤ last: a new latest is a new earliest only at the start.
                    // Logs are mostly in time order, so this is the common path.
                    if self.first_raw == StartKey::NONE_FIRST {
                        self.first_raw = k;
                    }
                } else if self.first_raw.after(k) {
                    self.first_raw = k;
                }
                return;
            }
        }
        if let Some(ms) = crate::record::parse_rfc3339_ms(t) {
            self.first_start_ms = Some(self.first_start_ms.map_or(ms, |f| f.min(ms)));
            self.last_start_ms = Some(self.last_start_ms.map_or(ms, |l| l.max(ms)));
        }
    }

    /// Earliest and latest start time seen, in epoch milliseconds.
    pub fn start_range(&self) -> Option<(i64, i64)> {
        let parse = |k: StartKey| k.bytes().and_then(|b| crate::record::parse_rfc3339_ms(&b));
        let first = [self.first_start_ms, parse(self.first_raw)].into_iter().flatten().min()?;
        let last = [self.last_start_ms, parse(self.last_raw)].into_iter().flatten().max()?;
        Some((first, last))
    }

    pub fn add_skipped(&mut self, reason: SkipReason) {
        self.skipped[reason as usize] += 1;
    }

    pub fn add_malformed(&mut self, err: ParseError, line: &[u8], pos: Position, source: u32) {
        self.malformed += 1;
        *self.malformed_by_kind.entry(err.kind).or_insert(0) += 1;
        if self.malformed_samples.wants(pos) {
            let text = line[..line.len().min(SAMPLE_BYTES)].into();
            self.malformed_samples.offer(pos, MalformedSample { source, error: err, text });
        }
    }

    /// Lines that were held as fragments but never completed (input ended mid-record):
    /// recounted from skipped to malformed so nothing is lost silently.
    pub fn unterminated_fragments(&mut self, lines: u64) {
        let n = lines.min(self.skipped[SkipReason::Fragment as usize]);
        self.skipped[SkipReason::Fragment as usize] -= n;
        self.malformed += n;
        *self.malformed_by_kind.entry(ErrorKind::Truncated).or_insert(0) += n;
    }

    /// Folds another worker's state into this one. Upstreams are matched by name.
    pub fn merge(&mut self, mut o: Aggregate) {
        self.records += o.records;
        self.partial += o.partial;
        self.failed += o.failed;
        for (a, b) in self.skipped.iter_mut().zip(o.skipped) {
            *a += b;
        }
        self.malformed += o.malformed;
        for (k, v) in o.malformed_by_kind {
            *self.malformed_by_kind.entry(k).or_insert(0) += v;
        }
        for (k, v) in o.formats {
            count_format(&mut self.formats, k, v);
        }
        self.codes.merge(&o.codes);
        self.flags.merge(&o.flags);
        for (a, b) in self.causes.iter_mut().zip(o.causes) {
            *a += b;
        }
        for (a, b) in self.domains.iter_mut().zip(o.domains) {
            *a += b;
        }
        for (a, b) in self.reporters.iter_mut().zip(o.reporters) {
            *a += b;
        }
        self.folded_records += o.folded_records;
        // Map the other worker's upstream indices to ours.
        let mut remap = Vec::with_capacity(o.upstreams.len());
        for up in &o.upstreams {
            let mut key = up.name.to_vec();
            if let Some(w) = &up.workload {
                key.push(0);
                key.extend_from_slice(w);
            }
            let i = match self.index.get(key.as_slice()) {
                Some(&i) => i,
                None => {
                    let i = self.upstreams.len() as u32;
                    self.upstreams.push(UpstreamStats::new(&up.name, up.workload.as_deref()));
                    self.index.insert(key.into(), i);
                    i
                }
            };
            self.upstreams[i as usize].merge(up);
            remap.push(i);
        }
        if let Some(theirs) = o.live.take() {
            let mine = self.live.get_or_insert_with(Box::default);
            mine.overall.merge(&theirs.overall);
            for (j, ring) in theirs.upstreams.iter().enumerate() {
                let i = remap[j] as usize;
                if mine.upstreams.len() <= i {
                    mine.upstreams.resize_with(i + 1, Default::default);
                }
                mine.upstreams[i].merge(ring);
            }
            mine.first_ms = [mine.first_ms, theirs.first_ms].into_iter().flatten().min();
            mine.latest_ms = [mine.latest_ms, theirs.latest_ms].into_iter().flatten().max();
        }
        for ((cause, ui, rep), g) in o.groups.drain() {
            let key = (cause, remap[ui as usize], rep);
            match self.groups.get_mut(&key) {
                Some(mine) => mine.merge(g),
                None => {
                    self.groups.insert(key, g);
                }
            }
        }
        self.malformed_samples.merge(o.malformed_samples);
        self.chunk_lines.append(&mut o.chunk_lines);
        self.first_start_ms = match (self.first_start_ms, o.first_start_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_start_ms = match (self.last_start_ms, o.last_start_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.first_raw = self.first_raw.min(o.first_raw);
        self.last_raw = self.last_raw.max(o.last_raw);
    }

    /// Latency over all records: the per-upstream histograms added up (recording each value
    /// once per upstream instead of also globally halves the histogram work per line).
    pub fn overall_latency(&self) -> (Histogram<u64>, Histogram<u64>) {
        let mut duration = new_histogram();
        let mut service = new_histogram();
        for u in &self.upstreams {
            u.duration.add_to(&mut duration);
            u.upstream_service_time.add_to(&mut service);
        }
        (duration, service)
    }

    /// The upstream a group belongs to.
    pub fn upstream(&self, index: u32) -> &UpstreamStats {
        &self.upstreams[index as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::json::Scratch;
    use crate::format::parse_line;

    const OK: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;
    const UT: &str = r#"[2020-11-25T21:26:18.409Z] "GET /slow HTTP/1.1" 504 UT response_timeout - "-" 0 24 15001 - "-" "curl/7.73.0-DEV" "aaaaaaaa-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;

    fn pos(chunk: u64, line: u32) -> Position {
        Position { chunk, line }
    }

    #[test]
    fn merge_equals_single_pass() {
        let src = SourceMeta::default();
        let lines = [OK, UT, OK, UT, UT, OK];
        let mut single = Aggregate::new(100);
        for (i, l) in lines.iter().enumerate() {
            single.add_record(&parse_line(l.as_bytes(), &Scratch::new()).unwrap(), pos(0, i as u32), &src);
        }
        let mut a = Aggregate::new(100);
        let mut b = Aggregate::new(100);
        for (i, l) in lines.iter().enumerate() {
            let target = if i % 2 == 0 { &mut a } else { &mut b };
            target.add_record(&parse_line(l.as_bytes(), &Scratch::new()).unwrap(), pos(0, i as u32), &src);
        }
        b.merge(a);
        assert_eq!(b.records, single.records);
        assert_eq!(b.failed, 3);
        assert_eq!(b.codes.sorted(), single.codes.sorted());
        let g = &b.groups[&(Cause::RouteTimeout, 0, Reporter::ClientSidecar)];
        assert_eq!(g.count, 3);
        assert_eq!(g.request_ids.len(), 1);
        assert_eq!(g.signatures.len(), 1);
        assert_eq!(g.signatures[0].3, 3);
    }

    #[test]
    fn clusters_past_the_cap_fold_into_other() {
        let src = SourceMeta::default();
        let mut agg = Aggregate::new(2);
        for i in 0..10 {
            let line = OK.replace("httpbin.foo", &format!("svc{i}.foo"));
            agg.add_record(&parse_line(line.as_bytes(), &Scratch::new()).unwrap(), pos(0, i), &src);
        }
        assert_eq!(agg.upstreams.len(), 3);
        assert_eq!(agg.upstreams[2].name.as_ref(), FOLDED.as_bytes());
        assert_eq!(agg.upstreams[2].requests, 8);
        assert_eq!(agg.folded_records, 8);
    }

    #[test]
    fn pair_index_answers_like_the_key_map() {
        // Alternating clusters and workloads, names that share prefixes, lengths and sampled
        // words, NUL bytes that make two (cluster, workload) pairs one key, and the cap.
        let mut names: Vec<Vec<u8>> = Vec::new();
        for svc in ["reviews", "ratings", "details", "productpage", "a", ""] {
            for port in ["8080", "9080", "80"] {
                names.push(format!("outbound|{port}||{svc}.bookinfo.svc.cluster.local").into_bytes());
                names.push(format!("inbound|{port}||{svc}").into_bytes());
            }
        }
        names.extend([b"inbound|80||".to_vec(), b"inbound|80||\0x".to_vec(), b"-".to_vec(), FOLDED.into()]);
        let workloads: [Option<&[u8]>; 6] =
            [None, Some(b"10.244.3.2"), Some(b"10.244.3.20"), Some(b""), Some(b"x"), Some(b"\0x")];
        for cap in [3, 20, 1000] {
            let (mut fast, mut slow) = (Aggregate::new(cap), Aggregate::new(cap));
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for step in 0..5000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let cluster = &names[(x % names.len() as u64) as usize];
                let workload = workloads[((x >> 20) % 6) as usize];
                assert_eq!(
                    fast.upstream_index(cluster, workload),
                    slow.upstream_index_by_key(cluster, workload),
                    "cap {cap} step {step}: {:?} {:?}",
                    String::from_utf8_lossy(cluster),
                    workload.map(String::from_utf8_lossy)
                );
                if step == 2500 {
                    // Upstreams merged in are found too.
                    let mut other = Aggregate::new(cap);
                    other.upstream_index_by_key(b"outbound|1||merged", None);
                    other.upstream_index_by_key(b"inbound|1||", Some(b"10.0.0.1"));
                    fast.merge(other.clone());
                    slow.merge(other);
                }
            }
            assert_eq!(fast.folded_records, slow.folded_records, "cap {cap}");
            assert_eq!(fast.upstreams.len(), slow.upstreams.len(), "cap {cap}");
        }
    }

    #[test]
    fn start_keys_order_like_their_bytes() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut stamp = || {
            let mut t = *b"2020-11-25T21:26:18.409Z";
            // Vary a few bytes across the two words, often leaving them equal.
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t[(x % 24) as usize] = b"0129:Z\xff\x00"[(x >> 8) as usize % 8];
            }
            t
        };
        for _ in 0..20_000 {
            let (a, b) = (stamp(), stamp());
            let (ka, kb) = (StartKey::of(&a), StartKey::of(&b));
            assert_eq!(ka.after(kb), a > b, "{a:?} {b:?}");
            assert_eq!(ka.cmp(&kb), a.cmp(&b));
            assert_eq!(ka.bytes(), Some(a));
        }
        assert_eq!(StartKey::NONE_FIRST.bytes(), None);
        assert_eq!(StartKey::NONE_LAST.bytes(), None);
    }

    #[test]
    fn start_range_spans_unordered_times() {
        let mut agg = Aggregate::new(10);
        assert_eq!(agg.start_range(), None);
        for t in ["2020-11-25T21:26:18.409Z", "2020-11-25T21:26:17.001Z", "2020-11-25T21:27:00.000Z"] {
            agg.note_start(t.as_bytes());
        }
        let ms = |t: &str| crate::record::parse_rfc3339_ms(t.as_bytes()).unwrap();
        assert_eq!(agg.start_range(), Some((ms("2020-11-25T21:26:17.001Z"), ms("2020-11-25T21:27:00.000Z"))));
        let mut other = Aggregate::new(10);
        other.note_start(b"2020-11-25T21:20:00.000Z");
        agg.merge(other);
        assert_eq!(agg.start_range().unwrap().0, ms("2020-11-25T21:20:00.000Z"));
    }
}
