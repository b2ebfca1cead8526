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
const PAD: u32 = 0x8000_0000;
/// Block 2 of the header ends with its bit length: 80 bytes = 640 bits (word 15).
const HEADER_BITS: u32 = 640;
/// Hash 2's block ends with the 32-byte digest's bit length (word 15).
const DIGEST_BITS: u32 = 256;

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
macro_rules! sha256d_h7 {
    ($pre:expr, $x:expr) => {{
        use $crate::pow::precompute::{
            HASH1_KW, HASH1_W30_C, HASH2_A1, HASH2_E1, HASH2_KW, HASH2_W17_C, HASH2_W23_C,
            HASH2_W30_C,
        };
        use $crate::pow::reference::{H0, K};
        let p: &$crate::pow::precompute::Precomputed = $pre;
        let x = $x;

        // One full round; `kw` is K[t] + W[t] for this round.
        macro_rules! rnd {
            ($s:ident, $kw:expr) => {{
                let [a, b, c, d, e, f, g, h] = $s;
                let t1 = add(add(add(h, $kw), ch(e, f, g)), bsig1(e));
                let t2 = add(bsig0(a), maj(a, b, c));
                $s = [add(t1, t2), a, b, c, add(d, t1), e, f, g];
            }};
        }
        // A round that computes only the new `e`: hash 2's last rounds, whose `a` never reaches
        // word 7 before round 60.
        macro_rules! rnd_e {
            ($s:ident, $kw:expr) => {{
                let [a, b, c, d, e, f, g, h] = $s;
                let t1 = add(add(add(h, $kw), ch(e, f, g)), bsig1(e));
                $s = [a, a, b, c, add(d, t1), e, f, g];
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
        let zero = splat(0);
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
        // Rounds 4..=15 read padding words: K + W is one constant.
        rnd!(s, splat(HASH1_KW[4]));
        rnd!(s, splat(HASH1_KW[5]));
        rnd!(s, splat(HASH1_KW[6]));
        rnd!(s, splat(HASH1_KW[7]));
        rnd!(s, splat(HASH1_KW[8]));
        rnd!(s, splat(HASH1_KW[9]));
        rnd!(s, splat(HASH1_KW[10]));
        rnd!(s, splat(HASH1_KW[11]));
        rnd!(s, splat(HASH1_KW[12]));
        rnd!(s, splat(HASH1_KW[13]));
        rnd!(s, splat(HASH1_KW[14]));
        rnd!(s, splat(HASH1_KW[15]));
        // The schedule with the words that are zero or constant folded away.
        let mut w = [zero; 64];
        w[16] = splat(p.w16);
        w[17] = splat(p.w17);
        w[18] = add(splat(p.w18_base), ssig0(x));
        w[19] = add(splat(p.w19_base), x);
        w[20] = add(ssig1(w[18]), splat(0x8000_0000));
        w[21] = ssig1(w[19]);
        w[22] = add(ssig1(w[20]), splat(640));
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
        w[33] = add(add(ssig1(w[31]), w[26]), add(ssig0(w[18]), w[17]));
        sched!(w, 34);
        sched!(w, 35);
        sched!(w, 36);
        sched!(w, 37);
        sched!(w, 38);
        sched!(w, 39);
        sched!(w, 40);
        sched!(w, 41);
        sched!(w, 42);
        sched!(w, 43);
        sched!(w, 44);
        sched!(w, 45);
        sched!(w, 46);
        sched!(w, 47);
        sched!(w, 48);
        sched!(w, 49);
        sched!(w, 50);
        sched!(w, 51);
        sched!(w, 52);
        sched!(w, 53);
        sched!(w, 54);
        sched!(w, 55);
        sched!(w, 56);
        sched!(w, 57);
        sched!(w, 58);
        sched!(w, 59);
        sched!(w, 60);
        sched!(w, 61);
        sched!(w, 62);
        sched!(w, 63);
        rnd!(s, add(splat(K[16]), w[16]));
        rnd!(s, add(splat(K[17]), w[17]));
        rnd!(s, add(splat(K[18]), w[18]));
        rnd!(s, add(splat(K[19]), w[19]));
        rnd!(s, add(splat(K[20]), w[20]));
        rnd!(s, add(splat(K[21]), w[21]));
        rnd!(s, add(splat(K[22]), w[22]));
        rnd!(s, add(splat(K[23]), w[23]));
        rnd!(s, add(splat(K[24]), w[24]));
        rnd!(s, add(splat(K[25]), w[25]));
        rnd!(s, add(splat(K[26]), w[26]));
        rnd!(s, add(splat(K[27]), w[27]));
        rnd!(s, add(splat(K[28]), w[28]));
        rnd!(s, add(splat(K[29]), w[29]));
        rnd!(s, add(splat(K[30]), w[30]));
        rnd!(s, add(splat(K[31]), w[31]));
        rnd!(s, add(splat(K[32]), w[32]));
        rnd!(s, add(splat(K[33]), w[33]));
        rnd!(s, add(splat(K[34]), w[34]));
        rnd!(s, add(splat(K[35]), w[35]));
        rnd!(s, add(splat(K[36]), w[36]));
        rnd!(s, add(splat(K[37]), w[37]));
        rnd!(s, add(splat(K[38]), w[38]));
        rnd!(s, add(splat(K[39]), w[39]));
        rnd!(s, add(splat(K[40]), w[40]));
        rnd!(s, add(splat(K[41]), w[41]));
        rnd!(s, add(splat(K[42]), w[42]));
        rnd!(s, add(splat(K[43]), w[43]));
        rnd!(s, add(splat(K[44]), w[44]));
        rnd!(s, add(splat(K[45]), w[45]));
        rnd!(s, add(splat(K[46]), w[46]));
        rnd!(s, add(splat(K[47]), w[47]));
        rnd!(s, add(splat(K[48]), w[48]));
        rnd!(s, add(splat(K[49]), w[49]));
        rnd!(s, add(splat(K[50]), w[50]));
        rnd!(s, add(splat(K[51]), w[51]));
        rnd!(s, add(splat(K[52]), w[52]));
        rnd!(s, add(splat(K[53]), w[53]));
        rnd!(s, add(splat(K[54]), w[54]));
        rnd!(s, add(splat(K[55]), w[55]));
        rnd!(s, add(splat(K[56]), w[56]));
        rnd!(s, add(splat(K[57]), w[57]));
        rnd!(s, add(splat(K[58]), w[58]));
        rnd!(s, add(splat(K[59]), w[59]));
        rnd!(s, add(splat(K[60]), w[60]));
        rnd!(s, add(splat(K[61]), w[61]));
        rnd!(s, add(splat(K[62]), w[62]));
        rnd!(s, add(splat(K[63]), w[63]));

        // ---- Hash 2: the digest (state + midstate) is W0..W7 of a one-block message.
        let mut v = [zero; 64];
        for i in 0..8 {
            v[i] = add(s[i], splat(p.mid[i]));
        }
        // Round 0 from the constant IV: only W0 varies.
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
        rnd!(s, add(splat(K[1]), v[1]));
        rnd!(s, add(splat(K[2]), v[2]));
        rnd!(s, add(splat(K[3]), v[3]));
        rnd!(s, add(splat(K[4]), v[4]));
        rnd!(s, add(splat(K[5]), v[5]));
        rnd!(s, add(splat(K[6]), v[6]));
        rnd!(s, add(splat(K[7]), v[7]));
        rnd!(s, splat(HASH2_KW[8]));
        rnd!(s, splat(HASH2_KW[9]));
        rnd!(s, splat(HASH2_KW[10]));
        rnd!(s, splat(HASH2_KW[11]));
        rnd!(s, splat(HASH2_KW[12]));
        rnd!(s, splat(HASH2_KW[13]));
        rnd!(s, splat(HASH2_KW[14]));
        rnd!(s, splat(HASH2_KW[15]));
        v[16] = add(ssig0(v[1]), v[0]);
        v[17] = add(add(ssig0(v[2]), v[1]), splat(HASH2_W17_C));
        v[18] = add(add(ssig1(v[16]), ssig0(v[3])), v[2]);
        v[19] = add(add(ssig1(v[17]), ssig0(v[4])), v[3]);
        v[20] = add(add(ssig1(v[18]), ssig0(v[5])), v[4]);
        v[21] = add(add(ssig1(v[19]), ssig0(v[6])), v[5]);
        v[22] = add(add(ssig1(v[20]), ssig0(v[7])), add(v[6], splat(256)));
        v[23] = add(add(ssig1(v[21]), v[16]), add(v[7], splat(HASH2_W23_C)));
        v[24] = add(add(ssig1(v[22]), v[17]), splat(0x8000_0000));
        v[25] = add(ssig1(v[23]), v[18]);
        v[26] = add(ssig1(v[24]), v[19]);
        v[27] = add(ssig1(v[25]), v[20]);
        v[28] = add(ssig1(v[26]), v[21]);
        v[29] = add(ssig1(v[27]), v[22]);
        v[30] = add(add(ssig1(v[28]), v[23]), splat(HASH2_W30_C));
        v[31] = add(add(ssig1(v[29]), v[24]), add(ssig0(v[16]), splat(256)));
        sched!(v, 32);
        sched!(v, 33);
        sched!(v, 34);
        sched!(v, 35);
        sched!(v, 36);
        sched!(v, 37);
        sched!(v, 38);
        sched!(v, 39);
        sched!(v, 40);
        sched!(v, 41);
        sched!(v, 42);
        sched!(v, 43);
        sched!(v, 44);
        sched!(v, 45);
        sched!(v, 46);
        sched!(v, 47);
        sched!(v, 48);
        sched!(v, 49);
        sched!(v, 50);
        sched!(v, 51);
        sched!(v, 52);
        sched!(v, 53);
        sched!(v, 54);
        sched!(v, 55);
        sched!(v, 56);
        sched!(v, 57);
        sched!(v, 58);
        sched!(v, 59);
        sched!(v, 60);
        rnd!(s, add(splat(K[16]), v[16]));
        rnd!(s, add(splat(K[17]), v[17]));
        rnd!(s, add(splat(K[18]), v[18]));
        rnd!(s, add(splat(K[19]), v[19]));
        rnd!(s, add(splat(K[20]), v[20]));
        rnd!(s, add(splat(K[21]), v[21]));
        rnd!(s, add(splat(K[22]), v[22]));
        rnd!(s, add(splat(K[23]), v[23]));
        rnd!(s, add(splat(K[24]), v[24]));
        rnd!(s, add(splat(K[25]), v[25]));
        rnd!(s, add(splat(K[26]), v[26]));
        rnd!(s, add(splat(K[27]), v[27]));
        rnd!(s, add(splat(K[28]), v[28]));
        rnd!(s, add(splat(K[29]), v[29]));
        rnd!(s, add(splat(K[30]), v[30]));
        rnd!(s, add(splat(K[31]), v[31]));
        rnd!(s, add(splat(K[32]), v[32]));
        rnd!(s, add(splat(K[33]), v[33]));
        rnd!(s, add(splat(K[34]), v[34]));
        rnd!(s, add(splat(K[35]), v[35]));
        rnd!(s, add(splat(K[36]), v[36]));
        rnd!(s, add(splat(K[37]), v[37]));
        rnd!(s, add(splat(K[38]), v[38]));
        rnd!(s, add(splat(K[39]), v[39]));
        rnd!(s, add(splat(K[40]), v[40]));
        rnd!(s, add(splat(K[41]), v[41]));
        rnd!(s, add(splat(K[42]), v[42]));
        rnd!(s, add(splat(K[43]), v[43]));
        rnd!(s, add(splat(K[44]), v[44]));
        rnd!(s, add(splat(K[45]), v[45]));
        rnd!(s, add(splat(K[46]), v[46]));
        rnd!(s, add(splat(K[47]), v[47]));
        rnd!(s, add(splat(K[48]), v[48]));
        rnd!(s, add(splat(K[49]), v[49]));
        rnd!(s, add(splat(K[50]), v[50]));
        rnd!(s, add(splat(K[51]), v[51]));
        rnd!(s, add(splat(K[52]), v[52]));
        rnd!(s, add(splat(K[53]), v[53]));
        rnd!(s, add(splat(K[54]), v[54]));
        rnd!(s, add(splat(K[55]), v[55]));
        rnd!(s, add(splat(K[56]), v[56]));
        // Rounds 57..=60 only for e: after round 60, e is what rounds 61..63 shift into h.
        rnd_e!(s, add(splat(K[57]), v[57]));
        rnd_e!(s, add(splat(K[58]), v[58]));
        rnd_e!(s, add(splat(K[59]), v[59]));
        rnd_e!(s, add(splat(K[60]), v[60]));
        add(s[4], splat(H0[7]))
    }};
}
pub(crate) use sha256d_h7;

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
    sha256d_h7!(pre, nonce.swap_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::header::SplitMix64;
    use crate::pow::reference::sha256d;
    use crate::pow::Header;

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
