//! Bisecting a performance regression: given revisions in commit order (index 0 the known-good
//! one, the last the known-bad one) and a way to measure one round of a revision, find the first
//! revision whose case is significantly slower than the good one, in about log2(N) measured
//! midpoints.
//!
//! Owns: the search and its decisions. Must not: run git, build, spawn runs or print — the
//! [`Probe`] does the measuring (`cmd/bisect.rs` builds revisions in worktrees; the unit tests
//! fake it), and its [`Probe::step`] hook hears each decision.
//!
//! It assumes one dominant step: every revision before the first bad one is as fast as GOOD,
//! every one after as slow as BAD. Several small regressions, or a case noisier than the step,
//! can send it to the wrong half; the evidence table shows what each decision rested on.

use serde::Serialize;

use crate::report::compare::{compare, CaseComparison, CompareError, CompareOptions};
use crate::report::merge::{merge_reports, MergeError};
use crate::report::stats::Verdict;
use crate::report::{Metric, Report};

/// How a bisection measures and decides.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BisectOptions {
    /// The id of the case bisected.
    pub case: String,
    /// Rounds per step (default 3): each round is one run of the revision tested and one of the
    /// current good revision, interleaved, so drift of the machine hits both alike.
    pub rounds: usize,
    /// An inconclusive step measures `rounds` more, up to `rounds × max_round_factor` rounds in
    /// all (default 3), before a judgement decides it.
    pub max_round_factor: usize,
    /// How two sides are compared (default [`CompareOptions::default`]).
    pub compare: CompareOptions,
}

impl BisectOptions {
    /// The defaults for `case`.
    pub fn new(case: impl Into<String>) -> BisectOptions {
        BisectOptions {
            case: case.into(),
            rounds: 3,
            max_round_factor: 3,
            compare: CompareOptions::default(),
        }
    }

    /// These options with `rounds` rounds per step.
    pub fn with_rounds(self, rounds: usize) -> BisectOptions {
        BisectOptions { rounds, ..self }
    }
}

/// Measures revisions for a bisection; hooks other than `measure` default to nothing.
pub trait Probe {
    /// The measuring side's error; bisection errors convert into it.
    type Error: From<BisectError>;

    /// One round (one run of the scenario) of revision `rev`; `round` counts that revision's
    /// rounds from 1 over the whole bisection (so output names can be unique).
    fn measure(&mut self, rev: usize, round: usize) -> Result<Report, Self::Error>;

    /// A step was decided (the GOOD-against-BAD check first, then each midpoint).
    fn step(&mut self, _step: &Step) {}
}

/// Why a bisection could not go on.
#[derive(Debug, thiserror::Error)]
pub enum BisectError {
    #[error("nothing to bisect: need the good revision and at least one after it")]
    TooFewRevisions,
    #[error("--rounds must be at least 1")]
    NoRounds,
    #[error("revision #{rev}'s report has no case {case} (its cases: {})", available.join(", "))]
    MissingCase {
        rev: usize,
        case: String,
        available: Vec<String>,
    },
    #[error("revision #{rev}: merging its rounds: {source}")]
    Merge { rev: usize, source: MergeError },
    #[error(transparent)]
    Compare(#[from] CompareError),
}

/// What a step concluded about the revision it measured.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// Not slower than the good revision: the regression comes later.
    Good,
    /// Slower than the good revision: the regression is here or earlier.
    Bad,
}

/// One decision of the search.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The revision measured.
    pub rev: usize,
    /// The current good and bad revisions when it was measured.
    pub good: usize,
    pub bad: usize,
    /// Rounds measured in this step (of each side).
    pub rounds: usize,
    /// `rev` (new) against `good` (base), on this step's rounds only.
    pub comparison: CaseComparison,
    pub mark: Mark,
    /// True when the mark is a judgement rather than the verdict: the comparison stayed
    /// inconclusive after every extra round, or `rev` was significantly slower yet nearer the
    /// good revision's median than the bad one's (then marked good). A judgement marks bad
    /// when `rev`'s median is nearer the bad revision's than the good one's.
    pub judged: bool,
}

/// One measured revision, with all its rounds merged.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub rev: usize,
    /// The revision (new) against GOOD (base), all rounds of each merged. For GOOD itself a
    /// comparison with itself: its median, no change.
    pub vs_good: CaseComparison,
    pub mark: Mark,
}

/// The outcome of a bisection.
#[derive(Debug, Clone, Serialize)]
pub struct Bisection {
    pub case: String,
    /// The clock the rates were compared on.
    pub metric: Metric,
    /// The first bad revision; `None` when BAD was not slower than GOOD (nothing to bisect).
    pub first_bad: Option<usize>,
    /// BAD against GOOD, then each midpoint, in the order measured.
    pub steps: Vec<Step>,
    /// Every measured revision in commit order.
    pub evidence: Vec<Evidence>,
}

/// Bisects revisions `0..revs` (0 good, `revs - 1` bad) for `opts.case`.
///
/// First GOOD and BAD are measured, interleaved; unless BAD is significantly slower (after extra
/// rounds if inconclusive) the result has no first bad revision. Then each midpoint is measured
/// interleaved with the current good revision and marked bad when significantly slower and
/// nearer BAD's median than the good one's (the one dominant step assumed: a slowdown much
/// smaller than GOOD→BAD is noise or another regression), good otherwise (no change or faster:
/// a speed-up is not the regression sought). A midpoint still inconclusive after
/// `rounds × max_round_factor` rounds is judged by which median it is nearer.
/// At most ceil(log2(revs - 1)) midpoints are measured.
pub fn bisect<P: Probe>(
    revs: usize,
    opts: &BisectOptions,
    probe: &mut P,
) -> Result<Bisection, P::Error> {
    if revs < 2 {
        return Err(BisectError::TooFewRevisions.into());
    }
    if opts.rounds == 0 {
        return Err(BisectError::NoRounds.into());
    }
    let mut search = Search {
        opts,
        probe,
        rounds: vec![Vec::new(); revs],
    };
    let bad = revs - 1;
    let first = search.step(bad, 0, bad)?;
    let regressed = first.mark == Mark::Bad;
    let mut steps = vec![first];
    let (mut lo, mut hi) = (0, bad);
    if regressed {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let step = search.step(mid, lo, hi)?;
            match step.mark {
                Mark::Bad => hi = mid,
                Mark::Good => lo = mid,
            }
            steps.push(step);
        }
    }
    let first_bad = regressed.then_some(hi);

    let good_all = search.merged(0)?;
    let mut evidence = Vec::new();
    for rev in 0..revs {
        if search.rounds[rev].is_empty() {
            continue;
        }
        let vs_good = search.case_comparison(&good_all, &search.merged(rev)?)?;
        let mark = match first_bad {
            Some(b) if rev >= b => Mark::Bad,
            _ => Mark::Good,
        };
        evidence.push(Evidence { rev, vs_good, mark });
    }
    Ok(Bisection {
        case: opts.case.clone(),
        metric: opts.compare.metric,
        first_bad,
        steps,
        evidence,
    })
}

/// The search's state: every round measured so far, per revision.
struct Search<'a, P: Probe> {
    opts: &'a BisectOptions,
    probe: &'a mut P,
    rounds: Vec<Vec<Report>>,
}

impl<P: Probe> Search<'_, P> {
    /// Measures `rev` against `good` and decides. `rev == bad` is the opening check, where an
    /// undecided result means no regression rather than a judgement.
    fn step(&mut self, rev: usize, good: usize, bad: usize) -> Result<Step, P::Error> {
        let max = self.opts.rounds * self.opts.max_round_factor.max(1);
        let (mut new_side, mut good_side) = (Vec::new(), Vec::new());
        loop {
            for _ in 0..self.opts.rounds {
                new_side.push(self.measure(rev)?);
                good_side.push(self.measure(good)?);
            }
            let comparison =
                self.case_comparison(&merge(good, &good_side)?, &merge(rev, &new_side)?)?;
            let decided = match comparison.verdict {
                Verdict::Slower if rev == bad => Some((Mark::Bad, false)),
                // One dominant step means a bad midpoint is about as slow as BAD: significantly
                // slower but nearer GOOD's median is noise or a smaller, other regression.
                Verdict::Slower => Some(match self.nearer(&comparison, rev, &new_side, bad)? {
                    Mark::Bad => (Mark::Bad, false),
                    Mark::Good => (Mark::Good, true),
                }),
                Verdict::NoChange | Verdict::Faster => Some((Mark::Good, false)),
                Verdict::Inconclusive if new_side.len() < max => None,
                Verdict::Inconclusive if rev == bad => Some((Mark::Good, false)),
                // Every round spent and still undecided: the nearer median decides.
                Verdict::Inconclusive => {
                    Some((self.nearer(&comparison, rev, &new_side, bad)?, true))
                }
            };
            if let Some((mark, judged)) = decided {
                let step = Step {
                    rev,
                    good,
                    bad,
                    rounds: new_side.len(),
                    comparison,
                    mark,
                    judged,
                };
                self.probe.step(&step);
                return Ok(step);
            }
        }
    }

    /// Bad when `rev`'s median (its rounds `new_side`) is nearer the bad revision's than the
    /// good one's (`vs_good`). The bad side's rounds are all of the search's (its own step may
    /// be long ago; the good side's are this step's, interleaved with `rev`).
    fn nearer(
        &self,
        vs_good: &CaseComparison,
        rev: usize,
        new_side: &[Report],
        bad: usize,
    ) -> Result<Mark, P::Error> {
        let vs_bad = self.case_comparison(&self.merged(bad)?, &merge(rev, new_side)?)?;
        let to_good = (vs_good.new_median_hps - vs_good.base_median_hps).abs();
        let to_bad = (vs_bad.new_median_hps - vs_bad.base_median_hps).abs();
        Ok(if to_bad < to_good {
            Mark::Bad
        } else {
            Mark::Good
        })
    }

    /// One round of `rev`, cut down to the case bisected (a missing case is an error).
    fn measure(&mut self, rev: usize) -> Result<Report, P::Error> {
        let round = self.rounds[rev].len() + 1;
        let mut report = self.probe.measure(rev, round)?;
        if !report.cases.iter().any(|c| c.id == self.opts.case) {
            return Err(BisectError::MissingCase {
                rev,
                case: self.opts.case.clone(),
                available: report.cases.iter().map(|c| c.id.clone()).collect(),
            }
            .into());
        }
        report.cases.retain(|c| c.id == self.opts.case);
        self.rounds[rev].push(report.clone());
        Ok(report)
    }

    fn merged(&self, rev: usize) -> Result<Report, P::Error> {
        Ok(merge(rev, &self.rounds[rev])?)
    }

    /// `new` against `base` for the one case both reports were cut down to.
    fn case_comparison(&self, base: &Report, new: &Report) -> Result<CaseComparison, P::Error> {
        let c = compare(base, new, &self.opts.compare).map_err(BisectError::from)?;
        // Both sides hold exactly the case (checked as each round came in).
        Ok(c.cases
            .into_iter()
            .next()
            .ok_or_else(|| BisectError::MissingCase {
                rev: 0,
                case: self.opts.case.clone(),
                available: Vec::new(),
            })?)
    }
}

fn merge(rev: usize, rounds: &[Report]) -> Result<Report, BisectError> {
    merge_reports(rounds).map_err(|source| BisectError::Merge { rev, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::parse_report;
    use crate::report::{stats, Sample};
    use crate::rng::SplitMix64;

    const FIXTURE: &str = include_str!("../tests/data/compare-base.json");
    const CASE: &str = "sha2-midstate/atomic/t1/zb12";

    /// Revisions `>= first_bad` are `slowdown` slower; 8 samples of ~1 % noise a round.
    struct Fake {
        template: Report,
        first_bad: Option<usize>,
        slowdown: f64,
        /// A revision ~1 % slower than GOOD with ±8 % noise: no verdict either way.
        ambiguous: Option<usize>,
        /// A revision 3 % slower than GOOD, with the usual ~1 % noise.
        small: Option<usize>,
        rng: SplitMix64,
        runs: usize,
        measured: Vec<usize>,
    }

    impl Fake {
        fn new(first_bad: Option<usize>, slowdown: f64) -> Fake {
            Fake {
                template: parse_report(FIXTURE).expect("fixture parses"),
                first_bad,
                slowdown,
                ambiguous: None,
                small: None,
                rng: SplitMix64(7),
                runs: 0,
                measured: Vec::new(),
            }
        }

        /// Distinct revisions measured other than the first and last (`revs` in all).
        fn midpoints(&self, revs: usize) -> usize {
            let mut m: Vec<usize> = self
                .measured
                .iter()
                .copied()
                .filter(|&r| r != 0 && r != revs - 1)
                .collect();
            m.sort_unstable();
            m.dedup();
            m.len()
        }
    }

    impl Probe for Fake {
        type Error = BisectError;

        fn measure(&mut self, rev: usize, _round: usize) -> Result<Report, BisectError> {
            self.runs += 1;
            self.measured.push(rev);
            let slow = matches!(self.first_bad, Some(b) if rev >= b);
            let (center, spread) = if self.ambiguous == Some(rev) {
                (0.99e7, 0.16)
            } else if slow {
                (1e7 * (1.0 - self.slowdown), 0.02)
            } else if self.small == Some(rev) {
                (0.97e7, 0.02)
            } else {
                (1e7, 0.02)
            };
            let mut r = self.template.clone();
            // Merging refuses one run given twice, recognised by its start time.
            r.started_at = format!("2024-01-01T00:{:02}:{:02}Z", self.runs / 60, self.runs % 60);
            for c in &mut r.cases {
                c.samples = (0..8)
                    .map(|_| {
                        let noise = (self.rng.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                        Sample {
                            hashes: (center * (1.0 + spread * noise) * 0.05) as u64,
                            elapsed_ns: 50_000_000,
                            cpu_ns: None,
                        }
                    })
                    .collect();
                let rates: Vec<f64> = c.samples.iter().map(Sample::hashes_per_sec).collect();
                c.hash_rate = stats::summarize(&rates).expect("samples");
            }
            Ok(r)
        }
    }

    fn opts() -> BisectOptions {
        BisectOptions::new(CASE).with_rounds(2)
    }

    #[test]
    fn finds_the_first_bad_revision_in_about_log2_steps() {
        // `commits` after GOOD (BAD the last of them); revs = commits + 1.
        for commits in [1usize, 2, 7, 16] {
            for k in 1..=commits {
                let revs = commits + 1;
                let mut fake = Fake::new(Some(k), 0.10);
                let b = bisect(revs, &opts(), &mut fake).expect("bisects");
                assert_eq!(b.first_bad, Some(k), "{commits} commits, first bad {k}");
                // Halving `commits` candidates: floor(log2) ..= ceil(log2) midpoints.
                let log2 = (commits as f64).log2();
                let m = fake.midpoints(revs);
                assert!(
                    (log2.floor() as usize..=log2.ceil() as usize).contains(&m),
                    "{commits} commits, first bad {k}: {m} midpoints"
                );
                assert_eq!(b.steps.len(), 1 + m);
                assert!(b.steps.iter().all(|s| !s.judged));
                // Evidence in commit order, marks split at k.
                let revs_seen: Vec<usize> = b.evidence.iter().map(|e| e.rev).collect();
                assert!(revs_seen.windows(2).all(|w| w[0] < w[1]));
                for e in &b.evidence {
                    let want = if e.rev >= k { Mark::Bad } else { Mark::Good };
                    assert_eq!(e.mark, want);
                    if e.rev >= k {
                        assert_eq!(e.vs_good.verdict, Verdict::Slower);
                    }
                }
            }
        }
    }

    #[test]
    fn no_regression_between_good_and_bad_measures_nothing_else() {
        let mut fake = Fake::new(None, 0.10);
        let b = bisect(8, &opts(), &mut fake).expect("runs");
        assert_eq!(b.first_bad, None);
        assert_eq!(fake.midpoints(8), 0);
        assert_eq!(b.steps.len(), 1);
        assert_eq!(b.steps[0].mark, Mark::Good);
        assert_eq!(b.evidence.len(), 2);
    }

    #[test]
    fn a_faster_bad_is_no_regression_either() {
        let mut fake = Fake::new(Some(3), -0.10);
        let b = bisect(8, &opts(), &mut fake).expect("runs");
        assert_eq!(b.first_bad, None);
        assert_eq!(b.steps[0].comparison.verdict, Verdict::Faster);
    }

    #[test]
    fn an_undecidable_step_gets_extra_rounds_then_a_judgement() {
        // Rev 2, the first midpoint of 0..=4, is ~1 % slower with ±8 % noise: never a verdict,
        // so it gets 3 × 1 rounds and is judged by its median, nearer GOOD's than BAD's.
        let mut fake = Fake::new(Some(3), 0.10);
        fake.ambiguous = Some(2);
        let b = bisect(5, &opts().with_rounds(1), &mut fake).expect("bisects");
        let step = &b.steps[1];
        assert_eq!(step.rev, 2);
        assert_eq!(step.comparison.verdict, Verdict::Inconclusive);
        assert!(step.judged);
        assert_eq!(step.rounds, 3);
        assert_eq!(step.mark, Mark::Good);
        assert_eq!(b.first_bad, Some(3));
    }

    #[test]
    fn a_slowdown_much_smaller_than_the_step_counts_as_good() {
        // GOOD→BAD is -30 %; rev 2 (the first midpoint) is significantly but only 3 % slower.
        let mut fake = Fake::new(Some(3), 0.30);
        fake.small = Some(2);
        let b = bisect(5, &opts(), &mut fake).expect("bisects");
        let step = &b.steps[1];
        assert_eq!(step.rev, 2);
        assert_eq!(step.comparison.verdict, Verdict::Slower);
        assert!(step.judged);
        assert_eq!(step.mark, Mark::Good);
        assert_eq!(b.first_bad, Some(3));
    }

    #[test]
    fn a_missing_case_names_the_cases_there_are() {
        let mut fake = Fake::new(Some(1), 0.10);
        let err = bisect(3, &BisectOptions::new("nope"), &mut fake).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no case nope"), "{text}");
        assert!(text.contains(CASE), "{text}");
    }

    #[test]
    fn too_few_revisions_or_rounds_are_refused() {
        let mut fake = Fake::new(None, 0.0);
        assert!(matches!(
            bisect(1, &opts(), &mut fake),
            Err(BisectError::TooFewRevisions)
        ));
        assert!(matches!(
            bisect(3, &opts().with_rounds(0), &mut fake),
            Err(BisectError::NoRounds)
        ));
    }
}
