//! The cross-check against the reference: the same work through a backend (or a scheduler)
//! and through `reference`, compared hit for hit and hash count for hash count.
//!
//! Cases are chosen where fast backends break: nonce 0, 1 and `u32::MAX`; range lengths that are
//! not a multiple of any lane count (1..=70 and a few larger odd ones); strided ranges; targets
//! with zero, one and many hits; targets whose most significant word equals a hash's most
//! significant word exactly (where an early-reject compare of word 7 alone goes wrong) and one
//! below it (byte order of that compare); and a window of 2^16 nonces with many hits.
//!
//! Used three ways: a run's pre-flight check before any backend or scheduler is timed
//! ([`preflight`], [`preflight_scheduler`]: a disagreement fails that backend's cases, no rate
//! is recorded); every built-in backend's unit tests; and a user's own tests through
//! `minebench::testing` (feature `testing`).

use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::reference::Reference;
use super::{scan_verified, Backend, Header, Hit, NonceRange, ScanOutcome, Target, Work};
use crate::rng::SplitMix64;
use crate::sched::{self, SchedConfig, Scheduler};

/// The nonces of the pre-flight window: at least 2^16, and not a multiple of any lane count.
pub const PREFLIGHT_WINDOW: u64 = (1 << 16) + 77;

/// The first disagreement with the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Which check: the backend (or scheduler), the target and the range.
    pub what: String,
    /// The first nonce whose result differs (a hit missing, invented or with a wrong hash), when
    /// the difference is in the hits rather than the count.
    pub first_nonce: Option<u32>,
    pub detail: String,
}

impl Mismatch {
    fn new(what: String, first_nonce: Option<u32>, detail: String) -> Mismatch {
        Mismatch {
            what,
            first_nonce,
            detail,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.detail)?;
        if let Some(n) = self.first_nonce {
            write!(f, " (first differing nonce {n})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// What a passing check covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Ranges compared.
    pub ranges: u64,
    /// Nonces hashed by the checked side.
    pub nonces: u64,
    /// Hits that agreed.
    pub hits: u64,
}

/// The reference's answers, remembered: one run checks several backends on the same work, and
/// the reference is the slow side.
#[derive(Default)]
pub struct Oracle {
    memo: HashMap<ScanKey, ScanOutcome>,
}

/// Header, target, and the range's start, length and step.
type ScanKey = ([u8; 80], [u8; 32], u32, u64, u32);

impl Oracle {
    pub fn new() -> Oracle {
        Oracle::default()
    }

    /// The reference's hits (sorted) and hash count for `work` over `range`.
    pub fn scan(&mut self, work: &Work, range: NonceRange) -> ScanOutcome {
        let key = (
            *work.header.as_bytes(),
            work.target.to_le_bytes(),
            range.start(),
            range.len(),
            range.step(),
        );
        self.memo
            .entry(key)
            .or_insert_with(|| {
                scan_verified(&Reference, work, range).expect("the reference agrees with itself")
            })
            .clone()
    }
}

/// A run's check of one backend before it is timed: the whole [`cross_check`] plus a
/// [`PREFLIGHT_WINDOW`]-nonce window with many hits.
pub fn preflight(backend: &dyn Backend, oracle: &mut Oracle) -> Result<Summary, Mismatch> {
    let mut sum = cross_check(backend, oracle)?;
    let work = Work::new(
        Header::synthetic(0x7072_6566_6c69_6768),
        Target::from_zero_bits(6).expect("<= 255"),
    );
    let range = NonceRange::new(u32::MAX - 70_000, PREFLIGHT_WINDOW).expect("fits below 2^32");
    let name = backend.name();
    compare(
        backend,
        oracle,
        &mut sum,
        &work,
        range,
        &format!("{name} window {range:?}"),
    )?;
    Ok(sum)
}

/// A run's check of one scheduler at one thread count before it is timed: a finite scan of a
/// [`PREFLIGHT_WINDOW`]-nonce range over `threads` workers (with `backend`, a built-in that
/// passed its own check) must give the reference's hits and exactly the range's hash count.
pub fn preflight_scheduler(
    scheduler: &dyn Scheduler,
    backend: Arc<dyn Backend>,
    threads: usize,
    batch: u64,
    oracle: &mut Oracle,
) -> Result<Summary, Mismatch> {
    let work = Work::new(
        Header::synthetic(0x7363_6865_6475_6c65),
        Target::from_zero_bits(5).expect("<= 255"),
    );
    let range = NonceRange::new(1_000_003, PREFLIGHT_WINDOW).expect("fits below 2^32");
    let what = format!("scheduler {} x{threads} {range:?}", scheduler.name());
    // Small enough that every worker gets several batches of the window.
    let batch = batch.min(PREFLIGHT_WINDOW / (4 * threads as u64)).max(1);
    let cfg = SchedConfig {
        threads,
        batch,
        pin_threads: false,
        defer_verification: false,
    };
    let want = oracle.scan(&work, range);
    let got = catch_unwind(AssertUnwindSafe(|| {
        sched::scan_range(scheduler, backend, &work, range, &cfg)
    }))
    .map_err(|p| Mismatch::new(what.clone(), None, format!("panicked: {}", panic_text(&p))))?
    .map_err(|e| Mismatch::new(what.clone(), None, e.to_string()))?;
    check_agreement(&what, range, &want.hits, &got.hits, got.hashes)?;
    Ok(Summary {
        ranges: 1,
        nonces: got.hashes,
        hits: got.hits.len() as u64,
    })
}

/// Runs every check of the harness on `backend`; the first disagreement is the error.
pub fn cross_check(backend: &dyn Backend, oracle: &mut Oracle) -> Result<Summary, Mismatch> {
    let mut sum = Summary::default();
    let mut rng = SplitMix64(0x6d69_6e65_6265_6e63);
    let name = backend.name();

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
                    oracle,
                    &mut sum,
                    &work,
                    range,
                    &format!("{name} zb{zero_bits} {range:?}"),
                )?;
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
        compare(
            backend,
            oracle,
            &mut sum,
            &many,
            range,
            &format!("{name} edge {range:?}"),
        )?;
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
        compare(
            backend,
            oracle,
            &mut sum,
            &many,
            range,
            &format!("{name} strided {range:?}"),
        )?;
    }

    // Exactly one hit: the target is the smallest hash of the range, so only that nonce meets it.
    // Then the same hash minus one (word 7 still equal, no hit) and plus one in the lowest byte.
    for _ in 0..8 {
        let header = Header::synthetic(rng.next());
        let start = (rng.next() >> 40) as u32;
        let range = NonceRange::new(start, 333).expect("valid");
        let all = oracle.scan(&Work::new(header, Target::MAX), range);
        let best = all
            .hits
            .iter()
            .min_by(|a, b| le_cmp(&a.hash, &b.hash))
            .expect("333 hits when every hash meets the target");
        let exact = Target::from_le_bytes(best.hash);
        let one = compare(
            backend,
            oracle,
            &mut sum,
            &Work::new(header, exact),
            range,
            &format!("{name} one-hit"),
        )?;
        if one != 1 {
            return Err(Mismatch::new(
                format!("{name} one-hit {range:?}"),
                None,
                format!("target = smallest hash must give exactly one hit, got {one}"),
            ));
        }
        if let Some(below) = le_decrement(best.hash) {
            let zero = compare(
                backend,
                oracle,
                &mut sum,
                &Work::new(header, Target::from_le_bytes(below)),
                range,
                "below",
            )?;
            if zero != 0 {
                return Err(Mismatch::new(
                    format!("{name} below {range:?}"),
                    None,
                    format!("target one below the smallest hash must give no hit, got {zero}"),
                ));
            }
        }
        // Same top word as the best hash, lower words zero: at most the best nonce, decided by
        // the lower words (so a word-7-only compare would be wrong).
        let mut same_top = [0u8; 32];
        same_top[28..32].copy_from_slice(&best.hash[28..32]);
        compare(
            backend,
            oracle,
            &mut sum,
            &Work::new(header, Target::from_le_bytes(same_top)),
            range,
            "same-top",
        )?;
        // A random hash's top word with all lower words ones: many hits, word 7 equal for one.
        let mid = &all.hits[all.hits.len() / 2];
        let mut ones = [0xffu8; 32];
        ones[28..32].copy_from_slice(&mid.hash[28..32]);
        compare(
            backend,
            oracle,
            &mut sum,
            &Work::new(header, Target::from_le_bytes(ones)),
            range,
            "top-word",
        )?;
        // One below that top word, lower words ones: that hash must miss. A word-7 compare in the
        // wrong byte order, or `<` where `<=` belongs, disagrees with the reference here.
        let top = u32::from_le_bytes([mid.hash[28], mid.hash[29], mid.hash[30], mid.hash[31]]);
        if let Some(below) = top.checked_sub(1) {
            let mut ones = [0xffu8; 32];
            ones[28..32].copy_from_slice(&below.to_le_bytes());
            compare(
                backend,
                oracle,
                &mut sum,
                &Work::new(header, Target::from_le_bytes(ones)),
                range,
                "top-word-minus-one",
            )?;
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
            oracle,
            &mut sum,
            &Work::new(header, Target::from_le_bytes(top_ones)),
            range,
            &format!("{name} top-ones {range:?}"),
        )?;
    }
    Ok(sum)
}

/// Scans `range` with `backend` and the reference and compares; returns the number of hits.
fn compare(
    backend: &dyn Backend,
    oracle: &mut Oracle,
    sum: &mut Summary,
    work: &Work,
    range: NonceRange,
    what: &str,
) -> Result<usize, Mismatch> {
    let want = oracle.scan(work, range);
    let mut got = Vec::new();
    let hashes =
        catch_unwind(AssertUnwindSafe(|| backend.scan(work, range, &mut got))).map_err(|p| {
            Mismatch::new(
                what.to_string(),
                None,
                format!("panicked: {}", panic_text(&p)),
            )
        })?;
    got.sort_unstable();
    check_agreement(what, range, &want.hits, &got, hashes)?;
    sum.ranges += 1;
    sum.nonces += hashes;
    sum.hits += got.len() as u64;
    Ok(got.len())
}

/// Same hits (nonce and hash, both sorted by nonce) and a hash count equal to the range's.
fn check_agreement(
    what: &str,
    range: NonceRange,
    want: &[Hit],
    got: &[Hit],
    hashes: u64,
) -> Result<(), Mismatch> {
    if let Some((nonce, detail)) = first_difference(want, got) {
        return Err(Mismatch::new(what.to_string(), Some(nonce), detail));
    }
    if hashes != range.len() {
        return Err(Mismatch::new(
            what.to_string(),
            None,
            format!(
                "counted {hashes} hashes for a range of {} nonces",
                range.len()
            ),
        ));
    }
    Ok(())
}

/// The lowest nonce where two sorted hit lists disagree, and how.
fn first_difference(want: &[Hit], got: &[Hit]) -> Option<(u32, String)> {
    let (mut i, mut j) = (0, 0);
    loop {
        match (want.get(i), got.get(j)) {
            (None, None) => return None,
            (Some(w), None) => {
                return Some((w.nonce, format!("missed the hit at nonce {}", w.nonce)))
            }
            (None, Some(g)) => return Some((g.nonce, invented(g))),
            (Some(w), Some(g)) if w.nonce < g.nonce => {
                return Some((w.nonce, format!("missed the hit at nonce {}", w.nonce)))
            }
            (Some(w), Some(g)) if g.nonce < w.nonce => return Some((g.nonce, invented(g))),
            (Some(w), Some(g)) if w.hash != g.hash => {
                return Some((
                    g.nonce,
                    format!(
                        "reported nonce {} with a hash that is not the reference's",
                        g.nonce
                    ),
                ))
            }
            _ => {
                i += 1;
                j += 1;
            }
        }
    }
}

fn invented(g: &Hit) -> String {
    format!(
        "reported nonce {} as a hit, the reference does not (or reported it twice)",
        g.nonce
    )
}

/// The message of a caught panic.
pub(crate) fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
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
