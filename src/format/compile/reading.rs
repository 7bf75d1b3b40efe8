//! A written-out layout's reading with its compiled form chosen for this CPU: what
//! [`CompiledFormat::written_out`](super::CompiledFormat::written_out) hands to a caller that
//! reads many lines in one layout (the kept record, `format::common`), so that a line costs one
//! call. The readings themselves are `direct_layout!`'s (the parent) and [`walk`](super::walk)'s.

use crate::record::{FormatKind, Record};

/// A built-in layout's written-out reading ([`CompiledFormat::written_out`](super::CompiledFormat::written_out)) with the form
/// for this CPU chosen: each line then costs one call, without the layout's kind or the CPU's
/// features asked again.
#[derive(Debug, Clone, Copy)]
pub struct WrittenOut {
    pub(super) kind: FormatKind,
    pub(super) read: Read,
}

impl WrittenOut {
    /// What [`CompiledFormat::read_written_out`](super::CompiledFormat::read_written_out) does.
    #[inline(always)]
    pub fn read<'a>(self, line: &'a [u8], rec: &mut Record<'a>) -> bool {
        let read = self.read.read(line, rec);
        if read {
            rec.format = self.kind;
        }
        read
    }
}

/// A written-out layout's readings in one compiled form.
#[derive(Debug, Clone, Copy)]
pub(super) enum Read {
    /// For CPUs with AVX2 and BMI (the token says this one has them): the walk, then the
    /// steps for the lines it declines.
    #[cfg(target_arch = "x86_64")]
    Avx2(crate::scan::Avx2, ReadAvx2, ReadAvx2),
    Baseline(for<'a> fn(&'a [u8], &mut Record<'a>) -> bool),
}

/// A reading compiled for AVX2 and BMI.
#[cfg(target_arch = "x86_64")]
pub(super) type ReadAvx2 = for<'a> unsafe fn(crate::scan::Avx2, &'a [u8], &mut Record<'a>) -> bool;

impl Read {
    #[inline(always)]
    pub(super) fn read<'a>(self, line: &'a [u8], rec: &mut Record<'a>) -> bool {
        match self {
            // SAFETY: the token exists only if the CPU has the features the functions are
            // compiled for.
            #[cfg(target_arch = "x86_64")]
            Read::Avx2(avx2, walk, with) => unsafe { walk(avx2, line, rec) || with(avx2, line, rec) },
            Read::Baseline(read) => read(line, rec),
        }
    }
}
