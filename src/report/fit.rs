//! Making text fit a terminal: its width (`COLUMNS`, the terminal, or 80), names shortened in
//! the middle, prose wrapped at spaces, and columns that drop or shrink until a row fits. The
//! table report ([`super::table`]) lays out plain text here and colours it afterwards, so that
//! escape codes never count as columns. Widths are display widths (`unicode-width`): a CJK
//! character takes two columns, a combining mark none.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Narrowest layout worth making: below this, rows are laid out for this width (and wrap).
pub const MIN_WIDTH: usize = 40;
/// Widest layout: beyond this a row is too long to read in one glance.
pub const MAX_WIDTH: usize = 1000;
/// When stdout is not a terminal and `COLUMNS` is not set: what `ls`, `man` and most tools use.
pub const DEFAULT_WIDTH: usize = 80;

/// The width to lay out for: `COLUMNS` when set to a number (a user's explicit choice, and how
/// tests pin it), else the terminal's on stdout, else 80. Clamped to 40–1000.
pub fn terminal_width() -> usize {
    let from_env =
        std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|&c| c > 0);
    let from_tty = || terminal_size::terminal_size().map(|(w, _)| w.0 as usize).filter(|&w| w > 0);
    from_env.or_else(from_tty).unwrap_or(DEFAULT_WIDTH).clamp(MIN_WIDTH, MAX_WIDTH)
}

/// The terminal's rows, when stdout is one (`LINES` when set, as `COLUMNS` for the width).
pub fn terminal_height() -> Option<usize> {
    let from_env =
        std::env::var("LINES").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|&c| c > 0);
    from_env.or_else(|| terminal_size::terminal_size().map(|(_, h)| h.0 as usize).filter(|&h| h > 0))
}

/// Display width.
pub fn width(s: &str) -> usize {
    s.width()
}

/// `s` cut to `max` columns by taking out its middle (`outbound|80…ter.local`): both ends of a
/// cluster or pod name tell more than either alone.
pub fn elide_middle(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let budget = max - 1;
    let tail_budget = budget / 2;
    let head_budget = budget - tail_budget;
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_budget {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > tail_budget {
            break;
        }
        used += w;
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    head
}

/// `s` cut to `max` columns at its end (`…`).
pub fn elide_end(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `text` wrapped at spaces into lines of at most `width` columns, the first after `first`
/// columns already used and the rest indented by `indent` columns. A word longer than a line
/// (a URL, a flag) is never broken: it gets a line of its own.
pub fn wrap(text: &str, first: usize, indent: usize, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut used = first;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = self::width(word);
        let line = lines.last_mut().expect("never empty");
        if line.is_empty() {
            line.push_str(word);
            used += w;
        } else if used + 1 + w <= width {
            line.push(' ');
            line.push_str(word);
            used += 1 + w;
        } else {
            lines.push(word.to_string());
            used = indent + w;
        }
    }
    lines
}

/// Packs `parts` into lines joined by ` · ` no wider than `width`; a part wider than a line is
/// cut at its end.
pub fn pack(parts: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for p in parts {
        let p = elide_end(p, width);
        match lines.last_mut() {
            Some(l) if self::width(l) + 3 + self::width(&p) <= width => {
                l.push_str(" · ");
                l.push_str(&p);
            }
            _ => lines.push(p),
        }
    }
    lines
}

/// A column of a fitted table.
#[derive(Debug, Clone)]
pub struct Col {
    pub head: &'static str,
    pub right: bool,
    /// Dropped when the row is too wide, lowest first; `None`: always kept.
    pub drop: Option<u8>,
    /// Shortened in the middle when the row is too wide: first to `soft` columns, and after
    /// every droppable column is gone, to `hard`.
    pub shrink: Option<(usize, usize)>,
}

impl Col {
    pub const fn fixed(head: &'static str, right: bool) -> Col {
        Col { head, right, drop: None, shrink: None }
    }
}

/// Lays out `rows` under `cols` in `width` columns (after an `indent`): a two-space gutter,
/// elastic columns shortened, optional ones dropped, as the module doc says. Returns the header
/// and the rows as plain text, trailing spaces trimmed, and which columns were kept.
pub fn layout(cols: &[Col], rows: &[Vec<String>], indent: usize, width: usize) -> (Vec<String>, Vec<bool>) {
    let n = cols.len();
    let mut keep = vec![true; n];
    let mut w: Vec<usize> = (0..n)
        .map(|i| rows.iter().map(|r| self::width(&r[i])).max().unwrap_or(0).max(self::width(cols[i].head)))
        .collect();
    let total = |w: &[usize], keep: &[bool]| {
        let kept: Vec<usize> = (0..n).filter(|&i| keep[i]).map(|i| w[i]).collect();
        indent + kept.iter().sum::<usize>() + 2 * kept.len().saturating_sub(1)
    };
    let shrink_to = |w: &mut Vec<usize>, keep: &[bool], pick: fn(&Col) -> Option<usize>| {
        for i in 0..n {
            let over = total(w, keep).saturating_sub(width);
            if over == 0 {
                return;
            }
            if let (true, Some(min)) = (keep[i], pick(&cols[i])) {
                let min = min.max(self::width(cols[i].head));
                if w[i] > min {
                    w[i] -= over.min(w[i] - min);
                }
            }
        }
    };
    shrink_to(&mut w, &keep, |c| c.shrink.map(|s| s.0));
    let mut droppable: Vec<usize> = (0..n).filter(|&i| cols[i].drop.is_some()).collect();
    droppable.sort_by_key(|&i| cols[i].drop);
    for i in droppable {
        if total(&w, &keep) <= width {
            break;
        }
        keep[i] = false;
    }
    shrink_to(&mut w, &keep, |c| c.shrink.map(|s| s.1));
    let line = |cells: Vec<String>| {
        let mut out = " ".repeat(indent);
        let mut first = true;
        for i in (0..n).filter(|&i| keep[i]) {
            if !first {
                out.push_str("  ");
            }
            first = false;
            let cell =
                if cols[i].shrink.is_some() { elide_middle(&cells[i], w[i]) } else { cells[i].clone() };
            let pad = w[i].saturating_sub(self::width(&cell));
            if cols[i].right {
                out.push_str(&" ".repeat(pad));
                out.push_str(&cell);
            } else {
                out.push_str(&cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = vec![line(cols.iter().map(|c| c.head.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    (out, keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_middle() {
        let c = "outbound|8080||checkout.shop.svc.cluster.local";
        assert_eq!(elide_middle(c, 100), c);
        let e = elide_middle(c, 21);
        assert_eq!(width(&e), 21);
        assert_eq!(e, "outbound|8…ster.local");
        assert_eq!(elide_middle("日本語のクラスタ名", 7), "日…名", "wide characters are never split");
        assert_eq!(elide_end("abcdef", 4), "abc…");
    }

    #[test]
    fn prose_wraps_at_spaces_and_never_inside_a_word() {
        let lines = wrap("aaa bbb ccc ddd-eee-fff-ggg hh", 4, 2, 12);
        assert_eq!(lines, ["aaa bbb", "ccc", "ddd-eee-fff-ggg", "hh"]);
        for l in &lines[1..] {
            assert!(width(l) + 2 <= 12 || !l.contains(' '));
        }
    }

    #[test]
    fn columns_drop_then_shrink_to_fit() {
        let cols = [
            Col { head: "name", right: false, drop: None, shrink: Some((10, 6)) },
            Col::fixed("n", true),
            Col { head: "extra", right: true, drop: Some(1), shrink: None },
        ];
        let rows = vec![vec!["a-very-long-name-indeed".to_string(), "12".into(), "extra-info".into()]];
        let (lines, keep) = layout(&cols, &rows, 0, 80);
        assert_eq!(keep, [true, true, true]);
        assert_eq!(lines[1], "a-very-long-name-indeed  12  extra-info");
        let (lines, keep) = layout(&cols, &rows, 0, 26);
        assert_eq!(keep, [true, true, true]);
        assert!(lines.iter().all(|l| width(l) <= 26), "{lines:?}");
        let (lines, keep) = layout(&cols, &rows, 0, 14);
        assert_eq!(keep, [true, true, false]);
        assert!(lines.iter().all(|l| width(l) <= 14), "{lines:?}");
    }
}
