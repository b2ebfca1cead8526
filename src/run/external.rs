//! An `external:NAME` case: a miner program measured black-box through minebench's own
//! loopback stratum pool.
//!
//! Per case: a fresh pool on 127.0.0.1 at the case's difficulty; the miner started in its own
//! process group with `{pool_url}` and friends filled in; wait until it has subscribed,
//! authorised and received a job (or fail the case with the end of its output); warm up; take
//! the samples while switching jobs (`clean_jobs`) every `job_interval`; stop it (SIGINT, then
//! SIGKILL after the grace period) and reap it. The rate comes from the shares the pool
//! verified (every one re-hashed with the reference SHA-256d): each stands for `1 / P(share)`
//! hashes. Per-thread stats come from `/proc/<pid>/task`, the flamegraph from `perf`.
//!
//! No miner outlives minebench: every live process group is registered here and killed by
//! [`kill_all`], which the second-signal exit and a panic call; the miner itself gets
//! `PR_SET_PDEATHSIG` = SIGKILL, so even a SIGKILLed minebench takes its direct child along.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::probe::latency;
use crate::probe::perf::PerfRecording;
use crate::probe::threads::{process_cpu_ns, task_ids, ThreadSample};
use crate::report::build::CaseMeasurement;
use crate::report::{ExternalCase, PoolCaseStats, ProfileArtefacts, Sample};
use crate::scenario::plan::{Case, ExternalSpec, Plan, SampleSpec};
use crate::sched::{JobSwitch, WorkerStats};
use crate::stratum::server::{ConnStats, DiffMode, Pool, PoolConfig};

/// The end of a miner's output kept for error messages and the report.
const TAIL_BYTES: usize = 2048;
/// Schedtrace lines kept per case (about 3 hours at one a second).
const MAX_SCHED_LINES: usize = 10_000;
/// How often the controller checks on the miner, the clock and Ctrl-C.
const TICK: Duration = Duration::from_millis(20);

/// Set, minebench panics after the first sample of an external case (tests check that no
/// miner outlives it).
pub const PANIC_ENV: &str = "MINEBENCH_TEST_PANIC_WITH_MINER";

/// Process groups of miners now running.
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// SIGKILLs every external miner's process group still running. Safe to call from anywhere,
/// any number of times; used on the way out of a second Ctrl-C and from the panic hook.
pub fn kill_all() {
    let groups = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for pgid in groups {
        // SAFETY: kill with a negative pid signals a process group we created; a stale id
        // (already reaped) gives ESRCH, which is harmless.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Installs (once) a panic hook that kills the miners before the previous hook runs.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            kill_all();
            previous(info);
        }));
    });
}

/// The last [`TAIL_BYTES`] of a stream.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > TAIL_BYTES {
            let cut = self.0.len() - TAIL_BYTES;
            self.0.drain(..cut);
        }
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).trim().to_string()
    }
}

/// A running miner in its own process group.
pub struct MinerProcess {
    child: Child,
    pgid: i32,
    output: Arc<Mutex<Tail>>,
    /// `SCHED` lines of its output with their arrival time.
    sched: Arc<Mutex<Vec<(Instant, String)>>>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<String>,
}

impl MinerProcess {
    /// Starts `argv` with `env` added, stdout and stderr captured (their tail kept).
    pub fn spawn(argv: &[String], env: &BTreeMap<String, String>) -> Result<MinerProcess, String> {
        use std::os::unix::process::CommandExt;
        install_panic_hook();
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| "empty command".to_string())?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (prctl, getppid, raise); it touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                // Die with minebench, even if it is SIGKILLed.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                // The parent may have died before the prctl: then it is already orphaned.
                if libc::getppid() == 1 {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {program:?}: {e}"))?;
        let pgid = child.id() as i32;
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pgid);
        let output = Arc::new(Mutex::new(Tail::default()));
        let mut readers = Vec::new();
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        let sched = Arc::new(Mutex::new(Vec::new()));
        for mut stream in streams.into_iter().flatten() {
            let out = output.clone();
            let sched = sched.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut line: Vec<u8> = Vec::new();
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(&buf[..n]);
                    // `SCHED …` lines (GODEBUG=schedtrace), stamped as they arrive.
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            if line.starts_with(b"SCHED ") {
                                let mut s = sched.lock().unwrap_or_else(|e| e.into_inner());
                                if s.len() < MAX_SCHED_LINES {
                                    s.push((
                                        Instant::now(),
                                        String::from_utf8_lossy(&line).into_owned(),
                                    ));
                                }
                            }
                            line.clear();
                        } else if line.len() < 4096 {
                            line.push(b);
                        }
                    }
                }
            }));
        }
        Ok(MinerProcess {
            child,
            pgid,
            output,
            sched,
            readers,
            exit: None,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pgid
    }

    /// The `SCHED` lines (Go's schedtrace) received so far, with their arrival time.
    pub fn sched_lines(&self) -> Vec<(Instant, String)> {
        self.sched.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The end of its stdout and stderr so far.
    pub fn output_tail(&self) -> String {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).text()
    }

    /// Its exit status if it has exited (reaped).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGINT to the group, SIGKILL after `grace`; reaps it and says how it ended.
    pub fn stop(&mut self, grace: Duration) -> String {
        if let Some(how) = &self.exit {
            return how.clone();
        }
        let how = if let Some(status) = self.exited() {
            format!("exited by itself before the end of the case ({status})")
        } else {
            // SAFETY: signals the process group we created for this child (not yet reaped,
            // so the id cannot have been reused).
            unsafe {
                libc::kill(-self.pgid, libc::SIGINT);
            }
            let deadline = Instant::now() + grace;
            loop {
                if let Some(status) = self.exited() {
                    break format!("stopped by SIGINT ({status})");
                }
                if Instant::now() >= deadline {
                    // SAFETY: as above.
                    unsafe {
                        libc::kill(-self.pgid, libc::SIGKILL);
                    }
                    let _ = self.child.wait();
                    break format!(
                        "killed (SIGKILL) {:.1} s after SIGINT did not stop it",
                        grace.as_secs_f64()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        // Whatever else the group still holds (a wrapper script's children) goes too.
        // SAFETY: as above; ESRCH when the group is empty.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&g| g != self.pgid);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.exit = Some(how.clone());
        how
    }
}

impl Drop for MinerProcess {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

/// `{name}` placeholders of `arg` replaced from `values`; `{{` and `}}` are literal braces.
pub fn substitute(arg: &str, values: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(close) = tail.find('}').filter(|_| tail.starts_with('{')) {
            let name = &tail[1..close];
            if let Some((_, v)) = values.iter().find(|(k, _)| *k == name) {
                out.push_str(v);
                rest = &tail[close + 1..];
                continue;
            }
        }
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// The first line of `argv`'s output (stdout, else stderr), within 5 s; None if it fails.
fn version_line(argv: &[String]) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().ok()?;
    [out.stdout, out.stderr]
        .iter()
        .map(|b| String::from_utf8_lossy(b).trim().to_string())
        .find(|s| !s.is_empty())
        .and_then(|s| s.lines().next().map(|l| l.chars().take(200).collect()))
}

/// What the controller needs besides the case.
pub struct ExternalContext<'a> {
    pub plan: &'a Plan,
    pub dir: &'a Path,
    pub profiling: bool,
    pub stop: &'a AtomicBool,
}

/// A measured external case, or why it failed.
pub enum ExternalOutcome {
    /// The measurement, what the pool saw, and the work (hashes) of every share accepted over
    /// the whole case.
    Measured(Box<CaseMeasurement>, Box<ExternalCase>, f64),
    /// Ctrl-C during the case: nothing is reported for it.
    Interrupted,
    Failed(String),
}

/// Runs one external case (see the module doc).
pub fn run_case(
    case: &Case,
    name: &str,
    spec: &ExternalSpec,
    ctx: &ExternalContext<'_>,
) -> ExternalOutcome {
    match run_inner(case, name, spec, ctx) {
        Ok(o) => o,
        Err(why) => ExternalOutcome::Failed(format!("external miner {name}: {why}")),
    }
}

fn run_inner(
    case: &Case,
    name: &str,
    spec: &ExternalSpec,
    ctx: &ExternalContext<'_>,
) -> Result<ExternalOutcome, String> {
    let plan = ctx.plan;
    let SampleSpec::DurationNs(sample_ns) = plan.measure.sample else {
        return Err("samples must be durations (the scenario loader checks this)".into());
    };
    let difficulty = case.difficulty.target().share_difficulty();
    let mut pool = Pool::start(PoolConfig::loopback(DiffMode::Fixed(difficulty)))
        .map_err(|e| format!("cannot start the loopback pool: {e}"))?;
    let addr = pool.addr();
    let values = [
        ("pool_url", pool.url()),
        ("pool_host", addr.ip().to_string()),
        ("pool_port", addr.port().to_string()),
        ("pprof_port", free_loopback_port()?.to_string()),
        ("user", spec.user.clone()),
        ("password", spec.password.clone()),
        ("threads", case.threads.to_string()),
        (
            "minebench",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "minebench".into()),
        ),
    ];
    let argv: Vec<String> = spec
        .command
        .iter()
        .map(|a| substitute(a, &values))
        .collect();
    let pprof_url = spec.pprof.as_deref().map(|u| substitute(u, &values));
    let mut env = spec.env.clone();
    if spec.go_schedtrace {
        let godebug = match env.get("GODEBUG") {
            Some(g) if !g.is_empty() => format!("{g},schedtrace=1000"),
            _ => "schedtrace=1000".to_string(),
        };
        env.insert("GODEBUG".into(), godebug);
    }
    let version = spec
        .version
        .as_deref()
        .map(|v| v.iter().map(|a| substitute(a, &values)).collect::<Vec<_>>())
        .and_then(|v| version_line(&v));
    let mut miner = MinerProcess::spawn(&argv, &env)?;
    let pid = miner.pid();
    let failed = |miner: &mut MinerProcess, what: String| {
        let how = miner.stop(Duration::from_nanos(spec.stop_grace_ns));
        let tail = miner.output_tail();
        format!(
            "{what} (command: {}; {how}); its output ends:\n{}",
            argv.join(" "),
            if tail.is_empty() {
                "(nothing)".into()
            } else {
                tail
            }
        )
    };

    // Up: subscribed, authorised and sent a job.
    let deadline = Instant::now() + Duration::from_nanos(spec.startup_timeout_ns);
    loop {
        if ctx.stop.load(Ordering::SeqCst) {
            miner.stop(Duration::from_nanos(spec.stop_grace_ns));
            return Ok(ExternalOutcome::Interrupted);
        }
        if pool
            .connections()
            .iter()
            .any(|c| c.notifies.iter().any(|n| n.sent_at.is_some()))
        {
            break;
        }
        if let Some(status) = miner.exited() {
            return Err(failed(
                &mut miner,
                format!("exited ({status}) before subscribing to the pool"),
            ));
        }
        if Instant::now() >= deadline {
            return Err(failed(
                &mut miner,
                format!(
                    "did not subscribe and authorise within {:.1} s (startup_timeout)",
                    spec.startup_timeout_ns as f64 / 1e9
                ),
            ));
        }
        std::thread::sleep(TICK);
    }

    let interval = plan.measure.job_interval_ns.map(Duration::from_nanos);
    let mut next_switch = interval.map(|i| Instant::now() + i);
    let mut switches: Vec<(u64, Instant)> = Vec::new();
    let mut generation = 0u64;
    // Sleeps until `until`, switching jobs on time; Err when the miner died, Ok(false) on Ctrl-C.
    let mut idle_until =
        |until: Instant, miner: &mut MinerProcess, pool: &Pool| -> Result<bool, String> {
            loop {
                let now = Instant::now();
                if ctx.stop.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                if let Some(status) = miner.exited() {
                    return Err(format!("exited during the case ({status})"));
                }
                if let (Some(at), Some(i)) = (next_switch, interval) {
                    if now >= at {
                        generation += 1;
                        switches.push((generation, pool.switch_job(true)));
                        next_switch = Some(if at + i <= now { now + i } else { at + i });
                    }
                }
                if now >= until {
                    return Ok(true);
                }
                let mut nap = until.saturating_duration_since(now).min(TICK);
                if let Some(at) = next_switch {
                    nap = nap.min(at.saturating_duration_since(now));
                }
                std::thread::sleep(nap);
            }
        };

    let warm_end = Instant::now() + Duration::from_nanos(plan.measure.warmup_ns);
    match idle_until(warm_end, &mut miner, &pool) {
        Ok(true) => {}
        Ok(false) => {
            miner.stop(Duration::from_nanos(spec.stop_grace_ns));
            return Ok(ExternalOutcome::Interrupted);
        }
        Err(e) => return Err(failed(&mut miner, e)),
    }

    let tids_before = task_ids(pid);
    let before: Vec<(i32, Result<ThreadSample, String>)> = tids_before
        .iter()
        .map(|&t| {
            (
                t,
                ThreadSample::capture_in(pid, t).map_err(|e| e.to_string()),
            )
        })
        .collect();
    let mut profile_unavailable = None;
    let measure_secs = (u64::from(plan.measure.samples) * sample_ns).div_ceil(1_000_000_000);
    let memstats_before = pprof_url.as_deref().map(crate::probe::go::fetch_memstats);
    // A Go miner's own CPU profile over the measured phase, fetched on a helper thread (the
    // request blocks for the profile's length).
    let go_profile = match (&pprof_url, ctx.profiling) {
        (Some(url), true) => {
            let url = url.clone();
            Some(std::thread::spawn(move || {
                crate::probe::go::fetch_cpu_profile(&url, measure_secs.max(1))
            }))
        }
        _ => None,
    };
    let perf_data = ctx.dir.join(format!(".perf-{pid}.data"));
    let recording = if ctx.profiling && go_profile.is_none() {
        match PerfRecording::start(pid, plan.profile.frequency_hz, &perf_data) {
            Ok(r) => Some(r),
            Err(why) => {
                profile_unavailable = Some(why);
                None
            }
        }
    } else {
        None
    };
    let profile_t0 = Instant::now();
    let mut windows: Vec<(Instant, Instant, Option<u64>)> = Vec::new();
    let measure_t0 = Instant::now();
    for i in 0..plan.measure.samples {
        // Fault injection for the no-orphan tests: a panic with the miner running (after a
        // first sample, so a watcher has time to see the miner).
        if i == 1 && std::env::var_os(PANIC_ENV).is_some() {
            panic!("{PANIC_ENV} is set: panicking with miner {pid} running");
        }
        let cpu0 = process_cpu_ns(pid);
        let t0 = Instant::now();
        match idle_until(t0 + Duration::from_nanos(sample_ns), &mut miner, &pool) {
            Ok(true) => {}
            Ok(false) => {
                drop(recording);
                let _ = std::fs::remove_file(&perf_data);
                miner.stop(Duration::from_nanos(spec.stop_grace_ns));
                return Ok(ExternalOutcome::Interrupted);
            }
            Err(e) => {
                drop(recording);
                let _ = std::fs::remove_file(&perf_data);
                return Err(failed(&mut miner, e));
            }
        }
        let t1 = Instant::now();
        let cpu1 = process_cpu_ns(pid);
        windows.push((t0, t1, cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a))));
    }
    let profile_t1 = Instant::now();
    // Thread counters at the end of the measured phase, before perf stops and collapses.
    let after: BTreeMap<i32, Result<ThreadSample, String>> = task_ids(pid)
        .into_iter()
        .map(|t| {
            (
                t,
                ThreadSample::capture_in(pid, t).map_err(|e| e.to_string()),
            )
        })
        .collect();
    let measured_wall = measure_t0.elapsed();
    let memstats_after = pprof_url.as_deref().map(crate::probe::go::fetch_memstats);
    let perf = recording.map(|r| r.finish());
    let go_profile = go_profile.map(|h| {
        h.join()
            .unwrap_or_else(|_| Err("the profile fetch panicked".to_string()))
    });
    let exit = miner.stop(Duration::from_nanos(spec.stop_grace_ns));
    // Answers to the last submits are in; then the pool closes.
    pool.stop();
    let conns = pool.connections();

    // Samples: the work of the shares accepted in each window.
    let shares: Vec<_> = conns.iter().flat_map(|c| c.shares.iter()).collect();
    let in_window = |at: Instant, t0: Instant, t1: Instant| at > t0 && at <= t1;
    let samples: Vec<Sample> = windows
        .iter()
        .map(|&(t0, t1, cpu_ns)| Sample {
            hashes: shares
                .iter()
                .filter(|s| in_window(s.at, t0, t1))
                .map(|s| s.expected_hashes)
                .sum::<f64>()
                .round() as u64,
            elapsed_ns: (t1 - t0).as_nanos().max(1) as u64,
            cpu_ns,
        })
        .collect();
    let mut share_times: Vec<Instant> = shares
        .iter()
        .map(|s| s.at)
        .filter(|&at| windows.iter().any(|&(t0, t1, _)| in_window(at, t0, t1)))
        .collect();
    share_times.sort();
    let measured_shares = share_times.len() as u64;
    let share_intervals = (share_times.len() > 1).then(|| {
        let mut h = latency::new_histogram();
        for pair in share_times.windows(2) {
            let _ = h.record(((pair[1] - pair[0]).as_nanos() as u64).clamp(1, h.high()));
        }
        h
    });
    let per_share = 1.0 / case.difficulty.target().hit_probability();

    // Job switches: per connection, notify written → first accepted share of that generation.
    let job_switches: Vec<JobSwitch> = switches
        .iter()
        .map(|&(generation, broadcast_at)| JobSwitch {
            job: generation,
            broadcast_at,
            worker_latency_ns: conns
                .iter()
                .filter(|c| c.accepted > 0 || !c.notifies.is_empty())
                .map(|c| switch_latency(c, generation))
                .collect(),
            stale_hashes: 0,
        })
        .collect();
    let stale_shares: u64 = conns
        .iter()
        .map(|c| c.rejected.get("stale").copied().unwrap_or(0))
        .sum();

    // Threads: the miner's tasks alive at both ends of the measured phase.
    let wall_ns = measured_wall.as_nanos() as u64;
    let mut workers = Vec::new();
    let mut threads = Vec::new();
    for (index, (tid, b)) in before.iter().enumerate() {
        let delta = match (b, after.get(tid)) {
            (Ok(b), Some(Ok(a))) => Ok(b.delta(a)),
            (Err(e), _) | (_, Some(Err(e))) => Err(e.clone()),
            (_, None) => Err(format!("thread {tid} ended during the measured phase")),
        };
        let cpu = delta.as_ref().map(|d| d.cpu_ns).unwrap_or(0);
        workers.push(WorkerStats {
            index,
            tid: *tid,
            hashes: 0,
            batches: 0,
            busy_ns: cpu,
            idle_ns: wall_ns.saturating_sub(cpu),
            batch_latency_ns: latency::new_histogram(),
            queue_wait_ns: None,
            last_cpu: delta.as_ref().ok().and_then(|d| d.last_cpu),
            pinned_core: None,
            dropped_batches: 0,
        });
        threads.push(delta);
    }

    let mut profile_source = None;
    let profile = match (perf, go_profile) {
        (_, Some(Ok(p))) => {
            let end = profile_t0 + Duration::from_secs(measure_secs.max(1));
            let hashes = shares
                .iter()
                .filter(|s| in_window(s.at, profile_t0, end))
                .map(|s| s.expected_hashes)
                .sum::<f64>()
                .round() as u64;
            profile_source = Some("go pprof".to_string());
            Some(write_go_profile(ctx.dir, &case.id, &p, hashes)?)
        }
        (_, Some(Err(why))) => {
            profile_unavailable = Some(why);
            None
        }
        (Some(Ok(p)), None) => {
            profile_source = Some("perf".to_string());
            let hashes = shares
                .iter()
                .filter(|s| in_window(s.at, profile_t0, profile_t1))
                .map(|s| s.expected_hashes)
                .sum::<f64>()
                .round() as u64;
            Some(write_perf_profile(ctx.dir, &case.id, &p, hashes)?)
        }
        (Some(Err(why)), None) => {
            profile_unavailable = Some(why);
            None
        }
        (None, None) => None,
    };
    // Go diagnostics: schedtrace lines of the measured phase, GC cost from expvar.
    let go = (spec.go_schedtrace || pprof_url.is_some()).then(|| {
        let schedtrace = spec.go_schedtrace.then(|| {
            let lines = miner.sched_lines();
            let mut malformed = 0;
            let mut points = Vec::new();
            for (at, line) in &lines {
                if *at < measure_t0 || *at > measure_t0 + measured_wall {
                    continue;
                }
                match crate::probe::go::parse_schedtrace(line) {
                    Some(p) => points.push(p),
                    None => malformed += 1,
                }
            }
            let refs: Vec<&crate::probe::go::SchedPoint> = points.iter().collect();
            crate::report::SchedTrace {
                summary: crate::probe::go::summarize_schedtrace(&refs),
                points,
                malformed_lines: malformed,
            }
        });
        let (gc, gc_unavailable) = match (memstats_before, memstats_after) {
            (Some(Ok(a)), Some(Ok(b))) => (
                Some(crate::probe::go::gc_cost(
                    &a,
                    &b,
                    measured_wall.as_secs_f64(),
                )),
                None,
            ),
            (Some(Err(e)), _) | (_, Some(Err(e))) => (None, Some(e)),
            _ => (None, None),
        };
        crate::report::GoDiagnostics {
            pprof_url: pprof_url.clone(),
            schedtrace,
            gc,
            gc_unavailable,
        }
    });
    if let Some(why) = &profile_unavailable {
        crate::note!("{}: no flamegraph: {why}", case.id);
    }

    let total: f64 = samples.iter().map(|s| s.hashes as f64).sum();
    let secs: f64 = samples.iter().map(|s| s.elapsed_ns as f64 / 1e9).sum();
    let (lo, hi) = crate::report::stats::poisson_ci95(measured_shares);
    let mut rejected = BTreeMap::new();
    for c in &conns {
        for (reason, n) in &c.rejected {
            *rejected.entry(reason.to_string()).or_insert(0) += n;
        }
    }
    let external = ExternalCase {
        name: name.to_string(),
        command: argv.clone(),
        version,
        pid,
        pool: PoolCaseStats {
            url: pool.url(),
            connections: conns.len() as u64,
            difficulty,
            accepted: conns.iter().map(|c| c.accepted).sum(),
            rejected,
            protocol_errors: conns.iter().map(|c| c.protocol_errors).sum(),
            measured_shares,
            rate: total / secs.max(1e-9),
            rate_ci95: [
                lo * per_share / secs.max(1e-9),
                hi * per_share / secs.max(1e-9),
            ],
            version_rolling: conns.iter().any(|c| c.version_rolling.is_some()),
        },
        stale_shares,
        exit,
        profile_unavailable,
        output_tail: miner.output_tail(),
        profile_source,
        go,
    };
    let m = CaseMeasurement {
        case: case.clone(),
        samples,
        shares_found: measured_shares,
        share_intervals,
        workers,
        threads,
        job_switches,
        stale_hashes: (stale_shares as f64 * per_share).round() as u64,
        profile,
        expected_shares: None,
        device: None,
    };
    let work: f64 = shares.iter().map(|s| s.expected_hashes).sum();
    Ok(ExternalOutcome::Measured(
        Box::new(m),
        Box::new(external),
        work,
    ))
}

/// Marks a case report as an external miner's: the rate method, the pool's view, shares that
/// are the measure rather than a check of it, and balance over the busiest threads.
pub fn finish_report(cr: &mut crate::report::CaseReport, ext: ExternalCase, work: f64) {
    cr.rate_method = Some(crate::report::RateMethod::Shares);
    // No counted hashes: the whole case's work is what its accepted shares stand for.
    cr.total_hashes = work.round() as u64;
    if let Some(js) = cr.job_switch.as_mut() {
        js.stale_fraction = js.stale_hashes as f64 / (work + js.stale_hashes as f64).max(1.0);
    }
    // The share count *is* the measurement here: there is no independent hash count for the
    // Poisson check to test it against.
    cr.shares.expected = cr.shares.found as f64;
    cr.shares.poisson_p = 1.0;
    cr.shares.plausible = true;
    // The miner's busiest `threads` threads are its hashing workers; the rest (pool I/O,
    // main) would make any imbalance figure meaningless.
    let mut busy: Vec<&crate::report::WorkerReport> = cr.workers.iter().collect();
    busy.sort_by_key(|w| std::cmp::Reverse(w.busy_ns));
    busy.truncate(cr.threads.max(1));
    cr.balance = crate::report::Balance::from_workers(
        busy.iter().map(|w| (w.busy_ns, w.busy_ns, w.idle_ns)),
    );
    cr.external = Some(ext);
}

/// ns from the notify of `generation` written to this connection until its first accepted
/// share of that generation (None: none came).
pub(crate) fn switch_latency(c: &ConnStats, generation: u64) -> Option<u64> {
    let sent = c
        .notifies
        .iter()
        .find(|n| n.generation == generation && n.clean)?
        .sent_at?;
    let first = c
        .shares
        .iter()
        .filter(|s| s.generation == generation && s.at >= sent)
        .map(|s| s.at)
        .min()?;
    Some((first - sent).as_nanos() as u64)
}

/// A free TCP port on 127.0.0.1 (bound, then released for the miner to take).
fn free_loopback_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

/// Writes an external case's profile: `flame/<case>.folded` and `.pb` (the SVG path recorded
/// for `render`), with what the profiler says of itself.
#[allow(clippy::too_many_arguments)]
fn write_profile_files(
    dir: &Path,
    id: &str,
    folded: &str,
    pb: &[u8],
    samples: u64,
    hashes: u64,
    requested_hz: Option<u32>,
    cpu_ns: u64,
) -> Result<ProfileArtefacts, String> {
    let flame = dir.join("flame");
    std::fs::create_dir_all(&flame).map_err(|e| format!("{}: {e}", flame.display()))?;
    let stem = super::output::case_stem(id);
    let rel = |ext: &str| format!("flame/{stem}.{ext}");
    for (r, bytes) in [(rel("folded"), folded.as_bytes()), (rel("pb"), pb)] {
        let path = dir.join(&r);
        super::output::write_atomic(&path, bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ProfileArtefacts {
        samples,
        folded: rel("folded"),
        pprof: rel("pb"),
        svg: rel("svg"),
        hashes,
        requested_hz,
        effective_hz: None,
        cpu_ns: Some(cpu_ns),
        unknown_samples: None,
        dropped_samples: None,
        hot_lines: Vec::new(),
    })
}

/// A Go miner's profile: its folded stacks, and the `.pb` exactly as it served it.
fn write_go_profile(
    dir: &Path,
    id: &str,
    p: &crate::probe::go::GoProfile,
    hashes: u64,
) -> Result<ProfileArtefacts, String> {
    let hz = (p.period_ns > 0).then(|| (1_000_000_000 / p.period_ns) as u32);
    write_profile_files(dir, id, &p.folded, &p.raw, p.samples, hashes, hz, p.cpu_ns)
}

/// perf's profile: collapsed stacks and the pprof protobuf built from them.
fn write_perf_profile(
    dir: &Path,
    id: &str,
    p: &crate::probe::perf::PerfProfile,
    hashes: u64,
) -> Result<ProfileArtefacts, String> {
    let cpu_ns = p.samples * 1_000_000_000 / u64::from(p.frequency_hz.max(1));
    let hz = Some(p.frequency_hz);
    write_profile_files(dir, id, &p.folded, &p.pprof, p.samples, hashes, hz, cpu_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_double_braces_are_literal() {
        let v = [
            ("pool_url", "stratum+tcp://127.0.0.1:1".to_string()),
            ("threads", "2".into()),
        ];
        assert_eq!(
            substitute("-o {pool_url}", &v),
            "-o stratum+tcp://127.0.0.1:1"
        );
        assert_eq!(substitute("{threads}{threads}", &v), "22");
        assert_eq!(substitute("{{threads}}", &v), "{threads}");
        assert_eq!(substitute("{other} {", &v), "{other} {");
    }
}
