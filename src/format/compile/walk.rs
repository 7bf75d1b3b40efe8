//! The first reading of a written-out layout ([`direct_layout!`](super)): one forward pass that
//! takes the line's spaces and quotes in order from a [`Separators`] cursor, each field ending
//! at the next separator its class allows. It is the exact reading of the parent's
//! `structured_step`s wherever it accepts a line (a test checks both on every line they are
//! given), and it declines, rather than matches differently, what it does not expect: a quote
//! inside a start time or a code, a terminator of other bytes, a class it has no step for. The
//! caller then reads the line with those steps, which match exactly what the general matcher's
//! first attempt reads. Over [`Structure`](crate::scan::Structure)'s searches it saves the
//! position arithmetic of each search (taken bits are cleared, so the next field's end is a bit
//! scan of what is left), and the calls of the start time's search and of the number parser
//! for the upstream service time.

use super::{Class, FieldId, at_literal, direct_last, fill, number_step};
use crate::record::Record;
use crate::scan::{Masks, Separators, Set, leading_digits};

/// How many bytes of `lit` are separators (spaces or quotes): the bits its match takes.
const fn separators_in(lit: &[u8], from: usize) -> usize {
    let mut n = 0;
    let mut i = from;
    while i < lit.len() {
        n += (lit[i] == b' ' || lit[i] == b'"') as usize;
        i += 1;
    }
    n
}

/// What a step knows of its terminator before it reads a line, computed at compile time (in a
/// `const` of [`direct_layout!`](super)): searches and slicing of the literal at run time
/// would cost more than the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    field: FieldId,
    class: Class,
    /// The terminator.
    lit: &'static [u8],
    /// Where the terminator's first quote is (for a [`Class::Spaced`] value, which ends there).
    quote_at: usize,
    /// The terminator's separators the value's search does not take.
    rest: usize,
}

impl Plan {
    pub(super) const fn of(field: FieldId, class: Class, lit: &'static [u8]) -> Plan {
        let mut quote_at = 0;
        while quote_at < lit.len() && lit[quote_at] != b'"' {
            quote_at += 1;
        }
        let all = separators_in(lit, 0);
        let rest = match class {
            // A number's end is found by its digits: no separator is taken before it.
            Class::Int | Class::Status => all,
            // The search takes every separator up to the terminator's quote.
            Class::Spaced => separators_in(lit, quote_at + 1),
            // The search takes the first separator of the terminator (after a `]`, the space).
            _ => all.saturating_sub(1),
        };
        Plan { field, class, lit, quote_at, rest }
    }
}

/// One step: the value from `pos` to the terminator `lit`, validated by its class and stored;
/// `pos` moves past the terminator, and every separator before it is taken. `false` declines
/// the line (not necessarily malformed: the parent's steps decide).
#[inline(always)]
pub(super) fn step<'a, M: Masks>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    seps: &mut Separators<'a, M>,
    pos: &mut usize,
    plan: Plan,
) -> bool {
    let Plan { class, lit, .. } = plan;
    let at = *pos;
    if matches!(class, Class::Int | Class::Status) {
        return number(rec, line, seps, pos, plan);
    }
    // Where the terminator starts.
    let end = match (class, lit[0]) {
        // A start time ends at the first `]`, which the first separator, a space, must follow.
        (Class::Token, b']') => {
            let Some(j) = seps.take() else { return false };
            if j < at + 1 || contains_byte(&line[at..j - 1], b']') {
                return false;
            }
            j - 1
        }
        // The first separator of any kind: a token holds neither (flags are checked by their
        // conversion, and a quote where the space should be declines the line). A terminator
        // of that one byte is checked by the separator's kind, not read again from the line.
        (Class::Token | Class::Flags, b' ' | b'"') if lit.len() == 1 => {
            let Some((j, quote)) = seps.take_sorted() else { return false };
            if quote != (lit[0] == b'"') {
                return false;
            }
            return store(rec, line, seps, pos, plan, j);
        }
        (Class::Token | Class::Flags, b' ' | b'"') => {
            let Some(j) = seps.take() else { return false };
            j
        }
        // A quote-free value ends at the first quote, which must be the terminator's.
        (Class::Spaced, _) => {
            let k = plan.quote_at;
            if k == lit.len() {
                return false;
            }
            let Some(q) = seps.take_through(Set::Quote) else { return false };
            if q < at + k {
                return false;
            }
            q - k
        }
        // Free text: the first occurrence of the terminator.
        (Class::Text, b' ' | b'"') => {
            let set = if lit[0] == b' ' { Set::Space } else { Set::Quote };
            loop {
                let Some(j) = seps.take_through(set) else { return false };
                if at_literal(line, j, lit) {
                    break j;
                }
            }
        }
        _ => return false,
    };
    if !at_literal(line, end, lit) {
        return false;
    }
    store(rec, line, seps, pos, plan, end)
}

/// The rest of a [`step`] once its terminator is found at `end`: takes the terminator's other
/// separators, validates and stores the value, and moves `pos` past the terminator.
#[inline(always)]
fn store<'a, M: Masks>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    seps: &mut Separators<'a, M>,
    pos: &mut usize,
    plan: Plan,
    end: usize,
) -> bool {
    let Plan { field, class, lit, .. } = plan;
    let at = *pos;
    for _ in 0..plan.rest {
        seps.take();
    }
    let v = &line[at..end];
    match field {
        // As `fill` stores it, without `parse_u64`'s call and digit loop: the header is a
        // number of a few digits when it is one, read in a word from the line.
        FieldId::UpstreamServiceTime => {
            let (d, n) = leading_digits(&line[at..]);
            rec.upstream_service_time_ms = (d == v.len() && (1..=19).contains(&d)).then_some(n);
        }
        _ => {
            if fill(rec, field, class, v).is_err() {
                return false;
            }
        }
    }
    *pos = end + lit.len();
    true
}

/// The parent's `number_step` (the digit run, or a lone `-`, or nothing, which the terminator
/// must follow; at most 19 digits), taking the terminator's separators.
#[inline(always)]
fn number<'a, M: Masks>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    seps: &mut Separators<'a, M>,
    pos: &mut usize,
    plan: Plan,
) -> bool {
    let Plan { field, class, lit, .. } = plan;
    // Other number slots are read by `direct_step`, which takes no separators.
    if !matches!(
        field,
        FieldId::ResponseCode | FieldId::BytesReceived | FieldId::BytesSent | FieldId::Duration
    ) || !number_step(rec, line, pos, field, class, lit)
    {
        return false;
    }
    // No separator comes before the terminator's: digits and `-` are none.
    for _ in 0..plan.rest {
        seps.take();
    }
    true
}

/// The last step of a layout ending with an operator: the rest of the line, which holds no
/// quote for a [`Class::Spaced`] value.
#[inline(always)]
pub(super) fn last<'a, M: Masks>(
    rec: &mut Record<'a>,
    line: &'a [u8],
    seps: &mut Separators<'a, M>,
    pos: &mut usize,
    field: FieldId,
    class: Class,
) -> bool {
    if class == Class::Spaced {
        if seps.quote_left() {
            return false;
        }
        let ok = fill(rec, field, class, &line[*pos..]).is_ok();
        *pos = line.len();
        return ok;
    }
    direct_last(rec, line, pos, field, class)
}

/// Whether `b` occurs in `v`: Envoy's own start time (24 bytes) in three words, without a
/// loop or a call; any other length by [`find1`](crate::scan::find1).
#[inline(always)]
fn contains_byte(v: &[u8], b: u8) -> bool {
    let pattern = u64::from_le_bytes([b; 8]);
    if let Ok(v) = <&[u8; 24]>::try_from(v) {
        let w = |i: usize| u64::from_le_bytes(v[i..i + 8].try_into().expect("8 bytes")) ^ pattern;
        use crate::scan::zero_bytes as z;
        return z(w(0)) | z(w(8)) | z(w(16)) != 0;
    }
    crate::scan::find1(b, v).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminators_take_their_separators() {
        let plan = |class, lit| {
            let p = Plan::of(FieldId::Ignored, class, lit);
            (p.quote_at, p.rest)
        };
        assert_eq!(plan(Class::Token, b"] \""), (2, 1));
        assert_eq!(plan(Class::Token, b"\" \""), (0, 2));
        assert_eq!(plan(Class::Spaced, b"\" \""), (0, 2));
        assert_eq!(plan(Class::Spaced, b" \""), (1, 0));
        assert_eq!(plan(Class::Int, b" "), (1, 1));
        assert_eq!(plan(Class::Token, b" "), (1, 0));
    }

    #[test]
    fn a_byte_is_found_in_any_word_or_the_tail() {
        let v = b"2026-11-20T10:00:01.552Z";
        assert!(!contains_byte(v, b']'));
        for i in 0..=v.len() {
            let mut e = v[..i].to_vec();
            e.push(b']');
            e.extend_from_slice(&v[i..]);
            assert!(contains_byte(&e, b']'), "{i}");
        }
        // Each byte of the three-word (24-byte) form.
        for i in 0..v.len() {
            let mut e = v.to_vec();
            e[i] = b']';
            assert!(contains_byte(&e, b']'), "{i}");
        }
        assert!(!contains_byte(b"", b']'));
    }
}
