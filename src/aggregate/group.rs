//! A group of failures: one cause at one upstream, logged by one kind of proxy ([`Group`]),
//! with the evidence a finding quotes (signatures of field values, sample ids, pods, hosts).
//! The parent files each failure into its group; `crate::summary::findings` turns groups into
//! findings. Uses `super::stats` (latency) and `super::sketch` (bounded samples).

use crate::classify::{Cause, Classification, Domain, Reporter};
use crate::record::Record;
use crate::response_flags::{Flag, ResponseFlags};
use crate::source::SourceMeta;

use super::Position;
use super::sketch::{BottomK, Clipped, Earliest, ExactValues};
use super::stats::Latency;

/// The field values behind a group of failures (one signature), each kept to its first
/// `SAMPLE_VALUE_BYTES` (the signature hashes them whole).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EvidenceSample {
    pub code: Option<u16>,
    pub flags: ResponseFlags,
    pub details: Clipped,
    pub transport_failure: Clipped,
    pub termination: Clipped,
    pub route: Clipped,
}

/// FxHash of `parts` (each followed by its length) and `extra`: evidence signatures and the
/// request-id hashes of [`BottomK`]. Written out rather than taken from `rustc_hash` (which the
/// tables use) because its values are part of the report: a saturated sketch keeps the ids
/// with the smallest hashes, so the "same requests" estimates follow the hash function, and a
/// dependency update must not change them (`fx_hash_values_are_pinned`).
pub(super) fn fx_hash(parts: &[&[u8]], extra: u64) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    #[inline]
    fn mix(h: u64, w: u64) -> u64 {
        (h.rotate_left(5) ^ w).wrapping_mul(K)
    }
    let mut h = 0;
    for p in parts {
        let mut chunks = p.chunks_exact(8);
        for c in &mut chunks {
            h = mix(h, u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            h = mix(h, b as u64);
        }
        h = mix(h, p.len() as u64);
    }
    mix(h, extra)
}

/// Most distinct evidence signatures kept per group; the rest are only counted.
const MAX_SIGNATURES: usize = 6;

/// (namespace, pod); the namespace is empty when unknown.
pub type NamespacedPod = (Clipped, Clipped);

/// Failures of one cause at one upstream, logged by one kind of proxy. Every value kept from
/// a log is a [`Clipped`] one: a group's size does not follow the length of log fields.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    pub request_ids: Earliest<Clipped, 3>,
    /// (namespace, pod) of the proxy that logged it, when known.
    pub pods: Earliest<NamespacedPod, 3>,
    pub authorities: Earliest<Clipped, 1>,
    /// The TLS SNI the proxy saw (Istio mTLS: `outbound_.<port>_.<subset>_.<fqdn>`).
    pub server_names: Earliest<Clipped, 1>,
    pub upstream_hosts: Earliest<Clipped, 3>,
    /// Where the proxy accepted the connection (for `filter_chain_not_found`: the server's
    /// pod IP and port, which clients see as their upstream host).
    pub local_addresses: Earliest<Clipped, 3>,
    /// Request ids, to find the same requests at other hops.
    pub ids: BottomK,
}

impl Group {
    pub(super) fn new(c: &Classification) -> Group {
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

    /// Moves every position kept `chunks` chunks later (see `super::saved`).
    pub(super) fn shift(&mut self, chunks: u64) {
        for (_, p, _, _) in &mut self.signatures {
            p.chunk += chunks;
        }
        self.request_ids.shift(chunks);
        self.pods.shift(chunks);
        self.authorities.shift(chunks);
        self.server_names.shift(chunks);
        self.upstream_hosts.shift(chunks);
        self.local_addresses.shift(chunks);
    }

    /// Every position kept, to `see`.
    pub(super) fn positions(&self, mut see: impl FnMut(Position)) {
        self.signatures.iter().for_each(|(_, p, _, _)| see(*p));
        self.request_ids.iter().for_each(|(p, _)| see(*p));
        self.pods.iter().for_each(|(p, _)| see(*p));
        self.authorities.iter().for_each(|(p, _)| see(*p));
        self.server_names.iter().for_each(|(p, _)| see(*p));
        self.upstream_hosts.iter().for_each(|(p, _)| see(*p));
        self.local_addresses.iter().for_each(|(p, _)| see(*p));
    }

    pub(super) fn add(&mut self, rec: &Record<'_>, pos: Position, source: &SourceMeta) {
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
        if self.signature_wanted(sig, pos) {
            let sample = EvidenceSample {
                code: rec.response_code,
                flags: rec.response_flags,
                details: Clipped::new(details),
                transport_failure: Clipped::new(tf),
                termination: Clipped::new(ctd),
                route: Clipped::new(route),
            };
            self.offer_signature(sig, pos, sample, 1);
        } else {
            self.count_signature(sig, pos, 1);
        }
        if let Some(id) = rec.request_id {
            self.ids.insert(fx_hash(&[id], 0));
            self.request_ids.offer_distinct(pos, |c| c.matches(id), || Clipped::new(id));
        }
        if let Some(sni) = rec.requested_server_name {
            if self.server_names.wants(pos) {
                self.server_names.offer(pos, Clipped::new(sni));
            }
        }
        if let Some(a) = rec.downstream_local_address {
            self.local_addresses.offer_distinct(pos, |c| c.matches(a), || Clipped::new(a));
        }
        let pod = rec.meta.pod.or(source.pod.as_deref());
        if let Some(pod) = pod {
            let ns = rec.meta.namespace.or(source.namespace.as_deref()).unwrap_or(b"");
            self.pods.offer_distinct(
                pos,
                |(n, p)| n.matches(ns) && p.matches(pod),
                || (Clipped::new(ns), Clipped::new(pod)),
            );
        }
        if let Some(a) = rec.authority {
            if self.authorities.wants(pos) {
                self.authorities.offer(pos, Clipped::new(a));
            }
        }
        if let Some(h) = rec.upstream_host {
            self.upstream_hosts.offer_distinct(pos, |c| c.matches(h), || Clipped::new(h));
        }
    }

    /// Whether a record of signature `sig` at `pos` brings a sample to keep: a signature not
    /// held yet that enters the kept set, or an earlier record of a held one.
    #[inline]
    fn signature_wanted(&self, sig: u64, pos: Position) -> bool {
        match self.signatures.iter().find(|s| s.0 == sig) {
            Some(s) => pos < s.1,
            None => self.signatures.len() < MAX_SIGNATURES || self.signatures.iter().any(|s| s.0 > sig),
        }
    }

    /// Counts `n` records of a signature whose sample is not needed (`signature_wanted` said no).
    #[inline]
    fn count_signature(&mut self, sig: u64, pos: Position, n: u64) {
        match self.signatures.iter_mut().find(|s| s.0 == sig) {
            Some(s) => {
                s.3 += n;
                debug_assert!(pos >= s.1);
            }
            None => self.other_signatures += n,
        }
    }

    /// Counts `n` records of a signature with the sample of its earliest, `pos`. The kept
    /// signatures are the `MAX_SIGNATURES` smallest hashes (the others only counted): a rule on
    /// the signature alone, so the same ones are kept, with the same counts and samples, however
    /// the records were spread over workers and in whatever order the states merge.
    fn offer_signature(&mut self, sig: u64, pos: Position, sample: EvidenceSample, n: u64) {
        if let Some(s) = self.signatures.iter_mut().find(|s| s.0 == sig) {
            s.3 += n;
            if pos < s.1 {
                s.1 = pos;
                s.2 = sample;
            }
            return;
        }
        self.signatures.push((sig, pos, sample, n));
        if self.signatures.len() > MAX_SIGNATURES {
            let (at, _) = self.signatures.iter().enumerate().max_by_key(|(_, s)| s.0).expect("not empty");
            let evicted = self.signatures.swap_remove(at);
            self.other_signatures += evicted.3;
        }
    }

    pub(super) fn merge(&mut self, o: Group) {
        self.count += o.count;
        self.with_retries += o.with_retries;
        self.durations.merge(&o.durations);
        self.exact.merge(&o.exact);
        // Lower domains first: a group of mixed domains (a gateway's protocol errors with and
        // without `DPE`) names the same one whichever worker saw which record.
        self.domain = self.domain.min(o.domain);
        self.other_signatures += o.other_signatures;
        for (sig, pos, sample, n) in o.signatures {
            if self.signature_wanted(sig, pos) {
                self.offer_signature(sig, pos, sample, n);
            } else {
                self.count_signature(sig, pos, n);
            }
        }
        self.request_ids.merge_distinct(o.request_ids);
        self.pods.merge_distinct(o.pods);
        self.authorities.merge(o.authorities);
        self.server_names.merge(o.server_names);
        self.upstream_hosts.merge_distinct(o.upstream_hosts);
        self.local_addresses.merge_distinct(o.local_addresses);
        self.ids.merge(&o.ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of the `FxHasher` this replaced (word by word, then byte by byte, each part's
    /// length after it): the sketches, and so the reports, depend on them.
    #[test]
    fn fx_hash_values_are_pinned() {
        assert_eq!(fx_hash(&[b"84961386-6d84-929d-98bd-c5aee93b5c88"], 0), 0x967c_3979_7657_4efd);
        assert_eq!(
            fx_hash(&[b"response_timeout", b"", b"", b"default"], 504 ^ (1 << 20)),
            0xc44e_9690_5488_79b4
        );
        assert_eq!(fx_hash(&[], 0), 0);
        assert_eq!(fx_hash(&[b""], 7), 0x3a69_4c02_11ee_4a13);
    }
}
