//! From raw measurements (counts, nanoseconds, histograms — what `run` collects) to the report's
//! statistics. Pure: no clocks, no files.

use hdrhistogram::Histogram;

use crate::probe::ceiling::Ceiling;
use crate::probe::latency::{self, LatencySummary};
use crate::probe::threads::ThreadDelta;
use crate::report::schema::*;
use crate::report::stats;
use crate::scenario::plan::Case;
use crate::sched::{JobSwitch, WorkerStats};

/// Below this two-sided Poisson p-value the share count is called implausible.
pub const POISSON_ALPHA: f64 = 0.001;

/// Everything `run` measured for one case.
#[derive(Debug)]
pub struct CaseMeasurement {
    pub case: Case,
    pub samples: Vec<Sample>,
    /// Hits found inside the sampled windows (each already re-verified by the reference).
    pub shares_found: u64,
    pub share_intervals: Option<Histogram<u64>>,
    pub workers: Vec<WorkerStats>,
    /// Per worker (same order): `/proc` counters over the measured phase, or why not.
    pub threads: Vec<Result<ThreadDelta, String>>,
    pub job_switches: Vec<JobSwitch>,
    pub stale_hashes: u64,
    pub profile: Option<ProfileArtefacts>,
    /// Shares expected over the sampled windows when the target changed during the case (a
    /// pool's difficulty); None: from the case's difficulty.
    pub expected_shares: Option<f64>,
    /// A device backend's own probes ([`crate::pow::Backend::device_stats`]).
    pub device: Option<crate::pow::DeviceStats>,
}

/// Why a case could not be summarised.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("case {0}: no samples were measured")]
    NoSamples(String),
    #[error("case {case}: {what}: {message}")]
    Histogram {
        case: String,
        what: &'static str,
        message: String,
    },
}

pub fn case_report(
    m: CaseMeasurement,
    ceiling: Option<&Ceiling>,
) -> Result<CaseReport, ReportError> {
    let id = m.case.id.clone();
    let rates: Vec<f64> = m.samples.iter().map(Sample::hashes_per_sec).collect();
    let hash_rate = stats::summarize(&rates).ok_or_else(|| ReportError::NoSamples(id.clone()))?;
    let cpu_rate = Metric::Cpu
        .rates(&m.samples)
        .and_then(|r| stats::summarize(&r));
    let sampled_hashes: u64 = m.samples.iter().map(|s| s.hashes).sum();
    let expected = m
        .expected_shares
        .unwrap_or_else(|| sampled_hashes as f64 * m.case.difficulty.target().hit_probability());
    let poisson_p = stats::poisson_two_sided_p(m.shares_found, expected);
    let shares = Shares {
        hashes: sampled_hashes,
        found: m.shares_found,
        verified: m.shares_found,
        expected,
        poisson_p,
        plausible: poisson_p >= POISSON_ALPHA,
    };

    let summary = |what: &'static str,
                   h: Option<Histogram<u64>>|
     -> Result<Option<LatencySummary>, ReportError> {
        match h {
            Some(h) if !h.is_empty() => {
                latency::summarize(&h)
                    .map(Some)
                    .map_err(|e| ReportError::Histogram {
                        case: id.clone(),
                        what,
                        message: e.to_string(),
                    })
            }
            _ => Ok(None),
        }
    };
    let batch = latency::merge(m.workers.iter().map(|w| w.batch_latency_ns.clone()));
    let queue: Vec<Histogram<u64>> = m
        .workers
        .iter()
        .filter_map(|w| w.queue_wait_ns.clone())
        .collect();
    let queue_wait = if queue.is_empty() {
        None
    } else {
        Some(latency::merge(queue))
    };
    let mut switch_hist = latency::new_histogram();
    let mut missed = 0;
    for switch in &m.job_switches {
        for lat in &switch.worker_latency_ns {
            match lat {
                Some(ns) => {
                    // Values outside the histogram's 1 ns .. 1 h range are clamped, not dropped.
                    let _ = switch_hist.record((*ns).clamp(1, switch_hist.high()));
                }
                None => missed += 1,
            }
        }
    }
    let latency = Latency {
        batch: summary("batch latency", Some(batch))?,
        share_interval: summary("share interval", m.share_intervals)?,
        job_switch: summary("job-switch latency", Some(switch_hist))?,
        queue_wait: summary("queue wait", queue_wait)?,
    };

    let device = match m.device {
        Some(d) => Some(DeviceReport {
            busy_fraction: match (d.execution_ns, d.span_ns) {
                (Some(e), Some(s)) if s > 0 => Some(e as f64 / s as f64),
                _ => None,
            },
            execution: summary("device execution", d.execution)?,
            round_trip: summary("device round trip", Some(d.round_trip))?,
            readback: summary("device readback", Some(d.readback))?,
            device: d.device,
            dispatches: d.dispatches,
            nonces: d.nonces,
            dispatch_limit: d.dispatch_limit,
            in_flight: d.in_flight,
            nonces_per_invocation: d.nonces_per_invocation,
            candidate_slots: d.candidate_slots,
            overflows: d.overflows,
            execution_ns: d.execution_ns,
            span_ns: d.span_ns,
            no_timestamps: d.no_timestamps,
            sm_clock_mhz: d.sm_clock_mhz,
        }),
        None => None,
    };

    let total_hashes: u64 = m.workers.iter().map(|w| w.hashes).sum();
    let job_switch = (!m.job_switches.is_empty()).then(|| JobSwitchReport {
        switches: m.job_switches.len() as u64,
        stale_hashes: m.stale_hashes,
        stale_fraction: m.stale_hashes as f64 / total_hashes.max(1) as f64,
        missed,
    });

    let workers: Vec<WorkerReport> = m
        .workers
        .iter()
        .zip(m.threads.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(w, t)| worker_report(w, t))
        .collect();
    let balance = Balance::from_workers(m.workers.iter().map(|w| (w.hashes, w.busy_ns, w.idle_ns)));
    let efficiency = Efficiency {
        vs_ceiling: ceiling
            .filter(|c| c.naive_hashes_per_sec > 0.0)
            .map(|c| hash_rate.median / (c.naive_hashes_per_sec * m.case.threads as f64)),
        scaling: None,
    };
    Ok(CaseReport {
        id,
        backend: m.case.backend.clone(),
        scheduler: m.case.scheduler.clone(),
        threads: m.case.threads,
        difficulty: m.case.difficulty,
        batch: m.case.batch,
        samples: m.samples,
        total_hashes,
        total_batches: m.workers.iter().map(|w| w.batches).sum(),
        hash_rate,
        cpu_rate,
        efficiency,
        shares,
        latency,
        job_switch,
        workers,
        balance,
        profile: m.profile,
        rate_method: None,
        external: None,
        pool_client: None,
        device,
    })
}

fn worker_report(w: &WorkerStats, t: Option<&Result<ThreadDelta, String>>) -> WorkerReport {
    let mut r = WorkerReport {
        index: w.index,
        tid: w.tid,
        hashes: w.hashes,
        batches: w.batches,
        busy_ns: w.busy_ns,
        idle_ns: w.idle_ns,
        last_cpu: w.last_cpu,
        cpu_ns: None,
        voluntary_ctxt_switches: None,
        nonvoluntary_ctxt_switches: None,
        migrations: None,
        run_delay_ns: None,
        unavailable: None,
    };
    match t {
        Some(Ok(d)) => {
            r.cpu_ns = Some(d.cpu_ns);
            r.voluntary_ctxt_switches = Some(d.voluntary_ctxt_switches);
            r.nonvoluntary_ctxt_switches = Some(d.nonvoluntary_ctxt_switches);
            r.migrations = d.migrations;
            r.run_delay_ns = d.run_delay_ns;
            if d.last_cpu.is_some() {
                r.last_cpu = d.last_cpu;
            }
        }
        Some(Err(why)) => r.unavailable = Some(why.clone()),
        None => r.unavailable = Some("no /proc sample for this worker".to_string()),
    }
    r
}

/// Scaling efficiency needs the 1-thread case of the same backend, scheduler and difficulty, so
/// it is filled in once all cases are known.
pub fn fill_scaling(cases: &mut [CaseReport]) {
    let singles: Vec<(String, f64)> = cases
        .iter()
        .filter(|c| c.threads == 1)
        .map(|c| (scaling_key(c), c.hash_rate.median))
        .collect();
    for c in cases.iter_mut() {
        let key = scaling_key(c);
        c.efficiency.scaling = singles
            .iter()
            .find(|(k, _)| *k == key)
            .filter(|(_, one)| *one > 0.0)
            .map(|(_, one)| c.hash_rate.median / (one * c.threads as f64));
    }
}

fn scaling_key(c: &CaseReport) -> String {
    c.variant()
}
