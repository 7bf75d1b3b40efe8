//! Sliding windows for live mode: request and failure counts in 5-second buckets over the last
//! five minutes, per upstream and overall. Time is the record's own `%START_TIME%` when it has
//! one (so replaying an archive gives the rates it had), arrival time otherwise and when the
//! record's time is later than its arrival (a clock ahead, a year 2999). Owned by
//! the parent's `Live` (only when live), read by `crate::summary`.

/// Width of one bucket.
pub const BUCKET_MS: i64 = 5_000;
/// Buckets kept: five minutes.
pub const BUCKETS: usize = 60;

/// Counts per bucket; a slot is reused when time moves past it.
#[derive(Debug, Clone)]
pub struct Ring {
    ids: [i64; BUCKETS],
    requests: [u32; BUCKETS],
    failed: [u32; BUCKETS],
}

impl Default for Ring {
    fn default() -> Self {
        Ring { ids: [i64::MIN; BUCKETS], requests: [0; BUCKETS], failed: [0; BUCKETS] }
    }
}

impl Ring {
    #[inline]
    pub fn add(&mut self, t_ms: i64, failed: bool) {
        let id = t_ms.div_euclid(BUCKET_MS);
        let slot = id.rem_euclid(BUCKETS as i64) as usize;
        if self.ids[slot] != id {
            if self.ids[slot] > id {
                // Older than what the slot already holds: outside every window.
                return;
            }
            self.ids[slot] = id;
            self.requests[slot] = 0;
            self.failed[slot] = 0;
        }
        self.requests[slot] = self.requests[slot].saturating_add(1);
        self.failed[slot] = self.failed[slot].saturating_add(failed as u32);
    }

    pub fn merge(&mut self, o: &Ring) {
        for slot in 0..BUCKETS {
            match self.ids[slot].cmp(&o.ids[slot]) {
                std::cmp::Ordering::Equal => {
                    self.requests[slot] = self.requests[slot].saturating_add(o.requests[slot]);
                    self.failed[slot] = self.failed[slot].saturating_add(o.failed[slot]);
                }
                std::cmp::Ordering::Less => {
                    self.ids[slot] = o.ids[slot];
                    self.requests[slot] = o.requests[slot];
                    self.failed[slot] = o.failed[slot];
                }
                std::cmp::Ordering::Greater => {}
            }
        }
    }

    /// (requests, failed) in the `span_ms` ending at `now_ms` (whole buckets).
    pub fn window(&self, now_ms: i64, span_ms: i64) -> (u64, u64) {
        let last = now_ms.div_euclid(BUCKET_MS);
        let first = last - (span_ms / BUCKET_MS) + 1;
        let mut r = 0u64;
        let mut f = 0u64;
        for slot in 0..BUCKETS {
            if (first..=last).contains(&self.ids[slot]) {
                r += self.requests[slot] as u64;
                f += self.failed[slot] as u64;
            }
        }
        (r, f)
    }
}

/// Figures of one window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WindowFigures {
    pub requests: u64,
    pub failed: u64,
    /// Requests per second over the window (or over the time seen, if shorter).
    pub rps: f64,
    /// `failed / requests`, 0–1.
    pub error_rate: f64,
}

impl WindowFigures {
    pub fn new(requests: u64, failed: u64, seconds: f64) -> WindowFigures {
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        WindowFigures {
            requests,
            failed,
            rps: if seconds > 0.0 { round(requests as f64 / seconds) } else { 0.0 },
            error_rate: if requests > 0 { round(failed as f64 / requests as f64) } else { 0.0 },
        }
    }
}

/// The three windows shown live.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Windows {
    pub last_1m: WindowFigures,
    pub last_5m: WindowFigures,
    pub since_start: WindowFigures,
}

impl Windows {
    /// `first_ms`..`now_ms` is the time seen; `total` the since-start (requests, failed).
    pub fn of(ring: &Ring, now_ms: i64, first_ms: i64, total: (u64, u64)) -> Windows {
        let seen_s = ((now_ms - first_ms).max(0) as f64 / 1000.0).max(1.0);
        let fig = |span_ms: i64| {
            let (r, f) = ring.window(now_ms, span_ms);
            WindowFigures::new(r, f, (span_ms as f64 / 1000.0).min(seen_s))
        };
        Windows {
            last_1m: fig(60_000),
            last_5m: fig(300_000),
            since_start: WindowFigures::new(total.0, total.1, seen_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_by_record_time() {
        let mut r = Ring::default();
        let t0 = 1_700_000_000_000i64;
        for s in 0..400 {
            r.add(t0 + s * 1000, s % 10 == 0);
        }
        let now = t0 + 399_000;
        let (req_1m, fail_1m) = r.window(now, 60_000);
        assert_eq!((req_1m, fail_1m), (60, 6));
        let (req_5m, _) = r.window(now, 300_000);
        assert_eq!(req_5m, 300);
        // A record older than the ring is ignored, not counted in a newer slot.
        r.add(t0, true);
        assert_eq!(r.window(now, 300_000).0, 300);
    }

    #[test]
    fn rings_merge_by_bucket() {
        let t0 = 1_700_000_000_000i64;
        let mut a = Ring::default();
        let mut b = Ring::default();
        a.add(t0, false);
        b.add(t0 + 1, true);
        b.add(t0 + 400_000, false);
        a.merge(&b);
        assert_eq!(a.window(t0 + 400_000, 300_000), (1, 0));
        assert_eq!(a.window(t0 + 1, 60_000), (2, 1));
    }
}
