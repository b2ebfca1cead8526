//! `avx512`: 16, 32 or 48 nonces per step — one to three independent groups of sixteen 32-bit
//! lanes, the depth measured per CPU by the `auto` calibration — through the
//! early-exit kernel of [`super::precompute`]. AVX-512 brings what makes SHA-256 cheap in SIMD: a
//! rotate instruction (`vprold`) and three-input logic (`vpternlogd`) for Ch, Maj and the
//! three-way XORs.
//!
//! Owns: the AVX-512 lane operations and the loop over 16-nonce groups. Must not: check CPU
//! features (an [`Avx512`] can only be made by [`BackendKind::instantiate`] after the check).
//!
//! [`BackendKind::instantiate`]: super::BackendKind::instantiate

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::pow::{Backend, BackendKind, Hit, NonceRange, Work};

/// The interleave depths the kernel is compiled for (independent 16-lane groups per step).
pub const GROUP_CHOICES: [usize; 3] = [1, 2, 3];
/// The depth an [`Avx512`] gets when made without saying: 3 (the best measured on Zen 5) until
/// the `auto` calibration measures this CPU and sets another ([`set_default_groups`]).
static DEFAULT_GROUPS: AtomicUsize = AtomicUsize::new(3);

/// Sets the depth of every [`Avx512`] made from now on (a value outside [`GROUP_CHOICES`] is
/// ignored).
pub fn set_default_groups(groups: usize) {
    if GROUP_CHOICES.contains(&groups) {
        DEFAULT_GROUPS.store(groups, Ordering::Relaxed);
    }
}

/// See [`set_default_groups`].
pub fn default_groups() -> usize {
    DEFAULT_GROUPS.load(Ordering::Relaxed)
}

/// The AVX-512 backend. Holding one is proof that the CPU has AVX-512F.
#[derive(Debug, Clone, Copy)]
pub struct Avx512 {
    groups: usize,
}

impl Avx512 {
    /// # Safety
    /// The CPU must support `avx512f`. Only [`super::BackendKind::instantiate`] calls this,
    /// after `availability()` checked it.
    pub(super) unsafe fn new_unchecked() -> Avx512 {
        Avx512 {
            groups: default_groups(),
        }
    }

    /// The same backend interleaving `groups` 16-lane groups (clamped to 1..=3).
    pub fn with_groups(self, groups: usize) -> Avx512 {
        Avx512 {
            groups: groups.clamp(1, 3),
        }
    }

    pub fn groups(&self) -> usize {
        self.groups
    }
}

impl Backend for Avx512 {
    fn name(&self) -> &str {
        BackendKind::Avx512.name()
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let pre = crate::pow::precompute::Precomputed::new(work.header.as_bytes());
        let mut candidates = Vec::new();
        let top = work.target.top_word();
        // SAFETY: `self` exists, so `new_unchecked`'s contract held: `instantiate` checked
        // that this CPU has avx512f, the feature `lanes::scan` is compiled for.
        unsafe {
            match self.groups {
                1 => lanes::scan::<1>(&pre, range, top, &mut candidates),
                2 => lanes::scan::<2>(&pre, range, top, &mut candidates),
                _ => lanes::scan::<3>(&pre, range, top, &mut candidates),
            }
        }
        pre.confirm(work, &candidates, hits);
        range.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn each_depth(f: impl Fn(&dyn Backend)) {
        match BackendKind::Avx512.instantiate() {
            Ok(_) => {
                for g in GROUP_CHOICES {
                    // SAFETY: instantiate() just checked avx512f on this CPU.
                    let b = unsafe { Avx512::new_unchecked() }.with_groups(g);
                    assert_eq!(b.groups(), g);
                    f(&b);
                }
            }
            Err(e) => eprintln!("avx512 test skipped: {e}"),
        }
    }

    #[test]
    fn agrees_with_reference_at_every_depth() {
        each_depth(|b| crate::testing::cross_check(b));
    }

    #[test]
    fn finds_real_mainnet_nonces_at_every_depth() {
        each_depth(|b| crate::testing::mainnet_windows(b));
    }
}

/// The lane operations the kernel macro calls, on `G` independent `__m512i` (16 × u32
/// each). Each is a safe `#[target_feature]` function: callable without `unsafe` from `scan`,
/// which has the same feature, and inlined into it.
mod lanes {
    use std::arch::x86_64::*;

    use crate::pow::precompute::{sha256d_h7, Precomputed};
    use crate::pow::NonceRange;

    // `G`: independent 16-lane groups per step. On Zen 5 every AVX-512 integer op (add, rotate,
    // ternlog) has a 2-cycle latency, so one group's round — a chain of about five dependent ops
    // — leaves the four vector pipes mostly idle; groups interleaved instruction by instruction
    // fill them. Measured there per CPU-second: 1 group 34 MH/s, 2 groups 49, 3 groups 57,
    // 4 groups 54 (32 zmm registers no longer hold four states). Other CPUs differ, so the
    // depth is a parameter the `auto` calibration measures.

    /// `G` × 16 lanes, each operation applied to every group in turn.
    #[derive(Clone, Copy)]
    struct V<const G: usize>([__m512i; G]);

    macro_rules! each {
        (|$($x:ident),+| $body:expr) => {{
            let mut out = [_mm512_setzero_si512(); G];
            for (i, o) in out.iter_mut().enumerate() {
                $(let $x = $x.0[i];)+
                *o = $body;
            }
            V(out)
        }};
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn splat<const G: usize>(x: u32) -> V<G> {
        V([_mm512_set1_epi32(x as i32); G])
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn add<const G: usize>(a: V<G>, b: V<G>) -> V<G> {
        each!(|a, b| _mm512_add_epi32(a, b))
    }
    /// Three rotates XORed together in one `vpternlogd` (truth table 0x96 = a ^ b ^ c).
    macro_rules! sigma {
        ($x:expr, $r1:literal, $r2:literal, $third:expr) => {
            _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<$r1>($x),
                _mm512_ror_epi32::<$r2>($x),
                $third,
            )
        };
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn bsig0<const G: usize>(x: V<G>) -> V<G> {
        each!(|x| sigma!(x, 2, 13, _mm512_ror_epi32::<22>(x)))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn bsig1<const G: usize>(x: V<G>) -> V<G> {
        each!(|x| sigma!(x, 6, 11, _mm512_ror_epi32::<25>(x)))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn ssig0<const G: usize>(x: V<G>) -> V<G> {
        each!(|x| sigma!(x, 7, 18, _mm512_srli_epi32::<3>(x)))
    }
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn ssig1<const G: usize>(x: V<G>) -> V<G> {
        each!(|x| sigma!(x, 17, 19, _mm512_srli_epi32::<10>(x)))
    }
    /// `e ? f : g` (truth table 0xca).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn ch<const G: usize>(e: V<G>, f: V<G>, g: V<G>) -> V<G> {
        each!(|e, f, g| _mm512_ternarylogic_epi32::<0xca>(e, f, g))
    }
    /// Majority of three (truth table 0xe8).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn maj<const G: usize>(a: V<G>, b: V<G>, c: V<G>) -> V<G> {
        each!(|a, b, c| _mm512_ternarylogic_epi32::<0xe8>(a, b, c))
    }
    /// Byte swap of each lane with AVX-512F alone (no `vpshufb`, which needs AVX-512BW): bytes
    /// 3 and 1 come from a rotate by 8, bytes 2 and 0 from a rotate by 24.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn bswap(x: __m512i) -> __m512i {
        _mm512_ternarylogic_epi32::<0xca>(
            _mm512_set1_epi32(0xff00_ff00u32 as i32),
            _mm512_ror_epi32::<8>(x),
            _mm512_ror_epi32::<24>(x),
        )
    }

    /// Appends to `out` every nonce of `range` whose hash's top 32 bits are `<= top`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn scan<const G: usize>(
        pre: &Precomputed,
        range: NonceRange,
        top: u32,
        out: &mut Vec<u32>,
    ) {
        let lanes = 16 * G as u64;
        let len = range.len();
        let step = range.step();
        let lane_index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        // Lane l of group g in step s hashes nonce start + (16G·s + 16g + l)·step. Lanes past
        // the end of the range (last step only) may wrap and hash garbage: they are masked off.
        let first = _mm512_add_epi32(
            _mm512_set1_epi32(range.start() as i32),
            _mm512_mullo_epi32(lane_index, _mm512_set1_epi32(step as i32)),
        );
        let mut nonces = [first; G];
        for (g, n) in nonces.iter_mut().enumerate() {
            *n = _mm512_add_epi32(
                first,
                _mm512_set1_epi32(step.wrapping_mul(16 * g as u32) as i32),
            );
        }
        let advance = _mm512_set1_epi32(step.wrapping_mul(lanes as u32) as i32);
        let top = _mm512_set1_epi32(top as i32);
        let mut w = [splat::<G>(0); 64];
        let mut v = [splat::<G>(0); 64];
        let mut i = 0u64;
        while i < len {
            let mut x = nonces;
            for x in x.iter_mut() {
                *x = bswap(*x);
            }
            let h7: V<G> = sha256d_h7!(pre, V(x), &mut w, &mut v);
            let mut mask = 0u64;
            for (g, h) in h7.0.iter().enumerate() {
                mask |= u64::from(_mm512_cmple_epu32_mask(bswap(*h), top)) << (16 * g);
            }
            let left = len - i;
            if left < lanes {
                mask &= (1u64 << left) - 1;
            }
            while mask != 0 {
                out.push(range.nth(i + u64::from(mask.trailing_zeros())));
                mask &= mask - 1;
            }
            for n in nonces.iter_mut() {
                *n = _mm512_add_epi32(*n, advance);
            }
            i += lanes;
        }
    }
}
