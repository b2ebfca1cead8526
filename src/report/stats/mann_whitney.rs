//! The two-sided Mann-Whitney U test, exact for small samples without ties, else the normal
//! approximation with tie and continuity corrections.

use super::special::normal_sf;
use super::{MannWhitney, MWU_EXACT_MAX_N};

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

/// Number of arrangements of n1 + n2 distinct values giving each U of the first sample
/// (index = U). Recurrence on the largest value: if it belongs to the first sample it beats all
/// j values of the second (adds j to U), otherwise it adds nothing.
pub(super) fn u_distribution(n1: usize, n2: usize) -> Vec<u64> {
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
