//! Executes a plan: for each case a scheduler session, warm-up, timed samples, job switches, and
//! the probes wired around the measured phase. Owns the clocks and Ctrl-C. Must not: format
//! output (it hands a `Report` to `render`).
//!
//! The report is rewritten (atomically) after every case, as hyperfine exports after every
//! benchmark: an interrupted or failed run still leaves the cases it finished.

pub mod clock;
pub mod external;
pub mod output;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};

use crate::live::{Live, PoolView};
use crate::pow::crosscheck::{self, Oracle};
use crate::pow::{Backend, BackendError, Work};
use crate::probe::ceiling::{self, Ceiling};
use crate::probe::latency;
use crate::probe::machine::Fingerprint;
use crate::probe::profiler::Profiler;
use crate::probe::threads::{thread_cpu_time_ns, ThreadSample};
use crate::probe::ProbeError;
use crate::registry::{Registry, Subject};
use crate::report::build::{case_report, fill_scaling, CaseMeasurement, ReportError};
use crate::report::{
    PoolClientCase, ProfilerOverhead, ProfilingInfo, Report, Sample, SkippedCase, SCHEMA_VERSION,
};
use crate::scenario::plan::{external_name, Case, Plan, SampleSpec};
use crate::sched::{self, FoundHit, SchedConfig, SchedError, Session};
use crate::stratum::feed::{Feed, FeedConfig};

/// How long the ceiling calibration runs before the cases.
const CEILING_CALIBRATION: Duration = Duration::from_millis(300);
/// Interleaved off/on rounds for the profiler-overhead measurement.
const OVERHEAD_ROUNDS: u32 = 3;
/// The longest the controller sleeps between checks (worker failure, Ctrl-C during warm-up).
/// It otherwise sleeps until its next event — a sample's deadline or a job switch — because
/// every wake-up can preempt a worker on a machine with as many workers as cores: with a fixed
/// 1 ms poll, the per-thread stats showed worker 0 preempted ~850 times per 2-thread case.
const MAX_NAP: Duration = Duration::from_millis(50);
/// Job switches per case at most: every switch is kept (broadcast time, per-worker latency and
/// stale work) until the case ends, so this bounds a case's memory (about 100 MB) whatever the
/// interval and the case's length.
const MAX_JOB_SWITCHES: u64 = 1_000_000;
/// How often a case's counters go to the live metrics.
const LIVE_EVERY: Duration = Duration::from_millis(100);
/// The longest a share found in a pool case waits before it is submitted.
const POOL_NAP: Duration = Duration::from_millis(20);
/// How long the end of a pool case waits for the answers to its last shares.
const POOL_SETTLE: Duration = Duration::from_secs(2);
/// Shortest nap while waiting for a nonce count (the finish time is estimated from the rate).
const MIN_NAP: Duration = Duration::from_micros(200);

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Reports root; the run writes `<out_root>/<scenario>-<UTC stamp>/`.
    pub out_root: PathBuf,
    /// False with `--no-profile`: no pprof, no overhead measurement.
    pub profile: bool,
    /// Calibrate the single-core ceiling first (300 ms).
    pub calibrate: bool,
    /// The crate under test, recorded in the report's fingerprint (see `Registry::for_crate`).
    pub subject: Option<Subject>,
    /// `--metrics`: where the cases publish what they measure while they run.
    pub live: Option<Arc<Live>>,
    /// How `auto` was chosen for this run (recorded in the report).
    pub auto_calibration: Option<crate::pow::calibrate::AutoCalibration>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot create the report directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("case {case}: {source}")]
    Sched { case: String, source: SchedError },
    #[error("case {case}: {source}")]
    Backend { case: String, source: BackendError },
    #[error("case {case}: profiler: {source}")]
    Profile { case: String, source: ProbeError },
    /// The pool feed failed during the case: the case fails, the run goes on.
    #[error("case {case}: pool {message}")]
    Pool { case: String, message: String },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// What a finished (or interrupted) run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: Report,
    pub dir: PathBuf,
    pub report_path: PathBuf,
}

/// The first terminating signal received (0: none yet).
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Installs the signal handling of a run, once: the first SIGINT (Ctrl-C), SIGTERM or SIGHUP
/// asks the run to stop at once — the current sample is dropped, the report of the finished
/// cases is written (marked interrupted) and rendered; a second one exits at once with
/// 128 + its number, leaving the report on disk, which already says interrupted.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    let installed =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).and_then(|mut signals| {
            std::thread::Builder::new()
                .name("minebench-signals".into())
                .spawn(move || {
                    for sig in signals.forever() {
                        if handler_flag.swap(true, Ordering::SeqCst) {
                            crate::note!(
                                "\n{}: second signal, exiting now; report.json says \
                                 interrupted, its HTML may be missing (`minebench render` \
                                 draws it)",
                                signal_name(sig)
                            );
                            external::kill_all();
                            std::process::exit(128 + sig);
                        }
                        FIRST_SIGNAL.store(sig, Ordering::SeqCst);
                        crate::note!(
                            "\ninterrupted ({}): dropping the current sample, then writing the \
                             report (again to exit at once)",
                            signal_name(sig)
                        );
                    }
                })
                .map(drop)
        });
    if let Err(e) = installed {
        crate::note!("warning: signal handler not installed ({e}); Ctrl-C will kill the run");
    }
    flag
}

/// The exit status of an interrupted run: 128 + the first signal's number (130 for SIGINT, 143
/// for SIGTERM, 129 for SIGHUP), as a shell reports a process killed by it.
pub fn interrupt_exit_code() -> u8 {
    match FIRST_SIGNAL.load(Ordering::SeqCst) {
        sig @ 1..=127 => 128 + sig as u8,
        _ => 130,
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// Creates the run's directory (and the reports root). Called before any hashing so an
/// unwritable `--out` fails fast with nothing measured.
pub fn create_run_dir(
    out_root: &Path,
    plan: &Plan,
    started: SystemTime,
) -> Result<PathBuf, RunError> {
    let base = format!("{}-{}", plan.name, clock::compact(started));
    let mut dir = out_root.join(&base);
    // Two runs of one scenario in the same second get distinct directories.
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = out_root.join(format!("{base}-{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(|source| RunError::CreateDir {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// Runs every case of `plan`, writing `dir/report.json` after each.
pub fn execute(
    registry: &Registry,
    plan: &Plan,
    opts: &RunOptions,
    dir: &Path,
    started: SystemTime,
    stop: &AtomicBool,
) -> Result<RunOutcome, RunError> {
    let t_start = Instant::now();
    let report_path = dir.join("report.json");
    let profiling = opts.profile && plan.profile.flamegraph;
    let ceiling: Option<Ceiling> = opts
        .calibrate
        .then(|| ceiling::calibrate(CEILING_CALIBRATION));
    let mut report = Report {
        schema: SCHEMA_VERSION.to_string(),
        minebench_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: plan.clone(),
        machine: Fingerprint {
            subject: opts.subject.clone(),
            ..Fingerprint::capture()
        },
        ceiling,
        started_at: clock::rfc3339(started),
        finished_at: clock::rfc3339(started),
        wall_ns: 0,
        interrupted: false,
        profiling: ProfilingInfo {
            enabled: profiling,
            frequency_hz: plan.profile.frequency_hz,
            overhead: None,
        },
        cases: Vec::new(),
        skipped: plan
            .cases
            .iter()
            .filter_map(|c| {
                c.skip.as_ref().map(|r| SkippedCase {
                    id: c.id.clone(),
                    reason: r.clone(),
                })
            })
            .collect(),
        failed: Vec::new(),
        auto_calibration: opts.auto_calibration.clone(),
    };
    for s in &report.skipped {
        crate::note!("skipped {}: {}", s.id, s.reason);
    }
    // Until the run ends, the report on disk says `interrupted`: a run ended by a second
    // signal, SIGKILL or a crash leaves a report that is honest about being incomplete.
    let write_unfinished = |report: &mut Report| {
        report.interrupted = true;
        let written = output::write_report(&report_path, report);
        report.interrupted = false;
        written
    };
    write_unfinished(&mut report)?;

    // No number for a wrong backend or scheduler: each is cross-checked against the reference
    // before anything is timed, and the cases of one that disagrees fail without a rate.
    let t_preflight = Instant::now();
    report.failed = preflight(registry, plan, stop);
    crate::note!(
        "pre-flight cross-check against the reference: {:.0} ms",
        t_preflight.elapsed().as_secs_f64() * 1e3
    );
    for f in &report.failed {
        crate::note!("failed {}: {}", f.id, f.reason);
    }
    write_unfinished(&mut report)?;
    let runnable: Vec<&Case> = plan
        .cases
        .iter()
        .filter(|c| c.skip.is_none() && !report.failed.iter().any(|f| f.id == c.id))
        .collect();
    let bar = ProgressBar::new(runnable.len() as u64 * u64::from(plan.measure.samples));
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} samples  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut measure_overhead = profiling;
    let mut feed: Option<Feed> = None;
    for case in runnable {
        if stop.load(Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        bar.set_message(case.id.clone());
        if let Some(name) = external_name(&case.backend) {
            let Some(spec) = plan.external.get(name) else {
                report.failed.push(SkippedCase {
                    id: case.id.clone(),
                    reason: format!("no [external.{name}] table in the plan"),
                });
                continue;
            };
            let ectx = external::ExternalContext {
                plan,
                dir,
                profiling,
                stop,
            };
            match external::run_case(case, name, spec, &ectx) {
                external::ExternalOutcome::Measured(m, ext, work) => {
                    let mut cr = case_report(*m, report.ceiling.as_ref())?;
                    external::finish_report(&mut cr, *ext, work);
                    bar.inc(u64::from(plan.measure.samples));
                    bar.suspend(|| print_case_line(&cr));
                    report.cases.push(cr);
                    fill_scaling(&mut report.cases);
                }
                external::ExternalOutcome::Interrupted => {
                    report.interrupted = true;
                    break;
                }
                external::ExternalOutcome::Failed(reason) => {
                    bar.suspend(|| crate::note!("failed {}: {reason}", case.id));
                    report.failed.push(SkippedCase {
                        id: case.id.clone(),
                        reason,
                    });
                }
            }
            report.finished_at = clock::rfc3339(SystemTime::now());
            report.wall_ns = t_start.elapsed().as_nanos() as u64;
            write_unfinished(&mut report)?;
            continue;
        }
        // A pool feed: connected before the first case, reconnected when it died.
        if let Some(pool) = &plan.work.pool {
            if feed.as_ref().is_none_or(|f| f.failure().is_some()) {
                feed = None;
                let cfg = FeedConfig::new(&pool.url, &pool.user, &pool.password);
                match Feed::connect(cfg) {
                    Ok(f) => {
                        bar.suspend(|| {
                            crate::note!(
                                "pool {}: mining as {}, share difficulty {}",
                                f.url(),
                                f.user(),
                                f.difficulty().unwrap_or(0.0)
                            )
                        });
                        feed = Some(f);
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        bar.suspend(|| crate::note!("failed {}: {reason}", case.id));
                        report.failed.push(SkippedCase {
                            id: case.id.clone(),
                            reason,
                        });
                        write_unfinished(&mut report)?;
                        continue;
                    }
                }
            }
        }
        let ctx = CaseContext {
            registry,
            plan,
            dir,
            profiling,
            measure_overhead,
            stop,
            bar: &bar,
            feed: feed.as_ref(),
            live: opts.live.as_ref(),
        };
        let measured = match run_case(case, &ctx) {
            Err(RunError::Pool { case: id, message }) => {
                let reason = format!("pool {message}");
                bar.suspend(|| crate::note!("failed {id}: {reason}"));
                report.failed.push(SkippedCase { id, reason });
                write_unfinished(&mut report)?;
                continue;
            }
            other => other?,
        };
        let Some((m, overhead, pool_client)) = measured else {
            report.interrupted = true;
            break;
        };
        if overhead.is_some() {
            report.profiling.overhead = overhead;
            measure_overhead = false;
        }
        let mut cr = case_report(m, report.ceiling.as_ref())?;
        cr.pool_client = pool_client;
        bar.suspend(|| print_case_line(&cr));
        report.cases.push(cr);
        fill_scaling(&mut report.cases);
        report.finished_at = clock::rfc3339(SystemTime::now());
        report.wall_ns = t_start.elapsed().as_nanos() as u64;
        write_unfinished(&mut report)?;
    }
    bar.finish_and_clear();
    if stop.load(Ordering::SeqCst) {
        report.interrupted = true;
    }
    report.finished_at = clock::rfc3339(SystemTime::now());
    report.wall_ns = t_start.elapsed().as_nanos() as u64;
    output::write_report(&report_path, &report)?;
    Ok(RunOutcome {
        report,
        dir: dir.to_path_buf(),
        report_path,
    })
}

/// One line per finished case: its median rate and CI (an external miner's from its shares).
fn print_case_line(cr: &crate::report::CaseReport) {
    let from = match &cr.external {
        Some(e) => format!(
            "  from {} verified shares; {} rejected",
            e.pool.measured_shares,
            e.pool.rejected.values().sum::<u64>()
        ),
        None => match &cr.pool_client {
            Some(p) => format!(
                "  pool: {} accepted, {} rejected, {} unanswered",
                p.accepted,
                p.rejected.values().sum::<u64>(),
                p.unanswered
            ),
            None => String::new(),
        },
    };
    crate::note!(
        "{:<40} {:>9.2} MH/s  (CI {:.2}..{:.2}, cv {:.1} %){from}",
        cr.id,
        cr.hash_rate.median / 1e6,
        cr.hash_rate.ci95_low / 1e6,
        cr.hash_rate.ci95_high / 1e6,
        cr.hash_rate.cv * 100.0
    )
}

/// The pre-flight cross-check of every backend and every (scheduler, threads) pair the plan
/// will time, against the reference: the cases of one that disagrees are returned as failed,
/// with the backend or scheduler and the first differing nonce in the reason. A backend that
/// cannot be made (its factory refused) fails its cases the same way.
fn preflight(registry: &Registry, plan: &Plan, stop: &AtomicBool) -> Vec<SkippedCase> {
    // External miners are not cross-checked here: the pool re-verifies every share they send.
    let runnable: Vec<&Case> = plan
        .cases
        .iter()
        .filter(|c| c.skip.is_none() && external_name(&c.backend).is_none())
        .collect();
    let mut oracle = Oracle::new();
    let mut verdicts: Vec<(String, Option<String>)> = Vec::new();
    let mut failed = Vec::new();
    let mut fail = |case: &Case, reason: &str| {
        if !failed.iter().any(|f: &SkippedCase| f.id == case.id) {
            failed.push(SkippedCase {
                id: case.id.clone(),
                reason: reason.to_string(),
            });
        }
    };
    for case in &runnable {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let key = format!("backend {}", case.backend);
        let verdict = match verdicts.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => v.clone(),
            None => {
                let v = match registry.backend(&case.backend) {
                    Err(e) => Some(e.to_string()),
                    Ok(backend) => crosscheck::preflight(backend.as_ref(), &mut oracle)
                        .err()
                        .map(|m| {
                            format!(
                                "backend {} disagrees with the reference in the pre-flight \
                                 cross-check: {m}",
                                case.backend
                            )
                        }),
                };
                verdicts.push((key, v.clone()));
                v
            }
        };
        if let Some(reason) = verdict {
            fail(case, &reason);
        }
    }
    // Schedulers are checked with the reference backend (correct by definition), so a failure
    // is the scheduler's own.
    let reference: Arc<dyn Backend> = Arc::new(crate::pow::reference::Reference);
    for case in &runnable {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let key = format!("scheduler {} t{}", case.scheduler, case.threads);
        let verdict = match verdicts.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => v.clone(),
            None => {
                let v = match registry.scheduler(&case.scheduler) {
                    Err(e) => Some(e.to_string()),
                    Ok(scheduler) => crosscheck::preflight_scheduler(
                        scheduler.as_ref(),
                        Arc::clone(&reference),
                        case.threads,
                        plan.measure.batch,
                        &mut oracle,
                    )
                    .err()
                    .map(|m| {
                        format!(
                            "scheduler {} disagrees with the reference in the pre-flight \
                             cross-check: {m}",
                            case.scheduler
                        )
                    }),
                };
                verdicts.push((key, v.clone()));
                v
            }
        };
        if let Some(reason) = verdict {
            fail(case, &reason);
        }
    }
    failed
}

struct CaseContext<'a> {
    registry: &'a Registry,
    plan: &'a Plan,
    dir: &'a Path,
    profiling: bool,
    measure_overhead: bool,
    stop: &'a AtomicBool,
    bar: &'a ProgressBar,
    /// The pool the case takes its jobs from (`[work] pool`), connected.
    feed: Option<&'a Feed>,
    live: Option<&'a Arc<Live>>,
}

/// Broadcasts a new job every `interval` while a session runs; with a pool, the pool's feed
/// switches jobs itself and this sends the session's shares to it.
struct JobClock<'a> {
    interval: Option<Duration>,
    next_at: Instant,
    next_id: u64,
    work: Work,
    pool: Option<PoolShares<'a>>,
    live: Option<LiveCase<'a>>,
}

/// A case's live metrics: pushed at most every [`LIVE_EVERY`] from the controller.
struct LiveCase<'a> {
    live: &'a Live,
    case: String,
    /// Verified hits so far (a case without a pool publishes them as `found`).
    found: u64,
    last: Option<Instant>,
}

/// A pool case's share path: every hit re-verified with the reference, then submitted.
struct PoolShares<'a> {
    feed: &'a Feed,
    backend: String,
    /// Hits already looked at.
    seen: usize,
    /// Σ hashes × P(hit) at the target in force when they were counted: the shares expected,
    /// as the pool's difficulty moves (updated at every wake-up of the controller).
    expected: f64,
    /// The session's hash count at the last update.
    counted: u64,
}

impl JobClock<'_> {
    /// Submits the hits not seen yet (those the reference confirms; a bad one is left for
    /// `verify_new` to fail the case with).
    fn submit(&mut self, hits: &[FoundHit]) {
        let Some(p) = self.pool.as_mut() else {
            return;
        };
        for hit in &hits[p.seen.min(hits.len())..] {
            if hit.verify(&p.backend).is_ok() {
                p.feed.submit(hit);
            }
        }
        p.seen = hits.len();
    }

    /// Publishes the case's counters to the live metrics (`new_hits` hits were just drained);
    /// at most every [`LIVE_EVERY`] unless `force`.
    fn publish(&mut self, session: &Session, new_hits: usize, force: bool) {
        let Some(l) = self.live.as_mut() else {
            return;
        };
        l.found += new_hits as u64;
        let now = Instant::now();
        if !force && l.last.is_some_and(|t| now - t < LIVE_EVERY) {
            return;
        }
        l.last = Some(now);
        l.live.hashes(&l.case, &session.per_worker_hashes());
        let mut counts = std::collections::BTreeMap::new();
        match &self.pool {
            Some(p) => {
                let peek = p.feed.peek();
                counts.insert("accepted".to_string(), peek.accepted);
                for (reason, n) in &peek.rejected {
                    counts.insert(format!("rejected_{reason}"), *n);
                }
                l.live.pool(
                    &l.case,
                    PoolView {
                        url: p.feed.url().to_string(),
                        connected_at: peek.connected_at,
                        difficulty: peek.difficulty,
                        accepted: peek.accepted,
                        rejected: peek.rejected.values().sum(),
                        ping_ms: peek.last_ping_ns.map(|ns| ns as f64 / 1e6),
                        failures: peek.reconnects,
                    },
                );
            }
            None => {
                counts.insert("found".to_string(), l.found);
            }
        }
        l.live.shares(&l.case, &counts);
    }

    /// Brings the expected share count up to the hashes done now, at the session's current
    /// target (a switch between two wake-ups costs at most one wake-up's hashes of accuracy).
    fn account(&mut self, session: &Session) {
        self.account_to(session, session.hashes());
    }

    /// [`JobClock::account`] up to `now`, a hash count just read (a sample's ends use their own
    /// reading, so the window's expected shares cover exactly its hashes).
    fn account_to(&mut self, session: &Session, now: u64) {
        let Some(p) = self.pool.as_mut() else {
            return;
        };
        let p_hit = session.current_target().hit_probability();
        p.expected += now.saturating_sub(p.counted) as f64 * p_hit;
        p.counted = now;
    }

    /// The expected share count so far (0 without a pool).
    fn expected(&self) -> f64 {
        self.pool.as_ref().map_or(0.0, |p| p.expected)
    }

    /// Why the pool feed stopped working, if it did.
    fn pool_failure(&self) -> Option<String> {
        self.pool.as_ref().and_then(|p| p.feed.failure())
    }

    /// Time until the next scheduled switch (forever when jobs do not switch).
    fn until_next(&self, now: Instant) -> Duration {
        match (self.interval, &self.pool) {
            // Shares wait for the next wake-up before they go to the pool.
            (_, Some(_)) => POOL_NAP,
            (Some(_), None) => self.next_at.saturating_duration_since(now),
            (None, None) => Duration::MAX,
        }
    }

    /// Broadcasts at most one job per call. A controller that fell behind (a descheduled
    /// thread) skips the missed switches instead of firing them in a burst: a burst measures
    /// nothing, and an interval shorter than one wake-up would never catch up.
    fn tick(&mut self, session: &Session, now: Instant) {
        let Some(interval) = self.interval else {
            return;
        };
        if now < self.next_at || self.next_id > MAX_JOB_SWITCHES {
            return;
        }
        let header = self.work.header.next_job(self.next_id);
        session.switch_job(Work::new(header, self.work.target));
        self.next_id += 1;
        self.next_at += interval;
        if self.next_at <= now {
            self.next_at = now + interval;
        }
        if self.next_id > MAX_JOB_SWITCHES {
            crate::note!(
                "job switches stop after {MAX_JOB_SWITCHES} in this case (each is recorded; \
                 the memory of a case stays bounded)"
            );
        }
    }
}

enum Until {
    Deadline(Instant),
    Hashes(u64),
}

/// Keeps the session company until `until`: switches jobs on time and collects hits. Returns
/// false if a worker failed (the caller then calls `finish` to get the error).
fn wait(
    session: &Session,
    until: Until,
    jobs: &mut JobClock,
    hits: &mut Vec<FoundHit>,
    stop: Option<&AtomicBool>,
) -> bool {
    let started = Instant::now();
    let h_start = session.hashes();
    loop {
        if session.failed() {
            return false;
        }
        let now = Instant::now();
        jobs.tick(session, now);
        let before = hits.len();
        hits.extend(session.drain_hits());
        jobs.submit(hits);
        jobs.account(session);
        jobs.publish(session, hits.len() - before, false);
        if jobs.pool_failure().is_some() {
            return false;
        }
        let done = match until {
            Until::Deadline(d) => now >= d,
            Until::Hashes(n) => session.hashes() >= n,
        };
        if done || stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            return true;
        }
        let nap = match until {
            Until::Deadline(d) => d.saturating_duration_since(now),
            Until::Hashes(n) => {
                // Sleep for about half the estimated remaining time at the rate so far.
                let done = session.hashes().saturating_sub(h_start).max(1);
                let left = n.saturating_sub(h_start + done) as f64;
                let per_hash = (now - started).as_secs_f64() / done as f64;
                Duration::from_secs_f64((left * per_hash / 2.0).min(MAX_NAP.as_secs_f64()))
                    .max(MIN_NAP)
            }
        };
        let nap = nap.min(jobs.until_next(now)).min(MAX_NAP);
        std::thread::sleep(nap);
    }
}

/// Re-hashes `hits[*done..]` with the reference SHA-256d and advances `done`. The session
/// defers verification to this thread (`SchedConfig::defer_verification`), which calls this
/// between samples, so the reference's cost is not inside a measured window; a bad hit still
/// fails the case.
fn verify_new(hits: &[FoundHit], done: &mut usize, backend: &str) -> Result<(), BackendError> {
    for hit in &hits[*done..] {
        hit.verify(backend)?;
    }
    *done = hits.len();
    Ok(())
}

/// The CPU time of all `tids` together; None if any clock cannot be read (a worker exited).
fn workers_cpu_ns(tids: &[i32]) -> Option<u64> {
    if tids.is_empty() {
        return None;
    }
    tids.iter().map(|&t| thread_cpu_time_ns(t)).sum()
}

/// One sample window: `(sample, start, end, shares expected in it at the pool's targets)`;
/// None when a worker failed or the run was interrupted (`stop`) before the window closed: a
/// cut-short sample is dropped, never kept.
fn sample(
    session: &Session,
    tids: &[i32],
    spec: &SampleSpec,
    jobs: &mut JobClock,
    hits: &mut Vec<FoundHit>,
    stop: &AtomicBool,
) -> Option<(Sample, Instant, Instant, f64)> {
    let cpu0 = workers_cpu_ns(tids);
    let h0 = session.hashes();
    jobs.account_to(session, h0);
    let e0 = jobs.expected();
    let t0 = Instant::now();
    let until = match *spec {
        SampleSpec::DurationNs(ns) => Until::Deadline(t0 + Duration::from_nanos(ns)),
        SampleSpec::Nonces(n) => Until::Hashes(h0 + n),
    };
    if !wait(session, until, jobs, hits, Some(stop)) || stop.load(Ordering::SeqCst) {
        return None;
    }
    let h1 = session.hashes();
    jobs.account_to(session, h1);
    let window_expected = jobs.expected() - e0;
    let t1 = Instant::now();
    let cpu1 = workers_cpu_ns(tids);
    let s = Sample {
        hashes: h1 - h0,
        elapsed_ns: (t1 - t0).as_nanos().max(1) as u64,
        cpu_ns: cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a)),
    };
    Some((s, t0, t1, window_expected))
}

type CaseResult = Option<(
    CaseMeasurement,
    Option<ProfilerOverhead>,
    Option<PoolClientCase>,
)>;

/// What the pool did with a case's shares (waits up to [`POOL_SETTLE`] for the last answers).
fn pool_client_case(feed: &Feed, wall: Duration) -> PoolClientCase {
    let stats = feed.take_stats(POOL_SETTLE);
    // Pools say "stale" or "job not found" (after a clean switch forgot the job) for the same
    // thing: work on a job the pool no longer takes.
    let stale = ["stale", "job_not_found"]
        .iter()
        .map(|r| stats.rejected.get(*r).copied().unwrap_or(0))
        .sum::<u64>();
    let submit_latency = if stats.submit_latency_ns.is_empty() {
        None
    } else {
        latency::summarize(&stats.submit_latency_ns).ok()
    };
    PoolClientCase {
        url: feed.url().to_string(),
        user: feed.user().to_string(),
        difficulty: stats.difficulties.clone(),
        jobs: stats.jobs,
        clean_jobs: stats.clean_jobs,
        submitted: stats.submitted,
        accepted: stats.accepted,
        rejected: stats.rejected.clone(),
        unanswered: stats.unanswered,
        not_sent: stats.not_sent,
        reconnects: stats.reconnects,
        submit_latency,
        stale_fraction: stale as f64 / stats.submitted.max(1) as f64,
        credited_hashes_per_sec: stats.accepted_work / wall.as_secs_f64().max(1e-9),
    }
}

fn run_case(case: &Case, ctx: &CaseContext<'_>) -> Result<CaseResult, RunError> {
    let plan = ctx.plan;
    let id = case.id.clone();
    let backend: Arc<dyn Backend> =
        ctx.registry
            .backend(&case.backend)
            .map_err(|source| RunError::Backend {
                case: id.clone(),
                source,
            })?;
    let scheduler = ctx
        .registry
        .scheduler(&case.scheduler)
        .map_err(|e| RunError::Sched {
            case: id.clone(),
            source: SchedError::Config(e.to_string()),
        })?;
    let pool_err = |message: String| RunError::Pool {
        case: id.clone(),
        message,
    };
    // With a pool, the first header of its latest job (a fresh extranonce2) and its roller.
    let (work, pool_start) = match ctx.feed {
        Some(feed) => {
            let job = feed.latest().map_err(&pool_err)?;
            let (work, roller) = feed.work_for(&job);
            // What happened before this case is not this case's.
            let _ = feed.take_stats(Duration::ZERO);
            (work, Some((job, roller)))
        }
        None => (
            Work::new(plan.work.header.header(), case.difficulty.target()),
            None,
        ),
    };
    let cfg = SchedConfig {
        threads: case.threads,
        batch: case.batch_or(&plan.measure),
        pin_threads: plan.measure.pin_threads,
        // Hits are verified by this thread between samples (`verify_new`), off the clock.
        defer_verification: true,
    };
    let sched_err = |source| RunError::Sched {
        case: id.clone(),
        source,
    };
    let backend_err = |source| RunError::Backend {
        case: id.clone(),
        source,
    };
    // The backend's own view of its device, asked for once the session has finished.
    let device_probe = Arc::clone(&backend);
    let case_started = Instant::now();
    let session = match &pool_start {
        Some((_, roller)) => sched::start_rolled(&scheduler, backend, work, roller.clone(), &cfg),
        None => sched::start(&scheduler, backend, work, &cfg),
    }
    .map_err(sched_err)?;
    if let (Some(feed), Some((first, _))) = (ctx.feed, &pool_start) {
        // From now on the feed's reader switches the session's job the moment a notify arrives.
        let switcher = session.switcher();
        let sink: crate::stratum::feed::JobSink = Box::new(move |job, work, roller| {
            switcher.switch_job_rolled(work, roller, job.arrived);
        });
        if let Some(latest) = feed.attach(Some(sink)) {
            if latest.generation != first.generation {
                let (work, roller) = feed.work_for(&latest);
                session.switch_job_rolled(work, roller, latest.arrived);
            }
        }
    }
    let mut jobs = JobClock {
        // A pool decides when jobs change.
        interval: plan
            .measure
            .job_interval_ns
            .filter(|_| ctx.feed.is_none())
            .map(Duration::from_nanos),
        next_at: Instant::now() + Duration::from_nanos(plan.measure.job_interval_ns.unwrap_or(0)),
        next_id: 1,
        work,
        pool: ctx.feed.map(|feed| PoolShares {
            feed,
            backend: case.backend.clone(),
            seen: 0,
            expected: 0.0,
            counted: 0,
        }),
        live: ctx.live.map(|live| LiveCase {
            live: live.as_ref(),
            case: id.clone(),
            found: 0,
            last: None,
        }),
    };
    if let Some(live) = ctx.live {
        live.begin_case(&id, &case.backend, &case.scheduler, case.threads);
        session.set_tap(live.tap(&id));
        if let Some(feed) = ctx.feed {
            let (live, case_id) = (Arc::clone(live), id.clone());
            feed.set_latency_tap(Some(Box::new(move |ns| live.submit_latency(&case_id, ns))));
        }
    }
    let mut expected_shares = 0.0;
    let mut hits = Vec::new();

    // Warm-up: caches, clocks and the scheduler settle; nothing is recorded.
    let warm = Until::Deadline(Instant::now() + Duration::from_nanos(plan.measure.warmup_ns));
    let mut ok = wait(&session, warm, &mut jobs, &mut hits, Some(ctx.stop));
    verify_new(&hits, &mut 0, &case.backend).map_err(backend_err)?;
    hits.clear();
    if let Some(p) = jobs.pool.as_mut() {
        p.seen = 0;
    }
    let mut verified = 0;

    let tids = session.worker_tids();
    let before: Vec<Result<ThreadSample, String>> = tids
        .iter()
        .map(|&t| ThreadSample::capture(t).map_err(|e| e.to_string()))
        .collect();
    let profile_err = |source| RunError::Profile {
        case: id.clone(),
        source,
    };
    let profiler = if ctx.profiling && ok {
        Some(Profiler::start(plan.profile.frequency_hz).map_err(profile_err)?)
    } else {
        None
    };
    let profile_h0 = session.hashes();

    let mut samples = Vec::new();
    let mut windows = Vec::new();
    for _ in 0..plan.measure.samples {
        if !ok || ctx.stop.load(Ordering::SeqCst) {
            break;
        }
        let sampled = sample(
            &session,
            &tids,
            &plan.measure.sample,
            &mut jobs,
            &mut hits,
            ctx.stop,
        );
        // Between samples, off the clock: the window's hits re-hashed by the reference.
        verify_new(&hits, &mut verified, &case.backend).map_err(backend_err)?;
        match sampled {
            Some((s, t0, t1, window_expected)) => {
                expected_shares += window_expected;
                samples.push(s);
                windows.push((t0, t1));
                ctx.bar.inc(1);
            }
            None => ok = false,
        }
    }
    if let Some(why) = jobs.pool_failure() {
        return Err(pool_err(why));
    }
    let profile = match profiler {
        Some(p) => Some((
            // Hot lines over this case's workers only.
            p.finish_focused(&tids).map_err(profile_err)?,
            session.hashes() - profile_h0,
        )),
        None => None,
    };

    // Profiler overhead: interleave off/on windows in this same session so drift cancels.
    let mut overhead = None;
    if ok && ctx.measure_overhead && samples.len() == plan.measure.samples as usize {
        let mut off = Vec::new();
        let mut on = Vec::new();
        let mut scratch = Vec::new();
        let mut scratch_verified = 0;
        for _ in 0..OVERHEAD_ROUNDS {
            for profiled in [false, true] {
                let profiler = match profiled {
                    true => Some(Profiler::start(plan.profile.frequency_hz).map_err(profile_err)?),
                    false => None,
                };
                let sampled = sample(
                    &session,
                    &tids,
                    &plan.measure.sample,
                    &mut jobs,
                    &mut scratch,
                    ctx.stop,
                );
                if let Some(p) = profiler {
                    p.finish().map_err(profile_err)?;
                }
                verify_new(&scratch, &mut scratch_verified, &case.backend).map_err(backend_err)?;
                if let Some((s, _, _, _)) = sampled {
                    let rates = if profiled { &mut on } else { &mut off };
                    rates.push(s.hashes_per_sec());
                }
            }
        }
        if let (Some(without), Some(with)) = (
            crate::report::stats::median(&off),
            crate::report::stats::median(&on),
        ) {
            overhead = Some(ProfilerOverhead {
                case_id: id.clone(),
                rounds: OVERHEAD_ROUNDS,
                with_profiler_hashes_per_sec: with,
                without_profiler_hashes_per_sec: without,
                overhead_pct: 100.0 * (1.0 - with / without.max(f64::MIN_POSITIVE)),
            });
        }
    }

    let after: Vec<Result<ThreadSample, String>> = tids
        .iter()
        .map(|&t| ThreadSample::capture(t).map_err(|e| e.to_string()))
        .collect();
    if let Some(feed) = ctx.feed {
        feed.attach(None);
    }
    let drained_from = hits.len();
    hits.extend(session.drain_hits());
    jobs.publish(&session, hits.len() - drained_from, true);
    let mut outcome = session.finish().map_err(sched_err)?;
    // The last batches' hits (after the case's windows: no share count changes).
    hits.append(&mut outcome.late_hits);
    verify_new(&hits, &mut verified, &case.backend).map_err(backend_err)?;
    let case_wall = case_started.elapsed();
    let pool_client = match ctx.feed {
        Some(feed) => {
            jobs.submit(&hits);
            if let Some(why) = feed.failure() {
                return Err(pool_err(why));
            }
            let pc = pool_client_case(feed, case_wall);
            feed.set_latency_tap(None);
            Some(pc)
        }
        None => None,
    };
    if let Some(live) = ctx.live {
        live.end_case(&id);
    }
    if samples.len() < plan.measure.samples as usize {
        return Ok(None); // interrupted inside this case: only finished cases are reported
    }

    let threads = before
        .iter()
        .zip(&after)
        .map(|(b, a)| match (b, a) {
            (Ok(b), Ok(a)) => Ok(b.delta(a)),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        })
        .collect();

    // Shares: hits found inside the sample windows; intervals between consecutive ones.
    let in_window = |at: Instant| windows.iter().any(|&(t0, t1)| at >= t0 && at <= t1);
    let mut share_times: Vec<Instant> = hits
        .iter()
        .map(|h| h.at)
        .filter(|&at| in_window(at))
        .collect();
    share_times.sort();
    let share_intervals = (share_times.len() > 1).then(|| {
        let mut h = latency::new_histogram();
        for pair in share_times.windows(2) {
            let ns = (pair[1] - pair[0]).as_nanos() as u64;
            let _ = h.record(ns.clamp(1, h.high()));
        }
        h
    });

    let artefacts = match profile {
        Some((cpu, hashes)) => Some(output::write_profile(ctx.dir, &id, &cpu, hashes)?),
        None => None,
    };
    let m = CaseMeasurement {
        case: case.clone(),
        samples,
        shares_found: share_times.len() as u64,
        share_intervals,
        workers: outcome.workers,
        threads,
        job_switches: outcome.job_switches,
        stale_hashes: outcome.stale_hashes,
        profile: artefacts,
        expected_shares: ctx.feed.map(|_| expected_shares),
        device: device_probe.device_stats(),
    };
    Ok(Some((m, overhead, pool_client)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::{scan_verified, sha2_midstate::Sha2Midstate, Header, NonceRange, Target};

    /// Real hits of a header at zero_bits 8, as the session would publish them.
    fn found(n: u64) -> Vec<FoundHit> {
        let work = Work::new(Header::synthetic(9), Target::from_zero_bits(8).unwrap());
        let scanned = scan_verified(&Sha2Midstate, &work, NonceRange::new(0, n).unwrap()).unwrap();
        let at = Instant::now();
        scanned
            .hits
            .into_iter()
            .map(|hit| FoundHit {
                hit,
                job: 0,
                extranonce: 0,
                header: work.header,
                target: work.target,
                at,
                worker: 0,
            })
            .collect()
    }

    #[test]
    fn verify_new_checks_each_hit_once_and_catches_a_bad_one() {
        let mut hits = found(20_000);
        assert!(hits.len() > 20, "{}", hits.len());
        let mut done = 0;
        verify_new(&hits[..10], &mut done, "sha2-midstate").unwrap();
        assert_eq!(done, 10);
        verify_new(&hits, &mut done, "sha2-midstate").unwrap();
        assert_eq!(done, hits.len());
        // A corrupted hash after the verified prefix is found; one inside it is not re-checked.
        hits[0].hit.hash[0] ^= 1;
        verify_new(&hits, &mut done, "sha2-midstate").unwrap();
        let last = hits.len() - 1;
        hits[last].hit.hash[31] ^= 1;
        hits.push(hits[last].clone());
        let err = verify_new(&hits, &mut done, "sha2-midstate").unwrap_err();
        assert!(matches!(err, BackendError::BadHit { .. }), "{err}");
        let mut from_start = 0;
        assert!(verify_new(&hits, &mut from_start, "sha2-midstate").is_err());
    }
}
