//! Targets: what a hash must be at or below to count. Built from Bitcoin's compact `nBits`, from a
//! number of leading zero bits, or from a pool share difficulty.
//!
//! A hash is compared as a 256-bit *little-endian* number: byte 31 of the SHA-256 output is the
//! most significant. Block explorers print it byte-reversed, which is why a good hash "starts" with
//! zeros on screen.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest target a share of difficulty 1 allows: `0x00000000ffff << 208` (pool convention).
const DIFF1_MANTISSA: f64 = 65535.0;
const DIFF1_SHIFT: u32 = 208;

/// Why a target could not be built from what the user gave.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    #[error("nbits {0:08x} is negative (sign bit 0x00800000 set)")]
    NegativeCompact(u32),
    #[error("nbits {0:08x} overflows 256 bits")]
    OverflowCompact(u32),
    #[error("nbits {0:08x} decodes to a zero target")]
    ZeroCompact(u32),
    #[error("nbits {0:?} is not 8 hex digits")]
    CompactSyntax(String),
    #[error("zero_bits {0} is above 255")]
    TooManyZeroBits(u32),
    #[error("share difficulty {0} must be a finite number above 0")]
    BadShareDifficulty(f64),
    #[error("share difficulty {0} is so low its target exceeds 2^256")]
    ShareDifficultyTooLow(f64),
}

/// A 256-bit target stored as four little-endian u64 limbs (limb 3 is the most significant).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    limbs: [u64; 4],
}

impl Target {
    /// The target that every hash meets (2^256 − 1).
    pub const MAX: Target = Target {
        limbs: [u64::MAX; 4],
    };

    /// Builds from 32 bytes in little-endian order (the order SHA-256 output is compared in).
    pub fn from_le_bytes(bytes: [u8; 32]) -> Target {
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[8 * i..8 * i + 8]);
            *limb = u64::from_le_bytes(b);
        }
        Target { limbs }
    }

    /// The target as 32 little-endian bytes.
    pub fn to_le_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.limbs.iter().enumerate() {
            out[8 * i..8 * i + 8].copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    /// The most significant 32 bits: what early-reject backends compare hash word 7 against.
    pub fn top_word(&self) -> u32 {
        (self.limbs[3] >> 32) as u32
    }

    /// Decodes compact `nBits` as Bitcoin Core's `arith_uint256::SetCompact` does, rejecting the
    /// negative, overflowing and zero values that `CheckProofOfWork` rejects.
    pub fn from_compact(bits: u32) -> Result<Target, TargetError> {
        let exponent = bits >> 24;
        let mantissa = bits & 0x007f_ffff;
        if mantissa != 0 && bits & 0x0080_0000 != 0 {
            return Err(TargetError::NegativeCompact(bits));
        }
        let overflow = mantissa != 0
            && (exponent > 34
                || (mantissa > 0xff && exponent > 33)
                || (mantissa > 0xffff && exponent > 32));
        if overflow {
            return Err(TargetError::OverflowCompact(bits));
        }
        let target = if exponent <= 3 {
            Target::from_u64_shifted(u64::from(mantissa >> (8 * (3 - exponent))), 0)
        } else {
            Target::from_u64_shifted(u64::from(mantissa), 8 * (exponent - 3))
        };
        if target.is_zero() {
            return Err(TargetError::ZeroCompact(bits));
        }
        Ok(target)
    }

    /// Parses 8 hex digits (an optional `0x` is allowed) and decodes them as compact `nBits`.
    pub fn from_compact_hex(text: &str) -> Result<Target, TargetError> {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        if digits.len() != 8 {
            return Err(TargetError::CompactSyntax(text.to_string()));
        }
        let bits = u32::from_str_radix(digits, 16)
            .map_err(|_| TargetError::CompactSyntax(text.to_string()))?;
        Target::from_compact(bits)
    }

    /// The target met exactly by hashes with at least `n` leading zero bits: 2^(256−n) − 1.
    pub fn from_zero_bits(n: u32) -> Result<Target, TargetError> {
        if n > 255 {
            return Err(TargetError::TooManyZeroBits(n));
        }
        let mut limbs = [0u64; 4];
        let value_bits = 256 - n; // how many low bits are ones
        for (i, limb) in limbs.iter_mut().enumerate() {
            let lo = 64 * i as u32;
            *limb = if value_bits >= lo + 64 {
                u64::MAX
            } else if value_bits > lo {
                (1u64 << (value_bits - lo)) - 1
            } else {
                0
            };
        }
        Ok(Target { limbs })
    }

    /// The pool share target for difficulty `d`: `floor(0xffff · 2^208 / d)`, with 53 bits of
    /// precision (plenty: pools round far more coarsely).
    pub fn from_share_difficulty(d: f64) -> Result<Target, TargetError> {
        if !d.is_finite() || d <= 0.0 {
            return Err(TargetError::BadShareDifficulty(d));
        }
        let ratio = DIFF1_MANTISSA / d;
        // Split ratio = m · 2^e with m a 53-bit integer, then place m at bit (e + 208).
        let (m, e) = frexp_int(ratio);
        let shift = e + DIFF1_SHIFT as i32;
        if shift < 0 {
            let down = (-shift) as u32;
            let value = if down >= 64 { 0 } else { m >> down };
            if value == 0 {
                // Difficulty so high no hash could meet it; keep the smallest non-zero target.
                return Ok(Target::from_u64_shifted(1, 0));
            }
            return Ok(Target::from_u64_shifted(value, 0));
        }
        let shift = shift as u32;
        if shift + (64 - m.leading_zeros()) > 256 {
            return Err(TargetError::ShareDifficultyTooLow(d));
        }
        Ok(Target::from_u64_shifted(m, shift))
    }

    /// Share difficulty of this target (difficulty-1 target divided by this one), as pools and
    /// miners print it.
    pub fn share_difficulty(&self) -> f64 {
        DIFF1_MANTISSA * 2f64.powi(DIFF1_SHIFT as i32) / self.to_f64()
    }

    /// The chance that one uniformly random hash meets this target: (target + 1) / 2^256.
    pub fn hit_probability(&self) -> f64 {
        // +1 matters only for tiny targets; to_f64 rounds anyway.
        (self.to_f64() + 1.0) / 2f64.powi(256)
    }

    /// The number of leading zero bits every hash meeting this target has at least.
    pub fn leading_zero_bits(&self) -> u32 {
        leading_zero_bits_limbs(&self.limbs)
    }

    /// `hash <= target`, both read as little-endian 256-bit numbers.
    pub fn is_met_by(&self, hash: &[u8; 32]) -> bool {
        let h = Target::from_le_bytes(*hash);
        for i in (0..4).rev() {
            if h.limbs[i] != self.limbs[i] {
                return h.limbs[i] < self.limbs[i];
            }
        }
        true
    }

    fn is_zero(&self) -> bool {
        self.limbs.iter().all(|&l| l == 0)
    }

    fn to_f64(self) -> f64 {
        self.limbs
            .iter()
            .rev()
            .fold(0.0, |acc, &l| acc * 2f64.powi(64) + l as f64)
    }

    /// `value << shift` as a 256-bit number; bits shifted past 2^256 are dropped (callers check).
    fn from_u64_shifted(value: u64, shift: u32) -> Target {
        let mut limbs = [0u64; 4];
        let limb = (shift / 64) as usize;
        let bit = shift % 64;
        if limb < 4 {
            limbs[limb] = value << bit;
            if bit > 0 && limb + 1 < 4 {
                limbs[limb + 1] = value >> (64 - bit);
            }
        }
        Target { limbs }
    }

    /// Big-endian hex, as block explorers print targets.
    pub fn to_display_hex(&self) -> String {
        self.limbs
            .iter()
            .rev()
            .map(|l| format!("{l:016x}"))
            .collect()
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.to_display_hex())
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_display_hex())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_display_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("target: want 64 hex digits"))
    }
}

fn parse_display_hex(text: &str) -> Option<Target> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut limbs = [0u64; 4];
    for (i, chunk) in text.as_bytes().chunks(16).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        limbs[3 - i] = u64::from_str_radix(s, 16).ok()?;
    }
    Some(Target { limbs })
}

/// Leading zero bits of a hash read as a little-endian 256-bit number.
pub fn hash_leading_zero_bits(hash: &[u8; 32]) -> u32 {
    leading_zero_bits_limbs(&Target::from_le_bytes(*hash).limbs)
}

fn leading_zero_bits_limbs(limbs: &[u64; 4]) -> u32 {
    let mut n = 0;
    for &l in limbs.iter().rev() {
        if l == 0 {
            n += 64;
        } else {
            return n + l.leading_zeros();
        }
    }
    n
}

/// `x = m · 2^e` with `m` an integer of at most 53 bits (x > 0, finite).
fn frexp_int(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let exp_field = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp_field == 0 {
        (frac, -1074) // subnormal
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_matches_bitcoin_core() {
        // Genesis nBits: 0x00000000ffff0000...
        let t = Target::from_compact(0x1d00ffff).unwrap();
        assert_eq!(
            t.to_display_hex(),
            "00000000ffff0000000000000000000000000000000000000000000000000000"
        );
        // Bitcoin Core's arith_uint256 tests (SetCompact).
        assert_eq!(
            Target::from_compact(0x05009234).unwrap().to_display_hex(),
            format!("{:0>64}", "92340000")
        );
        assert_eq!(
            Target::from_compact(0x04123456).unwrap().to_display_hex(),
            format!("{:0>64}", "12345600")
        );
        assert_eq!(
            Target::from_compact(0x01120000).unwrap().to_display_hex(),
            format!("{:0>64}", "12")
        );
        assert_eq!(
            Target::from_compact(0x00123456),
            Err(TargetError::ZeroCompact(0x00123456))
        );
        assert_eq!(
            Target::from_compact(0x01003456),
            Err(TargetError::ZeroCompact(0x01003456))
        );
        assert_eq!(
            Target::from_compact(0x04923456),
            Err(TargetError::NegativeCompact(0x04923456))
        );
        assert_eq!(
            Target::from_compact(0xff123456),
            Err(TargetError::OverflowCompact(0xff123456))
        );
        assert!(Target::from_compact(0x2100ffff).is_ok()); // 0xffff << 240: fits
        assert_eq!(
            Target::from_compact(0x2101ffff),
            Err(TargetError::OverflowCompact(0x2101ffff))
        );
        assert!(Target::from_compact_hex("1d00fff").is_err());
        assert!(Target::from_compact_hex("zz00ffff").is_err());
        assert_eq!(
            Target::from_compact_hex("0x1d00ffff"),
            Target::from_compact(0x1d00ffff)
        );
    }

    #[test]
    fn zero_bits_targets() {
        assert_eq!(Target::from_zero_bits(0).unwrap(), Target::MAX);
        let t = Target::from_zero_bits(32).unwrap();
        assert_eq!(t.to_display_hex(), format!("00000000{}", "f".repeat(56)));
        assert_eq!(t.leading_zero_bits(), 32);
        assert_eq!(t.top_word(), 0);
        let t = Target::from_zero_bits(20).unwrap();
        assert_eq!(t.top_word(), 0x0000_0fff);
        assert_eq!(
            Target::from_zero_bits(255).unwrap().to_display_hex(),
            format!("{:0>64}", "1")
        );
        assert_eq!(
            Target::from_zero_bits(256),
            Err(TargetError::TooManyZeroBits(256))
        );
        for n in 0..=255 {
            assert_eq!(Target::from_zero_bits(n).unwrap().leading_zero_bits(), n);
        }
    }

    #[test]
    fn share_difficulty_one_is_diff1() {
        let t = Target::from_share_difficulty(1.0).unwrap();
        assert_eq!(t, Target::from_compact(0x1d00ffff).unwrap());
        assert!((t.share_difficulty() - 1.0).abs() < 1e-12);
        let t = Target::from_share_difficulty(1024.0).unwrap();
        assert!((t.share_difficulty() - 1024.0).abs() / 1024.0 < 1e-12);
        let t = Target::from_share_difficulty(1.0 / 65536.0).unwrap();
        assert_eq!(t.top_word(), 0xffff);
        assert!(Target::from_share_difficulty(0.0).is_err());
        assert!(Target::from_share_difficulty(-1.0).is_err());
        assert!(Target::from_share_difficulty(f64::NAN).is_err());
        assert!(Target::from_share_difficulty(1e-12).is_err());
        assert!(Target::from_share_difficulty(1e90).is_ok());
    }

    #[test]
    fn comparison_is_little_endian_and_inclusive() {
        let t = Target::from_zero_bits(8).unwrap();
        let mut hash = [0xffu8; 32];
        hash[31] = 0x00;
        assert!(
            t.is_met_by(&hash),
            "top byte zero, rest ones: equals target"
        );
        hash[31] = 0x01;
        assert!(!t.is_met_by(&hash));
        hash = [0u8; 32];
        hash[0] = 0xff; // least significant byte large does not matter
        assert!(t.is_met_by(&hash));
        assert_eq!(hash_leading_zero_bits(&[0u8; 32]), 256);
        let exact = Target::from_le_bytes(hash);
        assert!(exact.is_met_by(&hash));
        hash[0] = 0xfe;
        assert!(exact.is_met_by(&hash));
        let mut above = hash;
        above[1] = 1;
        assert!(!exact.is_met_by(&above));
    }

    #[test]
    fn serde_round_trip() {
        let t = Target::from_compact(0x1b04864c).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        let back: Target = serde_json::from_str(&json).unwrap();
        assert_eq!(t, back);
        assert_eq!(
            t.to_le_bytes(),
            Target::from_le_bytes(t.to_le_bytes()).to_le_bytes()
        );
    }
}
