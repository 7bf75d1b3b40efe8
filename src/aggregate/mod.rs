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

mod bounds;
mod group;
mod saved;
mod sketch;
mod stats;
pub mod timeline;
mod upstream;
pub mod window;

use std::collections::HashMap;
use std::sync::Arc;

use hdrhistogram::Histogram;
use rustc_hash::FxBuildHasher;

use crate::classify::{self, Cause, Classification, Domain, Reporter};
use crate::format::{ErrorKind, ParseError, SkipReason};
use crate::record::{FormatKind, Record};
use crate::source::SourceMeta;

pub use bounds::{MAX_GROUPS, MAX_NAME, Shared};
pub use group::{EvidenceSample, Group, NamespacedPod};
pub use saved::{Invalid, Saved};
pub use sketch::{
    BOTTOM_K, BottomK, Clipped, Earliest, ExactValues, PairCounts, SAMPLE_VALUE_BYTES, clip_point,
};
pub use stats::{CodeCounts, FlagCounts, Latency};
pub use upstream::{UpstreamStats, workload_of};

use bounds::{RankSet, group_rank, rank, slack};
use stats::{count_format, new_histogram};
use upstream::{PairIndex, pair_hash};

/// Where a line was read: the pipeline's chunk sequence number and the line's index in it.
/// Ordered like the input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Position {
    pub chunk: u64,
    pub line: u32,
}

/// Name under which records without an upstream cluster are counted.
pub const NO_CLUSTER: &str = "-";
/// Name under which clusters past the cap are counted.
pub const FOLDED: &str = "(other)";

/// A malformed line kept as a sample.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MalformedSample {
    pub source: u32,
    /// Its line number, when the reader counted lines (live mode, records output); 0 when it is
    /// worked out from `chunk_lines` instead.
    pub line: u64,
    pub error: ParseError,
    /// The line's first bytes (raw; escaped when written out).
    pub text: Box<[u8]>,
}

/// Groups that no cap folds: one per cause and reporter at each of `-` and `(other)`.
const EXEMPT_GROUPS: usize = 2 * Cause::COUNT * Reporter::COUNT;

/// The smallest share of the caps a worker holds before it spills: with many threads, spilling
/// for every few new names would lock the merged state for each chunk.
const MIN_SHARE: usize = 32;

/// Writes the key an upstream is indexed and ranked by into `key`: `cluster`, or
/// `cluster \0 workload`.
fn upstream_key(key: &mut Vec<u8>, cluster: &[u8], workload: Option<&[u8]>) {
    key.clear();
    key.extend_from_slice(cluster);
    if let Some(w) = workload {
        key.push(0);
        key.extend_from_slice(w);
    }
}

/// Keys that are never folded: records without a cluster, and the fold itself.
#[inline]
fn is_exempt(key: &[u8]) -> bool {
    key == NO_CLUSTER.as_bytes() || key == FOLDED.as_bytes()
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
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
    /// Most failure groups tracked apart ([`MAX_GROUPS`] unless a test says otherwise).
    pub max_groups: usize,
    /// Records analysed: those a filter let through (all, without one).
    pub records: u64,
    /// Records a filter (`crate::filter`) refused: counted here, nowhere else.
    pub filtered_out: u64,
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
    /// Upstreams tracked other than `-` and `(other)`: what the cluster cap counts.
    named: usize,
    /// Index of `(other)`, once it exists.
    other: Option<u32>,
    /// The largest (rank, key) that can still be kept, once more than `max_clusters` were seen
    /// (see `bounds`).
    up_cut: Option<(u64, Box<[u8]>)>,
    /// The smallest group ranks seen (see `bounds`).
    group_ranks: RankSet,
    /// What the states of the run share (cuts, spilled states), when there are several.
    shared: Option<Arc<Shared>>,
    /// Set when this state holds more than its share of the caps: spilled before the next
    /// record.
    spill_due: bool,
    pub groups: HashMap<(Cause, u32, Reporter), Group, FxBuildHasher>,
    pub malformed_samples: Earliest<MalformedSample, 5>,
    /// (chunk, source, lines) for every chunk this worker read whose lines the reader did not
    /// number: turns positions into line numbers (batch mode: one per MiB read).
    pub chunk_lines: Vec<(u64, u32, u64)>,
    /// Lines per source of the chunks the reader numbered (live mode: chunks are as small as
    /// what a poll found, and a list of them would grow for as long as the run).
    pub numbered_lines: HashMap<u32, u64, FxBuildHasher>,
    first_start_ms: Option<i64>,
    last_start_ms: Option<i64>,
    /// Earliest and latest canonical start time, as [`StartKey`]s ([`StartKey::NONE_FIRST`] and
    /// [`StartKey::NONE_LAST`] until one is seen).
    first_raw: StartKey,
    last_raw: StartKey,
    /// Present in live mode only (windows cost a timestamp parse per record).
    pub live: Option<Box<Live>>,
    /// Failures by cause over the log's time, when a report draws them (`-o html`).
    pub timeline: Option<Box<timeline::Timeline>>,
}

impl Aggregate {
    pub fn new(max_clusters: usize) -> Aggregate {
        Aggregate {
            max_clusters: max_clusters.max(1),
            max_groups: MAX_GROUPS,
            records: 0,
            filtered_out: 0,
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
            named: 0,
            other: None,
            up_cut: None,
            group_ranks: RankSet::default(),
            shared: None,
            spill_due: false,
            groups: HashMap::default(),
            malformed_samples: Earliest::default(),
            chunk_lines: Vec::new(),
            numbered_lines: HashMap::default(),
            first_start_ms: None,
            last_start_ms: None,
            first_raw: StartKey::NONE_FIRST,
            last_raw: StartKey::NONE_LAST,
            live: None,
            timeline: None,
        }
    }

    /// An aggregate that also keeps sliding windows (live mode).
    pub fn new_live(max_clusters: usize) -> Aggregate {
        Aggregate { live: Some(Box::default()), ..Aggregate::new(max_clusters) }
    }

    /// The same aggregate, one of the states of a run that share `shared`.
    pub fn sharing(mut self, shared: Arc<Shared>) -> Aggregate {
        self.shared = Some(shared);
        self
    }

    /// A new, empty state like this one: same caps, cuts and mode (a worker's after it spilled).
    pub fn empty_like(&self) -> Aggregate {
        let mut a = if self.live.is_some() {
            Aggregate::new_live(self.max_clusters)
        } else {
            Aggregate::new(self.max_clusters)
        };
        a.max_groups = self.max_groups;
        a.timeline = self.timeline.as_ref().map(|_| Box::default());
        a.shared = self.shared.clone();
        a.up_cut = self.up_cut.clone();
        a.group_ranks = self.group_ranks.clone();
        a
    }

    /// Failures of tracked upstreams counted in a group at `(other)` because their own group is
    /// past the group cap. Worked out from the final state, not counted as they come: whether a
    /// failure was folded by the group cap or with its upstream depends on which came first.
    pub fn folded_failures(&self) -> u64 {
        let mut grouped = vec![0u64; self.upstreams.len()];
        for (&(_, ui, _), g) in &self.groups {
            grouped[ui as usize] += g.count;
        }
        (0..self.upstreams.len() as u32)
            .filter(|&ui| !self.is_exempt_upstream(ui))
            .map(|ui| self.upstreams[ui as usize].failed.saturating_sub(grouped[ui as usize]))
            .sum()
    }

    /// Notes whether this state holds more than its share of the caps (one of the run's
    /// `parts`): it is then spilled before its next record.
    fn check_share(&mut self) {
        if let Some(sh) = &self.shared {
            self.spill_due = self.named > (self.max_clusters / sh.parts).max(MIN_SHARE)
                || self.groups.len() > (self.max_groups / sh.parts).max(MIN_SHARE) + EXEMPT_GROUPS;
        }
    }

    /// Hands this state to the run's spilled one and goes on empty.
    #[cold]
    #[inline(never)]
    fn spill(&mut self) {
        let fresh = self.empty_like();
        let full = std::mem::replace(self, fresh);
        if let Some(sh) = &self.shared {
            sh.spill(full);
        }
    }

    /// Upstreams tracked apart, other than `-` and `(other)`.
    pub fn named_upstreams(&self) -> usize {
        self.named
    }

    /// Lines accounted for: every line is exactly one of these.
    pub fn lines(&self) -> u64 {
        self.records + self.filtered_out + self.skipped_total() + self.malformed
    }

    pub fn skipped_total(&self) -> u64 {
        // Wrapping: see `unterminated_fragments`.
        self.skipped.iter().fold(0, |a, &b| a.wrapping_add(b))
    }

    /// Index of the upstream `cluster` (per `workload` for inbound clusters), creating it, or
    /// folding it into `(other)` once `max_clusters` are tracked (counted in `folded_records`).
    #[inline(always)]
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

    /// The lookup by `index`, the authority: new upstreams, folded ones, merged ones. Names are
    /// cut to [`MAX_NAME`] bytes; past the cap, a name is tracked or folded by the rule in
    /// `bounds`.
    #[inline(never)]
    fn upstream_index_by_key(&mut self, cluster: &[u8], workload: Option<&[u8]>) -> u32 {
        let cluster = &cluster[..cluster.len().min(MAX_NAME)];
        let workload = workload.map(|w| &w[..w.len().min(MAX_NAME)]);
        let mut key = std::mem::take(&mut self.key_buf);
        upstream_key(&mut key, cluster, workload);
        let i = self.upstream_of_key(&key, cluster, workload);
        self.key_buf = key;
        i
    }

    fn upstream_of_key(&mut self, key: &[u8], cluster: &[u8], workload: Option<&[u8]>) -> u32 {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        if is_exempt(key) {
            return self.create_upstream(key, cluster, workload, 0);
        }
        let r = rank(key);
        if self.folds(r, key) {
            self.folded_records += 1;
            return self.other_index();
        }
        let i = self.create_upstream(key, cluster, workload, r);
        if self.named > self.max_clusters + slack(self.max_clusters) {
            self.prune();
            return match self.index.get(key) {
                Some(&i) => i,
                None => {
                    self.folded_records += 1;
                    self.other_index()
                }
            };
        }
        i
    }

    fn create_upstream(&mut self, key: &[u8], cluster: &[u8], workload: Option<&[u8]>, rank: u64) -> u32 {
        let i = self.upstreams.len() as u32;
        let mut up = UpstreamStats::new(cluster, workload);
        up.rank = rank;
        self.upstreams.push(up);
        self.index.insert(key.into(), i);
        if key == FOLDED.as_bytes() {
            self.other = Some(i);
        } else if !is_exempt(key) {
            self.named += 1;
            self.check_share();
        }
        i
    }

    /// Takes over another state's upstream that this one does not have.
    fn adopt_upstream(&mut self, key: &[u8], up: UpstreamStats) -> u32 {
        let i = self.create_upstream(key, &[], None, up.rank);
        self.upstreams[i as usize] = up;
        i
    }

    fn other_index(&mut self) -> u32 {
        match self.other {
            Some(i) => i,
            None => self.create_upstream(FOLDED.as_bytes(), FOLDED.as_bytes(), None, 0),
        }
    }

    /// Whether an upstream of this rank and key cannot be among the kept ones.
    #[inline]
    fn folds(&self, r: u64, key: &[u8]) -> bool {
        if self.shared.as_ref().is_some_and(|c| r > c.upstream()) {
            return true;
        }
        matches!(&self.up_cut, Some((cr, ck)) if (r, key) > (*cr, &**ck))
    }

    /// The group rank above which a group cannot be kept.
    #[inline]
    fn group_cut(&self) -> u64 {
        let shared = self.shared.as_ref().map_or(u64::MAX, |c| c.group());
        self.group_ranks.cut(self.max_groups).min(shared)
    }

    /// The workload an inbound cluster is told apart by. Inbound cluster names (`inbound|8080||`)
    /// repeat across workloads: tell them apart by the workload of the pod that logged them or,
    /// failing that, by the pod IP the sidecar accepted on.
    #[inline(always)]
    fn workload_for<'r>(&self, cluster: &[u8], rec: &Record<'r>, source: &'r SourceMeta) -> Option<&'r [u8]> {
        // As an array, the prefix is compared inline (a slice comparison is a call).
        if cluster.first_chunk::<8>() == Some(b"inbound|") {
            rec.meta
                .pod
                .or(source.pod.as_deref())
                .map(workload_of)
                .or_else(|| rec.downstream_local_address.and_then(crate::classify::ip_of))
        } else {
            None
        }
    }

    /// Counts one record; returns who logged it and, if it failed, its classification.
    #[inline]
    pub fn add_record(
        &mut self,
        rec: &Record<'_>,
        pos: Position,
        source: &SourceMeta,
    ) -> (Reporter, Option<Classification>) {
        let reporter = classify::reporter(rec, source.pod.as_deref());
        let verdict = classify::classify(rec, reporter);
        self.add_classified(rec, pos, source, reporter, verdict)
    }

    /// Counts one record already classified (by a filter that needed to know); returns what
    /// it was given.
    #[inline(always)]
    pub fn add_classified(
        &mut self,
        rec: &Record<'_>,
        pos: Position,
        source: &SourceMeta,
        reporter: Reporter,
        verdict: Option<Classification>,
    ) -> (Reporter, Option<Classification>) {
        if self.spill_due {
            self.spill();
        }
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
        let workload = self.workload_for(cluster, rec, source);
        let ui = self.upstream_index(cluster, workload);
        self.reporters[reporter as usize] += 1;
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
        if let Some(t) = self.timeline.as_deref_mut() {
            t.add(rec.start_time, verdict.as_ref().map(|v| v.cause));
        }
        if let Some(live) = self.live.as_deref_mut() {
            // A record cannot start after it arrived: a time ahead of the clock (a skewed node,
            // a mistyped year 2999) would move "now" there and empty every window for the rest
            // of the run, so it counts at its arrival.
            let t = rec.start_epoch_ms().map_or(live.arrival_ms, |t| t.min(live.arrival_ms));
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
        let mut key = (v.cause, ui, v.reporter);
        if Some(ui) == self.other && rec.upstream_cluster.is_some_and(|c| c != FOLDED.as_bytes()) {
            // A folded upstream's triple still counts among the group ranks seen: the groups
            // kept are the smallest ranks of all triples, whichever upstreams are kept.
            let cluster = rec.upstream_cluster.unwrap_or_default();
            let r = self.rank_of_record_upstream(cluster, rec, source);
            self.group_ranks.insert(group_rank(r, v.cause, v.reporter), self.max_groups);
        } else if !self.groups.contains_key(&key) && !self.is_exempt_upstream(ui) {
            let r = group_rank(self.upstreams[ui as usize].rank, v.cause, v.reporter);
            if r > self.group_cut() {
                key.1 = self.other_index();
            } else {
                self.group_ranks.insert(r, self.max_groups);
                self.check_share();
            }
        }
        let g = self.groups.entry(key).or_insert_with(|| Group::new(v));
        g.add(rec, pos, source);
        g.domain = g.domain.min(v.domain);
        self.prune_past_slack();
    }

    /// The rank of a folded record's upstream key (as `upstream_index_by_key` built it).
    fn rank_of_record_upstream(&mut self, cluster: &[u8], rec: &Record<'_>, source: &SourceMeta) -> u64 {
        let cluster = &cluster[..cluster.len().min(MAX_NAME)];
        let workload = self.workload_for(cluster, rec, source).map(|w| &w[..w.len().min(MAX_NAME)]);
        let mut key = std::mem::take(&mut self.key_buf);
        upstream_key(&mut key, cluster, workload);
        let r = rank(&key);
        self.key_buf = key;
        r
    }

    fn is_exempt_upstream(&self, ui: u32) -> bool {
        let up = &self.upstreams[ui as usize];
        up.workload.is_none() && is_exempt(&up.name)
    }

    /// Tracks the earliest and latest start time. Envoy's own `%START_TIME%` rendering
    /// (`2020-11-25T21:26:18.409Z`, fixed width, UTC) orders like its bytes, so the common case
    /// is a comparison; other renderings are parsed.
    #[inline(always)]
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

    /// Counts a malformed line; `number` is its line number when the reader counted (else 0).
    pub fn add_malformed(&mut self, err: ParseError, line: &[u8], pos: Position, source: u32, number: u64) {
        self.malformed += 1;
        *self.malformed_by_kind.entry(err.kind).or_insert(0) += 1;
        if self.malformed_samples.wants(pos) {
            let text = line[..line.len().min(SAMPLE_BYTES)].into();
            self.malformed_samples.offer(pos, MalformedSample { source, line: number, error: err, text });
        }
    }

    /// Notes a chunk read: `lines` lines of `source`, the first numbered `first_line` by the
    /// reader (0 when it did not count).
    pub fn count_chunk(&mut self, seq: u64, source: u32, lines: u64, first_line: u64) {
        if first_line > 0 {
            *self.numbered_lines.entry(source).or_insert(0) += lines;
        } else {
            self.chunk_lines.push((seq, source, lines));
        }
    }

    /// Lines read per source.
    pub fn lines_by_source(&self) -> HashMap<u32, u64, FxBuildHasher> {
        let mut by = self.numbered_lines.clone();
        for &(_, source, lines) in &self.chunk_lines {
            *by.entry(source).or_insert(0) += lines;
        }
        by
    }

    /// Lines that were held as fragments but never completed (input ended mid-record):
    /// recounted from skipped to malformed so nothing is lost silently.
    pub fn unterminated_fragments(&mut self, lines: u64) {
        // The fragments were counted as skipped in this state, unless it spilled since (see
        // `bounds::Shared`): then its count goes below zero here and the spilled state holds
        // the rest. Wrapping arithmetic keeps the sum of both (all merges add) exact.
        let f = &mut self.skipped[SkipReason::Fragment as usize];
        *f = f.wrapping_sub(lines);
        self.malformed += lines;
        *self.malformed_by_kind.entry(ErrorKind::Truncated).or_insert(0) += lines;
    }

    /// Folds another worker's state into this one. Upstreams are matched by name; the result
    /// keeps what the caps allow (see `bounds`), the same whatever the order of merges.
    pub fn merge(&mut self, o: Aggregate) {
        self.absorb(o);
        self.prune();
    }

    /// Like [`merge`](Self::merge), but prunes only past the caps' slack: the result is within
    /// bounds but may hold upstreams and groups a later [`prune`](Self::prune) folds. For the
    /// spilled state, which takes many merges and is pruned once at the end.
    pub fn merge_within_slack(&mut self, o: Aggregate) {
        self.absorb(o);
        self.prune_past_slack();
    }

    fn prune_past_slack(&mut self) {
        if self.named > self.max_clusters + slack(self.max_clusters)
            || self.groups.len() > self.max_groups + slack(self.max_groups) + EXEMPT_GROUPS
        {
            self.prune();
        }
    }

    /// Brings the state back within its caps: folds the upstreams and groups that the rule in
    /// `bounds` does not keep into `(other)`, and publishes the cuts. A state that every
    /// other has been merged into is then the same however the input was split.
    pub fn prune(&mut self) {
        let shared = self.shared.as_ref().map_or(u64::MAX, |c| c.upstream());
        if self.named > self.max_clusters {
            let mut ranked: Vec<(u64, &[u8])> = self
                .index
                .iter()
                .filter(|(k, _)| !is_exempt(k))
                .map(|(k, &i)| (self.upstreams[i as usize].rank, &**k))
                .collect();
            let k = self.max_clusters - 1;
            let (_, &mut (r, key), _) = ranked.select_nth_unstable(k);
            let cut = (r, Box::<[u8]>::from(key));
            if self.up_cut.as_ref().is_none_or(|c| cut < *c) {
                self.up_cut = Some(cut);
            }
        }
        let gcut = self.group_cut();
        if let Some(c) = &self.shared {
            c.publish(self.up_cut.as_ref().map_or(u64::MAX, |c| c.0), gcut);
        }
        let upstream_out = self.named > self.max_clusters
            || (self.up_cut.is_some() || shared < u64::MAX)
                && self
                    .index
                    .iter()
                    .any(|(k, &i)| !is_exempt(k) && self.folds(self.upstreams[i as usize].rank, k));
        let group_out = gcut < u64::MAX
            && self.groups.keys().any(|&(c, ui, r)| {
                !self.is_exempt_upstream(ui) && group_rank(self.upstreams[ui as usize].rank, c, r) > gcut
            });
        if upstream_out || group_out {
            let old = std::mem::replace(self, self.empty_like());
            self.absorb(old);
        }
    }

    /// Adds another state to this one, folding what this one's cuts do not keep.
    fn absorb(&mut self, mut o: Aggregate) {
        self.group_ranks.merge(&o.group_ranks, self.max_groups);
        if let Some(c) = o.up_cut.take() {
            if self.up_cut.as_ref().is_none_or(|mine| c < *mine) {
                self.up_cut = Some(c);
            }
        }
        self.records += o.records;
        self.filtered_out += o.filtered_out;
        self.partial += o.partial;
        self.failed += o.failed;
        for (a, b) in self.skipped.iter_mut().zip(o.skipped) {
            *a = a.wrapping_add(b);
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
        // Map the other state's upstream indices to ours.
        let mut remap = Vec::with_capacity(o.upstreams.len());
        let mut key = Vec::new();
        // By value: an upstream new here moves over with its histograms instead of being copied
        // (a prune rebuilds the whole state this way).
        for up in std::mem::take(&mut o.upstreams) {
            upstream_key(&mut key, &up.name, up.workload.as_deref());
            let i = match self.index.get(key.as_slice()) {
                Some(&i) => {
                    self.upstreams[i as usize].merge(&up);
                    i
                }
                None if !is_exempt(&key) && self.folds(up.rank, &key) => {
                    self.folded_records += up.requests;
                    let i = self.other_index();
                    self.upstreams[i as usize].merge(&up);
                    i
                }
                None => self.adopt_upstream(&key, up),
            };
            remap.push(i);
        }
        if let Some(theirs) = o.timeline.take() {
            self.timeline.get_or_insert_with(Box::default).merge(*theirs);
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
        let gcut = self.group_cut();
        for ((cause, ui, rep), g) in o.groups.drain() {
            let mut key = (cause, remap[ui as usize], rep);
            if !self.is_exempt_upstream(key.1)
                && group_rank(self.upstreams[key.1 as usize].rank, cause, rep) > gcut
            {
                key.1 = self.other_index();
            }
            match self.groups.get_mut(&key) {
                Some(mine) => mine.merge(g),
                None => {
                    self.groups.insert(key, g);
                }
            }
        }
        self.malformed_samples.merge(o.malformed_samples);
        self.chunk_lines.append(&mut o.chunk_lines);
        for (s, n) in o.numbered_lines {
            *self.numbered_lines.entry(s).or_insert(0) += n;
        }
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
        let names: Vec<String> = (0..40).map(|i| format!("svc{i}.foo")).collect();
        for (i, name) in names.iter().enumerate() {
            let line = OK.replace("httpbin.foo", name);
            agg.add_record(&parse_line(line.as_bytes(), &Scratch::new()).unwrap(), pos(0, i as u32), &src);
        }
        agg.prune();
        // The two names of smallest rank are kept, whatever the order they came in.
        let mut ranked: Vec<(u64, String)> = names
            .iter()
            .map(|n| {
                let key = format!("outbound|8000||{n}.svc.cluster.local");
                (rank(key.as_bytes()), key)
            })
            .collect();
        ranked.sort();
        let mut kept: Vec<String> =
            agg.upstreams.iter().map(|u| String::from_utf8_lossy(&u.name).into_owned()).collect();
        kept.sort();
        let mut want = vec![ranked[0].1.clone(), ranked[1].1.clone(), FOLDED.to_string()];
        want.sort();
        assert_eq!(kept, want);
        assert_eq!(agg.upstreams[agg.other.unwrap() as usize].requests, 38);
        assert_eq!(agg.folded_records, 38);
    }

    /// Everything a report reads from an aggregate, in a canonical order.
    fn fingerprint(agg: &Aggregate) -> String {
        let name = |ui: u32| {
            let u = &agg.upstreams[ui as usize];
            format!("{}/{:?}", String::from_utf8_lossy(&u.name), u.workload)
        };
        let mut ups: Vec<String> = agg
            .upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let h = u.duration.histogram();
                format!(
                    "{} {} {} {:?} {} {}",
                    name(i as u32),
                    u.requests,
                    u.failed,
                    u.causes,
                    h.len(),
                    h.max()
                )
            })
            .collect();
        ups.sort();
        let mut groups: Vec<String> = agg
            .groups
            .iter()
            .map(|(&(c, ui, r), g)| {
                let mut sigs: Vec<_> =
                    g.signatures.iter().map(|s| (s.0, s.1, s.2.details.clone(), s.3)).collect();
                sigs.sort();
                let ids: Vec<_> = g.request_ids.iter().collect();
                format!(
                    "{c:?} {} {r:?} {:?} n={} sigs={sigs:?} other={} ids={ids:?} len={}",
                    name(ui),
                    g.domain,
                    g.count,
                    g.other_signatures,
                    g.durations.histogram().len()
                )
            })
            .collect();
        groups.sort();
        format!(
            "lines={} records={} failed={} folded={} folded_failures={} named={}\n{}\n{}",
            agg.lines(),
            agg.records,
            agg.failed,
            agg.folded_records,
            agg.folded_failures(),
            agg.named,
            ups.join("\n"),
            groups.join("\n")
        )
    }

    #[test]
    fn folding_gives_one_answer_however_records_are_split_and_merged() {
        const BAD: &str = r#"[2020-11-25T21:26:18.409Z] "GET /x HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 3 - "-" "curl/7.73.0-DEV" "ID" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local - 10.0.45.184:8000 10.44.1.23:46520 - default"#;
        let src = SourceMeta::default();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // 3,000 records over 400 clusters, with successes, timeouts and refusals, several
        // signatures per group (details differ) and request ids.
        let lines: Vec<String> = (0..3000)
            .map(|i| {
                let r = next();
                let svc = format!("svc{}.foo", r % 400);
                let line = match (r >> 20) % 4 {
                    0 => OK.to_string(),
                    1 => UT.replace("15001", &format!("{}", 15000 + (r >> 30) % 3)),
                    _ => BAD.replace(
                        "connection_failure",
                        ["connection_failure", "overflow", "x", "y", "z", "w", "v", "u"]
                            [(r >> 33) as usize % 8],
                    ),
                };
                // Ids repeat across records and chunks: a worker meets some late first.
                line.replace("httpbin.foo", &svc).replace("\"ID\"", &format!("\"id-{}\"", i % 97))
            })
            .collect();
        let scratch = Scratch::new();
        let records: Vec<_> = lines.iter().map(|l| parse_line(l.as_bytes(), &scratch).unwrap()).collect();
        for (cap, groups) in [(50, 40), (1000, 4096), (7, 3)] {
            let fresh = || {
                let mut a = Aggregate::new(cap);
                a.max_groups = groups;
                a
            };
            let mut single = fresh();
            for (i, rec) in records.iter().enumerate() {
                single.add_record(rec, pos(i as u64 / 100, i as u32 % 100), &src);
            }
            single.prune();
            let want = fingerprint(&single);
            for parts in [2usize, 3, 8] {
                let shared = Arc::new(Shared::new(parts));
                let mut states: Vec<Aggregate> =
                    (0..parts).map(|_| fresh().sharing(Arc::clone(&shared))).collect();
                // Backwards: workers take chunks in any order.
                for (i, rec) in records.iter().enumerate().rev() {
                    // Chunks of 100 records go to a worker at random.
                    let chunk = i as u64 / 100;
                    let w = (chunk.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7) as usize % parts;
                    states[w].add_record(rec, pos(chunk, i as u32 % 100), &src);
                }
                let mut merged = shared.take().unwrap_or_else(fresh);
                // Merge in reverse, to not follow the order records came in.
                for s in states.into_iter().rev() {
                    merged.merge(s);
                }
                merged.prune();
                assert_eq!(fingerprint(&merged), want, "cap {cap}, groups {groups}, {parts} parts");
            }
            if cap == 50 {
                assert!(single.folded_records > 0 && single.folded_failures() > 0, "the caps were reached");
            }
        }
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
