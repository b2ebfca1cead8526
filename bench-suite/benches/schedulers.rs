//! Scheduler overhead: the same nonce range through every scheduler at 1 and 2 workers with the
//! fastest backend here, throughput in nonces. A scheduler that costs hash rate shows up as a
//! lower figure than `stride`/`chunked` at the same thread count.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput};
use minebench::pow::{Backend, BackendKind, Header, NonceRange, Target, Work};
use minebench::sched::{scan_range, SchedConfig, SchedulerKind};

/// Nonces per iteration: ~0.1 s of work on one fast core, so thread start-up is a small part.
const RANGE: u64 = 1 << 22;

pub fn bench(c: &mut Criterion) {
    let kind = BackendKind::detect();
    let backend: Arc<dyn Backend> = match kind.instantiate() {
        Ok(b) => Arc::from(b),
        Err(e) => {
            eprintln!("schedulers: skipped: {e}");
            return;
        }
    };
    let work = Work::new(
        Header::synthetic(11),
        Target::from_zero_bits(64).expect("valid"),
    );
    let range = NonceRange::new(0, RANGE).expect("fits");
    let mut group = c.benchmark_group(format!("schedulers/{}", kind.name()));
    group.throughput(Throughput::Elements(RANGE));
    group.sample_size(10);
    for &sched in SchedulerKind::ALL {
        for threads in [1usize, 2] {
            let cfg = SchedConfig {
                threads,
                batch: 4096,
                pin_threads: false,
                defer_verification: false,
            };
            group.bench_with_input(
                BenchmarkId::new(sched.name(), format!("t{threads}")),
                &cfg,
                |b, cfg| {
                    b.iter(|| {
                        let out = scan_range(&sched, backend.clone(), &work, range, cfg)
                            .expect("scheduler scan succeeds");
                        assert_eq!(out.hashes, RANGE);
                        out.hits.len()
                    })
                },
            );
        }
    }
    group.finish();
}
