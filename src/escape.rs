//! Escaping of untrusted text for people's screens: log content, file names and arguments are
//! shown as written, never obeyed (ANSI sequences, carriage returns) or disguised (bidi marks,
//! zero-width and other invisible characters). A leaf: every output (`crate::report`, its JSON
//! formatter included) and every message on stderr (`crate::app`, `crate::source`, the
//! `--fail-on` errors, `main`) use it, so it depends on nothing in the crate.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes what a terminal would act on or hide, so that log content, file names and arguments
/// are shown as written rather than obeyed or disguised: control characters (C0, DEL, C1 —
/// including ESC, so no ANSI sequence from a log reaches the terminal) as `\xNN`, and the
/// invisible characters of [`is_escaped`] (bidi marks, zero-width characters, …: look-alike
/// cluster names) as `\u{NNNN}`. Log content is written by whoever sends requests.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_escaped(c) {
            if (c as u32) < 0x100 {
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A sample value for a screen: [`escape_controls`], and when the value was cut (`from`: its
/// length in bytes before the cut), an ellipsis and how many bytes are not shown:
/// `0b0c5a3e…(+99744 bytes)`.
pub fn escape_sample(v: &str, from: Option<u64>) -> Cow<'_, str> {
    match from {
        None => escape_controls(v),
        Some(n) => {
            Cow::Owned(format!("{}…(+{} bytes)", escape_controls(v), n.saturating_sub(v.len() as u64)))
        }
    }
}

/// [`escape_controls`] line by line, keeping the line breaks: for a message of several lines
/// that quotes what it was given (clap's argument errors quote the argument; they strip ANSI
/// sequences but keep CR, C1 controls and bidi overrides).
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && is_escaped(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&escape_controls(line));
    }
    Cow::Owned(out)
}

/// Whether `c` is escaped in every output (by [`escape_controls`] for people, as `\uXXXX` by
/// the JSON outputs): the control characters (general category Cc: C0, DEL, C1), the line and
/// paragraph separators (U+2028, U+2029), and the invisible characters that let one text pass
/// for another — every format character (category Cf, Unicode 16: soft hyphen U+00AD, Arabic
/// number signs U+0600–U+0605, U+06DD, U+0890–U+0891, U+08E2, Syriac abbreviation mark U+070F,
/// U+061C arabic letter mark, U+180E Mongolian vowel separator, zero-width space/non-joiner/
/// joiner and left-to-right/right-to-left marks U+200B–U+200F, bidi embeddings and overrides
/// U+202A–U+202E, word joiner and invisible operators U+2060–U+2064, bidi isolates and
/// deprecated format characters U+2066–U+206F, byte order mark / zero-width no-break space
/// U+FEFF, interlinear annotation U+FFF9–U+FFFB, U+110BD, U+110CD, Egyptian hieroglyph format
/// controls U+13430–U+1343F, shorthand format controls U+1BCA0–U+1BCA3, musical symbol format
/// controls U+1D173–U+1D17A, the tag characters U+E0000–U+E007F), and the Hangul fillers
/// (U+115F, U+1160, U+3164, U+FFA0: letters that draw nothing). Variation selectors are left
/// alone: emoji use them and they change only how the character before them is drawn.
pub fn is_escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{890}'..='\u{891}'
                | '\u{8e2}'
                | '\u{115f}'..='\u{1160}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{3164}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{110bd}'
                | '\u{110cd}'
                | '\u{13430}'..='\u{1343f}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(escape_controls("curl/8.0"), "curl/8.0");
        assert!(matches!(escape_controls("outbound|80||api.shop.svc.cluster.local"), Cow::Borrowed(_)));
        assert_eq!(escape_controls("a\x1b[31mred\r\x08\x07\x7f"), "a\\x1b[31mred\\x0d\\x08\\x07\\x7f");
        assert_eq!(escape_controls("x\u{9b}y\u{85}"), "x\\x9by\\x85");
        assert_eq!(escape_controls("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
    }

    #[test]
    fn bidi_marks_and_overrides_are_escaped() {
        for (c, shown) in [
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{61c}', "\\u{61c}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
        ] {
            assert_eq!(escape_controls(&format!("api{c}svc")), format!("api{shown}svc"), "{c:?}");
        }
    }

    #[test]
    fn zero_width_and_invisible_characters_are_escaped() {
        for (c, shown) in [
            ('\u{200b}', "\\u{200b}"),
            ('\u{200c}', "\\u{200c}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{ad}', "\\xad"),
            ('\u{180e}', "\\u{180e}"),
            ('\u{3164}', "\\u{3164}"),
        ] {
            assert_eq!(escape_controls(&format!("api{c}svc")), format!("api{shown}svc"), "{c:?}");
        }
        // Only the invisible: letters of any script, and emoji with their variation selector.
        for s in ["café-ñ.svc", "ошибка", "服务", "مرحبا", "👍\u{fe0f}", "≈ · … ↳ —"]
        {
            assert_eq!(escape_controls(s), s);
        }
    }

    #[test]
    fn escape_lines_keeps_line_breaks_only() {
        let clap = "error: unexpected argument '--x\r\u{202e}\u{9b}' found\n\nUsage: envoy-triage\n";
        assert_eq!(
            escape_lines(clap),
            "error: unexpected argument '--x\\x0d\\u{202e}\\x9b' found\n\nUsage: envoy-triage\n"
        );
        assert!(matches!(escape_lines("a\nb\n"), Cow::Borrowed("a\nb\n")));
    }

    #[test]
    fn tag_characters_are_escaped() {
        assert_eq!(escape_controls("a\u{e0000}b\u{e0041}c\u{e007f}"), "a\\u{e0000}b\\u{e0041}c\\u{e007f}");
    }
}
