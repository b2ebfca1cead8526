//! `minebench scan`: search one nonce range with one backend on one thread, every hit re-verified
//! by the reference SHA-256.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use minebench::error::UsageError;
use minebench::pow::{display_hash, scan_verified, BackendKind, Header, NonceRange, Target, Work};

use crate::cli::ScanArgs;

#[derive(Serialize)]
struct HitOut {
    nonce: u32,
    block_hash: String,
}

#[derive(Serialize)]
struct ScanOutput {
    hits: Vec<HitOut>,
    hashes: u64,
    backend: &'static str,
    elapsed_ns: u64,
    hashes_per_sec: f64,
    target: String,
}

pub fn run(args: &ScanArgs) -> Result<u8> {
    let header = Header::from_hex(&args.header).map_err(|e| UsageError::new("--header", e))?;
    if args.count == 0 {
        return Err(UsageError::new("--count", "must be at least 1").into());
    }
    if args.count > 1 << 32 {
        return Err(UsageError::new("--count", "at most 2^32 (4294967296) nonces").into());
    }
    let range =
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
    let kind =
        BackendKind::from_name(&args.backend).map_err(|e| UsageError::new("--backend", e))?;
    let backend = kind
        .instantiate()
        .map_err(|e| UsageError::new("--backend", e))?;

    let work = Work::new(header, target);
    let started = Instant::now();
    let outcome = scan_verified(backend.as_ref(), &work, range)?;
    let elapsed_ns = started.elapsed().as_nanos().max(1) as u64;

    let out = ScanOutput {
        hits: outcome
            .hits
            .iter()
            .map(|h| HitOut {
                nonce: h.nonce,
                block_hash: display_hash(&h.hash),
            })
            .collect(),
        hashes: outcome.hashes,
        backend: kind.name(),
        elapsed_ns,
        hashes_per_sec: outcome.hashes as f64 * 1e9 / elapsed_ns as f64,
        target: target.to_display_hex(),
    };
    if args.json {
        return super::emit_json(&out).map(|_| 0);
    }
    let mut text = String::new();
    for hit in &out.hits {
        text.push_str(&format!(
            "hit  nonce {:>10}  {}\n",
            hit.nonce, hit.block_hash
        ));
    }
    text.push_str(&format!(
        "{} hits in {} hashes with {} in {:.3} s ({:.2} MH/s)\n",
        out.hits.len(),
        out.hashes,
        out.backend,
        elapsed_ns as f64 / 1e9,
        out.hashes_per_sec / 1e6
    ));
    super::emit(&text).map(|_| 0)
}
