//! Spawning the threads of one scan or session, and tearing them down: the only place minebench
//! starts hashing threads.
//!
//! Owns: thread names, panic attribution (a panicking thread names itself), joining, and the
//! launch of a [`Scheduler`] onto a fresh [`Shared`]. Must not: hash or keep statistics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::job::{JobBoard, Mode, Roller};
use super::worker::{lock, pull_loop, BatchSource, JobLog, Shared, Slot, Worker};
use super::{Launch, SchedConfig, SchedError, Scheduler, WorkerStats, MAX_THREADS};
use crate::pow::{Backend, NonceRange, Work};

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
pub(crate) fn spawn_worker(
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
pub(crate) fn spawn_helper(
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
pub(crate) fn spawn_pull_worker<S: BatchSource + Send + 'static>(
    shared: &Arc<Shared>,
    index: usize,
    source: S,
) -> Result<Thread, SchedError> {
    spawn_worker(shared, index, move |shared, worker| {
        pull_loop(shared, worker, source)
    })
}

/// The threads of one scan or session. Dropping it stops and joins them.
pub(crate) struct Running {
    pub(crate) shared: Arc<Shared>,
    pub(crate) threads: Vec<Thread>,
}

impl Running {
    /// Joins every thread (without stopping them: a finite scan runs to its end) and returns the
    /// workers' stats and job logs in index order, or the first failure.
    pub(crate) fn join(mut self) -> Result<Vec<(WorkerStats, JobLog)>, SchedError> {
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
                scheduler: shared.scheduler.clone(),
                problem: format!("worker {index} ended without reporting its stats"),
            })?);
        }
        if shared.tallied.load(Ordering::Acquire) {
            let counted: u64 = out.iter().map(|(s, _)| s.hashes).sum();
            let aggregated = shared.aggregated_hashes.load(Ordering::Acquire);
            if counted != aggregated {
                return Err(SchedError::Internal {
                    scheduler: shared.scheduler.clone(),
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

pub(crate) fn validate(cfg: &SchedConfig) -> Result<(), SchedError> {
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

/// Starts the threads of `scheduler` on a board over `range`, and waits until every worker runs.
pub(crate) fn launch(
    scheduler: &(impl Scheduler + ?Sized),
    backend: Arc<dyn Backend>,
    work: Work,
    range: NonceRange,
    cfg: &SchedConfig,
    mode: Mode,
    roller: Option<Roller>,
) -> Result<Running, SchedError> {
    validate(cfg)?;
    let backend_name = backend.name().to_string();
    let shared = Arc::new(Shared {
        scheduler: scheduler.name().to_string(),
        board: JobBoard::new(work, roller, range, mode, Instant::now()),
        backend,
        backend_name,
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
        tap: std::sync::OnceLock::new(),
        aggregated_hashes: AtomicU64::new(0),
        tallied: AtomicBool::new(false),
    });
    // From here on, an early return drops `running`, which stops and joins what was spawned.
    let mut running = Running {
        shared,
        threads: Vec::new(),
    };
    let mut launch = Launch {
        shared: &running.shared,
        threads: &mut running.threads,
        started: vec![false; cfg.threads],
    };
    scheduler.launch(&mut launch)?;
    let started = launch.started.iter().filter(|&&s| s).count();
    if started != cfg.threads {
        return Err(SchedError::Internal {
            scheduler: scheduler.name().to_string(),
            problem: format!("started {started} of {} workers", cfg.threads),
        });
    }
    running.shared.wait_ready()?;
    Ok(running)
}
