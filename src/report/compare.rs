//! Comparing two reports: cases matched by id, the change in median hash rate with a bootstrap
//! CI of the ratio, a Mann-Whitney U p-value, a verdict, and the change in batch-latency p99.
//! Also parsing a report's JSON with the schema version checked first.
//!
//! Owns: deciding what changed between two `Report`s, and refusing comparisons that mean
//! nothing (different machines, other schema versions). Must not: read files or clocks, or
//! format output — the command glue reads the files, `render::compare` draws the [`Comparison`].

use serde::{Deserialize, Serialize};

use crate::report::stats::{self, Verdict};
use crate::report::validate::InvalidReport;
use crate::report::{
    CaseReport, Metric, Report, SkippedCase, SCHEMA_VERSION, SCHEMA_VERSIONS_READ,
};

/// How a comparison decides. Defaults: [`stats::DEFAULT_THRESHOLD`] (2 %),
/// [`stats::DEFAULT_ALPHA`] (0.05), [`stats::DEFAULT_RESAMPLES`] bootstrap resamples with seed
/// [`stats::DEFAULT_SEED`], different machines refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CompareOptions {
    /// Noise threshold as a fraction (0.02 = 2 %): smaller changes are never a verdict.
    pub threshold: f64,
    /// Significance level of the Mann-Whitney U test.
    pub alpha: f64,
    /// Bootstrap resamples for the CI of the ratio of medians.
    pub resamples: usize,
    /// Bootstrap seed: fixed, so the same two reports always give the same comparison.
    pub seed: u64,
    /// Compare even when the machine fingerprints' comparable keys differ.
    pub allow_different_machines: bool,
    /// The clock the rates are compared on (default wall).
    pub metric: Metric,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            threshold: stats::DEFAULT_THRESHOLD,
            alpha: stats::DEFAULT_ALPHA,
            resamples: stats::DEFAULT_RESAMPLES,
            seed: stats::DEFAULT_SEED,
            allow_different_machines: false,
            metric: Metric::Wall,
        }
    }
}

impl CompareOptions {
    /// These options comparing on `metric`.
    pub fn with_metric(self, metric: Metric) -> CompareOptions {
        CompareOptions { metric, ..self }
    }

    /// The defaults with another threshold (a fraction) and alpha.
    pub fn new(threshold: f64, alpha: f64, allow_different_machines: bool) -> CompareOptions {
        CompareOptions {
            threshold,
            alpha,
            allow_different_machines,
            ..CompareOptions::default()
        }
    }
}

/// Why two reports cannot be compared, or a text is not a report this build reads.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    /// The machines' comparable keys differ; `differences` lists `field: base ≠ new`.
    #[error(
        "the reports come from different machines ({}); comparing them measures the machines, \
         not the code (pass --allow-different-machines to compare anyway)\n  base: {base_key}\n  new:  {new_key}",
        differences.join("; ")
    )]
    DifferentMachines {
        base_key: String,
        new_key: String,
        differences: Vec<String>,
    },
    /// `--metric cpu` on a report whose samples carry no CPU time (written before it was
    /// recorded, or on a system where thread CPU clocks could not be read).
    #[error(
        "--metric cpu: the {side} report's case {case} has samples without cpu_ns (written by an \
         older minebench, or thread CPU clocks were unreadable); compare on --metric wall"
    )]
    NoCpuTime { side: &'static str, case: String },
}

/// Why a text is not a report this build can read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("not a minebench report: no \"schema\" string at the top level")]
    NoSchema,
    #[error(
        "report schema is {found:?}, this minebench reads {} \
         (re-run the scenario with this version, or use the minebench that wrote it)",
        SCHEMA_VERSIONS_READ.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(" and ")
    )]
    Schema { found: String },
    #[error("a {SCHEMA_VERSION} report, but malformed: {0}")]
    Shape(serde_json::Error),
    #[error("a {SCHEMA_VERSION} report, but invalid: {0}")]
    Invalid(InvalidReport),
}

/// Parses a `report.json` text. The `schema` field is checked before anything else, so a report
/// of another schema version gets a message saying so rather than a serde error about some field
/// the versions disagree on. The parsed report is then [validated](Report::validate): this is the
/// one loader every command reads reports through, so no command sees impossible values.
pub fn parse_report(text: &str) -> Result<Report, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(ParseError::Json)?;
    match value.get("schema").and_then(|s| s.as_str()) {
        None => return Err(ParseError::NoSchema),
        Some(s) if !SCHEMA_VERSIONS_READ.contains(&s) => {
            return Err(ParseError::Schema {
                found: s.to_string(),
            })
        }
        Some(_) => {}
    }
    // From the text rather than the Value, so the error carries a line and column.
    let mut report: Report = serde_json::from_str(text).map_err(ParseError::Shape)?;
    report.validate().map_err(ParseError::Invalid)?;
    // A v1 report is a v2 report with closed names and no `failed` or `subject`: upgraded, so
    // whatever is written from it (merge-reports, baselines) is current.
    report.schema = SCHEMA_VERSION.to_string();
    Ok(report)
}

/// Identifies one side of a comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Side {
    pub scenario: String,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub machine_key: String,
    /// The run was stopped by Ctrl-C: only its finished cases are there.
    pub interrupted: bool,
}

impl Side {
    fn of(r: &Report) -> Side {
        Side {
            scenario: r.scenario.name.clone(),
            started_at: r.started_at.clone(),
            git_commit: r.machine.git_commit.clone(),
            git_dirty: r.machine.git_dirty,
            machine_key: r.machine.comparable_key(),
            interrupted: r.interrupted,
        }
    }
}

/// The result of [`compare`]; serialisable for `minebench compare --json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub base: Side,
    pub new: Side,
    /// The noise threshold used, as a fraction.
    pub threshold: f64,
    pub alpha: f64,
    /// The clock the rates were compared on (absent in comparisons saved before: wall).
    #[serde(default)]
    pub metric: Metric,
    /// True when the machines differ and the comparison was allowed anyway.
    pub machines_differ: bool,
    /// Cases present on both sides, in the new report's order.
    pub cases: Vec<CaseComparison>,
    /// Case ids only the base report has.
    pub only_in_base: Vec<String>,
    /// Case ids only the new report has.
    pub only_in_new: Vec<String>,
    /// Cases the base run planned but could not run (a backend its CPU lacked...), with why.
    /// A case skipped on one side and measured on the other is also in `only_in_*`. Absent in
    /// comparisons saved before: none.
    #[serde(default)]
    pub skipped_in_base: Vec<SkippedCase>,
    /// Cases the new run planned but could not run, with why.
    #[serde(default)]
    pub skipped_in_new: Vec<SkippedCase>,
}

/// One matched case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseComparison {
    pub id: String,
    /// Median of the per-sample hash rates, hashes per second (of wall time, or of worker CPU
    /// time under [`Metric::Cpu`]).
    pub base_median_hps: f64,
    pub new_median_hps: f64,
    pub base_samples: usize,
    pub new_samples: usize,
    /// None when a side has no usable samples (none, or one with zero elapsed time or rate).
    pub change: Option<RateChange>,
    /// Two-sided Mann-Whitney U p-value over the per-sample hash rates.
    pub p_value: Option<f64>,
    pub verdict: Verdict,
    /// False when the sample counts are too small for the test ever to reach p < alpha (3 vs 3
    /// samples: the smallest two-sided p is 0.1), so `no change` says nothing.
    pub verdict_possible: bool,
    /// Batch latency p99 (time inside one backend call), when both reports have it.
    pub batch_p99: Option<LatencyChange>,
}

/// new / base of the median hash rate, with its bootstrap 95 % CI.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RateChange {
    pub ratio: f64,
    pub ratio_ci95_low: f64,
    pub ratio_ci95_high: f64,
    /// `100 · (ratio − 1)`: positive is faster.
    pub change_pct: f64,
    pub change_ci95_low_pct: f64,
    pub change_ci95_high_pct: f64,
}

/// A latency percentile on both sides; for latency, a positive change is worse.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LatencyChange {
    pub base_ns: u64,
    pub new_ns: u64,
    /// `100 · (new / base − 1)`; None when base is 0.
    pub change_pct: Option<f64>,
}

/// How one matched case fares under a regression gate at PCT %.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateCase {
    /// Known not to be slower by more than PCT %: the whole CI of the change lies above −PCT %.
    Pass,
    /// Significantly slower by more than PCT % (the `Slower` verdict with PCT as threshold).
    Regressed,
    /// Could be either: too few samples, or a CI reaching below −PCT % without significance.
    Inconclusive,
}

/// The regression gate (`--fail-on-regression PCT`) over a whole comparison. It judges every
/// case of the base and passes only what it could judge: a missing case or an undecidable one
/// never passes silently.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate<'a> {
    /// The PCT the gate was given, used as is (not raised to the noise threshold).
    pub pct: f64,
    pub regressed: Vec<&'a CaseComparison>,
    pub inconclusive: Vec<&'a CaseComparison>,
    /// Base cases the new report does not have (skipped, failed, or never run).
    pub missing: Vec<&'a str>,
    /// No case in common at all.
    pub nothing_compared: bool,
}

/// Exit status of a failed gate: a regression, a missing case, or nothing compared.
pub const GATE_FAILED: u8 = 1;
/// Exit status of a gate that could not decide (and nothing failed).
pub const GATE_INCONCLUSIVE: u8 = 3;

impl Gate<'_> {
    /// 0 pass, [`GATE_FAILED`] (1) on a regression or missing case, else
    /// [`GATE_INCONCLUSIVE`] (3) when some case could not be decided — or 0 for that with
    /// `allow_inconclusive`.
    pub fn exit_code(&self, allow_inconclusive: bool) -> u8 {
        if !self.regressed.is_empty() || !self.missing.is_empty() || self.nothing_compared {
            GATE_FAILED
        } else if !self.inconclusive.is_empty() && !allow_inconclusive {
            GATE_INCONCLUSIVE
        } else {
            0
        }
    }
}

impl CaseComparison {
    /// This case under a gate at `pct` %, with the comparison's `alpha`.
    pub fn gate(&self, pct: f64, alpha: f64) -> GateCase {
        let (Some(ch), Some(p)) = (self.change, self.p_value) else {
            return GateCase::Inconclusive;
        };
        if !self.verdict_possible {
            return GateCase::Inconclusive;
        }
        let limit = pct / 100.0;
        match stats::verdict(
            ch.ratio,
            ch.ratio_ci95_low,
            ch.ratio_ci95_high,
            p,
            limit,
            alpha,
        ) {
            Verdict::Slower => GateCase::Regressed,
            _ if ch.ratio_ci95_low >= 1.0 - limit => GateCase::Pass,
            _ => GateCase::Inconclusive,
        }
    }
}

impl Comparison {
    /// The regression gate at `pct` % over every case.
    pub fn gate(&self, pct: f64) -> Gate<'_> {
        let mut gate = Gate {
            pct,
            regressed: Vec::new(),
            inconclusive: Vec::new(),
            missing: self.only_in_base.iter().map(String::as_str).collect(),
            nothing_compared: self.cases.is_empty(),
        };
        for case in &self.cases {
            match case.gate(pct, self.alpha) {
                GateCase::Pass => {}
                GateCase::Regressed => gate.regressed.push(case),
                GateCase::Inconclusive => gate.inconclusive.push(case),
            }
        }
        gate
    }
}

/// Compares `new` against `base`. Fails only when the machines differ and that was not allowed.
pub fn compare(
    base: &Report,
    new: &Report,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    let (base_key, new_key) = (base.machine.comparable_key(), new.machine.comparable_key());
    let machines_differ = base_key != new_key;
    if machines_differ && !opts.allow_different_machines {
        return Err(CompareError::DifferentMachines {
            differences: key_differences(&base_key, &new_key),
            base_key,
            new_key,
        });
    }
    let cases = new
        .cases
        .iter()
        .filter_map(|n| base.cases.iter().find(|b| b.id == n.id).map(|b| (b, n)))
        .map(|(b, n)| compare_case(b, n, opts))
        .collect::<Result<Vec<_>, _>>()?;
    let missing_from = |r: &Report, other: &Report| -> Vec<String> {
        r.cases
            .iter()
            .filter(|c| !other.cases.iter().any(|o| o.id == c.id))
            .map(|c| c.id.clone())
            .collect()
    };
    Ok(Comparison {
        base: Side::of(base),
        new: Side::of(new),
        threshold: opts.threshold,
        alpha: opts.alpha,
        metric: opts.metric,
        machines_differ,
        cases,
        only_in_base: missing_from(base, new),
        only_in_new: missing_from(new, base),
        skipped_in_base: base.skipped.clone(),
        skipped_in_new: new.skipped.clone(),
    })
}

fn compare_case(
    base: &CaseReport,
    new: &CaseReport,
    opts: &CompareOptions,
) -> Result<CaseComparison, CompareError> {
    let rates = |c: &CaseReport, side| {
        opts.metric
            .rates(&c.samples)
            .ok_or_else(|| CompareError::NoCpuTime {
                side,
                case: c.id.clone(),
            })
    };
    let (b, n) = (rates(base, "base")?, rates(new, "new")?);
    // The medians come from the samples, like the ratio, so the three numbers on a row agree.
    // A report that went through `parse_report` has its stored `hash_rate` checked to be the
    // summary of these samples (`Report::validate`), so these are also the medians `export` and
    // the rendered tables publish. The stored one only stands in for a hand-built report
    // without samples, which validation refuses.
    let stored = |c: &CaseReport| match opts.metric {
        Metric::Wall => c.hash_rate.median,
        Metric::Cpu => c.cpu_rate.map_or(0.0, |r| r.median),
    };
    let base_median = stats::median(&b).unwrap_or(stored(base));
    let new_median = stats::median(&n).unwrap_or(stored(new));
    let change =
        stats::ratio_ci(&b, &n, opts.resamples, opts.seed).map(|(ratio, low, high)| RateChange {
            ratio,
            ratio_ci95_low: low,
            ratio_ci95_high: high,
            change_pct: pct(ratio),
            change_ci95_low_pct: pct(low),
            change_ci95_high_pct: pct(high),
        });
    let p_value = stats::mann_whitney_u(&b, &n).map(|m| m.p_value);
    let verdict_possible = can_be_significant(b.len(), n.len(), opts.alpha);
    let verdict = match (change, p_value) {
        // With too few samples for the test ever to reach alpha, a narrow bootstrap CI of 3
        // points is no evidence either way.
        (Some(c), Some(p)) if verdict_possible => stats::verdict(
            c.ratio,
            c.ratio_ci95_low,
            c.ratio_ci95_high,
            p,
            opts.threshold,
            opts.alpha,
        ),
        _ => Verdict::Inconclusive,
    };
    let batch_p99 = match (&base.latency.batch, &new.latency.batch) {
        (Some(b), Some(n)) => Some(LatencyChange {
            base_ns: b.p99_ns,
            new_ns: n.p99_ns,
            change_pct: (b.p99_ns > 0).then(|| pct(n.p99_ns as f64 / b.p99_ns as f64)),
        }),
        _ => None,
    };
    Ok(CaseComparison {
        verdict_possible,
        id: new.id.clone(),
        base_median_hps: base_median,
        new_median_hps: new_median,
        base_samples: base.samples.len(),
        new_samples: new.samples.len(),
        change,
        p_value,
        verdict,
        batch_p99,
    })
}

/// Whether [`stats::mann_whitney_u`] can give p < `alpha` at all for these sample counts: the
/// smallest p it can give is that of two completely separated samples.
pub fn can_be_significant(n_base: usize, n_new: usize, alpha: f64) -> bool {
    let a: Vec<f64> = (0..n_base).map(|i| i as f64).collect();
    let b: Vec<f64> = (n_base..n_base + n_new).map(|i| i as f64).collect();
    stats::mann_whitney_u(&a, &b).is_some_and(|m| m.p_value < alpha)
}

fn pct(ratio: f64) -> f64 {
    100.0 * (ratio - 1.0)
}

/// The `name=value` fields of two comparable keys that differ, as `name: base ≠ new`.
fn key_differences(base: &str, new: &str) -> Vec<String> {
    let fields = |k: &str| -> Vec<(String, String)> {
        k.split('|')
            .map(|f| match f.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => (String::new(), f.to_string()),
            })
            .collect()
    };
    let (b, n) = (fields(base), fields(new));
    let mut out: Vec<String> = b
        .iter()
        .zip(n.iter())
        .filter(|(x, y)| x != y)
        .map(|((name, bv), (_, nv))| format!("{name}: {bv:?} ≠ {nv:?}"))
        .collect();
    if out.is_empty() {
        // Different field counts (a key format change): show them whole.
        out.push(format!("{base:?} ≠ {new:?}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Sample;
    use crate::rng::SplitMix64;

    /// A real (tiny, noisy) report: 2 cases × 8 samples, see tests/data/compare-fixture.toml.
    const FIXTURE: &str = include_str!("../../tests/data/compare-base.json");

    fn fixture() -> Report {
        parse_report(FIXTURE).expect("the fixture parses")
    }

    /// Replaces a case's samples with `n` deterministic samples of 50 ms around `center` H/s with
    /// about 1 % noise, so verdict tests do not depend on how busy the machine that wrote the
    /// fixture was.
    fn set_quiet_samples(case: &mut CaseReport, center: f64, n: usize, seed: u64) {
        let mut rng = SplitMix64(seed);
        case.samples = (0..n)
            .map(|_| {
                let noise = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let rate = center * (1.0 + 0.02 * noise);
                Sample {
                    hashes: (rate * 0.05) as u64,
                    elapsed_ns: 50_000_000,
                    cpu_ns: None,
                }
            })
            .collect();
        resummarize(case);
    }

    fn resummarize(case: &mut CaseReport) {
        let rates: Vec<f64> = case.samples.iter().map(Sample::hashes_per_sec).collect();
        case.hash_rate = stats::summarize(&rates).expect("positive rates");
    }

    fn scaled(report: &Report, factor: f64) -> Report {
        let mut r = report.clone();
        for c in &mut r.cases {
            for s in &mut c.samples {
                s.hashes = (s.hashes as f64 * factor) as u64;
            }
            resummarize(c);
        }
        r
    }

    fn quiet_fixture() -> Report {
        let mut r = fixture();
        for (i, c) in r.cases.iter_mut().enumerate() {
            set_quiet_samples(c, 1e7 * (1.0 + i as f64), 8, 40 + i as u64);
        }
        r
    }

    #[test]
    fn the_cpu_clock_is_compared_when_asked_and_refused_when_absent() {
        // Wall rates identical on both sides; the new side used 10 % more CPU per hash (a
        // slower build whose wall time was hidden, say, by a faster host).
        let mut base = quiet_fixture();
        let mut new = base.clone();
        for c in &mut base.cases {
            for s in &mut c.samples {
                s.cpu_ns = Some(s.elapsed_ns);
            }
        }
        for c in &mut new.cases {
            for s in &mut c.samples {
                s.cpu_ns = Some(s.elapsed_ns + s.elapsed_ns / 9);
            }
        }
        let cpu = CompareOptions::default().with_metric(Metric::Cpu);
        let c = compare(&base, &new, &cpu).unwrap();
        assert_eq!(c.metric, Metric::Cpu);
        for case in &c.cases {
            assert_eq!(case.verdict, Verdict::Slower, "{}", case.id);
            assert!((case.change.unwrap().change_pct + 10.0).abs() < 0.01);
        }
        assert_eq!(c.gate(5.0).exit_code(false), GATE_FAILED);
        // On the wall clock the same reports are unchanged.
        let wall = compare(&base, &new, &CompareOptions::default()).unwrap();
        assert!(wall.cases.iter().all(|x| x.verdict == Verdict::NoChange));
        // A report without CPU time cannot be compared on it.
        let err = compare(&quiet_fixture(), &new, &cpu).unwrap_err();
        assert!(
            matches!(&err, CompareError::NoCpuTime { side: "base", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--metric wall"), "{err}");
    }

    #[test]
    fn fixture_is_current_schema_with_two_cases() {
        let r = fixture();
        assert_eq!(r.cases.len(), 2);
        assert!(r.cases.iter().all(|c| c.samples.len() >= 4));
    }

    #[test]
    fn a_report_against_itself_is_no_change_everywhere() {
        for (r, quiet) in [(fixture(), false), (quiet_fixture(), true)] {
            let c = compare(&r, &r, &CompareOptions::default()).unwrap();
            assert_eq!(c.cases.len(), r.cases.len());
            assert!(c.only_in_base.is_empty() && c.only_in_new.is_empty());
            assert!(!c.machines_differ);
            for case in &c.cases {
                // The real fixture's samples are noisy enough for the CI to reach past 2 %:
                // then it is inconclusive, never a change.
                if quiet {
                    assert_eq!(case.verdict, Verdict::NoChange, "{}", case.id);
                } else {
                    assert!(
                        matches!(case.verdict, Verdict::NoChange | Verdict::Inconclusive),
                        "{}",
                        case.id
                    );
                }
                let ch = case.change.expect("samples are usable");
                assert_eq!(ch.ratio, 1.0);
                assert!(ch.ratio_ci95_low <= 1.0 && ch.ratio_ci95_high >= 1.0);
                assert!(case.p_value.unwrap() > 0.9);
                assert_eq!(case.base_median_hps, case.new_median_hps);
                let p99 = case.batch_p99.expect("the fixture has batch latency");
                assert_eq!(p99.change_pct, Some(0.0));
            }
        }
    }

    #[test]
    fn scaled_by_point_nine_is_slower_with_a_ci_excluding_one() {
        let base = quiet_fixture();
        let slower = scaled(&base, 0.9);
        let c = compare(&base, &slower, &CompareOptions::default()).unwrap();
        assert_eq!(c.cases.len(), 2);
        for case in &c.cases {
            assert_eq!(case.verdict, Verdict::Slower, "{}", case.id);
            let ch = case.change.unwrap();
            assert!((ch.change_pct + 10.0).abs() < 0.1, "{}", ch.change_pct);
            assert!(ch.ratio_ci95_high < 1.0, "CI {ch:?} must exclude 1");
            assert!(
                ch.change_ci95_low_pct <= ch.change_pct && ch.change_pct <= ch.change_ci95_high_pct
            );
            assert!(case.p_value.unwrap() < 0.05);
        }
        assert_eq!(c.gate(5.0).regressed.len(), 2);
        assert_eq!(c.gate(5.0).exit_code(false), GATE_FAILED);
        // 10 % slower with a CI of about ±1 %: known to be within 15 %.
        assert_eq!(c.gate(15.0).exit_code(false), 0);

        // The mirror image is Faster, and passes any gate.
        let c = compare(&slower, &base, &CompareOptions::default()).unwrap();
        assert!(c.cases.iter().all(|x| x.verdict == Verdict::Faster));
        assert_eq!(c.gate(0.0).exit_code(false), 0);
    }

    #[test]
    fn the_gate_uses_the_pct_it_is_given() {
        let base = quiet_fixture();
        // 1.5 % slower with ~1 % noise: below the 2 % display threshold, above a 1 % gate.
        let c = compare(&base, &scaled(&base, 0.985), &CompareOptions::default()).unwrap();
        let gate = c.gate(1.0);
        assert_eq!(gate.regressed.len(), 2, "{gate:?}");
        assert_eq!(gate.exit_code(false), GATE_FAILED);
        assert_eq!(c.gate(3.0).exit_code(false), 0);
    }

    #[test]
    fn a_gate_that_cannot_decide_says_so() {
        // 3 samples a side: no test can reach p < 0.05, whatever the change.
        let mut three = quiet_fixture();
        for c in &mut three.cases {
            c.samples.truncate(3);
            resummarize(c);
        }
        let c = compare(&three, &scaled(&three, 0.9), &CompareOptions::default()).unwrap();
        let gate = c.gate(5.0);
        assert!(gate.regressed.is_empty());
        assert_eq!(gate.inconclusive.len(), 2);
        assert_eq!(gate.exit_code(false), GATE_INCONCLUSIVE);
        assert_eq!(gate.exit_code(true), 0);
        // Enough samples, but as noisy as the change: a CI reaching past −PCT %.
        let mut noisy = quiet_fixture();
        for c in &mut noisy.cases {
            for (i, s) in c.samples.iter_mut().enumerate() {
                s.hashes = (s.hashes as f64 * if i % 2 == 0 { 0.8 } else { 1.2 }) as u64;
            }
            resummarize(c);
        }
        let c = compare(&noisy, &scaled(&noisy, 0.95), &CompareOptions::default()).unwrap();
        assert!(c.cases.iter().all(|x| x.verdict == Verdict::Inconclusive));
        assert_eq!(c.gate(3.0).exit_code(false), GATE_INCONCLUSIVE);
    }

    #[test]
    fn a_change_below_the_threshold_is_no_change() {
        let base = quiet_fixture();
        let c = compare(
            &base,
            &scaled(&base, 0.9),
            &CompareOptions::new(0.15, 0.05, false),
        )
        .unwrap();
        assert!(c.cases.iter().all(|x| x.verdict == Verdict::NoChange));
    }

    #[test]
    fn too_few_samples_can_never_be_significant() {
        assert!(
            !can_be_significant(3, 3, 0.05),
            "3 vs 3: smallest p is 2/20"
        );
        assert!(can_be_significant(4, 4, 0.05), "4 vs 4: smallest p is 2/70");
        assert!(!can_be_significant(4, 4, 0.01));
        assert!(can_be_significant(10, 30, 0.05));
        assert!(!can_be_significant(0, 5, 0.05));
        let mut three = quiet_fixture();
        for c in &mut three.cases {
            c.samples.truncate(3);
            resummarize(c);
        }
        let c = compare(&three, &scaled(&three, 0.5), &CompareOptions::default()).unwrap();
        for case in &c.cases {
            assert!(!case.verdict_possible);
            assert_eq!(
                case.verdict,
                Verdict::Inconclusive,
                "a halving, but 3 samples"
            );
        }
        let c = compare(
            &quiet_fixture(),
            &quiet_fixture(),
            &CompareOptions::default(),
        )
        .unwrap();
        assert!(c.cases.iter().all(|x| x.verdict_possible));
    }

    #[test]
    fn unmatched_cases_are_listed_and_the_rest_compared() {
        let base = fixture();
        let mut new = base.clone();
        new.cases[0].id = "sha2-midstate/stride/t1/zb12".into();
        let c = compare(&base, &new, &CompareOptions::default()).unwrap();
        assert_eq!(c.cases.len(), 1);
        assert_eq!(c.cases[0].id, base.cases[1].id);
        assert_eq!(c.only_in_base, vec![base.cases[0].id.clone()]);
        assert_eq!(
            c.only_in_new,
            vec!["sha2-midstate/stride/t1/zb12".to_string()]
        );
    }

    #[test]
    fn different_machines_are_refused_unless_allowed() {
        let base = fixture();
        let mut new = base.clone();
        new.machine.cpu_model = "Some Other CPU".into();
        new.machine.logical_cores = 64;
        let err = compare(&base, &new, &CompareOptions::default()).unwrap_err();
        let CompareError::DifferentMachines { differences, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(differences.len(), 2, "{differences:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("Some Other CPU") && msg.contains("cores"),
            "{msg}"
        );
        assert!(msg.contains("--allow-different-machines"), "{msg}");

        let c = compare(&base, &new, &CompareOptions::new(0.02, 0.05, true)).unwrap();
        assert!(c.machines_differ);
        assert_eq!(c.cases.len(), 2);

        // The commit and hostname are not part of the key: comparing commits is the point.
        let mut other_commit = base.clone();
        other_commit.machine.git_commit = Some("0".repeat(40));
        other_commit.machine.hostname = Some("elsewhere".into());
        assert!(compare(&base, &other_commit, &CompareOptions::default()).is_ok());
    }

    #[test]
    fn unusable_samples_give_inconclusive_not_a_panic() {
        let base = fixture();
        let mut new = base.clone();
        new.cases[0].samples.clear();
        let mut zero = base.clone();
        zero.cases[1].samples[0].hashes = 0;
        let c = compare(&base, &new, &CompareOptions::default()).unwrap();
        assert_eq!(c.cases[0].change, None);
        assert_eq!(c.cases[0].verdict, Verdict::Inconclusive);
        // A zero-rate sample in the base makes the ratio undefined for some resamples.
        let c = compare(&zero, &base, &CompareOptions::default()).unwrap();
        assert_eq!(c.cases[1].change, None);
        assert_eq!(c.cases[1].verdict, Verdict::Inconclusive);
        assert!(c.cases[1].p_value.is_some());
    }

    #[test]
    fn comparison_round_trips_through_json() {
        let base = quiet_fixture();
        let c = compare(&base, &scaled(&base, 0.95), &CompareOptions::default()).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: Comparison = serde_json::from_str(&json).unwrap();
        // Floats may lose their last bit through serde_json's parser; everything else is exact.
        assert_eq!(back.cases.len(), c.cases.len());
        for (x, y) in back.cases.iter().zip(&c.cases) {
            assert_eq!(
                (&x.id, x.verdict, x.batch_p99),
                (&y.id, y.verdict, y.batch_p99)
            );
            let (a, b) = (x.change.unwrap(), y.change.unwrap());
            assert!((a.ratio - b.ratio).abs() < 1e-12);
        }
        assert_eq!((back.base, back.new), (c.base.clone(), c.new.clone()));
        assert!(json.contains("\"verdict\":\"slower\""), "{json}");
    }

    #[test]
    fn parse_refuses_an_invalid_report() {
        let mut v: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        v["cases"][0]["samples"][0]["elapsed_ns"] = 0.into();
        let err = parse_report(&v.to_string()).unwrap_err();
        let ParseError::Invalid(invalid) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(invalid.field, "samples[0].elapsed_ns");
        let msg = err.to_string();
        assert!(
            msg.contains("invalid") && msg.contains("sha2-midstate/atomic/t1/zb12"),
            "{msg}"
        );
    }

    #[test]
    fn parse_checks_the_schema_first() {
        let mut v: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        v["schema"] = "minebench.report/v0".into();
        // Also break a field: the schema message must win over the serde one.
        v["cases"] = 7.into();
        let err = parse_report(&v.to_string()).unwrap_err();
        assert!(matches!(err, ParseError::Schema { ref found } if found == "minebench.report/v0"));
        assert!(err.to_string().contains(SCHEMA_VERSION));

        v.as_object_mut().unwrap().remove("schema");
        assert!(matches!(
            parse_report(&v.to_string()),
            Err(ParseError::NoSchema)
        ));
        assert!(matches!(
            parse_report("{\"schema\": "),
            Err(ParseError::Json(_))
        ));
        let mut v: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        v["cases"] = 7.into();
        assert!(matches!(
            parse_report(&v.to_string()),
            Err(ParseError::Shape(_))
        ));
    }
}
