//! What keeps an aggregate's memory bounded whatever the input, with one answer at any thread
//! count: the rules deciding which upstreams and failure groups are tracked apart and which
//! are folded into `(other)`, and the thresholds workers share so that they stop tracking what
//! cannot be kept. The parent (`super::Aggregate`) applies them when it meets a new upstream or
//! group, when it merges, and when it grows past a cap, and spills a worker's whole state into
//! the run's [`Shared`] one when the worker's share of the caps is used up.
//!
//! The rule is a bottom-k sample on a hash of the name: the `max_clusters` upstream keys with
//! the smallest [`rank`] (ties broken by the key's bytes) are kept, and the `MAX_GROUPS`
//! (cause, upstream key, reporter) triples with the smallest [`group_rank`]. Whether a name is
//! kept depends on the name and on the set of names in the input, never on which worker saw it
//! or in which order states merged: a name among the smallest of the whole input is among the
//! smallest of any part of it, so no partial state ever folds it, and everything folded adds up
//! the same in `(other)`. Any state that has seen `k` names knows that a name ranked above its
//! `k`-th smallest cannot be kept, so it can drop such names at once and tell the others
//! ([`Shared`]). Counts by volume would keep the busiest names instead, but no bounded state
//! can know them exactly, and an estimate would change with the thread count.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Aggregate;
use crate::classify::{Cause, Reporter};

/// Most failure groups (cause × upstream × reporter) tracked apart; the failures of the others
/// are counted in the group of the same cause and reporter at `(other)`. A finding list longer
/// than this is not read; the cap bounds memory where the cluster cap alone would allow one
/// group per cause and reporter for each of thousands of upstreams.
pub const MAX_GROUPS: usize = 4096;

/// Longest upstream cluster name (and inbound workload) kept, in bytes. Istio's longest names
/// (`outbound|65535|subset|a 253-byte host`) fit; longer ones are cut here, so names that
/// share these first bytes are counted as one.
pub const MAX_NAME: usize = 512;

/// Room over a cap before a state prunes itself back to it: pruning rebuilds the state, so it is
/// done once per many new names rather than for each.
pub fn slack(cap: usize) -> usize {
    (cap / 4).max(16)
}

/// The rank of an upstream key (`cluster` or `cluster \0 workload`). SipHash with fixed keys:
/// the same in every run and thread, and hard to aim at (many crafted names with one rank would
/// all tie, and ties are broken by bytes, which keeps the cap but takes a sort by bytes).
#[inline]
pub fn rank(key: &[u8]) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

/// The rank of a (cause, upstream, reporter) triple, from its upstream's rank.
#[inline]
pub fn group_rank(upstream: u64, cause: Cause, reporter: Reporter) -> u64 {
    // A full-avalanche mix (murmur3's finaliser) of the upstream's rank and the two small
    // numbers: triples of one upstream spread over the whole range like upstreams do.
    let mut h = upstream ^ ((cause as u64) << 8 | reporter as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// What the states of one run share: the cuts every state has published (a rank above one of
/// them cannot be kept; they only ever go down), and the states workers spilled, merged. Each
/// worker holds at most its share of the caps (one of `parts`) and spills its whole state here
/// when it would hold more, so that memory does not grow with the thread count. Locked once per
/// spill (only inputs with thousands of upstreams spill at all) and by snapshots.
#[derive(Debug)]
pub struct Shared {
    upstream: AtomicU64,
    group: AtomicU64,
    pub parts: usize,
    spilled: Mutex<Option<Aggregate>>,
}

impl Shared {
    pub fn new(parts: usize) -> Shared {
        Shared {
            upstream: AtomicU64::new(u64::MAX),
            group: AtomicU64::new(u64::MAX),
            parts: parts.max(1),
            spilled: Mutex::new(None),
        }
    }

    /// Merges a worker's state into the spilled one.
    pub fn spill(&self, agg: Aggregate) {
        let mut merged = self.spilled.lock().unwrap_or_else(|p| p.into_inner());
        match merged.as_mut() {
            Some(m) => m.merge_within_slack(agg),
            None => *merged = Some(agg),
        }
    }

    /// The spilled state, taken (once every worker has ended).
    pub fn take(&self) -> Option<Aggregate> {
        self.spilled.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// A copy of the spilled state (a live snapshot).
    pub fn copy(&self) -> Option<Aggregate> {
        self.spilled.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    #[inline]
    pub fn upstream(&self) -> u64 {
        self.upstream.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn group(&self) -> u64 {
        self.group.load(Ordering::Relaxed)
    }

    pub fn publish(&self, upstream: u64, group: u64) {
        self.upstream.fetch_min(upstream, Ordering::Relaxed);
        self.group.fetch_min(group, Ordering::Relaxed);
    }
}

/// The smallest distinct group ranks seen, at most `cap` of them (sorted): the `cap`-th is the
/// cut above which a triple cannot be among the kept ones.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RankSet {
    ranks: Vec<u64>,
}

impl RankSet {
    /// The rank above which nothing can be kept (`u64::MAX` while fewer than `cap` are known).
    #[inline]
    pub fn cut(&self, cap: usize) -> u64 {
        if self.ranks.len() >= cap { self.ranks[cap - 1] } else { u64::MAX }
    }

    /// Notes a rank (a no-op above the cut or when known).
    pub fn insert(&mut self, r: u64, cap: usize) {
        if r > self.cut(cap) {
            return;
        }
        if let Err(at) = self.ranks.binary_search(&r) {
            self.ranks.insert(at, r);
            self.ranks.truncate(cap);
        }
    }

    pub fn merge(&mut self, o: &RankSet, cap: usize) {
        let mut all = Vec::with_capacity(self.ranks.len() + o.ranks.len());
        all.extend_from_slice(&self.ranks);
        all.extend_from_slice(&o.ranks);
        all.sort_unstable();
        all.dedup();
        all.truncate(cap);
        self.ranks = all;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_set_keeps_the_smallest_distinct_whatever_the_order() {
        let values: Vec<u64> = (0..200u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 3).collect();
        let mut a = RankSet::default();
        for &v in &values {
            a.insert(v, 10);
            a.insert(v, 10);
        }
        let (mut b, mut c) = (RankSet::default(), RankSet::default());
        for (i, &v) in values.iter().rev().enumerate() {
            if i % 3 == 0 { b.insert(v, 10) } else { c.insert(v, 10) }
        }
        b.merge(&c, 10);
        let mut want = values.clone();
        want.sort_unstable();
        want.truncate(10);
        assert_eq!(a.ranks, want);
        assert_eq!(b.ranks, want);
        assert_eq!(a.cut(10), want[9]);
        assert_eq!(a.cut(11), u64::MAX);
    }

    #[test]
    fn ranks_are_stable_and_spread() {
        assert_eq!(rank(b"outbound|80||a"), rank(b"outbound|80||a"));
        assert_ne!(rank(b"outbound|80||a"), rank(b"outbound|80||b"));
        let g: Vec<u64> = Cause::ALL
            .iter()
            .flat_map(|&c| Reporter::ALL.iter().map(move |&r| group_rank(7, c, r)))
            .collect();
        let mut d = g.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), g.len());
    }
}
