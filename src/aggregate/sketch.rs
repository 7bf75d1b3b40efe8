//! Bounded, order-independent summaries of what a group of failures saw: the earliest few
//! items by input position ([`Earliest`]), a bottom-k sketch of request-id hashes
//! ([`BottomK`]), capped exact counts ([`ExactValues`]) and sample values kept to their first
//! [`SAMPLE_VALUE_BYTES`] ([`Clipped`]). Each merges to the same result
//! whatever the split of lines over workers, which is what keeps the parent's output
//! deterministic. Filled by `super::group`; read by `crate::summary`. Depends only on the
//! parent's `Position`.

use std::borrow::Cow;

use super::Position;

/// Bytes of a sample value a group keeps (request ids, authorities, server names, upstream
/// hosts, local addresses, pods, and the evidence: details, transport failure, termination
/// details, route): longer values keep their start and their length. Real ones are shorter (a
/// DNS name is at most 253 bytes, a pod name too; BoringSSL's longest verify errors make
/// details of about 300); a log can hold 100 KB request ids, and each group keeps about 30
/// values.
pub const SAMPLE_VALUE_BYTES: usize = 512;

/// A sample value: its first [`SAMPLE_VALUE_BYTES`] at most, cut before a UTF-8 sequence
/// that would not fit, and its length before the cut.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Clipped {
    kept: Box<[u8]>,
    len: usize,
}

impl Clipped {
    pub fn new(v: &[u8]) -> Clipped {
        Clipped { kept: v[..clip_point(v, SAMPLE_VALUE_BYTES)].into(), len: v.len() }
    }

    /// The bytes kept.
    pub fn kept(&self) -> &[u8] {
        &self.kept
    }

    /// The value's length before the cut, when it was cut.
    pub fn cut_from(&self) -> Option<u64> {
        (self.len > self.kept.len()).then_some(self.len as u64)
    }

    pub fn is_cut(&self) -> bool {
        self.len > self.kept.len()
    }

    /// Whether `v` clips to this value (without building it).
    pub fn matches(&self, v: &[u8]) -> bool {
        v.len() == self.len && v[..clip_point(v, SAMPLE_VALUE_BYTES)] == *self.kept
    }
}

/// Where to cut `v` to at most `max` bytes: `max`, or less when a UTF-8 sequence starts before
/// `max` and goes on past it (invalid UTF-8 is cut anywhere).
pub fn clip_point(v: &[u8], max: usize) -> usize {
    if v.len() <= max {
        return v.len();
    }
    // Back over continuation bytes (10xxxxxx) to the lead byte they follow: at most 3.
    let mut at = max;
    while at > 0 && max - at < 3 && v[at] & 0xc0 == 0x80 {
        at -= 1;
    }
    if v[at] & 0xc0 == 0x80 || v[at] < 0x80 { max } else { at }
}

/// Keeps the `N` earliest items by position.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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

    /// Offers a value kept once: when `is_it` finds it held, only an earlier position moves it
    /// (the same rule as [`merge_distinct`](Self::merge_distinct), so a worker that met a value
    /// late first keeps what a single pass would); else `make` builds it, if it is wanted.
    #[inline]
    pub fn offer_distinct(&mut self, pos: Position, is_it: impl Fn(&T) -> bool, make: impl FnOnce() -> T) {
        if let Some(i) = self.items.iter().position(|(_, t)| is_it(t)) {
            if pos < self.items[i].0 {
                let (_, item) = self.items.remove(i);
                self.offer(pos, item);
            }
        } else if self.wants(pos) {
            self.offer(pos, make());
        }
    }

    /// Moves every position `chunks` chunks later (a state merged after others: `super::saved`).
    pub fn shift(&mut self, chunks: u64) {
        for (p, _) in &mut self.items {
            p.chunk += chunks;
        }
    }

    pub fn for_each_mut(&mut self, f: impl FnMut(&mut T)) {
        self.items.iter_mut().map(|(_, t)| t).for_each(f);
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
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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

/// Counts of distinct values, up to [`ExactValues::CAP`] of them; past that only `overflow` is
/// kept. Order-independent, so merges are deterministic.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(chunk: u64, line: u32) -> Position {
        Position { chunk, line }
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
    fn sample_values_are_cut_at_a_character_boundary_and_keep_their_length() {
        let short = Clipped::new(b"0b0c5a3e");
        assert_eq!((short.kept(), short.cut_from()), (&b"0b0c5a3e"[..], None));
        assert!(short.matches(b"0b0c5a3e") && !short.matches(b"0b0c5a3"));
        let long = vec![b'a'; 100_000];
        let c = Clipped::new(&long);
        assert_eq!((c.kept().len(), c.cut_from()), (SAMPLE_VALUE_BYTES, Some(100_000)));
        assert!(c.matches(&long) && !c.matches(&long[1..]));
        // "é" (2 bytes) and "€" (3) across the cut: the whole character goes.
        for (pre, ch) in [(511, "é"), (510, "€"), (511, "€"), (509, "😀")] {
            let v = format!("{}{ch}{}", "a".repeat(pre), "b".repeat(10));
            let c = Clipped::new(v.as_bytes());
            assert_eq!(c.kept(), "a".repeat(pre).as_bytes(), "{pre} {ch}");
            assert_eq!(c.cut_from(), Some(v.len() as u64));
        }
        // A character that ends at the cut is kept; invalid UTF-8 is cut at the limit.
        let v = format!("{}é{}", "a".repeat(510), "b".repeat(10));
        assert_eq!(Clipped::new(v.as_bytes()).kept().len(), 512);
        assert_eq!(Clipped::new(&[0x80; 600]).kept().len(), 512);
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
