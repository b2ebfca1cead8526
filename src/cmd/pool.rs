//! `minebench pool`: a standalone loopback Stratum v1 pool. Any miner pointed at it is measured
//! from the shares it verifies (a live line per second), and on stop (`--duration` or Ctrl-C)
//! a report with a case per connection is written and rendered like any run's.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use serde_json::json;

use super::mine::parse_duration;
use crate::cli::PoolArgs;
use crate::error::{InputError, UsageError};
use crate::probe::latency;
use crate::probe::machine::Fingerprint;
use crate::report::build::{case_report, CaseMeasurement};
use crate::report::{ExternalCase, PoolCaseStats, ProfilingInfo, Report, Sample, SkippedCase};
use crate::run::clock;
use crate::scenario::plan::{
    Case, Difficulty, HeaderSpec, MatrixSpec, MeasureSpec, Plan, ProfileSpec, SampleSpec,
    ThreadsSpec, WorkSpec, EXTERNAL_PREFIX, EXTERNAL_SCHEDULER,
};
use crate::stratum::server::{ConnStats, DiffMode, Pool, PoolConfig};
use crate::stratum::vardiff::MIN_DIFFICULTY;

/// Vardiff's starting difficulty: about 215 000 hashes per share, a few shares per second for a
/// 1 MH/s miner and a few hundred for a fast one, adjusted after the first second.
const INITIAL_DIFFICULTY: f64 = 0.00005;
/// With vardiff, a connection's sample windows start this long after it opened (the
/// difficulty has settled by then), when it lasted long enough to leave a window after it.
const VARDIFF_SETTLE: Duration = Duration::from_secs(3);

pub fn run(args: &PoolArgs) -> Result<u8> {
    let listen: SocketAddr = args.listen.parse().map_err(|e| {
        UsageError::new("--listen", format!("{:?} is not IP:PORT: {e}", args.listen))
    })?;
    if !listen.ip().is_loopback() {
        if !args.allow_remote {
            return Err(UsageError::new(
                "--listen",
                format!(
                    "{listen} is not a loopback address: the pool would answer anyone who \
                     connects; add --allow-remote if that is what you want"
                ),
            )
            .into());
        }
        crate::note!("warning: listening on {listen}, reachable from other machines");
    }
    let difficulty = match (args.difficulty, args.share_rate) {
        (Some(d), _) if !(d.is_finite() && d >= MIN_DIFFICULTY) => {
            return Err(UsageError::new(
                "--difficulty",
                format!("must be a number of at least {MIN_DIFFICULTY}"),
            )
            .into())
        }
        (Some(d), _) => DiffMode::Fixed(d),
        (None, Some(r)) if !(r.is_finite() && r > 0.0 && r <= 100_000.0) => {
            return Err(
                UsageError::new("--share-rate", "must be above 0 and at most 100000").into(),
            )
        }
        (None, r) => DiffMode::Vardiff {
            share_rate: r.unwrap_or(20.0),
            initial: INITIAL_DIFFICULTY,
        },
    };
    let job_interval = match &args.job_interval {
        Some(t) => Some(parse_duration(t, "--job-interval")?),
        None => None,
    };
    let duration = match &args.duration {
        Some(t) => Some(parse_duration(t, "--duration")?),
        None => None,
    };
    let window = parse_duration(&args.sample, "--sample")?;
    let metrics = super::start_metrics(&args.metrics, "pool")?;
    super::check_dir_writable(&args.out, "--out")?;
    let mut pool = Pool::start(PoolConfig {
        listen,
        ..PoolConfig::loopback(difficulty)
    })
    .map_err(|e| UsageError::new("--listen", format!("cannot listen on {listen}: {e}")))?;
    let stop = crate::run::interrupt_flag();
    let started = SystemTime::now();
    let t0 = Instant::now();
    crate::note!(
        "pool listening on {} ({}); point a miner at it, e.g. `minebench mine --pool {}`; \
         Ctrl-C (or --duration) stops it and writes the report",
        pool.url(),
        match difficulty {
            DiffMode::Fixed(d) => format!("share difficulty {d}"),
            DiffMode::Vardiff { share_rate, .. } => format!("vardiff, {share_rate} shares/s"),
        },
        pool.url()
    );

    let mut next_job = job_interval.map(|i| t0 + i);
    let mut switches: Vec<(u64, Instant)> = Vec::new();
    let mut next_line = t0 + Duration::from_secs(1);
    let mut history: VecDeque<(Instant, f64)> = VecDeque::new();
    loop {
        if stop.load(Ordering::SeqCst) || duration.is_some_and(|d| t0.elapsed() >= d) {
            break;
        }
        let now = Instant::now();
        if let (Some(at), Some(i)) = (next_job, job_interval) {
            if now >= at {
                switches.push((switches.len() as u64 + 1, pool.switch_job(true)));
                next_job = Some(now.max(at) + i);
            }
        }
        if now >= next_line {
            next_line += Duration::from_secs(1);
            let work: f64 = pool.work_by_connection().iter().map(|w| w.2).sum();
            history.push_back((now, work));
            while history.len() > 6 {
                history.pop_front();
            }
            let rate = match (history.front(), history.back()) {
                (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) / (b.0 - a.0).as_secs_f64(),
                _ => 0.0,
            };
            live_line(&pool, t0.elapsed(), rate, args.json)?;
            if let Some((live, _)) = &metrics {
                publish(live, &pool, difficulty);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ctrl-C is how a pool without --duration ends: the report is complete, not interrupted.
    let interrupted = false;
    pool.stop();
    let end = Instant::now();
    let report = build_report(
        &pool,
        &args.listen,
        difficulty,
        job_interval,
        window,
        (t0, end),
        &switches,
        started,
        interrupted,
    )?;
    let plan_name = report.scenario.name.clone();
    let dir = crate::run::create_run_dir(&args.out, &report.scenario, started)
        .map_err(|e| InputError(format!("--out: {e}")))?;
    let path = dir.join("report.json");
    crate::run::output::write_report(&path, &report)?;
    let written = super::render::render_dir(&report, &dir)?;
    if args.json {
        super::emit(&format!(
            "{}\n",
            json!({"report": path, "cases": report.cases.len(), "skipped": report.skipped.len()})
        ))?;
    } else {
        super::emit(&crate::render::table::summary(&report))?;
    }
    crate::note!("{plan_name} report: {}", path.display());
    for p in written {
        crate::note!("        {}", p.display());
    }
    Ok(0)
}

/// Per connection, the live metrics: a case named as the report will name it, its hashes as
/// the work its verified shares stand for (worker `shares`), shares by result, difficulty.
fn publish(live: &crate::live::Live, pool: &Pool, difficulty: DiffMode) {
    for c in pool.live_view() {
        let backend = format!(
            "{EXTERNAL_PREFIX}{}",
            safe_name(c.user.as_deref().unwrap_or("anonymous"))
        );
        let label = match difficulty {
            DiffMode::Fixed(_) => Difficulty::Share(c.difficulty).label(),
            DiffMode::Vardiff { .. } => "vardiff".into(),
        };
        let case = format!("{backend}/{EXTERNAL_SCHEDULER}/c{}/{label}", c.index);
        live.hashes(&case, &[c.work as u64]);
        let mut counts = std::collections::BTreeMap::new();
        counts.insert("accepted".to_string(), c.accepted);
        for (reason, n) in &c.rejected {
            counts.insert(format!("rejected_{reason}"), *n);
        }
        live.shares(&case, &counts);
        live.pool(
            &case,
            crate::live::PoolView {
                url: pool.url(),
                difficulty: c.difficulty,
                accepted: c.accepted,
                rejected: c.rejected.values().sum(),
                ..crate::live::PoolView::default()
            },
        );
    }
}

fn live_line(pool: &Pool, elapsed: Duration, rate: f64, json_lines: bool) -> Result<()> {
    let t = pool.totals();
    let mut reasons = std::collections::BTreeMap::<&str, u64>::new();
    for c in pool.connections_counts() {
        for (r, n) in c {
            *reasons.entry(r).or_default() += n;
        }
    }
    if json_lines {
        super::emit(&format!(
            "{}\n",
            json!({
                "t": elapsed.as_secs_f64(),
                "connections": t.connections,
                "open": t.open,
                "refused": t.refused,
                "accepted": t.accepted,
                "rejected": reasons,
                "protocol_errors": t.protocol_errors,
                "hashes_per_sec": rate,
            })
        ))
    } else {
        let why: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        crate::note!(
            "{:>6.0} s  connections {} (open {})  shares ok {}  rejected {}{}  ~{:.2} MH/s (last 5 s)",
            elapsed.as_secs_f64(),
            t.connections,
            t.open,
            t.accepted,
            t.rejected,
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join(", "))
            },
            rate / 1e6
        );
        Ok(())
    }
}

/// A name safe in a case id and a file name.
fn safe_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "anonymous".into()
    } else {
        cleaned
    }
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    pool: &Pool,
    listen: &str,
    difficulty: DiffMode,
    job_interval: Option<Duration>,
    window: Duration,
    (t0, end): (Instant, Instant),
    switches: &[(u64, Instant)],
    started: SystemTime,
    interrupted: bool,
) -> Result<Report> {
    let conns = pool.connections();
    let label_difficulty = |c: &ConnStats| Difficulty::Share(c.difficulty);
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    let mut reports = Vec::new();
    for c in &conns {
        let backend = format!(
            "{EXTERNAL_PREFIX}{}",
            safe_name(c.user.as_deref().unwrap_or("anonymous"))
        );
        let d = label_difficulty(c);
        let label = match difficulty {
            DiffMode::Fixed(_) => d.label(),
            DiffMode::Vardiff { .. } => "vardiff".into(),
        };
        let case = Case {
            id: format!("{backend}/{EXTERNAL_SCHEDULER}/c{}/{label}", c.index),
            backend,
            scheduler: EXTERNAL_SCHEDULER.into(),
            threads: 1,
            difficulty: d,
            skip: None,
            batch: None,
        };
        // Whole windows from the connection's first accepted share to its close (or the stop).
        let Some(first_share) = c.shares.first().map(|s| s.at) else {
            skipped.push(SkippedCase {
                id: case.id.clone(),
                reason: format!(
                    "no accepted share ({} rejected; {})",
                    c.rejected_total(),
                    c.closed.as_deref().unwrap_or("open at stop")
                ),
            });
            continue;
        };
        let last = c.shares.last().map_or(end, |s| s.at);
        let until = if c.closed.is_some() { last } else { end };
        // Vardiff: skip the shares of the first seconds, at a difficulty not yet fitted.
        let settled = c
            .opened_at
            .map(|o| o + VARDIFF_SETTLE)
            .filter(|&s| matches!(difficulty, DiffMode::Vardiff { .. }) && s + window <= until);
        let first = settled.map_or(first_share, |s| s.max(first_share));
        let n = ((until - first).as_nanos() / window.as_nanos().max(1)) as u32;
        // A connection shorter than one window gets one window of its own length.
        let windows: Vec<(Instant, Instant)> = if n == 0 {
            if until <= first {
                skipped.push(SkippedCase {
                    id: case.id.clone(),
                    reason: "a single accepted share: no time span to derive a rate from".into(),
                });
                continue;
            }
            vec![(first, until)]
        } else {
            (0..n)
                .map(|k| (first + window * k, first + window * (k + 1)))
                .collect()
        };
        let inside = |at: Instant| windows.iter().any(|&(a, b)| at > a && at <= b);
        let samples: Vec<Sample> = windows
            .iter()
            .map(|&(a, b)| Sample {
                hashes: c
                    .shares
                    .iter()
                    .filter(|s| s.at > a && s.at <= b)
                    .map(|s| s.expected_hashes)
                    .sum::<f64>()
                    .round() as u64,
                elapsed_ns: (b - a).as_nanos() as u64,
                cpu_ns: None,
            })
            .collect();
        let times: Vec<Instant> = c
            .shares
            .iter()
            .map(|s| s.at)
            .filter(|&t| inside(t))
            .collect();
        let intervals = (times.len() > 1).then(|| {
            let mut h = latency::new_histogram();
            for p in times.windows(2) {
                let _ = h.record(((p[1] - p[0]).as_nanos() as u64).clamp(1, h.high()));
            }
            h
        });
        let secs: f64 = windows.iter().map(|(a, b)| (*b - *a).as_secs_f64()).sum();
        let total: f64 = samples.iter().map(|s| s.hashes as f64).sum();
        let per_share = if times.is_empty() {
            0.0
        } else {
            total / times.len() as f64
        };
        let weights: Vec<f64> = c
            .shares
            .iter()
            .filter(|s| inside(s.at))
            .map(|s| s.expected_hashes)
            .collect();
        let (lo, hi) = rate_ci95(&weights, secs);
        let stale = c.rejected.get("stale").copied().unwrap_or(0);
        let m = CaseMeasurement {
            case: case.clone(),
            samples,
            shares_found: times.len() as u64,
            share_intervals: intervals,
            workers: Vec::new(),
            threads: Vec::new(),
            // Clean switches inside the windows: notify written → first share of the new job.
            job_switches: switches
                .iter()
                .filter(|&&(_, at)| inside(at))
                .map(|&(generation, at)| crate::sched::JobSwitch {
                    job: generation,
                    broadcast_at: at,
                    worker_latency_ns: vec![crate::run::external::switch_latency(c, generation)],
                    stale_hashes: 0,
                })
                .collect(),
            stale_hashes: (stale as f64 * per_share).round() as u64,
            profile: None,
            expected_shares: None,
            device: None,
        };
        let mut cr = case_report(m, None)?;
        let ext = ExternalCase {
            name: c.user.clone().unwrap_or_default(),
            command: Vec::new(),
            version: c.agent.clone(),
            pid: 0,
            pool: PoolCaseStats {
                url: format!("stratum+tcp://{listen}"),
                connections: 1,
                difficulty: c.difficulty,
                accepted: c.accepted,
                rejected: c
                    .rejected
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                protocol_errors: c.protocol_errors,
                measured_shares: times.len() as u64,
                rate: total / secs,
                rate_ci95: [lo, hi],
                version_rolling: c.version_rolling.is_some(),
            },
            stale_shares: stale,
            exit: c
                .closed
                .clone()
                .unwrap_or_else(|| "connected at stop".into()),
            profile_unavailable: Some(
                "minebench pool does not see the miner's process: run it as an external: \
                 backend in a scenario for per-thread stats and a flamegraph"
                    .into(),
            ),
            output_tail: String::new(),
            profile_source: None,
            go: None,
        };
        crate::run::external::finish_report(&mut cr, ext, c.work());
        cases.push(case);
        reports.push(cr);
    }
    let backends: Vec<String> = {
        let mut b: Vec<String> = cases.iter().map(|c| c.backend.clone()).collect();
        b.dedup();
        b
    };
    let plan = Plan {
        name: "pool".into(),
        description: format!("minebench pool --listen {listen}"),
        source: "minebench pool".into(),
        work: WorkSpec {
            pool: None,
            header: HeaderSpec::Synthetic { seed: 1 },
            difficulty: Difficulty::Share(match difficulty {
                DiffMode::Fixed(d) => d,
                DiffMode::Vardiff { initial, .. } => initial,
            }),
        },
        measure: MeasureSpec {
            warmup_ns: 0,
            samples: reports
                .iter()
                .map(|r| r.samples.len() as u32)
                .max()
                .unwrap_or(0),
            sample: SampleSpec::DurationNs(window.as_nanos() as u64),
            batch: 1,
            job_interval_ns: job_interval.map(|i| i.as_nanos() as u64),
            pin_threads: false,
        },
        profile: ProfileSpec {
            flamegraph: false,
            frequency_hz: 997,
        },
        matrix: MatrixSpec {
            backend: backends,
            scheduler: vec![EXTERNAL_SCHEDULER.into()],
            threads: ThreadsSpec::List(vec![1]),
            difficulty: cases.iter().map(|c| c.difficulty.clone()).take(1).collect(),
            batch: Vec::new(),
            batch_by_backend: Default::default(),
        },
        cases,
        external: Default::default(),
    };
    Ok(Report {
        schema: crate::report::SCHEMA_VERSION.into(),
        minebench_version: env!("CARGO_PKG_VERSION").into(),
        scenario: plan,
        machine: Fingerprint::capture(),
        ceiling: None,
        started_at: clock::rfc3339(started),
        finished_at: clock::rfc3339(SystemTime::now()),
        wall_ns: (end - t0).as_nanos() as u64,
        interrupted,
        profiling: ProfilingInfo {
            enabled: false,
            frequency_hz: 997,
            overhead: None,
        },
        cases: reports,
        skipped,
        failed: Vec::new(),
        auto_calibration: None,
    })
}

/// The 95 % CI of a rate measured as Σ weights / `secs` over shares whose count is Poisson:
/// Garwood's exact interval when every share has the same weight (one difficulty), else the
/// normal approximation of the compound Poisson sum (variance Σ w²), because under vardiff a
/// few early high-difficulty shares carry much of the weight.
pub fn rate_ci95(weights: &[f64], secs: f64) -> (f64, f64) {
    let secs = secs.max(1e-9);
    let n = weights.len();
    let sum: f64 = weights.iter().sum();
    let same = weights
        .windows(2)
        .all(|w| (w[0] - w[1]).abs() <= 1e-9 * w[0].abs().max(w[1].abs()));
    if n == 0 || same {
        let per = if n == 0 { 0.0 } else { sum / n as f64 };
        let (lo, hi) = crate::report::stats::poisson_ci95(n as u64);
        return (lo * per / secs, hi * per / secs);
    }
    let sd = weights.iter().map(|w| w * w).sum::<f64>().sqrt();
    (
        ((sum - 1.96 * sd) / secs).max(0.0),
        (sum + 1.96 * sd) / secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_share_weights_widen_the_interval() {
        let equal = vec![1e6; 100];
        let (lo, hi) = rate_ci95(&equal, 10.0);
        // Garwood for n = 100: 81.36 .. 121.63 shares.
        assert!((lo / 1e5 - 81.36).abs() < 0.05 && (hi / 1e5 - 121.63).abs() < 0.05);
        // The same total, but a tenth of it in one share: wider.
        let mut mixed = vec![0.9e6 * 100.0 / 99.0; 99];
        mixed.push(1e7);
        let (mlo, mhi) = rate_ci95(&mixed, 10.0);
        assert!(mhi - mlo > hi - lo, "{mlo} {mhi} vs {lo} {hi}");
        assert_eq!(rate_ci95(&[], 1.0), (0.0, 0.0));
    }
}
