//! The hasher of the aggregate's tables (upstream keys, failure groups) and of the hashes it
//! keeps (evidence signatures, request ids in `super::sketch::BottomK`). Used by
//! `super::group` and the parent's maps; depends on nothing else here.

use std::hash::{BuildHasherDefault, Hasher};

/// A small, fast, non-cryptographic hasher (FxHash) for cluster names and signatures: the keys
/// are log content, but the tables are bounded, so hash flooding cannot grow them.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

pub(super) fn fx_hash(parts: &[&[u8]], extra: u64) -> u64 {
    let mut h = FxHasher::default();
    for p in parts {
        h.write(p);
        h.write_u64(p.len() as u64);
    }
    h.write_u64(extra);
    h.finish()
}
