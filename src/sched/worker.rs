//! The shared worker core every scheduler runs on: the per-worker record (counters, histograms,
//! job log), the state the threads of one scan or session share, and the pull loop.
//!
//! Owns: what happens around one batch (timing, counting, the reference re-check, stale
//! accounting, publishing hits). Must not: decide which batch comes next (that is a
//! [`BatchSource`]) or spawn threads (that is `spawn.rs`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::job::{Epoch, JobBoard};
use super::{FoundHit, SchedError, WorkerStats};
use crate::pow::{check_in_range, verify_hits, Backend, Hit, NonceRange};

/// A new per-worker histogram: 1 ns .. 1 h at 3 significant figures.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .expect("constant bounds 1 ..= 3.6e12 with 3 significant figures are valid")
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The calling thread's Linux thread id.
pub(crate) fn current_tid() -> i32 {
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
pub(crate) fn current_cpu() -> Option<usize> {
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked, which is reported on its own.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The atomics one worker writes and the session reads, alone on their cache lines so workers
/// bumping their counters never invalidate each other's lines.
#[repr(align(128))]
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) hashes: AtomicU64,
    pub(crate) job: AtomicU64,
    pub(crate) tid: AtomicI32,
}

/// A worker's per-job log, merged into [`JobSwitch`]es at the end.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobLog {
    /// (job, ns from its broadcast to this worker's first batch of it)
    pub(crate) latencies: Vec<(u64, u64)>,
    /// (switch job, hashes of older jobs completed after that switch's broadcast)
    pub(crate) stale: Vec<(u64, u64)>,
}

// Both logs are sorted by job and hold each job once (a worker meets jobs in increasing order
// and `add_stale` merges into the last entry), so a lookup is a binary search: `finish` looks
// up every switch for every worker, and a linear scan made that quadratic in the switches.
impl JobLog {
    pub(crate) fn latency_ns(&self, job: u64) -> Option<u64> {
        self.latencies
            .binary_search_by_key(&job, |&(j, _)| j)
            .ok()
            .map(|i| self.latencies[i].1)
    }

    pub(crate) fn stale(&self, job: u64) -> u64 {
        self.stale
            .binary_search_by_key(&job, |&(j, _)| j)
            .map_or(0, |i| self.stale[i].1)
    }

    pub(crate) fn add_stale(&mut self, job: u64, hashes: u64) {
        match self.stale.last_mut() {
            Some((j, h)) if *j == job => *h += hashes,
            _ => self.stale.push((job, hashes)),
        }
    }
}

/// Everything the threads of one scan or session share.
pub(crate) struct Shared {
    /// The scheduler's name, for errors.
    pub(crate) scheduler: String,
    pub(crate) board: JobBoard,
    pub(crate) backend: Arc<dyn Backend>,
    /// Cached so the per-batch re-check does not make a second virtual call.
    pub(crate) backend_name: String,
    /// [`SchedConfig::defer_verification`]; never set for a finite scan.
    pub(crate) defer_verification: bool,
    pub(crate) batch: u64,
    pub(crate) threads: usize,
    pub(crate) cores: Option<Vec<core_affinity::CoreId>>,
    pub(crate) slots: Box<[Slot]>,
    pub(crate) hits: Mutex<Vec<FoundHit>>,
    pub(crate) failure: Mutex<Option<SchedError>>,
    pub(crate) failed: AtomicBool,
    /// Workers that have started (pinned, tid reported).
    pub(crate) ready: Mutex<usize>,
    pub(crate) ready_changed: Condvar,
    /// Finished workers deposit their stats here, by index.
    pub(crate) retired: Mutex<Vec<Option<(WorkerStats, JobLog)>>>,
    /// Where batch and job-switch latencies also go as they happen (live metrics); set once.
    pub(crate) tap: std::sync::OnceLock<Arc<dyn super::Tap>>,
    /// Hashes a scheduler tallied on its own (the `channel` dispatcher totals its result
    /// channel), checked against the workers' counts at the end when `tallied` is set.
    pub(crate) aggregated_hashes: AtomicU64,
    pub(crate) tallied: AtomicBool,
}

/// How long `start` waits for workers to report in before giving up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl Shared {
    pub(crate) fn tids(&self) -> Vec<i32> {
        self.slots
            .iter()
            .map(|s| s.tid.load(Ordering::Acquire))
            .collect()
    }

    /// Records the first failure and stops everyone.
    pub(crate) fn fail(&self, error: SchedError) {
        {
            let mut failure = lock(&self.failure);
            if failure.is_none() {
                *failure = Some(error);
            }
        }
        self.failed.store(true, Ordering::Release);
        self.board.request_stop();
    }

    pub(crate) fn take_failure(&self) -> Option<SchedError> {
        lock(&self.failure).take()
    }

    pub(crate) fn take_hits(&self) -> Vec<FoundHit> {
        std::mem::take(&mut *lock(&self.hits))
    }

    /// Publishes a batch's hits (no lock when there are none: the common case).
    pub(crate) fn publish(&self, worker: usize, epoch: &Epoch, hits: &[Hit], at: Instant) {
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

    pub(crate) fn report_ready(&self, index: usize, tid: i32) {
        self.slots[index].tid.store(tid, Ordering::Release);
        let mut ready = lock(&self.ready);
        *ready += 1;
        self.ready_changed.notify_all();
    }

    /// Waits until every worker reported its tid. Reporting is each worker's first act, before
    /// it can fail, so a failure elsewhere does not end the wait early: `start` still returns a
    /// session, whose `failed()` and `finish` then tell. Only a worker that never starts (the
    /// deadline) is a start-up error.
    pub(crate) fn wait_ready(&self) -> Result<(), SchedError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut ready = lock(&self.ready);
        while *ready < self.threads {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SchedError::Spawn(format!(
                    "{} of {} {} workers did not start within {:?}",
                    self.threads - *ready,
                    self.threads,
                    self.scheduler,
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

    pub(crate) fn retire(&self, worker: Worker) {
        let index = worker.index;
        let done = worker.finish();
        lock(&self.retired)[index] = Some(done);
    }

    /// The core worker `index` is pinned to, if pinning was asked for.
    pub(crate) fn core_for(&self, index: usize) -> Option<core_affinity::CoreId> {
        let cores = self.cores.as_ref()?;
        cores.get(index % cores.len()).copied()
    }
}

/// One worker's own bookkeeping: owned by its thread, touched by nobody else until it retires.
pub(crate) struct Worker {
    pub(crate) index: usize,
    pub(crate) tid: i32,
    pub(crate) pinned_core: Option<usize>,
    pub(crate) born: Instant,
    pub(crate) hashes: u64,
    pub(crate) batches: u64,
    pub(crate) busy_ns: u64,
    pub(crate) dropped_batches: u64,
    pub(crate) batch_latency: Histogram<u64>,
    pub(crate) queue_wait: Option<Histogram<u64>>,
    /// The job of the last batch started (latency is recorded when it grows).
    pub(crate) last_job: u64,
    pub(crate) log: JobLog,
    /// Reused hit buffer, so a batch without hits allocates nothing.
    pub(crate) hit_buf: Vec<Hit>,
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
    pub(crate) fn start(shared: &Shared, index: usize) -> Worker {
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
    pub(crate) fn run_batch(
        &mut self,
        shared: &Shared,
        epoch: &Epoch,
        range: NonceRange,
    ) -> Result<BatchDone, Failed> {
        let begin = Instant::now();
        if epoch.job > self.last_job {
            let latency = nanos(begin.saturating_duration_since(epoch.job_broadcast_at));
            self.log.latencies.push((epoch.job, latency));
            if let Some(tap) = shared.tap.get() {
                tap.job_switch(latency);
            }
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
        let hashes = match scanned {
            Ok(hashes) => hashes,
            Err(payload) => {
                shared.fail(SchedError::BackendPanicked {
                    backend: shared.backend_name.clone(),
                    worker: self.index,
                    message: crate::pow::crosscheck::panic_text(&payload),
                });
                return Err(Failed);
            }
        };
        let busy = nanos(end - begin);
        self.busy_ns += busy;
        self.batches += 1;
        self.hashes += hashes;
        self.batch_latency.saturating_record(busy.max(1));
        if let Some(tap) = shared.tap.get() {
            tap.batch(busy.max(1));
        }
        // Single writer: a relaxed add is all the session's reader needs.
        shared.slots[self.index]
            .hashes
            .fetch_add(hashes, Ordering::Relaxed);
        let checked = if shared.defer_verification {
            check_in_range(&shared.backend_name, range, &self.hit_buf)
        } else {
            verify_hits(&shared.backend_name, &epoch.work, range, &self.hit_buf)
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
    pub(crate) fn run_and_publish(
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
    pub(crate) fn finish(self) -> (WorkerStats, JobLog) {
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

/// How one worker of a pull scheduler gets its batches: the part of a scheduler a user writes
/// (see [`super::Scheduler`] and [`super::Launch::spawn_worker`]). Each worker owns its source;
/// state shared by all workers of an epoch lives in the [`Epoch`] (its [`Epoch::cursor`]).
///
/// Every batch handed out must lie inside [`Epoch::range`], and the batches of all workers
/// together must cover it exactly once: `scan_range` checks the hash count, and the pre-flight
/// check of a run compares the hits with the reference.
pub trait BatchSource: Send {
    /// A new epoch began (a job switch or a roll): forget the old one's progress.
    fn begin(&mut self, epoch: &Epoch);
    /// The next batch, or `None` when this worker has nothing more to do in this epoch (it then
    /// waits, idle, for the roll, the next job or the end).
    fn next_batch(&mut self, epoch: &Epoch) -> Option<NonceRange>;
}

/// The loop `stride`, `chunked`, `atomic` and every user pull scheduler's workers run: batches from `source` until the epoch
/// changes (start over on the new one) or runs dry (report it, then wait idle for the roll, the
/// next job or the end).
pub(crate) fn pull_loop(shared: &Shared, worker: &mut Worker, mut source: impl BatchSource) {
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
    pub(crate) index: usize,
    pub(crate) threads: usize,
    pub(crate) batch: u64,
    pub(crate) share: fn(&NonceRange, usize, usize) -> NonceRange,
    pub(crate) left: NonceRange,
}

impl StaticShare {
    pub(crate) fn new(
        threads: usize,
        batch: u64,
        index: usize,
        share: fn(&NonceRange, usize, usize) -> NonceRange,
    ) -> StaticShare {
        StaticShare {
            index,
            threads,
            batch,
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
