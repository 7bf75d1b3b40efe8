//! Filters (`--since`, `--until`, `--namespace`, `--upstream`, `--code`, `--cause`,
//! `--reporter`): which records a run analyses. `crate::config` parses the flags into a
//! [`FilterSpec`] (errors name the flag and what it takes); `crate::app` resolves relative
//! times into a [`Filter`] (batch mode against the log's own last record, found by
//! [`anchor`]; live mode against the time the run starts); the pipeline's workers (`crate::pipeline`) ask it
//! about each record after parsing and classifying it. A record it refuses is counted in
//! `Aggregate::filtered_out` and goes nowhere else: records = analysed + filtered_out.
//! `crate::summary` says back what was asked (it reads this module; this one does not read it) ([`FilterOut`]: the JSON `filters`, and
//! [`FilterOut::describe`], the table's line).
//!
//! Every test is on borrowed bytes and fixed-size sets: checking a record allocates nothing
//! (except a cluster name that is not UTF-8 matched against `--upstream`, made text once).

pub mod anchor;

use crate::classify::{Cause, Classification, Reporter};
use crate::record::Record;
use crate::source::SourceMeta;

/// `--since`/`--until` as given: a point in time, or a span back from the log's end (batch
/// mode) or from now (live mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// Epoch milliseconds.
    At(i64),
    /// Milliseconds before the anchor.
    Ago(i64),
}

/// Why a filter flag was refused; each message names the flag and what it takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "--{flag}: cannot read '{value}': give a time (2026-11-25T02:30:00Z, 2026-11-25T02:30:00+01:00, \
         2026-11-25 02:30, 2026-11-25; no zone = UTC) or a span before the log's last record \
         (10m, 1h30m, 2d; units s, m, h, d, w)"
    )]
    Time { flag: &'static str, value: String },
    #[error("--since {since} is not before --until {until}: no record could match")]
    EmptyRange { since: String, until: String },
    #[error(
        "--code: cannot read '{0}': give a status (503), a class (5xx, 4xx) or 0 (no response), \
         comma-separated or repeated"
    )]
    Code(String),
    #[error("--cause: no cause '{given}'{hint}; causes: {all}")]
    Cause { given: String, hint: String, all: String },
    #[error(
        "--reporter: no reporter '{given}'{hint}; reporters: gateway, client_sidecar, server_sidecar, unknown"
    )]
    Reporter { given: String, hint: String },
    #[error("--upstream: bad pattern '{given}': {why}")]
    Upstream { given: String, why: String },
    #[error("--namespace: give a namespace name (got '{0}')")]
    Namespace(String),
}

/// The filter flags, checked, with relative times not yet resolved. Keeps each value as written
/// to say it back in the report.
#[derive(Debug, Clone, Default)]
pub struct FilterSpec {
    pub since: Option<(String, TimeSpec)>,
    pub until: Option<(String, TimeSpec)>,
    pub namespaces: Vec<String>,
    pub upstreams: Vec<String>,
    /// `--code` values as written, each comma list split.
    pub codes: Vec<String>,
    pub causes: Vec<Cause>,
    pub reporters: Vec<Reporter>,
}

/// The filter flags as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct FilterArgs {
    pub since: Option<String>,
    pub until: Option<String>,
    pub namespace: Vec<String>,
    pub upstream: Vec<String>,
    pub code: Vec<String>,
    pub cause: Vec<String>,
    pub reporter: Vec<String>,
}

impl FilterSpec {
    /// Checks the flags; `None` when no filter was given (the workers then check nothing).
    pub fn parse(args: &FilterArgs) -> Result<Option<FilterSpec>, FilterError> {
        let mut spec = FilterSpec::default();
        if let Some(s) = &args.since {
            spec.since = Some((s.clone(), parse_time("since", s)?));
        }
        if let Some(s) = &args.until {
            spec.until = Some((s.clone(), parse_time("until", s)?));
        }
        if let (Some((a, sa)), Some((b, sb))) = (&spec.since, &spec.until) {
            let empty = match (sa, sb) {
                (TimeSpec::At(x), TimeSpec::At(y)) => x >= y,
                // Both back from the same anchor: the since is the longer span.
                (TimeSpec::Ago(x), TimeSpec::Ago(y)) => x <= y,
                _ => false,
            };
            if empty {
                return Err(FilterError::EmptyRange { since: a.clone(), until: b.clone() });
            }
        }
        for ns in &args.namespace {
            if ns.is_empty() || ns.bytes().any(|b| b.is_ascii_whitespace() || b == b'/') {
                return Err(FilterError::Namespace(ns.clone()));
            }
        }
        spec.namespaces = args.namespace.clone();
        for u in &args.upstream {
            glob::Pattern::new(u)
                .map_err(|e| FilterError::Upstream { given: u.clone(), why: e.msg.to_string() })?;
        }
        spec.upstreams = args.upstream.clone();
        for c in args.code.iter().flat_map(|c| c.split(',')) {
            let c = c.trim();
            CodeSet::default().add(c).ok_or_else(|| FilterError::Code(c.to_string()))?;
            spec.codes.push(c.to_string());
        }
        for c in &args.cause {
            spec.causes.push(Cause::from_name(c).ok_or_else(|| FilterError::Cause {
                given: c.clone(),
                hint: did_you_mean(c, Cause::ALL.iter().map(|c| c.name())),
                all: Cause::ALL.map(|c| c.name()).join(", "),
            })?);
        }
        for r in &args.reporter {
            let found = Reporter::ALL.into_iter().find(|x| x.name() == r);
            spec.reporters.push(found.ok_or_else(|| FilterError::Reporter {
                given: r.clone(),
                hint: did_you_mean(r, Reporter::ALL.iter().map(|x| x.name())),
            })?);
        }
        let none = spec.since.is_none()
            && spec.until.is_none()
            && spec.namespaces.is_empty()
            && spec.upstreams.is_empty()
            && spec.codes.is_empty()
            && spec.causes.is_empty()
            && spec.reporters.is_empty();
        Ok((!none).then_some(spec))
    }

    /// Whether a time is relative, so that the run must know its anchor first.
    pub fn is_relative(&self) -> bool {
        [&self.since, &self.until].into_iter().flatten().any(|(_, t)| matches!(t, TimeSpec::Ago(_)))
    }

    /// The filter the workers check, relative times counted back from `anchor_ms` (the log's
    /// last record, or now). A relative time without an anchor (a log without any start time)
    /// lets no record through: nothing can be said to be within it.
    pub fn resolve(&self, anchor_ms: Option<i64>) -> Filter {
        let at = |t: &Option<(String, TimeSpec)>| -> Option<Option<i64>> {
            t.as_ref().map(|(_, t)| match *t {
                TimeSpec::At(ms) => Some(ms),
                TimeSpec::Ago(ms) => anchor_ms.map(|a| a.saturating_sub(ms)),
            })
        };
        let (since, until) = (at(&self.since), at(&self.until));
        let mut codes = CodeSet::default();
        for c in &self.codes {
            codes.add(c);
        }
        Filter {
            timed: since.is_some() || until.is_some(),
            // An unresolvable bound: an empty range.
            since_ms: since.map_or(i64::MIN, |s| s.unwrap_or(i64::MAX)),
            until_ms: until.map_or(i64::MAX, |u| u.unwrap_or(i64::MIN)),
            namespaces: self.namespaces.iter().map(|n| n.as_bytes().into()).collect(),
            upstreams: self.upstreams.iter().filter_map(|u| Upstream::new(u)).collect(),
            codes: (!self.codes.is_empty()).then_some(codes),
            causes: self.causes.iter().fold(0, |m, c| m | 1 << *c as u32),
            reporters: self.reporters.iter().fold(0, |m, r| m | 1 << *r as u32),
            resolved: FilterOut {
                since: since.flatten().map(crate::record::format_epoch_ms),
                until: until.flatten().map(crate::record::format_epoch_ms),
                since_arg: self.since.as_ref().map(|s| s.0.clone()),
                until_arg: self.until.as_ref().map(|s| s.0.clone()),
                anchor: self.is_relative().then(|| anchor_ms.map(crate::record::format_epoch_ms)).flatten(),
                namespace: self.namespaces.clone(),
                upstream: self.upstreams.clone(),
                code: self.codes.clone(),
                cause: self.causes.iter().map(|c| c.name().to_string()).collect(),
                reporter: self.reporters.iter().map(|r| r.name().to_string()).collect(),
            },
        }
    }
}

/// The filters of a run as the JSON report says them (`"filters"`): the flags' values, and the
/// times resolved to absolute ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilterOut {
    /// Start of the time range (inclusive), RFC 3339 UTC, resolved from `since_arg`.
    pub since: Option<String>,
    /// End of the time range (exclusive).
    pub until: Option<String>,
    pub since_arg: Option<String>,
    pub until_arg: Option<String>,
    /// What relative times were counted back from: the log's last record (batch mode) or the
    /// time the run started (live mode); `null` when both times are absolute.
    pub anchor: Option<String>,
    pub namespace: Vec<String>,
    pub upstream: Vec<String>,
    pub code: Vec<String>,
    pub cause: Vec<String>,
    pub reporter: Vec<String>,
}

impl FilterOut {
    /// One line for the table: `--since 10m (≥ 2026-11-25T02:21:45.000Z) · --code 5xx`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let time = |flag: &str, arg: &Option<String>, at: &Option<String>, sign: &str| {
            arg.as_ref().map(|a| match at {
                Some(t) if t != a => format!("--{flag} {a} ({sign} {t})"),
                Some(_) => format!("--{flag} {a}"),
                None => format!("--{flag} {a} (no record has a time)"),
            })
        };
        parts.extend(time("since", &self.since_arg, &self.since, "≥"));
        parts.extend(time("until", &self.until_arg, &self.until, "<"));
        for (flag, values) in [
            ("namespace", &self.namespace),
            ("upstream", &self.upstream),
            ("code", &self.code),
            ("cause", &self.cause),
            ("reporter", &self.reporter),
        ] {
            if !values.is_empty() {
                parts.push(format!("--{flag} {}", values.join(",")));
            }
        }
        parts.join(" · ")
    }
}

/// The resolved filter each worker checks every record against.
#[derive(Debug, Clone)]
pub struct Filter {
    timed: bool,
    since_ms: i64,
    until_ms: i64,
    namespaces: Box<[Box<[u8]>]>,
    upstreams: Box<[Upstream]>,
    codes: Option<CodeSet>,
    /// Bit `Cause as u32`; 0 = any.
    causes: u32,
    /// Bit `Reporter as u32`; 0 = any.
    reporters: u32,
    resolved: FilterOut,
}

const _: () = assert!(Cause::COUNT <= 32 && Reporter::COUNT <= 32, "the masks are u32");

impl Filter {
    /// What the report says about this filter.
    pub fn out(&self) -> &FilterOut {
        &self.resolved
    }

    /// Whether the record passes the tests that need no classification: time, namespace,
    /// upstream, code. A record without a start time is outside any time range.
    #[inline]
    pub fn admits(&self, rec: &Record<'_>, source: &SourceMeta) -> bool {
        if self.timed {
            match rec.start_epoch_ms() {
                Some(t) if t >= self.since_ms && t < self.until_ms => {}
                _ => return false,
            }
        }
        if let Some(codes) = &self.codes {
            if !rec.response_code.is_some_and(|c| codes.contains(c)) {
                return false;
            }
        }
        if !self.namespaces.is_empty() && !self.namespace_matches(rec, source) {
            return false;
        }
        if !self.upstreams.is_empty() {
            let cluster = rec.upstream_cluster.unwrap_or(crate::aggregate::NO_CLUSTER.as_bytes());
            if !self.upstreams.iter().any(|p| p.matches(cluster)) {
                return false;
            }
        }
        true
    }

    /// Whether `--cause` or `--reporter` is given: only then does
    /// [`admits_verdict`](Self::admits_verdict) have anything to say.
    #[inline]
    pub fn needs_verdict(&self) -> bool {
        self.causes != 0 || self.reporters != 0
    }

    /// Whether a record logged by `reporter` and classified as `verdict` (none: it succeeded)
    /// passes `--cause` and `--reporter`. A record that did not fail has no cause.
    #[inline]
    pub fn admits_verdict(&self, reporter: Reporter, verdict: Option<&Classification>) -> bool {
        (self.reporters == 0 || self.reporters & 1 << reporter as u32 != 0)
            && (self.causes == 0 || verdict.is_some_and(|v| self.causes & 1 << v.cause as u32 != 0))
    }

    /// The logging pod's namespace (from the wrapper, else the kubelet path), or the namespace of
    /// the service an outbound cluster names.
    fn namespace_matches(&self, rec: &Record<'_>, source: &SourceMeta) -> bool {
        let own = rec.meta.namespace.or(source.namespace.as_deref());
        let service = rec.upstream_cluster.and_then(service_namespace);
        self.namespaces.iter().any(|n| own == Some(&**n) || service == Some(&**n))
    }
}

/// One `--upstream` pattern. Most are literal text around `*` (`*reviews*`, `outbound|9080||*`):
/// those are matched on the name's bytes (a prefix, a suffix, and the pieces between found in
/// order with prebuilt `memmem` finders), which is what `glob` answers for them, for a small
/// part of its cost per record (it walks the pattern a character at a time, on a `&str` made
/// from the bytes). Any other pattern (`?`, `[…]`, `**`), and any name that is not ASCII, goes
/// to `glob`.
#[derive(Debug, Clone)]
struct Upstream {
    glob: glob::Pattern,
    /// The pattern split at its `*`s, when it has no other wildcard.
    pieces: Option<Pieces>,
}

#[derive(Debug, Clone)]
struct Pieces {
    /// What the name starts with (the text before the first `*`; all of it without a `*`).
    first: Box<[u8]>,
    /// What the name ends with (after the last `*`); `None` without a `*`: the name is `first`.
    last: Option<Box<[u8]>>,
    /// The texts between `*`s, in order.
    middle: Box<[memchr::memmem::Finder<'static>]>,
}

impl Upstream {
    fn new(pattern: &str) -> Option<Upstream> {
        let glob = glob::Pattern::new(pattern).ok()?;
        let literal = !pattern.contains(['?', '[', ']']) && !pattern.contains("**") && pattern.is_ascii();
        let pieces = literal.then(|| {
            let mut parts: Vec<&str> = pattern.split('*').collect();
            let first = parts.remove(0).as_bytes().into();
            let last = (!parts.is_empty()).then(|| parts.pop().expect("one part at least").as_bytes().into());
            let middle =
                parts.iter().filter(|p| !p.is_empty()).map(|p| memchr::memmem::Finder::new(p).into_owned());
            Pieces { first, last, middle: middle.collect() }
        });
        Some(Upstream { glob, pieces })
    }

    #[inline]
    fn matches(&self, name: &[u8]) -> bool {
        match &self.pieces {
            Some(p) if name.is_ascii() => p.matches(name),
            _ => match std::str::from_utf8(name) {
                Ok(c) => self.glob.matches(c),
                Err(_) => self.glob.matches(&String::from_utf8_lossy(name)),
            },
        }
    }
}

impl Pieces {
    fn matches(&self, name: &[u8]) -> bool {
        let Some(last) = &self.last else { return *name == *self.first };
        if name.len() < self.first.len() + last.len()
            || !name.starts_with(&self.first)
            || !name.ends_with(last)
        {
            return false;
        }
        // The pieces between, leftmost first, in what the prefix and suffix leave.
        let mut rest = &name[self.first.len()..name.len() - last.len()];
        for f in &self.middle {
            match f.find(rest) {
                Some(at) => rest = &rest[at + f.needle().len()..],
                None => return false,
            }
        }
        true
    }
}

/// The namespace of the Kubernetes service an Istio cluster name points at:
/// `outbound|9080||reviews.bookinfo.svc.cluster.local` → `bookinfo` (also with a subset, and
/// Istio's `outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local` stat names). `None` for
/// inbound clusters, `PassthroughCluster` and hosts outside the cluster.
pub fn service_namespace(cluster: &[u8]) -> Option<&[u8]> {
    let host = if cluster.starts_with(b"outbound|") {
        &cluster[cluster.iter().rposition(|&b| b == b'|')? + 1..]
    } else if cluster.starts_with(b"outbound_.") {
        // outbound_.PORT_.SUBSET_.HOST: the host follows the third `_.`.
        let mut rest = cluster;
        for _ in 0..3 {
            let at = memchr::memmem::find(rest, b"_.")?;
            rest = &rest[at + 2..];
        }
        rest
    } else {
        return None;
    };
    let mut labels = host.split(|&b| b == b'.');
    let (_svc, ns, svc) = (labels.next()?, labels.next()?, labels.next()?);
    (svc == b"svc" && !ns.is_empty()).then_some(ns)
}

/// Response codes 0 to 999 as a bitset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodeSet([u64; 16]);

impl CodeSet {
    /// Adds `503`, `5xx` (any case) or `0`; `None` when `spec` is none of them.
    pub fn add(&mut self, spec: &str) -> Option<()> {
        let b = spec.as_bytes();
        let range = if b.len() == 3 && b[0].is_ascii_digit() && b[1..].eq_ignore_ascii_case(b"xx") {
            let class = u16::from(b[0] - b'0');
            if !(1..=9).contains(&class) {
                return None;
            }
            class * 100..=class * 100 + 99
        } else if !b.is_empty() && b.len() <= 3 && b.iter().all(u8::is_ascii_digit) {
            let c: u16 = spec.parse().ok()?;
            c..=c
        } else {
            return None;
        };
        for c in range {
            self.0[c as usize / 64] |= 1 << (c % 64);
        }
        Some(())
    }

    #[inline]
    pub fn contains(&self, code: u16) -> bool {
        code < 1000 && self.0[code as usize / 64] & 1 << (code % 64) != 0
    }
}

/// ` (did you mean 'x'?)` when one of `names` is close to `given`.
fn did_you_mean<'a>(given: &str, names: impl Iterator<Item = &'a str>) -> String {
    let lower = given.to_ascii_lowercase().replace('-', "_");
    names
        .map(|n| (strsim::levenshtein(&lower, n), n))
        .filter(|(d, n)| *d <= 3.max(n.len() / 3) || n.starts_with(&lower) && lower.len() >= 3)
        .min()
        .map_or_else(String::new, |(_, n)| format!(" (did you mean '{n}'?)"))
}

/// Reads `--since`/`--until`: an RFC 3339 time (a zone, or none = UTC; seconds, or the time, may
/// be left out), or a span (`10m`, `1h30m`, `2d`).
pub fn parse_time(flag: &'static str, value: &str) -> Result<TimeSpec, FilterError> {
    let bad = || FilterError::Time { flag, value: value.to_string() };
    let v = value.trim();
    if v.as_bytes().first().is_some_and(u8::is_ascii_digit) && v.len() >= 10 && v.as_bytes()[4] == b'-' {
        return parse_absolute(v).map(TimeSpec::At).ok_or_else(bad);
    }
    parse_span(v).map(TimeSpec::Ago).ok_or_else(bad)
}

/// `2026-11-25`, `2026-11-25T02:30`, `2026-11-25 02:30:00.5`, `2026-11-25T02:30:00+01:00`, …
fn parse_absolute(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    // Fill in what may be left out, then read it as a log's start time is read.
    let mut full = String::with_capacity(v.len() + 9);
    if b.len() == 10 {
        full.push_str(v);
        full.push_str("T00:00:00");
    } else if b.len() >= 16 && b.get(16).is_none_or(|c| !c.is_ascii_digit() && *c != b':') {
        full.push_str(&v[..16]);
        full.push_str(":00");
        full.push_str(&v[16..]);
    } else {
        full.push_str(v);
    }
    let (ms, used) = crate::record::parse_rfc3339_prefix(full.as_bytes())?;
    (used == full.len()).then_some(ms)
}

/// `90s`, `10m`, `1h30m`, `2d` → milliseconds (at most about 100 years).
fn parse_span(v: &str) -> Option<i64> {
    const MAX_MS: i64 = 100 * 366 * 86_400_000;
    let mut total: i64 = 0;
    let mut digits = 0usize;
    let mut n: i64 = 0;
    let mut parts = 0;
    for c in v.bytes() {
        if c.is_ascii_digit() {
            n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?.min(MAX_MS);
            digits += 1;
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b's' => 1_000,
            b'm' => 60_000,
            b'h' => 3_600_000,
            b'd' => 86_400_000,
            b'w' => 7 * 86_400_000,
            _ => return None,
        };
        if digits == 0 {
            return None;
        }
        total = total.saturating_add(n.saturating_mul(unit));
        (n, digits, parts) = (0, 0, parts + 1);
    }
    // A bare number has no unit: refused rather than guessed.
    (digits == 0 && parts > 0 && total <= MAX_MS).then_some(total)
}

#[cfg(test)]
mod tests;
