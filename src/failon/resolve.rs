//! Names and kinds: turns a call of the grammar (`super::parse`) into an [`Operand`], with
//! did-you-mean suggestions for misspelt names, and refuses comparisons of operands of different
//! kinds. Kept out of the combinators: these are questions of meaning, not of syntax. Mistakes are
//! [`Fail`]s under the part at fault (`super::error`).

use super::error::{Fail, Span};
use super::{Latency, Measure, Operand, Selector, Stat, Upstream, name};
use crate::classify::{Cause, Domain, Reporter};
use crate::response_flags::Flag;

/// `nan`, `inf`, `infinity` in any case: words Rust's float parser would take, for thresholds
/// that can never be met.
pub(super) fn is_non_finite(word: &str) -> bool {
    ["nan", "inf", "infinity"].iter().any(|w| word.eq_ignore_ascii_case(w))
}

pub(super) fn non_finite(word: &str) -> String {
    format!("'{word}' is not a threshold: write a finite number such as 10, 1% or 2s")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Count,
    Rate,
    Latency,
    Number,
    Percent,
    Duration,
}

fn kind(o: &Operand) -> Kind {
    match o {
        Operand::Count(_) => Kind::Count,
        Operand::Rate(_) => Kind::Rate,
        Operand::Latency(_) => Kind::Latency,
        Operand::Number(_) => Kind::Number,
        Operand::Percent(_) => Kind::Percent,
        Operand::Duration(_) => Kind::Duration,
    }
}

/// Refuses comparisons that could only ever be true or false by mistake: under the threshold of
/// the wrong kind, or under the `whole` comparison when neither side alone is at fault.
pub(super) fn check<'a>(
    a: &Operand,
    a_span: Span<'a>,
    b: &Operand,
    b_span: Span<'a>,
    whole: Span<'a>,
) -> Result<(), Fail<'a>> {
    let whole = |m: String| Err(Fail::said(whole, m));
    let measured = |k| matches!(k, Kind::Count | Kind::Rate | Kind::Latency);
    let (ka, kb) = (kind(a), kind(b));
    if !measured(ka) && !measured(kb) {
        return whole(
            "this comparison reads no counts from the logs: one side must be a function such as rate(5xx), count(503) or p99(duration)".into(),
        );
    }
    if measured(ka) && measured(kb) {
        if ka != kb {
            return whole(format!(
                "{} and {} cannot be compared: {} with {}",
                name(a),
                name(b),
                what(ka),
                what(kb)
            ));
        }
        return Ok(());
    }
    let (m, lit, span) = if measured(ka) { (a, b, b_span) } else { (b, a, a_span) };
    let written = span.text();
    let message = match (kind(m), lit) {
        (Kind::Count, Operand::Number(_))
        | (Kind::Rate, Operand::Percent(_))
        | (Kind::Latency, Operand::Duration(_)) => return Ok(()),
        (Kind::Rate, Operand::Number(n)) if *n > 0.0 && *n < 1.0 => format!(
            "{} is a percentage: write '{written}%', or '{}%' if {written} is a fraction (a bare number is ambiguous)",
            name(m),
            (n * 1e11).round() / 1e9
        ),
        (Kind::Rate, Operand::Number(_)) => {
            format!("{} is a percentage: write '{written}%' (a bare {written} is ambiguous)", name(m))
        }
        (Kind::Count, Operand::Percent(_)) => format!(
            "{} is a number of requests, not a percentage: compare it with a plain number, or use rate(…) with a percentage",
            name(m)
        ),
        (Kind::Latency, Operand::Number(_)) => {
            format!("{} is a duration: give '{written}' a unit, '{written}ms' or '{written}s'", name(m))
        }
        (k, _) => format!("{} is {}: '{written}' is {}", name(m), what(k), what(kind(lit))),
    };
    Err(Fail::said(span, message))
}

fn what(k: Kind) -> &'static str {
    match k {
        Kind::Count => "a count",
        Kind::Rate => "a rate",
        Kind::Latency => "a duration",
        Kind::Number => "a plain number",
        Kind::Percent => "a percentage",
        Kind::Duration => "a duration",
    }
}

/// The closest of `names` to a misspelling, when close enough to be worth suggesting.
fn did_you_mean<'n>(word: &str, names: impl IntoIterator<Item = &'n str>) -> Option<&'n str> {
    names
        .into_iter()
        .map(|n| (strsim::jaro_winkler(word, n), n))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// "unknown KIND 'x' (did you mean y?)", or the list of names when none is close.
fn unknown<'n>(kind: &str, word: &str, names: impl IntoIterator<Item = &'n str> + Clone) -> String {
    match did_you_mean(word, names.clone()) {
        Some(n) => format!("unknown {kind} '{word}' (did you mean {n}?)"),
        None => {
            format!("unknown {kind} '{word}' ({kind}s: {})", names.into_iter().collect::<Vec<_>>().join(", "))
        }
    }
}

pub(super) const FUNCTIONS: [&str; 11] =
    ["count", "rate", "cause", "flag", "code", "domain", "reporter", "p50", "p90", "p99", "max"];

/// A call, checked: the function's name, its `args` and the whole `call`, each where written.
pub(super) fn resolve<'a>(
    name_span: Span<'a>,
    args: &[Span<'a>],
    call: Span<'a>,
) -> Result<Operand, Fail<'a>> {
    let name = name_span.text();
    let one = |usage: &str| match args {
        [a] => Ok(*a),
        _ => Err(Fail::said(call, format!("{name}() takes one argument, e.g. {usage}"))),
    };
    let sel = |a: Span<'a>| selector(a.text()).map_err(|m| Fail::said(a, m));
    Ok(match name {
        "count" => Operand::Count(sel(one("count(5xx)")?)?),
        "rate" => Operand::Rate(sel(one("rate(5xx)")?)?),
        "cause" | "flag" | "domain" | "reporter" => {
            let a = one(&format!("{name}(…)"))?;
            Operand::Count(selector(&format!("{name}:{}", a.text())).map_err(|m| Fail::said(a, m))?)
        }
        "code" => Operand::Count(sel(one("code(503)")?)?),
        "p50" | "p90" | "p99" | "max" => Operand::Latency(latency(name, args, call)?),
        _ => return Err(Fail::said(name_span, unknown("function", name, FUNCTIONS))),
    })
}

fn latency<'a>(name: &str, args: &[Span<'a>], call: Span<'a>) -> Result<Latency, Fail<'a>> {
    let stat = match name {
        "p50" => Stat::P50,
        "p90" => Stat::P90,
        "p99" => Stat::P99,
        _ => Stat::Max,
    };
    let Some((measure, rest)) = args.split_first() else {
        return Err(Fail::said(call, format!("{name}() takes a measure, e.g. {name}(duration)")));
    };
    let measure = match measure.text() {
        "duration" => Measure::Duration,
        "upstream_service_time" => Measure::UpstreamServiceTime,
        m => return Err(Fail::said(*measure, unknown("measure", m, ["duration", "upstream_service_time"]))),
    };
    let (mut cluster, mut workload) = (None, None);
    for &span in rest {
        let arg = span.text();
        let (slot, value) = match arg.split_once(':') {
            Some(("upstream", v)) => (&mut cluster, v),
            Some(("workload", v)) => (&mut workload, v),
            _ => {
                return Err(Fail::said(
                    span,
                    format!("expected upstream:CLUSTER or workload:NAME, found '{arg}'"),
                ));
            }
        };
        if slot.is_some() || value.is_empty() {
            return Err(Fail::said(
                span,
                format!("'{arg}': give each of upstream: and workload: once, with a name"),
            ));
        }
        *slot = Some(value.to_string());
    }
    let upstream = match (cluster, workload) {
        (Some(cluster), workload) => Some(Upstream { cluster, workload }),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Fail::said(call, "workload: narrows an upstream: give upstream:CLUSTER too"));
        }
    };
    Ok(Latency { stat, measure, upstream })
}

fn selector(s: &str) -> Result<Selector, String> {
    Ok(match s {
        "lines" => Selector::Lines,
        "records" => Selector::Records,
        "failed" => Selector::Failed,
        "malformed" => Selector::Malformed,
        "skipped" => Selector::Skipped,
        _ if s.len() == 3 && s.ends_with("xx") && matches!(s.as_bytes()[0], b'1'..=b'5') => {
            Selector::Class(s.as_bytes()[0] - b'0')
        }
        _ if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Selector::Code(s.parse().map_err(|_| format!("bad code {s}"))?)
        }
        _ => match s.split_once(':') {
            Some(("cause", c)) => Selector::Cause(
                Cause::from_name(c)
                    .ok_or_else(|| unknown("cause", c, Cause::ALL.iter().map(|c| c.name())))?,
            ),
            Some(("flag", f)) => Selector::Flag(
                Flag::from_name(f.as_bytes())
                    .ok_or_else(|| format!("unknown response flag '{f}' (e.g. UF, URX, UT)"))?,
            ),
            Some(("domain", d)) => Selector::Domain(
                Domain::ALL
                    .into_iter()
                    .find(|x| x.name() == d)
                    .ok_or_else(|| unknown("domain", d, Domain::ALL.iter().map(|d| d.name())))?,
            ),
            Some(("reporter", r)) => Selector::Reporter(
                Reporter::ALL
                    .into_iter()
                    .find(|x| x.name() == r)
                    .ok_or_else(|| unknown("reporter", r, Reporter::ALL.iter().map(|r| r.name())))?,
            ),
            _ => {
                return Err(format!(
                    "unknown selector '{s}' (records, failed, malformed, skipped, lines, a code like 503, a class like 5xx, cause:X, flag:X, domain:X, reporter:X)"
                ));
            }
        },
    })
}
