//! Reports: each reads only an owned [`Summary`] and writes to any `io::Write`.
//! `table` is for people (first screen, colour on a TTY), `json` is the versioned contract.

pub mod json;
pub mod records;
pub mod table;

use std::borrow::Cow;

/// Escapes control characters (C0, DEL, C1 — including ESC, so no ANSI sequence from a log
/// reaches the terminal) as `\xNN`/`\u{NN}`. Log content is written by whoever sends requests.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(escape_controls("curl/8.0"), "curl/8.0");
        assert_eq!(escape_controls("a\x1b[31mred\r\x08\x7f"), "a\\x1b[31mred\\x0d\\x08\\x7f");
        assert_eq!(escape_controls("x\u{9b}y\u{202e}"), "x\\x9by\\u{202e}");
    }
}

#[cfg(test)]
mod every_cause;
