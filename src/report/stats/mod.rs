//! Pure statistics for reports and compare: sample summaries, bootstrap confidence intervals,
//! the Mann-Whitney U test, a Poisson plausibility check and the compare verdict.
//!
//! Owns: the numerical methods and their constants. Must not: do I/O, read clocks, or use
//! unseeded randomness. Every bootstrap runs on a fixed-seed [`SplitMix64`], so the same input
//! always gives the same output (reports are diffable and tests are exact).
//!
//! Special functions (erfc, the regularized incomplete gamma) are implemented here rather than
//! pulled in as a dependency; the tests pin them against values computed with scipy.
//!
//! Layout: this file holds the constants, the summary of a sample and the verdict;
//! `bootstrap` the confidence intervals, `mann_whitney` the rank test, `poisson` the share
//! plausibility check, `special` the special functions they rest on.

use serde::{Deserialize, Serialize};

mod bootstrap;
mod mann_whitney;
mod poisson;
mod special;
#[cfg(test)]
mod tests;

pub use bootstrap::ratio_ci;
use bootstrap::resampled_median;
pub use mann_whitney::mann_whitney_u;
pub use poisson::{poisson_ci95, poisson_two_sided_p};
pub(crate) use special::ln_gamma;

use crate::rng::SplitMix64;

/// Bootstrap resamples used when a caller has no reason to pick another number. 10 000 puts the
/// Monte-Carlo wobble of a 2.5 % percentile well below the width of the interval itself.
pub const DEFAULT_RESAMPLES: usize = 10_000;

/// Seed of the bootstrap in [`summarize`], and a sensible default seed for [`ratio_ci`].
pub const DEFAULT_SEED: u64 = 0x6d69_6e65_6265_6e63; // "minebenc"

/// Default noise threshold for [`verdict`]: changes of 2 % or less are never reported.
pub const DEFAULT_THRESHOLD: f64 = 0.02;

/// Default significance level for [`verdict`].
pub const DEFAULT_ALPHA: f64 = 0.05;

/// Largest sample size (on each side) for which [`mann_whitney_u`] uses the exact distribution.
/// C(16, 8) = 12 870 arrangements: the table is tiny, and above this the normal approximation
/// is already good.
pub const MWU_EXACT_MAX_N: usize = 8;

/// Summary of a set of hash-rate samples (hashes per second).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RateStats {
    /// Number of samples.
    pub n: usize,
    pub median: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation (divides by n − 1); 0 when n = 1.
    pub stddev: f64,
    /// Coefficient of variation, stddev / mean; 0 when the mean is 0 (then all samples are 0).
    pub cv: f64,
    /// Lower end of the bootstrap percentile 95 % CI of the median.
    pub ci95_low: f64,
    /// Upper end of the bootstrap percentile 95 % CI of the median.
    pub ci95_high: f64,
}

/// Result of [`mann_whitney_u`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct MannWhitney {
    /// The U statistic of the first sample: the number of pairs (a, b) with a > b, ties counting
    /// one half (scipy's `mannwhitneyu(a, b).statistic`).
    pub u: f64,
    /// Two-sided p-value in [0, 1].
    pub p_value: f64,
    /// Whether `p_value` comes from the exact distribution rather than the normal approximation.
    pub exact: bool,
}

/// What compare concludes about one case.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    /// The whole CI of the change lies inside the noise threshold: any change is smaller.
    NoChange,
    /// Neither: too few samples for significance, or a CI that straddles the threshold. Says
    /// "measure more", never "unchanged".
    Inconclusive,
}

/// The median of `xs` (the mean of the two middle values for an even count).
///
/// `None` when `xs` is empty or contains a NaN (which has no place in an order).
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(sorted_median(&sorted))
}

/// Summarizes hash-rate samples, with a bootstrap CI of the median ([`DEFAULT_RESAMPLES`]
/// resamples, seed [`DEFAULT_SEED`]).
///
/// `None` when `rates` is empty or any rate is negative or not finite (not a rate; refusing it
/// keeps every field finite, so the JSON round-trips). One sample gives stddev 0 and CI [x, x].
pub fn summarize(rates: &[f64]) -> Option<RateStats> {
    if rates.is_empty() || rates.iter().any(|r| !r.is_finite() || *r < 0.0) {
        return None;
    }
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = sorted.iter().sum::<f64>() / n as f64;
    // Two passes: summing squared deviations from the mean is accurate even when the CV is tiny
    // compared with the magnitude (rates around 1e9 with 0.1 % noise).
    let stddev = if n > 1 {
        let ss: f64 = sorted.iter().map(|r| (r - mean) * (r - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let cv = if mean > 0.0 { stddev / mean } else { 0.0 };
    let mut rng = SplitMix64(DEFAULT_SEED);
    let mut scratch = vec![0u32; n];
    let mut medians: Vec<f64> = (0..DEFAULT_RESAMPLES)
        .map(|_| resampled_median(&sorted, &mut rng, &mut scratch))
        .collect();
    medians.sort_by(f64::total_cmp);
    Some(RateStats {
        n,
        median: sorted_median(&sorted),
        mean,
        min: sorted[0],
        max: sorted[n - 1],
        stddev,
        cv,
        ci95_low: quantile_sorted(&medians, 0.025),
        ci95_high: quantile_sorted(&medians, 0.975),
    })
}

/// The compare verdict for a hash-rate ratio (new / base) with its CI and a p-value.
///
/// `Faster` only when ratio > 1 + threshold, the whole CI lies above 1 and p < alpha; `Slower`
/// symmetrically. `NoChange` only when the whole CI lies within 1 ± threshold: then whatever
/// changed is smaller than the threshold, which is a finding. Anything else — a CI straddling
/// the threshold, a large change that is not significant, NaN inputs — is `Inconclusive`:
/// "no change" must never stand for "could not tell".
pub fn verdict(
    ratio: f64,
    ci_low: f64,
    ci_high: f64,
    p_value: f64,
    threshold: f64,
    alpha: f64,
) -> Verdict {
    // Written as positive comparisons so that any NaN falls through to Inconclusive.
    let significant = p_value < alpha;
    if significant && ratio - 1.0 > threshold && ci_low > 1.0 {
        Verdict::Faster
    } else if significant && 1.0 - ratio > threshold && ci_high < 1.0 {
        Verdict::Slower
    } else if ci_low >= 1.0 - threshold
        && ci_high <= 1.0 + threshold
        && ci_low <= ratio
        && ratio <= ci_high
    {
        Verdict::NoChange
    } else {
        Verdict::Inconclusive
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the submodules

/// Median of an already sorted, non-empty slice.
pub(super) fn sorted_median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    midpoint(sorted[(n - 1) / 2], sorted[n / 2])
}

/// (a + b) / 2, exact when a == b (so constant samples give back their value).
pub(super) fn midpoint(a: f64, b: f64) -> f64 {
    a + (b - a) / 2.0
}

/// Linear-interpolation quantile (numpy's default) of a sorted, non-empty slice.
pub(super) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}
