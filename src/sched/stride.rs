//! `stride`: worker k of n hashes nonces k, k+n, k+2n, … of the space — the textbook loop — in
//! batches of `batch` strided nonces.
//!
//! Owns: the stride share of one worker. Must not: hand out work dynamically (a worker that is
//! done waits for the roll or the next job; that idle time is what this scheduler costs).

use super::worker::StaticShare;
use super::{Launch, SchedError};
use crate::pow::NonceRange;

/// Worker `k`'s nonces of `range` when `n` workers stride over it: the k-th, (k+n)-th, … nonce.
pub(crate) fn share(range: &NonceRange, k: usize, n: usize) -> NonceRange {
    let (k, n) = (k as u64, n as u64);
    let len = range.len();
    if k >= len {
        return NonceRange::new(range.start(), 0).expect("an empty range is valid");
    }
    let count = (len - k).div_ceil(n);
    // A share of two or more nonces has a step that fits: its last nonce lies inside `range`.
    // A single nonce has no step to speak of, and its product may overflow, so use 1.
    let step = if count > 1 {
        u32::try_from(u64::from(range.step()) * n).expect("a multi-nonce share's step fits in u32")
    } else {
        1
    };
    NonceRange::strided(range.nth(k), count, step).expect("every nonce of the share is in range")
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
    fn shares_partition_the_range() {
        for (start, len, step) in [(0u32, 10u64, 1u32), (1000, 200_003, 1), (5, 17, 3)] {
            let range = NonceRange::strided(start, len, step).unwrap();
            for n in 1..=7 {
                let mut all: Vec<u32> = (0..n).flat_map(|k| share(&range, k, n).iter()).collect();
                all.sort_unstable();
                assert_eq!(all, range.iter().collect::<Vec<_>>(), "{range:?} n={n}");
            }
        }
        let top = NonceRange::new(u32::MAX - 4, 5).unwrap();
        assert_eq!(share(&top, 4, 5).iter().collect::<Vec<_>>(), vec![u32::MAX]);
        assert!(share(&top, 2, 9).len() == 1 && share(&top, 6, 9).is_empty());
    }
}
