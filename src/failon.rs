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
//! A hand-written recursive descent over byte offsets, so that every error points at its token
//! (a caret line under the expression) and the nesting depth is bounded. Parsed by `crate::config`;
//! evaluated against the owned [`Summary`] by `crate::app`.

use std::fmt;

use crate::classify::{Cause, Domain, Reporter};
use crate::report::escape_controls;
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

/// What is wrong with an expression, and where: `start..end` are byte offsets into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailOnError {
    pub expr: String,
    pub start: usize,
    pub end: usize,
    pub message: String,
}

impl std::error::Error for FailOnError {}

/// The message, then the expression with carets under the offending part (as clap and rustc
/// do). Both are escaped: the expression is an argument, and may hold anything.
impl fmt::Display for FailOnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, end) = (self.start.min(self.expr.len()), self.end.min(self.expr.len()));
        let before = escape_controls(&self.expr[..start]).chars().count();
        let width = escape_controls(&self.expr[start..end]).chars().count().max(1);
        write!(
            f,
            "--fail-on: {}\n  {}\n  {}{}",
            escape_controls(&self.message),
            escape_controls(&self.expr),
            " ".repeat(before),
            "^".repeat(width)
        )
    }
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, FailOnError> {
        let mut p = Parser { text, pos: 0 };
        let result = p.expr(0).and_then(|e| match p.peek() {
            None => Ok(e),
            Some(_) => Err(p.expected("`and`, `or` or the end")),
        });
        result.map_err(|(start, end, message)| FailOnError { expr: text.to_string(), start, end, message })
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

/// A parse error: (start, end, message).
type PError = (usize, usize, String);

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What a function argument may hold: cluster names have `|`, `.`, `:` and more.
fn is_arg(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '(' | ')' | ','))
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    /// The next character after white space, which is skipped.
    fn peek(&mut self) -> Option<char> {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
        trimmed.chars().next()
    }

    fn eat(&mut self, s: &str) -> bool {
        self.peek();
        let found = self.rest().starts_with(s);
        if found {
            self.pos += s.len();
        }
        found
    }

    /// A keyword: `and` but not `android`.
    fn eat_keyword(&mut self, k: &str) -> bool {
        self.peek();
        let found = self.rest().strip_prefix(k).is_some_and(|after| !after.starts_with(is_ident));
        if found {
            self.pos += k.len();
        }
        found
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> (usize, &'a str) {
        let start = self.pos;
        let len = self.rest().find(|c: char| !f(c)).unwrap_or(self.rest().len());
        self.pos += len;
        (start, &self.text[start..self.pos])
    }

    /// "expected WHAT, found X" at the next token (an argument-like word, one character, or
    /// the end).
    fn expected(&mut self, what: &str) -> PError {
        let next = self.peek();
        let start = self.pos;
        let column = self.text[..start].chars().count() + 1;
        let Some(c) = next else {
            return (start, start, format!("expected {what} at column {column}, found the end"));
        };
        let len = if is_arg(c) {
            self.rest().find(|c: char| !is_arg(c)).unwrap_or(self.rest().len())
        } else {
            c.len_utf8()
        };
        let token = &self.text[start..start + len];
        (start, start + len, format!("expected {what} at column {column}, found '{token}'"))
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, PError> {
        let mut e = self.and(depth)?;
        while self.eat_keyword("or") || self.eat("||") {
            e = Expr::Or(Box::new(e), Box::new(self.and(depth)?));
        }
        Ok(e)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, PError> {
        let mut e = self.cmp(depth)?;
        while self.eat_keyword("and") || self.eat("&&") {
            e = Expr::And(Box::new(e), Box::new(self.cmp(depth)?));
        }
        Ok(e)
    }

    fn cmp(&mut self, depth: usize) -> Result<Expr, PError> {
        self.peek();
        let start = self.pos;
        if self.eat("(") {
            if depth >= MAX_DEPTH {
                return Err((start, start + 1, format!("parentheses nest deeper than {MAX_DEPTH}")));
            }
            let e = self.expr(depth + 1)?;
            if !self.eat(")") {
                let column = self.text[..start].chars().count() + 1;
                return Err(self.expected(&format!("`)` closing the `(` of column {column}")));
            }
            return Ok(e);
        }
        let (a, a_span) = self.operand()?;
        let op = self.op()?;
        let (b, b_span) = self.operand()?;
        check(&a, a_span, &b, b_span, self.text).map_err(|(s, e, m)| {
            // No span of its own: the whole comparison.
            if s == e { (start, self.pos, m) } else { (s, e, m) }
        })?;
        Ok(Expr::Cmp(a, op, b))
    }

    fn op(&mut self) -> Result<Op, PError> {
        for (t, op) in
            [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), ("!=", Op::Ne), (">", Op::Gt), ("<", Op::Lt)]
        {
            if self.eat(t) {
                return Ok(op);
            }
        }
        if self.rest().starts_with('=') {
            return Err((self.pos, self.pos + 1, "`=` is not a comparison: write `==`".into()));
        }
        Err(self.expected("a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`)"))
    }

    /// An operand and its span.
    fn operand(&mut self) -> Result<(Operand, (usize, usize)), PError> {
        const WHAT: &str = "a number or a function such as rate(5xx)";
        let Some(c) = self.peek() else { return Err(self.expected(WHAT)) };
        let start = self.pos;
        if c == '-' || c == '+' {
            self.pos += 1;
            let (_, word) = self.take_while(is_arg);
            let end = self.pos;
            let message = if is_non_finite(word.trim_end_matches(['%', 's', 'm'])) {
                non_finite(&self.text[start..end])
            } else {
                format!(
                    "'{}': thresholds are written without a sign (counts, rates and durations are never below 0)",
                    &self.text[start..end]
                )
            };
            return Err((start, end, message));
        }
        if c.is_ascii_digit() || c == '.' {
            return self.number();
        }
        if !is_ident(c) {
            return Err(self.expected(WHAT));
        }
        let (_, name) = self.take_while(is_ident);
        let name_end = self.pos;
        if self.peek() != Some('(') {
            self.pos = name_end;
            if is_non_finite(name) {
                return Err((start, name_end, non_finite(name)));
            }
            if FUNCTIONS.contains(&name) {
                return Err((
                    start,
                    name_end,
                    format!("'{name}' takes an argument in parentheses, e.g. {name}(…)"),
                ));
            }
            self.pos = start;
            return Err(self.expected(WHAT));
        }
        self.pos += 1;
        let mut args = Vec::new();
        loop {
            if self.peek().is_none_or(|c| !is_arg(c)) {
                return Err(self.expected("an argument"));
            }
            let (s, arg) = self.take_while(is_arg);
            args.push((arg, (s, self.pos)));
            if self.eat(",") {
                continue;
            }
            if self.eat(")") {
                break;
            }
            return Err(self.expected("`,` or `)`"));
        }
        let span = (start, self.pos);
        let operand = resolve(name, (start, name_end), &args, span)?;
        Ok((operand, span))
    }

    /// `12`, `0.5`, `1%`, `250ms`, `2s`.
    fn number(&mut self) -> Result<(Operand, (usize, usize)), PError> {
        let (start, digits) = self.take_while(|c| c.is_ascii_digit() || c == '.');
        let n: f64 = digits.parse().map_err(|_| (start, self.pos, format!("'{digits}' is not a number")))?;
        if !n.is_finite() {
            return Err((start, self.pos, format!("'{digits}' is too large")));
        }
        let (unit_start, unit) = self.take_while(is_ident);
        let end = self.pos;
        let operand = match unit {
            "" if self.eat("%") => {
                if n > 100.0 {
                    return Err((
                        start,
                        self.pos,
                        format!("'{}': a rate is at most 100%", &self.text[start..self.pos]),
                    ));
                }
                Operand::Percent(n)
            }
            "" => {
                // Not a percentage: the white space looked past is not part of the number.
                self.pos = end;
                Operand::Number(n)
            }
            "ms" => Operand::Duration(n),
            "s" => Operand::Duration(n * 1000.0),
            _ => {
                return Err((unit_start, self.pos, format!("unknown unit '{unit}' (ms, s, or % for rates)")));
            }
        };
        Ok((operand, (start, self.pos)))
    }
}

fn is_non_finite(word: &str) -> bool {
    ["nan", "inf", "infinity"].iter().any(|w| word.eq_ignore_ascii_case(w))
}

fn non_finite(word: &str) -> String {
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

/// Refuses comparisons that could only ever be true or false by mistake. An empty span means
/// "the whole comparison".
fn check(
    a: &Operand,
    a_span: (usize, usize),
    b: &Operand,
    b_span: (usize, usize),
    text: &str,
) -> Result<(), PError> {
    let whole = |m: String| Err((0, 0, m));
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
    let written = &text[span.0..span.1];
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
    Err((span.0, span.1, message))
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

const FUNCTIONS: [&str; 11] =
    ["count", "rate", "cause", "flag", "code", "domain", "reporter", "p50", "p90", "p99", "max"];

/// A call, checked: `name` and each argument with its span.
fn resolve(
    name: &str,
    name_span: (usize, usize),
    args: &[(&str, (usize, usize))],
    span: (usize, usize),
) -> Result<Operand, PError> {
    let one = |usage: &str| match args {
        [(a, s)] => Ok((*a, *s)),
        _ => Err((span.0, span.1, format!("{name}() takes one argument, e.g. {usage}"))),
    };
    let sel = |(a, s): (&str, (usize, usize))| selector(a).map_err(|m| (s.0, s.1, m));
    Ok(match name {
        "count" => Operand::Count(sel(one("count(5xx)")?)?),
        "rate" => Operand::Rate(sel(one("rate(5xx)")?)?),
        "cause" | "flag" | "domain" | "reporter" => {
            let (a, s) = one(&format!("{name}(…)"))?;
            Operand::Count(selector(&format!("{name}:{a}")).map_err(|m| (s.0, s.1, m))?)
        }
        "code" => Operand::Count(sel(one("code(503)")?)?),
        "p50" | "p90" | "p99" | "max" => Operand::Latency(latency(name, args, span)?),
        _ => return Err((name_span.0, name_span.1, unknown("function", name, FUNCTIONS))),
    })
}

fn latency(name: &str, args: &[(&str, (usize, usize))], span: (usize, usize)) -> Result<Latency, PError> {
    let stat = match name {
        "p50" => Stat::P50,
        "p90" => Stat::P90,
        "p99" => Stat::P99,
        _ => Stat::Max,
    };
    let Some(((measure, m_span), rest)) = args.split_first() else {
        return Err((span.0, span.1, format!("{name}() takes a measure, e.g. {name}(duration)")));
    };
    let measure = match *measure {
        "duration" => Measure::Duration,
        "upstream_service_time" => Measure::UpstreamServiceTime,
        m => return Err((m_span.0, m_span.1, unknown("measure", m, ["duration", "upstream_service_time"]))),
    };
    let (mut cluster, mut workload) = (None, None);
    for (arg, s) in rest {
        let (slot, value) = match arg.split_once(':') {
            Some(("upstream", v)) => (&mut cluster, v),
            Some(("workload", v)) => (&mut workload, v),
            _ => {
                return Err((s.0, s.1, format!("expected upstream:CLUSTER or workload:NAME, found '{arg}'")));
            }
        };
        if slot.is_some() || value.is_empty() {
            return Err((
                s.0,
                s.1,
                format!("'{arg}': give each of upstream: and workload: once, with a name"),
            ));
        }
        *slot = Some(value.to_string());
    }
    let upstream = match (cluster, workload) {
        (Some(cluster), workload) => Some(Upstream { cluster, workload }),
        (None, None) => None,
        (None, Some(_)) => {
            return Err((span.0, span.1, "workload: narrows an upstream: give upstream:CLUSTER too".into()));
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
        Selector::Records => t.records,
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
                _ => (s.totals.records, "no records"),
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
mod tests {
    use super::*;
    use crate::summary::Counts;

    fn counts(entries: &[(&str, u64)]) -> Counts {
        Counts(entries.iter().map(|(k, n)| (k.to_string(), *n)).collect())
    }

    fn percentiles(p50: u64, p90: u64, p99: u64, max: u64) -> Percentiles {
        Percentiles { count: 10, p50: Some(p50), p90: Some(p90), p99: Some(p99), max: Some(max) }
    }

    fn upstream(cluster: &str, workload: Option<&str>, p99: u64) -> UpstreamSummary {
        UpstreamSummary {
            cluster: cluster.into(),
            workload: workload.map(Into::into),
            requests: 5,
            failed: 0,
            by_code: Counts::default(),
            by_flag: Counts::default(),
            by_cause: Counts::default(),
            duration_ms: percentiles(10, 20, p99, p99),
            upstream_service_time_ms: Percentiles::default(),
            windows: None,
        }
    }

    fn empty() -> Summary {
        Summary::build(&crate::aggregate::Aggregate::new(100), &[])
    }

    /// 11 records, 4 of them 503 (36.3636…%, printed 36.364%), with latencies.
    fn summary() -> Summary {
        let mut s = empty();
        s.totals.lines = 12;
        s.totals.records = 11;
        s.totals.malformed = 1;
        s.totals.failed = 4;
        s.by_code = counts(&[("200", 7), ("503", 4)]);
        s.by_cause = counts(&[("connection_refused", 4)]);
        s.duration_ms = percentiles(30, 900, 2100, 2500);
        s.upstreams = vec![
            upstream("outbound|8080||orders.shop.svc.cluster.local", None, 1200),
            upstream("inbound|8080||", Some("a"), 40),
            upstream("inbound|8080||", Some("b"), 70),
        ];
        s
    }

    #[test]
    fn parses_the_documented_forms() {
        for e in [
            "rate(5xx) > 1%",
            "cause(tls_failure) > 0",
            "count(cause:tls_failure) > 0",
            "rate(flag:UF) >= 0.5%",
            "count(malformed) > 0 or rate(503) > 2%",
            "(rate(failed) > 2% and count(records) > 100) || code(504) != 0",
            "domain(security)>0",
            "rate(5xx) > 1 %",
            "p99(duration) > 2s",
            "p50(duration) >= 250ms and p90(upstream_service_time) < 1.5s",
            "max(duration, upstream:outbound|8080||orders.shop.svc.cluster.local) > 1s",
            "p99( duration , upstream:inbound|8080|| , workload:httpbin ) > 100ms",
            "rate(5xx) > rate(4xx)",
        ] {
            Expr::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
        assert_eq!(
            Expr::parse("rate(5xx) > 1%").unwrap(),
            Expr::Cmp(Operand::Rate(Selector::Class(5)), Op::Gt, Operand::Percent(1.0))
        );
        assert_eq!(
            Expr::parse("p99(duration, upstream:x|1) > 2s").unwrap(),
            Expr::Cmp(
                Operand::Latency(Latency {
                    stat: Stat::P99,
                    measure: Measure::Duration,
                    upstream: Some(Upstream { cluster: "x|1".into(), workload: None }),
                }),
                Op::Gt,
                Operand::Duration(2000.0)
            )
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let e = Expr::parse("rate(5xx) >").unwrap_err().to_string();
        assert!(e.contains("column"), "{e}");
        let e = Expr::parse("cause(tls_fail) > 0").unwrap_err().to_string();
        assert!(e.contains("unknown cause 'tls_fail'") && e.contains("tls_failure"), "{e}");
        let e = Expr::parse("ratio(5xx) > 1").unwrap_err().to_string();
        assert!(e.contains("unknown function 'ratio'"), "{e}");
        let e = Expr::parse("rate(6xx) > 1").unwrap_err().to_string();
        assert!(e.contains("unknown selector '6xx'"), "{e}");
        assert!(Expr::parse("").is_err());
        assert!(Expr::parse("rate(5xx) > 1% and").is_err());
    }

    /// Each mistake: the message, and the token the carets are under (its last occurrence).
    #[test]
    fn errors_point_at_the_offending_token() {
        for (text, token, message) in [
            // A threshold of the wrong kind would silently never (or always) fire.
            ("rate(5xx) > 1", "1", "rate(5xx) is a percentage: write '1%' (a bare 1 is ambiguous)"),
            ("rate(5xx) > 0.05", "0.05", "write '0.05%', or '5%' if 0.05 is a fraction"),
            ("rate(5xx) > 1 or count(503) > 0", "1", "write '1%' (a bare 1 is ambiguous)"),
            ("p99(duration) > 2  and count(503) > 0", "2", "give '2' a unit, '2ms' or '2s'"),
            ("count(5xx) > 10%", "10%", "count(5xx) is a number of requests, not a percentage"),
            ("p99(duration) > 2", "2", "p99(duration) is a duration: give '2' a unit, '2ms' or '2s'"),
            ("p99(duration) > 10%", "10%", "p99(duration) is a duration: '10%' is a percentage"),
            ("count(503) < 2s", "2s", "count(503) is a count: '2s' is a duration"),
            ("rate(5xx) > 150%", "150%", "a rate is at most 100%"),
            ("rate(5xx) > count(503)", "rate(5xx) > count(503)", "cannot be compared: a rate with a count"),
            // Nothing from the logs.
            ("1 > 0", "1 > 0", "reads no counts from the logs"),
            ("count(503) > 0 or 2% < 1%", "2% < 1%", "reads no counts from the logs"),
            // Not finite, or signed: never met.
            ("rate(5xx) > nan", "nan", "'nan' is not a threshold: write a finite number"),
            ("count(503) > inf", "inf", "'inf' is not a threshold"),
            ("count(503) > -inf", "-inf", "'-inf' is not a threshold"),
            ("count(503) > NaN", "NaN", "'NaN' is not a threshold"),
            ("count(503) > -1", "-1", "written without a sign"),
            ("count(503) > 1.2.3", "1.2.3", "'1.2.3' is not a number"),
            ("p99(duration) > 2sec", "sec", "unknown unit 'sec'"),
            // Names.
            (
                "rate(cause:tls_failur) > 1%",
                "cause:tls_failur",
                "unknown cause 'tls_failur' (did you mean tls_failure?)",
            ),
            ("cause(tls_fail) > 0", "tls_fail", "unknown cause 'tls_fail' (did you mean tls_failure?)"),
            ("ratee(5xx) > 1%", "ratee", "unknown function 'ratee' (did you mean rate?)"),
            ("count(records) > 0 and rate(6xx) > 1%", "6xx", "unknown selector '6xx'"),
            ("p99(durations) > 1s", "durations", "unknown measure 'durations' (did you mean duration?)"),
            ("p99(duration, upstrem:x) > 1s", "upstrem:x", "expected upstream:CLUSTER or workload:NAME"),
            ("p99(duration, workload:x) > 1s", "p99(duration, workload:x)", "give upstream:CLUSTER too"),
            ("rate(5xx, 4xx) > 1%", "rate(5xx, 4xx)", "rate() takes one argument"),
            // Syntax: the token that could not be read.
            (
                "rate(5xx) >> 1",
                ">",
                "expected a number or a function such as rate(5xx) at column 12, found '>'",
            ),
            ("rate(5xx) 1%", "1%", "expected a comparison"),
            ("rate(5xx) = 1%", "=", "`=` is not a comparison: write `==`"),
            ("rate(5xx) > 1% count(503) > 0", "count", "expected `and`, `or` or the end at column 16"),
            ("rate(5xx > 1%", ">", "expected `,` or `)` at column 10, found '>'"),
            ("rate() > 1%", ")", "expected an argument"),
            ("rate > 1%", "rate", "'rate' takes an argument in parentheses, e.g. rate(…)"),
            (
                "count(503) > 0 or tls_failure > 0",
                "tls_failure",
                "expected a number or a function such as rate(5xx) at column 19, found 'tls_failure'",
            ),
            ("(rate(5xx) > 1%", "", "expected `)` closing the `(` of column 1 at column 16, found the end"),
            ("rate(5xx) > 1% and", "", "found the end"),
        ] {
            let e = Expr::parse(text).expect_err(text);
            assert!(e.message.contains(message), "{text}: {}", e.message);
            let start = if token.is_empty() { text.len() } else { text.rfind(token).unwrap() };
            assert_eq!((e.start, e.end), (start, start + token.len()), "{text}: {}", e.message);
        }
    }

    #[test]
    fn errors_show_the_expression_escaped_with_carets() {
        let e = Expr::parse("rate(cause:tls_failur) > 1%").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--fail-on: unknown cause 'tls_failur' (did you mean tls_failure?)\n  rate(cause:tls_failur) > 1%\n       ^^^^^^^^^^^^^^^^"
        );
        // A terminal escape in the argument reaches stderr as text, and the carets stay under it.
        let e = Expr::parse("rate(x\x1b[2J) > 1%").unwrap_err().to_string();
        assert!(!e.contains('\x1b'), "{e:?}");
        assert!(e.ends_with("  rate(x\\x1b[2J) > 1%\n       ^^^^^^^^"), "{e}");
        // At the end: one caret after the last character.
        let e = Expr::parse("rate(5xx) >").unwrap_err().to_string();
        assert!(e.ends_with("  rate(5xx) >\n             ^"), "{e}");
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}count(records) > 0{}", "(".repeat(n), ")".repeat(n));
        assert!(Expr::parse(&nested(MAX_DEPTH)).is_ok());
        for n in [MAX_DEPTH + 1, 7_200, 100_000] {
            let e = Expr::parse(&nested(n)).unwrap_err();
            assert!(e.message.contains("parentheses nest deeper than 64"), "{}", e.message);
            assert_eq!((e.start, e.end), (MAX_DEPTH, MAX_DEPTH + 1));
        }
    }

    /// (expression, met, explanation) on `summary()`.
    #[test]
    fn evaluates_against_the_summary() {
        let s = summary();
        for (text, met, explained) in [
            ("rate(5xx) > 1%", true, "rate(5xx) = 36.364%"),
            ("rate(5xx) > 40%", false, "rate(5xx) = 36.364%"),
            // Compared as printed: the rate is 36.3636…%.
            ("rate(5xx) == 36.364%", true, "rate(5xx) = 36.364%"),
            ("rate(5xx) != 36.364%", false, "rate(5xx) = 36.364%"),
            ("rate(5xx) <= 36.364%", true, "rate(5xx) = 36.364%"),
            ("rate(5xx) > 36.364%", false, "rate(5xx) = 36.364%"),
            ("rate(5xx) >= 36.3636%", true, "rate(5xx) = 36.364%"),
            ("rate(malformed) == 8.333%", true, "rate(malformed) = 8.333%"),
            (
                "count(503) >= 4 and count(cause:connection_refused) == 4",
                true,
                "count(503) = 4, count(cause:connection_refused) = 4",
            ),
            ("rate(5xx) > rate(2xx)", false, "rate(5xx) = 36.364%, rate(2xx) = 63.636%"),
            ("p99(duration) > 2s", true, "p99(duration) = 2100 ms"),
            ("p99(duration) > 2.1s", false, "p99(duration) = 2100 ms"),
            (
                "p50(duration) == 30ms and p90(duration) < 1s and max(duration) >= 2.5s",
                true,
                "p50(duration) = 30 ms, p90(duration) = 900 ms, max(duration) = 2500 ms",
            ),
            (
                "p99(duration, upstream:outbound|8080||orders.shop.svc.cluster.local) > 1s",
                true,
                "p99(duration, upstream:outbound|8080||orders.shop.svc.cluster.local) = 1200 ms",
            ),
            (
                "p99(duration, upstream:inbound|8080||, workload:b) > 50ms",
                true,
                "p99(duration, upstream:inbound|8080||, workload:b) = 70 ms",
            ),
            // Values the logs cannot give: not met, and the explanation says why.
            (
                "p99(duration, upstream:inbound|8080||) > 0ms",
                false,
                "= n/a (2 upstreams are named inbound|8080||, of workloads a, b: add workload:NAME)",
            ),
            (
                "p99(duration, upstream:nope) < 1s",
                false,
                "p99(duration, upstream:nope) = n/a (no upstream nope in the logs)",
            ),
            (
                "p99(upstream_service_time) < 1s",
                false,
                "p99(upstream_service_time) = n/a (no upstream service times in the logs)",
            ),
            (
                "p99(upstream_service_time) < 1s or count(503) > 0",
                true,
                "n/a (no upstream service times in the logs), count(503) = 4",
            ),
        ] {
            let e = Expr::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(e.eval(&s), met, "{text}");
            let explanation = e.explain(&s).join(", ");
            assert!(explanation.contains(explained), "{text}: {explanation}");
        }
    }

    /// With no records a rate is undefined, not 0%: `rate(5xx) < 1%` must not pass on an empty
    /// input (a log source that stopped sending), and saying why beats a silent exit code 0.
    #[test]
    fn rates_without_records_are_not_met() {
        let s = empty();
        for (text, met, undecided, explained) in [
            ("rate(5xx) < 1%", false, true, "rate(5xx) = n/a (no records)"),
            ("rate(5xx) >= 0%", false, true, "rate(5xx) = n/a (no records)"),
            ("rate(5xx) != 1%", false, true, "rate(5xx) = n/a (no records)"),
            ("rate(malformed) < 1%", false, true, "rate(malformed) = n/a (no lines)"),
            ("p99(duration) < 1s", false, true, "p99(duration) = n/a (no durations in the logs)"),
            ("count(records) == 0", true, false, "count(records) = 0"),
            (
                "count(records) == 0 or rate(5xx) > 1%",
                true,
                true,
                "count(records) = 0, rate(5xx) = n/a (no records)",
            ),
        ] {
            let e = Expr::parse(text).unwrap();
            assert_eq!((e.eval(&s), e.undecided(&s)), (met, undecided), "{text}");
            assert_eq!(e.explain(&s).join(", "), explained, "{text}");
        }
    }
}
