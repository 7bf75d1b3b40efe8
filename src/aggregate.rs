//! Per-worker aggregate state: counters, latency histograms, per-upstream statistics and the
//! groups of failures that become findings. Each pipeline worker owns one [`Aggregate`], feeds
//! it every decoded line, and the pipeline merges them at the end (`merge`). Nothing here is
//! shared or locked. `crate::summary` turns the merged state into the owned report contract.
//!
//! Determinism: whatever is kept as a sample (request ids, malformed lines, evidence) is the
//! earliest by input position, so the merged result does not depend on how chunks were spread
//! over threads. Memory is bounded: at most `max_clusters` upstream names per worker (later ones
//! fold into `(other)`), a few samples per group, and a fixed number of evidence signatures.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use hdrhistogram::Histogram;

use crate::classify::{self, Cause, Classification, Domain, Reporter};
use crate::format::{ErrorKind, ParseError, SkipReason};
use crate::record::{FormatKind, Record};
use crate::response_flags::{Flag, ResponseFlags};
use crate::source::SourceMeta;

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

/// A small, fast, non-cryptographic hasher (FxHash) for cluster names and signatures: the keys
/// are log content, but the tables are bounded, so hash flooding cannot grow them.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

fn fx_hash(parts: &[&[u8]], extra: u64) -> u64 {
    let mut h = FxHasher::default();
    for p in parts {
        h.write(p);
        h.write_u64(p.len() as u64);
    }
    h.write_u64(extra);
    h.finish()
}

/// Keeps the `N` earliest items by position.
#[derive(Debug, Clone)]
pub struct Earliest<T, const N: usize> {
    items: Vec<(Position, T)>,
}

impl<T: PartialEq, const N: usize> Earliest<T, N> {
    /// Merges keeping distinct items only (for an equal item, the earlier position wins).
    pub fn merge_distinct(&mut self, other: Earliest<T, N>) {
        for (pos, item) in other.items {
            if let Some(i) = self.items.iter().position(|(_, t)| *t == item) {
                if pos < self.items[i].0 {
                    self.items.remove(i);
                    self.offer(pos, item);
                }
            } else {
                self.offer(pos, item);
            }
        }
    }
}

impl<T, const N: usize> Default for Earliest<T, N> {
    fn default() -> Self {
        Earliest { items: Vec::new() }
    }
}

impl<T, const N: usize> Earliest<T, N> {
    /// Whether an item at `pos` would be kept (check before building it: avoids allocating).
    #[inline]
    pub fn wants(&self, pos: Position) -> bool {
        self.items.len() < N || self.items.last().is_some_and(|(p, _)| pos < *p)
    }

    pub fn offer(&mut self, pos: Position, item: T) {
        if !self.wants(pos) {
            return;
        }
        let at = self.items.partition_point(|(p, _)| *p < pos);
        self.items.insert(at, (pos, item));
        self.items.truncate(N);
    }

    pub fn merge(&mut self, other: Earliest<T, N>) {
        for (pos, item) in other.items {
            self.offer(pos, item);
        }
    }

    /// Whether an equal item is already kept.
    pub fn holds<Q>(&self, item: &Q) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.items.iter().any(|(_, t)| t.borrow() == item)
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Position, T)> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The `K` smallest hashes of a set (a bottom-k sketch): deterministic whatever the order of
/// insertion and mergeable, exact while the set has fewer than `K` members. Used to find the
/// same requests (by `x-request-id`) in the records of different proxies.
///
/// New hashes wait, unsorted, in `pending` and are merged into the sorted `hashes` a few
/// hundred at a time: a binary search and a shift per failed request, in one of hundreds of
/// 8 KB sketches, was half of `add_failure` (perf, a log of failures only). Every reader sees
/// the sketch with `pending` folded in ([`BottomK::normalized`]).
#[derive(Debug, Clone, Default)]
pub struct BottomK {
    /// Sorted ascending, no duplicates, at most `BOTTOM_K` entries.
    hashes: Vec<u64>,
    /// Inserted since `hashes` was last merged; unsorted, may repeat, fewer than `PENDING`.
    pending: Vec<u64>,
    /// True once a hash was dropped (the set has more than `K` members): intersections are then
    /// estimates. Exact only when `pending` is empty.
    saturated: bool,
}

pub const BOTTOM_K: usize = 1024;
/// Hashes held back before a merge.
const PENDING: usize = BOTTOM_K / 4;

impl BottomK {
    #[inline]
    pub fn insert(&mut self, h: u64) {
        // A full sketch's largest hash bounds what can still enter (hashes pending are all
        // below it, so only lower it).
        if let Some(&max) = self.hashes.get(BOTTOM_K - 1) {
            if h >= max {
                self.saturated |= h > max;
                return;
            }
        }
        self.pending.push(h);
        if self.pending.len() >= PENDING {
            self.fold_pending();
        }
    }

    /// Merges `pending` into `hashes`: both sorted, duplicates dropped, the `K` smallest kept.
    /// In place, from the back (no allocation once `hashes` has grown to `K + PENDING`).
    fn fold_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable();
        let (a, b) = (self.hashes.len(), self.pending.len());
        self.hashes.resize(a + b, 0);
        let (mut i, mut j) = (a, b);
        while j > 0 {
            // Slots past `i + j` are final; `hashes[..i]` is still the old sorted prefix.
            if i > 0 && self.hashes[i - 1] > self.pending[j - 1] {
                i -= 1;
                self.hashes[i + j] = self.hashes[i];
            } else {
                j -= 1;
                self.hashes[i + j] = self.pending[j];
            }
        }
        self.hashes.dedup();
        if self.hashes.len() > BOTTOM_K {
            self.hashes.truncate(BOTTOM_K);
            self.saturated = true;
        }
        self.pending.clear();
    }

    /// The sketch with every hash inserted folded in, as readers need it (itself when
    /// nothing is pending, as after a merge).
    pub fn normalized(&self) -> Cow<'_, BottomK> {
        if self.pending.is_empty() {
            return Cow::Borrowed(self);
        }
        let mut s = self.clone();
        s.fold_pending();
        Cow::Owned(s)
    }

    pub fn merge(&mut self, o: &BottomK) {
        self.saturated |= o.saturated;
        self.fold_pending();
        self.pending.extend_from_slice(&o.hashes);
        self.pending.extend_from_slice(&o.pending);
        self.fold_pending();
    }

    /// True once a member was dropped.
    pub fn saturated(&self) -> bool {
        self.normalized().saturated
    }

    /// Members of both sketches (exact when neither is saturated).
    pub fn common(&self, o: &BottomK) -> u64 {
        let (a, b) = (self.normalized(), o.normalized());
        let (a, b) = (&a.hashes[..], &b.hashes[..]);
        let (mut i, mut j, mut n) = (0, 0, 0u64);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i], b[j]);
            i += (x <= y) as usize;
            j += (y <= x) as usize;
            n += (x == y) as u64;
        }
        n
    }

    /// [`BottomK::common`] of every pair of `sketches`, as an `n × n` table. One sort of all
    /// members instead of a merge per pair: the report correlates up to 200 groups of up to
    /// 1,024 hashes, and 200 × 199 merges took about 30 ms of a 300 MB run (perf), as long as
    /// reading 40 MB.
    pub fn common_pairs(sketches: &[&BottomK]) -> PairCounts {
        let n = sketches.len();
        let normal: Vec<Cow<'_, BottomK>> = sketches.iter().map(|s| s.normalized()).collect();
        let mut all: Vec<(u64, u32)> = normal
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.hashes.iter().map(move |&h| (h, i as u32)))
            .collect();
        all.sort_unstable();
        let mut counts = vec![0u64; n * n];
        // A sketch holds a hash once: a run of one hash lists distinct sketches.
        for run in all.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
            for (k, &(_, i)) in run.iter().enumerate() {
                for &(_, j) in &run[k + 1..] {
                    counts[i as usize * n + j as usize] += 1;
                    counts[j as usize * n + i as usize] += 1;
                }
            }
        }
        PairCounts { n, counts }
    }

    /// Members kept.
    pub fn len(&self) -> usize {
        self.normalized().hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty() && self.pending.is_empty()
    }
}

/// Members shared by each pair of sketches ([`BottomK::common_pairs`]).
pub struct PairCounts {
    n: usize,
    counts: Vec<u64>,
}

impl PairCounts {
    /// Members sketches `i` and `j` share (`i, j < n`).
    pub fn get(&self, i: usize, j: usize) -> u64 {
        self.counts[i * self.n + j]
    }
}

/// The workload a pod belongs to: `httpbin-8cb97b8f4-9dk9p` → `httpbin` (Deployment),
/// `fluentd-x7k2p` → `fluentd` (DaemonSet, Job); other names are kept.
pub fn workload_of(pod: &[u8]) -> &[u8] {
    let is_suffix = |s: &[u8], lens: std::ops::RangeInclusive<usize>| {
        lens.contains(&s.len()) && s.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let mut parts = pod.rsplitn(3, |&b| b == b'-');
    let (Some(last), Some(mid)) = (parts.next(), parts.next()) else { return pod };
    let rest = parts.next();
    if !is_suffix(last, 5..=5) {
        return pod;
    }
    match rest {
        Some(rest) if is_suffix(mid, 6..=10) && mid.iter().any(u8::is_ascii_digit) => rest,
        _ => &pod[..pod.len() - last.len() - 1],
    }
}

/// Counts of distinct values, up to [`ExactValues::CAP`] of them; past that only `overflow` is
/// kept. Order-independent, so merges are deterministic.
#[derive(Debug, Clone, Default)]
pub struct ExactValues {
    values: Vec<(u64, u64)>,
    pub overflow: bool,
}

impl ExactValues {
    pub const CAP: usize = 16;

    #[inline]
    pub fn add(&mut self, v: u64, n: u64) {
        if self.overflow {
            return;
        }
        if let Some((_, c)) = self.values.iter_mut().find(|(x, _)| *x == v) {
            *c += n;
        } else if self.values.len() < Self::CAP {
            self.values.push((v, n));
        } else {
            self.overflow = true;
            self.values = Vec::new();
        }
    }

    pub fn merge(&mut self, o: &ExactValues) {
        if o.overflow {
            self.overflow = true;
            self.values = Vec::new();
        }
        for &(v, n) in &o.values {
            self.add(v, n);
        }
    }

    /// The median of the values, when they were all kept.
    pub fn median(&self) -> Option<u64> {
        if self.overflow || self.values.is_empty() {
            return None;
        }
        let mut v = self.values.clone();
        v.sort_unstable();
        let total: u64 = v.iter().map(|(_, n)| n).sum();
        let mut seen = 0;
        v.into_iter()
            .find(|(_, n)| {
                seen += n;
                seen * 2 >= total
            })
            .map(|(x, _)| x)
    }
}

#[inline]
fn count_format(formats: &mut Vec<(FormatKind, u64)>, kind: FormatKind, n: u64) {
    // Nearly always the input's one layout.
    if let Some((k, c)) = formats.first_mut() {
        if *k == kind {
            *c += n;
            return;
        }
    }
    match formats.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, c)) => *c += n,
        None => formats.push((kind, n)),
    }
}

fn new_histogram() -> Histogram<u64> {
    // Two significant digits (1%) are enough for p50/p90/p99 and keep per-upstream state small;
    // the range grows with the largest value seen.
    Histogram::new(2).expect("valid histogram")
}

#[inline]
fn record_hist(h: &mut Histogram<u64>, v: u64) {
    // Values beyond what can be tracked (~2^62) are clamped; a log cannot make us panic.
    let _ = h.record(v.min(1 << 60));
}

/// Latencies below this many milliseconds (98% of the benchmark's, most of a mesh's) are
/// counted in [`Latency`]'s flat array.
const FLAT_BELOW: usize = 256;

/// A per-upstream latency histogram: small values are counted in a flat array first and added
/// to the `hdrhistogram` (as themselves, `record_n`) when it is read. Recording one is an
/// increment instead of hdrhistogram's ~70 instructions (index, resize and overflow checks,
/// min/max, total), twice per line. The histogram read is the one recording every value would
/// have built: `latency_reads_as_the_histogram_of_its_values`.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Counts of the values `0..FLAT_BELOW` not yet in `rest` (`u16`: 512 bytes, eight cache
    /// lines; a full count moves into `rest`).
    small: Box<[u16; FLAT_BELOW]>,
    rest: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency { small: Box::new([0; FLAT_BELOW]), rest: new_histogram() }
    }
}

impl Latency {
    #[inline]
    pub fn record(&mut self, v: u64) {
        if v < FLAT_BELOW as u64 {
            let c = &mut self.small[v as usize];
            if *c == u16::MAX {
                let _ = self.rest.record_n(v, u16::MAX as u64);
                *c = 0;
            }
            *c += 1;
        } else {
            record_hist(&mut self.rest, v);
        }
    }

    pub fn merge(&mut self, o: &Latency) {
        let _ = self.rest.add(&o.rest);
        for (v, (a, &b)) in self.small.iter_mut().zip(o.small.iter()).enumerate() {
            let (sum, over) = a.overflowing_add(b);
            if over {
                let _ = self.rest.record_n(v as u64, *a as u64 + b as u64);
                *a = 0;
            } else {
                *a = sum;
            }
        }
    }

    /// Adds every value recorded to `h`.
    pub fn add_to(&self, h: &mut Histogram<u64>) {
        let _ = h.add(&self.rest);
        self.add_small_to(h);
    }

    /// The histogram of every value recorded.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = self.rest.clone();
        self.add_small_to(&mut h);
        h
    }

    fn add_small_to(&self, h: &mut Histogram<u64>) {
        for (v, &c) in self.small.iter().enumerate().filter(|(_, c)| **c > 0) {
            let _ = h.record_n(v as u64, c as u64);
        }
    }
}

/// Counts per response code (`0`–`999`; anything larger is not a valid status and is rejected
/// by the parser).
#[derive(Debug, Clone, Default)]
pub struct CodeCounts(Vec<(u16, u64)>);

impl CodeCounts {
    #[inline]
    pub fn add(&mut self, code: u16, n: u64) {
        // Few distinct codes per upstream: a linear scan beats hashing. The most frequent code
        // is usually first: a code counted more often than the one before it swaps places with
        // it (the order is not part of the result: readers sort or search).
        if let Some((c, count)) = self.0.first_mut() {
            if *c == code {
                *count += n;
                return;
            }
        }
        self.add_scan(code, n);
    }

    fn add_scan(&mut self, code: u16, n: u64) {
        match self.0.iter().position(|(c, _)| *c == code) {
            Some(i) => {
                self.0[i].1 += n;
                if i > 0 && self.0[i].1 > self.0[i - 1].1 {
                    self.0.swap(i, i - 1);
                }
            }
            None => self.0.push((code, n)),
        }
    }

    pub fn merge(&mut self, other: &CodeCounts) {
        for &(c, n) in &other.0 {
            self.add(c, n);
        }
    }

    pub fn sorted(&self) -> Vec<(u16, u64)> {
        let mut v = self.0.clone();
        v.sort_unstable();
        v
    }

    pub fn get(&self, code: u16) -> u64 {
        self.0.iter().find(|(c, _)| *c == code).map_or(0, |(_, n)| *n)
    }
}

/// Counts per flag, per cause.
#[derive(Debug, Clone, Default)]
pub struct FlagCounts {
    pub known: [u64; Flag::COUNT],
    pub unknown: u64,
}

impl FlagCounts {
    #[inline]
    pub fn add(&mut self, flags: ResponseFlags) {
        if flags.is_empty() {
            return;
        }
        let mut bits = flags.bits();
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            self.known[i] += 1;
            bits &= bits - 1;
        }
        self.unknown += flags.unknown() as u64;
    }

    pub fn merge(&mut self, o: &FlagCounts) {
        for (a, b) in self.known.iter_mut().zip(o.known.iter()) {
            *a += b;
        }
        self.unknown += o.unknown;
    }

    pub fn get(&self, f: Flag) -> u64 {
        self.known[f as usize]
    }
}

/// Statistics of one upstream cluster.
#[derive(Debug, Clone)]
pub struct UpstreamStats {
    pub name: Box<[u8]>,
    /// For inbound clusters: the workload whose sidecar logged them (inbound clusters of
    /// different workloads share names like `inbound|8080||`).
    pub workload: Option<Box<[u8]>>,
    pub requests: u64,
    pub failed: u64,
    pub codes: CodeCounts,
    pub flags: FlagCounts,
    pub causes: [u64; Cause::COUNT],
    pub duration: Latency,
    pub upstream_service_time: Latency,
}

impl UpstreamStats {
    fn new(name: &[u8], workload: Option<&[u8]>) -> UpstreamStats {
        UpstreamStats {
            name: name.into(),
            workload: workload.map(Into::into),
            requests: 0,
            failed: 0,
            codes: CodeCounts::default(),
            flags: FlagCounts::default(),
            causes: [0; Cause::COUNT],
            duration: Latency::default(),
            upstream_service_time: Latency::default(),
        }
    }

    fn merge(&mut self, o: &UpstreamStats) {
        self.requests += o.requests;
        self.failed += o.failed;
        self.codes.merge(&o.codes);
        self.flags.merge(&o.flags);
        for (a, b) in self.causes.iter_mut().zip(o.causes.iter()) {
            *a += b;
        }
        self.duration.merge(&o.duration);
        self.upstream_service_time.merge(&o.upstream_service_time);
    }
}

/// The field values behind a group of failures (one signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceSample {
    pub code: Option<u16>,
    pub flags: ResponseFlags,
    pub details: Box<[u8]>,
    pub transport_failure: Box<[u8]>,
    pub termination: Box<[u8]>,
    pub route: Box<[u8]>,
}

/// Most distinct evidence signatures kept per group; the rest are only counted.
const MAX_SIGNATURES: usize = 6;

/// (namespace, pod); the namespace is empty when unknown.
pub type NamespacedPod = (Box<[u8]>, Box<[u8]>);

/// Failures of one cause at one upstream, logged by one kind of proxy.
#[derive(Debug, Clone)]
pub struct Group {
    pub cause: Cause,
    pub domain: Domain,
    pub reporter: Reporter,
    pub count: u64,
    pub with_retries: u64,
    pub durations: Latency,
    /// The exact durations while there are few distinct ones (a timeout wall has a handful):
    /// gives the cut-off to the millisecond where the histogram has 1% buckets.
    pub exact: ExactValues,
    /// (signature hash, first position, sample, count).
    pub signatures: Vec<(u64, Position, EvidenceSample, u64)>,
    pub other_signatures: u64,
    pub request_ids: Earliest<Box<[u8]>, 3>,
    /// (namespace, pod) of the proxy that logged it, when known.
    pub pods: Earliest<NamespacedPod, 3>,
    pub authorities: Earliest<Box<[u8]>, 1>,
    /// The TLS SNI the proxy saw (Istio mTLS: `outbound_.<port>_.<subset>_.<fqdn>`).
    pub server_names: Earliest<Box<[u8]>, 1>,
    pub upstream_hosts: Earliest<Box<[u8]>, 3>,
    /// Where the proxy accepted the connection (for `filter_chain_not_found`: the server's
    /// pod IP and port, which clients see as their upstream host).
    pub local_addresses: Earliest<Box<[u8]>, 3>,
    /// Request ids, to find the same requests at other hops.
    pub ids: BottomK,
}

impl Group {
    fn new(c: &Classification) -> Group {
        Group {
            cause: c.cause,
            domain: c.domain,
            reporter: c.reporter,
            count: 0,
            with_retries: 0,
            durations: Latency::default(),
            exact: ExactValues::default(),
            signatures: Vec::new(),
            other_signatures: 0,
            request_ids: Earliest::default(),
            pods: Earliest::default(),
            authorities: Earliest::default(),
            server_names: Earliest::default(),
            upstream_hosts: Earliest::default(),
            local_addresses: Earliest::default(),
            ids: BottomK::default(),
        }
    }

    fn add(&mut self, rec: &Record<'_>, pos: Position, source: &SourceMeta) {
        self.count += 1;
        if rec.response_flags.contains(Flag::URX) {
            self.with_retries += 1;
        }
        if let Some(d) = rec.duration_ms {
            self.durations.record(d);
            self.exact.add(d, 1);
        }
        let details = rec.response_code_details.unwrap_or(b"");
        let tf = rec.upstream_transport_failure_reason.unwrap_or(b"");
        let ctd = rec.connection_termination_details.unwrap_or(b"");
        let route = rec.route_name.unwrap_or(b"");
        let code = rec.response_code.map_or(u64::MAX, u64::from);
        let sig = fx_hash(&[details, tf, ctd, route], code ^ ((rec.response_flags.bits() as u64) << 20));
        let full = self.signatures.len() >= MAX_SIGNATURES;
        match self.signatures.iter_mut().find(|s| s.0 == sig) {
            Some(s) => {
                s.3 += 1;
                if pos < s.1 {
                    s.1 = pos;
                }
            }
            None if !full => {
                let sample = EvidenceSample {
                    code: rec.response_code,
                    flags: rec.response_flags,
                    details: details.into(),
                    transport_failure: tf.into(),
                    termination: ctd.into(),
                    route: route.into(),
                };
                self.signatures.push((sig, pos, sample, 1));
            }
            None => self.other_signatures += 1,
        }
        if let Some(id) = rec.request_id {
            self.ids.insert(fx_hash(&[id], 0));
            if self.request_ids.wants(pos) && !self.request_ids.holds(id) {
                self.request_ids.offer(pos, id.into());
            }
        }
        if let Some(sni) = rec.requested_server_name {
            if self.server_names.wants(pos) {
                self.server_names.offer(pos, sni.into());
            }
        }
        if let Some(a) = rec.downstream_local_address {
            if self.local_addresses.wants(pos) && !self.local_addresses.holds(a) {
                self.local_addresses.offer(pos, a.into());
            }
        }
        let pod = rec.meta.pod.or(source.pod.as_deref());
        if let Some(pod) = pod {
            if self.pods.wants(pos) && !self.pods.iter().any(|(_, (_, p))| &**p == pod) {
                let ns = rec.meta.namespace.or(source.namespace.as_deref()).unwrap_or(b"");
                self.pods.offer(pos, (ns.into(), pod.into()));
            }
        }
        if let Some(a) = rec.authority {
            if self.authorities.wants(pos) {
                self.authorities.offer(pos, a.into());
            }
        }
        if let Some(h) = rec.upstream_host {
            if self.upstream_hosts.wants(pos) && !self.upstream_hosts.holds(h) {
                self.upstream_hosts.offer(pos, h.into());
            }
        }
    }

    fn merge(&mut self, o: Group) {
        self.count += o.count;
        self.with_retries += o.with_retries;
        self.durations.merge(&o.durations);
        self.exact.merge(&o.exact);
        for (sig, pos, sample, n) in o.signatures {
            let full = self.signatures.len() >= MAX_SIGNATURES;
            match self.signatures.iter_mut().find(|s| s.0 == sig) {
                Some(s) => {
                    s.3 += n;
                    s.1 = s.1.min(pos);
                }
                None if !full => self.signatures.push((sig, pos, sample, n)),
                None => self.other_signatures += n,
            }
        }
        self.other_signatures += o.other_signatures;
        self.request_ids.merge_distinct(o.request_ids);
        self.pods.merge_distinct(o.pods);
        self.authorities.merge(o.authorities);
        self.server_names.merge(o.server_names);
        self.upstream_hosts.merge_distinct(o.upstream_hosts);
        self.local_addresses.merge_distinct(o.local_addresses);
        self.ids.merge(&o.ids);
    }
}

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
    pub overall: crate::window::Ring,
    pub upstreams: Vec<crate::window::Ring>,
    pub first_ms: Option<i64>,
    pub latest_ms: Option<i64>,
    /// Arrival time of the chunk being processed: the time of records without a timestamp.
    pub arrival_ms: i64,
}

/// Upstream indices by a hash of (cluster, workload), with open addressing; each hit is
/// confirmed against the upstream's own name and workload. Answers nearly every record
/// without building the `cluster \0 workload` key of `Aggregate::index` and hashing it byte by
/// byte. Exact: an upstream's own key always maps to it in `index` (an upstream is only
/// created together with its key, and only when the key is absent), so an upstream with the
/// same name and workload is the one `index` gives. Lookups it cannot answer (new, folded,
/// merged-in upstreams) go to `index`.
#[derive(Debug, Clone, Default)]
struct PairIndex {
    /// (high half of the hash, upstream index); [`PairIndex::EMPTY`] marks a free slot. The
    /// length is zero or a power of two, at least twice `len`.
    slots: Vec<(u32, u32)>,
    len: usize,
}

impl PairIndex {
    const EMPTY: u32 = u32::MAX;

    #[inline]
    fn get(
        &self,
        h: u64,
        upstreams: &[UpstreamStats],
        cluster: &[u8],
        workload: Option<&[u8]>,
    ) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let tag = (h >> 32) as u32;
        let mut s = h as usize & mask;
        loop {
            let (t, i) = self.slots[s];
            if i == Self::EMPTY {
                return None;
            }
            if t == tag {
                let up = &upstreams[i as usize];
                if *up.name == *cluster && up.workload.as_deref() == workload {
                    return Some(i);
                }
            }
            s = (s + 1) & mask;
        }
    }

    /// Adds upstream `i` (not present yet) under hash `h`.
    fn insert(&mut self, h: u64, i: u32, upstreams: &[UpstreamStats]) {
        if (self.len + 1) * 2 > self.slots.len() {
            // Rebuilt from every upstream: the table then also answers merged-in ones.
            self.slots = vec![(0, Self::EMPTY); (self.slots.len() * 2).max(64)];
            self.len = 0;
            for (j, up) in upstreams.iter().enumerate() {
                if j as u32 != i {
                    self.put(pair_hash(&up.name, up.workload.as_deref()), j as u32);
                }
            }
        }
        self.put(h, i);
    }

    fn put(&mut self, h: u64, i: u32) {
        let mask = self.slots.len() - 1;
        let mut s = h as usize & mask;
        while self.slots[s].1 != Self::EMPTY {
            s = (s + 1) & mask;
        }
        self.slots[s] = ((h >> 32) as u32, i);
        self.len += 1;
    }
}

/// The hash [`PairIndex`] files an upstream under. Every hit is confirmed byte for byte, so the
/// hash only has to tell names apart in practice: the length and three words, after Istio's
/// `outbound|`/`inbound|` prefix (port, subset), in the middle (service, namespace) and at the
/// end. Hashing every byte cost as much as the map lookup it replaces.
#[inline]
fn pair_hash(cluster: &[u8], workload: Option<&[u8]>) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    #[inline]
    fn word(b: &[u8], i: usize) -> u64 {
        u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
    }
    /// Up to 16 bytes, all of them.
    #[inline]
    fn short(b: &[u8]) -> u64 {
        if b.len() >= 8 {
            word(b, 0).rotate_left(21) ^ word(b, b.len() - 8)
        } else {
            b.iter().fold(0u64, |w, &x| (w << 8) | x as u64)
        }
    }
    let n = cluster.len();
    let mut h = if n >= 24 {
        (word(cluster, 8) ^ n as u64).wrapping_mul(K)
            ^ word(cluster, n / 2 - 4).rotate_left(17)
            ^ word(cluster, n - 8)
    } else {
        short(cluster) ^ n as u64
    };
    if let Some(w) = workload {
        h = h.wrapping_mul(K) ^ short(w) ^ ((w.len() as u64) << 56) ^ 0x1319_8a2e_0370_7344;
    }
    // Spread the high bits into the low ones, which pick the slot.
    let h = h.wrapping_mul(K);
    h ^ (h >> 29)
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
    index: HashMap<Box<[u8]>, u32, FxBuild>,
    /// The same upstreams by (cluster, workload): the per-record lookup.
    pairs: PairIndex,
    pub upstreams: Vec<UpstreamStats>,
    key_buf: Vec<u8>,
    /// Records counted under `(other)` because the cluster cap was reached.
    pub folded_records: u64,
    pub groups: HashMap<(Cause, u32, Reporter), Group, FxBuild>,
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

    /// Everything a report reads from a histogram, as comparable values.
    fn readings(h: &Histogram<u64>) -> (u64, u64, u64, Vec<u64>, Vec<(u64, u64)>) {
        let qs = [0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0].iter().map(|&q| h.value_at_quantile(q)).collect();
        let buckets = h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
        (h.len(), h.min(), h.max(), qs, buckets)
    }

    #[test]
    fn latency_reads_as_the_histogram_of_its_values() {
        // Small and large values, 0, the edge of the flat range, a value counted past u16::MAX
        // (moved into the histogram mid-way) and one beyond what hdrhistogram tracks (clamped).
        let mut values: Vec<u64> = (0..5_000u64).map(|i| (i * 7919) % 1_500).collect();
        values.extend([0, 255, 256, 257, 30_000, 120_000, u64::MAX]);
        values.extend(std::iter::repeat_n(7, 70_000));
        let (mut one, mut a, mut b) = (Latency::default(), Latency::default(), Latency::default());
        let mut direct = new_histogram();
        for (i, &v) in values.iter().enumerate() {
            one.record(v);
            if i % 2 == 0 {
                a.record(v)
            } else {
                b.record(v)
            }
            record_hist(&mut direct, v);
        }
        assert_eq!(readings(&one.histogram()), readings(&direct));
        // Merged halves: each holds 35,000 sevens, so the merged count overflows u16 too.
        a.merge(&b);
        assert_eq!(readings(&a.histogram()), readings(&direct));
        let mut sum = new_histogram();
        one.add_to(&mut sum);
        assert_eq!(readings(&sum), readings(&direct));
    }

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
    fn workloads_from_pod_names() {
        assert_eq!(workload_of(b"httpbin-8cb97b8f4-9dk9p"), b"httpbin");
        assert_eq!(workload_of(b"istio-ingressgateway-7d4f8b9c6-x2x9z"), b"istio-ingressgateway");
        assert_eq!(workload_of(b"fluentd-x7k2p"), b"fluentd");
        assert_eq!(workload_of(b"web-0"), b"web-0");
        assert_eq!(workload_of(b"plain"), b"plain");
    }

    #[test]
    fn bottom_k_is_order_independent_and_counts_common_members() {
        let mut a = BottomK::default();
        let mut b = BottomK::default();
        for i in 0..3000u64 {
            a.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        for i in (0..3000u64).rev() {
            b.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        let (a, b) = (a.normalized(), b.normalized());
        assert_eq!(a.hashes, b.hashes);
        assert!(a.saturated() && a.len() == BOTTOM_K);
        let mut c = BottomK::default();
        let mut d = BottomK::default();
        for i in 0..100u64 {
            c.insert(i);
            if i % 2 == 0 {
                d.insert(i);
            }
        }
        assert_eq!(c.normalized().common(&d.normalized()), 50);
    }

    /// The sketch is the `K` smallest distinct hashes inserted, saturated exactly when there
    /// were more: whatever the order, the repeats, the points where pending hashes were folded
    /// in, and how the inserts were split between sketches merged later.
    #[test]
    fn bottom_k_is_the_smallest_distinct_hashes() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for (n, range) in [
            (0, 1),
            (10, 5),
            (300, 1_000_000),
            (1023, 1 << 40),
            (1024, 1 << 40),
            (1030, 1030),
            (5000, 3000),
            (20_000, 1 << 50),
        ] {
            let values: Vec<u64> = (0..n).map(|_| next(range)).collect();
            let mut want: Vec<u64> = values.clone();
            want.sort_unstable();
            want.dedup();
            let distinct = want.len();
            want.truncate(BOTTOM_K);
            let mut one = BottomK::default();
            let mut parts = [BottomK::default(), BottomK::default(), BottomK::default()];
            for (k, &v) in values.iter().enumerate() {
                one.insert(v);
                parts[(k * 7 + v as usize) % 3].insert(v);
                // The largest kept hash again, once full: a repeat, not a dropped member.
                if k % 97 == 0 && one.hashes.len() == BOTTOM_K {
                    one.insert(one.hashes[BOTTOM_K - 1]);
                }
            }
            let one = one.normalized();
            assert_eq!(one.hashes, want, "{n} values below {range}");
            assert_eq!(one.saturated(), distinct > BOTTOM_K, "{n} values below {range}");
            let [mut m, p1, p2] = parts;
            m.merge(&p1);
            m.merge(&p2);
            let m = m.normalized();
            assert_eq!(m.hashes, want, "merged, {n} values below {range}");
            assert_eq!(m.saturated(), distinct > BOTTOM_K, "merged, {n} values below {range}");
        }
        // Descending: once full, every later hash is below the largest and waits in `pending`,
        // so only the fold can find that members were dropped.
        let mut down = BottomK::default();
        (0..1100u64).rev().for_each(|v| down.insert(v));
        assert!(down.saturated());
        assert_eq!(down.normalized().hashes, (0..BOTTOM_K as u64).collect::<Vec<_>>());
        // Exactly K members, each inserted twice (the largest included): nothing is dropped.
        let mut twice = BottomK::default();
        (0..2 * BOTTOM_K as u64).for_each(|v| twice.insert(v % BOTTOM_K as u64));
        assert!(!twice.saturated());
        assert_eq!(twice.len(), BOTTOM_K);
    }

    #[test]
    fn common_pairs_is_common_of_each_pair() {
        // Sketches of overlapping ranges of ids, some saturated, one empty.
        let mut sketches: Vec<BottomK> = Vec::new();
        for (start, n) in [(0u64, 300u64), (200, 50), (250, 2000), (5000, 10), (0, 0), (100, 1500), (260, 1)]
        {
            let mut s = BottomK::default();
            for i in start..start + n {
                s.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 3);
            }
            sketches.push(s);
        }
        let refs: Vec<&BottomK> = sketches.iter().collect();
        let pairs = BottomK::common_pairs(&refs);
        let mut nonzero = 0;
        for i in 0..refs.len() {
            for j in 0..refs.len() {
                if i != j {
                    let want = refs[i].common(refs[j]);
                    assert_eq!(pairs.get(i, j), want, "{i} {j}");
                    nonzero += (want > 0) as usize;
                }
            }
        }
        assert!(nonzero >= 10, "the test sketches overlap");
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
    fn code_counts_do_not_depend_on_order() {
        let codes = [200u16, 503, 200, 404, 503, 503, 503, 0, 200, 504, 503, 503, 200, 404];
        let mut a = CodeCounts::default();
        let mut b = CodeCounts::default();
        for &c in &codes {
            a.add(c, 1);
        }
        for &c in codes.iter().rev() {
            b.add(c, 2);
        }
        let mut want: Vec<(u16, u64)> = Vec::new();
        for &c in &codes {
            match want.iter_mut().find(|(k, _)| *k == c) {
                Some((_, n)) => *n += 1,
                None => want.push((c, 1)),
            }
        }
        want.sort_unstable();
        assert_eq!(a.sorted(), want);
        assert_eq!(b.sorted(), want.iter().map(|&(c, n)| (c, 2 * n)).collect::<Vec<_>>());
        assert_eq!(a.get(503), 6);
        assert_eq!(a.get(302), 0);
        a.merge(&b);
        assert_eq!(a.get(200), 12);
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

    #[test]
    fn earliest_keeps_the_first_by_position() {
        let mut e: Earliest<u32, 2> = Earliest::default();
        e.offer(pos(5, 0), 5);
        e.offer(pos(1, 0), 1);
        e.offer(pos(3, 0), 3);
        assert_eq!(e.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![1, 3]);
    }
}
