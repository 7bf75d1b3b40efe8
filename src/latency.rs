//! Latency counts per upstream (two per line) and per group of failures. [`Latency`] keeps its
//! counts in the bucket layout of `hdrhistogram::Histogram::<u64>::new(2)`, which these figures
//! came from before, and answers the questions `crate::summary::Percentiles` and
//! `crate::findings::cutoff` ask exactly as that histogram does; recording is an index, an
//! increment and a compare instead of the histogram's general `record` (generic counter,
//! `Result`, resize checks), and a new group allocates nothing until its first value.
//!
//! Layout (two significant digits, unit 1): values below 256 have a slot each; above, bucket
//! `b` ≥ 1 holds `[128 << b, 256 << b)` in 128 slots of width `2^b`, at index `b * 128 + (v >> b)`.
//! Tests compare every answer with hdrhistogram's over the same values.

/// Values beyond what can be tracked (~2^62) are clamped: a log cannot make us panic.
const CLAMP: u64 = 1 << 60;
/// hdrhistogram's `sub_bucket_half_count_magnitude` for two significant digits.
const HALF_MAGNITUDE: u32 = 7;
/// Values below this have a slot of their own (`sub_bucket_count`).
const DIRECT: u64 = 1 << (HALF_MAGNITUDE + 1);

/// Counts of latency values in hdrhistogram's layout, with the exact extremes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    /// Empty until the first value: upstreams without latencies allocate nothing.
    counts: Vec<u64>,
    total: u64,
    /// Largest value recorded (0 when none).
    max: u64,
}

/// hdrhistogram's bucket of `v` (`bucket_for`).
#[inline]
fn bucket(v: u64) -> u32 {
    (v | (DIRECT - 1)).ilog2() - HALF_MAGNITUDE
}

/// The slot `v` is counted in.
#[inline]
fn index(v: u64) -> usize {
    let b = bucket(v);
    ((b << HALF_MAGNITUDE) as usize) + (v >> b) as usize
}

/// The lowest value counted in slot `i` (hdrhistogram's `value_for`).
fn value_for(i: usize) -> u64 {
    let half = 1usize << HALF_MAGNITUDE;
    if i < 2 * half {
        return i as u64;
    }
    let b = (i >> HALF_MAGNITUDE) - 1;
    (((i & (half - 1)) + half) as u64) << b
}

impl Latency {
    #[inline]
    pub fn record(&mut self, v: u64) {
        let v = v.min(CLAMP);
        let i = index(v);
        if i >= self.counts.len() {
            self.grow(v);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Room up to the bucket of `v`, in whole buckets as the histogram grows (once per new
    /// largest bucket). Doubling instead was measured: no fewer steps, more zeroing.
    #[cold]
    fn grow(&mut self, v: u64) {
        self.counts.resize(((bucket(v) as usize) + 2) << HALF_MAGNITUDE, 0);
    }

    pub fn merge(&mut self, o: &Latency) {
        if self.counts.len() < o.counts.len() {
            self.counts.resize(o.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a = a.saturating_add(*b);
        }
        self.total = self.total.saturating_add(o.total);
        self.max = self.max.max(o.max);
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// As `Histogram::max`: the highest value equivalent to the largest recorded.
    pub fn max(&self) -> u64 {
        self.highest_equivalent(self.max)
    }

    /// As `Histogram::min`: 0 when empty or when a 0 was recorded, else the lowest value
    /// equivalent to the smallest recorded.
    pub fn min(&self) -> u64 {
        match self.counts.iter().position(|&c| c != 0) {
            Some(i) => value_for(i),
            None => 0,
        }
    }

    /// As `Histogram::highest_equivalent`.
    pub fn highest_equivalent(&self, v: u64) -> u64 {
        let b = bucket(v);
        ((v >> b) << b).saturating_add((1 << b) - 1)
    }

    /// As `Histogram::median_equivalent`: the middle (rounded up) of the values equivalent to `v`.
    pub fn median_equivalent(&self, v: u64) -> u64 {
        let b = bucket(v);
        ((v >> b) << b) + ((1 << b) >> 1)
    }

    /// As `Histogram::count_between`: the values in the slots from `low`'s to `high`'s, both
    /// clamped to the last slot. The slots are the histogram's (same growth), so the clamping
    /// is too.
    pub fn count_between(&self, low: u64, high: u64) -> u64 {
        let Some(last) = self.counts.len().checked_sub(1) else { return 0 };
        let (lo, hi) = (index(low).min(last), index(high).min(last));
        self.counts.get(lo..=hi).map_or(0, |s| s.iter().fold(0u64, |t, &c| t.saturating_add(c)))
    }

    /// As `Histogram::value_at_quantile` for a quantile above 0 (the only ones asked): the
    /// highest value equivalent to the first slot where the running count reaches
    /// `ceil(quantile × len)`.
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        let quantile = if quantile > 1.0 { 1.0 } else { quantile };
        let wanted = ((quantile * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                let v = value_for(i);
                let b = bucket(v);
                return if quantile == 0.0 { (v >> b) << b } else { self.highest_equivalent(v) };
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;

    use super::*;
    use crate::summary::Percentiles;

    /// `Percentiles::of` as it read an hdrhistogram.
    fn percentiles_of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |p: f64| Some(h.highest_equivalent(h.value_at_quantile(p)).min(h.max()));
        Percentiles { count: h.len(), p50: q(0.50), p90: q(0.90), p99: q(0.99), max: Some(h.max()) }
    }

    /// The histogram `crate::aggregate` used per upstream, recording as it did.
    fn oracle(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new(2).unwrap();
        for &v in values {
            h.record(v.min(CLAMP)).unwrap();
        }
        h
    }

    fn latency(values: &[u64]) -> Latency {
        let mut l = Latency::default();
        for &v in values {
            l.record(v);
        }
        l
    }

    const QUANTILES: [f64; 9] = [0.0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0, 1.5];

    fn assert_same(l: &Latency, h: &Histogram<u64>, what: &str) {
        assert_eq!(Percentiles::of(l), percentiles_of(h), "{what}: percentiles");
        assert_eq!(l.len(), h.len(), "{what}: len");
        assert_eq!(l.is_empty(), h.is_empty(), "{what}: is_empty");
        assert_eq!(l.min(), h.min(), "{what}: min");
        for (lo, hi) in [(0, 0), (0, 100), (90, 110), (14_700, 15_300), (1 << 40, u64::MAX), (5, 3)] {
            assert_eq!(l.count_between(lo, hi), h.count_between(lo, hi), "{what}: between {lo} {hi}");
        }
        if h.is_empty() {
            return;
        }
        assert_eq!(l.max(), h.max(), "{what}: max");
        let top = h.max();
        for (lo, hi) in [(top / 2, top), (top, top), (top.saturating_add(1), u64::MAX)] {
            assert_eq!(l.count_between(lo, hi), h.count_between(lo, hi), "{what}: between {lo} {hi}");
        }
        for q in QUANTILES {
            assert_eq!(l.value_at_quantile(q), h.value_at_quantile(q), "{what}: q {q}");
            let v = h.value_at_quantile(q);
            assert_eq!(l.highest_equivalent(v), h.highest_equivalent(v), "{what}: he {v}");
            assert_eq!(l.median_equivalent(v), h.median_equivalent(v), "{what}: me {v}");
        }
    }

    /// A deterministic spread over every magnitude, with runs of equal values.
    fn values(seed: u64, n: usize) -> Vec<u64> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let magnitude = x % 66;
                if magnitude >= 64 { u64::MAX } else { (x >> 8) & ((1u64 << magnitude) - 1) }
            })
            .collect()
    }

    #[test]
    fn slots_are_hdrhistogram_slots() {
        let h = Histogram::<u64>::new(2).unwrap();
        let mut edges = vec![0, 1, 127, 128, 255, 256, 257, 511, 512, 513, 1023, 1024, CLAMP - 1, CLAMP];
        for b in 0..60 {
            edges.extend([(1u64 << b).saturating_sub(1), 1 << b, (1 << b) + 1, 3 << b]);
        }
        for v in edges.into_iter().filter(|&v| v <= CLAMP) {
            assert_eq!(value_for(index(v)), h.lowest_equivalent(v), "lowest of {v}");
            assert_eq!(index(value_for(index(v))), index(v), "round trip of {v}");
            assert_eq!(Latency::default().highest_equivalent(v), h.highest_equivalent(v), "highest of {v}");
        }
    }

    #[test]
    fn answers_like_hdrhistogram() {
        assert_same(&latency(&[]), &oracle(&[]), "empty");
        assert_same(&latency(&[0, 0, 0]), &oracle(&[0, 0, 0]), "zeros");
        assert_same(&latency(&[15_001]), &oracle(&[15_001]), "one");
        assert_same(&latency(&[u64::MAX, 3]), &oracle(&[u64::MAX, 3]), "clamped");
        for seed in 0..40 {
            for n in [1, 2, 3, 10, 100, 1000] {
                let v = values(seed, n);
                assert_same(&latency(&v), &oracle(&v), &format!("seed {seed} n {n}"));
                // Latencies as logs have them: small, dense, with a timeout wall.
                let ms: Vec<u64> = v.iter().map(|x| if x % 7 == 0 { 15_000 } else { x % 3000 }).collect();
                assert_same(&latency(&ms), &oracle(&ms), &format!("ms seed {seed} n {n}"));
            }
        }
    }

    #[test]
    fn merges_like_hdrhistogram_adds() {
        for seed in 0..40 {
            let (a, b) = (values(seed, 300), values(seed + 1000, (seed as usize) * 7));
            let b: Vec<u64> = if seed % 2 == 0 { b.iter().map(|x| x % 500).collect() } else { b };
            let (mut l, mut h) = (latency(&a), oracle(&a));
            l.merge(&latency(&b));
            h.add(oracle(&b)).unwrap();
            assert_same(&l, &h, &format!("seed {seed}"));
            // The other way round, and into an empty one.
            let (mut l2, mut h2) = (latency(&b), oracle(&b));
            l2.merge(&latency(&a));
            h2.add(oracle(&a)).unwrap();
            assert_same(&l2, &h2, &format!("reversed seed {seed}"));
            let (mut l3, mut h3) = (Latency::default(), oracle(&[]));
            l3.merge(&l);
            h3.add(&h).unwrap();
            assert_same(&l3, &h3, &format!("into empty seed {seed}"));
        }
    }
}
