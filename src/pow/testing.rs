//! The cross-check harness every backend's tests call: the same work through the backend under
//! test and through `reference`, compared hit for hit and hash count for hash count.
//!
//! Cases are chosen where fast backends break: nonce 0, 1 and `u32::MAX`; range lengths that are
//! not a multiple of any lane count (1..=70 and a few larger odd ones); strided ranges; targets
//! with zero, one and many hits; and targets whose most significant word equals a hash's most
//! significant word exactly (where an early-reject compare of word 7 alone goes wrong), one below
//! it (byte order of that compare), and real mainnet headers whose targets have a zero top word
//! ([`mainnet_windows`]).

use super::header::SplitMix64;
use super::reference::Reference;
use super::{display_hash, scan_verified, Backend, BackendKind, Header, NonceRange, Target, Work};

/// Panics with a description of the first disagreement between `backend` and the reference.
pub fn cross_check(backend: &dyn Backend) {
    let mut rng = SplitMix64(0x6d69_6e65_6265_6e63);
    let name = backend.kind().name();

    // Seeded random headers, ranges of awkward lengths at awkward places, assorted targets.
    let starts = [0u32, 1, 2, 0x7fff_fff0, u32::MAX - 999];
    for round in 0..6 {
        let header = Header::synthetic(rng.next());
        for &zero_bits in &[0u32, 1, 3, 6, 255] {
            let target = Target::from_zero_bits(zero_bits).expect("<= 255");
            let work = Work::new(header, target);
            for len in (0..=70u64).chain([127, 129, 255, 257, 1000]) {
                let start = starts[(len as usize + round) % starts.len()];
                let range = NonceRange::new(start, len).expect("fits below u32::MAX");
                compare(
                    backend,
                    &work,
                    range,
                    &format!("{name} zb{zero_bits} {range:?}"),
                );
            }
        }
    }

    // The very last nonces, including u32::MAX itself, and a single-nonce range at each end.
    let header = Header::synthetic(rng.next());
    let many = Work::new(header, Target::from_zero_bits(2).expect("valid"));
    for range in [
        NonceRange::new(u32::MAX, 1),
        NonceRange::new(u32::MAX - 16, 17),
        NonceRange::new(u32::MAX - 36, 37),
        NonceRange::new(0, 1),
        NonceRange::new(1, 1),
    ] {
        let range = range.expect("valid range");
        compare(backend, &many, range, &format!("{name} edge {range:?}"));
    }

    // Strided ranges, as the stride scheduler hands out; the last one's step times 16 lanes
    // overflows u32.
    for (start, count, step) in [
        (3u32, 50u64, 2u32),
        (0, 33, 5),
        (7, 100, 17),
        (u32::MAX - 90, 10, 10),
        (5, 15, 0x1000_0000),
    ] {
        let range = NonceRange::strided(start, count, step).expect("valid strided range");
        compare(backend, &many, range, &format!("{name} strided {range:?}"));
    }

    // Exactly one hit: the target is the smallest hash of the range, so only that nonce meets it.
    // Then the same hash minus one (word 7 still equal, no hit) and plus one in the lowest byte.
    for _ in 0..8 {
        let header = Header::synthetic(rng.next());
        let start = (rng.next() >> 40) as u32;
        let range = NonceRange::new(start, 333).expect("valid");
        let all = scan_verified(&Reference, &Work::new(header, Target::MAX), range)
            .expect("reference is the oracle");
        let best = all
            .hits
            .iter()
            .min_by(|a, b| le_cmp(&a.hash, &b.hash))
            .expect("333 hits when every hash meets the target");
        let exact = Target::from_le_bytes(best.hash);
        let one = compare(
            backend,
            &Work::new(header, exact),
            range,
            &format!("{name} one-hit"),
        );
        assert_eq!(
            one, 1,
            "{name}: target = smallest hash must give exactly one hit"
        );
        if let Some(below) = le_decrement(best.hash) {
            let zero = compare(
                backend,
                &Work::new(header, Target::from_le_bytes(below)),
                range,
                "below",
            );
            assert_eq!(
                zero, 0,
                "{name}: target one below the smallest hash must give no hit"
            );
        }
        // Same top word as the best hash, lower words zero: at most the best nonce, decided by
        // the lower words (so a word-7-only compare would be wrong).
        let mut same_top = [0u8; 32];
        same_top[28..32].copy_from_slice(&best.hash[28..32]);
        compare(
            backend,
            &Work::new(header, Target::from_le_bytes(same_top)),
            range,
            "same-top",
        );
        // A random hash's top word with all lower words ones: many hits, word 7 equal for one.
        let mid = &all.hits[all.hits.len() / 2];
        let mut ones = [0xffu8; 32];
        ones[28..32].copy_from_slice(&mid.hash[28..32]);
        compare(
            backend,
            &Work::new(header, Target::from_le_bytes(ones)),
            range,
            "top-word",
        );
        // One below that top word, lower words ones: that hash must miss. A word-7 compare in the
        // wrong byte order, or `<` where `<=` belongs, disagrees with the reference here.
        let top = u32::from_le_bytes([mid.hash[28], mid.hash[29], mid.hash[30], mid.hash[31]]);
        if let Some(below) = top.checked_sub(1) {
            let mut ones = [0xffu8; 32];
            ones[28..32].copy_from_slice(&below.to_le_bytes());
            compare(
                backend,
                &Work::new(header, Target::from_le_bytes(ones)),
                range,
                "top-word-minus-one",
            );
        }
    }

    // Targets with extreme top words: all ones with zero lower words (almost every hash is a
    // top-word candidate and most hit), and the top word of the best hash with lower words zero.
    let mut top_ones = [0u8; 32];
    top_ones[28..32].copy_from_slice(&[0xff; 4]);
    for start in [0u32, 77, u32::MAX - 40] {
        let range = NonceRange::new(start, 41).expect("valid");
        compare(
            backend,
            &Work::new(header, Target::from_le_bytes(top_ones)),
            range,
            &format!("{name} top-ones {range:?}"),
        );
    }
}

/// Scans a window of 2^20 nonces around the real nonce of a few mainnet headers (nonce field
/// zeroed, target from the header's own nBits) with `kind`, and asserts that the one hit is the
/// real nonce with the known block hash. These targets have a top word of zero, equal to the
/// winning hash's, so the lower words decide: the case early-exit code gets wrong. Prints and
/// returns when `kind` cannot run here.
pub fn mainnet_windows(kind: BackendKind) {
    #[derive(serde::Deserialize)]
    struct Row {
        height: u64,
        header_hex: String,
        nonce: u32,
        block_hash: String,
    }
    let backend = match kind.instantiate() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{kind} mainnet test skipped: {e}");
            return;
        }
    };
    let rows: Vec<Row> = serde_json::from_str(include_str!("../../tests/data/headers.json"))
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
        let out = scan_verified(backend.as_ref(), &Work::new(header, target), range)
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

/// Scans `range` with both backends and asserts they agree; returns the number of hits.
fn compare(backend: &dyn Backend, work: &Work, range: NonceRange, what: &str) -> usize {
    let want = scan_verified(&Reference, work, range).expect("reference is the oracle");
    let got = scan_verified(backend, work, range)
        .unwrap_or_else(|e| panic!("{what}: reported a hit the reference rejects: {e}"));
    assert_eq!(got.hashes, range.len(), "{what}: hash count");
    assert_eq!(
        got.hits.iter().map(|h| h.nonce).collect::<Vec<_>>(),
        want.hits.iter().map(|h| h.nonce).collect::<Vec<_>>(),
        "{what}: hit nonces differ from reference"
    );
    assert_eq!(
        got.hits, want.hits,
        "{what}: hit hashes differ from reference"
    );
    got.hits.len()
}

fn le_cmp(a: &[u8; 32], b: &[u8; 32]) -> std::cmp::Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// `x − 1` for a little-endian 256-bit number, or `None` for zero.
fn le_decrement(mut x: [u8; 32]) -> Option<[u8; 32]> {
    for byte in x.iter_mut() {
        if *byte > 0 {
            *byte -= 1;
            return Some(x);
        }
        *byte = 0xff;
    }
    None
}
