//! `--fail-on`: a small expression language over the summary, for CI and alerting.
//!
//! ```text
//! rate(5xx) > 1%              count(cause:tls_failure) > 0      cause(no_route) >= 10
//! rate(flag:UF) > 0.5%        count(malformed) > 0              rate(failed) > 2% and count(records) > 100
//! ```
//! Grammar: `expr = and ("or"|"||" and)*`, `and = cmp ("and"|"&&" cmp)*`,
//! `cmp = operand (">"|">="|"<"|"<="|"=="|"!=") operand | "(" expr ")"`,
//! `operand = number ["%"] | count(SEL) | rate(SEL) | cause(X) | flag(X) | code(N) | domain(X) |
//! reporter(X)`. Selectors: `records`, `failed`, `malformed`, `skipped`, `lines`, a code (`503`)
//! or class (`5xx`), `cause:X`, `flag:X`, `domain:X`, `reporter:X`. `rate(SEL)` is
//! `count(SEL) / records` (`rate(malformed)` and `rate(skipped)` are per line), and `1%` is
//! `0.01`. Parsed with nom; evaluated against the owned [`Summary`] by `crate::app`.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while1},
    character::complete::{char, multispace0},
    combinator::{all_consuming, map, opt, recognize},
    multi::many0,
    number::complete::double,
    sequence::{delimited, pair, preceded, terminated},
};

use crate::classify::{Cause, Domain, Reporter};
use crate::response_flags::Flag;
use crate::summary::Summary;

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
    Number(f64),
    Count(Selector),
    Rate(Selector),
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailOnError {
    #[error("--fail-on '{expr}': cannot read it at column {column}: expected {expected}")]
    Syntax { expr: String, column: usize, expected: &'static str },
    #[error("--fail-on '{expr}': {message}")]
    Meaning { expr: String, message: String },
}

fn ws<'a, O>(
    inner: impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>,
) -> impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>> {
    delimited(multispace0, inner, multispace0)
}

fn word(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))(i)
}

/// A raw call before its selector is checked: (function, argument).
#[derive(Debug)]
enum RawOperand<'a> {
    Number(f64),
    Call(&'a str, &'a str),
}

#[derive(Debug)]
enum RawExpr<'a> {
    Or(Box<RawExpr<'a>>, Box<RawExpr<'a>>),
    And(Box<RawExpr<'a>>, Box<RawExpr<'a>>),
    Cmp(RawOperand<'a>, Op, RawOperand<'a>),
}

fn operand(i: &str) -> IResult<&str, RawOperand<'_>> {
    alt((
        map(pair(ws(word), delimited(char('('), ws(word), char(')'))), |(f, a)| RawOperand::Call(f, a)),
        map(pair(ws(double), opt(ws(char('%')))), |(n, pct)| {
            RawOperand::Number(if pct.is_some() { n / 100.0 } else { n })
        }),
    ))
    .parse(i)
}

fn op(i: &str) -> IResult<&str, Op> {
    ws(alt((
        map(tag(">="), |_| Op::Ge),
        map(tag("<="), |_| Op::Le),
        map(tag("=="), |_| Op::Eq),
        map(tag("!="), |_| Op::Ne),
        map(tag(">"), |_| Op::Gt),
        map(tag("<"), |_| Op::Lt),
    )))
    .parse(i)
}

fn comparison(i: &str) -> IResult<&str, RawExpr<'_>> {
    alt((
        delimited(ws(char('(')), expr, ws(char(')'))),
        map((operand, op, operand), |(a, o, b)| RawExpr::Cmp(a, o, b)),
    ))
    .parse(i)
}

fn and_expr(i: &str) -> IResult<&str, RawExpr<'_>> {
    let (i, first) = comparison(i)?;
    let (i, rest) =
        many0(preceded(ws(alt((tag("&&"), terminated(tag("and"), multispace0)))), comparison)).parse(i)?;
    Ok((i, rest.into_iter().fold(first, |a, b| RawExpr::And(Box::new(a), Box::new(b)))))
}

fn expr(i: &str) -> IResult<&str, RawExpr<'_>> {
    let (i, first) = and_expr(i)?;
    let (i, rest) =
        many0(preceded(ws(alt((tag("||"), terminated(tag("or"), multispace0)))), and_expr)).parse(i)?;
    Ok((i, rest.into_iter().fold(first, |a, b| RawExpr::Or(Box::new(a), Box::new(b)))))
}

fn selector(s: &str) -> Result<Selector, String> {
    let names = |list: Vec<&str>| list.join(", ");
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
            Some(("cause", c)) => Selector::Cause(Cause::from_name(c).ok_or_else(|| {
                format!(
                    "unknown cause '{c}' (causes: {})",
                    names(Cause::ALL.iter().map(|c| c.name()).collect())
                )
            })?),
            Some(("flag", f)) => Selector::Flag(
                Flag::from_name(f.as_bytes())
                    .ok_or_else(|| format!("unknown response flag '{f}' (e.g. UF, URX, UT)"))?,
            ),
            Some(("domain", d)) => {
                Selector::Domain(Domain::ALL.into_iter().find(|x| x.name() == d).ok_or_else(|| {
                    format!(
                        "unknown domain '{d}' (domains: {})",
                        names(Domain::ALL.iter().map(|d| d.name()).collect())
                    )
                })?)
            }
            Some(("reporter", r)) => {
                Selector::Reporter(Reporter::ALL.into_iter().find(|x| x.name() == r).ok_or_else(|| {
                    format!(
                        "unknown reporter '{r}' (reporters: {})",
                        names(Reporter::ALL.iter().map(|r| r.name()).collect())
                    )
                })?)
            }
            _ => {
                return Err(format!(
                    "unknown selector '{s}' (records, failed, malformed, skipped, lines, a code like 503, a class like 5xx, cause:X, flag:X, domain:X, reporter:X)"
                ));
            }
        },
    })
}

fn resolve(raw: RawOperand<'_>) -> Result<Operand, String> {
    Ok(match raw {
        RawOperand::Number(n) => Operand::Number(n),
        RawOperand::Call(f, a) => match f {
            "count" => Operand::Count(selector(a)?),
            "rate" => Operand::Rate(selector(a)?),
            "cause" | "flag" | "domain" | "reporter" => Operand::Count(selector(&format!("{f}:{a}"))?),
            "code" => Operand::Count(selector(a)?),
            _ => {
                return Err(format!(
                    "unknown function '{f}' (count, rate, cause, flag, code, domain, reporter)"
                ));
            }
        },
    })
}

fn resolve_expr(raw: RawExpr<'_>) -> Result<Expr, String> {
    Ok(match raw {
        RawExpr::Or(a, b) => Expr::Or(Box::new(resolve_expr(*a)?), Box::new(resolve_expr(*b)?)),
        RawExpr::And(a, b) => Expr::And(Box::new(resolve_expr(*a)?), Box::new(resolve_expr(*b)?)),
        RawExpr::Cmp(a, o, b) => Expr::Cmp(resolve(a)?, o, resolve(b)?),
    })
}

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, FailOnError> {
        let raw = match all_consuming(ws(recognize(expr))).parse(text) {
            Ok(_) => expr(text).expect("recognised above").1,
            Err(e) => {
                let rest = match &e {
                    nom::Err::Error(e) | nom::Err::Failure(e) => e.input,
                    nom::Err::Incomplete(_) => "",
                };
                // Point at the longest prefix that parses.
                let column = match expr(text) {
                    Ok((after, _)) => text.len() - after.len() + 1,
                    Err(_) => text.len() - rest.len() + 1,
                };
                return Err(FailOnError::Syntax {
                    expr: text.to_string(),
                    column,
                    expected: "a comparison such as `rate(5xx) > 1%` or `count(cause:tls_failure) > 0`, joined by `and`/`or`",
                });
            }
        };
        resolve_expr(raw).map_err(|message| FailOnError::Meaning { expr: text.to_string(), message })
    }

    /// True when the condition holds for the summary.
    pub fn eval(&self, s: &Summary) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(s) || b.eval(s),
            Expr::And(a, b) => a.eval(s) && b.eval(s),
            Expr::Cmp(a, op, b) => {
                let (x, y) = (value(a, s), value(b, s));
                match op {
                    Op::Gt => x > y,
                    Op::Ge => x >= y,
                    Op::Lt => x < y,
                    Op::Le => x <= y,
                    Op::Eq => (x - y).abs() < 1e-12,
                    Op::Ne => (x - y).abs() >= 1e-12,
                }
            }
        }
    }

    /// The values of every function in the expression, for the message when it is met.
    pub fn explain(&self, s: &Summary) -> Vec<String> {
        let mut out = Vec::new();
        self.walk(&mut |o| match o {
            Operand::Count(sel) => out.push(format!("count({}) = {}", sel_name(sel), count(sel, s))),
            Operand::Rate(sel) => out.push(format!("rate({}) = {:.3}%", sel_name(sel), value(o, s) * 100.0)),
            Operand::Number(_) => {}
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

fn value(o: &Operand, s: &Summary) -> f64 {
    match o {
        Operand::Number(n) => *n,
        Operand::Count(sel) => count(sel, s) as f64,
        Operand::Rate(sel) => {
            let base = match sel {
                Selector::Malformed | Selector::Skipped | Selector::Lines => s.totals.lines,
                _ => s.totals.records,
            };
            if base == 0 { 0.0 } else { count(sel, s) as f64 / base as f64 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            Expr::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
        assert_eq!(
            Expr::parse("rate(5xx) > 1%").unwrap(),
            Expr::Cmp(Operand::Rate(Selector::Class(5)), Op::Gt, Operand::Number(0.01))
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
}
