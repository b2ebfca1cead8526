//! `atomic`: workers take `batch`-sized contiguous batches from one shared counter per epoch
//! (`Epoch::cursor`, a padded `AtomicU64`): one `fetch_add` per batch, no other coordination.
//!
//! Owns: taking a batch from the counter. Must not: keep per-worker shares (a fast worker simply
//! takes more batches).

use std::sync::atomic::Ordering;

use super::job::Epoch;
use super::worker::sub_range;
use super::{BatchSource, Launch, SchedError};
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
        let offset = epoch.cursor().fetch_add(self.batch, Ordering::Relaxed);
        (offset < epoch.range.len()).then(|| sub_range(&epoch.range, offset, self.batch))
    }
}

pub(crate) fn launch(launch: &mut Launch<'_>) -> Result<(), SchedError> {
    for k in 0..launch.threads() {
        let source = SharedCounter {
            batch: launch.batch(),
        };
        launch.spawn_worker(k, source)?;
    }
    Ok(())
}
