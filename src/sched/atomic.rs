//! `atomic`: workers take `batch`-sized contiguous batches from one shared counter per epoch
//! (`Epoch::cursor`, a padded `AtomicU64`): one `fetch_add` per batch, no other coordination.
//!
//! Owns: taking a batch from the counter. Must not: keep per-worker shares (a fast worker simply
//! takes more batches).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::job::Epoch;
use super::{spawn_pull_worker, sub_range, BatchSource, SchedError, Shared, Thread};
use crate::pow::NonceRange;

struct SharedCounter {
    batch: u64,
}

impl BatchSource for SharedCounter {
    /// The counter lives in the epoch, so a new epoch starts at offset 0 with nothing to reset.
    fn begin(&mut self, _epoch: &Epoch) {}

    fn next_batch(&mut self, epoch: &Epoch) -> Option<NonceRange> {
        // Relaxed: the counter only has to hand out distinct offsets; the work itself travels in
        // the epoch, published under the board's lock. Each worker adds past the end at most
        // once per epoch (it then waits), so the counter stays far from overflow.
        let offset = epoch.cursor.0.fetch_add(self.batch, Ordering::Relaxed);
        (offset < epoch.range.len()).then(|| sub_range(&epoch.range, offset, self.batch))
    }
}

pub(crate) fn spawn(shared: &Arc<Shared>, threads: &mut Vec<Thread>) -> Result<(), SchedError> {
    for k in 0..shared.threads {
        let source = SharedCounter {
            batch: shared.batch,
        };
        threads.push(spawn_pull_worker(shared, k, source)?);
    }
    Ok(())
}
