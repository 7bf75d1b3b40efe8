//! Counters kept per upstream and overall: [`Latency`] (a flat array in front of an
//! `hdrhistogram`), [`CodeCounts`], [`FlagCounts`], and the per-layout record count. Used by
//! `super::upstream`, `super::group` and the parent; depends on nothing else here.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Serializer as _;

use crate::record::FormatKind;
use crate::response_flags::{Flag, ResponseFlags};

pub(super) fn new_histogram() -> Histogram<u64> {
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
    /// Made on the first value it needs: a histogram is 2 KiB even empty, and most upstreams
    /// and groups of a mesh never see a latency of `FLAT_BELOW` ms or more (thousands of them
    /// are what the memory bound is made of).
    rest: Option<Box<Histogram<u64>>>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency { small: Box::new([0; FLAT_BELOW]), rest: None }
    }
}

impl Latency {
    #[inline]
    pub fn record(&mut self, v: u64) {
        if v < FLAT_BELOW as u64 {
            let c = &mut self.small[v as usize];
            if *c == u16::MAX {
                *c = 0;
                let _ = self.rest_mut().record_n(v, u16::MAX as u64);
                self.small[v as usize] = 1;
            } else {
                *c += 1;
            }
        } else {
            record_hist(self.rest_mut(), v);
        }
    }

    #[inline]
    fn rest_mut(&mut self) -> &mut Histogram<u64> {
        self.rest.get_or_insert_with(|| Box::new(new_histogram()))
    }

    pub fn merge(&mut self, o: &Latency) {
        if let Some(r) = &o.rest {
            let _ = self.rest_mut().add(&**r);
        }
        for (v, (a, &b)) in self.small.iter_mut().zip(o.small.iter()).enumerate() {
            let (sum, over) = a.overflowing_add(b);
            if over {
                let rest = self.rest.get_or_insert_with(|| Box::new(new_histogram()));
                let _ = rest.record_n(v as u64, *a as u64 + b as u64);
                *a = 0;
            } else {
                *a = sum;
            }
        }
    }

    /// Adds every value recorded to `h`.
    pub fn add_to(&self, h: &mut Histogram<u64>) {
        if let Some(r) = &self.rest {
            let _ = h.add(&**r);
        }
        self.add_small_to(h);
    }

    /// The histogram of every value recorded.
    pub fn histogram(&self) -> Histogram<u64> {
        let mut h = self.rest.as_deref().cloned().unwrap_or_else(new_histogram);
        self.add_small_to(&mut h);
        h
    }

    fn add_small_to(&self, h: &mut Histogram<u64>) {
        for (v, &c) in self.small.iter().enumerate().filter(|(_, c)| **c > 0) {
            let _ = h.record_n(v as u64, c as u64);
        }
    }
}

/// Saved (`crate::state`) as the histogram of every value recorded, in HdrHistogram's V2
/// interchange form (readable by any HdrHistogram library); empty bytes when nothing was.
/// The state file is compressed as a whole, so the V2 form without its own deflate.
impl serde::Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.histogram();
        let mut bytes = Vec::new();
        if !h.is_empty() {
            hdrhistogram::serialization::V2Serializer::new()
                .serialize(&h, &mut bytes)
                .map_err(|e| serde::ser::Error::custom(format!("latency histogram: {e:?}")))?;
        }
        serde::Serialize::serialize(&bytes, s)
    }
}

impl<'de> serde::Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Latency, D::Error> {
        let bytes = <Vec<u8> as serde::Deserialize>::deserialize(d)?;
        let mut latency = Latency::default();
        if !bytes.is_empty() {
            let h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| serde::de::Error::custom(format!("latency histogram: {e:?}")))?;
            // Into one made like every other: a deserialized histogram has fixed bounds, and
            // a later merge of a larger value would be lost.
            let rest = latency.rest_mut();
            rest.add(&h).map_err(|e| serde::de::Error::custom(format!("latency histogram: {e:?}")))?;
        }
        Ok(latency)
    }
}

/// Counts per response code (`0`–`999`; anything larger is not a valid status and is rejected
/// by the parser).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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

/// Adds `n` records of layout `kind` to the aggregate's per-layout counts.
#[inline]
pub(super) fn count_format(formats: &mut Vec<(FormatKind, u64)>, kind: FormatKind, n: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
