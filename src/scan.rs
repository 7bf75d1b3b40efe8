//! Byte scanning for short fields. Most access-log fields are a few to a few dozen bytes, where
//! `memchr`'s dispatch and setup cost more than the scan. On x86_64 these compare 16 bytes at a
//! time with SSE2 (inlined: a field usually ends within the first load); elsewhere, and for
//! the last few bytes of a line, they read eight bytes at a time in a `u64` (SWAR). Longer
//! stretches go to `memchr`. Used by the field matcher in `crate::format::compile`.

const LO: u64 = 0x0101_0101_0101_0101;
/// Past this many bytes the vectorised `memchr` wins.
const SWAR_SPAN: usize = 64;

/// Bit 7 of each byte of `x` that is zero (exact: no false positives).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    // Classic has-zero trick made exact: ((x & 0x7f..) + 0x7f..) sets bit 7 for non-zero low
    // bits; or-ing x and inverting leaves bit 7 only where the byte was 0.
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

#[inline(always)]
fn word(hay: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(hay[i..i + 8].try_into().expect("8 bytes"))
}

/// The vector path: 16 bytes per compare, on haystacks of at least 16 bytes (a last, partial
/// block is read overlapping the one before it).
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
    };

    /// Bytes `i..i + 16` of `hay` (two safe `u64` reads; the compiler makes one load of them).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(hay: &[u8], i: usize) -> __m128i {
        let lo = u64::from_le_bytes(hay[i..i + 8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(hay[i + 8..i + 16].try_into().expect("8 bytes"));
        _mm_set_epi64x(hi as i64, lo as i64)
    }

    /// First position of `a` or `b` in `hay[..limit]`; `16 <= limit <= hay.len()`.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub fn find2(a: u8, b: u8, hay: &[u8], limit: usize) -> Option<usize> {
        let (va, vb) = (_mm_set1_epi8(a as i8), _mm_set1_epi8(b as i8));
        let mask = |i: usize| {
            let v = load(hay, i);
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb))) as u32
        };
        let mut i = 0;
        while i + 16 <= limit {
            let m = mask(i);
            if m != 0 {
                return Some(i + m.trailing_zeros() as usize);
            }
            i += 16;
        }
        if i < limit {
            // The block ending at `limit`, less the bytes already looked at.
            let m = mask(limit - 16) >> (i + 16 - limit);
            if m != 0 {
                return Some(i + m.trailing_zeros() as usize);
            }
        }
        None
    }
}

/// [`find2`] (or [`find1`], with `a == b`) on x86_64 for `hay.len() >= 16`: SSE2 over the
/// first [`SWAR_SPAN`] bytes, `memchr` past them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn find_vector(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    let limit = hay.len().min(SWAR_SPAN);
    // SAFETY: SSE2 is part of the x86_64 baseline: every CPU this code can run on has the
    // feature `sse2::find2` is compiled for. (`agrees_with_memchr_everywhere` runs this path at
    // every length and offset from 16 to 160 bytes.)
    if let Some(p) = unsafe { sse2::find2(a, b, hay, limit) } {
        return Some(p);
    }
    if hay.len() <= limit {
        return None;
    }
    let rest = &hay[limit..];
    let p = if a == b { memchr::memchr(a, rest) } else { memchr::memchr2(a, b, rest) };
    p.map(|p| limit + p)
}

/// First position of `a` or `b` in `hay`.
#[inline]
pub fn find2(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if hay.len() >= 16 {
        return find_vector(a, b, hay);
    }
    let (pa, pb) = (LO * a as u64, LO * b as u64);
    let limit = hay.len().min(SWAR_SPAN);
    let mut i = 0;
    while i + 8 <= limit {
        let w = word(hay, i);
        let z = zero_bytes(w ^ pa) | zero_bytes(w ^ pb);
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if hay.len() > SWAR_SPAN {
        return memchr::memchr2(a, b, &hay[i..]).map(|p| i + p);
    }
    hay[i..].iter().position(|&x| x == a || x == b).map(|p| i + p)
}

/// First position of `a` in `hay`.
#[inline]
pub fn find1(a: u8, hay: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if hay.len() >= 16 {
        return find_vector(a, a, hay);
    }
    let pa = LO * a as u64;
    let limit = hay.len().min(SWAR_SPAN);
    let mut i = 0;
    while i + 8 <= limit {
        let z = zero_bytes(word(hay, i) ^ pa);
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if hay.len() > SWAR_SPAN {
        return memchr::memchr(a, &hay[i..]).map(|p| i + p);
    }
    hay[i..].iter().position(|&x| x == a).map(|p| i + p)
}

/// First position of the literal `lit` (non-empty) in `hay`: a search for its first byte, then
/// a direct compare (format terminators and short names are a few bytes long).
#[inline]
pub fn find_literal(lit: &[u8], hay: &[u8]) -> Option<usize> {
    let first = lit[0];
    let mut from = 0;
    loop {
        let at = from + find1(first, &hay[from..])?;
        if has_prefix(&hay[at + 1..], &lit[1..]) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// `hay.starts_with(lit)` for the short literals of a format, without a `memcmp` call.
#[inline]
pub fn has_prefix(hay: &[u8], lit: &[u8]) -> bool {
    hay.len() >= lit.len() && hay.iter().zip(lit).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_memchr_everywhere() {
        // Every byte value next to every other, at every offset and length around the SWAR
        // boundaries: the exact zero-byte test must not report false positives (0x80 bytes,
        // borrows between lanes).
        let mut hay: Vec<u8> = (0..=255u8).collect();
        hay.extend((0..=255u8).rev());
        hay.extend([0x80, 0x00, 0x01, 0x7f, 0xff, 0x20, 0x22, 0x21, 0x23]);
        for start in 0..40 {
            for len in 0..(hay.len() - start).min(160) {
                let h = &hay[start..start + len];
                for (a, b) in [(b' ', b'"'), (0u8, 0x80), (0x7f, 0xff), (0x01, 0x00)] {
                    assert_eq!(find2(a, b, h), memchr::memchr2(a, b, h), "{a} {b} at {start}+{len}");
                    assert_eq!(find1(a, h), memchr::memchr(a, h), "{a} at {start}+{len}");
                }
            }
        }
    }
}
