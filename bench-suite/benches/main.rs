//! minebench's criterion benches: one group per topic, nonces per second as the throughput.
//!
//! `cargo bench` runs everything; `cargo bench --bench main -- --quick` is the short CI form;
//! `cargo bench --bench main -- backends/sha2-midstate` runs one; `-- schedulers` the scheduler group.

use criterion::{criterion_group, criterion_main};

mod backends;
mod schedulers;

criterion_group!(benches, backends::bench, schedulers::bench);
criterion_main!(benches);
