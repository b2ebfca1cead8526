//! `chunked`: the space split into n contiguous static ranges; worker k hashes range k in batches.
//!
//! Owns: the contiguous share of one worker. Must not: hand out work dynamically (a worker that
//! is done waits for the roll or the next job).

use super::worker::{sub_range, StaticShare};
use super::{Launch, SchedError};
use crate::pow::NonceRange;

/// Worker `k`'s contiguous piece of `range` split `n` ways; pieces differ in length by at most 1.
pub(crate) fn share(range: &NonceRange, k: usize, n: usize) -> NonceRange {
    let len = u128::from(range.len());
    let (k, n) = (k as u128, n as u128);
    // Both bounds are at most `len` ≤ 2^32, so they fit back in u64.
    let lo = (len * k / n) as u64;
    let hi = (len * (k + 1) / n) as u64;
    sub_range(range, lo, hi - lo)
}

pub(crate) fn launch(launch: &mut Launch<'_>) -> Result<(), SchedError> {
    for k in 0..launch.threads() {
        let source = StaticShare::new(launch.threads(), launch.batch(), k, share);
        launch.spawn_worker(k, source)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_contiguous_and_cover_the_range() {
        for range in [
            NonceRange::new(1000, 200_003).unwrap(),
            NonceRange::new(u32::MAX - 2, 3).unwrap(),
            NonceRange::strided(4, 11, 3).unwrap(),
            NonceRange::full(),
        ] {
            for n in 1..=5 {
                let mut next = 0u64;
                for k in 0..n {
                    let s = share(&range, k, n);
                    if !s.is_empty() {
                        assert_eq!(s.start(), range.nth(next), "{range:?} n={n} k={k}");
                    }
                    next += s.len();
                }
                assert_eq!(next, range.len(), "{range:?} n={n}");
            }
        }
    }
}
