//! Plain value types of the summary, shared by the summary and its findings: counts in a
//! documented order, latency percentiles, and how times and durations are written. A leaf: it
//! depends on nothing else in the summary.

pub use crate::record::format_epoch_ms;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A map serialised in insertion order (JSON objects with a stable, meaningful key order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(pub Vec<(String, u64)>);

impl Counts {
    /// The entries with a count, in the given order.
    pub fn nonzero<const N: usize>(entries: [(&str, u64); N]) -> Counts {
        Counts(entries.into_iter().filter(|(_, n)| *n > 0).map(|(k, n)| (k.to_string(), n)).collect())
    }

    pub fn get(&self, key: &str) -> u64 {
        self.0.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
    }
}

impl Serialize for Counts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

impl Percentiles {
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        // hdrhistogram reports the highest value equivalent to the bucket; report the bucket's
        // representative value so that identical inputs give identical, readable figures.
        let q = |p: f64| Some(h.highest_equivalent(h.value_at_quantile(p)).min(h.max()));
        Percentiles { count: h.len(), p50: q(0.50), p90: q(0.90), p99: q(0.99), max: Some(h.max()) }
    }
}

/// `15000` → `15.0 s`, `250` → `250 ms`.
pub fn human_ms(ms: u64) -> String {
    if ms >= 1000 { format!("{:.1} s", ms as f64 / 1000.0) } else { format!("{ms} ms") }
}
