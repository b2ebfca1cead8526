//! Merging several reports of the same scenario on the same machine (rounds of one revision,
//! interleaved with another revision's rounds by `scripts/compare-revs.sh`) into one report whose
//! cases carry every round's samples, with the statistics recomputed.
//!
//! Owns: how per-round results add up. Must not: read files or clocks.

use crate::probe::latency::{self, LatencySummary};
use crate::report::build::{fill_scaling, POISSON_ALPHA};
use crate::report::stats;
use crate::report::{
    Balance, CaseReport, DeviceReport, JobSwitchReport, Latency, Metric, Report, Sample, Shares,
    WorkerReport,
};

/// Why reports could not be merged; `index` is the position in the input list (0-based).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("nothing to merge: no reports given")]
    Empty,
    #[error(
        "report #{index} is scenario {found:?}, the first is {first:?}: only rounds of one \
         scenario can be merged"
    )]
    Scenario {
        index: usize,
        first: String,
        found: String,
    },
    #[error(
        "report #{index} comes from another machine ({found}) than the first ({first}): rounds \
         must be measured on one machine"
    )]
    Machine {
        index: usize,
        first: String,
        found: String,
    },
    #[error(
        "report #{index} was built from commit {found:?}, the first from {first:?}: rounds \
         must come from one build"
    )]
    Commit {
        index: usize,
        first: String,
        found: String,
    },
    #[error(
        "reports #{first} and #{second} are the same run (scenario {scenario:?} started at \
         {started_at} on the same machine): merging a run with itself counts its samples twice"
    )]
    SameRun {
        first: usize,
        second: usize,
        scenario: String,
        started_at: String,
    },
    #[error("case {case}: {what}: {message}")]
    Histogram {
        case: String,
        what: &'static str,
        message: String,
    },
    #[error("case {case}: no usable samples after merging")]
    NoSamples { case: String },
}

/// Merges `reports` (in round order) into one.
///
/// Cases are matched by id; a case missing from some rounds keeps the samples of the rounds that
/// have it. Per case: samples concatenated and `hash_rate` recomputed with
/// [`stats::summarize`]; shares summed and the Poisson check redone; latency histograms merged
/// and their percentiles recomputed; job-switch counts summed; per-worker counters summed by
/// worker index and the balance recomputed; `efficiency` recomputed against the first report's
/// ceiling. Profile artefacts are dropped (they are files relative to each round's directory).
/// The run-level fields come from the first report, except `finished_at` (the last),
/// `wall_ns` (the sum) and `interrupted` (any).
///
/// Refused: rounds of different scenarios, machines or commits, and one run given twice (same
/// `started_at`, scenario and machine). The inputs are expected to have passed
/// [`Report::validate`] (the loader does that), so case ids are unique within each.
pub fn merge_reports(reports: &[Report]) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    let key = first.machine.comparable_key();
    let commit = first.machine.git_commit.clone().unwrap_or_default();
    for (index, r) in reports.iter().enumerate().skip(1) {
        if r.scenario.name != first.scenario.name {
            return Err(MergeError::Scenario {
                index,
                first: first.scenario.name.clone(),
                found: r.scenario.name.clone(),
            });
        }
        let k = r.machine.comparable_key();
        if k != key {
            return Err(MergeError::Machine {
                index,
                first: key,
                found: k,
            });
        }
        let c = r.machine.git_commit.clone().unwrap_or_default();
        if c != commit {
            return Err(MergeError::Commit {
                index,
                first: commit,
                found: c,
            });
        }
    }

    // One run given twice (the same file, a copy, or a merged report next to its first round,
    // which keeps that round's start) would count its samples twice. Rounds of one scenario on
    // one machine run one after another, so they cannot share a start time.
    for (second, r) in reports.iter().enumerate() {
        if let Some(first) = reports[..second].iter().position(|o| {
            o.started_at == r.started_at && o.scenario == r.scenario && o.machine == r.machine
        }) {
            return Err(MergeError::SameRun {
                first,
                second,
                scenario: r.scenario.name.clone(),
                started_at: r.started_at.clone(),
            });
        }
    }

    // Case order: first appearance across the rounds.
    let mut ids: Vec<&str> = Vec::new();
    for r in reports {
        for c in &r.cases {
            if !ids.contains(&c.id.as_str()) {
                ids.push(&c.id);
            }
        }
    }
    let mut cases = ids
        .iter()
        .map(|id| {
            let parts: Vec<&CaseReport> = reports
                .iter()
                .filter_map(|r| r.cases.iter().find(|c| c.id == *id))
                .collect();
            merge_case(&parts, first)
        })
        .collect::<Result<Vec<_>, _>>()?;
    fill_scaling(&mut cases);

    let mut merged = first.clone();
    merged.cases = cases;
    if let Some(last) = reports.last() {
        merged.finished_at = last.finished_at.clone();
    }
    merged.wall_ns = reports.iter().map(|r| r.wall_ns).sum();
    merged.interrupted = reports.iter().any(|r| r.interrupted);
    // Skipped cases that did run in some round are not skipped.
    merged
        .skipped
        .retain(|s| !merged.cases.iter().any(|c| c.id == s.id));
    Ok(merged)
}

fn merge_case(parts: &[&CaseReport], first_report: &Report) -> Result<CaseReport, MergeError> {
    let head = parts[0];
    let id = head.id.clone();
    let samples: Vec<Sample> = parts
        .iter()
        .flat_map(|c| c.samples.iter().copied())
        .collect();
    let rates: Vec<f64> = samples.iter().map(Sample::hashes_per_sec).collect();
    let hash_rate =
        stats::summarize(&rates).ok_or_else(|| MergeError::NoSamples { case: id.clone() })?;
    // Only when every round's samples carry CPU time: a partial series would be a different
    // population from the wall-clock one beside it.
    let cpu_rate = Metric::Cpu
        .rates(&samples)
        .and_then(|r| stats::summarize(&r));

    let hashes: u64 = parts.iter().map(|c| c.shares.hashes).sum();
    let found: u64 = parts.iter().map(|c| c.shares.found).sum();
    let expected: f64 = parts.iter().map(|c| c.shares.expected).sum();
    let poisson_p = stats::poisson_two_sided_p(found, expected);
    let shares = Shares {
        hashes,
        found,
        verified: parts.iter().map(|c| c.shares.verified).sum(),
        expected,
        poisson_p,
        plausible: poisson_p >= POISSON_ALPHA,
    };

    let lat = |what: &'static str, pick: fn(&Latency) -> &Option<LatencySummary>| {
        merge_latency(
            &id,
            what,
            parts.iter().filter_map(|c| pick(&c.latency).as_ref()),
        )
    };
    let latency = Latency {
        batch: lat("batch latency", |l| &l.batch)?,
        share_interval: lat("share interval", |l| &l.share_interval)?,
        job_switch: lat("job-switch latency", |l| &l.job_switch)?,
        queue_wait: lat("queue wait", |l| &l.queue_wait)?,
    };

    let workers = merge_workers(parts);
    let total_hashes: u64 = workers.iter().map(|w| w.hashes).sum();
    let switches: Vec<&JobSwitchReport> =
        parts.iter().filter_map(|c| c.job_switch.as_ref()).collect();
    let job_switch = (!switches.is_empty()).then(|| {
        let stale: u64 = switches.iter().map(|j| j.stale_hashes).sum();
        JobSwitchReport {
            switches: switches.iter().map(|j| j.switches).sum(),
            stale_hashes: stale,
            stale_fraction: stale as f64 / total_hashes.max(1) as f64,
            missed: switches.iter().map(|j| j.missed).sum(),
        }
    });
    let balance = Balance::from_workers(workers.iter().map(|w| (w.hashes, w.busy_ns, w.idle_ns)));

    let mut efficiency = head.efficiency.clone();
    efficiency.vs_ceiling = first_report
        .ceiling
        .as_ref()
        .filter(|c| c.naive_hashes_per_sec > 0.0)
        .map(|c| hash_rate.median / (c.naive_hashes_per_sec * head.threads as f64));
    efficiency.scaling = None;

    Ok(CaseReport {
        id: id.clone(),
        backend: head.backend.clone(),
        scheduler: head.scheduler.clone(),
        threads: head.threads,
        difficulty: head.difficulty.clone(),
        batch: head.batch,
        samples,
        total_hashes,
        total_batches: workers.iter().map(|w| w.batches).sum(),
        hash_rate,
        cpu_rate,
        efficiency,
        shares,
        latency,
        job_switch,
        workers,
        balance,
        profile: None,
        rate_method: head.rate_method,
        external: None,
        pool_client: None,
        device: merge_device(&id, parts)?,
    })
}

/// The rounds' device blocks as one: counts and times summed, histograms merged, the settings
/// and clock of the first round.
fn merge_device(id: &str, parts: &[&CaseReport]) -> Result<Option<DeviceReport>, MergeError> {
    let blocks: Vec<&DeviceReport> = parts.iter().filter_map(|c| c.device.as_ref()).collect();
    let Some(head) = blocks.first() else {
        return Ok(None);
    };
    let lat = |what: &'static str, pick: fn(&DeviceReport) -> &Option<LatencySummary>| {
        merge_latency(id, what, blocks.iter().filter_map(|d| pick(d).as_ref()))
    };
    let sum = |pick: fn(&DeviceReport) -> Option<u64>| -> Option<u64> {
        blocks.iter().map(|d| pick(d)).sum()
    };
    let (execution_ns, span_ns) = (sum(|d| d.execution_ns), sum(|d| d.span_ns));
    Ok(Some(DeviceReport {
        device: head.device.clone(),
        dispatches: blocks.iter().map(|d| d.dispatches).sum(),
        nonces: blocks.iter().map(|d| d.nonces).sum(),
        dispatch_limit: head.dispatch_limit,
        in_flight: head.in_flight,
        nonces_per_invocation: head.nonces_per_invocation,
        candidate_slots: head.candidate_slots,
        overflows: blocks.iter().map(|d| d.overflows).sum(),
        execution: lat("device execution", |d| &d.execution)?,
        round_trip: lat("device round trip", |d| &d.round_trip)?,
        readback: lat("device readback", |d| &d.readback)?,
        execution_ns,
        span_ns,
        busy_fraction: match (execution_ns, span_ns) {
            (Some(e), Some(s)) if s > 0 => Some(e as f64 / s as f64),
            _ => None,
        },
        no_timestamps: head.no_timestamps.clone(),
        sm_clock_mhz: head.sm_clock_mhz,
    }))
}

/// Decodes and adds the histograms of one latency kind; None when no round has it.
fn merge_latency<'a>(
    case: &str,
    what: &'static str,
    summaries: impl Iterator<Item = &'a LatencySummary>,
) -> Result<Option<LatencySummary>, MergeError> {
    let err = |message: String| MergeError::Histogram {
        case: case.to_string(),
        what,
        message,
    };
    let hists = summaries
        .map(|s| latency::decode(&s.histogram_b64).map_err(|e| err(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    if hists.is_empty() {
        return Ok(None);
    }
    let merged = latency::merge(hists);
    latency::summarize(&merged)
        .map(Some)
        .map_err(|e| err(e.to_string()))
}

/// Sums per-worker counters by worker index; an optional counter stays only if every round has
/// it (a partial sum would look like a measurement and is not one).
fn merge_workers(parts: &[&CaseReport]) -> Vec<WorkerReport> {
    let mut out: Vec<WorkerReport> = Vec::new();
    for part in parts {
        for w in &part.workers {
            match out.iter_mut().find(|o| o.index == w.index) {
                None => out.push(w.clone()),
                Some(o) => {
                    o.hashes += w.hashes;
                    o.batches += w.batches;
                    o.busy_ns += w.busy_ns;
                    o.idle_ns += w.idle_ns;
                    o.last_cpu = w.last_cpu.or(o.last_cpu);
                    o.cpu_ns = add(o.cpu_ns, w.cpu_ns);
                    o.voluntary_ctxt_switches =
                        add(o.voluntary_ctxt_switches, w.voluntary_ctxt_switches);
                    o.nonvoluntary_ctxt_switches =
                        add(o.nonvoluntary_ctxt_switches, w.nonvoluntary_ctxt_switches);
                    o.migrations = add(o.migrations, w.migrations);
                    o.run_delay_ns = add(o.run_delay_ns, w.run_delay_ns);
                    if o.unavailable.is_none() {
                        o.unavailable = w.unavailable.clone();
                    }
                }
            }
        }
    }
    out.sort_by_key(|w| w.index);
    out
}

fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(a?.saturating_add(b?))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::compare::parse_report;

    const FIXTURE: &str = include_str!("../../tests/data/compare-base.json");

    fn fixture() -> Report {
        parse_report(FIXTURE).expect("the fixture parses")
    }

    #[test]
    fn merging_one_report_keeps_its_samples_and_statistics() {
        let r = fixture();
        let m = merge_reports(std::slice::from_ref(&r)).unwrap();
        for (a, b) in r.cases.iter().zip(&m.cases) {
            assert_eq!(a.samples, b.samples);
            // Equal up to the last bit serde_json's float parsing may lose.
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs());
            let (x, y) = (&a.hash_rate, &b.hash_rate);
            assert_eq!(x.n, y.n);
            for (u, v) in [
                (x.median, y.median),
                (x.mean, y.mean),
                (x.stddev, y.stddev),
                (x.ci95_low, y.ci95_low),
                (x.ci95_high, y.ci95_high),
            ] {
                assert!(close(u, v), "{u} vs {v}");
            }
            assert_eq!(
                (a.shares.hashes, a.shares.found),
                (b.shares.hashes, b.shares.found)
            );
            assert!(close(a.shares.poisson_p, b.shares.poisson_p));
            assert_eq!(
                a.latency.batch.as_ref().map(|l| l.p99_ns),
                b.latency.batch.as_ref().map(|l| l.p99_ns)
            );
            assert_eq!(b.profile, None);
        }
    }

    /// A device block as the gpu backend writes one, with `n` dispatches of 2^20 nonces.
    pub(crate) fn device_block(n: u64) -> DeviceReport {
        let mut h = latency::new_histogram();
        for k in 0..n {
            h.record(2_000_000 + k).unwrap();
        }
        let l = latency::summarize(&h).unwrap();
        DeviceReport {
            device: "NVIDIA H200".into(),
            dispatches: n,
            nonces: n << 20,
            dispatch_limit: 1 << 24,
            in_flight: 3,
            nonces_per_invocation: 1,
            candidate_slots: 1 << 20,
            overflows: 0,
            execution: Some(l.clone()),
            round_trip: Some(l.clone()),
            readback: Some(l),
            execution_ns: Some(n * 2_000_000),
            span_ns: Some(n * 2_500_000),
            busy_fraction: Some(0.8),
            no_timestamps: None,
            sm_clock_mhz: Some(1980),
        }
    }

    #[test]
    fn device_blocks_merge_counts_times_and_histograms() {
        let mut a = fixture();
        a.cases[0].device = Some(device_block(10));
        let mut b = fixture();
        b.cases[0].device = Some(device_block(30));
        b.cases[0].device.as_mut().unwrap().span_ns = Some(30 * 2_000_000);
        b.started_at = "later start".into();
        let m = merge_reports(&[a, b]).unwrap();
        let d = m.cases[0].device.as_ref().expect("merged");
        assert_eq!((d.dispatches, d.nonces), (40, 40 << 20));
        assert_eq!(d.execution.as_ref().unwrap().count, 40);
        assert_eq!(d.round_trip.as_ref().unwrap().count, 40);
        // Σ execution ÷ Σ span: 80 ms ÷ (25 + 60) ms.
        let busy = d.busy_fraction.unwrap();
        assert!((busy - 80.0 / 85.0).abs() < 1e-9, "{busy}");
        assert_eq!(m.cases[1].device, None);
        m.validate().expect("a merged report is valid");
    }

    #[test]
    fn rounds_concatenate_samples_and_add_counts() {
        let a = fixture();
        let mut b = fixture();
        b.cases.truncate(1);
        for s in &mut b.cases[0].samples {
            s.hashes *= 2;
        }
        b.started_at = "later start".into();
        b.finished_at = "later".into();
        let m = merge_reports(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.cases.len(), 2);
        let c0 = &m.cases[0];
        assert_eq!(c0.samples.len(), a.cases[0].samples.len() * 2);
        assert_eq!(c0.hash_rate.n, c0.samples.len());
        assert_eq!(
            c0.shares.hashes,
            a.cases[0].shares.hashes + b.cases[0].shares.hashes
        );
        assert_eq!(c0.shares.found, a.cases[0].shares.found * 2);
        let batch = |c: &CaseReport| c.latency.batch.as_ref().unwrap().count;
        assert_eq!(batch(c0), batch(&a.cases[0]) * 2);
        assert_eq!(c0.workers[0].hashes, a.cases[0].workers[0].hashes * 2);
        // The second case only ran in the first round.
        assert_eq!(m.cases[1].samples, a.cases[1].samples);
        assert_eq!(m.finished_at, "later");
        assert_eq!(m.wall_ns, a.wall_ns * 2);
        assert!(c0.hash_rate.max >= a.cases[0].hash_rate.max * 1.9);
    }

    #[test]
    fn one_run_twice_is_refused() {
        let a = fixture();
        let mut b = fixture();
        b.started_at = "later start".into();
        let mut merged = merge_reports(&[a.clone(), b.clone()]).unwrap();
        assert!(merge_reports(&[a.clone(), b.clone(), a.clone()]).is_err());
        assert!(matches!(
            merge_reports(&[b.clone(), a.clone(), b.clone()]),
            Err(MergeError::SameRun {
                first: 0,
                second: 2,
                ..
            })
        ));
        // A merged report keeps its first round's start: merging it with that round again
        // would count the round twice.
        assert!(matches!(
            merge_reports(&[merged.clone(), a.clone()]),
            Err(MergeError::SameRun { .. })
        ));
        merged.started_at = "another start".into();
        assert!(merge_reports(&[merged, a]).is_ok());
    }

    #[test]
    fn mismatched_rounds_are_refused() {
        let a = fixture();
        assert_eq!(merge_reports(&[]), Err(MergeError::Empty));
        let mut other = a.clone();
        other.machine.cpu_model = "elsewhere".into();
        assert!(matches!(
            merge_reports(&[a.clone(), other]),
            Err(MergeError::Machine { index: 1, .. })
        ));
        let mut other = a.clone();
        other.scenario.name = "other".into();
        assert!(matches!(
            merge_reports(&[a.clone(), other]),
            Err(MergeError::Scenario { index: 1, .. })
        ));
        let mut other = a.clone();
        other.machine.git_commit = Some("f".repeat(40));
        assert!(matches!(
            merge_reports(&[a.clone(), other]),
            Err(MergeError::Commit { index: 1, .. })
        ));
    }
}
