//! `--fail-on`: a small expression language over the summary, for CI and alerting.
//!
//! ```text
//! rate(5xx) > 1%              count(cause:tls_failure) > 0      cause(no_route) >= 10
//! rate(flag:UF) > 0.5%        count(malformed) > 0              rate(failed) > 2% and count(records) > 100
//! p99(duration) > 2s          max(duration, upstream:outbound|8080||orders.shop.svc.cluster.local) > 500ms
//! ```
//! Grammar (docs/fail-on.md is the user's copy): `expr = and ("or"|"||" and)*`,
//! `and = cmp ("and"|"&&" cmp)*`, `cmp = "(" expr ")" | operand op operand`,
//! `operand = number ["%" | "ms" | "s"] | NAME "(" arg ("," arg)* ")"`.
//!
//! Every comparison is typed when parsed, because a threshold of the wrong kind silently never
//! fires: a count takes a plain number, a rate a percentage, a latency a duration with its unit,
//! and one side must come from the logs. Rates are compared as printed (a percentage rounded to
//! three decimals). A value the logs cannot give (a rate without records, a percentile without
//! durations, an upstream not seen) makes its comparison not met, and the explanation says why.
//!
//! Here: the parsed expression and its evaluation. `parse` is the grammar, in nom (small named
//! sub-parsers; an error points at its token, and the nesting depth is bounded); `resolve` turns
//! names into operands and checks the kinds of each comparison; `error` is the error and its
//! carets. Parsed by `crate::config`; evaluated against the owned [`Summary`] by `crate::app`.

mod error;
mod parse;
mod resolve;

pub use error::FailOnError;

use crate::classify::{Cause, Domain, Reporter};
use crate::response_flags::Flag;
use crate::summary::{Percentiles, Summary, UpstreamSummary};

/// Parentheses nested deeper than this are an error (recursion would otherwise exhaust the stack).
pub const MAX_DEPTH: usize = 64;

/// A parsed `--fail-on` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Cmp(Operand, Op, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A plain number, compared with counts.
    Number(f64),
    /// A percentage in percent (`1%` is `1.0`), compared with rates.
    Percent(f64),
    /// A duration in milliseconds (`2s` is `2000.0`), compared with latencies.
    Duration(f64),
    Count(Selector),
    Rate(Selector),
    Latency(Latency),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Lines,
    Records,
    Failed,
    Malformed,
    Skipped,
    Code(u16),
    /// `5xx`: the first digit.
    Class(u8),
    Cause(Cause),
    Flag(Flag),
    Domain(Domain),
    Reporter(Reporter),
}

/// `p99(duration)`, `max(upstream_service_time, upstream:NAME, workload:NAME)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub stat: Stat,
    pub measure: Measure,
    /// `None`: over every record.
    pub upstream: Option<Upstream>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P99,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `%DURATION%`: the whole request as the proxy saw it.
    Duration,
    /// `x-envoy-upstream-service-time`: the upstream's own time.
    UpstreamServiceTime,
}

/// An upstream cluster, as the report names it; inbound clusters of different workloads share
/// names (`inbound|8080||`), so a workload can narrow the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub cluster: String,
    pub workload: Option<String>,
}

impl Expr {
    /// Parses and checks an expression: a mistake is an error pointing at the part at fault.
    pub fn parse(text: &str) -> Result<Expr, FailOnError> {
        parse::expression(text)
    }

    /// True when the condition holds for the summary. A comparison with a value the logs cannot
    /// give (see [`Expr::undecided`]) does not hold.
    pub fn eval(&self, s: &Summary) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(s) || b.eval(s),
            Expr::And(a, b) => a.eval(s) && b.eval(s),
            Expr::Cmp(a, op, b) => {
                let (Ok(x), Ok(y)) = (value(a, s), value(b, s)) else { return false };
                match op {
                    Op::Gt => x > y,
                    Op::Ge => x >= y,
                    Op::Lt => x < y,
                    Op::Le => x <= y,
                    Op::Eq => x == y,
                    Op::Ne => x != y,
                }
            }
        }
    }

    /// Whether some value in the expression cannot be had from these logs (a rate without
    /// records, a percentile without durations, an upstream not seen).
    pub fn undecided(&self, s: &Summary) -> bool {
        let mut any = false;
        self.walk(&mut |o| any |= value(o, s).is_err());
        any
    }

    /// Every value the expression reads from the logs, as printed when it is met: rates with
    /// the three decimals they are compared at, and `n/a (why)` for those the logs cannot give.
    pub fn explain(&self, s: &Summary) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.walk(&mut |o| {
            let shown = match (o, value(o, s)) {
                (Operand::Number(_) | Operand::Percent(_) | Operand::Duration(_), _) => return,
                (_, Err(why)) => format!("{} = n/a ({why})", name(o)),
                (Operand::Count(_), Ok(v)) => format!("{} = {v}", name(o)),
                (Operand::Rate(_), Ok(v)) => format!("{} = {v:.3}%", name(o)),
                (Operand::Latency(_), Ok(v)) => format!("{} = {v} ms", name(o)),
            };
            if !out.contains(&shown) {
                out.push(shown);
            }
        });
        out
    }

    fn walk(&self, f: &mut impl FnMut(&Operand)) {
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Cmp(a, _, b) => {
                f(a);
                f(b);
            }
        }
    }
}

/// The operand as the explanation names it.
fn name(o: &Operand) -> String {
    match o {
        Operand::Number(n) => n.to_string(),
        Operand::Percent(n) => format!("{n}%"),
        Operand::Duration(ms) => format!("{ms}ms"),
        Operand::Count(sel) => format!("count({})", sel_name(sel)),
        Operand::Rate(sel) => format!("rate({})", sel_name(sel)),
        Operand::Latency(l) => {
            let stat = match l.stat {
                Stat::P50 => "p50",
                Stat::P90 => "p90",
                Stat::P99 => "p99",
                Stat::Max => "max",
            };
            let measure = match l.measure {
                Measure::Duration => "duration",
                Measure::UpstreamServiceTime => "upstream_service_time",
            };
            match &l.upstream {
                None => format!("{stat}({measure})"),
                Some(Upstream { cluster, workload: None }) => {
                    format!("{stat}({measure}, upstream:{cluster})")
                }
                Some(Upstream { cluster, workload: Some(w) }) => {
                    format!("{stat}({measure}, upstream:{cluster}, workload:{w})")
                }
            }
        }
    }
}

fn sel_name(sel: &Selector) -> String {
    match sel {
        Selector::Lines => "lines".into(),
        Selector::Records => "records".into(),
        Selector::Failed => "failed".into(),
        Selector::Malformed => "malformed".into(),
        Selector::Skipped => "skipped".into(),
        Selector::Code(c) => c.to_string(),
        Selector::Class(c) => format!("{c}xx"),
        Selector::Cause(c) => format!("cause:{}", c.name()),
        Selector::Flag(f) => format!("flag:{}", f.short()),
        Selector::Domain(d) => format!("domain:{}", d.name()),
        Selector::Reporter(r) => format!("reporter:{}", r.name()),
    }
}

fn count(sel: &Selector, s: &Summary) -> u64 {
    let t = &s.totals;
    match sel {
        Selector::Lines => t.lines,
        // Under filters, the records analysed: the condition is about the filtered set.
        Selector::Records => t.analysed,
        Selector::Failed => t.failed,
        Selector::Malformed => t.malformed,
        Selector::Skipped => t.skipped,
        Selector::Code(c) => s.by_code.get(&c.to_string()),
        Selector::Class(d) => s
            .by_code
            .0
            .iter()
            .filter(|(c, _)| c.len() == 3 && c.as_bytes()[0] == b'0' + d)
            .map(|(_, n)| n)
            .sum(),
        Selector::Cause(c) => s.by_cause.get(c.name()),
        Selector::Flag(f) => s.by_flag.get(f.short()),
        Selector::Domain(d) => s.by_domain.get(d.name()),
        Selector::Reporter(r) => s.by_reporter.get(r.name()),
    }
}

/// The operand's value — counts as counts, rates in percent rounded to the three decimals the
/// explanation prints, latencies in milliseconds — or why the logs cannot give it.
fn value(o: &Operand, s: &Summary) -> Result<f64, String> {
    Ok(match o {
        Operand::Number(n) | Operand::Percent(n) | Operand::Duration(n) => *n,
        Operand::Count(sel) => count(sel, s) as f64,
        Operand::Rate(sel) => {
            let (base, none) = match sel {
                Selector::Malformed | Selector::Skipped | Selector::Lines => (s.totals.lines, "no lines"),
                _ => (s.totals.analysed, "no records"),
            };
            if base == 0 {
                return Err(none.into());
            }
            (count(sel, s) as f64 * 100_000.0 / base as f64).round() / 1000.0
        }
        Operand::Latency(l) => {
            let p = match &l.upstream {
                None => match l.measure {
                    Measure::Duration => &s.duration_ms,
                    Measure::UpstreamServiceTime => &s.upstream_service_time_ms,
                },
                Some(u) => {
                    let up = upstream(u, s)?;
                    match l.measure {
                        Measure::Duration => &up.duration_ms,
                        Measure::UpstreamServiceTime => &up.upstream_service_time_ms,
                    }
                }
            };
            stat(p, l.stat).ok_or_else(|| match l.measure {
                Measure::Duration => "no durations in the logs".to_string(),
                Measure::UpstreamServiceTime => "no upstream service times in the logs".to_string(),
            })? as f64
        }
    })
}

fn stat(p: &Percentiles, stat: Stat) -> Option<u64> {
    match stat {
        Stat::P50 => p.p50,
        Stat::P90 => p.p90,
        Stat::P99 => p.p99,
        Stat::Max => p.max,
    }
}

/// The one upstream the selector names; percentiles of several cannot be combined.
fn upstream<'s>(u: &Upstream, s: &'s Summary) -> Result<&'s UpstreamSummary, String> {
    let matching: Vec<&UpstreamSummary> = s
        .upstreams
        .iter()
        .filter(|x| {
            x.cluster == u.cluster && u.workload.as_ref().is_none_or(|w| x.workload.as_ref() == Some(w))
        })
        .collect();
    match matching[..] {
        [one] => Ok(one),
        [] => Err(match &u.workload {
            None => format!("no upstream {} in the logs", u.cluster),
            Some(w) => format!("no upstream {} of workload {w} in the logs", u.cluster),
        }),
        _ => Err(format!(
            "{} upstreams are named {}, of workloads {}: add workload:NAME",
            matching.len(),
            u.cluster,
            matching.iter().map(|x| x.workload.as_deref().unwrap_or("-")).collect::<Vec<_>>().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests;
