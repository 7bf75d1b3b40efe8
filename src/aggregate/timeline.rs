//! Requests and failures by cause over the log's own time (the records' start times), for the
//! HTML report's chart (`crate::report::html`). Kept only when a report asks for it
//! (`PipelineConfig::timeline`): off, it costs one branch per record.
//!
//! Buckets are epoch-aligned, of one width from [`WIDTHS`] (each a multiple of the one before,
//! so a bucket of a wider width is a union of whole narrower ones), and sparse: only those with
//! records exist, at most [`MAX_BUCKETS`]. Past that, the width grows to the next one and the
//! buckets are merged. The width a state ends with is the narrowest at which its records fit in
//! [`MAX_BUCKETS`] buckets (it only grows when they do not, and a wider width never needs more
//! buckets), and [`Timeline::merge`] takes the wider of two and grows from there: the narrowest
//! at which the union fits. So the result is the same however the records were split between
//! workers, as every output must be. `super::Aggregate` owns one per worker.

use crate::classify::Cause;
use crate::record::parse_rfc3339_ms;

/// Bucket widths in seconds: 1 s … 1 week, each dividing the next.
pub const WIDTHS: [i64; 14] =
    [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800];

/// Most buckets a timeline holds (a chart's columns).
pub const MAX_BUCKETS: usize = 240;

/// One bucket's counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bucket {
    /// Its start, in seconds since the epoch (a multiple of the width).
    pub start: i64,
    pub requests: u64,
    pub failed: [u64; Cause::COUNT],
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    /// Index into [`WIDTHS`].
    width: usize,
    /// Sorted by start.
    buckets: Vec<Bucket>,
    /// The last start time's second (its first 19 bytes, `YYYY-MM-DDTHH:MM:SS`) and where its
    /// bucket is: logs are in time order, so most records repeat it and skip the date parsing.
    last: Option<([u8; 19], usize)>,
    /// Records without a start time that could be read: not in any bucket.
    pub untimed: u64,
}

impl Timeline {
    /// The bucket width in seconds.
    pub fn width_s(&self) -> i64 {
        WIDTHS[self.width]
    }

    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Whether a loaded timeline holds together (`super::saved`): an index out of range would
    /// panic on the next record or read.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.width >= WIDTHS.len() {
            return Err(format!("a timeline width {} of {}", self.width, WIDTHS.len()));
        }
        if self.last.is_some_and(|(_, i)| i >= self.buckets.len()) {
            return Err("a timeline's last bucket out of range".into());
        }
        if self.buckets.windows(2).any(|w| w[0].start >= w[1].start) {
            return Err("a timeline out of order".into());
        }
        Ok(())
    }

    /// Counts one record that started at `start` (as logged), failed with `cause` if any.
    #[inline]
    pub fn add(&mut self, start: Option<&[u8]>, cause: Option<Cause>) {
        let Some(t) = start else {
            self.untimed += 1;
            return;
        };
        let i = match (&self.last, t.get(..19)) {
            (Some((second, i)), Some(head)) if head == second && t.last() == Some(&b'Z') => *i,
            _ => match self.index_of(t) {
                Some(i) => i,
                None => {
                    self.untimed += 1;
                    return;
                }
            },
        };
        let b = &mut self.buckets[i];
        b.requests += 1;
        if let Some(c) = cause {
            b.failed[c as usize] += 1;
        }
    }

    /// The bucket of start time `t`, made if new (the width grown if that makes too many);
    /// remembered for the next record of the same second.
    #[inline(never)]
    fn index_of(&mut self, t: &[u8]) -> Option<usize> {
        let ms = parse_rfc3339_ms(t)?;
        let second = ms.div_euclid(1000);
        let i = self.bucket_for(second);
        // Only a time whose first 19 bytes are its second in UTC can be matched by them: an
        // offset (`+02:00`) or a sub-second field of another layout still parses, uncached.
        self.last = match t.get(..19) {
            Some(head) if t.get(19..).is_some_and(|rest| rest.ends_with(b"Z")) => {
                Some((head.try_into().expect("19 bytes"), i))
            }
            _ => None,
        };
        Some(i)
    }

    fn bucket_for(&mut self, second: i64) -> usize {
        let start = second - second.rem_euclid(self.width_s());
        match self.buckets.binary_search_by_key(&start, |b| b.start) {
            Ok(i) => i,
            Err(i) => {
                self.buckets.insert(i, Bucket { start, requests: 0, failed: [0; Cause::COUNT] });
                if self.buckets.len() <= MAX_BUCKETS {
                    return i;
                }
                self.fit(self.width + 1);
                let start = second - second.rem_euclid(self.width_s());
                self.buckets.binary_search_by_key(&start, |b| b.start).expect("the record's bucket")
            }
        }
    }

    /// Re-buckets at width `at` or wider, the narrowest at which at most [`MAX_BUCKETS`] remain.
    fn fit(&mut self, at: usize) {
        self.last = None;
        let mut width = at.max(self.width).min(WIDTHS.len() - 1);
        loop {
            let w = WIDTHS[width];
            let mut merged: Vec<Bucket> = Vec::with_capacity(self.buckets.len());
            for b in &self.buckets {
                let start = b.start - b.start.rem_euclid(w);
                match merged.last_mut() {
                    Some(m) if m.start == start => {
                        m.requests += b.requests;
                        for (x, y) in m.failed.iter_mut().zip(&b.failed) {
                            *x += y;
                        }
                    }
                    _ => merged.push(Bucket { start, ..b.clone() }),
                }
            }
            if merged.len() <= MAX_BUCKETS || width == WIDTHS.len() - 1 {
                self.width = width;
                self.buckets = merged;
                return;
            }
            width += 1;
        }
    }

    /// Folds another worker's timeline in: the narrowest width at which both fit.
    pub fn merge(&mut self, mut o: Timeline) {
        self.untimed += o.untimed;
        let width = self.width.max(o.width);
        if o.width < width {
            o.fit(width);
        }
        let mine = std::mem::take(&mut self.buckets);
        let mut all = Vec::with_capacity(mine.len() + o.buckets.len());
        let (mut a, mut b) = (mine.into_iter().peekable(), o.buckets.into_iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.start <= y.start => all.push(a.next().expect("peeked")),
                (Some(_), Some(_)) | (None, Some(_)) => all.push(b.next().expect("peeked")),
                (Some(_), None) => all.push(a.next().expect("peeked")),
                (None, None) => break,
            }
        }
        self.buckets = all;
        // Equal starts (and, at a wider width, the narrower side's buckets) are merged here.
        self.fit(width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> String {
        crate::record::format_epoch_ms(second * 1000)
    }

    fn add_all(t: &mut Timeline, seconds: &[i64]) {
        for &s in seconds {
            // Whether it failed goes with the record, whichever worker reads it.
            let cause = (s % 3 == 0).then_some(Cause::RouteTimeout);
            t.add(Some(at(s).as_bytes()), cause);
        }
    }

    /// A week of records at irregular times: any split between workers, merged in any order,
    /// gives the one-pass timeline.
    #[test]
    fn a_split_merges_to_the_one_pass_timeline() {
        let base = 1_764_000_000;
        let seconds: Vec<i64> = (0..20_000i64).map(|i| base + (i * i * 7919) % (7 * 86_400)).collect();
        let mut one = Timeline::default();
        add_all(&mut one, &seconds);
        assert!(one.buckets.len() <= MAX_BUCKETS && one.width_s() > 1);
        for parts in [2usize, 3, 7] {
            let mut states: Vec<Timeline> = (0..parts).map(|_| Timeline::default()).collect();
            for (i, chunk) in seconds.chunks(97).enumerate() {
                add_all(&mut states[(i * 31) % parts], chunk);
            }
            // Skewed: all of one part's records in a quiet hour, so its width stays narrow.
            let mut merged = states.pop().unwrap();
            while let Some(s) = states.pop() {
                merged.merge(s);
            }
            assert_eq!(merged.width_s(), one.width_s(), "{parts} parts");
            assert!(merged.buckets == one.buckets, "{parts} parts: the buckets differ");
        }
        let total: u64 = one.buckets.iter().map(|b| b.requests).sum();
        assert_eq!(total, seconds.len() as u64);
    }

    #[test]
    fn a_narrow_worker_merged_into_a_wide_one() {
        let mut wide = Timeline::default();
        add_all(&mut wide, &(0..1000).map(|i| 1_764_000_000 + i * 60).collect::<Vec<_>>());
        let mut narrow = Timeline::default();
        add_all(&mut narrow, &[1_764_000_030, 1_764_000_031]);
        assert_eq!(narrow.width_s(), 1);
        let mut both = Timeline::default();
        add_all(&mut both, &(0..1000).map(|i| 1_764_000_000 + i * 60).collect::<Vec<_>>());
        add_all(&mut both, &[1_764_000_030, 1_764_000_031]);
        wide.merge(narrow);
        assert_eq!(wide.width_s(), both.width_s());
        assert!(wide.buckets == both.buckets);
    }

    #[test]
    fn times_that_cannot_be_read_are_counted_apart() {
        let mut t = Timeline::default();
        t.add(None, None);
        t.add(Some(b"yesterday"), Some(Cause::AppError));
        t.add(Some(b"2026-11-25T02:30:26.681Z"), Some(Cause::AppError));
        t.add(Some(b"2026-11-25T02:30:26.999Z"), None);
        t.add(Some(b"2026-11-25T04:30:26.100+02:00"), None);
        assert_eq!(t.untimed, 2);
        assert_eq!(t.buckets.len(), 1);
        assert_eq!(t.buckets[0].requests, 3);
        assert_eq!(t.buckets[0].failed[Cause::AppError as usize], 1);
    }
}
