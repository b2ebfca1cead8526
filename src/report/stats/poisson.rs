//! The Poisson plausibility check of a case's share count.

use super::special::gamma_pq;

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

/// The exact (Garwood) 95 % confidence interval of a Poisson mean after seeing `n` events:
/// the λ where P[X ≥ n] = 2.5 % and where P[X ≤ n] = 2.5 %, found by bisection on the
/// regularized incomplete gamma function. `n` = 0 gives a lower bound of 0.
pub fn poisson_ci95(n: u64) -> (f64, f64) {
    let k = n as f64;
    // Bisection on λ in [lo, hi] for a function decreasing (or increasing) in λ.
    let solve = |f: &dyn Fn(f64) -> f64, want: f64, increasing: bool| {
        let (mut lo, mut hi) = (0.0f64, k * 2.0 + 20.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            let too_high = if increasing {
                f(mid) > want
            } else {
                f(mid) < want
            };
            if too_high {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let low = if n == 0 {
        0.0
    } else {
        // P[X ≥ n | λ] grows with λ.
        solve(&|l| gamma_pq(k, l).0, 0.025, true)
    };
    // P[X ≤ n | λ] falls with λ.
    let high = solve(&|l| gamma_pq(k + 1.0, l).1, 0.025, false);
    (low, high)
}
