//! Test helpers for a backend or scheduler of one's own (cargo feature `testing`; minebench's
//! own unit tests use them too): the cross-check against the reference, as assertions, and the
//! mainnet header windows.
//!
//! ```ignore
//! #[test]
//! fn my_backend_agrees_with_the_reference() {
//!     minebench::testing::cross_check(&MyBackend::new());
//!     minebench::testing::mainnet_windows(&MyBackend::new());
//! }
//! ```

use std::sync::Arc;

pub use crate::pow::crosscheck::{
    preflight, preflight_scheduler, Mismatch, Oracle, Summary, PREFLIGHT_WINDOW,
};
use crate::pow::{display_hash, scan_verified, Backend, Header, NonceRange, Target, Work};
use crate::sched::Scheduler;

/// Panics with the first disagreement between `backend` and the reference over the whole
/// harness (edge nonces, awkward lengths, strided ranges, zero/one/many-hit targets, word-7
/// edge targets, a 2^16-nonce window): the check a run makes before timing a backend.
pub fn cross_check(backend: &dyn Backend) {
    if let Err(m) = preflight(backend, &mut Oracle::new()) {
        panic!("{m}");
    }
}

/// Panics unless `scheduler`, over each of `threads` workers, scans a 2^16-nonce window exactly
/// once with the reference's hits (using the reference backend, so only the scheduler is
/// tested).
pub fn cross_check_scheduler(scheduler: &dyn Scheduler, threads: &[usize]) {
    let mut oracle = Oracle::new();
    let backend: Arc<dyn Backend> = Arc::new(crate::pow::reference::Reference);
    for &n in threads {
        for batch in [1, 97, 4096] {
            if let Err(m) =
                preflight_scheduler(scheduler, Arc::clone(&backend), n, batch, &mut oracle)
            {
                panic!("batch {batch}: {m}");
            }
        }
    }
}

/// Scans a window of 2^20 nonces around the real nonce of a few mainnet headers (nonce field
/// zeroed, target from the header's own nBits) with `kind`, and asserts that the one hit is the
/// real nonce with the known block hash. These targets have a top word of zero, equal to the
/// winning hash's, so the lower words decide: the case early-exit code gets wrong.
pub fn mainnet_windows(backend: &dyn Backend) {
    let kind = backend.name();
    #[derive(serde::Deserialize)]
    struct Row {
        height: u64,
        header_hex: String,
        nonce: u32,
        block_hash: String,
    }
    let rows: Vec<Row> = serde_json::from_str(include_str!("../tests/data/headers.json"))
        .expect("tests/data/headers.json parses");
    const WINDOW: u64 = 1 << 20;
    let picks = [0u64, 100_000, 481_824, 840_000];
    for (n, row) in rows
        .iter()
        .filter(|r| picks.contains(&r.height))
        .enumerate()
    {
        let real = Header::from_hex(&row.header_hex).expect("fixture header is valid hex");
        assert_eq!(real.nonce(), row.nonce, "fixture nonce field");
        let header = real.with_nonce(0);
        let target = Target::from_compact(header.bits()).expect("fixture nBits is valid");
        // Place the real nonce at a different offset (and lane) in each window.
        let before = (WINDOW / 2 + 3 * n as u64 + 1).min(u64::from(row.nonce));
        let start = (u64::from(row.nonce) - before).min(u64::from(u32::MAX) + 1 - WINDOW) as u32;
        let range = NonceRange::new(start, WINDOW).expect("window fits below 2^32");
        let out = scan_verified(backend, &Work::new(header, target), range)
            .unwrap_or_else(|e| panic!("{kind} height {}: {e}", row.height));
        assert_eq!(out.hashes, WINDOW, "{kind} height {}", row.height);
        let nonces: Vec<u32> = out.hits.iter().map(|h| h.nonce).collect();
        assert_eq!(nonces, vec![row.nonce], "{kind} height {}", row.height);
        assert_eq!(
            display_hash(&out.hits[0].hash),
            row.block_hash,
            "{kind} height {}",
            row.height
        );
    }
}
