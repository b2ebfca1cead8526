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
mod kind;
mod rayon_pool;
mod spawn;
mod stride;
#[cfg(test)]
mod tests;
mod worker;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::pow::{
    verify_hit, Availability, Backend, BackendError, Header, Hit, NonceRange, Target, Work,
};

pub use job::{rolled_header, Epoch, Roller, ROLL_BIT};
pub use kind::{SchedulerKind, UnknownScheduler};
pub use worker::BatchSource;

use job::Mode;
use spawn::{launch, Running, Thread};
use worker::Shared;

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

/// The most workers a scheduler accepts (and a scenario may ask for): far above any machine this
/// runs on, low enough that a typo (`threads = [20000]`) is caught instead of spawning that many
/// threads (`stride` also needs `threads` as a 32-bit nonce step).
pub const MAX_THREADS: usize = 1024;

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
    /// The backend panicked inside `scan` on worker `worker`.
    #[error("backend {backend} panicked on worker {worker}: {message}")]
    BackendPanicked {
        backend: String,
        worker: usize,
        message: String,
    },
    /// The channel dispatcher or the rayon driver panicked.
    #[error("scheduler thread {0} panicked")]
    HelperPanicked(&'static str),
    /// A finite scan hashed a different number of nonces than its range holds.
    #[error(
        "{scheduler} hashed {hashed} nonces of a {expected}-nonce range: exact coverage broken"
    )]
    Coverage {
        scheduler: String,
        expected: u64,
        hashed: u64,
    },
    /// A scheduler's own bookkeeping disagrees with itself (a bug in `sched/`).
    #[error("{scheduler} scheduler bookkeeping is inconsistent: {problem}")]
    Internal { scheduler: String, problem: String },
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
    pub fn verify(&self, backend: &str) -> Result<(), BackendError> {
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
    /// Hits published after the last [`Session::drain_hits`]: those of the last batches, and
    /// any a scheduler published late (`channel`'s dispatcher publishes as it gets to the
    /// results). With [`SchedConfig::defer_verification`] the caller still re-checks them.
    pub late_hits: Vec<FoundHit>,
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
    scheduler: &(impl Scheduler + ?Sized),
    backend: Arc<dyn Backend>,
    work: &Work,
    range: NonceRange,
    cfg: &SchedConfig,
) -> Result<RangeOutcome, SchedError> {
    let running = launch(scheduler, backend, *work, range, cfg, Mode::Finite, None)?;
    let shared = Arc::clone(&running.shared);
    let collected = running.join()?;
    let mut hits: Vec<Hit> = shared.take_hits().into_iter().map(|f| f.hit).collect();
    hits.sort_unstable();
    let workers: Vec<WorkerStats> = collected.into_iter().map(|(stats, _)| stats).collect();
    let hashes = workers.iter().map(|w| w.hashes).sum();
    if hashes != range.len() {
        return Err(SchedError::Coverage {
            scheduler: scheduler.name().to_string(),
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
    scheduler: &(impl Scheduler + ?Sized),
    backend: Arc<dyn Backend>,
    work: Work,
    cfg: &SchedConfig,
) -> Result<Session, SchedError> {
    start_in(scheduler, backend, work, NonceRange::full(), cfg)
}

/// [`start`] over a smaller nonce space per header, so a session exhausts it and rolls quickly
/// (tests and demonstrations of rolling). `start` is `start_in(.., NonceRange::full(), ..)`.
pub fn start_in(
    scheduler: &(impl Scheduler + ?Sized),
    backend: Arc<dyn Backend>,
    work: Work,
    space: NonceRange,
    cfg: &SchedConfig,
) -> Result<Session, SchedError> {
    let running = launch(scheduler, backend, work, space, cfg, Mode::Continuous, None)?;
    Ok(Session { running })
}

/// [`start`] for a job that rolls its own way (a pool job rolls its extranonce2): every roll
/// of the first job asks `roller` for its header.
pub fn start_rolled(
    scheduler: &(impl Scheduler + ?Sized),
    backend: Arc<dyn Backend>,
    work: Work,
    roller: Roller,
    cfg: &SchedConfig,
) -> Result<Session, SchedError> {
    let running = launch(
        scheduler,
        backend,
        work,
        NonceRange::full(),
        cfg,
        Mode::Continuous,
        Some(roller),
    )?;
    Ok(Session { running })
}

/// Sees each batch's and each job switch's latency as it happens, from the worker that had it
/// (live metrics). Called once per batch: it must be cheap and must not block for long.
pub trait Tap: Send + Sync {
    /// A batch's scan took `ns`.
    fn batch(&self, ns: u64);
    /// A worker began its first batch of a new job `ns` after the job's broadcast.
    fn job_switch(&self, ns: u64);
}

/// See [`Session::switcher`].
#[derive(Clone)]
pub struct Switcher(Arc<Shared>);

impl Switcher {
    /// As [`Session::switch_job_rolled`].
    pub fn switch_job_rolled(&self, work: Work, roller: Roller, arrived: Instant) -> u64 {
        self.0.board.switch(work, Some(roller), arrived)
    }
}

impl fmt::Debug for Switcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Switcher(..)")
    }
}

/// A continuous mining session: workers hash from the moment [`start`] returns until
/// [`Session::finish`], rolling to a fresh header (`rolled_header`) whenever the current header's
/// space is exhausted, and following [`Session::switch_job`]. Workers live for the whole session.
///
/// Dropping a session without `finish` stops and joins its workers too (discarding the stats).
pub struct Session {
    running: Running,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("scheduler", &self.running.shared.scheduler)
            .field("threads", &self.running.shared.threads)
            .field("hashes", &self.hashes())
            .field("job", &self.running.shared.board.job())
            .finish()
    }
}

impl Session {
    /// The scheduler's name.
    pub fn scheduler(&self) -> &str {
        &self.running.shared.scheduler
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
        self.running.shared.board.switch(work, None, Instant::now())
    }

    /// [`Session::switch_job`] for a job that rolls its own way, with the instant the job
    /// arrived (a pool's notify read off the socket) as the zero point of the workers' switch
    /// latencies.
    pub fn switch_job_rolled(&self, work: Work, roller: Roller, arrived: Instant) -> u64 {
        self.running
            .shared
            .board
            .switch(work, Some(roller), arrived)
    }

    /// A handle that switches this session's job from another thread (a pool feed's reader,
    /// the moment a notify arrives). Switching through it after `finish` does nothing useful.
    pub fn switcher(&self) -> Switcher {
        Switcher(Arc::clone(&self.running.shared))
    }

    /// Sends every later batch and job-switch latency to `tap` as well (once per session;
    /// a second call is ignored).
    pub fn set_tap(&self, tap: Arc<dyn Tap>) {
        let _ = self.running.shared.tap.set(tap);
    }

    /// The target of the work being hashed now.
    pub fn current_target(&self) -> Target {
        self.running.shared.board.current().work.target
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
            late_hits: shared.take_hits(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The scheduler trait.

/// A scheduler: how a nonce space is split over worker threads. The five built-ins
/// ([`SchedulerKind`]) implement it, and so can a user's (registered through
/// [`crate::Registry`]): every scheduler runs on the same worker core — per-worker counters and
/// histograms, job broadcast and switch latency, stale-work accounting, `/proc` thread stats and
/// exact-coverage checking — so only the choice of the next batch differs.
///
/// A user scheduler is a *pull* scheduler: [`Scheduler::launch`] gives each worker a
/// [`BatchSource`] with [`Launch::spawn_worker`], and the worker loop asks it for batches
/// until the epoch runs dry.
pub trait Scheduler: Send + Sync {
    /// The name scenarios and reports use (`[A-Za-z0-9][A-Za-z0-9._-]*`, at most 64 bytes).
    fn name(&self) -> &str;

    /// Static schedulers fix each worker's share up front; dynamic ones hand out work as it goes
    /// (reports use it to explain imbalance).
    fn is_dynamic(&self) -> bool;

    /// Whether it can run here, and if not why (the case is then skipped with that reason).
    fn availability(&self) -> Availability {
        Availability::Available
    }

    /// Starts `launch.threads()` workers, indices `0..threads`, each exactly once.
    fn launch(&self, launch: &mut Launch<'_>) -> Result<(), SchedError>;
}

impl<S: Scheduler + ?Sized> Scheduler for Arc<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn is_dynamic(&self) -> bool {
        (**self).is_dynamic()
    }
    fn availability(&self) -> Availability {
        (**self).availability()
    }
    fn launch(&self, launch: &mut Launch<'_>) -> Result<(), SchedError> {
        (**self).launch(launch)
    }
}

/// What [`Scheduler::launch`] is handed: the configuration, and the one way to start a worker.
pub struct Launch<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) threads: &'a mut Vec<Thread>,
    /// Which worker indices were started (a pull worker is started at most once).
    pub(crate) started: Vec<bool>,
}

impl Launch<'_> {
    /// Worker threads to start (≥ 1).
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// Nonces per batch the scenario asked for (≥ 1); a scheduler may hand out other sizes.
    pub fn batch(&self) -> u64 {
        self.shared.batch
    }

    /// Starts worker `index` (`mb-worker-{index}`), which hashes the batches `source` hands it.
    pub fn spawn_worker(
        &mut self,
        index: usize,
        source: impl BatchSource + 'static,
    ) -> Result<(), SchedError> {
        self.claim(index)?;
        self.threads
            .push(spawn::spawn_pull_worker(self.shared, index, source)?);
        Ok(())
    }

    /// Marks worker `index` started; an index out of range or started twice is a scheduler bug.
    pub(crate) fn claim(&mut self, index: usize) -> Result<(), SchedError> {
        let scheduler = &self.shared.scheduler;
        match self.started.get_mut(index) {
            None => Err(SchedError::Internal {
                scheduler: scheduler.clone(),
                problem: format!(
                    "started worker {index}, but there are only {} workers",
                    self.started.len()
                ),
            }),
            Some(true) => Err(SchedError::Internal {
                scheduler: scheduler.clone(),
                problem: format!("started worker {index} twice"),
            }),
            Some(slot) => {
                *slot = true;
                Ok(())
            }
        }
    }
}
