//! Single-thread nonce throughput of every backend available on this machine. Each backend is
//! benched explicitly by name, so a missing CPU feature shows as a skipped line, never as a
//! silently substituted backend.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use minebench::pow::{Backend, BackendKind, Header, NonceRange, Target, Work};

/// Nonces per iteration: large enough that the per-batch midstate is noise, small enough that
/// the slow reference still gets many samples.
const BATCH: u64 = 1 << 16;

pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("backends");
    group.throughput(Throughput::Elements(BATCH));
    // A target no random hash meets in practice: measures the search, not hit handling.
    let work = Work::new(
        Header::synthetic(7),
        Target::from_zero_bits(64).expect("valid"),
    );
    for &kind in BackendKind::ALL {
        let backend: Box<dyn Backend> = match kind.instantiate() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("backends/{kind}: skipped: {e}");
                continue;
            }
        };
        let mut start = 0u32;
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                let range = NonceRange::new(start, BATCH).expect("start wraps below 2^32 - BATCH");
                start = start.wrapping_add(BATCH as u32) & !((BATCH as u32) - 1) & 0x7fff_ffff;
                let mut hits = Vec::new();
                black_box(backend.scan(black_box(&work), range, &mut hits));
                hits
            })
        });
    }
    group.finish();
}
