//! Bootstrap confidence intervals: the ratio of two medians, and the resampled median
//! [`summarize`](super::summarize) uses.

use super::{midpoint, quantile_sorted, sorted_median};
use crate::rng::SplitMix64;

/// Bootstrap 95 % CI of median(new) / median(base): each side is resampled independently
/// (with replacement, same size) `resamples` times and the 2.5 % / 97.5 % percentiles of the
/// resampled ratios are taken. Returns (point, low, high) where point is the ratio of the
/// sample medians. For hash rates, a ratio above 1 means NEW is faster.
///
/// `None` when either side is empty, `resamples` is 0, any value is not finite, or any base value
/// is ≤ 0 (a resampled base median could then be 0 and the ratio undefined).
pub fn ratio_ci(base: &[f64], new: &[f64], resamples: usize, seed: u64) -> Option<(f64, f64, f64)> {
    if base.is_empty() || new.is_empty() || resamples == 0 {
        return None;
    }
    if base.iter().any(|x| !x.is_finite() || *x <= 0.0) || new.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut base_sorted = base.to_vec();
    base_sorted.sort_by(f64::total_cmp);
    let mut new_sorted = new.to_vec();
    new_sorted.sort_by(f64::total_cmp);
    let point = sorted_median(&new_sorted) / sorted_median(&base_sorted);
    let mut rng = SplitMix64(seed);
    let mut base_scratch = vec![0u32; base.len()];
    let mut new_scratch = vec![0u32; new.len()];
    let mut ratios: Vec<f64> = (0..resamples)
        .map(|_| {
            let b = resampled_median(&base_sorted, &mut rng, &mut base_scratch);
            let n = resampled_median(&new_sorted, &mut rng, &mut new_scratch);
            n / b
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    Some((
        point,
        quantile_sorted(&ratios, 0.025),
        quantile_sorted(&ratios, 0.975),
    ))
}

/// A uniform index in 0..n. Lemire's multiply-shift; its bias (≤ n / 2⁶⁴) is far below anything
/// a bootstrap could notice.
pub(super) fn uniform_index(rng: &mut SplitMix64, n: usize) -> usize {
    ((u128::from(rng.next()) * n as u128) >> 64) as usize
}

/// The median of one bootstrap resample (n draws with replacement) of a sorted sample.
///
/// Because the sample is sorted, the resample's order statistics are those of the drawn indices,
/// so counting how often each index is drawn and walking the counts finds the median in O(n)
/// without sorting: cheap enough for 10 000 resamples of 10 000 samples.
pub(super) fn resampled_median(sorted: &[f64], rng: &mut SplitMix64, counts: &mut [u32]) -> f64 {
    let n = sorted.len();
    counts.fill(0);
    for _ in 0..n {
        counts[uniform_index(rng, n)] += 1;
    }
    let (lo_rank, hi_rank) = ((n - 1) / 2, n / 2);
    let mut seen = 0usize;
    let mut lo_value = None;
    for (value, &count) in sorted.iter().zip(counts.iter()) {
        seen += count as usize;
        if lo_value.is_none() && seen > lo_rank {
            lo_value = Some(*value);
        }
        if seen > hi_rank {
            return midpoint(lo_value.unwrap_or(*value), *value);
        }
    }
    unreachable!("the counts sum to n, so the walk reaches rank n / 2 < n")
}
