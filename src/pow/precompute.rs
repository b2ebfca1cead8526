//! The nonce-independent part of Bitcoin's SHA-256d and the lane kernel that the `avx2` and
//! `avx512` backends (and a scalar twin used by tests) instantiate; `sha-ni` uses the same
//! precomputed values with its own instructions.
//!
//! Owns: the algebra of "what changes when only the nonce changes" — the midstate, the state after
//! the first three rounds of the header's second block, the constant parts of both message
//! schedules — and the early-exit kernel that stops the second hash once state word 7 is fixed.
//! Must not: detect CPU features (that is [`super::BackendKind`]), or decide hits on its own
//! (every candidate is re-hashed in full by [`Precomputed::confirm`]).
//!
//! Notation: `x` is word 3 of the header's second block, i.e. the nonce byte-swapped (the nonce is
//! stored little endian, SHA-256 reads big-endian words). Hash 1 is the second block of
//! SHA-256(header) starting from the midstate; hash 2 is SHA-256 of hash 1's 32-byte digest.

use super::reference::{H0, K};
use super::{Hit, Work};

/// Word 4 of both padded blocks that follow message data ending on a word boundary: the `1` bit.
pub(crate) const PAD: u32 = 0x8000_0000;
/// Block 2 of the header ends with its bit length: 80 bytes = 640 bits (word 15).
pub(crate) const HEADER_BITS: u32 = 640;
/// Hash 2's block ends with the 32-byte digest's bit length (word 15).
pub(crate) const DIGEST_BITS: u32 = 256;

pub(crate) const fn bsig0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}
pub(crate) const fn bsig1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}
pub(crate) const fn ssig0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}
pub(crate) const fn ssig1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}
pub(crate) const fn ch(e: u32, f: u32, g: u32) -> u32 {
    (e & f) ^ (!e & g)
}
pub(crate) const fn maj(a: u32, b: u32, c: u32) -> u32 {
    (a & b) ^ (a & c) ^ (b & c)
}

/// One scalar SHA-256 round on `s = [a, b, c, d, e, f, g, h]` with `kw = K[t] + W[t]`.
const fn round(s: [u32; 8], kw: u32) -> [u32; 8] {
    let [a, b, c, d, e, f, g, h] = s;
    let t1 = h
        .wrapping_add(bsig1(e))
        .wrapping_add(ch(e, f, g))
        .wrapping_add(kw);
    let t2 = bsig0(a).wrapping_add(maj(a, b, c));
    [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g]
}

/// `K[t] + W[t]` for the rounds whose message word is a padding constant: block-2 words 4..=15
/// of hash 1 (`0x80000000`, zeros, 640) — the same for every header.
pub(crate) const HASH1_KW: [u32; 16] = {
    let mut kw = [0u32; 16];
    let mut t = 4;
    while t < 16 {
        let w = match t {
            4 => PAD,
            15 => HEADER_BITS,
            _ => 0,
        };
        kw[t] = K[t].wrapping_add(w);
        t += 1;
    }
    kw
};

/// `K[t] + W[t]` for hash 2's padding words 8..=15 (`0x80000000`, zeros, 256).
pub(crate) const HASH2_KW: [u32; 16] = {
    let mut kw = [0u32; 16];
    let mut t = 8;
    while t < 16 {
        let w = match t {
            8 => PAD,
            15 => DIGEST_BITS,
            _ => 0,
        };
        kw[t] = K[t].wrapping_add(w);
        t += 1;
    }
    kw
};

/// Hash 2, round 0 starts from the constant IV, so after it `a = HASH2_A1 + W0` and
/// `e = HASH2_E1 + W0`; the other six words are IV words.
pub(crate) const HASH2_T1_BASE: u32 = H0[7]
    .wrapping_add(bsig1(H0[4]))
    .wrapping_add(ch(H0[4], H0[5], H0[6]))
    .wrapping_add(K[0]);
pub(crate) const HASH2_E1: u32 = H0[3].wrapping_add(HASH2_T1_BASE);
pub(crate) const HASH2_A1: u32 = HASH2_T1_BASE
    .wrapping_add(bsig0(H0[0]))
    .wrapping_add(maj(H0[0], H0[1], H0[2]));

/// Constant terms of hash 2's schedule (`W9..W14 = 0`, `W8 = PAD`, `W15 = 256`):
/// `W17 = s1(256) + s0(W2) + W1`, `W23 = … + s0(PAD)`, `W30 = … + s0(256)`.
pub(crate) const HASH2_W17_C: u32 = ssig1(DIGEST_BITS);
pub(crate) const HASH2_W23_C: u32 = ssig0(PAD);
pub(crate) const HASH2_W30_C: u32 = ssig0(DIGEST_BITS);
/// Hash 1's `W30 = s1(W28) + W23 + s0(640)`.
pub(crate) const HASH1_W30_C: u32 = ssig0(HEADER_BITS);

/// Everything about one header template that does not depend on the nonce. Built once per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Precomputed {
    /// State after compressing header bytes 0..64 (added back after block 2's 64 rounds).
    pub mid: [u32; 8],
    /// Block-2 words 0..=2: the merkle root's last 4 bytes, time, nBits (big-endian words).
    pub w: [u32; 3],
    /// State `[a..h]` after block-2 rounds 0 and 1 (for `sha-ni`, which works in round pairs).
    pub s2: [u32; 8],
    /// State `[a..h]` after block-2 rounds 0..=2: they read only `w0..w2`.
    pub s3: [u32; 8],
    /// Round 3 reads `x`: afterwards `a = a4_base + x` and `e = e4_base + x`.
    pub a4_base: u32,
    pub e4_base: u32,
    /// Hash-1 schedule words and constant parts: `W16`, `W17` are constant; `W18 = w18_base +
    /// s0(x)`, `W19 = w19_base + x`; `W31 = … + w31_base`, `W32 = … + w32_base`.
    pub w16: u32,
    pub w17: u32,
    pub w18_base: u32,
    pub w19_base: u32,
    pub w31_base: u32,
    pub w32_base: u32,
}

impl Precomputed {
    /// Does the per-batch work for `header` (its nonce field is ignored).
    pub fn new(header: &[u8; 80]) -> Precomputed {
        let mid = super::sha2_midstate::midstate(header);
        let word = |i: usize| {
            u32::from_be_bytes([
                header[64 + 4 * i],
                header[65 + 4 * i],
                header[66 + 4 * i],
                header[67 + 4 * i],
            ])
        };
        let w = [word(0), word(1), word(2)];
        let s1 = round(mid, K[0].wrapping_add(w[0]));
        let s2 = round(s1, K[1].wrapping_add(w[1]));
        let s3 = round(s2, K[2].wrapping_add(w[2]));
        // Round 3 with x = 0 gives the bases; x enters T1 once, and T1 enters both a and e.
        let s4 = round(s3, K[3]);
        let w16 = ssig0(w[1]).wrapping_add(w[0]);
        let w17 = ssig1(HEADER_BITS)
            .wrapping_add(ssig0(w[2]))
            .wrapping_add(w[1]);
        Precomputed {
            mid,
            w,
            s2,
            s3,
            a4_base: s4[0],
            e4_base: s4[4],
            w16,
            w17,
            w18_base: ssig1(w16).wrapping_add(w[2]),
            w19_base: ssig1(w17).wrapping_add(ssig0(PAD)),
            w31_base: ssig0(w16).wrapping_add(HEADER_BITS),
            w32_base: ssig0(w17).wrapping_add(w16),
        }
    }

    /// The full SHA-256d of the header with `nonce` (SHA-256 byte order), computed plainly with
    /// `sha2`'s compression from the midstate: the exact path every early-exit candidate takes.
    pub fn full_hash(&self, header: &[u8; 80], nonce: u32) -> [u8; 32] {
        use sha2::block_api::compress256;
        let mut tail = super::sha2_midstate::second_block(header);
        tail[12..16].copy_from_slice(&nonce.to_le_bytes());
        let mut state = self.mid;
        compress256(&mut state, &[tail]);
        let mut inner = [0u8; 64];
        for (i, w) in state.iter().enumerate() {
            inner[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
        }
        inner[32] = 0x80;
        inner[56..].copy_from_slice(&u64::from(DIGEST_BITS).to_be_bytes());
        let mut outer = H0;
        compress256(&mut outer, &[inner]);
        let mut hash = [0u8; 32];
        for (i, w) in outer.iter().enumerate() {
            hash[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
        }
        hash
    }

    /// Re-hashes each early-exit candidate in full and keeps those that meet the whole 256-bit
    /// target: the top-word test only says "maybe" when the top words are equal.
    pub fn confirm(&self, work: &Work, candidates: &[u32], hits: &mut Vec<Hit>) {
        let header = work.header.as_bytes();
        for &nonce in candidates {
            let hash = self.full_hash(header, nonce);
            if work.target.is_met_by(&hash) {
                hits.push(Hit { nonce, hash });
            }
        }
    }
}

/// Whether state word 7 of hash 2 can belong to a hash at or below a target whose most
/// significant 32 bits are `top`: the hash's top 32 bits, read little endian, are `bswap(h7)`.
#[inline]
pub(crate) fn is_candidate(h7: u32, top: u32) -> bool {
    h7.swap_bytes() <= top
}

/// The early-exit SHA-256d kernel, written once for any lane type.
///
/// Expands to an expression giving, per lane, state word 7 of hash 2 (before byte swapping) for
/// the nonce word `x` (the byte-swapped nonce). It runs hash 1 from round 3 and hash 2 only up to
/// round 60, the last round that feeds word 7 (`h` after round 63 is `e` after round 60).
///
/// It calls, unqualified, functions the expanding module provides for its lane type `V`:
/// `splat(u32) -> V`, `add(V, V) -> V`, `bsig0`, `bsig1`, `ssig0`, `ssig1` (`V -> V`),
/// `ch(e, f, g)`, `maj(a, b, c)`. A macro rather than a generic function so that each SIMD
/// module's operations can be safe `#[target_feature]` functions that inline into a
/// `#[target_feature]` caller — no `unsafe` inside the kernel.
///
/// `$wbuf` and `$vbuf` are `&mut [V; 64]`, the two message schedules, owned by the caller so
/// that they are zeroed once per batch rather than once per step: zeroing two 64-word arrays of
/// lanes is a `memset` of 8 KiB per 16-lane group, which took 11.6 % of the `avx512` backend's
/// time on Zen 4 (perf, cpu-clock). Pass them zeroed; the kernel writes every word it reads
/// except the padding words that stay zero (hash 1's 5..=14, hash 2's 9..=14), and never
/// writes those.
macro_rules! sha256d_h7 {
    ($pre:expr, $x:expr, $wbuf:expr, $vbuf:expr) => {{
        use $crate::pow::precompute::{
            DIGEST_BITS, HASH1_W30_C, HASH2_A1, HASH2_E1, HASH2_W17_C, HASH2_W23_C, HASH2_W30_C,
            HEADER_BITS, PAD,
        };
        use $crate::pow::reference::{H0, K};
        let p: &$crate::pow::precompute::Precomputed = $pre;
        let x = $x;

        // One full round; `kw` is K[t] + W[t] for this round. The new e is summed as
        // (d + h + kw + Ch) + Σ1(e) rather than d + T1: one add more, but Σ1 (two dependent
        // ops of 2-cycle latency on Zen 5) comes last, which shortens the round's chain.
        macro_rules! rnd {
            ($s:ident, $kw:expr) => {{
                let [a, b, c, d, e, f, g, h] = $s;
                let hkc = add(add(h, $kw), ch(e, f, g));
                let s1 = bsig1(e);
                let t1 = add(hkc, s1);
                let e_new = add(add(d, hkc), s1);
                let a_new = add(add(t1, maj(a, b, c)), bsig0(a));
                $s = [a_new, a, b, c, e_new, e, f, g];
            }};
        }
        // A round that computes only the new `e`, for hash 2's rounds 57..=60: an `a` computed
        // there would reach `e` (as `d`) in round 61 at the earliest, too late for word 7.
        macro_rules! rnd_e {
            ($s:ident, $kw:expr) => {{
                let [a, b, c, d, e, f, g, h] = $s;
                let t1 = add(add(add(h, $kw), ch(e, f, g)), bsig1(e));
                $s = [a, a, b, c, add(d, t1), e, f, g];
            }};
        }
        // Rounds t..t+7, reading K + W from `w`.
        macro_rules! rounds8 {
            ($s:ident, $w:ident, $t:expr) => {{
                let t = $t;
                rnd!($s, add(splat(K[t]), $w[t]));
                rnd!($s, add(splat(K[t + 1]), $w[t + 1]));
                rnd!($s, add(splat(K[t + 2]), $w[t + 2]));
                rnd!($s, add(splat(K[t + 3]), $w[t + 3]));
                rnd!($s, add(splat(K[t + 4]), $w[t + 4]));
                rnd!($s, add(splat(K[t + 5]), $w[t + 5]));
                rnd!($s, add(splat(K[t + 6]), $w[t + 6]));
                rnd!($s, add(splat(K[t + 7]), $w[t + 7]));
            }};
        }
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]
        macro_rules! sched {
            ($w:ident, $t:expr) => {
                $w[$t] = add(
                    add(ssig1($w[$t - 2]), $w[$t - 7]),
                    add(ssig0($w[$t - 15]), $w[$t - 16]),
                )
            };
        }

        // ---- Hash 1: block 2 of the header, from the precomputed state after round 3.
        let mut s = [
            add(splat(p.a4_base), x),
            splat(p.s3[0]),
            splat(p.s3[1]),
            splat(p.s3[2]),
            add(splat(p.e4_base), x),
            splat(p.s3[4]),
            splat(p.s3[5]),
            splat(p.s3[6]),
        ];
        // The schedule, with the words that are zero or constant folded away. Words 4..=15 are
        // padding; they sit in `w` so that rounds 4..=59 run as one loop of seven 8-round blocks.
        // (Unrolled completely the kernel outgrows the instruction and op caches and the front
        // end starves the vector pipes; a one-round loop would spend moves rotating the state.)
        let w: &mut [_; 64] = $wbuf;
        w[4] = splat(PAD);
        w[15] = splat(HEADER_BITS);
        w[16] = splat(p.w16);
        w[17] = splat(p.w17);
        w[18] = add(splat(p.w18_base), ssig0(x));
        w[19] = add(splat(p.w19_base), x);
        w[20] = add(ssig1(w[18]), splat(PAD));
        w[21] = ssig1(w[19]);
        w[22] = add(ssig1(w[20]), splat(HEADER_BITS));
        w[23] = add(ssig1(w[21]), w[16]);
        w[24] = add(ssig1(w[22]), w[17]);
        w[25] = add(ssig1(w[23]), w[18]);
        w[26] = add(ssig1(w[24]), w[19]);
        w[27] = add(ssig1(w[25]), w[20]);
        w[28] = add(ssig1(w[26]), w[21]);
        w[29] = add(ssig1(w[27]), w[22]);
        w[30] = add(add(ssig1(w[28]), w[23]), splat(HASH1_W30_C));
        w[31] = add(add(ssig1(w[29]), w[24]), splat(p.w31_base));
        w[32] = add(add(ssig1(w[30]), w[25]), splat(p.w32_base));
        for t in 33..64 {
            sched!(w, t);
        }
        for block in 0..7 {
            rounds8!(s, w, 4 + 8 * block);
        }
        for t in 60..64 {
            rnd!(s, add(splat(K[t]), w[t]));
        }

        // ---- Hash 2: the digest (state + midstate) is W0..W7 of a one-block message.
        let v: &mut [_; 64] = $vbuf;
        for (vi, (si, mi)) in v.iter_mut().zip(s.iter().zip(p.mid)) {
            *vi = add(*si, splat(mi));
        }
        v[8] = splat(PAD);
        v[15] = splat(DIGEST_BITS);
        v[16] = add(ssig0(v[1]), v[0]);
        v[17] = add(add(ssig0(v[2]), v[1]), splat(HASH2_W17_C));
        v[18] = add(add(ssig1(v[16]), ssig0(v[3])), v[2]);
        v[19] = add(add(ssig1(v[17]), ssig0(v[4])), v[3]);
        v[20] = add(add(ssig1(v[18]), ssig0(v[5])), v[4]);
        v[21] = add(add(ssig1(v[19]), ssig0(v[6])), v[5]);
        v[22] = add(
            add(ssig1(v[20]), ssig0(v[7])),
            add(v[6], splat(DIGEST_BITS)),
        );
        v[23] = add(add(ssig1(v[21]), v[16]), add(v[7], splat(HASH2_W23_C)));
        v[24] = add(add(ssig1(v[22]), v[17]), splat(PAD));
        v[25] = add(ssig1(v[23]), v[18]);
        v[26] = add(ssig1(v[24]), v[19]);
        v[27] = add(ssig1(v[25]), v[20]);
        v[28] = add(ssig1(v[26]), v[21]);
        v[29] = add(ssig1(v[27]), v[22]);
        v[30] = add(add(ssig1(v[28]), v[23]), splat(HASH2_W30_C));
        v[31] = add(
            add(ssig1(v[29]), v[24]),
            add(ssig0(v[16]), splat(DIGEST_BITS)),
        );
        for t in 32..61 {
            sched!(v, t);
        }
        // Round 0 from the constant IV: only W0 varies. Then rounds 1..=56 in seven blocks.
        let mut s = [
            add(splat(HASH2_A1), v[0]),
            splat(H0[0]),
            splat(H0[1]),
            splat(H0[2]),
            add(splat(HASH2_E1), v[0]),
            splat(H0[4]),
            splat(H0[5]),
            splat(H0[6]),
        ];
        for block in 0..7 {
            rounds8!(s, v, 1 + 8 * block);
        }
        // Rounds 57..=60 only for e: after round 60, e is what rounds 61..63 shift into h.
        for t in 57..61 {
            rnd_e!(s, add(splat(K[t]), v[t]));
        }
        add(s[4], splat(H0[7]))
    }};
}
pub(crate) use sha256d_h7;

/// The part every lane backend shares around its `lanes::scan`: the zero-sized struct whose
/// existence proves the CPU feature, its `unsafe` constructor, the [`Backend`](super::Backend)
/// impl (precompute, scan for candidates, confirm each with the full hash) and the two tests
/// against the reference. The lane operations stay in each backend's own `lanes` module.
macro_rules! lane_backend {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $feature:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name {
            _detected: (),
        }

        impl $name {
            /// # Safety
            #[doc = concat!("The CPU must support `", $feature, "`. Only")]
            /// [`super::BackendKind::instantiate`] calls this, after `availability()` checked it.
            pub(super) unsafe fn new_unchecked() -> $name {
                $name { _detected: () }
            }
        }

        impl $crate::pow::Backend for $name {
            fn name(&self) -> &str {
                $kind.name()
            }

            fn scan(
                &self,
                work: &$crate::pow::Work,
                range: $crate::pow::NonceRange,
                hits: &mut Vec<$crate::pow::Hit>,
            ) -> u64 {
                let pre = $crate::pow::precompute::Precomputed::new(work.header.as_bytes());
                let mut candidates = Vec::new();
                // SAFETY: `self` exists, so `new_unchecked`'s contract held: `instantiate`
                // checked that this CPU has the feature `lanes::scan` is compiled for.
                unsafe { lanes::scan(&pre, range, work.target.top_word(), &mut candidates) };
                pre.confirm(work, &candidates, hits);
                range.len()
            }
        }

        #[cfg(test)]
        mod tests {
            #[test]
            fn agrees_with_reference() {
                match $kind.instantiate() {
                    Ok(backend) => $crate::testing::cross_check(backend.as_ref()),
                    Err(e) => eprintln!("{} test skipped: {e}", $kind),
                }
            }

            #[test]
            fn finds_real_mainnet_nonces() {
                match $kind.instantiate() {
                    Ok(backend) => $crate::testing::mainnet_windows(backend.as_ref()),
                    Err(e) => eprintln!("{} mainnet test skipped: {e}", $kind),
                }
            }
        }
    };
}
pub(crate) use lane_backend;

/// The lane operations for plain `u32`: the kernel's scalar twin, which tests compare with the
/// reference so that the kernel's algebra is checked apart from any SIMD code.
#[cfg(test)]
mod scalar_ops {
    pub(super) use super::{bsig0, bsig1, ch, maj, ssig0, ssig1};
    #[inline(always)]
    pub(super) fn splat(x: u32) -> u32 {
        x
    }
    #[inline(always)]
    pub(super) fn add(a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
}

/// State word 7 of hash 2 for `nonce`, through the same kernel the SIMD backends run.
#[cfg(test)]
fn h7_scalar(pre: &Precomputed, nonce: u32) -> u32 {
    use scalar_ops::*;
    sha256d_h7!(pre, nonce.swap_bytes(), &mut [0; 64], &mut [0; 64])
}

/// A lane type that counts the operations the kernel runs, as the AVX-512 backend executes them:
/// `Σ` = 3 rotates + 1 ternary logic, `σ` = 2 rotates + 1 shift + 1 ternary logic, `Ch`/`Maj` =
/// 1 ternary logic, `+` = 1 add. An operation whose inputs are all constants is folded (as the
/// compiler folds `splat + splat`) and not counted.
#[cfg(test)]
mod counting_ops {
    use std::cell::Cell;

    /// Per-nonce operation counts of one kernel run.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub(super) struct Ops {
        pub rotates: u64,
        pub shifts: u64,
        pub logic: u64,
        pub adds: u64,
    }

    thread_local! {
        pub(super) static OPS: Cell<Ops> = Cell::new(Ops::default());
    }

    fn count(f: impl FnOnce(&mut Ops)) {
        OPS.with(|c| {
            let mut o = c.get();
            f(&mut o);
            c.set(o);
        });
    }

    /// A word and whether it depends on the nonce.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct C(pub u32, pub bool);

    pub(super) fn splat(x: u32) -> C {
        C(x, false)
    }
    pub(super) fn add(a: C, b: C) -> C {
        if a.1 || b.1 {
            count(|o| o.adds += 1);
        }
        C(a.0.wrapping_add(b.0), a.1 || b.1)
    }
    fn big_sigma(x: C, f: fn(u32) -> u32) -> C {
        if x.1 {
            count(|o| {
                o.rotates += 3;
                o.logic += 1;
            });
        }
        C(f(x.0), x.1)
    }
    fn small_sigma(x: C, f: fn(u32) -> u32) -> C {
        if x.1 {
            count(|o| {
                o.rotates += 2;
                o.shifts += 1;
                o.logic += 1;
            });
        }
        C(f(x.0), x.1)
    }
    pub(super) fn bsig0(x: C) -> C {
        big_sigma(x, super::bsig0)
    }
    pub(super) fn bsig1(x: C) -> C {
        big_sigma(x, super::bsig1)
    }
    pub(super) fn ssig0(x: C) -> C {
        small_sigma(x, super::ssig0)
    }
    pub(super) fn ssig1(x: C) -> C {
        small_sigma(x, super::ssig1)
    }
    fn logic3(a: C, b: C, c: C, f: fn(u32, u32, u32) -> u32) -> C {
        let var = a.1 || b.1 || c.1;
        if var {
            count(|o| o.logic += 1);
        }
        C(f(a.0, b.0, c.0), var)
    }
    pub(super) fn ch(e: C, f: C, g: C) -> C {
        logic3(e, f, g, super::ch)
    }
    pub(super) fn maj(a: C, b: C, c: C) -> C {
        logic3(a, b, c, super::maj)
    }
}

/// The operations one kernel run for `nonce` costs, and the word it computed.
#[cfg(test)]
fn h7_counted(pre: &Precomputed, nonce: u32) -> (u32, counting_ops::Ops) {
    use counting_ops::*;
    OPS.with(|c| c.set(Ops::default()));
    let zero = C(0, false);
    let h7 = sha256d_h7!(
        pre,
        C(nonce.swap_bytes(), true),
        &mut [zero; 64],
        &mut [zero; 64]
    );
    (h7.0, OPS.with(|c| c.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's work per nonce, counted through the scalar twin (one run prints it with
    /// `--nocapture`): the numbers the README's ceiling is worked out from. A change to the
    /// kernel that adds work fails here and must update the README's arithmetic with it.
    #[test]
    fn kernel_operation_count_per_nonce() {
        let header = Header::synthetic(3);
        let pre = Precomputed::new(header.as_bytes());
        let (h7, ops) = h7_counted(&pre, 12345);
        assert_eq!(
            h7,
            h7_scalar(&pre, 12345),
            "the counting twin computes the same word"
        );
        println!("kernel ops per nonce: {ops:?}");
        assert_eq!(
            ops,
            counting_ops::Ops {
                rotates: 1020,
                shifts: 156,
                logic: 628,
                adds: 1162,
            }
        );
    }
    use crate::pow::reference::sha256d;
    use crate::pow::Header;
    use crate::rng::SplitMix64;

    #[test]
    fn kernel_word7_and_full_hash_match_reference() {
        let mut rng = SplitMix64(42);
        for _ in 0..50 {
            let header = Header::synthetic(rng.next());
            let pre = Precomputed::new(header.as_bytes());
            for nonce in [0, 1, u32::MAX, rng.next() as u32, rng.next() as u32] {
                let bytes = header.with_nonce(nonce);
                let want = sha256d(bytes.as_bytes());
                assert_eq!(pre.full_hash(header.as_bytes(), nonce), want);
                let word7 = u32::from_be_bytes([want[28], want[29], want[30], want[31]]);
                assert_eq!(h7_scalar(&pre, nonce), word7, "nonce {nonce}");
            }
        }
    }

    #[test]
    fn candidate_test_reads_the_top_word_little_endian() {
        // Hash bytes 28..32 = [0, 0, 0, 1] (SHA-256 order) is the state word 0x00000001, whose top
        // 32 bits as a little-endian number are 0x01000000.
        assert!(is_candidate(0x0000_0001, 0x0100_0000));
        assert!(!is_candidate(0x0000_0001, 0x00ff_ffff));
        assert!(is_candidate(u32::MAX, u32::MAX));
        assert!(is_candidate(0, 0));
        assert!(!is_candidate(0x0100_0000, 0));
    }
}
