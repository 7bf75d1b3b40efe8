//! The parser's small `Copy` error: what went wrong and where (a 1-based byte column).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A literal of the format (a quote, a bracket, a space) was not where it should be.
    ExpectedLiteral,
    /// A field that must be a number (bytes, duration) was not.
    BadNumber,
    /// The response code was not a number of at most three digits, or `-`.
    BadStatus,
    /// The response-flags field held something other than flag names.
    BadFlags,
    /// A field that cannot contain spaces or quotes did (the line is shifted or cut).
    BadToken,
    /// Bytes left after the last field.
    TrailingData,
    /// The line ended before the format did.
    Truncated,
    /// Not valid JSON.
    BadJson,
    /// A JSON object without any access-log key.
    NotAccessJson,
    /// Nothing about the line looks like an access log.
    Unrecognised,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ExpectedLiteral => "expected_literal",
            ErrorKind::BadNumber => "bad_number",
            ErrorKind::BadStatus => "bad_status",
            ErrorKind::BadFlags => "bad_flags",
            ErrorKind::BadToken => "bad_token",
            ErrorKind::TrailingData => "trailing_data",
            ErrorKind::Truncated => "truncated",
            ErrorKind::BadJson => "bad_json",
            ErrorKind::NotAccessJson => "not_access_json",
            ErrorKind::Unrecognised => "unrecognised",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::ExpectedLiteral => "a quote, bracket or space of the format is missing",
            ErrorKind::BadNumber => "a numeric field is not a number",
            ErrorKind::BadStatus => "the response code is not a number",
            ErrorKind::BadFlags => "the response-flags field is not a list of flags",
            ErrorKind::BadToken => "a field that cannot hold spaces or quotes does",
            ErrorKind::TrailingData => "unexpected text after the last field",
            ErrorKind::Truncated => "the line ends before the format does",
            ErrorKind::BadJson => "invalid JSON",
            ErrorKind::NotAccessJson => "a JSON object without access-log keys",
            ErrorKind::Unrecognised => "not an access-log line of any known format",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a line is malformed. `column` is 1-based and counts bytes of the line as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParseError {
    pub kind: ErrorKind,
    pub column: u32,
}

impl ParseError {
    pub fn at(kind: ErrorKind, offset: usize) -> ParseError {
        ParseError { kind, column: offset.saturating_add(1).min(u32::MAX as usize) as u32 }
    }

    /// The same error, shifted by `n` bytes of prefix that were peeled off before parsing.
    pub fn shifted(self, n: usize) -> ParseError {
        ParseError { kind: self.kind, column: self.column.saturating_add(n as u32) }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.kind.describe(), self.column)
    }
}

impl std::error::Error for ParseError {}
