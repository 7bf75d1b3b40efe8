//! `--output json`: the summary as one JSON document (contract: docs/json-contract.md), and the
//! [`Escaping`] formatter every JSON output (`json`, `ndjson`, `records`) is written with.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};

use crate::summary::Summary;

pub fn write(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let mut ser = Serializer::with_formatter(&mut *out, Escaping(PrettyFormatter::new()));
    // `io::Error::from` hands back the writer's own error (a closed pipe stays BrokenPipe, which
    // ends the run quietly); `io::Error::other` hid its kind.
    summary.serialize(&mut ser).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// One NDJSON line: `{"type": kind, "seq", "elapsed_ms", …summary}` — live ticks
/// (`"tick"`) and the final `"summary"`.
pub fn write_event(
    summary: &Summary,
    kind: &'static str,
    seq: u64,
    elapsed_ms: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(serde::Serialize)]
    struct Event<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        seq: u64,
        elapsed_ms: u64,
        #[serde(flatten)]
        summary: &'a Summary,
    }
    write_compact(&mut *out, &Event { kind, seq, elapsed_ms, summary }).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// `value` as one line of JSON, strings escaped by [`Escaping`].
pub fn write_compact<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> serde_json::Result<()> {
    value.serialize(&mut Serializer::with_formatter(out, Escaping(CompactFormatter)))
}

/// A JSON formatter (layout from the one it wraps) that also writes as `\uXXXX` what
/// [`crate::escape::is_escaped`] names beyond the C0 controls serde_json escapes itself: DEL, C1 controls,
/// bidi overrides, zero-width and other invisible characters. People `cat` and `jq` JSON to a
/// terminal; the JSON stays valid and parses back to the same text.
pub struct Escaping<F>(pub F);

impl<F: Formatter> Formatter for Escaping<F> {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        // ASCII below DEL is what serde_json has already dealt with: most fragments are written
        // whole, after one scan.
        if !has_del_or_above(bytes) {
            return w.write_all(bytes);
        }
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if !crate::escape::is_escaped(c) {
                continue;
            }
            w.write_all(&bytes[start..at])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(w, "\\u{u:04x}")?;
            }
            start = at + c.len_utf8();
        }
        w.write_all(&bytes[start..])
    }

    // The layout is the wrapped formatter's.
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Whether a byte is DEL or above (non-ASCII), eight bytes at a time. It runs on every string
/// and key of every record line: byte by byte, it added a third to the cost of serialising one
/// (≈3,300 instructions on ≈9,100); this way about a seventh (≈1,400).
#[inline]
fn has_del_or_above(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte's high bit is set in `x | x + 1` exactly when it is 0x7f or above; only 0xff
    // carries into its neighbour, and its own high bit already answers.
    let mark = |x: u64| x | x.wrapping_add(ONES);
    let n = bytes.len();
    if n < 8 {
        return bytes.iter().any(|&b| b >= 0x7f);
    }
    let word = |i: usize| u64::from_ne_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    // The last word may overlap the one before it: a byte seen twice changes nothing.
    let mut acc = mark(word(n - 8));
    let mut i = 0;
    while i + 8 < n {
        acc |= mark(word(i));
        i += 8;
    }
    acc & HIGH != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(s: &str) -> String {
        let mut out = Vec::new();
        write_compact(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn pretty(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        v.serialize(&mut Serializer::with_formatter(&mut out, Escaping(PrettyFormatter::new()))).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The text round-trips through the JSON, and the JSON itself has only printable ASCII.
    fn check(s: &str) -> String {
        let json = compact(s);
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), s, "{json}");
        assert!(json.bytes().all(|b| (0x20..0x7f).contains(&b)), "raw in {json}");
        json
    }

    #[test]
    fn the_fast_path_finds_del_and_non_ascii_anywhere() {
        for len in 0..40 {
            let plain = vec![b'~'; len];
            assert!(!has_del_or_above(&plain), "{len}");
            for at in 0..len {
                for b in [0x7f, 0x80, 0xc2, 0xff] {
                    let mut v = plain.clone();
                    v[at] = b;
                    assert!(has_del_or_above(&v), "{b:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn del_and_c1_controls_are_escaped() {
        assert_eq!(check("a\u{7f}b"), r#""a\u007fb""#);
        assert_eq!(check("\u{9b}31m\u{85}\u{80}\u{9f}"), r#""\u009b31m\u0085\u0080\u009f""#);
        // C0 controls, quotes and backslashes: serde_json's own escapes, unchanged.
        assert_eq!(check("\x1b[2J\r\n\t\"\\"), r#""\u001b[2J\r\n\t\"\\""#);
    }

    #[test]
    fn bidi_and_invisible_characters_are_escaped() {
        assert_eq!(check("api\u{202e}lmth.exe"), r#""api\u202elmth.exe""#);
        assert_eq!(
            check("\u{200e}\u{200f}\u{61c}\u{202a}\u{2066}\u{2069}"),
            r#""\u200e\u200f\u061c\u202a\u2066\u2069""#
        );
        assert_eq!(
            check("a\u{200b}b\u{200c}c\u{200d}d\u{2060}e\u{feff}f\u{ad}g"),
            r#""a\u200bb\u200cc\u200dd\u2060e\ufefff\u00adg""#
        );
    }

    #[test]
    fn astral_characters_are_written_as_surrogate_pairs() {
        // U+E0041 TAG LATIN CAPITAL LETTER A, U+E007F CANCEL TAG.
        assert_eq!(check("x\u{e0041}\u{e007f}y"), r#""x\udb40\udc41\udb40\udc7fy""#);
    }

    #[test]
    fn visible_text_and_keys_are_kept_or_escaped_the_same() {
        // Visible non-ASCII is written as UTF-8, as before.
        let json = compact("café 服务 👍 ≈");
        assert_eq!(json, "\"café 服务 👍 ≈\"");
        // Keys go through the formatter too, and the pretty layout is kept.
        let v = serde_json::json!({ "a\u{202e}b": ["c\u{9b}", 1] });
        let text = pretty(&v);
        assert_eq!(text, "{\n  \"a\\u202eb\": [\n    \"c\\u009b\",\n    1\n  ]\n}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }
}
