//! Schedulers: how a nonce space is split over worker threads and how a backend is driven.
//!
//! Owns: the worker threads (the only place minebench spawns hashing threads), job broadcast and
//! switch. Must not: choose backends (it is handed one) or format output.
//!
//! Two entry points share one worker core:
//! - [`scan_range`] hashes every nonce of a finite range exactly once and returns (exact coverage:
//!   the same hits and hash count as a single-threaded loop, whatever the scheduler and threads);
//! - [`start`] opens a continuous [`Session`]: workers hash until [`Session::finish`], follow job
//!   switches ([`Session::switch_job`]) and roll to a fresh header when a 2^32 space runs out.
//!
//! Per worker, everything hot is owned by that worker: its `Worker` record (counters and
//! histograms, no sharing) and one cache-line-padded slot of atomics that the session reads
//! (`hashes`, current job, tid). Counting happens once per batch, never per hash; the only locks
//! a worker takes are for publishing hits (only when a batch found some) and on epoch changes.
//!
//! The schedulers differ only in how a worker gets its next batch: `stride` and `chunked` compute
//! a static share per epoch, `atomic` takes batches from a shared counter (all three run the same
//! pull loop, `pull_loop`); `rayon` lets a work-stealing pool split the epoch's batches; `channel`
//! has a dispatcher thread feed batches through a bounded channel.

mod atomic;
mod channel;
mod chunked;
mod job;
mod rayon_pool;
mod stride;
#[cfg(test)]
mod tests;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::pow::{
    check_in_range, verify_hit, verify_hits, Backend, BackendError, BackendKind, Header, Hit,
    NonceRange, Target, Work,
};

pub use job::{rolled_header, ROLL_BIT};
use job::{Epoch, JobBoard, Mode};

/// How many workers, how big a batch, whether to pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedConfig {
    /// Worker threads (≥ 1). For `channel`, one dispatcher thread comes on top.
    pub threads: usize,
    /// Nonces per batch (≥ 1): the unit of dispatch, counting and the latency histogram. For
    /// `stride`, a batch is `batch` strided nonces.
    pub batch: u64,
    /// Pin worker k to core `k % cores` (best effort: a refused pin is ignored and shows as
    /// `WorkerStats::pinned_core == None`).
    pub pin_threads: bool,
    /// False (the safe default): each worker re-hashes its batch's hits with the reference
    /// before publishing them, and a bad hit fails the session at once. True (sessions only):
    /// workers check only that hits lie in their batch and publish them unverified; the caller
    /// must call [`FoundHit::verify`] on every hit it drains. The run does that between
    /// samples, so the slow reference SHA-256 is not inside the measured windows (at zero_bits
    /// 8 it cost the fastest backend about a fifth of its measured rate).
    pub defer_verification: bool,
}

/// The most workers a scheduler accepts: `stride` needs `threads` as a 32-bit nonce step, and far
/// beyond any core count it is a typo.
pub const MAX_THREADS: usize = 4096;

/// Why a scan or session failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error("invalid scheduler configuration: {0}")]
    Config(String),
    /// A hit failed the reference re-check in a worker (the backend is broken).
    #[error("a worker's hit failed the reference re-check: {0}")]
    Backend(#[from] BackendError),
    /// A thread could not be spawned (the string names it and gives the OS error).
    #[error("could not start thread {0}")]
    Spawn(String),
    /// Worker `k` panicked (a panic inside the backend is caught and reported this way too).
    #[error("worker {0} panicked")]
    WorkerPanicked(usize),
    /// The channel dispatcher or the rayon driver panicked.
    #[error("scheduler thread {0} panicked")]
    HelperPanicked(&'static str),
    /// A finite scan hashed a different number of nonces than its range holds.
    #[error(
        "{scheduler} hashed {hashed} nonces of a {expected}-nonce range: exact coverage broken"
    )]
    Coverage {
        scheduler: SchedulerKind,
        expected: u64,
        hashed: u64,
    },
    /// A scheduler's own bookkeeping disagrees with itself (a bug in `sched/`).
    #[error("{scheduler} scheduler bookkeeping is inconsistent: {problem}")]
    Internal {
        scheduler: SchedulerKind,
        problem: String,
    },
}

/// What [`scan_range`] found.
#[derive(Debug, Clone)]
pub struct RangeOutcome {
    /// Every hit of the range, sorted by nonce.
    pub hits: Vec<Hit>,
    /// Hashes done: the range length when coverage is exact (it is checked).
    pub hashes: u64,
    /// Per worker, in worker index order.
    pub workers: Vec<WorkerStats>,
}

/// A hit found in a session, already re-verified against the reference in its worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundHit {
    pub hit: Hit,
    /// The job it belongs to: 0 for the work `start` was given, then the ids `switch_job`
    /// returned.
    pub job: u64,
    /// 0 when the hit is on the job's own header; else the roll that made its header
    /// (see [`rolled_header`]).
    pub extranonce: u64,
    /// The header actually hashed (`rolled_header(job's header, extranonce)`); the nonce field is
    /// the template's, the hit's nonce goes in bytes 76..80.
    pub header: Header,
    /// The target the batch was hashed against.
    pub target: Target,
    /// When the batch that found it completed (a batch reports its hits at its end).
    pub at: Instant,
    pub worker: usize,
}

impl FoundHit {
    /// The reference re-check of this hit (see [`SchedConfig::defer_verification`]);
    /// `backend` names the backend in the error.
    pub fn verify(&self, backend: BackendKind) -> Result<(), BackendError> {
        verify_hit(backend, &Work::new(self.header, self.target), &self.hit)
    }
}

/// What a finished session measured.
#[derive(Debug, Clone)]
pub struct SessionOutcome {
    /// Per worker, in worker index order.
    pub workers: Vec<WorkerStats>,
    /// One per `switch_job` call, in order.
    pub job_switches: Vec<JobSwitch>,
    /// Sum of `JobSwitch::stale_hashes`.
    pub stale_hashes: u64,
    /// Times the session exhausted a nonce space and rolled to a fresh header (not job switches).
    pub rolls: u64,
}

/// One job switch: how fast the workers followed it and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSwitch {
    pub job: u64,
    pub broadcast_at: Instant,
    /// Per worker: ns from broadcast until that worker began its first batch of the new job
    /// (None if it never did before finish).
    pub worker_latency_ns: Vec<Option<u64>>,
    /// Hashes done on older jobs by batches that completed after this broadcast (and before any
    /// later one).
    pub stale_hashes: u64,
}

/// One worker's counters and histograms.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    pub index: usize,
    /// Linux thread id (for `/proc/self/task/<tid>`).
    pub tid: i32,
    pub hashes: u64,
    pub batches: u64,
    /// Time inside `backend.scan`.
    pub busy_ns: u64,
    /// Time alive but not scanning: waiting for work, a job, a roll or the queue, plus the
    /// per-batch bookkeeping (so `busy_ns + idle_ns` is the worker's lifetime).
    pub idle_ns: u64,
    /// One record per batch: its scan duration (1 ns .. 1 h, 3 significant figures).
    pub batch_latency_ns: Histogram<u64>,
    /// `channel` only: per batch, the wait from the dispatcher's send to this worker's receive.
    pub queue_wait_ns: Option<Histogram<u64>>,
    /// `sched_getcpu()` when the worker ended, if available.
    pub last_cpu: Option<usize>,
    /// The core this worker was pinned to, if pinning was asked for and worked.
    pub pinned_core: Option<usize>,
    /// `channel` only: queued batches of an old job this worker dropped unhashed (counted
    /// nowhere else).
    pub dropped_batches: u64,
}

/// Hashes every nonce of `range` exactly once over `cfg.threads` workers and stops.
///
/// The same code as a session runs, on a board that finishes instead of rolling. Every hit was
/// re-checked against the reference; a bad one is an error, as is a hash count that differs from
/// `range.len()`.
pub fn scan_range(
    kind: SchedulerKind,
    backend: Arc<dyn Backend>,
    work: &Work,
    range: NonceRange,
    cfg: &SchedConfig,
) -> Result<RangeOutcome, SchedError> {
    let running = launch(kind, backend, *work, range, cfg, Mode::Finite)?;
    let shared = Arc::clone(&running.shared);
    let collected = running.join()?;
    let mut hits: Vec<Hit> = shared.take_hits().into_iter().map(|f| f.hit).collect();
    hits.sort_unstable();
    let workers: Vec<WorkerStats> = collected.into_iter().map(|(stats, _)| stats).collect();
    let hashes = workers.iter().map(|w| w.hashes).sum();
    if hashes != range.len() {
        return Err(SchedError::Coverage {
            scheduler: kind,
            expected: range.len(),
            hashed: hashes,
        });
    }
    Ok(RangeOutcome {
        hits,
        hashes,
        workers,
    })
}

/// Opens a continuous mining session over the full 2^32 nonce space of `work` (see [`Session`]).
/// All workers are running (and have reported their tid) when this returns.
pub fn start(
    kind: SchedulerKind,
    backend: Arc<dyn Backend>,
    work: Work,
    cfg: &SchedConfig,
) -> Result<Session, SchedError> {
    start_in(kind, backend, work, NonceRange::full(), cfg)
}

/// [`start`] over a smaller nonce space per header, so a session exhausts it and rolls quickly
/// (tests and demonstrations of rolling). `start` is `start_in(.., NonceRange::full(), ..)`.
pub fn start_in(
    kind: SchedulerKind,
    backend: Arc<dyn Backend>,
    work: Work,
    space: NonceRange,
    cfg: &SchedConfig,
) -> Result<Session, SchedError> {
    let running = launch(kind, backend, work, space, cfg, Mode::Continuous)?;
    Ok(Session { kind, running })
}

/// A continuous mining session: workers hash from the moment [`start`] returns until
/// [`Session::finish`], rolling to a fresh header (`rolled_header`) whenever the current header's
/// space is exhausted, and following [`Session::switch_job`]. Workers live for the whole session.
///
/// Dropping a session without `finish` stops and joins its workers too (discarding the stats).
pub struct Session {
    kind: SchedulerKind,
    running: Running,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("kind", &self.kind)
            .field("threads", &self.running.shared.threads)
            .field("hashes", &self.hashes())
            .field("job", &self.running.shared.board.job())
            .finish()
    }
}

impl Session {
    pub fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// Total hashes completed so far by all workers (each worker bumps its own padded counter
    /// once per batch).
    pub fn hashes(&self) -> u64 {
        self.per_worker_hashes().iter().sum()
    }

    pub fn per_worker_hashes(&self) -> Vec<u64> {
        self.running
            .shared
            .slots
            .iter()
            .map(|s| s.hashes.load(Ordering::Relaxed))
            .collect()
    }

    /// Linux thread ids of the workers, in worker index order (for `rayon`, the pool's threads;
    /// not the `channel` dispatcher nor the rayon driver, which do not hash).
    pub fn worker_tids(&self) -> Vec<i32> {
        self.running.shared.tids()
    }

    /// Per worker, the job of the last batch it started (0 until the first switch): a caller can
    /// wait until every worker follows a switch.
    pub fn worker_jobs(&self) -> Vec<u64> {
        self.running
            .shared
            .slots
            .iter()
            .map(|s| s.job.load(Ordering::Relaxed))
            .collect()
    }

    /// Hits found since the last call, each already re-verified with the reference.
    pub fn drain_hits(&self) -> Vec<FoundHit> {
        self.running.shared.take_hits()
    }

    /// Broadcasts a new job (same target; the caller derives the header, e.g.
    /// `header.next_job(id)`) and returns its id (1, 2, … in switch order) without waiting.
    /// Workers finish their current batch — old-job batches completing after this count as
    /// stale — and then hash the new job from nonce 0 of its space.
    pub fn switch_job(&self, work: Work) -> u64 {
        self.running.shared.board.switch(work, Instant::now())
    }

    /// Whether a worker has failed (bad hit, panic); `finish` will return the error.
    pub fn failed(&self) -> bool {
        self.running.shared.failed.load(Ordering::Acquire)
    }

    /// Stops every worker after its current batch, joins them and returns their stats, or the
    /// first failure.
    pub fn finish(self) -> Result<SessionOutcome, SchedError> {
        let shared = Arc::clone(&self.running.shared);
        shared.board.request_stop();
        let collected = self.running.join()?;
        let switches = shared.board.switches();
        let job_switches: Vec<JobSwitch> = switches
            .iter()
            .map(|s| JobSwitch {
                job: s.job,
                broadcast_at: s.broadcast_at,
                worker_latency_ns: collected
                    .iter()
                    .map(|(_, log)| log.latency_ns(s.job))
                    .collect(),
                stale_hashes: collected.iter().map(|(_, log)| log.stale(s.job)).sum(),
            })
            .collect();
        let stale_hashes = collected
            .iter()
            .map(|(_, log)| log.stale.iter().map(|&(_, h)| h).sum::<u64>())
            .sum();
        Ok(SessionOutcome {
            workers: collected.into_iter().map(|(stats, _)| stats).collect(),
            job_switches,
            stale_hashes,
            rolls: shared.board.rolls(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The shared worker core.

/// A new per-worker histogram: 1 ns .. 1 h at 3 significant figures.
fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .expect("constant bounds 1 ..= 3.6e12 with 3 significant figures are valid")
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The calling thread's Linux thread id.
fn current_tid() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid(2) has no preconditions and cannot fail.
        unsafe { libc::gettid() }
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// The CPU the calling thread runs on, if the OS says.
fn current_cpu() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_getcpu(3) has no preconditions; it returns -1 on failure, checked below.
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked, which is reported on its own.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The atomics one worker writes and the session reads, alone on their cache lines so workers
/// bumping their counters never invalidate each other's lines.
#[repr(align(128))]
#[derive(Debug, Default)]
struct Slot {
    hashes: AtomicU64,
    job: AtomicU64,
    tid: AtomicI32,
}

/// A worker's per-job log, merged into [`JobSwitch`]es at the end.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobLog {
    /// (job, ns from its broadcast to this worker's first batch of it)
    latencies: Vec<(u64, u64)>,
    /// (switch job, hashes of older jobs completed after that switch's broadcast)
    stale: Vec<(u64, u64)>,
}

// Both logs are sorted by job and hold each job once (a worker meets jobs in increasing order
// and `add_stale` merges into the last entry), so a lookup is a binary search: `finish` looks
// up every switch for every worker, and a linear scan made that quadratic in the switches.
impl JobLog {
    fn latency_ns(&self, job: u64) -> Option<u64> {
        self.latencies
            .binary_search_by_key(&job, |&(j, _)| j)
            .ok()
            .map(|i| self.latencies[i].1)
    }

    fn stale(&self, job: u64) -> u64 {
        self.stale
            .binary_search_by_key(&job, |&(j, _)| j)
            .map_or(0, |i| self.stale[i].1)
    }

    fn add_stale(&mut self, job: u64, hashes: u64) {
        match self.stale.last_mut() {
            Some((j, h)) if *j == job => *h += hashes,
            _ => self.stale.push((job, hashes)),
        }
    }
}

/// Everything the threads of one scan or session share.
pub(crate) struct Shared {
    kind: SchedulerKind,
    board: JobBoard,
    backend: Arc<dyn Backend>,
    /// Cached so the per-batch re-check does not make a second virtual call.
    backend_kind: BackendKind,
    /// [`SchedConfig::defer_verification`]; never set for a finite scan.
    defer_verification: bool,
    batch: u64,
    threads: usize,
    cores: Option<Vec<core_affinity::CoreId>>,
    slots: Box<[Slot]>,
    hits: Mutex<Vec<FoundHit>>,
    failure: Mutex<Option<SchedError>>,
    failed: AtomicBool,
    /// Workers that have started (pinned, tid reported).
    ready: Mutex<usize>,
    ready_changed: Condvar,
    /// Finished workers deposit their stats here, by index.
    retired: Mutex<Vec<Option<(WorkerStats, JobLog)>>>,
    /// `channel` only: the hashes the dispatcher aggregated from its result channel.
    aggregated_hashes: AtomicU64,
}

/// How long `start` waits for workers to report in before giving up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Shared {
    fn tids(&self) -> Vec<i32> {
        self.slots
            .iter()
            .map(|s| s.tid.load(Ordering::Acquire))
            .collect()
    }

    /// Records the first failure and stops everyone.
    fn fail(&self, error: SchedError) {
        {
            let mut failure = lock(&self.failure);
            if failure.is_none() {
                *failure = Some(error);
            }
        }
        self.failed.store(true, Ordering::Release);
        self.board.request_stop();
    }

    fn take_failure(&self) -> Option<SchedError> {
        lock(&self.failure).take()
    }

    fn take_hits(&self) -> Vec<FoundHit> {
        std::mem::take(&mut *lock(&self.hits))
    }

    /// Publishes a batch's hits (no lock when there are none: the common case).
    fn publish(&self, worker: usize, epoch: &Epoch, hits: &[Hit], at: Instant) {
        if hits.is_empty() {
            return;
        }
        let mut all = lock(&self.hits);
        all.extend(hits.iter().map(|&hit| FoundHit {
            hit,
            job: epoch.job,
            extranonce: epoch.extranonce,
            header: epoch.work.header,
            target: epoch.work.target,
            at,
            worker,
        }));
    }

    fn report_ready(&self, index: usize, tid: i32) {
        self.slots[index].tid.store(tid, Ordering::Release);
        let mut ready = lock(&self.ready);
        *ready += 1;
        self.ready_changed.notify_all();
    }

    /// Waits until every worker reported its tid. Reporting is each worker's first act, before
    /// it can fail, so a failure elsewhere does not end the wait early: `start` still returns a
    /// session, whose `failed()` and `finish` then tell. Only a worker that never starts (the
    /// deadline) is a start-up error.
    fn wait_ready(&self) -> Result<(), SchedError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut ready = lock(&self.ready);
        while *ready < self.threads {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SchedError::Spawn(format!(
                    "{} of {} {} workers did not start within {:?}",
                    self.threads - *ready,
                    self.threads,
                    self.kind,
                    READY_TIMEOUT
                )));
            }
            ready = self
                .ready_changed
                .wait_timeout(ready, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(())
    }

    fn retire(&self, worker: Worker) {
        let index = worker.index;
        let done = worker.finish();
        lock(&self.retired)[index] = Some(done);
    }

    /// The core worker `index` is pinned to, if pinning was asked for.
    fn core_for(&self, index: usize) -> Option<core_affinity::CoreId> {
        let cores = self.cores.as_ref()?;
        cores.get(index % cores.len()).copied()
    }
}

/// One worker's own bookkeeping: owned by its thread, touched by nobody else until it retires.
pub(crate) struct Worker {
    index: usize,
    tid: i32,
    pinned_core: Option<usize>,
    born: Instant,
    hashes: u64,
    batches: u64,
    busy_ns: u64,
    dropped_batches: u64,
    batch_latency: Histogram<u64>,
    queue_wait: Option<Histogram<u64>>,
    /// The job of the last batch started (latency is recorded when it grows).
    last_job: u64,
    log: JobLog,
    /// Reused hit buffer, so a batch without hits allocates nothing.
    hit_buf: Vec<Hit>,
}

/// A batch went wrong; the failure is already recorded in `Shared` and everyone is stopping.
#[derive(Debug)]
pub(crate) struct Failed;

/// What a completed batch reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchDone {
    pub at: Instant,
    pub hashes: u64,
}

impl Worker {
    /// Runs on the worker's own thread as its first act: pins it, learns its tid, reports ready.
    fn start(shared: &Shared, index: usize) -> Worker {
        let pinned_core = shared
            .core_for(index)
            .and_then(|core| core_affinity::set_for_current(core).then_some(core.id));
        let tid = current_tid();
        shared.report_ready(index, tid);
        Worker {
            index,
            tid,
            pinned_core,
            born: Instant::now(),
            hashes: 0,
            batches: 0,
            busy_ns: 0,
            dropped_batches: 0,
            batch_latency: new_histogram(),
            queue_wait: None,
            last_job: 0,
            log: JobLog::default(),
            hit_buf: Vec::new(),
        }
    }

    /// Hashes one batch of `epoch` and does all per-batch bookkeeping: switch latency, busy time,
    /// histogram, hash counter, the reference re-check of hits, stale accounting. The hits are
    /// left in `self.hit_buf`.
    fn run_batch(
        &mut self,
        shared: &Shared,
        epoch: &Epoch,
        range: NonceRange,
    ) -> Result<BatchDone, Failed> {
        let begin = Instant::now();
        if epoch.job > self.last_job {
            self.log.latencies.push((
                epoch.job,
                nanos(begin.saturating_duration_since(epoch.job_broadcast_at)),
            ));
            self.last_job = epoch.job;
            shared.slots[self.index]
                .job
                .store(epoch.job, Ordering::Relaxed);
        }
        self.hit_buf.clear();
        let hit_buf = &mut self.hit_buf;
        // A panicking backend becomes this worker's error instead of a torn-down thread, so the
        // session can say which worker it was and stop the others cleanly.
        let scanned = catch_unwind(AssertUnwindSafe(|| {
            shared.backend.scan(&epoch.work, range, hit_buf)
        }));
        let end = Instant::now();
        let Ok(hashes) = scanned else {
            shared.fail(SchedError::WorkerPanicked(self.index));
            return Err(Failed);
        };
        let busy = nanos(end - begin);
        self.busy_ns += busy;
        self.batches += 1;
        self.hashes += hashes;
        self.batch_latency.saturating_record(busy.max(1));
        // Single writer: a relaxed add is all the session's reader needs.
        shared.slots[self.index]
            .hashes
            .fetch_add(hashes, Ordering::Relaxed);
        let checked = if shared.defer_verification {
            check_in_range(shared.backend_kind, range, &self.hit_buf)
        } else {
            verify_hits(shared.backend_kind, &epoch.work, range, &self.hit_buf)
        };
        if let Err(e) = checked {
            shared.fail(e.into());
            return Err(Failed);
        }
        // Completed after a newer job was broadcast: stale, charged to the switch that made it so.
        if shared.board.job() > epoch.job {
            self.log.add_stale(epoch.job + 1, hashes);
        }
        Ok(BatchDone { at: end, hashes })
    }

    /// [`Worker::run_batch`], then publishes the hits straight to the session.
    fn run_and_publish(
        &mut self,
        shared: &Shared,
        epoch: &Epoch,
        range: NonceRange,
    ) -> Result<(), Failed> {
        let done = self.run_batch(shared, epoch, range)?;
        shared.publish(self.index, epoch, &self.hit_buf, done.at);
        Ok(())
    }

    /// Runs on the worker's own thread as its last act (for `sched_getcpu`).
    fn finish(self) -> (WorkerStats, JobLog) {
        let alive = nanos(self.born.elapsed());
        let stats = WorkerStats {
            index: self.index,
            tid: self.tid,
            hashes: self.hashes,
            batches: self.batches,
            busy_ns: self.busy_ns,
            idle_ns: alive.saturating_sub(self.busy_ns),
            batch_latency_ns: self.batch_latency,
            queue_wait_ns: self.queue_wait,
            last_cpu: current_cpu(),
            pinned_core: self.pinned_core,
            dropped_batches: self.dropped_batches,
        };
        (stats, self.log)
    }
}

/// How a pull-loop worker gets its batches of an epoch.
pub(crate) trait BatchSource {
    /// A new epoch began: forget the old one's progress.
    fn begin(&mut self, epoch: &Epoch);
    /// The next batch, or `None` when this worker has nothing more to do in this epoch.
    fn next_batch(&mut self, epoch: &Epoch) -> Option<NonceRange>;
}

/// The loop `stride`, `chunked` and `atomic` workers run: batches from `source` until the epoch
/// changes (start over on the new one) or runs dry (report it, then wait idle for the roll, the
/// next job or the end).
fn pull_loop(shared: &Shared, worker: &mut Worker, mut source: impl BatchSource) {
    let board = &shared.board;
    let mut epoch = board.current();
    source.begin(&epoch);
    loop {
        if board.should_stop() {
            return;
        }
        if board.seq() != epoch.seq {
            epoch = board.current();
            source.begin(&epoch);
            continue;
        }
        match source.next_batch(&epoch) {
            Some(range) => {
                if worker.run_and_publish(shared, &epoch, range).is_err() {
                    return;
                }
            }
            None => {
                // The last worker to run dry knows every batch of the epoch is hashed.
                if epoch.done_workers.fetch_add(1, Ordering::AcqRel) + 1 == shared.threads {
                    board.exhausted(epoch.seq);
                }
                match board.wait_change(epoch.seq) {
                    Some(next) => {
                        epoch = next;
                        source.begin(&epoch);
                    }
                    None => return,
                }
            }
        }
    }
}

/// A static share per epoch (`stride`, `chunked`), eaten in batches.
pub(crate) struct StaticShare {
    index: usize,
    threads: usize,
    batch: u64,
    share: fn(&NonceRange, usize, usize) -> NonceRange,
    left: NonceRange,
}

impl StaticShare {
    fn new(
        shared: &Shared,
        index: usize,
        share: fn(&NonceRange, usize, usize) -> NonceRange,
    ) -> StaticShare {
        StaticShare {
            index,
            threads: shared.threads,
            batch: shared.batch,
            share,
            left: NonceRange::new(0, 0).expect("an empty range is valid"),
        }
    }
}

impl BatchSource for StaticShare {
    fn begin(&mut self, epoch: &Epoch) {
        self.left = (self.share)(&epoch.range, self.index, self.threads);
    }

    fn next_batch(&mut self, _epoch: &Epoch) -> Option<NonceRange> {
        if self.left.is_empty() {
            return None;
        }
        let (head, rest) = self.left.split_at(self.batch);
        self.left = rest;
        Some(head)
    }
}

/// The `len` nonces of `range` from its `offset`-th on (clipped at its end).
pub(crate) fn sub_range(range: &NonceRange, offset: u64, len: u64) -> NonceRange {
    range.split_at(offset).1.split_at(len).0
}

/// Which thread a join handle belongs to, to name the culprit of a panic.
#[derive(Debug, Clone, Copy)]
enum Role {
    Worker(usize),
    Helper(&'static str),
}

impl Role {
    fn panic_error(self) -> SchedError {
        match self {
            Role::Worker(k) => SchedError::WorkerPanicked(k),
            Role::Helper(name) => SchedError::HelperPanicked(name),
        }
    }
}

/// Marks the session failed if its thread unwinds (a panic outside the backend call), so the
/// other workers stop instead of waiting for a share that will never be reported done.
struct PanicGuard<'a> {
    shared: &'a Shared,
    role: Role,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shared.fail(self.role.panic_error());
        }
    }
}

pub(crate) struct Thread {
    role: Role,
    handle: JoinHandle<()>,
}

/// Spawns hashing worker `index` (`mb-worker-{index}`), which runs `body` between its start-up
/// (pin, tid, ready) and its retirement (stats deposited).
fn spawn_worker(
    shared: &Arc<Shared>,
    index: usize,
    body: impl FnOnce(&Shared, &mut Worker) + Send + 'static,
) -> Result<Thread, SchedError> {
    let name = format!("mb-worker-{index}");
    let shared = Arc::clone(shared);
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let _guard = PanicGuard {
                shared: &shared,
                role: Role::Worker(index),
            };
            let mut worker = Worker::start(&shared, index);
            body(&shared, &mut worker);
            shared.retire(worker);
        })
        .map_err(|e| SchedError::Spawn(format!("{name}: {e}")))?;
    Ok(Thread {
        role: Role::Worker(index),
        handle,
    })
}

/// Spawns a non-hashing helper thread (the channel dispatcher, the rayon driver).
fn spawn_helper(
    shared: &Arc<Shared>,
    name: &'static str,
    body: impl FnOnce(&Shared) + Send + 'static,
) -> Result<Thread, SchedError> {
    let shared = Arc::clone(shared);
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _guard = PanicGuard {
                shared: &shared,
                role: Role::Helper(name),
            };
            body(&shared);
        })
        .map_err(|e| SchedError::Spawn(format!("{name}: {e}")))?;
    Ok(Thread {
        role: Role::Helper(name),
        handle,
    })
}

/// A `stride`, `chunked` or `atomic` worker: the pull loop over `source`.
fn spawn_pull_worker<S: BatchSource + Send + 'static>(
    shared: &Arc<Shared>,
    index: usize,
    source: S,
) -> Result<Thread, SchedError> {
    spawn_worker(shared, index, move |shared, worker| {
        pull_loop(shared, worker, source)
    })
}

/// The threads of one scan or session. Dropping it stops and joins them.
struct Running {
    shared: Arc<Shared>,
    threads: Vec<Thread>,
}

impl Running {
    /// Joins every thread (without stopping them: a finite scan runs to its end) and returns the
    /// workers' stats and job logs in index order, or the first failure.
    fn join(mut self) -> Result<Vec<(WorkerStats, JobLog)>, SchedError> {
        let mut panicked = None;
        for thread in std::mem::take(&mut self.threads) {
            if thread.handle.join().is_err() && panicked.is_none() {
                panicked = Some(thread.role);
            }
        }
        let shared = &self.shared;
        if let Some(error) = shared.take_failure() {
            return Err(error);
        }
        if let Some(role) = panicked {
            return Err(role.panic_error());
        }
        let retired = std::mem::take(&mut *lock(&shared.retired));
        let mut out = Vec::with_capacity(retired.len());
        for (index, slot) in retired.into_iter().enumerate() {
            out.push(slot.ok_or_else(|| SchedError::Internal {
                scheduler: shared.kind,
                problem: format!("worker {index} ended without reporting its stats"),
            })?);
        }
        if shared.kind == SchedulerKind::Channel {
            let counted: u64 = out.iter().map(|(s, _)| s.hashes).sum();
            let aggregated = shared.aggregated_hashes.load(Ordering::Acquire);
            if counted != aggregated {
                return Err(SchedError::Internal {
                    scheduler: shared.kind,
                    problem: format!(
                        "workers counted {counted} hashes, the dispatcher received {aggregated}"
                    ),
                });
            }
        }
        Ok(out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shared.board.request_stop();
        for thread in self.threads.drain(..) {
            // Already failing or being discarded: a panic here has nowhere better to go.
            let _ = thread.handle.join();
        }
    }
}

fn validate(cfg: &SchedConfig) -> Result<(), SchedError> {
    if cfg.threads == 0 {
        return Err(SchedError::Config("threads must be at least 1".into()));
    }
    if cfg.threads > MAX_THREADS {
        return Err(SchedError::Config(format!(
            "threads = {} exceeds the maximum of {MAX_THREADS}",
            cfg.threads
        )));
    }
    if cfg.batch == 0 {
        return Err(SchedError::Config("batch must be at least 1".into()));
    }
    Ok(())
}

/// Starts the threads of `kind` on a board over `range`, and waits until every worker runs.
fn launch(
    kind: SchedulerKind,
    backend: Arc<dyn Backend>,
    work: Work,
    range: NonceRange,
    cfg: &SchedConfig,
    mode: Mode,
) -> Result<Running, SchedError> {
    validate(cfg)?;
    let backend_kind = backend.kind();
    let shared = Arc::new(Shared {
        kind,
        board: JobBoard::new(work, range, mode, Instant::now()),
        backend,
        backend_kind,
        // A finite scan returns its hits to a caller that never sees them unverified.
        defer_verification: cfg.defer_verification && mode == Mode::Continuous,
        batch: cfg.batch,
        threads: cfg.threads,
        cores: if cfg.pin_threads {
            core_affinity::get_core_ids().filter(|c| !c.is_empty())
        } else {
            None
        },
        slots: (0..cfg.threads).map(|_| Slot::default()).collect(),
        hits: Mutex::new(Vec::new()),
        failure: Mutex::new(None),
        failed: AtomicBool::new(false),
        ready: Mutex::new(0),
        ready_changed: Condvar::new(),
        retired: Mutex::new((0..cfg.threads).map(|_| None).collect()),
        aggregated_hashes: AtomicU64::new(0),
    });
    // From here on, an early return drops `running`, which stops and joins what was spawned.
    let mut running = Running {
        shared,
        threads: Vec::new(),
    };
    let shared = &running.shared;
    match kind {
        SchedulerKind::Stride => stride::spawn(shared, &mut running.threads)?,
        SchedulerKind::Chunked => chunked::spawn(shared, &mut running.threads)?,
        SchedulerKind::Atomic => atomic::spawn(shared, &mut running.threads)?,
        SchedulerKind::Rayon => rayon_pool::spawn(shared, &mut running.threads)?,
        SchedulerKind::Channel => channel::spawn(shared, &mut running.threads)?,
    }
    running.shared.wait_ready()?;
    Ok(running)
}

// ---------------------------------------------------------------------------------------------
// Scheduler names.

/// The schedulers minebench knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// Worker k hashes k, k+n, k+2n, … (the textbook loop), in batches of strided nonces.
    Stride,
    /// The nonce space split into n contiguous static ranges.
    Chunked,
    /// Workers take fixed-size batches from one shared atomic counter.
    Atomic,
    /// Work stealing over batches on a rayon pool of n threads.
    Rayon,
    /// A dispatcher thread feeds batches to workers over channels; results come back on a channel.
    Channel,
}

/// An unknown scheduler name, with the known ones for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheduler {name:?}; known schedulers: {known}")]
pub struct UnknownScheduler {
    pub name: String,
    pub known: String,
}

impl SchedulerKind {
    pub const ALL: &'static [SchedulerKind] = &[
        SchedulerKind::Stride,
        SchedulerKind::Chunked,
        SchedulerKind::Atomic,
        SchedulerKind::Rayon,
        SchedulerKind::Channel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Stride => "stride",
            SchedulerKind::Chunked => "chunked",
            SchedulerKind::Atomic => "atomic",
            SchedulerKind::Rayon => "rayon",
            SchedulerKind::Channel => "channel",
        }
    }

    pub fn from_name(name: &str) -> Result<SchedulerKind, UnknownScheduler> {
        SchedulerKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| UnknownScheduler {
                name: name.to_string(),
                known: SchedulerKind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Static schedulers fix each worker's share up front; dynamic ones hand out work as it goes.
    pub fn is_dynamic(self) -> bool {
        matches!(
            self,
            SchedulerKind::Atomic | SchedulerKind::Rayon | SchedulerKind::Channel
        )
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
