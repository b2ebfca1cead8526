//! `channel`: a dispatcher thread (`mb-dispatch`) cuts the epoch's space into batches and sends
//! them (job, range, send instant) over a bounded crossbeam channel (capacity 2 per worker);
//! workers send each batch's result (hashes, hits) back on a result channel, and the dispatcher
//! aggregates: it publishes the hits and totals the hashes (checked against the workers' own
//! counts at the end).
//!
//! Owns: the dispatcher and the channel worker loop. Must not: hash stale work — after a job
//! switch, a worker drops batches of an older job that were still queued (they were never
//! hashed, so they count nowhere but `WorkerStats::dropped_batches`). Batches of an epoch that
//! ended by a *roll* are not stale: they are still hashed, which is what keeps a finite scan exact.
//!
//! The send instant is taken only once the channel has room (the dispatcher waits for readiness
//! with `Select`, then stamps and sends), so the queue-wait histogram measures time in the queue,
//! not time the dispatcher spent blocked on a full one.
//!
//! Cost to know when reading results: crossbeam spins and then yields a few times before a
//! waiting thread parks, so on a machine whose cores are all busy the dispatcher (an extra
//! thread) competes for CPU with the workers, and small batches can leave workers waiting for an
//! empty queue. That is part of what this scheduler measures; larger batches hide it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Select, Sender, TryRecvError, TrySendError};

use super::job::Epoch;
use super::spawn::{spawn_helper, spawn_worker};
use super::worker::{nanos, new_histogram, Shared, Worker};
use super::{Launch, SchedError};
use crate::pow::{Hit, NonceRange};

/// Queued batches per worker: enough that a worker finishing a batch finds the next one waiting,
/// few enough that a job switch leaves little to drop.
const QUEUE_PER_WORKER: usize = 2;

/// How often an idle dispatcher looks at the stop flag and the epoch anyway.
const TICK: Duration = Duration::from_millis(5);

/// A batch on its way to a worker.
struct Batch {
    epoch: Arc<Epoch>,
    range: NonceRange,
    sent_at: Instant,
}

/// A worker's report of one hashed batch.
struct Done {
    worker: usize,
    epoch: Arc<Epoch>,
    hits: Vec<Hit>,
    at: Instant,
    hashes: u64,
}

pub(crate) fn launch(launch: &mut Launch<'_>) -> Result<(), SchedError> {
    for k in 0..launch.threads() {
        launch.claim(k)?;
    }
    let (shared, threads) = (launch.shared, &mut *launch.threads);
    // The dispatcher totals the hashes of its result channel; `join` checks them.
    shared.tallied.store(true, Ordering::Release);
    let n = shared.threads;
    let (work_tx, work_rx) = bounded::<Batch>(QUEUE_PER_WORKER * n);
    let (done_tx, done_rx) = unbounded::<Done>();
    for k in 0..n {
        let rx = work_rx.clone();
        let tx = done_tx.clone();
        threads.push(spawn_worker(shared, k, move |shared, worker| {
            work(shared, worker, rx, tx)
        })?);
    }
    // Only the workers hold result senders now: the dispatcher's final drain ends when the last
    // worker leaves.
    drop(done_tx);
    drop(work_rx);
    threads.push(spawn_helper(shared, "mb-dispatch", move |shared| {
        dispatch(shared, work_tx, done_rx)
    })?);
    Ok(())
}

fn work(shared: &Shared, worker: &mut Worker, rx: Receiver<Batch>, tx: Sender<Done>) {
    let board = &shared.board;
    worker.queue_wait = Some(new_histogram());
    loop {
        if board.should_stop() {
            return;
        }
        // Disconnected and empty: the dispatcher has sent everything (a finite scan) or stopped.
        let Ok(batch) = rx.recv() else { return };
        let picked = Instant::now();
        // No stop check here: a received batch is this worker's "current batch" and is hashed,
        // so every batch the dispatcher managed to hand over is either hashed or stale. (That is
        // what makes a rolled epoch exactly covered once the dispatcher has moved past it.)
        if batch.epoch.job < board.job() {
            worker.dropped_batches += 1;
            continue;
        }
        if let Some(hist) = worker.queue_wait.as_mut() {
            hist.saturating_record(nanos(picked.saturating_duration_since(batch.sent_at)).max(1));
        }
        let Ok(done) = worker.run_batch(shared, &batch.epoch, batch.range) else {
            return;
        };
        let report = Done {
            worker: worker.index,
            hits: std::mem::take(&mut worker.hit_buf),
            epoch: batch.epoch,
            at: done.at,
            hashes: done.hashes,
        };
        if tx.send(report).is_err() {
            return;
        }
    }
}

/// Publishes one result; returns its hashes for the tally.
fn accept(shared: &Shared, done: Done) -> u64 {
    shared.publish(done.worker, &done.epoch, &done.hits, done.at);
    done.hashes
}

fn dispatch(shared: &Shared, work_tx: Sender<Batch>, done_rx: Receiver<Done>) {
    let board = &shared.board;
    let mut tally = 0u64;
    let mut epoch = board.current();
    let mut left = epoch.range;
    {
        // Wait only for room in the queue, not for results too: a worker that finishes a batch
        // both reports and takes the next one, so waking on either would wake the dispatcher
        // twice per batch. Results are drained (without blocking) at every wake-up instead; they
        // carry the worker's batch-end instant, so publishing them a little later changes no
        // measurement.
        let mut select = Select::new();
        let send_op = select.send(&work_tx);
        'feed: loop {
            loop {
                match done_rx.try_recv() {
                    Ok(done) => tally += accept(shared, done),
                    Err(TryRecvError::Empty) => break,
                    // Every worker has left (stop or failure): nobody to feed.
                    Err(TryRecvError::Disconnected) => break 'feed,
                }
            }
            if board.should_stop() {
                break;
            }
            if board.seq() != epoch.seq {
                epoch = board.current();
                left = epoch.range;
            }
            if left.is_empty() {
                // Everything is handed out: roll to a fresh header, or (finite scan) close the
                // channel so workers drain it and leave.
                board.exhausted(epoch.seq);
                if board.is_finished() {
                    break;
                }
                continue;
            }
            match select.ready_timeout(TICK) {
                Ok(op) if op == send_op => {
                    let (head, rest) = left.split_at(shared.batch);
                    let batch = Batch {
                        epoch: Arc::clone(&epoch),
                        range: head,
                        sent_at: Instant::now(),
                    };
                    match work_tx.try_send(batch) {
                        Ok(()) => left = rest,
                        // The only sender saw room a moment ago; if not, simply try again.
                        Err(TrySendError::Full(_)) => {}
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                }
                // The tick passed (the queue stayed full): loop to drain and re-check.
                _ => {}
            }
        }
    }
    drop(work_tx);
    // Workers finish (or drop) what is queued; collect their last results until all have left.
    for done in done_rx.iter() {
        tally += accept(shared, done);
    }
    shared.aggregated_hashes.store(tally, Ordering::Release);
}
