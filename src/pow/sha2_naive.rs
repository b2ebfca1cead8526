//! `sha2`: RustCrypto's SHA-256 over the whole 80-byte header, twice per nonce — the textbook
//! loop every miner starts from, and the naive baseline the other backends are measured against.

use sha2::{Digest, Sha256};

use super::{Backend, BackendKind, Hit, NonceRange, Work};

#[derive(Debug, Default, Clone, Copy)]
pub struct Sha2Naive;

impl Backend for Sha2Naive {
    fn name(&self) -> &str {
        BackendKind::Sha2.name()
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let mut header = *work.header.as_bytes();
        for nonce in range.iter() {
            header[76..80].copy_from_slice(&nonce.to_le_bytes());
            let hash: [u8; 32] = Sha256::digest(Sha256::digest(header)).into();
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
        crate::testing::cross_check(&super::Sha2Naive);
    }
}
