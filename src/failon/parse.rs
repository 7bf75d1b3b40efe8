//! The `--fail-on` grammar (see `super` for it in one place), in nom: one small named sub-parser
//! per rule, over the remaining input. Names and kinds are checked by `super::resolve`; mistakes
//! are `super::error::Fail`s, made into a `FailOnError` at the end of [`expression`].
//!
//! Once a sub-parser has recognised its first token, it commits: whatever goes wrong after is a
//! `nom::Err::Failure` (see [`expect`]), never a backtrack, so that the error points at the
//! offending token instead of at wherever an alternative gave up. The nesting depth is an
//! argument, bounded by [`MAX_DEPTH`]: each `(` recurses.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take, take_while, take_while1},
    character::complete::{char, one_of, satisfy},
    combinator::{eof, not, opt, value},
    multi::{many0, separated_list1},
    sequence::{preceded, terminated},
};

use super::error::{Fail, FailOnError, Span, Why};
use super::resolve::{FUNCTIONS, check, is_non_finite, non_finite, resolve};
use super::{Expr, MAX_DEPTH, Op, Operand};

type PResult<'a, O> = IResult<&'a str, O, Fail<'a>>;

const OPERAND: &str = "a number or a function such as rate(5xx)";

/// The whole of `text`, as one expression.
pub(super) fn expression(text: &str) -> Result<Expr, FailOnError> {
    let end = expect(Why::Expected("`and`, `or` or the end"), preceded(ws, eof));
    match terminated(|i| expr(i, 0), end).parse(text) {
        Ok((_, e)) => Ok(e),
        Err(nom::Err::Error(fail) | nom::Err::Failure(fail)) => Err(fail.into_error(text)),
        // Complete parsers never ask for more input; were one to, the end is where it is missing.
        Err(nom::Err::Incomplete(_)) => Err(Fail { span: Span::new("", ""), why: Why::Nom }.into_error(text)),
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What a function argument may hold: cluster names have `|`, `.`, `:` and more.
fn is_arg(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '(' | ')' | ','))
}

/// White space, as `str::trim_start` sees it.
fn ws(i: &str) -> PResult<'_, &str> {
    take_while(char::is_whitespace)(i)
}

fn symbol<'a>(s: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = Fail<'a>> {
    preceded(ws, tag(s))
}

/// A word such as `and`, but not the start of `android`.
fn keyword<'a>(k: &'static str) -> impl Parser<&'a str, Output = &'a str, Error = Fail<'a>> {
    terminated(symbol(k), not(satisfy(is_ident)))
}

/// The part of the input `p` reads.
fn spanned<'a, O>(
    mut p: impl Parser<&'a str, Output = O, Error = Fail<'a>>,
) -> impl Parser<&'a str, Output = Span<'a>, Error = Fail<'a>> {
    move |i: &'a str| {
        let (rest, _) = p.parse(i)?;
        Ok((rest, Span::new(i, rest)))
    }
}

/// `p`, or else a failure saying what was expected, under the next token: nom's `cut`, with the
/// error a user can read.
fn expect<'a, O>(
    why: Why<'a>,
    mut p: impl Parser<&'a str, Output = O, Error = Fail<'a>>,
) -> impl Parser<&'a str, Output = O, Error = Fail<'a>> {
    move |i: &'a str| match p.parse(i) {
        Err(nom::Err::Error(_)) => Err(nom::Err::Failure(Fail { span: next_token(i), why: why.clone() })),
        done => done,
    }
}

/// The token an "expected …" error is under: a word as an argument is one, or one other
/// character, or (empty) the end.
fn next_token(i: &str) -> Span<'_> {
    let (from, _) = ws(i).unwrap_or((i, ""));
    let token: PResult<'_, &str> = alt((take_while1(is_arg), take(1usize))).parse(from);
    Span::new(from, token.map_or(from, |(to, _)| to))
}

fn failure<'a, O>(span: Span<'a>, message: impl Into<String>) -> PResult<'a, O> {
    Err(nom::Err::Failure(Fail::said(span, message)))
}

/// `expr = and ("or" | "||" and)*`
fn expr(i: &str, depth: usize) -> PResult<'_, Expr> {
    let (i, first) = and(i, depth)?;
    let (i, rest) = many0(preceded(alt((keyword("or"), symbol("||"))), |i| and(i, depth))).parse(i)?;
    Ok((i, rest.into_iter().fold(first, |a, b| Expr::Or(Box::new(a), Box::new(b)))))
}

/// `and = cmp ("and" | "&&" cmp)*`
fn and(i: &str, depth: usize) -> PResult<'_, Expr> {
    let (i, first) = cmp(i, depth)?;
    let (i, rest) = many0(preceded(alt((keyword("and"), symbol("&&"))), |i| cmp(i, depth))).parse(i)?;
    Ok((i, rest.into_iter().fold(first, |a, b| Expr::And(Box::new(a), Box::new(b)))))
}

/// `cmp = "(" expr ")" | operand op operand`
fn cmp(i: &str, depth: usize) -> PResult<'_, Expr> {
    alt((|i| group(i, depth), comparison)).parse(i)
}

/// `"(" expr ")"`, at most [`MAX_DEPTH`] deep.
fn group(i: &str, depth: usize) -> PResult<'_, Expr> {
    let (open, _) = ws(i)?;
    let (i, _) = char('(')(open)?;
    if depth >= MAX_DEPTH {
        return failure(Span::new(open, i), format!("parentheses nest deeper than {MAX_DEPTH}"));
    }
    let (i, e) = expr(i, depth + 1)?;
    let (i, _) = expect(Why::Unclosed(open), symbol(")")).parse(i)?;
    Ok((i, e))
}

/// `operand op operand`, of operands of the same kind (see `resolve::check`).
fn comparison(i: &str) -> PResult<'_, Expr> {
    let (start, _) = ws(i)?;
    let (i, (a, a_span)) = operand(start)?;
    let (i, op) = op(i)?;
    let (i, (b, b_span)) = operand(i)?;
    check(&a, a_span, &b, b_span, Span::new(start, i)).map_err(nom::Err::Failure)?;
    Ok((i, Expr::Cmp(a, op, b)))
}

/// `>`, `>=`, `<`, `<=`, `==`, `!=`; a lone `=` is a mistake of its own.
fn op(i: &str) -> PResult<'_, Op> {
    let ops = alt((
        value(Op::Ge, tag(">=")),
        value(Op::Le, tag("<=")),
        value(Op::Eq, tag("==")),
        value(Op::Ne, tag("!=")),
        value(Op::Gt, tag(">")),
        value(Op::Lt, tag("<")),
        single_equals,
    ));
    expect(Why::Expected("a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`)"), preceded(ws, ops)).parse(i)
}

fn single_equals(i: &str) -> PResult<'_, Op> {
    let (rest, _) = char('=')(i)?;
    failure(Span::new(i, rest), "`=` is not a comparison: write `==`")
}

/// An operand and where it is written.
fn operand(i: &str) -> PResult<'_, (Operand, Span<'_>)> {
    expect(Why::Expected(OPERAND), preceded(ws, alt((signed, number, call)))).parse(i)
}

/// `-1`, `+5%`, `-inf`: read only to say what to write instead.
fn signed(i: &str) -> PResult<'_, (Operand, Span<'_>)> {
    let (rest, _) = one_of("+-")(i)?;
    let (end, word) = take_while(is_arg)(rest)?;
    let written = Span::new(i, end);
    let message = if is_non_finite(word.trim_end_matches(['%', 's', 'm'])) {
        non_finite(written.text())
    } else {
        format!(
            "'{}': thresholds are written without a sign (counts, rates and durations are never below 0)",
            written.text()
        )
    };
    failure(written, message)
}

/// `12`, `0.5`, `1%` (or `1 %`), `250ms`, `2s`: digits and a decimal point, no exponent.
fn number(i: &str) -> PResult<'_, (Operand, Span<'_>)> {
    let (after_digits, digits) = take_while1(|c: char| c.is_ascii_digit() || c == '.')(i)?;
    let written = Span::new(i, after_digits);
    let Ok(n) = digits.parse::<f64>() else { return failure(written, format!("'{digits}' is not a number")) };
    if !n.is_finite() {
        return failure(written, format!("'{digits}' is too large"));
    }
    let (after_unit, unit) = take_while(is_ident)(after_digits)?;
    let (end, operand) = match unit {
        "" => match opt(symbol("%")).parse(after_unit)? {
            (end, Some(_)) if n > 100.0 => {
                let written = Span::new(i, end);
                return failure(written, format!("'{}': a rate is at most 100%", written.text()));
            }
            (end, Some(_)) => (end, Operand::Percent(n)),
            // Not a percentage: the white space looked past is not part of the number.
            (end, None) => (end, Operand::Number(n)),
        },
        "ms" => (after_unit, Operand::Duration(n)),
        "s" => (after_unit, Operand::Duration(n * 1000.0)),
        _ => {
            return failure(
                Span::new(after_digits, after_unit),
                format!("unknown unit '{unit}' (ms, s, or % for rates)"),
            );
        }
    };
    Ok((end, (operand, Span::new(i, end))))
}

/// `NAME "(" arg ("," arg)* ")"`; a bare name is not an operand, but a function's or `inf`'s
/// name says why.
fn call(i: &str) -> PResult<'_, (Operand, Span<'_>)> {
    let (after_name, name) = take_while1(is_ident)(i)?;
    let name_span = Span::new(i, after_name);
    let (args, open) = opt(symbol("(")).parse(after_name)?;
    if open.is_none() {
        if is_non_finite(name) {
            return failure(name_span, non_finite(name));
        }
        if FUNCTIONS.contains(&name) {
            return failure(name_span, format!("'{name}' takes an argument in parentheses, e.g. {name}(…)"));
        }
        return Err(nom::Err::Error(Fail { span: name_span, why: Why::Nom }));
    }
    let (after_args, args) = separated_list1(symbol(","), argument).parse(args)?;
    let (end, _) = expect(Why::Expected("`,` or `)`"), symbol(")")).parse(after_args)?;
    let span = Span::new(i, end);
    let operand = resolve(name_span, &args, span).map_err(nom::Err::Failure)?;
    Ok((end, (operand, span)))
}

/// Anything up to white space, `,` or a parenthesis: cluster names hold `|`, `.`, `:` and more.
fn argument(i: &str) -> PResult<'_, Span<'_>> {
    expect(Why::Expected("an argument"), preceded(ws, spanned(take_while1(is_arg)))).parse(i)
}
