//! `rayon`: work stealing over batches on a rayon `ThreadPool` of n threads (`mb-rayon-{i}`),
//! built once per scan or session.
//!
//! Owns: the pool and its driver thread (`mb-rayon-driver`, which only blocks in `install`). Per
//! epoch the driver runs one parallel loop over the epoch's batch indices; rayon splits and
//! steals. A switch or a stop makes the remaining batches short-circuit (`try_for_each`), and the
//! driver starts over on the new epoch. Must not: keep stats in shared locked state — each pool
//! thread's [`Worker`] lives in a thread-local, keyed by `rayon::current_thread_index()` through
//! the start handler, and is collected with one `broadcast` at the end.

use std::cell::RefCell;
use std::sync::Arc;

use rayon::iter::{IntoParallelIterator, ParallelIterator};
use rayon::ThreadPool;

use super::job::Epoch;
use super::spawn::spawn_helper;
use super::worker::{sub_range, Shared, Worker};
use super::{Launch, SchedError};

thread_local! {
    /// The worker record of the pool thread this runs on (`None` on every other thread).
    static POOL_WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// Why a parallel loop over an epoch ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// A new epoch (a job switch) was published.
    Changed,
    /// Stop requested, or a batch failed.
    Stop,
}

pub(crate) fn launch(launch: &mut Launch<'_>) -> Result<(), SchedError> {
    // The pool starts its n threads itself; each becomes worker `index` in its start handler.
    for k in 0..launch.threads() {
        launch.claim(k)?;
    }
    let (shared, threads) = (launch.shared, &mut *launch.threads);
    let n = shared.threads;
    let handler_shared = Arc::clone(shared);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("mb-rayon-{i}"))
        // Runs first on each pool thread: pin, learn the tid, install this thread's Worker.
        .start_handler(move |index| {
            let worker = Worker::start(&handler_shared, index);
            POOL_WORKER.with(|cell| *cell.borrow_mut() = Some(worker));
        })
        .build()
        .map_err(|e| SchedError::Spawn(format!("rayon pool of {n} threads: {e}")))?;
    threads.push(spawn_helper(shared, "mb-rayon-driver", move |shared| {
        drive(shared, pool)
    })?);
    Ok(())
}

fn drive(shared: &Shared, pool: ThreadPool) {
    let board = &shared.board;
    let mut epoch = board.current();
    loop {
        let batches = epoch.range.len().div_ceil(shared.batch);
        let result = pool.install(|| {
            (0..batches)
                .into_par_iter()
                .try_for_each(|b| batch(shared, &epoch, b))
        });
        match result {
            // Every batch of the epoch is hashed: roll (or finish), then go on.
            Ok(()) => {
                board.exhausted(epoch.seq);
                match board.wait_change(epoch.seq) {
                    Some(next) => epoch = next,
                    None => break,
                }
            }
            Err(Halt::Changed) => epoch = board.current(),
            Err(Halt::Stop) => break,
        }
    }
    // Collect every pool thread's record on its own thread (for `sched_getcpu`); `broadcast`
    // answers in thread index order.
    let workers = pool.broadcast(|_| POOL_WORKER.with(|cell| cell.borrow_mut().take()));
    for worker in workers.into_iter().flatten() {
        shared.retire(worker);
    }
}

/// Batch `b` of `epoch`, on whichever pool thread rayon chose.
fn batch(shared: &Shared, epoch: &Epoch, b: u64) -> Result<(), Halt> {
    let board = &shared.board;
    if board.should_stop() {
        return Err(Halt::Stop);
    }
    if board.seq() != epoch.seq {
        return Err(Halt::Changed);
    }
    let range = sub_range(&epoch.range, b * shared.batch, shared.batch);
    POOL_WORKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let worker = slot
            .as_mut()
            .expect("the pool's start handler gives every pool thread a Worker before any job");
        debug_assert_eq!(rayon::current_thread_index(), Some(worker.index));
        worker
            .run_and_publish(shared, epoch, range)
            .map_err(|_| Halt::Stop)
    })
}
