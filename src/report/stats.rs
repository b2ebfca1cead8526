//! Pure statistics for reports and compare: sample summaries, bootstrap confidence intervals,
//! the Mann-Whitney U test, a Poisson plausibility check and the compare verdict.
//!
//! Owns: the numerical methods and their constants. Must not: do I/O, read clocks, or use
//! unseeded randomness. Every bootstrap runs on a fixed-seed [`SplitMix64`], so the same input
//! always gives the same output (reports are diffable and tests are exact).
//!
//! Special functions (erfc, the regularized incomplete gamma) are implemented here rather than
//! pulled in as a dependency; the tests pin them against values computed with scipy.

use serde::{Deserialize, Serialize};

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

/// Two-sided Mann-Whitney U test of `a` against `b`.
///
/// With both sizes ≤ [`MWU_EXACT_MAX_N`] and no ties anywhere, the p-value comes from the exact
/// distribution of U; otherwise from the normal approximation with tie correction and continuity
/// correction. Both match scipy's `mannwhitneyu(a, b, method="exact" | "asymptotic")`.
///
/// `None` when either side is empty or contains a NaN.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|x| x.is_nan()) {
        return None;
    }
    let (n1, n2) = (a.len(), b.len());
    let n = n1 + n2;
    // Rank the pooled sample; `true` marks values from `a`.
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum_a = 0.0;
    // Σ (t³ − t) over tie groups, for the variance correction.
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        // Positions i..j (0-based) share the mid-rank of ranks i+1..=j.
        let mid_rank = (i + 1 + j) as f64 / 2.0;
        let from_a = pooled[i..j].iter().filter(|p| p.1).count();
        rank_sum_a += mid_rank * from_a as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let u1 = rank_sum_a - (n1 * (n1 + 1)) as f64 / 2.0;
    let u2 = (n1 * n2) as f64 - u1;
    // Two-sided: the tail beyond the larger of the two U's, doubled.
    let u_max = u1.max(u2);

    if n1 <= MWU_EXACT_MAX_N && n2 <= MWU_EXACT_MAX_N && tie_term == 0.0 {
        let counts = u_distribution(n1, n2);
        let total: u64 = counts.iter().sum();
        // Without ties U is an integer; round() only removes float dust.
        let u_idx = u_max.round() as usize;
        let tail: u64 = counts[u_idx.min(counts.len())..].iter().sum();
        let p = (2.0 * tail as f64 / total as f64).min(1.0);
        return Some(MannWhitney {
            u: u1,
            p_value: p,
            exact: true,
        });
    }

    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let mu = n1f * n2f / 2.0;
    // n ≥ 2 here (both sides non-empty), so n(n − 1) > 0.
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    let p = if var > 0.0 {
        let z = (u_max - mu - 0.5) / var.sqrt();
        (2.0 * normal_sf(z)).clamp(0.0, 1.0)
    } else {
        // Every value tied: no evidence of any difference.
        1.0
    };
    Some(MannWhitney {
        u: u1,
        p_value: p,
        exact: false,
    })
}

/// Two-sided Poisson p-value of seeing `found` events when `expected` were expected:
/// 2 × min(P[X ≤ found], P[X ≥ found]), capped at 1.
///
/// Computed through the regularized incomplete gamma function (P[X ≤ k] = Q(k + 1, λ),
/// P[X ≥ k] = P(k, λ)) with the prefactor in log space, so it neither overflows nor loses the
/// tails. When the shape k exceeds 10⁷ it switches to Temme's uniform asymptotic expansion (first
/// correction term), whose relative error is O(1/k) ≈ 1e-8 or better, far below anything a
/// plausibility check can notice; this keeps expected counts up to 1e12 and beyond cheap.
///
/// `expected` = 0 gives 1 for `found` = 0 and 0 otherwise. A negative or non-finite `expected`
/// gives NaN (which compares false with any threshold).
pub fn poisson_two_sided_p(found: u64, expected: f64) -> f64 {
    if !expected.is_finite() || expected < 0.0 {
        return f64::NAN;
    }
    if expected == 0.0 {
        return if found == 0 { 1.0 } else { 0.0 };
    }
    let k = found as f64;
    let at_most = gamma_pq(k + 1.0, expected).1;
    let at_least = if found == 0 {
        1.0
    } else {
        gamma_pq(k, expected).0
    };
    (2.0 * at_most.min(at_least)).clamp(0.0, 1.0)
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
// Helpers

/// Median of an already sorted, non-empty slice.
fn sorted_median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    midpoint(sorted[(n - 1) / 2], sorted[n / 2])
}

/// (a + b) / 2, exact when a == b (so constant samples give back their value).
fn midpoint(a: f64, b: f64) -> f64 {
    a + (b - a) / 2.0
}

/// Linear-interpolation quantile (numpy's default) of a sorted, non-empty slice.
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// A uniform index in 0..n. Lemire's multiply-shift; its bias (≤ n / 2⁶⁴) is far below anything
/// a bootstrap could notice.
fn uniform_index(rng: &mut SplitMix64, n: usize) -> usize {
    ((u128::from(rng.next()) * n as u128) >> 64) as usize
}

/// The median of one bootstrap resample (n draws with replacement) of a sorted sample.
///
/// Because the sample is sorted, the resample's order statistics are those of the drawn indices,
/// so counting how often each index is drawn and walking the counts finds the median in O(n)
/// without sorting: cheap enough for 10 000 resamples of 10 000 samples.
fn resampled_median(sorted: &[f64], rng: &mut SplitMix64, counts: &mut [u32]) -> f64 {
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

/// Number of arrangements of n1 + n2 distinct values giving each U of the first sample
/// (index = U). Recurrence on the largest value: if it belongs to the first sample it beats all
/// j values of the second (adds j to U), otherwise it adds nothing.
fn u_distribution(n1: usize, n2: usize) -> Vec<u64> {
    // row[j] = distribution for sizes (i, j), built up over i.
    let mut prev: Vec<Vec<u64>> = (0..=n2).map(|_| vec![1]).collect();
    for i in 1..=n1 {
        let mut row: Vec<Vec<u64>> = Vec::with_capacity(n2 + 1);
        row.push(vec![1]);
        for j in 1..=n2 {
            let mut dist = vec![0u64; i * j + 1];
            for (u, &c) in prev[j].iter().enumerate() {
                dist[u + j] += c;
            }
            for (u, &c) in row[j - 1].iter().enumerate() {
                dist[u] += c;
            }
            row.push(dist);
        }
        prev = row;
    }
    prev.swap_remove(n2)
}

/// Upper tail of the standard normal, P[Z > z], accurate in relative terms deep into the tail.
fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function via erfc(x) = Q(1/2, x²) for x ≥ 0.
fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x >= 0.0 {
        gamma_pq(0.5, x * x).1
    } else {
        1.0 + gamma_pq(0.5, x * x).0
    }
}

/// Relative tolerance of the series and continued fraction.
const GAMMA_EPS: f64 = 1e-16;
/// Iteration cap for the series and continued fraction: both need O(√a) terms near x ≈ a, and
/// a stays ≤ TEMME_MIN_A here, so this is never reached; it only bounds a logic error.
const GAMMA_MAX_ITER: usize = 10_000_000;
/// Shape above which [`gamma_pq`] uses Temme's uniform asymptotic expansion.
const TEMME_MIN_A: f64 = 1e7;

/// The regularized incomplete gamma functions (P(a, x), Q(a, x)) for a > 0, x ≥ 0.
///
/// The smaller of the two is computed directly (series for P when x < a + 1, Lentz continued
/// fraction for Q otherwise) and the other as its complement, so tails keep relative accuracy.
fn gamma_pq(a: f64, x: f64) -> (f64, f64) {
    debug_assert!(a > 0.0 && x >= 0.0);
    if x == 0.0 {
        return (0.0, 1.0);
    }
    if x.is_infinite() {
        return (1.0, 0.0);
    }
    if a >= TEMME_MIN_A {
        return gamma_pq_temme(a, x);
    }
    let prefactor = ln_gamma_prefactor(a, x).exp();
    if prefactor == 0.0 {
        // Far into one tail: the prefactor underflowed, so the smaller side is 0.
        return if x < a { (0.0, 1.0) } else { (1.0, 0.0) };
    }
    if x < a + 1.0 {
        // P = prefactor · Σ_{n≥0} xⁿ / (a (a+1) … (a+n)).
        let mut ap = a;
        let mut term = 1.0 / a;
        let mut sum = term;
        for _ in 0..GAMMA_MAX_ITER {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term < sum * GAMMA_EPS {
                break;
            }
        }
        let p = (prefactor * sum).min(1.0);
        (p, 1.0 - p)
    } else {
        // Q = prefactor / (x + 1 − a − 1(1 − a) / (x + 3 − a − 2(2 − a) / (x + 5 − a − …))),
        // evaluated with the modified Lentz method.
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..GAMMA_MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < GAMMA_EPS {
                break;
            }
        }
        let q = (prefactor * h).min(1.0);
        (1.0 - q, q)
    }
}

/// ln(xᵃ e⁻ˣ / Γ(a)), the common prefactor of the incomplete gamma series and fraction.
///
/// For large a the naive form subtracts numbers near a·ln a and loses ~log10(a) digits; the
/// Loader form a·(ln(1+t) − t) + ½ ln(a / 2π) − stirlerr(a), t = (x − a)/a, has no cancellation.
fn ln_gamma_prefactor(a: f64, x: f64) -> f64 {
    if a < 10.0 {
        a * x.ln() - x - ln_gamma(a)
    } else {
        let t = (x - a) / a;
        a * log1pmx(t, x / a) + 0.5 * (a / (2.0 * std::f64::consts::PI)).ln() - stirling_error(a)
    }
}

/// ln(1 + t) − t, accurate for small |t|. `one_plus_t` is 1 + t computed without rounding loss
/// by the caller (x / a), used when t is far from 0.
fn log1pmx(t: f64, one_plus_t: f64) -> f64 {
    if t.abs() < 0.1 {
        // −t²/2 + t³/3 − t⁴/4 + …; |t| < 0.1 gives 1e-17 after 16 terms.
        let mut power = t * t;
        let mut sum = 0.0;
        let mut sign = -1.0;
        for k in 2..=20 {
            sum += sign * power / k as f64;
            power *= t;
            sign = -sign;
        }
        sum
    } else {
        one_plus_t.ln() - t
    }
}

/// lnΓ(a) − [(a − ½) ln a − a + ½ ln 2π] for a ≥ 10 (the Stirling series; the next term is
/// below 2e-14 at a = 10).
fn stirling_error(a: f64) -> f64 {
    let r = 1.0 / a;
    let r2 = r * r;
    r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0 - r2 / 1188.0))))
}

/// lnΓ(a) for a ≥ ½ (the only shapes used here), Lanczos approximation (g = 7, n = 9), relative
/// error around 1e-15.
pub(crate) fn ln_gamma(a: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    debug_assert!(a >= 0.5);
    let x = a - 1.0;
    let mut sum = COEF[0];
    for (i, c) in COEF.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// (P(a, x), Q(a, x)) for large a by Temme's uniform asymptotic expansion:
/// Q = ½ erfc(η √(a/2)) + e^(−aη²/2) / √(2πa) · C₀(η) + O(a^(−3/2) e^(−aη²/2)),
/// with λ = x/a, η = sign(λ − 1) √(2(λ − 1 − ln λ)) and C₀(η) = 1/(λ − 1) − 1/η.
fn gamma_pq_temme(a: f64, x: f64) -> (f64, f64) {
    let lambda = x / a;
    // Not λ − 1: that would round λ first and lose ~log10(1/|t|) digits of t, which matter when
    // a ≈ 1e12 and x is a few σ = √a away.
    let t = (x - a) / a;
    // λ − 1 − ln λ = −(ln(1 + t) − t) ≥ 0.
    let half_eta_sq = -log1pmx(t, lambda);
    let eta = t.signum() * (2.0 * half_eta_sq.max(0.0)).sqrt();
    let c0 = if eta.abs() < 1e-2 {
        // 1/(λ−1) − 1/η cancels near η = 0; use its Taylor series there (Temme 1979).
        -1.0 / 3.0 + eta * (1.0 / 12.0 + eta * (-2.0 / 135.0 + eta / 864.0))
    } else {
        1.0 / t - 1.0 / eta
    };
    let r = (-a * half_eta_sq).exp() / (2.0 * std::f64::consts::PI * a).sqrt() * c0;
    let z = eta * (a / 2.0).sqrt();
    let q = (0.5 * erfc(z) + r).clamp(0.0, 1.0);
    let p = (0.5 * erfc(-z) - r).clamp(0.0, 1.0);
    (p, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// |actual − expected| ≤ rel · |expected|.
    fn assert_rel(actual: f64, expected: f64, rel: f64) {
        assert!(
            (actual - expected).abs() <= rel * expected.abs(),
            "got {actual:e}, expected {expected:e} (relative tolerance {rel:e})"
        );
    }

    /// Uniform in (0, 1].
    fn unit(rng: &mut SplitMix64) -> f64 {
        ((rng.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal deviate by Box-Muller.
    fn gaussian(rng: &mut SplitMix64) -> f64 {
        let (u1, u2) = (unit(rng), unit(rng));
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `n` rates around `center` with the given coefficient of variation.
    fn noisy_rates(rng: &mut SplitMix64, n: usize, center: f64, cv: f64) -> Vec<f64> {
        (0..n)
            .map(|_| center * (1.0 + cv * gaussian(rng)))
            .collect()
    }

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[-1.0, f64::INFINITY]), Some(f64::INFINITY));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn summarize_known_sample() {
        let s = summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.n, 8);
        assert_eq!(s.median, 4.5);
        assert_eq!(s.mean, 5.0);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        // Σ(x − 5)² = 32, sample variance 32 / 7.
        assert_rel(s.stddev, (32.0f64 / 7.0).sqrt(), 1e-15);
        assert_rel(s.cv, s.stddev / 5.0, 1e-15);
        assert!(s.ci95_low <= s.median && s.median <= s.ci95_high);
        assert!(s.ci95_low >= s.min && s.ci95_high <= s.max);
        assert!(s.ci95_low < s.ci95_high);
        assert_eq!(
            summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
            Some(s)
        );
    }

    #[test]
    fn summarize_constant_and_single_samples() {
        let s = summarize(&[1.25e7; 12]).unwrap();
        assert_eq!(
            (s.median, s.mean, s.stddev, s.cv),
            (1.25e7, 1.25e7, 0.0, 0.0)
        );
        assert_eq!((s.ci95_low, s.ci95_high), (1.25e7, 1.25e7));
        let one = summarize(&[3.5e6]).unwrap();
        assert_eq!(
            (one.n, one.median, one.stddev, one.cv),
            (1, 3.5e6, 0.0, 0.0)
        );
        assert_eq!((one.ci95_low, one.ci95_high), (3.5e6, 3.5e6));
        let zeros = summarize(&[0.0, 0.0, 0.0]).unwrap();
        assert_eq!(zeros.cv, 0.0);
    }

    #[test]
    fn summarize_rejects_what_is_not_a_rate() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0, -1.0]), None);
        assert_eq!(summarize(&[1.0, f64::NAN]), None);
        assert_eq!(summarize(&[1.0, f64::INFINITY]), None);
    }

    #[test]
    fn summarize_round_trips_through_json() {
        let s = summarize(&[1.0e7, 1.1e7, 0.9e7, 1.05e7]).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<RateStats>(&json).unwrap(), s);
    }

    /// The counting shortcut must give exactly the median of an explicitly built resample drawn
    /// with the same random indices.
    #[test]
    fn resampled_median_equals_median_of_explicit_resample() {
        let mut data_rng = SplitMix64(7);
        for n in [1usize, 2, 3, 4, 5, 10, 11, 64, 101] {
            let mut sorted: Vec<f64> = (0..n).map(|_| unit(&mut data_rng)).collect();
            sorted.sort_by(f64::total_cmp);
            let mut counts = vec![0u32; n];
            for seed in 0..50u64 {
                let mut rng = SplitMix64(seed);
                let mut replay = rng.clone();
                let fast = resampled_median(&sorted, &mut rng, &mut counts);
                let resample: Vec<f64> = (0..n)
                    .map(|_| sorted[uniform_index(&mut replay, n)])
                    .collect();
                assert_eq!(fast, median(&resample).unwrap(), "n={n} seed={seed}");
                assert_eq!(rng.0, replay.0, "both consumed the same draws");
            }
        }
    }

    #[test]
    fn ratio_ci_of_a_scaled_sample() {
        let mut rng = SplitMix64(11);
        let base = noisy_rates(&mut rng, 10, 1e7, 0.01);
        let slower: Vec<f64> = base.iter().map(|x| x * 0.9).collect();
        let (point, low, high) = ratio_ci(&base, &slower, DEFAULT_RESAMPLES, DEFAULT_SEED).unwrap();
        assert_rel(point, 0.9, 1e-12);
        assert!(low <= 0.9 && 0.9 <= high, "[{low}, {high}]");
        assert!(high < 1.0, "CI [{low}, {high}] must exclude 1");

        let (point, low, high) = ratio_ci(&base, &base, DEFAULT_RESAMPLES, DEFAULT_SEED).unwrap();
        assert_eq!(point, 1.0);
        assert!(low < 1.0 && 1.0 < high, "[{low}, {high}]");
    }

    #[test]
    fn ratio_ci_is_deterministic_for_a_seed() {
        let mut rng = SplitMix64(12);
        let base = noisy_rates(&mut rng, 25, 1e7, 0.02);
        let new = noisy_rates(&mut rng, 30, 1.01e7, 0.02);
        let first = ratio_ci(&base, &new, 2_000, 99);
        assert!(first.is_some());
        assert_eq!(ratio_ci(&base, &new, 2_000, 99), first);
        assert_eq!(ratio_ci(&[1.0], &[2.0], 10, 0), Some((2.0, 2.0, 2.0)));
    }

    #[test]
    fn ratio_ci_rejects_bad_input() {
        assert_eq!(ratio_ci(&[], &[1.0], 10, 0), None);
        assert_eq!(ratio_ci(&[1.0], &[], 10, 0), None);
        assert_eq!(ratio_ci(&[1.0], &[1.0], 0, 0), None);
        assert_eq!(ratio_ci(&[1.0, 0.0], &[1.0], 10, 0), None);
        assert_eq!(ratio_ci(&[1.0], &[f64::NAN], 10, 0), None);
    }

    /// Reference values from scipy 1.17.1:
    /// `scipy.stats.mannwhitneyu(a, b, alternative="two-sided", method=M, use_continuity=True)`
    /// with M = "exact" where we use the exact distribution and "asymptotic" otherwise.
    #[test]
    fn mann_whitney_matches_scipy() {
        /// a, b, exact, U of a, p-value.
        type Case<'a> = (&'a [f64], &'a [f64], bool, f64, f64);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0], true, 0.0, 0.007936507936507936),
            (&[1.1, 2.3, 3.5, 4.2, 7.7, 8.1], &[2.0, 5.5, 6.1, 9.3, 10.4], true, 9.0, 0.32900432900432897),
            (&[3.0, 1.0, 4.0], &[1.5, 9.0, 2.6, 5.3, 5.8, 9.7, 7.9, 3.2], true, 5.0, 0.19393939393939394),
            (&[8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0], &[1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5], true, 28.0, 0.7209013209013208),
            (&[1.0, 2.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 3.0, 3.0, 6.0, 7.0], false, 9.0, 0.30634143782771095),
            (&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], &[11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0], false, 0.0, 0.00018267179110955002),
            (&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0], false, 0.0, 0.016230048574613354),
            (&[5.0, 5.0, 5.0], &[5.0, 5.0, 5.0, 5.0], false, 6.0, 1.0),
            (&[0.8, 1.9, 2.2, 3.7, 4.1, 5.6, 6.3, 7.4, 8.8, 9.5, 10.2], &[1.2, 2.7, 3.3, 5.1, 6.9, 7.1, 11.6, 12.4, 13.3, 14.8], false, 40.0, 0.3072263700681952),
        ];
        for (a, b, exact, u, p) in cases {
            let r = mann_whitney_u(a, b).unwrap();
            assert_eq!(r.exact, *exact, "{a:?} vs {b:?}");
            assert_eq!(r.u, *u, "{a:?} vs {b:?}");
            assert_rel(r.p_value, *p, 1e-12);
            // Swapping the samples mirrors U and keeps the two-sided p.
            let swapped = mann_whitney_u(b, a).unwrap();
            assert_eq!(swapped.u, (a.len() * b.len()) as f64 - u);
            assert_rel(swapped.p_value, r.p_value, 1e-15);
        }
    }

    #[test]
    fn mann_whitney_identical_and_separated() {
        let mut rng = SplitMix64(3);
        let a = noisy_rates(&mut rng, 10, 1e7, 0.01);
        let same = mann_whitney_u(&a, &a).unwrap();
        assert!(same.p_value > 0.99, "{same:?}");
        let small = mann_whitney_u(&a[..5], &a[..5]).unwrap();
        assert!(small.p_value > 0.99, "{small:?}");

        let low: Vec<f64> = (0..10).map(|i| 1e7 + i as f64).collect();
        let high: Vec<f64> = (0..10).map(|i| 2e7 + i as f64).collect();
        let r = mann_whitney_u(&low, &high).unwrap();
        assert_eq!(r.u, 0.0);
        assert!(r.p_value < 0.001, "{r:?}");
        assert!(!r.exact);
        assert_eq!(mann_whitney_u(&[], &[1.0]), None);
        assert_eq!(mann_whitney_u(&[f64::NAN], &[1.0]), None);
    }

    #[test]
    fn exact_u_distribution_is_a_distribution() {
        fn binomial(n: u64, k: u64) -> u64 {
            (1..=k).fold(1, |acc, i| acc * (n + 1 - i) / i)
        }
        for n1 in 1..=MWU_EXACT_MAX_N {
            for n2 in 1..=MWU_EXACT_MAX_N {
                let d = u_distribution(n1, n2);
                assert_eq!(d.len(), n1 * n2 + 1);
                assert_eq!(d.iter().sum::<u64>(), binomial((n1 + n2) as u64, n1 as u64));
                assert!(d.iter().eq(d.iter().rev()), "U is symmetric around n1·n2/2");
                assert_eq!(d, u_distribution(n2, n1));
            }
        }
    }

    /// References: `scipy.stats.norm.sf(z)` (scipy 1.17.1).
    #[test]
    fn normal_tail_matches_scipy() {
        for (z, sf) in [
            (-1.0, 0.8413447460685429),
            (0.0, 0.5),
            (1.0, 0.15865525393145707),
            (3.0, 0.0013498980316300933),
            (5.0, 2.866515718791933e-07),
            (20.0, 2.7536241186061556e-89),
        ] {
            assert_rel(normal_sf(z), sf, 1e-12);
        }
    }

    /// References computed in Python with mpmath at 50 digits: log pmf(found) exactly, times the
    /// tail summed as a series of pmf ratios (P[X ≥ k] = pmf(k) Σ Π μ/j, P[X ≤ k] likewise
    /// downwards), p = min(1, 2 min(lower, upper)). scipy.stats.poisson agrees to ~1e-14 for the
    /// small cases, but its sf is off by up to 3× in the far tails for μ ≥ 1e7 (e.g. 8.58e-11
    /// instead of 2.54e-10 for found 1e9 + 2e5, μ 1e9), so mpmath is the oracle. The 1e12 rows
    /// use `mpmath.gammainc(k, μ, inf, regularized=True)` (the series would be too long).
    #[test]
    fn poisson_matches_high_precision_references() {
        for (found, expected, p) in [
            (0u64, 30.0, 1.871524593768035e-13),
            (1, 30.0, 5.801726240680908e-12),
            (12, 3.5, 0.0005779844398606004),
            (20, 1.0, 3.1750552021465257e-19),
            (50, 30.0, 0.0010377829250960687),
            (100, 50.0, 6.40013064917025e-10),
            (1000, 1100.0, 0.0023504611362731107),
            (100_000, 101_000.0, 0.0016344156273544778),
            (10_020_000, 1e7, 2.576257796840952e-10),
            // 1e9 + 100 000 is √1e9 · 3.16: a ~3.2 σ excess.
            (1_000_100_000, 1e9, 0.0015657422925008568),
            (1_000_200_000, 1e9, 2.543271229766037e-10),
            (1_000_000_000, 999_000_000.0, 1.2864497901975741e-219),
            (1_000_001_000_000, 1e12, 0.3173107498335983),
            (999_996_000_000, 1e12, 6.334194834649664e-05),
        ] {
            let got = poisson_two_sided_p(found, expected);
            assert!(
                (got - p).abs() <= 1e-9 * p,
                "found {found}, expected {expected}: got {got:e}, reference {p:e}"
            );
        }
    }

    #[test]
    fn poisson_edges() {
        for expected in [1.0, 30.0, 1e6, 1e9, 1e12] {
            let p = poisson_two_sided_p(expected as u64, expected);
            assert!(p > 0.99, "found = expected = {expected}: p = {p}");
        }
        assert!(poisson_two_sided_p(0, 30.0) < 1e-10);
        assert_eq!(poisson_two_sided_p(0, 0.0), 1.0);
        assert_eq!(poisson_two_sided_p(1, 0.0), 0.0);
        assert_eq!(poisson_two_sided_p(0, 1e12), 0.0);
        assert!(poisson_two_sided_p(1, -1.0).is_nan());
        assert!(poisson_two_sided_p(1, f64::NAN).is_nan());
        assert!(poisson_two_sided_p(1, f64::INFINITY).is_nan());
    }

    /// Moving `found` away from `expected` never makes it more plausible, on both sides of the
    /// series / Temme switch.
    #[test]
    fn poisson_p_falls_away_from_expected() {
        for expected in [50.0f64, 1e5, 9.9e6, 1e8] {
            let sigma = expected.sqrt();
            let mut last_up = 1.0;
            let mut last_down = 1.0;
            for step in 1..=60 {
                let delta = (step as f64 * 0.1 * sigma).round();
                let up = poisson_two_sided_p((expected + delta) as u64, expected);
                let down = poisson_two_sided_p((expected - delta) as u64, expected);
                assert!(up <= last_up && down <= last_down, "{expected} ± {delta}");
                assert!((0.0..=1.0).contains(&up) && (0.0..=1.0).contains(&down));
                (last_up, last_down) = (up, down);
            }
            assert!(last_up < 1e-6 && last_down < 1e-6, "6 σ is implausible");
        }
    }

    #[test]
    fn verdict_branches() {
        let (t, a) = (DEFAULT_THRESHOLD, DEFAULT_ALPHA);
        assert_eq!(verdict(1.10, 1.05, 1.15, 0.001, t, a), Verdict::Faster);
        assert_eq!(verdict(0.90, 0.85, 0.95, 0.001, t, a), Verdict::Slower);
        // A CI inside the threshold band: no change, significant or not.
        assert_eq!(
            verdict(1.01, 1.005, 1.015, 0.001, t, a),
            Verdict::NoChange,
            "below threshold"
        );
        assert_eq!(
            verdict(0.99, 0.985, 0.995, 0.001, t, a),
            Verdict::NoChange,
            "below threshold"
        );
        assert_eq!(verdict(1.0, 0.985, 1.015, 0.6, t, a), Verdict::NoChange);
        // A CI reaching past the threshold: inconclusive, never "no change".
        assert_eq!(
            verdict(1.10, 0.98, 1.20, 0.001, t, a),
            Verdict::Inconclusive,
            "CI holds 1"
        );
        assert_eq!(
            verdict(0.90, 0.80, 1.01, 0.001, t, a),
            Verdict::Inconclusive,
            "CI holds 1"
        );
        assert_eq!(
            verdict(1.0, 0.97, 1.01, 0.5, t, a),
            Verdict::Inconclusive,
            "CI straddles -threshold"
        );
        assert_eq!(
            verdict(1.10, 1.05, 1.15, 0.05, t, a),
            Verdict::Inconclusive,
            "not significant"
        );
        assert_eq!(
            verdict(0.90, 0.85, 0.95, 0.20, t, a),
            Verdict::Inconclusive,
            "not significant"
        );
        // A CI on the wrong side of the ratio is inconsistent input, not a finding.
        assert_eq!(
            verdict(1.10, 0.85, 0.95, 0.001, t, a),
            Verdict::Inconclusive
        );
        assert_eq!(verdict(1.0, 1.005, 1.01, 0.5, t, a), Verdict::Inconclusive);
        assert_eq!(
            verdict(f64::NAN, 1.05, 1.15, 0.001, t, a),
            Verdict::Inconclusive
        );
        assert_eq!(
            verdict(0.90, 0.85, 0.95, f64::NAN, t, a),
            Verdict::Inconclusive
        );
        assert_eq!(
            serde_json::to_string(&Verdict::NoChange).unwrap(),
            "\"no_change\""
        );
    }

    /// The whole compare pipeline on synthetic rates: 10 samples per side, 1 % CV around 1e7.
    fn pipeline_verdict(rng: &mut SplitMix64, new_center: f64, seed: u64) -> Verdict {
        let base = noisy_rates(rng, 10, 1e7, 0.01);
        let new = noisy_rates(rng, 10, new_center, 0.01);
        let (ratio, low, high) = ratio_ci(&base, &new, DEFAULT_RESAMPLES, seed).unwrap();
        let p = mann_whitney_u(&base, &new).unwrap().p_value;
        verdict(ratio, low, high, p, DEFAULT_THRESHOLD, DEFAULT_ALPHA)
    }

    #[test]
    fn verdict_false_positive_rate_is_low() {
        let mut rng = SplitMix64(2024);
        let verdicts: Vec<Verdict> = (0..200)
            .map(|i| pipeline_verdict(&mut rng, 1e7, i))
            .collect();
        let count = |v: Verdict| verdicts.iter().filter(|&&x| x == v).count();
        // A change is claimed (falsely) at most in 1 pair of 200; "no change" is claimed in most,
        // the rest are inconclusive (a CI of 10 noisy samples reaching past ±2 %).
        assert!(
            count(Verdict::Faster) + count(Verdict::Slower) <= 1,
            "{verdicts:?}"
        );
        let no_change = count(Verdict::NoChange);
        assert!(
            no_change >= 150,
            "NoChange in only {no_change}/200 same-distribution pairs"
        );
    }

    #[test]
    fn verdict_detects_a_ten_percent_drop() {
        let mut rng = SplitMix64(4048);
        let slower = (0..200)
            .filter(|&i| pipeline_verdict(&mut rng, 0.9e7, i) == Verdict::Slower)
            .count();
        assert!(
            slower >= 190,
            "Slower in only {slower}/200 pairs with a 10 % drop"
        );
    }
}
