//! Job broadcast and epochs: the one place that decides *what* the workers hash right now.
//!
//! Owns: the current [`Epoch`] (a header, its nonce space and the per-epoch counters the
//! schedulers share), job switches requested by the caller, and rolls to a fresh header when a
//! space runs out. Must not: hash, spawn threads or read per-hash state — workers look at the
//! epoch number (one atomic load) once per batch and take the lock only when it changed.
//!
//! Two kinds of epoch change:
//! - a **switch** (`JobBoard::switch`): the caller broadcasts a new job. The job id grows, work on
//!   the old job becomes *stale*, workers measure how long they took to start the new one.
//! - a **roll** (`JobBoard::exhausted` in a continuous session): the current header's nonce space
//!   has been fully handed out, so the board derives a fresh header from the job's own header (as
//!   a miner rolls its extranonce). The job id stays; nothing is stale.
//!
//! In a finite scan (`scan_range`) exhaustion does not roll: it marks the board finished and the
//! workers leave.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::pow::{Header, NonceRange, Work};

/// Set in the job id handed to [`Header::next_job`] for rolled headers, so a rolled header can
/// never coincide with the header of a caller's job `next_job(id)` for a small `id`.
pub const ROLL_BIT: u64 = 1 << 63;

/// The header a session hashes after its `extranonce`-th roll, derived from the header of the job
/// being rolled (`extranonce` 0 is that header itself). [`super::FoundHit`] carries both, so a
/// caller can rebuild the exact header of any hit.
pub fn rolled_header(job_header: &Header, extranonce: u64) -> Header {
    if extranonce == 0 {
        *job_header
    } else {
        job_header.next_job(ROLL_BIT | extranonce)
    }
}

/// How a job derives the header of its rolls when the caller knows better than
/// [`rolled_header`]: a job from a stratum pool rolls its extranonce2 (a new coinbase, a new
/// merkle root) or its version bits. Called under the board's lock with the session-wide roll
/// counter (≥ 1); it must return a header never hashed before in this process.
#[derive(Clone)]
pub struct Roller(Arc<dyn Fn(u64) -> Header + Send + Sync>);

impl Roller {
    pub fn new(f: impl Fn(u64) -> Header + Send + Sync + 'static) -> Roller {
        Roller(Arc::new(f))
    }

    /// The header of roll `extranonce` (≥ 1).
    pub fn roll(&self, extranonce: u64) -> Header {
        (self.0)(extranonce)
    }
}

impl std::fmt::Debug for Roller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Roller(..)")
    }
}

/// What happens when the current epoch's space has been fully handed out and hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `scan_range`: the board is finished and workers exit.
    Finite,
    /// A session: roll to a fresh header and keep going.
    Continuous,
}

/// A 64-bit atomic alone on its cache lines (128 bytes: adjacent-line prefetch pairs lines), so
/// workers hammering it do not false-share with anything else.
#[repr(align(128))]
#[derive(Debug, Default)]
pub(crate) struct PaddedU64(pub AtomicU64);

/// One header over one nonce space: what every worker hashes until the epoch number changes.
#[derive(Debug)]
pub struct Epoch {
    /// Grows by one at every switch and every roll.
    pub(crate) seq: u64,
    /// The caller's job (0 = the work `start` was given); unchanged by rolls.
    pub(crate) job: u64,
    /// 0 for the job's own header, else the session-wide roll counter that made this header.
    pub(crate) extranonce: u64,
    pub(crate) work: Work,
    /// The nonces of this epoch: the whole 2^32 space in a session, the asked range in a scan.
    pub(crate) range: NonceRange,
    /// When this epoch's *job* was broadcast (the session start for job 0; a roll keeps its
    /// job's instant), the zero point of switch latencies.
    pub(crate) job_broadcast_at: Instant,
    /// The dynamic schedulers' cursor: offset into `range` of the next batch to hand out.
    pub(crate) cursor: PaddedU64,
    /// Workers that have finished their share of this epoch; the last one reports exhaustion.
    pub(crate) done_workers: AtomicUsize,
}

/// What a [`super::BatchSource`] sees of an epoch.
impl Epoch {
    /// Grows by one at every job switch and every roll.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The caller's job (0 for the work the session started with); unchanged by rolls.
    pub fn job(&self) -> u64 {
        self.job
    }

    /// What is hashed in this epoch.
    pub fn work(&self) -> &Work {
        &self.work
    }

    /// The nonces of this epoch (the whole 2^32 space in a session, the asked range in a
    /// finite scan): the workers' batches together must cover it exactly once.
    pub fn range(&self) -> NonceRange {
        self.range
    }

    /// A counter shared by every worker of this epoch, 0 when the epoch begins, alone on its
    /// cache lines: dynamic schedulers hand out offsets into [`Epoch::range`] with it
    /// (`fetch_add` as `atomic` does, or `compare_exchange` for batch sizes that depend on
    /// what is left). Adding past `range().len()` is how a worker learns the epoch ran dry.
    pub fn cursor(&self) -> &AtomicU64 {
        &self.cursor.0
    }
}

impl Epoch {
    pub(crate) fn new(
        seq: u64,
        job: u64,
        extranonce: u64,
        work: Work,
        range: NonceRange,
        at: Instant,
    ) -> Arc<Epoch> {
        Arc::new(Epoch {
            seq,
            job,
            extranonce,
            work,
            range,
            job_broadcast_at: at,
            cursor: PaddedU64::default(),
            done_workers: AtomicUsize::new(0),
        })
    }
}

/// A job switch as the board logged it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SwitchRecord {
    pub job: u64,
    pub broadcast_at: Instant,
}

#[derive(Debug)]
struct BoardState {
    epoch: Arc<Epoch>,
    /// The work of the current job before any roll: rolled headers derive from it.
    job_work: Work,
    /// The current job's own way to roll (None: [`rolled_header`]).
    roller: Option<Roller>,
    switches: Vec<SwitchRecord>,
    rolls: u64,
}

/// The shared job state of one session or scan.
#[derive(Debug)]
pub(crate) struct JobBoard {
    mode: Mode,
    /// Mirrors `state.epoch.seq`, so workers can test for a change without the lock.
    seq: AtomicU64,
    /// Mirrors `state.epoch.job`: a batch of an older job that completes is stale.
    job: AtomicU64,
    /// Stop as soon as possible: `finish` was called or a worker failed.
    stop: AtomicBool,
    /// A finite scan's range is fully hashed.
    finished: AtomicBool,
    state: Mutex<BoardState>,
    changed: Condvar,
}

impl JobBoard {
    pub fn new(
        work: Work,
        roller: Option<Roller>,
        range: NonceRange,
        mode: Mode,
        start: Instant,
    ) -> JobBoard {
        JobBoard {
            mode,
            seq: AtomicU64::new(0),
            job: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            state: Mutex::new(BoardState {
                epoch: Epoch::new(0, 0, 0, work, range, start),
                job_work: work,
                roller,
                switches: Vec::new(),
                rolls: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// The board's lock. Nothing that can panic runs under it, but a poisoned lock would only
    /// mean a panic elsewhere, which the session reports on its own: carry on with the data.
    fn lock(&self) -> MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current epoch number: one atomic load, cheap enough for every batch.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// The current job id.
    pub fn job(&self) -> u64 {
        self.job.load(Ordering::Acquire)
    }

    pub fn current(&self) -> Arc<Epoch> {
        Arc::clone(&self.lock().epoch)
    }

    /// Whether workers must stop now (finish requested or a failure).
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Whether a finite scan's range has been fully handed out and hashed (or, for `channel`,
    /// handed out).
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Stops every worker after its current batch, and wakes the ones waiting for an epoch.
    pub fn request_stop(&self) {
        // Set under the lock so a worker between its check and its wait cannot miss the wake-up.
        let _state = self.lock();
        self.stop.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    /// Broadcasts a new job: a new epoch over the full space of the board's range from offset 0.
    /// Returns the new job id.
    pub fn switch(&self, work: Work, roller: Option<Roller>, at: Instant) -> u64 {
        let mut state = self.lock();
        let job = state.epoch.job + 1;
        let seq = state.epoch.seq + 1;
        let range = state.epoch.range;
        state.epoch = Epoch::new(seq, job, 0, work, range, at);
        state.job_work = work;
        state.roller = roller;
        state.switches.push(SwitchRecord {
            job,
            broadcast_at: at,
        });
        self.job.store(job, Ordering::Release);
        self.seq.store(seq, Ordering::Release);
        self.changed.notify_all();
        job
    }

    /// Epoch `seq`'s space has been fully hashed (static and atomic schedulers, rayon) or handed
    /// out (channel). A continuous board rolls to a fresh header of the same job; a finite one is
    /// finished. Nothing happens if the epoch already changed (a switch won the race).
    pub fn exhausted(&self, seq: u64) {
        let mut state = self.lock();
        if state.epoch.seq != seq {
            return;
        }
        match self.mode {
            Mode::Finite => {
                self.finished.store(true, Ordering::Release);
            }
            Mode::Continuous => {
                state.rolls += 1;
                let extranonce = state.rolls;
                let header = match &state.roller {
                    Some(r) => r.roll(extranonce),
                    None => rolled_header(&state.job_work.header, extranonce),
                };
                let work = Work::new(header, state.job_work.target);
                let old = &state.epoch;
                let next = Epoch::new(
                    seq + 1,
                    old.job,
                    extranonce,
                    work,
                    old.range,
                    old.job_broadcast_at,
                );
                state.epoch = next;
                self.seq.store(seq + 1, Ordering::Release);
            }
        }
        self.changed.notify_all();
    }

    /// Blocks until the epoch is no longer `seq`, and returns the new one; `None` when the
    /// worker should leave instead (stop requested, or a finite scan finished).
    pub fn wait_change(&self, seq: u64) -> Option<Arc<Epoch>> {
        let mut state = self.lock();
        loop {
            if self.should_stop() || self.finished.load(Ordering::Acquire) {
                return None;
            }
            if state.epoch.seq != seq {
                return Some(Arc::clone(&state.epoch));
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub fn switches(&self) -> Vec<SwitchRecord> {
        self.lock().switches.clone()
    }

    /// How many times the session rolled to a fresh header.
    pub fn rolls(&self) -> u64 {
        self.lock().rolls
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::Target;

    fn work(seed: u64) -> Work {
        Work::new(Header::synthetic(seed), Target::from_zero_bits(8).unwrap())
    }

    #[test]
    fn switches_and_rolls_change_the_epoch_differently() {
        let range = NonceRange::new(0, 10).unwrap();
        let board = JobBoard::new(work(1), None, range, Mode::Continuous, Instant::now());
        assert_eq!((board.seq(), board.job()), (0, 0));

        board.exhausted(0);
        let rolled = board.current();
        assert_eq!((rolled.seq, rolled.job, rolled.extranonce), (1, 0, 1));
        assert_eq!(
            rolled.work.header,
            work(1).header.next_job(ROLL_BIT | 1),
            "a roll derives its header from the job's header"
        );
        // A late report about an old epoch changes nothing.
        board.exhausted(0);
        assert_eq!(board.seq(), 1);

        let next = Work::new(work(1).header.next_job(1), work(1).target);
        let job = board.switch(next, None, Instant::now());
        assert_eq!((job, board.job(), board.seq()), (1, 1, 2));
        assert_eq!(board.current().work, next);
        assert_eq!(board.current().extranonce, 0);
        board.exhausted(2);
        let rolled = board.current();
        assert_eq!((rolled.job, rolled.extranonce), (1, 2));
        assert_eq!(rolled.work.header, rolled_header(&next.header, 2));
        assert_eq!(board.rolls(), 2);
        assert_eq!(board.switches().len(), 1);
        assert_eq!(board.wait_change(0).map(|e| e.seq), Some(3));
    }

    #[test]
    fn finite_exhaustion_and_stop_release_waiters() {
        let range = NonceRange::new(0, 10).unwrap();
        let board = JobBoard::new(work(2), None, range, Mode::Finite, Instant::now());
        board.exhausted(0);
        assert_eq!(board.seq(), 0, "a finite board never rolls");
        assert!(board.wait_change(0).is_none());

        let board = Arc::new(JobBoard::new(
            work(3),
            None,
            range,
            Mode::Continuous,
            Instant::now(),
        ));
        let waiter = {
            let board = Arc::clone(&board);
            std::thread::spawn(move || board.wait_change(0).is_none())
        };
        board.request_stop();
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_job_with_its_own_roller_rolls_through_it_and_a_switch_replaces_it() {
        let range = NonceRange::new(0, 10).unwrap();
        let marked = |k: u64| {
            let mut b = *Header::synthetic(77).as_bytes();
            b[0..8].copy_from_slice(&k.to_le_bytes());
            Header::from_bytes(b)
        };
        let board = JobBoard::new(
            work(4),
            Some(Roller::new(marked)),
            range,
            Mode::Continuous,
            Instant::now(),
        );
        board.exhausted(0);
        assert_eq!(board.current().work.header, marked(1));
        assert_eq!(board.current().extranonce, 1);
        // A switch without a roller goes back to `rolled_header` of the new job's header.
        let next = work(5);
        board.switch(next, None, Instant::now());
        board.exhausted(2);
        assert_eq!(board.current().work.header, rolled_header(&next.header, 2));
    }
}
