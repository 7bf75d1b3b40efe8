//! The upstreams an aggregate counts: their statistics ([`UpstreamStats`]), the fast
//! per-record lookup of an upstream by (cluster, workload) ([`PairIndex`], backed by the
//! parent's key map), and the workload an inbound cluster is told apart by ([`workload_of`]).
//! Uses `super::stats`; the parent owns the upstream list and decides when to create or fold one.

use hashbrown::HashTable;

use crate::classify::Cause;

use super::stats::{CodeCounts, FlagCounts, Latency};

/// Statistics of one upstream cluster.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UpstreamStats {
    pub name: Box<[u8]>,
    /// For inbound clusters: the workload whose sidecar logged them (inbound clusters of
    /// different workloads share names like `inbound|8080||`).
    pub workload: Option<Box<[u8]>>,
    /// The rank of its key (see `super::bounds`); 0 for `-` and `(other)`, which no cap folds.
    pub rank: u64,
    pub requests: u64,
    pub failed: u64,
    pub codes: CodeCounts,
    pub flags: FlagCounts,
    pub causes: [u64; Cause::COUNT],
    pub duration: Latency,
    pub upstream_service_time: Latency,
}

impl UpstreamStats {
    pub(super) fn new(name: &[u8], workload: Option<&[u8]>) -> UpstreamStats {
        UpstreamStats {
            name: name.into(),
            workload: workload.map(Into::into),
            rank: 0,
            requests: 0,
            failed: 0,
            codes: CodeCounts::default(),
            flags: FlagCounts::default(),
            causes: [0; Cause::COUNT],
            duration: Latency::default(),
            upstream_service_time: Latency::default(),
        }
    }

    pub(super) fn merge(&mut self, o: &UpstreamStats) {
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

/// Upstream indices by a hash of (cluster, workload) ([`pair_hash`]); each hit is confirmed
/// against the upstream's own name and workload. Answers nearly every record without building
/// the `cluster \0 workload` key of `Aggregate::index` and hashing it byte by byte. Exact: an
/// upstream's own key always maps to it in `index` (an upstream is only created together with
/// its key, and only when the key is absent), so an upstream with the same name and workload is
/// the one `index` gives. Lookups it cannot answer (new, folded, merged-in upstreams not looked
/// up since) go to `index`, and the parent adds the upstream found when it matches.
#[derive(Debug, Clone, Default)]
pub(super) struct PairIndex(HashTable<u32>);

impl PairIndex {
    #[inline]
    pub(super) fn get(
        &self,
        h: u64,
        upstreams: &[UpstreamStats],
        cluster: &[u8],
        workload: Option<&[u8]>,
    ) -> Option<u32> {
        let is_it = |&i: &u32| {
            let up = &upstreams[i as usize];
            *up.name == *cluster && up.workload.as_deref() == workload
        };
        self.0.find(h, is_it).copied()
    }

    /// Adds upstream `i` (not present yet) under hash `h`.
    pub(super) fn insert(&mut self, h: u64, i: u32, upstreams: &[UpstreamStats]) {
        self.0.insert_unique(h, i, |&j| {
            let up = &upstreams[j as usize];
            pair_hash(&up.name, up.workload.as_deref())
        });
    }
}

/// The hash [`PairIndex`] files an upstream under. Every hit is confirmed byte for byte, so the
/// hash only has to tell names apart in practice: the length and three words, after Istio's
/// `outbound|`/`inbound|` prefix (port, subset), in the middle (service, namespace) and at the
/// end. Hashing every byte cost as much as the map lookup it replaces.
#[inline]
pub(super) fn pair_hash(cluster: &[u8], workload: Option<&[u8]>) -> u64 {
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
    // Spread the high bits into the low ones, which pick the slot (the table's tag is the top
    // seven).
    let h = h.wrapping_mul(K);
    h ^ (h >> 29)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_from_pod_names() {
        assert_eq!(workload_of(b"httpbin-8cb97b8f4-9dk9p"), b"httpbin");
        assert_eq!(workload_of(b"istio-ingressgateway-7d4f8b9c6-x2x9z"), b"istio-ingressgateway");
        assert_eq!(workload_of(b"fluentd-x7k2p"), b"fluentd");
        assert_eq!(workload_of(b"web-0"), b"web-0");
        assert_eq!(workload_of(b"plain"), b"plain");
    }
}
