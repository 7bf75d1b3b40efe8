//! Byte scanning for short fields. Most access-log fields are a few to a few dozen bytes, where
//! `memchr`'s dispatch and setup cost more than the scan. On x86_64 these compare 16 bytes at a
//! time with SSE2 (inlined: a field usually ends within the first load); elsewhere, and for
//! the last few bytes of a line, they read eight bytes at a time in a `u64` (SWAR). Longer
//! stretches go to `memchr`. [`Structure`] finds the spaces and quotes of a whole line, 64 bytes
//! per compare round, for the written-out layouts: with SSE2, or with AVX2 where the CPU has it
//! (an [`Avx2`] token, made only by the runtime CPU check, selects those compares);
//! [`Separators`] takes the same separators in order, once each, for the layouts' first
//! reading; [`Stops`] finds, as [`Structure`] does, the quotes and backslashes that end a JSON
//! line's strings. Used by the field matcher in `crate::format::compile`, the JSON reader and
//! the classifier's substring tests.

const LO: u64 = 0x0101_0101_0101_0101;
/// Past this many bytes the vectorised `memchr` wins.
const SWAR_SPAN: usize = 64;

/// Bit 7 of each byte of `x` that is zero (exact: no false positives).
#[inline(always)]
pub(crate) fn zero_bytes(x: u64) -> u64 {
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

/// `a == b`, eight bytes at a time (the last word overlapping the one before it), without a
/// `memcmp` call: for JSON keys, a few to 25 bytes, compared once per key. (Upstream names,
/// often 40–60 bytes, compare faster through `memcmp`'s 32-byte loads: measured.)
#[inline(always)]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if b.len() != n {
        return false;
    }
    if n < 8 {
        if n < 4 {
            return a.iter().zip(b).all(|(x, y)| x == y);
        }
        let half = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
        return half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4);
    }
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

/// The high bit of every byte of `word` that is not an ASCII digit. Per byte, `b ^ 0x30` is
/// below 10 exactly for digits; adding 0x76 to its low seven bits sets the high bit from 10
/// up, without a carry into the next byte.
#[inline]
pub fn non_digits(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let t = word ^ 0x3030_3030_3030_3030;
    (((t & LOW7) + 0x7676_7676_7676_7676) | t) & HIGH
}

/// The run of ASCII digits at the start of `hay`: its length and its value (wrapping past 19
/// digits, which callers reject). A run of one to seven digits followed by a non-digit, with
/// eight bytes to read (every number of an access line but the last), is found and converted
/// in one word, without the per-digit loop whose exit, at a length that varies from line to
/// line, is a mispredicted branch.
#[inline(always)]
pub fn leading_digits(hay: &[u8]) -> (usize, u64) {
    if let Some(w) = hay.get(..8) {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        let nd = non_digits(w);
        if nd != 0 {
            let j = (nd.trailing_zeros() / 8) as usize;
            if j == 0 {
                return (0, 0);
            }
            // The `j` digits' values moved to the top bytes, zeros (leading zero digits) below.
            return (j, eight_digits((w ^ 0x3030_3030_3030_3030) << (8 * (8 - j))));
        }
    }
    let (mut n, mut j) = (0u64, 0);
    while let Some(d) = hay.get(j).map(|b| b.wrapping_sub(b'0')).filter(|&d| d <= 9) {
        n = n.wrapping_mul(10).wrapping_add(d as u64);
        j += 1;
    }
    (j, n)
}

/// The number written by eight digit values (0–9), the first (most significant) in the lowest
/// byte: pairs, then quadruples, then the whole, by multiplies (Lemire's method).
#[inline(always)]
fn eight_digits(v: u64) -> u64 {
    const MASK: u64 = 0x0000_00ff_0000_00ff;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    ((v & MASK).wrapping_mul(MUL1).wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2))) >> 32
}

/// Which bytes [`Structure::next`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Space,
    Quote,
    /// A space or a quote.
    Either,
}

/// How a [`Structure`] (or [`Stops`]) compares a block: SSE2 (every x86_64), or AVX2 where the
/// CPU has it.
pub trait Masks: Copy {
    /// The space and quote masks of 64 bytes.
    fn block(self, block: &[u8; 64]) -> (u64, u64);
    /// The mask of the bytes of 64 that are a quote or a backslash (JSON's string ends).
    fn string_ends(self, block: &[u8; 64]) -> u64;
}

/// `block_masks`: SSE2 on x86_64, `u64` words elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct Baseline;

impl Masks for Baseline {
    #[inline(always)]
    fn block(self, block: &[u8; 64]) -> (u64, u64) {
        block_masks(block)
    }
    #[inline(always)]
    fn string_ends(self, block: &[u8; 64]) -> u64 {
        string_end_mask(block)
    }
}

/// Proof that the CPU has AVX2, BMI1 and BMI2: only [`Avx2::detect`] makes one. Code that
/// holds one may run functions compiled for those features (`#[target_feature]`), and a
/// [`Structure`] built with it compares 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// A token when the CPU has the features. The answer is kept in one byte: std caches each
    /// feature's CPUID answer, but asking for three costs three loads and tests, per line.
    #[inline(always)]
    pub fn detect() -> Option<Avx2> {
        use std::sync::atomic::{AtomicU8, Ordering};
        /// 0: not asked yet; 1: no; 2: yes.
        static HAS: AtomicU8 = AtomicU8::new(0);
        match HAS.load(Ordering::Relaxed) {
            2 => Some(Avx2(())),
            1 => None,
            _ => Avx2::ask(&HAS),
        }
    }

    #[cold]
    fn ask(has: &std::sync::atomic::AtomicU8) -> Option<Avx2> {
        let yes = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("bmi1")
            && is_x86_feature_detected!("bmi2");
        has.store(1 + yes as u8, std::sync::atomic::Ordering::Relaxed);
        yes.then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Masks for Avx2 {
    #[inline(always)]
    fn block(self, block: &[u8; 64]) -> (u64, u64) {
        // SAFETY: `self` exists only if `detect` found AVX2 on this CPU.
        unsafe { block_masks_avx2(block) }
    }
    #[inline(always)]
    fn string_ends(self, block: &[u8; 64]) -> u64 {
        // SAFETY: `self` exists only if `detect` found AVX2 on this CPU.
        unsafe { string_end_mask_avx2(block) }
    }
}

/// The space and quote masks of the 64-byte block of `line` starting at `base`
/// (`base % 64 == 0`); bits past the line's end are clear.
#[inline(always)]
fn block_at<M: Masks>(masks: M, line: &[u8], base: usize) -> (u64, u64) {
    let rest = line.len().saturating_sub(base);
    if rest >= 64 {
        masks.block(line[base..base + 64].try_into().expect("64 bytes"))
    } else if line.len() >= 64 {
        // The block ending at the line's end, shifted down to start at `base`: the bits above
        // the line's end come in as zeros.
        let (s, q) = masks.block(line[line.len() - 64..].try_into().expect("64 bytes"));
        let shift = 64 - rest;
        (s >> shift, q >> shift)
    } else {
        let mut pad = [0u8; 64];
        pad[..rest].copy_from_slice(&line[base..]);
        masks.block(&pad)
    }
}

/// Where the spaces and quotes of a line are, as bit masks of one 64-byte block at a time
/// (computed when a search first reaches the block): the separators of every field of the
/// built-in text layouts, so each field is found by a bit scan instead of a search of its own.
/// Searches move forward through the line; one that starts before the current block reloads it.
pub struct Structure<'a, M: Masks = Baseline> {
    masks: M,
    line: &'a [u8],
    /// Start of the block the masks describe: a multiple of 64.
    base: usize,
    /// Bit `i`: byte `base + i` is a space (quote). Bits past the line's end are clear.
    spaces: u64,
    quotes: u64,
    either: u64,
}

impl<'a, M: Masks> Structure<'a, M> {
    /// A structure whose blocks are compared by `masks`.
    #[inline(always)]
    pub fn with(masks: M, line: &'a [u8]) -> Self {
        let mut s = Structure { masks, line, base: 0, spaces: 0, quotes: 0, either: 0 };
        s.load(0);
        s
    }

    /// Computes the masks of the block starting at `base` (`base % 64 == 0`).
    #[inline(always)]
    fn load(&mut self, base: usize) {
        self.base = base;
        let (s, q) = block_at(self.masks, self.line, base);
        self.spaces = s;
        self.quotes = q;
        self.either = s | q;
    }

    /// First position at or after `pos` whose byte is in `set`.
    #[inline(always)]
    pub fn next(&mut self, pos: usize, set: Set) -> Option<usize> {
        // One compare: a position before the block wraps around to a large offset.
        if pos.wrapping_sub(self.base) >= 64 {
            if pos >= self.line.len() {
                return None;
            }
            self.load(pos & !63);
        }
        let mut from = pos;
        loop {
            let m = match set {
                Set::Space => self.spaces,
                Set::Quote => self.quotes,
                Set::Either => self.either,
            } >> (from - self.base);
            if m != 0 {
                return Some(from + m.trailing_zeros() as usize);
            }
            from = self.base + 64;
            if from >= self.line.len() {
                return None;
            }
            self.load(from);
        }
    }
}

/// The spaces and quotes of a line taken in order, each once: the cursor of the written-out
/// layouts' first reading (`crate::format::compile`), which moves only forward. Each block's
/// masks are computed when the cursor reaches it; a taken separator's bit is cleared, so the
/// next one is a bit scan of what is left, with no position to shift by. [`Structure`] answers
/// searches from any position, for the exact reading that falls back on it.
pub struct Separators<'a, M: Masks = Baseline> {
    masks: M,
    line: &'a [u8],
    /// Start of the block the masks describe: a multiple of 64.
    base: usize,
    /// Bit `i`: byte `base + i` is a space or a quote not taken yet. Bits past the line's end
    /// are clear.
    left: u64,
    /// Bit `i`: byte `base + i` is a quote, taken or not.
    quotes: u64,
}

impl<'a, M: Masks> Separators<'a, M> {
    /// The separators of `line`, blocks compared by `masks`.
    #[inline(always)]
    pub fn with(masks: M, line: &'a [u8]) -> Self {
        let mut s = Separators { masks, line, base: 0, left: 0, quotes: 0 };
        s.load(0);
        s
    }

    /// Computes the masks of the block starting at `base` (`base % 64 == 0`).
    #[inline(always)]
    fn load(&mut self, base: usize) {
        self.base = base;
        let (s, q) = block_at(self.masks, self.line, base);
        self.left = s | q;
        self.quotes = q;
    }

    /// Moves to the next block; `false` at the end of the line.
    #[inline(always)]
    fn advance(&mut self) -> bool {
        let next = self.base + 64;
        if next >= self.line.len() {
            return false;
        }
        self.load(next);
        true
    }

    /// Takes the next separator and returns its position.
    #[inline(always)]
    pub fn take(&mut self) -> Option<usize> {
        self.take_sorted().map(|(at, _)| at)
    }

    /// [`take`](Self::take), and whether the separator is a quote.
    #[inline(always)]
    pub fn take_sorted(&mut self) -> Option<(usize, bool)> {
        loop {
            if self.left != 0 {
                let at = self.base + self.left.trailing_zeros() as usize;
                let quote = self.quotes & self.left & self.left.wrapping_neg() != 0;
                self.left &= self.left - 1;
                return Some((at, quote));
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// Takes every separator up to the next one in `set`, which it takes and returns.
    #[inline(always)]
    pub fn take_through(&mut self, set: Set) -> Option<usize> {
        loop {
            let m = match set {
                Set::Quote => self.left & self.quotes,
                Set::Space => self.left & !self.quotes,
                Set::Either => self.left,
            };
            if m != 0 {
                // Clears bits 0 ..= the found one (all of them when it is bit 63).
                self.left &= !((m & m.wrapping_neg()) << 1).wrapping_sub(1);
                return Some(self.base + m.trailing_zeros() as usize);
            }
            if !self.advance() {
                return None;
            }
        }
    }

    /// Whether a quote is left (not taken) in the rest of the line. Takes nothing.
    #[inline(always)]
    pub fn quote_left(&self) -> bool {
        if self.left & self.quotes != 0 {
            return true;
        }
        let mut base = self.base + 64;
        while base < self.line.len() {
            if block_at(self.masks, self.line, base).1 != 0 {
                return true;
            }
            base += 64;
        }
        false
    }
}

/// Where the quotes and backslashes of a JSON line are, one 64-byte block at a time (computed
/// when a search first reaches the block): every string of the line ends at the first of them
/// after its opening quote, so each key and value is found by a bit scan instead of a search
/// of its own (about 40 strings a line in Istio's JSON). Searches move forward through the
/// line; one that starts before the current block reloads it.
pub struct Stops<'a, M: Masks = Baseline> {
    masks: M,
    line: &'a [u8],
    /// Start of the block the mask describes: a multiple of 64.
    base: usize,
    /// Bit `i`: byte `base + i` is a quote or a backslash. Bits past the line's end are clear.
    bits: u64,
}

impl<'a, M: Masks> Stops<'a, M> {
    /// The stops of `line`, blocks compared by `masks`.
    #[inline(always)]
    pub fn with(masks: M, line: &'a [u8]) -> Self {
        let mut s = Stops { masks, line, base: 0, bits: 0 };
        s.load(0);
        s
    }

    /// Computes the mask of the block starting at `base` (`base % 64 == 0`), as
    /// [`Structure::load`] does.
    #[inline(always)]
    fn load(&mut self, base: usize) {
        let line = self.line;
        self.base = base;
        let rest = line.len().saturating_sub(base);
        self.bits = if rest >= 64 {
            self.masks.string_ends(line[base..base + 64].try_into().expect("64 bytes"))
        } else if line.len() >= 64 {
            self.masks.string_ends(line[line.len() - 64..].try_into().expect("64 bytes")) >> (64 - rest)
        } else {
            let mut pad = [0u8; 64];
            pad[..rest].copy_from_slice(&line[base..]);
            self.masks.string_ends(&pad)
        };
    }

    /// First position at or after `pos` holding a quote or a backslash.
    #[inline(always)]
    pub fn next(&mut self, pos: usize) -> Option<usize> {
        // One compare: a position before the block wraps around to a large offset.
        if pos.wrapping_sub(self.base) >= 64 {
            if pos >= self.line.len() {
                return None;
            }
            self.load(pos & !63);
        }
        let m = self.bits >> (pos - self.base);
        if m != 0 {
            return Some(pos + m.trailing_zeros() as usize);
        }
        self.next_block()
    }

    /// [`Self::next`] past the current block: a string that crosses a block boundary.
    #[inline(always)]
    fn next_block(&mut self) -> Option<usize> {
        loop {
            let from = self.base + 64;
            if from >= self.line.len() {
                return None;
            }
            self.load(from);
            if self.bits != 0 {
                return Some(from + self.bits.trailing_zeros() as usize);
            }
        }
    }
}

/// Bytes of a chunk whose newline masks are computed in one call of [`for_each_line`]: 4 KiB,
/// 64 masks on the stack, a dozen lines. Small enough that the lines are still in the L1 cache
/// when they are parsed: with 16 KiB, callgrind's cache model counted 27 % more L1 read misses
/// on the Istio text log (3 a line) and a single-threaded run was slower than with `memchr`.
const LINE_WINDOW: usize = 4 * 1024;

/// Calls `f(start, end)` for each line of `data` in order (`data[start..end]`, without its
/// `\n`), the last one even without a newline: what splitting at each `memchr` hit does, for
/// less. The newlines of a window of the chunk (`LINE_WINDOW`, 4 KiB) are found as bit masks, 64
/// bytes per round (32 bytes per compare with AVX2), then each line end is a bit scan:
/// `memchr`'s call, dispatch and setup per line cost more than the compares of a 300-byte line.
#[inline(always)]
pub fn for_each_line(data: &[u8], mut f: impl FnMut(usize, usize)) {
    let mut masks = [0u64; LINE_WINDOW / 64];
    let mut start = 0;
    let mut base = 0;
    while base < data.len() {
        let window = &data[base..data.len().min(base + LINE_WINDOW)];
        // Only the blocks holding a newline are visited: a 300-byte line spans five blocks,
        // and testing the four empty ones cost more than the line's end.
        let mut holding = newline_masks(window, &mut masks);
        while holding != 0 {
            let k = holding.trailing_zeros() as usize;
            holding &= holding - 1;
            let mut m = masks[k % masks.len()];
            while m != 0 {
                let nl = base + 64 * k + m.trailing_zeros() as usize;
                f(start, nl);
                start = nl + 1;
                m &= m - 1;
            }
        }
        base += window.len();
    }
    if start < data.len() {
        f(start, data.len());
    }
}

/// The newline masks of `window` (at most [`LINE_WINDOW`] bytes) into `masks`: bit `i` of
/// `masks[k]` says whether byte `64 * k + i` is a `\n`; bits past the window's end are clear.
/// Returns which masks are not zero (bit `k` for `masks[k]`).
#[inline]
fn newline_masks(window: &[u8], masks: &mut [u64; LINE_WINDOW / 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        // SAFETY: the token exists only if the CPU has AVX2.
        return unsafe { newline_masks_avx2(avx2, window, masks) };
    }
    newline_masks_with(window, masks, |b| byte_mask(b, b'\n'))
}

/// [`newline_masks`] compiled for AVX2: which masks are not zero is found four at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn newline_masks_avx2(_: Avx2, window: &[u8], masks: &mut [u64; LINE_WINDOW / 64]) -> u64 {
    use core::arch::x86_64::{
        _mm256_castsi256_pd, _mm256_cmpeq_epi64, _mm256_loadu_si256, _mm256_movemask_pd, _mm256_setzero_si256,
    };
    let n = fill_newline_masks(window, masks, |b| newline_mask_avx2(b));
    let mut zero = 0u64;
    for (g, four) in masks.chunks_exact(4).take(n.div_ceil(4)).enumerate() {
        // SAFETY: `four` is 4 `u64`s, 32 bytes (unaligned loads are allowed).
        let v = unsafe { _mm256_loadu_si256(four.as_ptr().cast()) };
        let z = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(v, _mm256_setzero_si256())));
        zero |= (z as u64) << (4 * g);
    }
    !zero & low_bits(n)
}

/// [`newline_masks`] with the 64-byte compare `mask`.
#[inline(always)]
fn newline_masks_with(
    window: &[u8],
    masks: &mut [u64; LINE_WINDOW / 64],
    mask: impl Fn(&[u8; 64]) -> u64,
) -> u64 {
    let n = fill_newline_masks(window, masks, mask);
    masks.iter().enumerate().fold(0, |h, (k, &m)| h | ((m != 0) as u64) << k) & low_bits(n)
}

/// The first `n` bits set (`n` ≤ 64).
#[inline(always)]
fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1 << n) - 1 }
}

/// Writes the masks of `window`'s blocks, the last part padded; returns how many it wrote.
/// Masks past them are left as they were.
#[inline(always)]
fn fill_newline_masks(
    window: &[u8],
    masks: &mut [u64; LINE_WINDOW / 64],
    mask: impl Fn(&[u8; 64]) -> u64,
) -> usize {
    const { assert!(LINE_WINDOW / 64 == 64, "one bit per mask in a u64") };
    let blocks = window.chunks_exact(64);
    let tail = blocks.remainder();
    let mut n = 0;
    for (slot, block) in masks.iter_mut().zip(blocks) {
        *slot = mask(block.try_into().expect("64 bytes"));
        n += 1;
    }
    if !tail.is_empty() && n < masks.len() {
        let mut pad = [0u8; 64];
        pad[..tail.len()].copy_from_slice(tail);
        masks[n] = mask(&pad);
        n += 1;
    }
    n
}

/// The newline mask of 64 bytes, 32 at a time (inlined into [`newline_masks_avx2`]).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn newline_mask_avx2(block: &[u8; 64]) -> u64 {
    use core::arch::x86_64::{_mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8};
    let nl = _mm256_set1_epi8(b'\n' as i8);
    let mut m = 0u64;
    for k in 0..2 {
        // SAFETY: reads bytes `32 * k .. 32 * k + 32` (k < 2) of the 64-byte block (unaligned
        // loads are allowed). Compared with a byte loop by `lines_are_split_at_every_newline`.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast()) };
        m |= (_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, nl)) as u32 as u64) << (32 * k);
    }
    m
}

/// The mask of the bytes of 64 equal to `a`, 16 at a time (SSE2) or in `u64` words.
#[inline(always)]
fn byte_mask(block: &[u8; 64], a: u8) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        let mut m = 0u64;
        // SAFETY: SSE2 is part of the x86_64 baseline (as for `find_vector`), and each load
        // reads bytes `16 * k .. 16 * k + 16` (k < 4) of the 64-byte block.
        unsafe {
            let va = _mm_set1_epi8(a as i8);
            for k in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
                m |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, va)) as u32 as u64) << (16 * k);
            }
        }
        m
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let gather = |z: u64| ((z >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        let pa = LO * a as u64;
        (0..8).fold(0u64, |m, k| m | gather(zero_bytes(word(block, 8 * k) ^ pa)) << (8 * k))
    }
}

/// The quote-or-backslash mask of 64 bytes, 16 at a time (see [`block_masks`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn string_end_mask(block: &[u8; 64]) -> u64 {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut m = 0u64;
    // SAFETY: SSE2 is part of the x86_64 baseline (as for `find_vector`), and each load reads
    // bytes `16 * k .. 16 * k + 16` (k < 4) of the 64-byte block, unaligned loads being allowed.
    // Compared with the portable mask by `the_portable_masks_are_the_vector_ones`.
    unsafe {
        let (vq, vb) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\\' as i8));
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
            let hit = _mm_or_si128(_mm_cmpeq_epi8(v, vq), _mm_cmpeq_epi8(v, vb));
            m |= (_mm_movemask_epi8(hit) as u32 as u64) << (16 * k);
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn string_end_mask(block: &[u8; 64]) -> u64 {
    string_end_mask_swar(block)
}

/// [`string_end_mask`] 32 bytes per compare, for [`Avx2`] (inlined into its callers only).
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn string_end_mask_avx2(block: &[u8; 64]) -> u64 {
    use core::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
    };
    let (vq, vb) = (_mm256_set1_epi8(b'"' as i8), _mm256_set1_epi8(b'\\' as i8));
    let mut m = 0u64;
    for k in 0..2 {
        // SAFETY: reads bytes `32 * k .. 32 * k + 32` (k < 2) of the 64-byte block (unaligned
        // loads are allowed). Compared with the portable mask by
        // `the_portable_masks_are_the_vector_ones` on CPUs that have AVX2.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast()) };
        let hit = _mm256_or_si256(_mm256_cmpeq_epi8(v, vq), _mm256_cmpeq_epi8(v, vb));
        m |= (_mm256_movemask_epi8(hit) as u32 as u64) << (32 * k);
    }
    m
}

/// [`string_end_mask`] eight bytes at a time in a `u64`, for targets without the vector path.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
fn string_end_mask_swar(block: &[u8; 64]) -> u64 {
    let gather = |z: u64| ((z >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
    let (pq, pb) = (LO * b'"' as u64, LO * b'\\' as u64);
    let mut m = 0u64;
    for k in 0..8 {
        let w = word(block, 8 * k);
        m |= gather(zero_bytes(w ^ pq) | zero_bytes(w ^ pb)) << (8 * k);
    }
    m
}

/// Space and quote masks of 64 bytes, 16 at a time. Not a `#[target_feature]` function like
/// `sse2::find2`: those cannot be inlined, and this runs a few times per line.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let (mut s, mut q) = (0u64, 0u64);
    // SAFETY: SSE2 is part of the x86_64 baseline (as for `find_vector`), and each load reads
    // bytes `16 * k .. 16 * k + 16` (k < 4) of the 64-byte block, unaligned loads being allowed.
    // Exercised by `structure_finds_what_a_byte_search_finds` at every line length from 0 to
    // 200 and compared with the portable masks by `the_portable_masks_are_the_vector_ones`.
    unsafe {
        let (vs, vq) = (_mm_set1_epi8(b' ' as i8), _mm_set1_epi8(b'"' as i8));
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast());
            s |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, vs)) as u32 as u64) << (16 * k);
            q |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, vq)) as u32 as u64) << (16 * k);
        }
    }
    (s, q)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    block_masks_swar(block)
}

/// [`block_masks`] 32 bytes per compare. Inlined into the callers compiled for AVX2 (see
/// [`Avx2`]); anywhere else it would be a call.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn block_masks_avx2(block: &[u8; 64]) -> (u64, u64) {
    use core::arch::x86_64::{_mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8};
    let (vs, vq) = (_mm256_set1_epi8(b' ' as i8), _mm256_set1_epi8(b'"' as i8));
    let (mut s, mut q) = (0u64, 0u64);
    for k in 0..2 {
        // SAFETY: reads bytes `32 * k .. 32 * k + 32` (k < 2) of the 64-byte block (unaligned
        // loads are allowed). Compared with the portable masks by
        // `the_portable_masks_are_the_vector_ones` on CPUs that have AVX2.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast()) };
        s |= (_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vs)) as u32 as u64) << (32 * k);
        q |= (_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vq)) as u32 as u64) << (32 * k);
    }
    (s, q)
}

/// [`block_masks`] eight bytes at a time in a `u64`, for targets without the vector path.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
fn block_masks_swar(block: &[u8; 64]) -> (u64, u64) {
    // Bit 7 of each byte of a zero-byte mask to one bit per byte: the multiplier adds byte
    // `i`'s bit into bit `56 + i` and no two partial products meet.
    let gather = |z: u64| ((z >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
    let (ps, pq) = (LO * b' ' as u64, LO * b'"' as u64);
    let (mut s, mut q) = (0u64, 0u64);
    for k in 0..8 {
        let w = word(block, 8 * k);
        s |= gather(zero_bytes(w ^ ps)) << (8 * k);
        q |= gather(zero_bytes(w ^ pq)) << (8 * k);
    }
    (s, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_digits_is_the_digit_loop() {
        let naive = |hay: &[u8]| {
            let j = hay.iter().take_while(|b| b.is_ascii_digit()).count();
            let n = hay[..j].iter().fold(0u64, |n, &b| n.wrapping_mul(10).wrapping_add((b - b'0') as u64));
            (j, n)
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..=24 {
            for tail in [&b""[..], b" ", b"-", b"/", b":", b"9", b" 12 34", b"\xff", b"\x80abcdefgh"] {
                for _ in 0..40 {
                    let mut hay: Vec<u8> = (0..len)
                        .map(|_| {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            b'0' + (x % 10) as u8
                        })
                        .collect();
                    hay.extend_from_slice(tail);
                    assert_eq!(leading_digits(&hay), naive(&hay), "{:?}", String::from_utf8_lossy(&hay));
                }
            }
        }
        // Bytes next to the digit range in both directions.
        for b in 0..=255u8 {
            let hay = [b'4', b'2', b, b'7', 0, 0, 0, 0, 0];
            assert_eq!(leading_digits(&hay), naive(&hay), "{b}");
        }
    }

    #[test]
    fn structure_finds_what_a_byte_search_finds() {
        // Spaces and quotes at every distance, every line length around the 64-byte blocks,
        // every starting position and every set, searched in order and out of order.
        let pattern = b"a \"bc  d\"\" efgh\"i jklmnopqrstuvwxyz0123456789 \"\x80\x00\xff ";
        let line: Vec<u8> = pattern.iter().cycle().take(200).copied().collect();
        for len in 0..=line.len() {
            let l = &line[..len];
            for set in [Set::Space, Set::Quote, Set::Either] {
                let hit = |b: u8| match set {
                    Set::Space => b == b' ',
                    Set::Quote => b == b'"',
                    Set::Either => b == b' ' || b == b'"',
                };
                let naive = |pos: usize| l[pos.min(len)..].iter().position(|&b| hit(b)).map(|p| p + pos);
                let mut st = Structure::with(Baseline, l);
                for pos in 0..=len {
                    assert_eq!(st.next(pos, set), naive(pos), "forward {len} {pos} {set:?}");
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(avx2) = Avx2::detect() {
                    let mut st = Structure::with(avx2, l);
                    for pos in 0..=len {
                        assert_eq!(st.next(pos, set), naive(pos), "avx2 forward {len} {pos} {set:?}");
                    }
                }
                let mut st = Structure::with(Baseline, l);
                for pos in (0..=len).rev().step_by(7) {
                    assert_eq!(st.next(pos, set), naive(pos), "backward {len} {pos} {set:?}");
                }
            }
        }
    }

    #[test]
    fn separators_are_taken_in_order_once_each() {
        // Every line length around the 64-byte blocks; from every separator, each way of
        // taking the next ones: the next of any kind (with its kind), through the next quote
        // or space (which takes those before it), and whether a quote is left.
        fn check<M: Masks>(mut s: Separators<'_, M>, l: &[u8], seps: &[usize], skip: usize, set: Set) {
            for _ in 0..skip {
                s.take();
            }
            let rest = &seps[skip..];
            let quote = rest.iter().any(|&i| l[i] == b'"');
            assert_eq!(s.quote_left(), quote, "{} {skip}", l.len());
            let want = rest.iter().position(|&i| match set {
                Set::Space => l[i] == b' ',
                Set::Quote => l[i] == b'"',
                Set::Either => true,
            });
            assert_eq!(s.take_through(set), want.map(|k| rest[k]), "{} {skip} {set:?}", l.len());
            // After a miss the reading stops: only a hit says where the next take starts.
            if let Some(k) = want {
                let sorted = rest.get(k + 1).map(|&i| (i, l[i] == b'"'));
                assert_eq!(s.take_sorted(), sorted, "{} {skip} {set:?}", l.len());
            }
        }
        let pattern = b"a \"bc  d\"\" efgh\"i jklmnopqrstuvwxyz0123456789 \"\x80\x00\xff ";
        let line: Vec<u8> = pattern.iter().cycle().take(200).copied().collect();
        for len in 0..=line.len() {
            let l = &line[..len];
            let seps: Vec<usize> = (0..len).filter(|&i| l[i] == b' ' || l[i] == b'"').collect();
            for skip in 0..=seps.len() {
                for set in [Set::Space, Set::Quote, Set::Either] {
                    check(Separators::with(Baseline, l), l, &seps, skip, set);
                    #[cfg(target_arch = "x86_64")]
                    if let Some(avx2) = Avx2::detect() {
                        check(Separators::with(avx2, l), l, &seps, skip, set);
                    }
                }
            }
        }
    }

    #[test]
    fn stops_find_what_a_byte_search_finds() {
        // Quotes and backslashes at every distance, every line length around the 64-byte
        // blocks, every starting position, searched in order and out of order.
        let pattern = b"a \\\"bc  d\"\" efgh\"i jklmnopqrstuvwxyz0123456789 \\\"\x80\x00\xff ";
        let line: Vec<u8> = pattern.iter().cycle().take(200).copied().collect();
        for len in 0..=line.len() {
            let l = &line[..len];
            let naive =
                |pos: usize| l[pos.min(len)..].iter().position(|&b| b == b'"' || b == b'\\').map(|p| p + pos);
            let mut st = Stops::with(Baseline, l);
            for pos in 0..=len + 1 {
                assert_eq!(st.next(pos), naive(pos), "forward {len} {pos}");
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = Avx2::detect() {
                let mut st = Stops::with(avx2, l);
                for pos in 0..=len {
                    assert_eq!(st.next(pos), naive(pos), "avx2 forward {len} {pos}");
                }
            }
            let mut st = Stops::with(Baseline, l);
            for pos in (0..=len).rev().step_by(5) {
                assert_eq!(st.next(pos), naive(pos), "backward {len} {pos}");
            }
        }
        // Long runs without a stop: the search crosses several blocks.
        let mut long = vec![b'x'; 300];
        long[257] = b'"';
        let mut st = Stops::with(Baseline, &long);
        assert_eq!(st.next(3), Some(257));
        assert_eq!(st.next(258), None);
    }

    #[test]
    fn lines_are_split_at_every_newline() {
        // Newlines at every distance, runs of them, lines across the 64-byte blocks and the
        // windows, with and without a last newline.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut data = Vec::new();
        for i in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = if i % 97 == 0 { 20_000 } else { (x % 150) as usize };
            data.extend((0..len).map(|j| if (j + i) % 61 == 0 { 0x8a } else { b'a' + (j % 26) as u8 }));
            data.push(b'\n');
        }
        let w = LINE_WINDOW;
        for cut in [0, 1, 63, 64, 65, w - 1, w, w + 1, 3 * w + 7, 16_384, data.len() - 1, data.len()] {
            let d = &data[..cut];
            let mut want = Vec::new();
            let mut start = 0;
            for (i, &b) in d.iter().enumerate() {
                if b == b'\n' {
                    want.push((start, i));
                    start = i + 1;
                }
            }
            if start < d.len() {
                want.push((start, d.len()));
            }
            let mut got = Vec::new();
            for_each_line(d, |s, e| got.push((s, e)));
            assert_eq!(got, want, "cut at {cut}");
            let w = &d[..d.len().min(LINE_WINDOW)];
            let mut portable = [0u64; LINE_WINDOW / 64];
            for (i, _) in w.iter().enumerate().filter(|&(_, &b)| b == b'\n') {
                portable[i / 64] |= 1 << (i % 64);
            }
            let nonzero = (0..portable.len()).filter(|&k| portable[k] != 0).fold(0u64, |h, k| h | 1 << k);
            let used = w.len().div_ceil(64);
            // Masks past the window's blocks hold the last window's: never reported as holding.
            for (form, holding, masks) in [
                ("baseline", newline_masks_with as fn(&[u8], &mut [u64; 64], fn(&[u8; 64]) -> u64) -> u64),
                ("dispatched", |w, m, _| newline_masks(w, m)),
            ]
            .map(|(form, run)| {
                let mut masks = [u64::MAX; LINE_WINDOW / 64];
                let holding = run(w, &mut masks, |b| byte_mask(b, b'\n'));
                (form, holding, masks)
            }) {
                assert_eq!(masks[..used], portable[..used], "{form} masks, cut at {cut}");
                assert_eq!(holding, nonzero, "{form}: blocks holding a newline, cut at {cut}");
            }
        }
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        // Every length to three words, equal and differing at each position, and unequal lengths.
        let a: Vec<u8> = (0..30u8).map(|i| b'a' + i % 26).collect();
        for n in 0..a.len() {
            let x = &a[..n];
            let copy = x.to_vec();
            assert!(same_bytes(x, &copy), "{n}");
            assert!(!same_bytes(x, &a[..n + 1]), "{n}");
            for i in 0..n {
                let mut y = x.to_vec();
                y[i] ^= 0x20;
                assert!(!same_bytes(x, &y), "{n} {i}");
            }
        }
    }

    #[test]
    fn the_portable_masks_are_the_vector_ones() {
        let mut block = [0u8; 64];
        for seed in 0..2000u32 {
            for (i, b) in block.iter_mut().enumerate() {
                let x = (i as u32 + 1).wrapping_mul(seed.wrapping_mul(2_654_435_761)) >> 13;
                *b = [b' ', b'"', b'a', 0x80, 0x00, 0xa0, 0xa2, 0x21, b'\\', 0xdc][(x % 10) as usize];
            }
            let want = (
                block.iter().enumerate().map(|(i, &b)| ((b == b' ') as u64) << i).sum::<u64>(),
                block.iter().enumerate().map(|(i, &b)| ((b == b'"') as u64) << i).sum::<u64>(),
            );
            assert_eq!(block_masks_swar(&block), want, "{seed}");
            assert_eq!(block_masks(&block), want, "{seed}");
            let ends =
                block.iter().enumerate().map(|(i, &b)| (matches!(b, b'"' | b'\\') as u64) << i).sum::<u64>();
            assert_eq!(string_end_mask_swar(&block), ends, "{seed}");
            assert_eq!(Baseline.string_ends(&block), ends, "{seed}");
            #[cfg(target_arch = "x86_64")]
            if let Some(avx2) = Avx2::detect() {
                assert_eq!(avx2.block(&block), want, "{seed}");
                assert_eq!(avx2.string_ends(&block), ends, "{seed}");
            }
        }
    }

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
