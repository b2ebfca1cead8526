//! A miner of one's own on minebench's bench: the backend `my-midstate` (SHA-256d with the first
//! block's midstate computed once per job, written against `sha2`'s compression function) and the
//! scheduler `guided` (guided self-scheduling: each batch a share of what is left, so batches
//! shrink as the range drains). [`registry`] puts both beside minebench's built-ins; the bench
//! target (`benches/mine.rs`) hands it to [`minebench::main_with`].

use std::sync::atomic::Ordering;

use minebench::pow::{Backend, Hit, NonceRange, Work};
use minebench::sched::{BatchSource, Epoch, Launch, SchedError, Scheduler};
use minebench::Registry;
use sha2::block_api::compress256;

/// SHA-256's initial state.
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256d of an 80-byte header, the first 64 bytes compressed once per scan.
#[derive(Debug, Default, Clone, Copy)]
pub struct MyMidstate;

impl Backend for MyMidstate {
    fn name(&self) -> &str {
        "my-midstate"
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let header = work.header.as_bytes();
        // Block 1 (bytes 0..64) does not depend on the nonce: its state is computed once.
        let mut mid = H0;
        let mut first = [0u8; 64];
        first.copy_from_slice(&header[..64]);
        compress256(&mut mid, &[first]);
        // Block 2: the header's last 16 bytes (nonce at 12..16), padding, length 640 bits.
        let mut tail = [0u8; 64];
        tail[..16].copy_from_slice(&header[64..80]);
        tail[16] = 0x80;
        tail[56..].copy_from_slice(&640u64.to_be_bytes());
        // The second hash's single block: the 32-byte digest, padding, length 256 bits.
        let mut inner = [0u8; 64];
        inner[32] = 0x80;
        inner[56..].copy_from_slice(&256u64.to_be_bytes());
        let top = work.target.top_word();
        for nonce in range.iter() {
            tail[12..16].copy_from_slice(&nonce.to_le_bytes());
            let mut state = mid;
            compress256(&mut state, &[tail]);
            for (i, w) in state.iter().enumerate() {
                inner[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
            }
            let mut outer = H0;
            compress256(&mut outer, &[inner]);
            // The hash read as a little-endian number: its most significant word is the last
            // one, byte-swapped. Most nonces stop here.
            if outer[7].swap_bytes() > top {
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

/// Guided self-scheduling: a worker takes `remaining / (2 × threads)` nonces, never fewer than an
/// eighth of the scenario's batch nor more than the batch itself (a timed epoch spans 2^32
/// nonces; an unbounded first batch would outlast every sample).
#[derive(Debug, Default, Clone, Copy)]
pub struct Guided;

struct GuidedSource {
    threads: u64,
    min: u64,
    max: u64,
}

impl BatchSource for GuidedSource {
    fn begin(&mut self, _epoch: &Epoch) {}

    fn next_batch(&mut self, epoch: &Epoch) -> Option<NonceRange> {
        let range = epoch.range();
        let cursor = epoch.cursor();
        let mut at = cursor.load(Ordering::Relaxed);
        loop {
            if at >= range.len() {
                return None;
            }
            let left = range.len() - at;
            let size = (left / (2 * self.threads))
                .clamp(self.min, self.max)
                .min(left);
            match cursor.compare_exchange_weak(at, at + size, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(range.split_at(at).1.split_at(size).0),
                Err(now) => at = now,
            }
        }
    }
}

impl Scheduler for Guided {
    fn name(&self) -> &str {
        "guided"
    }

    fn is_dynamic(&self) -> bool {
        true
    }

    fn launch(&self, launch: &mut Launch<'_>) -> Result<(), SchedError> {
        let threads = launch.threads() as u64;
        let max = launch.batch().max(1);
        for k in 0..launch.threads() {
            let source = GuidedSource {
                threads,
                min: (max / 8).max(1),
                max,
            };
            launch.spawn_worker(k, source)?;
        }
        Ok(())
    }
}

/// minebench's built-ins plus this crate's backend and scheduler, labelled with this crate's name
/// and version in every report.
pub fn registry() -> Registry {
    Registry::builtin()
        .for_crate(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .with_backend("my-midstate", || Box::new(MyMidstate))
        .with_scheduler(Guided)
}
