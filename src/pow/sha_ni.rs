//! `sha-ni`: the x86 SHA extensions (`sha256rnds2` does two rounds, `sha256msg1/2` extend the
//! message schedule), several nonces interleaved so one nonce's rounds run while another's wait.
//!
//! On Zen 5 one `sha256rnds2` has a 4-cycle latency and a throughput of one every 2 cycles, and
//! each depends on the previous one for the same nonce: a single stream (as in `openssl speed`)
//! leaves the unit idle half the time. [`LANES`] independent nonces, interleaved instruction by
//! instruction, fill it.
//!
//! Precomputed per batch ([`Precomputed`]): the midstate and block-2 rounds 0–1 (one
//! `sha256rnds2` fewer), the constant `K + W` of the padding words (rounds 4–15 of hash 1, 8–15 of
//! hash 2). Early exit: hash 2 stops after rounds 60–61, whose output already holds the final
//! state word 7 (the last `sha256rnds2`, rounds 62–63, is skipped).
//!
//! Owns: the SHA-NI lane code and the loop over nonce groups. Must not: check CPU features (a
//! [`ShaNi`] can only be made by [`BackendKind::instantiate`] after the check).
//!
//! [`BackendKind::instantiate`]: super::BackendKind::instantiate

use std::sync::atomic::{AtomicUsize, Ordering};

use super::precompute::Precomputed;
use super::{Backend, BackendKind, Hit, NonceRange, Work};

/// Nonces in flight at once, the knob the `auto` calibration measures per CPU. Enough lanes must
/// be in flight to cover `sha256rnds2`'s latency over its issue interval: 4/2 on Zen 3, 4 and 5
/// (2 lanes), 6/1 on Sapphire Rapids (per LLVM's scheduling model: 3 or more). But the SHA
/// instructions exist only in the legacy SSE encoding, so they reach just xmm0–xmm15 (and xmm0
/// is their implicit message operand); a nonce keeps 6 registers live (2 of state, 4 of
/// schedule), and three or four lanes spill state to the stack between rounds, which puts
/// store-to-load latency on the round chain. Measured on Zen 5, per CPU-second: 1 lane 17.5
/// MH/s, 2 lanes 24.6, 3 lanes 21.6, 4 lanes 16.9.
pub const LANE_CHOICES: [usize; 3] = [2, 3, 4];
/// The lanes a [`ShaNi`] gets when made without saying, until the calibration sets another.
static DEFAULT_LANES: AtomicUsize = AtomicUsize::new(2);

/// Sets the lanes of every [`ShaNi`] made from now on (a value outside [`LANE_CHOICES`] is
/// ignored).
pub fn set_default_lanes(lanes: usize) {
    if LANE_CHOICES.contains(&lanes) {
        DEFAULT_LANES.store(lanes, Ordering::Relaxed);
    }
}

/// See [`set_default_lanes`].
pub fn default_lanes() -> usize {
    DEFAULT_LANES.load(Ordering::Relaxed)
}

/// The SHA-NI backend. Holding one is proof that the CPU has SHA, SSSE3 and SSE4.1.
#[derive(Debug, Clone, Copy)]
pub struct ShaNi {
    lanes: usize,
}

impl ShaNi {
    /// # Safety
    /// The CPU must support `sha`, `ssse3` and `sse4.1`. Only
    /// [`super::BackendKind::instantiate`] calls this, after `availability()` checked them.
    pub(super) unsafe fn new_unchecked() -> ShaNi {
        ShaNi {
            lanes: default_lanes(),
        }
    }

    /// The same backend with `lanes` nonces in flight (clamped to 2..=4).
    pub fn with_lanes(self, lanes: usize) -> ShaNi {
        ShaNi {
            lanes: lanes.clamp(2, 4),
        }
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }
}

impl Backend for ShaNi {
    fn name(&self) -> &str {
        BackendKind::ShaNi.name()
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let pre = Precomputed::new(work.header.as_bytes());
        let mut candidates = Vec::new();
        // SAFETY: `self` exists, so `new_unchecked`'s contract held: this CPU has sha, ssse3
        // and sse4.1.
        unsafe {
            let top = work.target.top_word();
            match self.lanes {
                2 => lanes::scan::<2>(&pre, range, top, &mut candidates),
                3 => lanes::scan::<3>(&pre, range, top, &mut candidates),
                _ => lanes::scan::<4>(&pre, range, top, &mut candidates),
            }
        };
        pre.confirm(work, &candidates, hits);
        range.len()
    }
}

mod lanes {
    use std::arch::x86_64::*;

    use crate::pow::precompute::{is_candidate, Precomputed, HASH1_KW, HASH2_KW};
    use crate::pow::reference::{H0, K};
    use crate::pow::NonceRange;

    /// One nonce's state in the layout `sha256rnds2` wants: `abef` holds `[f, e, b, a]` in lanes
    /// 0..3, `cdgh` holds `[h, g, d, c]`.
    #[derive(Clone, Copy)]
    struct State {
        abef: __m128i,
        cdgh: __m128i,
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn state(s: [u32; 8]) -> State {
        let [a, b, c, d, e, f, g, h] = s.map(|w| w as i32);
        State {
            abef: _mm_set_epi32(a, b, e, f),
            cdgh: _mm_set_epi32(c, d, g, h),
        }
    }

    /// `[w0, w1, w2, w3]` in lanes 0..3.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn words(w: [u32; 4]) -> __m128i {
        _mm_set_epi32(w[3] as i32, w[2] as i32, w[1] as i32, w[0] as i32)
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn k4(t: usize) -> __m128i {
        words([K[t], K[t + 1], K[t + 2], K[t + 3]])
    }

    /// Rounds t and t+1 for every lane; `kw` lanes 0 and 1 hold `K + W` of those rounds.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn two_rounds<const L: usize>(st: &mut [State; L], kw: &[__m128i; L]) {
        for l in 0..L {
            let next = _mm_sha256rnds2_epu32(st[l].cdgh, st[l].abef, kw[l]);
            st[l].cdgh = st[l].abef;
            st[l].abef = next;
        }
    }

    /// Rounds t..t+3; `kw` holds `K + W` of all four.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn four_rounds<const L: usize>(st: &mut [State; L], kw: &[__m128i; L]) {
        two_rounds(st, kw);
        let mut high = *kw;
        for h in high.iter_mut() {
            *h = _mm_shuffle_epi32::<0x0e>(*h);
        }
        two_rounds(st, &high);
    }

    /// The next four schedule words from the last sixteen `m = [W(t-16..), .., W(t-4..)]`.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn extend<const L: usize>(m: &mut [[__m128i; 4]; L]) {
        for w in m.iter_mut() {
            let t = _mm_add_epi32(
                _mm_sha256msg1_epu32(w[0], w[1]),
                _mm_alignr_epi8::<4>(w[3], w[2]),
            );
            let next = _mm_sha256msg2_epu32(t, w[3]);
            *w = [w[1], w[2], w[3], next];
        }
    }

    /// Rounds 16..=63 (or 16..=61 when `early`) of one block whose first 16 words are `m`.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn rounds_16_on<const L: usize>(st: &mut [State; L], m: &mut [[__m128i; 4]; L], early: bool) {
        for t in (16..64).step_by(4) {
            extend(m);
            let mut kw = [_mm_setzero_si128(); L];
            for l in 0..L {
                kw[l] = _mm_add_epi32(m[l][3], k4(t));
            }
            if early && t == 60 {
                // Rounds 60 and 61 leave f = e after round 60 = the final h − IV[7].
                two_rounds(st, &kw);
            } else {
                four_rounds(st, &kw);
            }
        }
    }

    /// State word 7 of hash 2 for the nonce words `x` (byte-swapped nonces), one per lane.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn h7<const L: usize>(pre: &Precomputed, x: [u32; L]) -> [u32; L] {
        // ---- Hash 1, block 2, from the state after rounds 0 and 1.
        let mut st = [state(pre.s2); L];
        let mut kw = [_mm_setzero_si128(); L];
        for l in 0..L {
            kw[l] = words([pre.w[2].wrapping_add(K[2]), x[l].wrapping_add(K[3]), 0, 0]);
        }
        two_rounds(&mut st, &kw);
        for t in (4..16).step_by(2) {
            two_rounds(&mut st, &[words([HASH1_KW[t], HASH1_KW[t + 1], 0, 0]); L]);
        }
        let mut m = [[_mm_setzero_si128(); 4]; L];
        for l in 0..L {
            m[l] = [
                words([pre.w[0], pre.w[1], pre.w[2], x[l]]),
                words([0x8000_0000, 0, 0, 0]),
                _mm_setzero_si128(),
                words([0, 0, 0, 640]),
            ];
        }
        rounds_16_on(&mut st, &mut m, false);
        let mid = state(pre.mid);
        for s in st.iter_mut() {
            s.abef = _mm_add_epi32(s.abef, mid.abef);
            s.cdgh = _mm_add_epi32(s.cdgh, mid.cdgh);
        }

        // ---- Hash 2: the digest as W0..W7, then constant padding words.
        for l in 0..L {
            // unpackhi gives [d, c, b, a], unpacklo [h, g, f, e]; reverse both.
            let hi = _mm_unpackhi_epi64(st[l].cdgh, st[l].abef);
            let lo = _mm_unpacklo_epi64(st[l].cdgh, st[l].abef);
            m[l] = [
                _mm_shuffle_epi32::<0x1b>(hi),
                _mm_shuffle_epi32::<0x1b>(lo),
                words([0x8000_0000, 0, 0, 0]),
                words([0, 0, 0, 256]),
            ];
        }
        let mut st = [state(H0); L];
        // Rounds 0..=3 read the digest's first four words, rounds 4..=7 the other four.
        for half in [0, 1] {
            for (k, m) in kw.iter_mut().zip(&m) {
                *k = _mm_add_epi32(m[half], k4(4 * half));
            }
            four_rounds(&mut st, &kw);
        }
        for t in (8..16).step_by(2) {
            two_rounds(&mut st, &[words([HASH2_KW[t], HASH2_KW[t + 1], 0, 0]); L]);
        }
        rounds_16_on(&mut st, &mut m, true);
        let mut out = [0u32; L];
        for l in 0..L {
            out[l] = (_mm_cvtsi128_si32(st[l].abef) as u32).wrapping_add(H0[7]);
        }
        out
    }

    /// Appends to `out` every nonce of `range` whose hash's top 32 bits are `<= top`.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn scan<const L: usize>(
        pre: &Precomputed,
        range: NonceRange,
        top: u32,
        out: &mut Vec<u32>,
    ) {
        let len = range.len();
        let mut i = 0u64;
        while i < len {
            // In the last group, lanes past the end repeat the last nonce and are ignored.
            let mut x = [0u32; L];
            for (l, x) in x.iter_mut().enumerate() {
                *x = range.nth((i + l as u64).min(len - 1)).swap_bytes();
            }
            let h = h7(pre, x);
            for (l, &h) in h.iter().enumerate() {
                if i + (l as u64) < len && is_candidate(h, top) {
                    out.push(range.nth(i + l as u64));
                }
            }
            i += L as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn each_lane_count(f: impl Fn(&dyn Backend)) {
        match BackendKind::ShaNi.instantiate() {
            Ok(_) => {
                for l in LANE_CHOICES {
                    // SAFETY: instantiate() just checked sha, ssse3 and sse4.1 on this CPU.
                    let b = unsafe { ShaNi::new_unchecked() }.with_lanes(l);
                    assert_eq!(b.lanes(), l);
                    f(&b);
                }
            }
            Err(e) => eprintln!("sha-ni test skipped: {e}"),
        }
    }

    #[test]
    fn agrees_with_reference_at_every_lane_count() {
        each_lane_count(|b| crate::testing::cross_check(b));
    }

    #[test]
    fn finds_real_mainnet_nonces_at_every_lane_count() {
        each_lane_count(|b| crate::testing::mainnet_windows(b));
    }
}
