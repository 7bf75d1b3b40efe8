//! `envoy-triage trace <REQUEST-ID> [PATH]...`: every record of one request across files and
//! pods, in hop order (gateway → client sidecar → server sidecar), and the hop where its
//! failure originated (`crate::classify::origin`).
//!
//! It runs batch mode's pipeline (`crate::source::batch`) with a [`RecordSink`] that keeps
//! owned copies of the few records whose `x-request-id` is traced, so reading, wrappers and
//! formats are the main command's and its hot path is unchanged. Records without a request id
//! (a server sidecar's `0 NR filter_chain_not_found`, a `400 DPE` it could not parse) are
//! attached by address and time instead: a proxy's `%UPSTREAM_LOCAL_ADDRESS%` is the next
//! proxy's `%DOWNSTREAM_REMOTE_ADDRESS%` on the same connection, and its `%UPSTREAM_HOST%` that
//! proxy's `%DOWNSTREAM_LOCAL_ADDRESS%` (envoy-access-log-formats.md §6.2). For that the sinks
//! also keep failed records without an id, up to [`CANDIDATES`] (by a hash of their address,
//! so the same ones at any thread count). [`render`] writes the table and the JSON lines.

pub mod render;

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashSet, FxHasher};

use crate::classify::origin::{self, Hop, Origin};
use crate::classify::{Cause, Classification, Reporter};
use crate::escape::escape_controls;
use crate::pipeline::{PipelineConfig, RecordAt, RecordOutput, RecordSink};
use crate::record::Record;
use crate::response_flags::ResponseFlags;
use crate::source::{self, batch::Progress};

listed_enum! {
/// How traces are written (`trace --output`; spelled for the command line in `crate::cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}
}

/// Failed records without a request id kept for matching by address: enough for every
/// connection a busy proxy fails in the time a log covers, bounded on a log where thousands
/// fail (about 0.5 KB each).
pub const CANDIDATES: usize = 20_000;

/// Records kept per request id: a request has a handful, and an id that thousands of records
/// share (a client that sends a fixed `x-request-id`) must not hold them all.
pub const HOPS: usize = 1_000;

/// How far outside a hop's own span (start … start + duration) the next hop's record may
/// start: proxies on other nodes have other clocks, and a record's start is taken when its
/// request began, not when the connection did.
pub const SLACK_MS: i64 = 1_000;

/// A validated `trace` run.
#[derive(Debug, Clone)]
pub struct TraceConfig {
    /// The request ids, as given, each once.
    pub ids: Vec<String>,
    pub files: Vec<PathBuf>,
    pub output: Output,
    pub pipeline: PipelineConfig,
}

/// One record of a traced request, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub input: Arc<str>,
    pub line: u64,
    /// From the line's wrapper, or from the input's kubelet path.
    pub pod: Option<String>,
    pub reporter: Reporter,
    pub cause: Option<Cause>,
    pub start_time: Option<String>,
    pub start_ms: Option<i64>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    pub response_code: Option<u16>,
    pub flags: ResponseFlags,
    /// Empty when absent.
    pub details: String,
    pub transport_failure: Option<String>,
    pub duration_ms: Option<u64>,
    pub request_id: Option<String>,
    /// Empty when absent.
    pub upstream_cluster: String,
    /// Empty when absent.
    pub upstream_host: String,
    pub upstream_local: Option<String>,
    pub downstream_local: Option<String>,
    pub downstream_remote: Option<String>,
    /// Attached by address and time, not by request id.
    pub matched: bool,
}

impl Hit {
    fn of(rec: &Record<'_>, at: RecordAt<'_>, reporter: Reporter, verdict: Option<&Classification>) -> Hit {
        let s = |v: Option<&[u8]>| v.map(|b| String::from_utf8_lossy(b).into_owned());
        Hit {
            input: Arc::from(at.input),
            line: at.line,
            pod: s(at.pod_fields(rec)[1]),
            reporter,
            cause: verdict.map(|v| v.cause),
            start_time: s(rec.start_time),
            start_ms: rec.start_epoch_ms(),
            method: s(rec.method),
            path: s(rec.path),
            authority: s(rec.authority),
            response_code: rec.response_code,
            flags: rec.response_flags,
            details: s(rec.response_code_details).unwrap_or_default(),
            transport_failure: s(rec.upstream_transport_failure_reason),
            duration_ms: rec.duration_ms,
            request_id: s(rec.request_id),
            upstream_cluster: s(rec.upstream_cluster).unwrap_or_default(),
            upstream_host: s(rec.upstream_host).unwrap_or_default(),
            upstream_local: s(rec.upstream_local_address),
            downstream_local: s(rec.downstream_local_address),
            downstream_remote: s(rec.downstream_remote_address),
            matched: false,
        }
    }

    /// The view `classify::origin` judges.
    pub fn hop(&self) -> Hop<'_> {
        Hop {
            reporter: self.reporter,
            cause: self.cause,
            response_code: self.response_code,
            flags: self.flags,
            details: &self.details,
            upstream_cluster: &self.upstream_cluster,
            upstream_host: &self.upstream_host,
        }
    }
}

/// One traced request: its hops in order and where its failure began.
#[derive(Debug, Clone)]
pub struct Trace {
    pub id: String,
    pub hops: Vec<Hit>,
    /// `hop` indexes `hops`.
    pub origin: Option<Origin>,
    /// Records of this id past the first [`HOPS`], left out.
    pub not_shown: u64,
}

/// What every worker's sink found.
#[derive(Debug, Default)]
struct Collected {
    hits: Vec<Hit>,
    /// Records seen per traced id (kept or not).
    hits_seen: HashMap<String, u64>,
    /// Failed records without a request id, kept for matching by address.
    candidates: Vec<(u64, Hit)>,
    /// Candidates seen (kept or not).
    seen: u64,
}

impl Collected {
    /// Keeps the [`CANDIDATES`] of smallest key, and the first [`HOPS`] records of each id by
    /// input name and line: the same sets whatever order they came in.
    fn prune(&mut self) {
        self.candidates.sort_by(|a, b| (a.0, &a.1.input, a.1.line).cmp(&(b.0, &b.1.input, b.1.line)));
        self.candidates.truncate(CANDIDATES);
        self.hits.sort_by(|a, b| (&a.request_id, &a.input, a.line).cmp(&(&b.request_id, &b.input, b.line)));
        let mut kept: HashMap<Option<String>, usize> = HashMap::new();
        self.hits.retain(|h| {
            let n = kept.entry(h.request_id.clone()).or_default();
            *n += 1;
            *n <= HOPS
        });
    }
}

struct Ids(FxHashSet<Box<[u8]>>);

/// The pipeline's output for `trace`: a sink per worker, all adding to one [`Collected`].
struct TraceOutput {
    ids: Arc<Ids>,
    collected: Arc<Mutex<Collected>>,
}

impl RecordOutput for TraceOutput {
    fn sink(&self) -> Box<dyn RecordSink> {
        Box::new(TraceSink {
            ids: Arc::clone(&self.ids),
            collected: Arc::clone(&self.collected),
            hits: Vec::new(),
            candidates: Vec::new(),
        })
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

struct TraceSink {
    ids: Arc<Ids>,
    collected: Arc<Mutex<Collected>>,
    hits: Vec<Hit>,
    candidates: Vec<(u64, Hit)>,
}

impl RecordSink for TraceSink {
    fn record(
        &mut self,
        rec: &Record<'_>,
        at: RecordAt<'_>,
        reporter: Reporter,
        verdict: Option<&Classification>,
    ) {
        match rec.request_id {
            Some(id) => {
                if self.ids.0.contains(id) {
                    self.hits.push(Hit::of(rec, at, reporter, verdict));
                }
            }
            None => {
                if let (Some(_), Some(remote)) = (verdict, rec.downstream_remote_address) {
                    use std::hash::Hasher;
                    let mut h = FxHasher::default();
                    h.write(remote);
                    self.candidates.push((h.finish(), Hit::of(rec, at, reporter, verdict)));
                }
            }
        }
    }

    fn chunk_done(&mut self, _seq: u64) -> bool {
        if self.hits.is_empty() && self.candidates.is_empty() {
            return true;
        }
        let mut c = self.collected.lock().unwrap_or_else(|p| p.into_inner());
        for h in &self.hits {
            *c.hits_seen.entry(h.request_id.clone().unwrap_or_default()).or_default() += 1;
        }
        let grown = c.hits.len() + self.hits.len() > 2 * HOPS * c.hits_seen.len().max(1);
        c.hits.append(&mut self.hits);
        c.seen += self.candidates.len() as u64;
        c.candidates.append(&mut self.candidates);
        if grown || c.candidates.len() > 2 * CANDIDATES {
            c.prune();
        }
        true
    }
}

/// Runs a trace: reads every input once, writes each id's trace to stdout, and returns the exit
/// code: 0 every id found, 1 some id not found (said on stderr), 2 an input could not be read.
pub fn run(cfg: &TraceConfig) -> io::Result<ExitCode> {
    let (inputs, mut failed) = source::expand_and_say(&cfg.files, |_| String::new());
    if inputs.is_empty() {
        return Ok(ExitCode::from(2));
    }
    let ids = Ids(cfg.ids.iter().map(|id| id.as_bytes().into()).collect());
    let collected = Arc::new(Mutex::new(Collected::default()));
    let output = TraceOutput { ids: Arc::new(ids), collected: Arc::clone(&collected) };
    let (agg, infos) =
        source::batch::run_with_output(&inputs, &cfg.pipeline, Some(Box::new(output)), &Progress::default())?;
    for info in &infos {
        if let Some(e) = &info.error {
            failed = true;
            eprintln!("envoy-triage: {}: {}", escape_controls(&info.meta.name), escape_controls(e));
        }
    }
    let mut collected = std::mem::take(&mut *collected.lock().unwrap_or_else(|p| p.into_inner()));
    collected.prune();
    let order: HashMap<String, usize> =
        inputs.iter().enumerate().map(|(i, input)| (input.name(), i)).collect();
    let mut traces = build(&cfg.ids, collected.hits, &collected.candidates, &order);
    for t in &mut traces {
        let seen = collected.hits_seen.get(&t.id).copied().unwrap_or(0);
        t.not_shown = seen.saturating_sub(t.hops.iter().filter(|h| !h.matched).count() as u64);
    }

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match cfg.output {
        Output::Table => render::table(&traces, crate::report::fit::terminal_width(), &mut out)?,
        Output::Json => render::json(&traces, &mut out)?,
    }
    out.flush()?;
    let dropped = collected.seen.saturating_sub(collected.candidates.len() as u64);
    if dropped > 0 {
        eprintln!(
            "envoy-triage: {dropped} failed records without a request id were not kept for matching by \
             address (at most {CANDIDATES} are kept, chosen by address): if a hop is missing, trace \
             fewer inputs, or only the proxies of this request"
        );
    }
    let missing: Vec<&Trace> = traces.iter().filter(|t| t.hops.is_empty()).collect();
    for t in &missing {
        eprintln!(
            "envoy-triage: request id '{}' not found in {} records of {} input{}",
            escape_controls(&t.id),
            agg.records,
            inputs.len(),
            if inputs.len() == 1 { "" } else { "s" }
        );
    }
    Ok(if failed {
        ExitCode::from(2)
    } else if !missing.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// How deep a reporter sits (gateway → client sidecar → server sidecar); a proxy of unknown
/// role sits with the client side, as `classify::origin` has it.
fn depth(r: Reporter) -> u8 {
    match r {
        Reporter::Gateway => 0,
        Reporter::ClientSidecar | Reporter::Unknown => 1,
        Reporter::ServerSidecar => 2,
    }
}

/// Groups the hits by id (in the order the ids were given), attaches records without an id by
/// address and time, puts each trace in hop order and judges its origin. `order` is each
/// input's position among the inputs.
pub fn build(
    ids: &[String],
    hits: Vec<Hit>,
    candidates: &[(u64, Hit)],
    order: &HashMap<String, usize>,
) -> Vec<Trace> {
    let mut by_id: HashMap<&str, Vec<Hit>> = ids.iter().map(|id| (id.as_str(), Vec::new())).collect();
    for hit in hits {
        if let Some(list) = hit.request_id.as_deref().and_then(|id| by_id.get_mut(id)) {
            list.push(hit);
        }
    }
    let mut by_remote: HashMap<&str, Vec<&Hit>> = HashMap::new();
    for (_, c) in candidates {
        if let Some(remote) = c.downstream_remote.as_deref() {
            by_remote.entry(remote).or_default().push(c);
        }
    }
    let position = |h: &Hit| order.get(&*h.input).copied().unwrap_or(usize::MAX);
    ids.iter()
        .map(|id| {
            let mut hops = by_id.remove(id.as_str()).unwrap_or_default();
            let matched: Vec<Hit> =
                hops.iter().filter_map(|h| next_by_address(h, &hops, &by_remote)).collect();
            for mut m in matched {
                // Two hops may lead to one record (a retry on the same connection).
                if !hops.iter().any(|h| h.input == m.input && h.line == m.line) {
                    m.matched = true;
                    hops.push(m);
                }
            }
            hops.sort_by(|a, b| {
                (depth(a.reporter), a.start_ms.is_none(), a.start_ms, position(a), &a.input, a.line).cmp(&(
                    depth(b.reporter),
                    b.start_ms.is_none(),
                    b.start_ms,
                    position(b),
                    &b.input,
                    b.line,
                ))
            });
            let views: Vec<Hop<'_>> = hops.iter().map(Hit::hop).collect();
            let origin = origin::origin(&views);
            Trace { id: id.clone(), hops, origin, not_shown: 0 }
        })
        .collect()
}

/// The record, without a request id, of the hop after `h` on the connection `h` made: its
/// remote address is `h`'s upstream local address, its local address `h`'s upstream host, and
/// of those, the one that started nearest `h`'s start, within `h`'s span and [`SLACK_MS`].
/// None when the trace already holds the next hop's record, or `h` made no connection.
fn next_by_address(h: &Hit, trace: &[Hit], by_remote: &HashMap<&str, Vec<&Hit>>) -> Option<Hit> {
    if h.reporter == Reporter::ServerSidecar {
        return None;
    }
    let local = h.upstream_local.as_deref()?;
    if trace.iter().any(|o| o.downstream_remote.as_deref() == Some(local)) {
        return None;
    }
    let start = h.start_ms?;
    let end = start + h.duration_ms.unwrap_or(0) as i64;
    let best = by_remote
        .get(local)?
        .iter()
        .filter(|c| {
            h.upstream_host.is_empty() || c.downstream_local.as_deref() == Some(h.upstream_host.as_str())
        })
        .filter_map(|c| {
            let t = c.start_ms?;
            (start - SLACK_MS..=end + SLACK_MS).contains(&t).then_some(((t - start).abs(), *c))
        })
        .min_by(|a, b| (a.0, &a.1.input, a.1.line).cmp(&(b.0, &b.1.input, b.1.line)))?
        .1;
    let mut m = best.clone();
    // It accepted the connection `h` made: the server side of it, whatever its own fields say
    // (a filter-chain record names no cluster).
    if m.reporter == Reporter::Unknown {
        m.reporter = Reporter::ServerSidecar;
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client sidecar's `503 UC` on connection 10.44.1.20:46102 → 10.44.2.40:9080 (traced), and
    /// the server's id-less `0 NR filter_chain_not_found` records starting `server_starts` ms
    /// after it, on the same connection.
    fn attached(client_duration: u64, server_starts: &[i64]) -> Vec<(u64, bool)> {
        let t0 = 1_795_000_000_000;
        let client = Hit {
            input: Arc::from("a.log"),
            line: 1,
            pod: None,
            reporter: Reporter::ClientSidecar,
            cause: Some(Cause::UpstreamReset),
            start_time: None,
            start_ms: Some(t0),
            method: Some("GET".into()),
            path: Some("/ratings/1".into()),
            authority: None,
            response_code: Some(503),
            flags: ResponseFlags::only(crate::response_flags::Flag::UC),
            details: "upstream_reset_before_response_started{connection_termination}".into(),
            transport_failure: None,
            duration_ms: Some(client_duration),
            request_id: Some("id".into()),
            upstream_cluster: "outbound|9080||ratings.bookinfo.svc.cluster.local".into(),
            upstream_host: "10.44.2.40:9080".into(),
            upstream_local: Some("10.44.1.20:46102".into()),
            downstream_local: Some("10.96.14.3:9080".into()),
            downstream_remote: Some("10.44.1.20:51544".into()),
            matched: false,
        };
        let candidates: Vec<(u64, Hit)> = server_starts
            .iter()
            .enumerate()
            .map(|(i, dt)| {
                let server = Hit {
                    line: 2 + i as u64,
                    reporter: Reporter::Unknown,
                    cause: Some(Cause::TlsFailure),
                    start_ms: Some(t0 + dt),
                    request_id: None,
                    response_code: Some(0),
                    details: "filter_chain_not_found".into(),
                    upstream_cluster: String::new(),
                    upstream_host: String::new(),
                    upstream_local: None,
                    downstream_local: Some("10.44.2.40:9080".into()),
                    downstream_remote: Some("10.44.1.20:46102".into()),
                    ..client.clone()
                };
                (0, server)
            })
            .collect();
        let order = HashMap::from([("a.log".to_string(), 0)]);
        let traces = build(&["id".to_string()], vec![client], &candidates, &order);
        traces[0].hops.iter().map(|h| (h.line, h.matched)).collect()
    }

    #[test]
    fn the_next_hop_is_the_nearest_start_within_the_span_and_its_slack() {
        assert_eq!(attached(0, &[2]), [(1, false), (2, true)]);
        // The nearest of several on the same connection (a reused port).
        assert_eq!(attached(0, &[700, -3, 40_000]), [(1, false), (3, true)]);
        // Outside the client's span and the slack: not this request's.
        assert_eq!(attached(0, &[SLACK_MS + 1]), [(1, false)]);
        assert_eq!(attached(5_000, &[5_000 + SLACK_MS]), [(1, false), (2, true)]);
        assert_eq!(attached(0, &[-SLACK_MS - 1]), [(1, false)]);
    }
}
