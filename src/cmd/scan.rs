//! `minebench scan`: search one nonce range with one backend on one thread, every hit re-verified
//! by the reference SHA-256.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::error::UsageError;
use crate::pow::{display_hash, scan_verified, Header, NonceRange, Target, Work};

use crate::cli::ScanArgs;

#[derive(Serialize)]
struct HitOut {
    nonce: u32,
    block_hash: String,
}

/// At most this many hits are kept for `--json`; the rest are counted (`hits_omitted`). Text
/// output streams every hit as its chunk is verified, so neither form grows with the range
/// (`--zero-bits 0 --count 4294967296` hits every nonce).
const MAX_JSON_HITS: usize = 100_000;
/// Nonces per backend call: hits are verified and printed, then dropped, chunk by chunk.
const CHUNK: u64 = 1 << 20;

#[derive(Serialize)]
struct ScanOutput {
    /// The first hits by nonce (at most [`MAX_JSON_HITS`]).
    hits: Vec<HitOut>,
    /// All hits found, kept or not.
    hits_total: u64,
    /// Hits found but not listed in `hits`.
    hits_omitted: u64,
    hashes: u64,
    backend: String,
    elapsed_ns: u64,
    hashes_per_sec: f64,
    target: String,
}

pub fn run(args: &ScanArgs, registry: &crate::Registry) -> Result<u8> {
    let header = Header::from_hex(&args.header).map_err(|e| UsageError::new("--header", e))?;
    if args.count == 0 {
        return Err(UsageError::new("--count", "must be at least 1").into());
    }
    if args.count > 1 << 32 {
        return Err(UsageError::new("--count", "at most 2^32 (4294967296) nonces").into());
    }
    NonceRange::new(args.start, args.count).map_err(|e| UsageError::new("--count", e))?;
    let target = if let Some(bits) = &args.nbits {
        Target::from_compact_hex(bits).map_err(|e| UsageError::new("--nbits", e))?
    } else if let Some(n) = args.zero_bits {
        Target::from_zero_bits(n).map_err(|e| UsageError::new("--zero-bits", e))?
    } else if let Some(d) = args.share_difficulty {
        Target::from_share_difficulty(d).map_err(|e| UsageError::new("--share-difficulty", e))?
    } else {
        Target::from_compact(header.bits())
            .map_err(|e| UsageError::new("--header", format!("its own nBits: {e}")))?
    };
    let name = if args.backend == "auto" {
        registry.auto_backend()
    } else {
        args.backend.clone()
    };
    let backend = registry
        .backend(&name)
        .map_err(|e| UsageError::new("--backend", e))?;

    let work = Work::new(header, target);
    let started = Instant::now();
    let mut kept = Vec::new();
    let (mut hits_total, mut hashes) = (0u64, 0u64);
    let mut offset = 0u64;
    while offset < args.count {
        let len = CHUNK.min(args.count - offset);
        // start + count ≤ 2^32 was checked above, so every chunk start fits a u32.
        let chunk_start = u32::try_from(u64::from(args.start) + offset)
            .map_err(|_| UsageError::new("--count", "start + count runs past u32::MAX"))?;
        let range = NonceRange::new(chunk_start, len).map_err(|e| UsageError::new("--count", e))?;
        let outcome = scan_verified(backend.as_ref(), &work, range)?;
        hashes += outcome.hashes;
        hits_total += outcome.hits.len() as u64;
        let found = outcome.hits.iter().map(|h| HitOut {
            nonce: h.nonce,
            block_hash: display_hash(&h.hash),
        });
        if args.json {
            kept.extend(found.take(MAX_JSON_HITS - kept.len()));
        } else {
            let mut text = String::new();
            for hit in found {
                text.push_str(&format!(
                    "hit  nonce {:>10}  {}\n",
                    hit.nonce, hit.block_hash
                ));
            }
            super::emit(&text)?;
        }
        offset += len;
    }
    let elapsed_ns = started.elapsed().as_nanos().max(1) as u64;

    let out = ScanOutput {
        hits_omitted: hits_total - kept.len() as u64,
        hits: kept,
        hits_total,
        hashes,
        backend: backend.name().to_string(),
        elapsed_ns,
        hashes_per_sec: hashes as f64 * 1e9 / elapsed_ns as f64,
        target: target.to_display_hex(),
    };
    if args.json {
        return super::emit_json(&out).map(|_| 0);
    }
    super::emit(&format!(
        "{} hits in {} hashes with {} in {:.3} s ({:.2} MH/s)\n",
        out.hits_total,
        out.hashes,
        out.backend,
        elapsed_ns as f64 / 1e9,
        out.hashes_per_sec / 1e6
    ))
    .map(|_| 0)
}
