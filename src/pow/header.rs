//! The 80-byte Bitcoin block header: parsing, the fields minebench touches (nBits, nonce,
//! merkle root, time), reproducible synthetic headers, and the byte-reversed display of hashes.
//!
//! Layout (all integers little endian): version 0..4, previous block hash 4..36, merkle root
//! 36..68, time 68..72, nBits 72..76, nonce 76..80.

use std::fmt;

use crate::rng::SplitMix64;

/// Byte offset of the nonce inside the header.
pub const NONCE_OFFSET: usize = 76;

/// Why a header string was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeaderError {
    #[error("header must be 160 hex digits (80 bytes), got {0} characters")]
    Length(usize),
    #[error("header has a non-hex character {ch:?} at position {pos}")]
    NotHex { ch: char, pos: usize },
}

/// An 80-byte block header.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header([u8; 80]);

impl Header {
    pub fn from_bytes(bytes: [u8; 80]) -> Header {
        Header(bytes)
    }

    /// Parses 160 hex digits (either case; surrounding whitespace is ignored).
    pub fn from_hex(text: &str) -> Result<Header, HeaderError> {
        let text = text.trim();
        if let Some((pos, ch)) = text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(HeaderError::NotHex { ch, pos });
        }
        if text.len() != 160 {
            return Err(HeaderError::Length(text.chars().count()));
        }
        let mut bytes = [0u8; 80];
        for (i, b) in bytes.iter_mut().enumerate() {
            // Checked above: ASCII hex digits only, 160 of them.
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("validated hex");
        }
        Ok(Header(bytes))
    }

    /// A reproducible pseudo-random header for `seed`: version 0x20000000, random previous hash and
    /// merkle root, a fixed plausible time, nBits 0x1d00ffff, nonce 0.
    pub fn synthetic(seed: u64) -> Header {
        let mut rng = SplitMix64(seed);
        let mut bytes = [0u8; 80];
        bytes[0..4].copy_from_slice(&0x2000_0000u32.to_le_bytes());
        for chunk in bytes[4..68].chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        let time = 1_700_000_000u32 + (rng.next() % 10_000_000) as u32;
        bytes[68..72].copy_from_slice(&time.to_le_bytes());
        bytes[72..76].copy_from_slice(&0x1d00_ffffu32.to_le_bytes());
        Header(bytes)
    }

    /// The header of the next job after this one, as a pool would send after new transactions
    /// arrive: a new merkle root (derived from `job_id`) and the time advanced by one second.
    /// Everything else, and so the hashing cost, stays the same.
    pub fn next_job(&self, job_id: u64) -> Header {
        let mut bytes = self.0;
        let mut rng =
            SplitMix64(job_id ^ u64::from_le_bytes(bytes[36..44].try_into().unwrap_or([0; 8])));
        for chunk in bytes[36..68].chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        let time = self.time().wrapping_add(1);
        bytes[68..72].copy_from_slice(&time.to_le_bytes());
        Header(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 80] {
        &self.0
    }

    pub fn nonce(&self) -> u32 {
        self.u32_at(NONCE_OFFSET)
    }

    pub fn bits(&self) -> u32 {
        self.u32_at(72)
    }

    pub fn time(&self) -> u32 {
        self.u32_at(68)
    }

    /// This header with its nonce field replaced.
    pub fn with_nonce(&self, nonce: u32) -> Header {
        let mut bytes = self.0;
        bytes[NONCE_OFFSET..NONCE_OFFSET + 4].copy_from_slice(&nonce.to_le_bytes());
        Header(bytes)
    }

    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    fn u32_at(&self, offset: usize) -> u32 {
        u32::from_le_bytes([
            self.0[offset],
            self.0[offset + 1],
            self.0[offset + 2],
            self.0[offset + 3],
        ])
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Header({})", self.to_hex())
    }
}

/// Lower-case hex of `bytes` in the order given.
pub fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A hash as block explorers print it: bytes reversed, so the most significant byte comes first.
pub fn display_hash(hash: &[u8; 32]) -> String {
    let mut reversed = *hash;
    reversed.reverse();
    to_hex(&reversed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENESIS: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

    #[test]
    fn parses_fields_of_genesis() {
        let h = Header::from_hex(GENESIS).unwrap();
        assert_eq!(h.nonce(), 2083236893);
        assert_eq!(h.bits(), 0x1d00ffff);
        assert_eq!(h.time(), 1231006505);
        assert_eq!(h.to_hex(), GENESIS);
        assert_eq!(h.with_nonce(0).nonce(), 0);
        assert_eq!(Header::from_hex(&GENESIS.to_uppercase()).unwrap(), h);
    }

    #[test]
    fn rejects_bad_hex() {
        assert_eq!(Header::from_hex("00"), Err(HeaderError::Length(2)));
        let mut bad = GENESIS.to_string();
        bad.replace_range(10..11, "g");
        assert_eq!(
            Header::from_hex(&bad),
            Err(HeaderError::NotHex { ch: 'g', pos: 10 })
        );
        assert!(Header::from_hex(&GENESIS[..158]).is_err());
    }

    #[test]
    fn synthetic_is_reproducible_and_jobs_differ() {
        assert_eq!(Header::synthetic(7), Header::synthetic(7));
        assert_ne!(Header::synthetic(7), Header::synthetic(8));
        let h = Header::synthetic(7);
        let j1 = h.next_job(1);
        assert_ne!(h.as_bytes()[36..68], j1.as_bytes()[36..68]);
        assert_eq!(h.as_bytes()[0..36], j1.as_bytes()[0..36]);
        assert_eq!(h.bits(), j1.bits());
        assert_ne!(j1, h.next_job(2));
    }

    #[test]
    fn display_reverses_bytes() {
        let mut hash = [0u8; 32];
        hash[31] = 0xab;
        assert!(display_hash(&hash).starts_with("ab"));
    }
}
