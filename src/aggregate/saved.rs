//! An [`Aggregate`] as a state file holds it ([`Saved`], written by `crate::state`): every
//! count, histogram, sketch, sample and cut a summary or a later merge reads, without what is
//! rebuilt on load (the upstream lookups, the run's shared cuts) or what batch mode never has
//! (live windows). [`Aggregate::shift`] moves a loaded state after the inputs of the states
//! before it, so that merging the states of a split gives what one pass over the whole gives.

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use crate::classify::{Cause, Domain, Reporter};
use crate::format::{ErrorKind, SkipReason};
use crate::record::FormatKind;

use super::bounds::RankSet;
use super::sketch::Earliest;
use super::timeline::Timeline;
use super::{
    Aggregate, CodeCounts, FlagCounts, Group, MalformedSample, StartKey, UpstreamStats, upstream_key,
};

/// The saved form. Arrays are lists here, checked against this build's lengths on load.
#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    max_clusters: usize,
    max_groups: usize,
    records: u64,
    filtered_out: u64,
    partial: u64,
    failed: u64,
    skipped: Vec<u64>,
    malformed: u64,
    malformed_by_kind: Vec<(ErrorKind, u64)>,
    formats: Vec<(FormatKind, u64)>,
    codes: CodeCounts,
    flags: FlagCounts,
    causes: Vec<u64>,
    domains: Vec<u64>,
    reporters: Vec<u64>,
    upstreams: Vec<UpstreamStats>,
    folded_records: u64,
    up_cut: Option<(u64, Box<[u8]>)>,
    group_ranks: RankSet,
    groups: Vec<((Cause, u32, Reporter), Group)>,
    malformed_samples: Earliest<MalformedSample, 5>,
    chunk_lines: Vec<(u64, u32, u64)>,
    numbered_lines: Vec<(u32, u64)>,
    first_start_ms: Option<i64>,
    last_start_ms: Option<i64>,
    first_raw: Option<[u8; 24]>,
    last_raw: Option<[u8; 24]>,
    timeline: Option<Timeline>,
}

/// Why a saved state cannot be taken back (a damaged or hand-made file: this build never
/// writes one).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

fn array<const N: usize>(v: Vec<u64>, what: &str) -> Result<[u64; N], Invalid> {
    let n = v.len();
    v.try_into().map_err(|_| Invalid(format!("{n} {what} counts where this version has {N}")))
}

impl Aggregate {
    /// The state as saved. Only for a state every worker was merged into (not live).
    pub fn to_saved(&self) -> Saved {
        let mut groups: Vec<_> = self.groups.iter().map(|(k, g)| (*k, g.clone())).collect();
        // The file is the same for the same state, whatever the map's order.
        groups.sort_by_key(|(k, _)| *k);
        let mut by_kind: Vec<_> = self.malformed_by_kind.iter().map(|(k, n)| (*k, *n)).collect();
        by_kind.sort_unstable();
        let mut numbered: Vec<_> = self.numbered_lines.iter().map(|(s, n)| (*s, *n)).collect();
        numbered.sort_unstable();
        Saved {
            max_clusters: self.max_clusters,
            max_groups: self.max_groups,
            records: self.records,
            filtered_out: self.filtered_out,
            partial: self.partial,
            failed: self.failed,
            skipped: self.skipped.to_vec(),
            malformed: self.malformed,
            malformed_by_kind: by_kind,
            formats: self.formats.clone(),
            codes: self.codes.clone(),
            flags: self.flags.clone(),
            causes: self.causes.to_vec(),
            domains: self.domains.to_vec(),
            reporters: self.reporters.to_vec(),
            upstreams: self.upstreams.clone(),
            folded_records: self.folded_records,
            up_cut: self.up_cut.clone(),
            group_ranks: self.group_ranks.clone(),
            groups,
            malformed_samples: self.malformed_samples.clone(),
            chunk_lines: self.chunk_lines.clone(),
            numbered_lines: numbered,
            first_start_ms: self.first_start_ms,
            last_start_ms: self.last_start_ms,
            first_raw: self.first_raw.bytes(),
            last_raw: self.last_raw.bytes(),
            timeline: self.timeline.as_deref().cloned(),
        }
    }

    /// The state back, with its lookups rebuilt; refused when it could not have been written
    /// by this build (an index out of range, a cap of 0).
    pub fn from_saved(s: Saved) -> Result<Aggregate, Invalid> {
        if s.max_clusters == 0 || s.max_groups == 0 {
            return Err(Invalid("a cap of 0".into()));
        }
        let mut a = Aggregate::new(s.max_clusters);
        a.max_groups = s.max_groups;
        a.records = s.records;
        a.filtered_out = s.filtered_out;
        a.partial = s.partial;
        a.failed = s.failed;
        a.skipped = array::<{ SkipReason::COUNT }>(s.skipped, "skip-reason")?;
        a.malformed = s.malformed;
        a.malformed_by_kind = s.malformed_by_kind.into_iter().collect();
        a.formats = s.formats;
        a.codes = s.codes;
        a.flags = s.flags;
        a.causes = array::<{ Cause::COUNT }>(s.causes, "cause")?;
        a.domains = array::<{ Domain::COUNT }>(s.domains, "domain")?;
        a.reporters = array::<{ Reporter::COUNT }>(s.reporters, "reporter")?;
        if a.failed > a.records || a.causes.iter().sum::<u64>() != a.failed {
            return Err(Invalid("failures that do not add up".into()));
        }
        let mut key = Vec::new();
        for up in s.upstreams {
            if up.failed > up.requests || up.causes.iter().sum::<u64>() != up.failed {
                return Err(Invalid("an upstream's failures that do not add up".into()));
            }
            upstream_key(&mut key, &up.name, up.workload.as_deref());
            if a.index.contains_key(key.as_slice()) {
                return Err(Invalid("an upstream listed twice".into()));
            }
            a.adopt_upstream(&key, up);
        }
        a.folded_records = s.folded_records;
        a.up_cut = s.up_cut;
        a.group_ranks = s.group_ranks;
        let n = a.upstreams.len();
        for ((cause, ui, reporter), g) in s.groups {
            if ui as usize >= n {
                return Err(Invalid(format!("a group of upstream {ui} of {n}")));
            }
            if g.with_retries > g.count || g.signatures.iter().any(|s| s.3 > g.count) {
                return Err(Invalid("a group's counts that do not add up".into()));
            }
            a.groups.insert((cause, ui, reporter), g);
        }
        a.malformed_samples = s.malformed_samples;
        a.chunk_lines = s.chunk_lines;
        a.numbered_lines =
            s.numbered_lines.into_iter().collect::<std::collections::HashMap<_, _, FxBuildHasher>>();
        a.first_start_ms = s.first_start_ms;
        a.last_start_ms = s.last_start_ms;
        a.first_raw = s.first_raw.map_or(StartKey::NONE_FIRST, |b| StartKey::of(&b));
        a.last_raw = s.last_raw.map_or(StartKey::NONE_LAST, |b| StartKey::of(&b));
        if let Some(t) = s.timeline {
            t.check().map_err(Invalid)?;
            a.timeline = Some(Box::new(t));
        }
        Ok(a)
    }

    /// Moves this state's inputs after `sources` inputs and `chunks` chunk numbers of the
    /// states before it: positions keep the order one pass over every input would give them
    /// (samples are the earliest by position), and line numbers stay per input.
    pub fn shift(&mut self, chunks: u64, sources: u32) {
        self.malformed_samples.shift(chunks);
        self.malformed_samples.for_each_mut(|s| s.source += sources);
        for g in self.groups.values_mut() {
            g.shift(chunks);
        }
        for (seq, source, _) in &mut self.chunk_lines {
            *seq += chunks;
            *source += sources;
        }
        self.numbered_lines = self.numbered_lines.drain().map(|(s, n)| (s + sources, n)).collect();
    }

    /// The largest chunk number this state holds a position or a line count of, plus one: where
    /// the next state's numbers may start.
    pub fn chunks_used(&self) -> u64 {
        let mut end = self.chunk_lines.iter().map(|&(seq, _, _)| seq + 1).max().unwrap_or(0);
        let mut see = |p: super::Position| end = end.max(p.chunk + 1);
        self.malformed_samples.iter().for_each(|(p, _)| see(*p));
        for g in self.groups.values() {
            g.positions(&mut see);
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Position;
    use crate::format::json::Scratch;
    use crate::format::parse_line;
    use crate::source::{InputInfo, SourceMeta};
    use crate::summary::Summary;

    const OK: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 200 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;
    const UT: &str = r#"[2020-11-25T21:26:33.409Z] "GET /slow HTTP/1.1" 504 UT response_timeout - "-" 0 24 15001 - "-" "curl/7.73.0-DEV" "aaaaaaaa-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#;

    /// An aggregate of `lines` from input `source`, one chunk per 2 lines from chunk `first`.
    fn of(lines: &[&str], source: u32, first: u64) -> Aggregate {
        let src = SourceMeta::default();
        let mut a = Aggregate::new(100);
        a.timeline = Some(Box::default());
        for (i, l) in lines.iter().enumerate() {
            let pos = Position { chunk: first + i as u64 / 2, line: i as u32 % 2 };
            match parse_line(l.as_bytes(), &Scratch::new()) {
                Ok(rec) => {
                    a.add_record(&rec, pos, &src);
                }
                Err(e) => a.add_malformed(e, l.as_bytes(), pos, source, 0),
            }
        }
        for c in 0..lines.len().div_ceil(2) as u64 {
            a.count_chunk(first + c, source, (lines.len() as u64 - 2 * c).min(2), 0);
        }
        a
    }

    fn report(a: &Aggregate) -> String {
        let inputs = vec![InputInfo::default(), InputInfo::default()];
        serde_json::to_string(&Summary::build(a, &inputs)).unwrap()
    }

    fn round_trip(a: &Aggregate) -> Aggregate {
        let bytes = postcard::to_stdvec(&a.to_saved()).unwrap();
        Aggregate::from_saved(postcard::from_bytes(&bytes).unwrap()).unwrap()
    }

    #[test]
    fn a_saved_state_reads_back_as_the_same_report() {
        let bad = OK.replace("\" 200 -", "\" 2x0 -");
        let a = of(&[OK, UT, &bad, UT, OK, &bad, UT], 0, 0);
        let back = round_trip(&a);
        assert_eq!(report(&back), report(&a));
        assert_eq!(back.chunks_used(), 4);
        // Latency in HdrHistogram's own form: the 15 s wall keeps its percentiles.
        let up = back.upstreams.iter().find(|u| u.requests == 5).unwrap();
        assert_eq!(up.duration.histogram().max(), a.upstreams[0].duration.histogram().max());
    }

    #[test]
    fn shifted_states_merge_as_one_pass_over_both_inputs() {
        let bad = OK.replace("\" 200 -", "\" 2x0 -");
        let (first, second) = ([OK, UT, &bad], [&bad as &str, UT, OK, UT]);
        let mut one = of(&first, 0, 0);
        one.merge(of(&second, 1, 2));
        // Each part alone, as its own run numbered it (from chunk 0, as input 0).
        let mut merged = round_trip(&of(&first, 0, 0));
        let mut later = round_trip(&of(&second, 0, 0));
        let used = merged.chunks_used();
        later.shift(used, 1);
        merged.merge(later);
        assert_eq!(report(&merged), report(&one));
        assert_ne!(report(&merged), {
            let mut unshifted = round_trip(&of(&first, 0, 0));
            unshifted.merge(round_trip(&of(&second, 0, 0)));
            report(&unshifted)
        });
    }

    #[test]
    fn a_state_pointing_out_of_range_is_refused() {
        let a = of(&[UT], 0, 0);
        let mut saved = a.to_saved();
        saved.groups[0].0.1 = 7;
        assert!(Aggregate::from_saved(saved).unwrap_err().to_string().contains("upstream 7 of 1"));
        let mut saved = a.to_saved();
        saved.causes.pop();
        assert!(Aggregate::from_saved(saved).is_err());
        let mut saved = a.to_saved();
        saved.upstreams.push(saved.upstreams[0].clone());
        assert!(Aggregate::from_saved(saved).unwrap_err().to_string().contains("twice"));
    }
}

#[cfg(test)]
mod hostile {
    use super::*;
    use crate::source::InputInfo;
    use crate::summary::Summary;

    /// Bytes of a real state changed one at a time: each either fails to load or loads into a
    /// state that summarises and merges without a panic (the zstd checksum stops damage; this is
    /// what a hand-made file could do).
    #[test]
    fn a_state_changed_anywhere_loads_cleanly_or_is_refused() {
        let log =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sample-logs/real-timeout-15s.log"))
                .unwrap();
        let scratch = crate::format::json::Scratch::new();
        let mut a = Aggregate::new(100);
        a.timeline = Some(Box::default());
        let src = crate::source::SourceMeta::default();
        for (i, l) in log.lines().enumerate() {
            let pos = crate::aggregate::Position { chunk: 0, line: i as u32 };
            match crate::format::parse_line(l.as_bytes(), &scratch) {
                Ok(rec) => {
                    a.add_record(&rec, pos, &src);
                }
                Err(e) => a.add_malformed(e, l.as_bytes(), pos, 0, 0),
            }
        }
        a.count_chunk(0, 0, log.lines().count() as u64, 0);
        let bytes = postcard::to_stdvec(&a.to_saved()).unwrap();
        let inputs = vec![InputInfo::default()];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut loaded = 0;
        // 160 changes at random places (a debug build summarises slowly; each run takes others).
        for i in 0..160 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed >> 16) as usize % bytes.len();
            let mut b = bytes.clone();
            b[at] = match i % 4 {
                0 => 0,
                1 => 0xff,
                2 => b[at].wrapping_add(1),
                _ => seed as u8,
            };
            let Ok(saved) = postcard::from_bytes::<Saved>(&b) else { continue };
            let Ok(got) = Aggregate::from_saved(saved) else { continue };
            loaded += 1;
            // What the checks above miss, the guard `merge` runs under turns into an error.
            let path = std::path::Path::new("x.state");
            let _ = crate::state::guarded(path, || {
                let _ = Summary::build(&got, &inputs);
                let mut got = got.clone();
                got.shift(3, 1);
                let mut other = a.clone();
                other.merge(got);
                Summary::build(&other, &[InputInfo::default(), InputInfo::default()])
            });
        }
        assert!(loaded > 20, "only {loaded} changed states loaded: the test no longer reaches from_saved");
    }
}
