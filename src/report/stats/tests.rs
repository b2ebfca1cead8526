//! Tests of the statistics: exact values pinned against scipy, determinism, verdict rates.

use super::bootstrap::*;
use super::mann_whitney::*;
use super::special::*;
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

#[test]
fn garwood_intervals_match_published_tables() {
    // Garwood (1936) / standard tables: n = 0 → (0, 3.689), 10 → (4.795, 18.39),
    // 100 → (81.36, 121.6).
    for (n, lo, hi) in [(0, 0.0, 3.689), (10, 4.795, 18.390), (100, 81.36, 121.63)] {
        let (l, h) = poisson_ci95(n);
        assert!((l - lo).abs() < 0.01, "{n}: low {l}");
        assert!((h - hi).abs() < 0.01 * hi.max(1.0), "{n}: high {h}");
    }
}
