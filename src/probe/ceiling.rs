//! The single-core SHA-256 compression ceiling, calibrated in-process: how many 64-byte
//! compressions per second one core does on long messages, the work `openssl speed -evp sha256
//! -bytes 16384` measures. Reports put every hash rate next to it (a sha256d nonce costs two
//! compressions when nothing is precomputed, so the naive ceiling is half of it).
//!
//! Owns: that one measurement. Must not: use several threads or pick a backend — it always
//! uses `sha2::block_api::compress256`, which runtime-selects SHA-NI when the CPU has it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::block_api::compress256;

/// Blocks per call: 16 KiB, the buffer size of `openssl speed -bytes 16384`.
const BLOCKS_PER_BUFFER: usize = 16 * 1024 / 64;

/// The calibrated ceiling.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ceiling {
    /// SHA-256 compressions (64-byte blocks) per second on one core.
    pub compressions_per_sec: f64,
    /// 2 compressions per nonce: `compressions_per_sec / 2`.
    pub naive_hashes_per_sec: f64,
    /// How it was measured, for the report.
    pub method: String,
    /// Time actually spent measuring.
    pub duration_ns: u64,
}

/// Runs `compress256` over a 16 KiB buffer on the calling thread until at least `duration` has
/// passed (one untimed pass first, to fault in the buffer and settle the feature detection).
/// A zero duration still times one buffer, so the result is never a division by zero.
pub fn calibrate(duration: Duration) -> Ceiling {
    let mut buffer = vec![[0u8; 64]; BLOCKS_PER_BUFFER];
    for (i, block) in buffer.iter_mut().enumerate() {
        // Non-constant content so nothing can be folded away.
        block.fill(i as u8);
    }
    let mut state = [0u32; 8];
    compress256(&mut state, &buffer);

    let mut compressions: u64 = 0;
    let start = Instant::now();
    loop {
        compress256(black_box(&mut state), black_box(&buffer));
        compressions += BLOCKS_PER_BUFFER as u64;
        if start.elapsed() >= duration {
            break;
        }
    }
    let elapsed = start.elapsed();
    black_box(state);

    // `elapsed` is > 0 after one 16 KiB pass on any real clock; max(1) guards a coarse one.
    let duration_ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
    let compressions_per_sec = compressions as f64 * 1e9 / duration_ns as f64;
    Ceiling {
        compressions_per_sec,
        naive_hashes_per_sec: compressions_per_sec / 2.0,
        method: format!(
            "sha2::block_api::compress256 over a 16 KiB buffer ({BLOCKS_PER_BUFFER} blocks) \
             repeatedly on one thread, like `openssl speed -evp sha256 -bytes 16384`; \
             naive = compressions / 2 (two compressions per sha256d nonce)"
        ),
        duration_ns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrate_is_consistent() {
        let c = calibrate(Duration::from_millis(50));
        assert!(c.compressions_per_sec > 0.0);
        assert_eq!(c.naive_hashes_per_sec * 2.0, c.compressions_per_sec);
        assert!(c.duration_ns >= 50_000_000);
        assert!(c.method.contains("compress256"));
        // Zero duration still measures one buffer.
        let z = calibrate(Duration::ZERO);
        assert!(z.compressions_per_sec.is_finite() && z.compressions_per_sec > 0.0);
    }
}
