//! Checking a parsed report for values no run can write: empty or zero samples, rates no
//! hardware reaches, negative or non-finite statistics, a stored summary that is not the summary
//! of the stored samples, two cases with one id, a git commit that is not hex.
//!
//! Owns: what a report must satisfy before any command reads numbers from it. The one loader
//! ([`crate::report::compare::parse_report`]) calls [`Report::validate`], so `render`, `flame`,
//! `compare`, `merge-reports`, `export` and baselines all see only reports that pass. Must not:
//! read files, or repair a report (a report that fails is refused, never patched up).
//!
//! Why refuse rather than cope: `compare` computes rates from the samples while `export` and the
//! rendered tables publish the stored statistics. Once the stored statistics are checked to be
//! [`stats::summarize`] of the samples, the two read the same numbers, and a hand-edited or
//! corrupted report cannot show "+10^10 % faster".

use std::fmt;

use crate::report::stats::{self, RateStats};
use crate::report::{Metric, Report, Sample};

/// The highest hash rate one sample may claim, in hashes per second. The fastest single machines
/// that exist are SHA-256d ASICs at about 5e14 H/s (a 2024 hydro-cooled Antminer, ~470 TH/s); CPU
/// and GPU backends, which are what minebench runs, are at most ~1e10. A sample above 1e15 is a
/// corrupted or edited count (`u64::MAX` hashes), not a measurement.
pub const MAX_SAMPLE_HASHES_PER_SEC: f64 = 1e15;

/// Relative tolerance between a stored statistic and the one recomputed from the samples. The
/// recomputation is the very function the run used, so the only difference is the last bit
/// serde_json's float parsing may lose (~1e-16); 1e-9 leaves room for that and nothing else.
pub const STATS_REL_TOLERANCE: f64 = 1e-9;

/// Why a report is not valid: the case (None for a run-level field), the field, and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct InvalidReport {
    /// The id of the case the field belongs to; None for run-level fields (`ceiling`, ...).
    pub case: Option<String>,
    /// The field as a path inside the case (or the report): `samples[3].elapsed_ns`,
    /// `hash_rate.median`, `ceiling.naive_hashes_per_sec`.
    pub field: String,
    pub problem: Problem,
}

impl fmt::Display for InvalidReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(case) = &self.case {
            write!(f, "case {case:?}: ")?;
        }
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error(
        "the id appears more than once (cases[{first}] and cases[{second}]); compare and \
         merge-reports match cases by id, so the two would be mixed up"
    )]
    DuplicateId { first: usize, second: usize },
    #[error("none: a case in a report has at least one sample")]
    NoSamples,
    #[error("is 0: a sample counts hashes over a time, and both are positive")]
    Zero,
    #[error(
        "{hashes} hashes in {elapsed_ns} ns is {rate:.3e} H/s, above the \
         {MAX_SAMPLE_HASHES_PER_SEC:e} H/s no machine reaches"
    )]
    ImpossibleRate {
        hashes: u64,
        elapsed_ns: u64,
        rate: f64,
    },
    #[error("is {value:?}, not a git commit id (hex digits, as `git rev-parse HEAD` prints)")]
    NotACommit { value: String },
    #[error("is {value}, not {expected}")]
    OutOfRange { value: f64, expected: Range },
    #[error(
        "is {stored} but the samples give {recomputed}: the stored statistics are not those of \
         the stored samples"
    )]
    Disagrees { stored: f64, recomputed: f64 },
    #[error("is present but the samples carry no cpu_ns to give it")]
    CpuRateWithoutCpuTime,
    #[error("is missing although every sample carries cpu_ns")]
    Missing,
}

/// The values a statistic may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Rates, counts, ratios: finite and ≥ 0.
    NonNegative,
    /// p-values and fractions of a whole: in [0, 1].
    Fraction,
    /// Any finite number (a difference, which may be negative).
    Finite,
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Range::NonNegative => "a finite number ≥ 0",
            Range::Fraction => "a number in [0, 1]",
            Range::Finite => "a finite number",
        })
    }
}

impl Report {
    /// Checks what a run always writes and a damaged or edited file may not: unique case ids;
    /// per case at least one sample, every sample with hashes > 0, elapsed_ns > 0 and a rate
    /// below [`MAX_SAMPLE_HASHES_PER_SEC`]; every stored statistic finite and in its range; and
    /// `hash_rate` equal (within [`STATS_REL_TOLERANCE`]) to [`stats::summarize`] of the samples;
    /// `machine.git_commit`, when present, hex.
    /// Returns the first problem found, in file order.
    pub fn validate(&self) -> Result<(), InvalidReport> {
        let run_level = |field: &str, problem| InvalidReport {
            case: None,
            field: field.to_string(),
            problem,
        };
        // The build writes `git rev-parse HEAD` here; tables print a prefix of it, which must
        // be ASCII to be cut at any length.
        if let Some(commit) = &self.machine.git_commit {
            if commit.is_empty() || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(run_level(
                    "machine.git_commit",
                    Problem::NotACommit {
                        value: commit.clone(),
                    },
                ));
            }
        }
        if let Some(c) = &self.ceiling {
            check(c.compressions_per_sec, Range::NonNegative)
                .map_err(|p| run_level("ceiling.compressions_per_sec", p))?;
            check(c.naive_hashes_per_sec, Range::NonNegative)
                .map_err(|p| run_level("ceiling.naive_hashes_per_sec", p))?;
        }
        if let Some(o) = &self.profiling.overhead {
            for (field, value, expected) in [
                (
                    "with_profiler_hashes_per_sec",
                    o.with_profiler_hashes_per_sec,
                    Range::NonNegative,
                ),
                (
                    "without_profiler_hashes_per_sec",
                    o.without_profiler_hashes_per_sec,
                    Range::NonNegative,
                ),
                // Negative is legitimate: the difference was below the noise.
                ("overhead_pct", o.overhead_pct, Range::Finite),
            ] {
                check(value, expected)
                    .map_err(|p| run_level(&format!("profiling.overhead.{field}"), p))?;
            }
        }
        for (i, case) in self.cases.iter().enumerate() {
            if let Some(first) = self.cases[..i].iter().position(|c| c.id == case.id) {
                return Err(InvalidReport {
                    case: Some(case.id.clone()),
                    field: "id".into(),
                    problem: Problem::DuplicateId { first, second: i },
                });
            }
            validate_case(case).map_err(|(field, problem)| InvalidReport {
                case: Some(case.id.clone()),
                field,
                problem,
            })?;
        }
        Ok(())
    }
}

/// A stored [`RateStats`] at `prefix`: every field finite and non-negative, and equal (within
/// [`STATS_REL_TOLERANCE`]) to [`stats::summarize`] of `rates`.
fn check_rate_stats(
    prefix: &str,
    stored: &RateStats,
    rates: &[f64],
) -> Result<(), (String, Problem)> {
    let at = |field: &str| format!("{prefix}.{field}");
    for (field, value) in rate_fields(stored) {
        check(value, Range::NonNegative).map_err(|p| (at(field), p))?;
    }
    // The samples were checked first (positive, finite rates), so this is always Some.
    if let Some(recomputed) = stats::summarize(rates) {
        if stored.n != recomputed.n {
            return Err((
                at("n"),
                Problem::Disagrees {
                    stored: stored.n as f64,
                    recomputed: recomputed.n as f64,
                },
            ));
        }
        for ((field, s), (_, r)) in rate_fields(stored)
            .into_iter()
            .zip(rate_fields(&recomputed))
        {
            if !close(s, r) {
                return Err((
                    at(field),
                    Problem::Disagrees {
                        stored: s,
                        recomputed: r,
                    },
                ));
            }
        }
    }
    Ok(())
}

/// One case's checks; the error is (field, problem).
fn validate_case(case: &crate::report::CaseReport) -> Result<(), (String, Problem)> {
    if case.samples.is_empty() {
        return Err(("samples".into(), Problem::NoSamples));
    }
    // A share-derived sample may hold no hashes: a window in which no share was accepted.
    let from_shares = case.rate_method == Some(crate::report::RateMethod::Shares);
    for (i, s) in case.samples.iter().enumerate() {
        check_sample(s, from_shares).map_err(|(field, p)| (format!("samples[{i}]{field}"), p))?;
    }

    let wall: Vec<f64> = case.samples.iter().map(Sample::hashes_per_sec).collect();
    check_rate_stats("hash_rate", &case.hash_rate, &wall)?;
    match (&case.cpu_rate, Metric::Cpu.rates(&case.samples)) {
        (Some(stored), Some(rates)) => check_rate_stats("cpu_rate", stored, &rates)?,
        (None, None) => {}
        (Some(_), None) => return Err(("cpu_rate".into(), Problem::CpuRateWithoutCpuTime)),
        (None, Some(_)) => return Err(("cpu_rate".into(), Problem::Missing)),
    }

    let optional = [
        ("efficiency.vs_ceiling", case.efficiency.vs_ceiling),
        ("efficiency.scaling", case.efficiency.scaling),
    ];
    for (field, value) in optional {
        if let Some(v) = value {
            check(v, Range::NonNegative).map_err(|p| (field.to_string(), p))?;
        }
    }
    let mut ranged = vec![
        ("shares.expected", case.shares.expected, Range::NonNegative),
        ("shares.poisson_p", case.shares.poisson_p, Range::Fraction),
        (
            "balance.imbalance",
            case.balance.imbalance,
            Range::NonNegative,
        ),
        (
            "balance.idle_fraction",
            case.balance.idle_fraction,
            Range::Fraction,
        ),
    ];
    if let Some(j) = &case.job_switch {
        ranged.push((
            "job_switch.stale_fraction",
            j.stale_fraction,
            Range::Fraction,
        ));
    }
    if let Some(d) = &case.device {
        if let Some(b) = d.busy_fraction {
            ranged.push(("device.busy_fraction", b, Range::NonNegative));
        }
        if d.dispatches > 0 && d.nonces == 0 {
            return Err(("device.nonces".into(), Problem::Zero));
        }
    }
    for (field, value, expected) in ranged {
        check(value, expected).map_err(|p| (field.to_string(), p))?;
    }
    Ok(())
}

/// A sample's checks; the field is the suffix after `samples[i]`.
fn check_sample(s: &Sample, from_shares: bool) -> Result<(), (&'static str, Problem)> {
    if s.hashes == 0 && !from_shares {
        return Err((".hashes", Problem::Zero));
    }
    if s.elapsed_ns == 0 {
        return Err((".elapsed_ns", Problem::Zero));
    }
    if s.cpu_ns == Some(0) {
        return Err((".cpu_ns", Problem::Zero));
    }
    if let (Some(rate), Some(cpu_ns)) = (s.hashes_per_cpu_sec(), s.cpu_ns) {
        if rate > MAX_SAMPLE_HASHES_PER_SEC {
            return Err((
                ".cpu_ns",
                Problem::ImpossibleRate {
                    hashes: s.hashes,
                    elapsed_ns: cpu_ns,
                    rate,
                },
            ));
        }
    }
    let rate = s.hashes_per_sec();
    if rate > MAX_SAMPLE_HASHES_PER_SEC {
        return Err((
            "",
            Problem::ImpossibleRate {
                hashes: s.hashes,
                elapsed_ns: s.elapsed_ns,
                rate,
            },
        ));
    }
    Ok(())
}

/// The float fields of a [`RateStats`], by name.
fn rate_fields(r: &RateStats) -> [(&'static str, f64); 8] {
    [
        ("median", r.median),
        ("mean", r.mean),
        ("min", r.min),
        ("max", r.max),
        ("stddev", r.stddev),
        ("cv", r.cv),
        ("ci95_low", r.ci95_low),
        ("ci95_high", r.ci95_high),
    ]
}

fn check(value: f64, expected: Range) -> Result<(), Problem> {
    let ok = match expected {
        Range::NonNegative => value.is_finite() && value >= 0.0,
        Range::Fraction => (0.0..=1.0).contains(&value),
        Range::Finite => value.is_finite(),
    };
    if ok {
        Ok(())
    } else {
        Err(Problem::OutOfRange { value, expected })
    }
}

fn close(stored: f64, recomputed: f64) -> bool {
    (stored - recomputed).abs() <= STATS_REL_TOLERANCE * stored.abs().max(recomputed.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::parse_report;

    const FIXTURE: &str = include_str!("../../tests/data/compare-base.json");

    fn fixture() -> Report {
        parse_report(FIXTURE).expect("the fixture parses")
    }

    fn resummarize(r: &mut Report) {
        for c in &mut r.cases {
            let rates: Vec<f64> = c.samples.iter().map(Sample::hashes_per_sec).collect();
            c.hash_rate = stats::summarize(&rates).unwrap();
        }
    }

    fn problem(r: &Report) -> (Option<String>, String, Problem) {
        let e = r.validate().expect_err("invalid");
        (e.case, e.field, e.problem)
    }

    #[test]
    fn the_real_fixture_is_valid() {
        assert_eq!(fixture().validate(), Ok(()));
    }

    #[test]
    fn zero_samples_are_refused_even_with_matching_statistics() {
        let mut r = fixture();
        r.cases[1].samples[2].elapsed_ns = 0;
        resummarize(&mut r);
        let id = r.cases[1].id.clone();
        assert_eq!(
            problem(&r),
            (Some(id), "samples[2].elapsed_ns".into(), Problem::Zero)
        );

        let mut r = fixture();
        r.cases[0].samples[0].hashes = 0;
        resummarize(&mut r);
        assert_eq!(problem(&r).1, "samples[0].hashes");
        assert!(r.validate().unwrap_err().to_string().starts_with(&format!(
            "case {:?}: samples[0].hashes: is 0",
            r.cases[0].id
        )));
        // An external miner's window without an accepted share is a measurement of zero.
        r.cases[0].rate_method = Some(crate::report::RateMethod::Shares);
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn a_rate_beyond_any_machine_is_refused_and_one_below_the_bound_is_not() {
        let mut r = fixture();
        r.cases[0].samples[1] = Sample {
            hashes: u64::MAX,
            elapsed_ns: 50_000_000,
            cpu_ns: None,
        };
        resummarize(&mut r);
        assert!(matches!(
            problem(&r),
            (_, f, Problem::ImpossibleRate { hashes: u64::MAX, .. }) if f == "samples[1]"
        ));
        // Exactly at the bound: a (very) fast machine, not an impossible one.
        r.cases[0].samples[1] = Sample {
            hashes: 1_000_000_000_000_000,
            elapsed_ns: 1_000_000_000,
            cpu_ns: None,
        };
        resummarize(&mut r);
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn negative_or_out_of_range_statistics_are_refused() {
        type Edit = fn(&mut Report);
        let edits: [(&str, Edit); 7] = [
            ("hash_rate.stddev", |r| r.cases[0].hash_rate.stddev = -1.0),
            ("hash_rate.ci95_low", |r| {
                r.cases[0].hash_rate.ci95_low = f64::NAN
            }),
            ("shares.expected", |r| r.cases[0].shares.expected = -2.0),
            ("shares.poisson_p", |r| r.cases[0].shares.poisson_p = 1.5),
            ("efficiency.vs_ceiling", |r| {
                r.cases[0].efficiency.vs_ceiling = Some(f64::INFINITY)
            }),
            ("balance.idle_fraction", |r| {
                r.cases[0].balance.idle_fraction = -0.1
            }),
            ("ceiling.naive_hashes_per_sec", |r| {
                r.ceiling.as_mut().unwrap().naive_hashes_per_sec = -5.0
            }),
        ];
        for (field, edit) in edits {
            let mut r = fixture();
            edit(&mut r);
            let (case, got, p) = problem(&r);
            assert_eq!(got, field);
            assert!(matches!(p, Problem::OutOfRange { .. }), "{field}: {p:?}");
            assert_eq!(case.is_none(), field.starts_with("ceiling"), "{field}");
        }
    }

    #[test]
    fn statistics_that_are_not_those_of_the_samples_are_refused() {
        let mut r = fixture();
        r.cases[1].hash_rate.median *= 1.0 + 1e-6;
        assert!(matches!(
            problem(&r),
            (_, f, Problem::Disagrees { .. }) if f == "hash_rate.median"
        ));
        let mut r = fixture();
        r.cases[0].hash_rate.n += 1;
        assert_eq!(problem(&r).1, "hash_rate.n");
        // Samples edited without recomputing the summary.
        let mut r = fixture();
        r.cases[0].samples[0].hashes *= 3;
        assert!(matches!(problem(&r).2, Problem::Disagrees { .. }));
        resummarize(&mut r);
        assert_eq!(r.validate(), Ok(()));
        // The bit serde_json may lose is within the tolerance.
        let mut r = fixture();
        r.cases[0].hash_rate.mean = r.cases[0].hash_rate.mean.next_up();
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn a_commit_must_be_hex() {
        let mut r = fixture();
        r.machine.git_commit = Some("ééééééé".into());
        assert_eq!(problem(&r).1, "machine.git_commit");
        r.machine.git_commit = Some("0123456789abcdef".repeat(4));
        assert_eq!(r.validate(), Ok(()));
        r.machine.git_commit = None;
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn duplicate_ids_and_empty_cases_are_refused() {
        let mut r = fixture();
        r.cases[1].id = r.cases[0].id.clone();
        let (case, field, p) = problem(&r);
        assert_eq!(case.as_deref(), Some(r.cases[0].id.as_str()));
        assert_eq!(field, "id");
        assert_eq!(
            p,
            Problem::DuplicateId {
                first: 0,
                second: 1
            }
        );

        let mut r = fixture();
        r.cases[0].samples.clear();
        assert_eq!(problem(&r).1, "samples");
        assert_eq!(problem(&r).2, Problem::NoSamples);
    }
}
