//! `hybrid-avx512`: SHA-NI lanes and AVX-512 lanes in one instruction stream.
//!
//! The SHA extensions run on their own unit: on Zen 4 one `sha256rnds2` issues every 2 cycles, and
//! the `sha-ni` backend's two interleaved nonces keep it that busy (62 `sha256rnds2` per nonce ≈
//! 124 cycles, measured 126) while leaving most of the vector pipes idle. The AVX-512 kernel is
//! bound by those vector pipes, not by the SHA unit. This backend runs the AVX-512 kernel and, between
//! its rounds, advances a SHA-NI computation on other nonces one 4-round segment at a time, so
//! both kinds of work are in the out-of-order window together and the two units overlap.
//!
//! Tuning (measured per CPU by `auto`'s calibration): `groups` (16-lane AVX-512 groups per step,
//! 1 or 2) and `every` (a SHA-NI segment after every round, or every second round of the AVX-512
//! kernel), i.e. how much SHA-NI work rides along.
//!
//! Owns: the SHA-NI segment machine and the loop that shares one nonce range between the two
//! kinds of lanes. Must not: check CPU features (a [`Hybrid`] can only be made by
//! [`BackendKind::instantiate`] after the check).
//!
//! [`BackendKind::instantiate`]: super::BackendKind::instantiate

use std::sync::atomic::{AtomicUsize, Ordering};

use super::precompute::Precomputed;
use super::{Backend, BackendKind, Hit, NonceRange, Work};

/// The tunings the kernel is compiled for: (AVX-512 groups, SHA-NI segment every N rounds).
pub const TUNING_CHOICES: [(usize, usize); 5] = [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3)];

/// Index into [`TUNING_CHOICES`] of the tuning a [`Hybrid`] gets when made without saying.
static DEFAULT_TUNING: AtomicUsize = AtomicUsize::new(0);

/// The tuning's name as calibration reports it: `groups=G,every=E`.
pub fn tuning_name((groups, passes): (usize, usize)) -> String {
    format!("groups={groups},sha-passes={passes}")
}

/// Sets the tuning of every [`Hybrid`] made from now on (a name not in [`TUNING_CHOICES`]:
/// false, nothing changed).
pub fn set_default_tuning(name: &str) -> bool {
    match TUNING_CHOICES.iter().position(|&t| tuning_name(t) == name) {
        Some(i) => {
            DEFAULT_TUNING.store(i, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// See [`set_default_tuning`].
pub fn default_tuning() -> (usize, usize) {
    TUNING_CHOICES[DEFAULT_TUNING.load(Ordering::Relaxed) % TUNING_CHOICES.len()]
}

/// The hybrid backend. Holding one is proof that the CPU has AVX-512F, SHA, SSSE3 and SSE4.1.
#[derive(Debug, Clone, Copy)]
pub struct Hybrid {
    tuning: (usize, usize),
}

impl Hybrid {
    /// # Safety
    /// The CPU must support `avx512f`, `sha`, `ssse3` and `sse4.1`. Only
    /// [`super::BackendKind::instantiate`] calls this, after `availability()` checked them.
    pub(super) unsafe fn new_unchecked() -> Hybrid {
        Hybrid {
            tuning: default_tuning(),
        }
    }

    /// The same backend with another tuning from [`TUNING_CHOICES`] (others: unchanged).
    pub fn with_tuning(self, tuning: (usize, usize)) -> Hybrid {
        if TUNING_CHOICES.contains(&tuning) {
            Hybrid { tuning }
        } else {
            self
        }
    }

    pub fn tuning(&self) -> (usize, usize) {
        self.tuning
    }
}

impl Backend for Hybrid {
    fn name(&self) -> &str {
        BackendKind::HybridAvx512.name()
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let pre = Precomputed::new(work.header.as_bytes());
        let mut candidates = Vec::new();
        let top = work.target.top_word();
        // SAFETY: `self` exists, so `new_unchecked`'s contract held: `instantiate` checked that
        // this CPU has avx512f, sha, ssse3 and sse4.1, the features `lanes::scan` is compiled for.
        unsafe {
            match self.tuning {
                (1, 1) => lanes::scan::<1, 1>(&pre, range, top, &mut candidates),
                (1, 2) => lanes::scan::<1, 2>(&pre, range, top, &mut candidates),
                (1, _) => lanes::scan::<1, 3>(&pre, range, top, &mut candidates),
                (_, 2) => lanes::scan::<2, 2>(&pre, range, top, &mut candidates),
                _ => lanes::scan::<2, 3>(&pre, range, top, &mut candidates),
            }
        }
        pre.confirm(work, &candidates, hits);
        range.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn each_tuning(f: impl Fn(&dyn Backend)) {
        match BackendKind::HybridAvx512.instantiate() {
            Ok(_) => {
                for t in TUNING_CHOICES {
                    // SAFETY: instantiate() just checked every feature this backend needs.
                    let b = unsafe { Hybrid::new_unchecked() }.with_tuning(t);
                    assert_eq!(b.tuning(), t);
                    f(&b);
                }
            }
            Err(e) => eprintln!("hybrid-avx512 test skipped: {e}"),
        }
    }

    #[test]
    fn agrees_with_reference_at_every_tuning() {
        each_tuning(|b| crate::testing::cross_check(b));
    }

    #[test]
    fn finds_real_mainnet_nonces_at_every_tuning() {
        each_tuning(|b| crate::testing::mainnet_windows(b));
    }

    #[test]
    fn every_nonce_of_odd_ranges_is_scanned_once() {
        // Ranges that end inside an AVX-512 step or a SHA-NI pass, strided or not: the candidate
        // list at the loosest target must be exactly the range, each nonce once.
        each_tuning(|b| {
            let work = Work::new(
                crate::pow::Header::synthetic(7),
                crate::pow::target::Target::from_zero_bits(0).expect("0 is a valid zero-bit count"),
            );
            for (start, count, step) in [(5, 1, 1), (0, 17, 3), (100, 1000, 1), (9, 4099, 7)] {
                let range = NonceRange::strided(start, count, step).expect("valid range");
                let mut hits = Vec::new();
                assert_eq!(b.scan(&work, range, &mut hits), count);
                let mut got: Vec<u32> = hits.iter().map(|h| h.nonce).collect();
                got.sort_unstable();
                let mut want: Vec<u32> = range.iter().collect();
                want.sort_unstable();
                assert_eq!(got, want, "range {start}+{count} step {step}");
            }
        });
    }
}

/// The SHA-NI passes woven into the AVX-512 kernel, and the loop over steps.
mod lanes {
    use std::arch::x86_64::*;

    use crate::pow::avx512::lanes::{add, bsig0, bsig1, bswap, ch, maj, splat, ssig0, ssig1, V};
    use crate::pow::precompute::{is_candidate, sha256d_h7, Precomputed, HASH1_KW, HASH2_KW};
    #[allow(unused_imports)] // used by `segment!`, expanded inside the kernel macro
    use crate::pow::reference::{H0, K};
    use crate::pow::sha_ni::lanes::{extend, four_rounds, k4, state, two_rounds, words};
    use crate::pow::NonceRange;

    /// SHA-NI nonces per pass: two, as in the `sha-ni` backend (its state lives in xmm0–15).
    const L: usize = 2;
    /// Segments per SHA-NI pass: 16 of (up to) 4 rounds per hash.
    const SEGMENTS: usize = 32;
    /// Rounds of the AVX-512 kernel that a segment may follow: hash 1's 4..=63, hash 2's 1..=60.
    const HOOKS: usize = 120;

    /// Appends to `out` every nonce of `range` whose hash's top 32 bits are `<= top`.
    ///
    /// Each step hashes `16·G` nonces in AVX-512 lanes and `2·P` in SHA-NI lanes: `P` whole
    /// SHA-NI passes whose `32·P` segments are spread evenly over the AVX-512 kernel's 120
    /// rounds. Where each segment goes is fixed at compile time (the kernel's blocks are
    /// unrolled, so every hook sees constant round numbers): no branch decides what to run.
    #[target_feature(enable = "avx512f,sha,sse2,ssse3,sse4.1")]
    pub(super) fn scan<const G: usize, const P: usize>(
        pre: &Precomputed,
        range: NonceRange,
        top: u32,
        out: &mut Vec<u32>,
    ) {
        let simd = 16 * G as u64;
        let per_step = simd + (L * P) as u64;
        let step = range.step();
        let lane_index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let lane_step = _mm512_mullo_epi32(lane_index, _mm512_set1_epi32(step as i32));
        let top_v = _mm512_set1_epi32(top as i32);
        let mid = state(pre.mid);
        let mut w = [splat::<G>(0); 64];
        let mut v = [splat::<G>(0); 64];
        let mut first = 0u64;
        while range.len() - first >= per_step {
            // AVX-512 group g, lane l hashes index first + 16g + l; SHA-NI pass p, lane l
            // hashes first + 16G + 2p + l.
            let base = _mm512_add_epi32(_mm512_set1_epi32(range.nth(first) as i32), lane_step);
            let mut x = [base; G];
            for (g, x) in x.iter_mut().enumerate() {
                let n = _mm512_add_epi32(
                    base,
                    _mm512_set1_epi32(step.wrapping_mul(16 * g as u32) as i32),
                );
                *x = bswap(n);
            }
            let mut st = [state(pre.s2); L];
            let mut m = [[_mm_setzero_si128(); 4]; L];
            let mut found = 0u32;

            // Segment `k` of the step's SHA-NI work: pass k / 32, segment k % 32.
            macro_rules! segment {
                ($k:expr) => {{
                    let k: usize = $k;
                    let pass = k / SEGMENTS;
                    let seg = k % SEGMENTS;
                    match seg {
                        0 => {
                            // Rounds 2 and 3 of hash 1 (0 and 1 are precomputed).
                            let mut kw = [_mm_setzero_si128(); L];
                            for l in 0..L {
                                let i = first + simd + (L * pass + l) as u64;
                                let x = range.nth(i).swap_bytes();
                                st[l] = state(pre.s2);
                                kw[l] = words([
                                    pre.w[2].wrapping_add(K[2]),
                                    x.wrapping_add(K[3]),
                                    0,
                                    0,
                                ]);
                                m[l] = [
                                    words([pre.w[0], pre.w[1], pre.w[2], x]),
                                    words([PAD, 0, 0, 0]),
                                    _mm_setzero_si128(),
                                    words([0, 0, 0, 640]),
                                ];
                            }
                            two_rounds(&mut st, &kw);
                        }
                        1..=3 => {
                            let t = 4 * seg;
                            let kw = words([
                                HASH1_KW[t],
                                HASH1_KW[t + 1],
                                HASH1_KW[t + 2],
                                HASH1_KW[t + 3],
                            ]);
                            four_rounds(&mut st, &[kw; L]);
                        }
                        16 => {
                            // Hash 1 ends: its digest is hash 2's W0..W7. Rounds 0..=3.
                            let mut kw = [_mm_setzero_si128(); L];
                            for l in 0..L {
                                let abef = _mm_add_epi32(st[l].abef, mid.abef);
                                let cdgh = _mm_add_epi32(st[l].cdgh, mid.cdgh);
                                let hi = _mm_unpackhi_epi64(cdgh, abef);
                                let lo = _mm_unpacklo_epi64(cdgh, abef);
                                m[l] = [
                                    _mm_shuffle_epi32::<0x1b>(hi),
                                    _mm_shuffle_epi32::<0x1b>(lo),
                                    words([PAD, 0, 0, 0]),
                                    words([0, 0, 0, 256]),
                                ];
                                st[l] = state(H0);
                                kw[l] = _mm_add_epi32(m[l][0], k4(0));
                            }
                            four_rounds(&mut st, &kw);
                        }
                        17 => {
                            let mut kw = [_mm_setzero_si128(); L];
                            for l in 0..L {
                                kw[l] = _mm_add_epi32(m[l][1], k4(4));
                            }
                            four_rounds(&mut st, &kw);
                        }
                        18 | 19 => {
                            let t = 4 * (seg - 16);
                            let kw = words([
                                HASH2_KW[t],
                                HASH2_KW[t + 1],
                                HASH2_KW[t + 2],
                                HASH2_KW[t + 3],
                            ]);
                            four_rounds(&mut st, &[kw; L]);
                        }
                        31 => {
                            // Rounds 60 and 61 of hash 2: f afterwards is e after round 60,
                            // which rounds 61..=63 shift into h — word 7 less the IV's.
                            extend(&mut m);
                            let mut kw = [_mm_setzero_si128(); L];
                            for l in 0..L {
                                kw[l] = _mm_add_epi32(m[l][3], k4(60));
                            }
                            two_rounds(&mut st, &kw);
                            for l in 0..L {
                                let h7 = (_mm_cvtsi128_si32(st[l].abef) as u32).wrapping_add(H0[7]);
                                if is_candidate(h7, top) {
                                    found |= 1 << (L * pass + l);
                                }
                            }
                        }
                        _ => {
                            // Rounds 16..=63 of either hash: extend the schedule, 4 rounds.
                            extend(&mut m);
                            let k = k4(4 * (seg % 16));
                            let mut kw = [_mm_setzero_si128(); L];
                            for l in 0..L {
                                kw[l] = _mm_add_epi32(m[l][3], k);
                            }
                            four_rounds(&mut st, &kw);
                        }
                    }
                }};
            }

            let h7: V<G> = sha256d_h7!(pre, V(x), &mut w, &mut v, unrolled, |hash, round| {
                // Hook r (0..120) runs segments r·S/120 .. (r+1)·S/120, S = 32P.
                let r = if hash == 1 { round - 4 } else { 59 + round };
                let total = SEGMENTS * P;
                for k in r * total / HOOKS..(r + 1) * total / HOOKS {
                    segment!(k);
                }
            });
            let mut mask = 0u64;
            for (g, h) in h7.0.iter().enumerate() {
                mask |= u64::from(_mm512_cmple_epu32_mask(bswap(*h), top_v)) << (16 * g);
            }
            while mask != 0 {
                out.push(range.nth(first + u64::from(mask.trailing_zeros())));
                mask &= mask - 1;
            }
            while found != 0 {
                out.push(range.nth(first + simd + u64::from(found.trailing_zeros())));
                found &= found - 1;
            }
            first += per_step;
        }
        // The nonces left (fewer than one step): the plain AVX-512 kernel.
        let (_, rest) = range.split_at(first);
        crate::pow::avx512::lanes::scan::<1>(pre, rest, top, out);
    }
}
