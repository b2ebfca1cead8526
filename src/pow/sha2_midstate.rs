//! `sha2-midstate`: the first 64 header bytes do not depend on the nonce, so they are compressed
//! once per batch (the "midstate"); each nonce then costs two `sha2::block_api::compress256`
//! calls — the header's second block, and the 32-byte first hash padded to one block. This is what
//! a careful Rust miner writes with RustCrypto before reaching for intrinsics.

use sha2::block_api::compress256;

use super::reference::H0;
use super::{Backend, BackendKind, Hit, NonceRange, Work};

#[derive(Debug, Default, Clone, Copy)]
pub struct Sha2Midstate;

/// The state after compressing the first 64 bytes of `header`.
pub(crate) fn midstate(header: &[u8; 80]) -> [u32; 8] {
    let mut state = H0;
    let mut block = [0u8; 64];
    block.copy_from_slice(&header[..64]);
    compress256(&mut state, &[block]);
    state
}

/// The header's second block: bytes 64..80 (merkle tail, time, bits, nonce), then the padding
/// for an 80-byte (640-bit) message.
pub(crate) fn second_block(header: &[u8; 80]) -> [u8; 64] {
    let mut block = [0u8; 64];
    block[..16].copy_from_slice(&header[64..80]);
    block[16] = 0x80;
    block[56..].copy_from_slice(&640u64.to_be_bytes());
    block
}

/// The block that hashes a 32-byte digest: the digest, then padding for a 256-bit message.
fn digest_block_template() -> [u8; 64] {
    let mut block = [0u8; 64];
    block[32] = 0x80;
    block[56..].copy_from_slice(&256u64.to_be_bytes());
    block
}

impl Backend for Sha2Midstate {
    fn name(&self) -> &str {
        BackendKind::Sha2Midstate.name()
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let header = work.header.as_bytes();
        let mid = midstate(header);
        let mut tail = second_block(header);
        let mut inner = digest_block_template();
        for nonce in range.iter() {
            tail[12..16].copy_from_slice(&nonce.to_le_bytes());
            let mut state = mid;
            compress256(&mut state, &[tail]);
            for (i, w) in state.iter().enumerate() {
                inner[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
            }
            let mut outer = H0;
            compress256(&mut outer, &[inner]);
            // Cheap pre-check on the most significant word (hash bytes 28..32, little endian),
            // then the exact 256-bit comparison only for candidates.
            if outer[7].swap_bytes() > work.target.top_word() {
                continue;
            }
            let mut hash = [0u8; 32];
            for (i, w) in outer.iter().enumerate() {
                hash[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
            }
            if work.target.is_met_by(&hash) {
                hits.push(Hit { nonce, hash });
            }
        }
        range.len()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn agrees_with_reference() {
        crate::testing::cross_check(&super::Sha2Midstate);
    }
}
