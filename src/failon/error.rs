//! What is wrong with a `--fail-on` expression, and where. Inside the grammar (`super::parse`)
//! and the checks (`super::resolve`) a mistake is a cheap [`Fail`]: a [`Span`] made of two
//! suffixes of the expression, and what to say. It becomes a [`FailOnError`], with byte offsets
//! and a column, once, at the boundary ([`Fail::into_error`]); its `Display` draws the carets.

use std::fmt;

use nom::error::{ErrorKind, ParseError};

use crate::escape::escape_controls;

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

/// A part of the expression, as the input that remains where it starts and where it ends (nom
/// hands out remaining input, not positions): its offset is `expr.len() - from.len()`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span<'a> {
    pub from: &'a str,
    pub to: &'a str,
}

impl<'a> Span<'a> {
    /// `to` must be a suffix of `from`, as the input after a parser is of the input before it.
    pub fn new(from: &'a str, to: &'a str) -> Self {
        Span { from, to }
    }

    /// What the span covers, as written.
    pub fn text(self) -> &'a str {
        &self.from[..self.from.len() - self.to.len()]
    }
}

/// A mistake while parsing or checking: the error type of the grammar's nom parsers.
#[derive(Debug, Clone)]
pub(super) struct Fail<'a> {
    pub span: Span<'a>,
    pub why: Why<'a>,
}

#[derive(Debug, Clone)]
pub(super) enum Why<'a> {
    /// nom's own error: nothing here matched. The grammar turns it into `Expected` before it
    /// leaves a sub-parser (see `parse::expect`), so that it says what would have.
    Nom,
    /// "expected WHAT at column N, found …", under the next token.
    Expected(&'static str),
    /// "expected `)` closing the `(` of column M at column N, found …"; the `(` starts this input.
    Unclosed(&'a str),
    /// A message of its own, under the part at fault.
    Said(String),
}

impl<'a> Fail<'a> {
    pub fn said(span: Span<'a>, message: impl Into<String>) -> Self {
        Fail { span, why: Why::Said(message.into()) }
    }

    /// The error the user sees: offsets into `text`, of which every span is made.
    pub fn into_error(self, text: &str) -> FailOnError {
        let offset = |rest: &str| text.len() - rest.len();
        let column = |rest: &str| text[..offset(rest)].chars().count() + 1;
        let (start, end) = (offset(self.span.from), offset(self.span.to));
        let expected = |what: &str| {
            let found = match self.span.text() {
                "" => "the end".to_string(),
                token => format!("'{token}'"),
            };
            format!("expected {what} at column {}, found {found}", column(self.span.from))
        };
        let message = match &self.why {
            Why::Said(message) => message.clone(),
            Why::Expected(what) => expected(what),
            Why::Unclosed(open) => expected(&format!("`)` closing the `(` of column {}", column(open))),
            // Not reached (see `Why::Nom`); said in the grammar's own words all the same.
            Why::Nom => expected("a comparison such as rate(5xx) > 1%"),
        };
        FailOnError { expr: text.to_string(), start, end, message }
    }
}

impl<'a> ParseError<&'a str> for Fail<'a> {
    fn from_error_kind(input: &'a str, _: ErrorKind) -> Self {
        Fail { span: Span::new(input, input), why: Why::Nom }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }
}
