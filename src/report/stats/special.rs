//! Special functions (erfc, the regularized incomplete gamma, log-gamma), implemented here
//! rather than pulled in as a dependency; the tests pin them against values computed with scipy.

/// Upper tail of the standard normal, P[Z > z], accurate in relative terms deep into the tail.
pub(super) fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function via erfc(x) = Q(1/2, x²) for x ≥ 0.
pub(super) fn erfc(x: f64) -> f64 {
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
pub(super) fn gamma_pq(a: f64, x: f64) -> (f64, f64) {
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
pub(super) fn ln_gamma_prefactor(a: f64, x: f64) -> f64 {
    if a < 10.0 {
        a * x.ln() - x - ln_gamma(a)
    } else {
        let t = (x - a) / a;
        a * log1pmx(t, x / a) + 0.5 * (a / (2.0 * std::f64::consts::PI)).ln() - stirling_error(a)
    }
}

/// ln(1 + t) − t, accurate for small |t|. `one_plus_t` is 1 + t computed without rounding loss
/// by the caller (x / a), used when t is far from 0.
pub(super) fn log1pmx(t: f64, one_plus_t: f64) -> f64 {
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
pub(super) fn stirling_error(a: f64) -> f64 {
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
pub(super) fn gamma_pq_temme(a: f64, x: f64) -> (f64, f64) {
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
