//! Scheduler tests: exact coverage against a single-threaded loop, continuous sessions with job
//! switches and rolls, and broken backends turning into errors. No timing assertions: waits are
//! polls bounded by a generous deadline that only exists to turn a hang into a failure.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::pow::{scan_verified, sha2_midstate::Sha2Midstate, verify_hits, BackendKind, Target};

const DEADLINE: Duration = Duration::from_secs(120);

fn backend() -> Arc<dyn Backend> {
    Arc::from(
        BackendKind::Sha2Midstate
            .instantiate()
            .expect("sha2-midstate is always available"),
    )
}

fn many_hits_work(seed: u64) -> Work {
    Work::new(
        Header::synthetic(seed),
        Target::from_zero_bits(8).expect("8 <= 255"),
    )
}

fn cfg(threads: usize, batch: u64) -> SchedConfig {
    SchedConfig {
        threads,
        batch,
        pin_threads: false,
        defer_verification: false,
    }
}

/// Polls `cond` until it holds; panics (naming `what`) if it never does within the deadline.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < until, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn check_worker_stats(label: &str, workers: &[WorkerStats], threads: usize, hashes: u64) {
    assert_eq!(workers.len(), threads, "{label}");
    for (k, w) in workers.iter().enumerate() {
        assert_eq!(w.index, k, "{label}");
        assert!(w.tid > 0, "{label}: worker {k} tid {}", w.tid);
        assert_eq!(w.batch_latency_ns.len(), w.batches, "{label}: worker {k}");
    }
    let sum: u64 = workers.iter().map(|w| w.hashes).sum();
    assert_eq!(sum, hashes, "{label}: per-worker hashes");
    let batches: u64 = workers.iter().map(|w| w.batches).sum();
    let recorded: u64 = workers.iter().map(|w| w.batch_latency_ns.len()).sum();
    assert_eq!(recorded, batches, "{label}: one histogram record per batch");
}

#[test]
fn every_scheduler_covers_a_range_exactly_like_one_thread() {
    let work = many_hits_work(11);
    let backend = backend();
    let ranges = [
        NonceRange::new(1000, 200_003).unwrap(),
        NonceRange::new(u32::MAX - 30_000, 30_001).unwrap(),
        NonceRange::strided(7, 20_001, 3).unwrap(),
        NonceRange::new(500, 3).unwrap(),
        NonceRange::new(9, 0).unwrap(),
    ];
    for range in ranges {
        let expected = scan_verified(&Sha2Midstate, &work, range).unwrap();
        assert_eq!(expected.hashes, range.len());
        if range.len() > 10_000 {
            assert!(
                expected.hits.len() > 10,
                "{range:?}: too few hits to compare"
            );
        }
        for &kind in SchedulerKind::ALL {
            for threads in [1, 2, 3, 5] {
                for batch in [1000, 4096] {
                    let label = format!("{kind} x{threads} batch {batch} {range:?}");
                    let got = scan_range(
                        &kind,
                        Arc::clone(&backend),
                        &work,
                        range,
                        &cfg(threads, batch),
                    )
                    .unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert_eq!(got.hits, expected.hits, "{label}");
                    assert_eq!(got.hashes, expected.hashes, "{label}");
                    check_worker_stats(&label, &got.workers, threads, got.hashes);
                    if kind == SchedulerKind::Channel {
                        assert!(got.workers.iter().all(|w| w
                            .queue_wait_ns
                            .as_ref()
                            .is_some_and(|h| h.len() == w.batches)));
                    } else {
                        assert!(got.workers.iter().all(|w| w.queue_wait_ns.is_none()));
                    }
                    assert!(
                        got.workers.iter().all(|w| w.dropped_batches == 0),
                        "{label}"
                    );
                }
            }
        }
    }
}

#[test]
fn pinned_scan_still_covers_the_range() {
    let work = many_hits_work(12);
    let range = NonceRange::new(0, 40_000).unwrap();
    let expected = scan_verified(&Sha2Midstate, &work, range).unwrap();
    let cores = core_affinity::get_core_ids().map_or(0, |c| c.len());
    for &kind in SchedulerKind::ALL {
        let mut config = cfg(3, 1000);
        config.pin_threads = true;
        let got = scan_range(&kind, backend(), &work, range, &config).unwrap();
        assert_eq!(got.hits, expected.hits, "{kind}");
        for w in &got.workers {
            if let Some(core) = w.pinned_core {
                assert!(
                    cores > 0 && core < 4096,
                    "{kind}: pinned to {core} of {cores}"
                );
            }
        }
    }
}

#[test]
fn sessions_follow_a_job_switch_and_account_for_every_hash() {
    let backend = backend();
    let first = many_hits_work(21);
    let second = Work::new(first.header.next_job(1), first.target);
    let threads = 3;
    let batch = 4096;
    for &kind in SchedulerKind::ALL {
        let session = start(&kind, Arc::clone(&backend), first, &cfg(threads, batch)).unwrap();
        let tids = session.worker_tids();
        assert_eq!(tids.len(), threads, "{kind}");
        assert!(tids.iter().all(|&t| t > 0), "{kind}: {tids:?}");
        assert_eq!(
            tids.iter().collect::<HashSet<_>>().len(),
            threads,
            "{kind}: {tids:?}"
        );

        let mut hits = Vec::new();
        wait_until(&format!("{kind} to hash 100k"), || {
            hits.extend(session.drain_hits());
            session.hashes() > 100_000
        });
        let job = session.switch_job(second);
        assert_eq!(job, 1, "{kind}");
        wait_until(&format!("{kind} workers to follow job {job}"), || {
            hits.extend(session.drain_hits());
            session.worker_jobs().iter().all(|&j| j == job)
        });
        let after_switch = session.hashes();
        wait_until(&format!("{kind} to hash more of job {job}"), || {
            hits.extend(session.drain_hits());
            session.hashes() > after_switch + 50_000
        });
        assert!(!session.failed(), "{kind}");
        let live: u64 = session.per_worker_hashes().iter().sum();
        assert!(live >= after_switch, "{kind}");
        let outcome = session.finish().unwrap_or_else(|e| panic!("{kind}: {e}"));

        let total: u64 = outcome.workers.iter().map(|w| w.hashes).sum();
        assert!(total >= live, "{kind}: final {total} < live {live}");
        check_worker_stats(kind.name(), &outcome.workers, threads, total);
        // Nothing reaches the end of a 2^32 space here, so every batch is a full one.
        for w in &outcome.workers {
            assert_eq!(w.hashes, w.batches * batch, "{kind}: worker {}", w.index);
            assert_eq!(w.tid, tids[w.index], "{kind}");
        }
        assert_eq!(outcome.rolls, 0, "{kind}");

        assert_eq!(outcome.job_switches.len(), 1, "{kind}");
        let switch = &outcome.job_switches[0];
        assert_eq!(switch.job, job);
        assert_eq!(switch.worker_latency_ns.len(), threads);
        assert!(
            switch.worker_latency_ns.iter().all(Option::is_some),
            "{kind}: {:?}",
            switch.worker_latency_ns
        );
        // At most the batch each worker had in hand at the broadcast can be stale.
        assert_eq!(outcome.stale_hashes, switch.stale_hashes, "{kind}");
        assert!(
            outcome.stale_hashes <= threads as u64 * batch,
            "{kind}: {} stale",
            outcome.stale_hashes
        );

        assert!(!hits.is_empty(), "{kind}: no hits at 8 zero bits");
        let mut seen = HashSet::new();
        let mut jobs_seen = HashSet::new();
        for found in &hits {
            let header = match found.job {
                0 => first.header,
                1 => second.header,
                other => panic!("{kind}: hit for unknown job {other}"),
            };
            assert_eq!(found.extranonce, 0, "{kind}");
            assert_eq!(found.header, header, "{kind}");
            assert!(found.worker < threads, "{kind}");
            verify_hits(
                "reference",
                &Work::new(header, first.target),
                NonceRange::full(),
                &[found.hit],
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(
                seen.insert((found.job, found.hit.nonce)),
                "{kind}: duplicate hit"
            );
            jobs_seen.insert(found.job);
        }
        assert_eq!(jobs_seen.len(), 2, "{kind}: hits of both jobs expected");
    }
}

#[test]
fn sessions_roll_to_a_fresh_header_and_cover_each_rolled_space() {
    let backend = backend();
    let work = many_hits_work(31);
    let space = NonceRange::new(0, 20_000).unwrap();
    let threads = 2;
    for &kind in SchedulerKind::ALL {
        let session = start_in(
            &kind,
            Arc::clone(&backend),
            work,
            space,
            &cfg(threads, 1000),
        )
        .unwrap();
        let mut hits = Vec::new();
        wait_until(&format!("{kind} to hash 10 spaces"), || {
            hits.extend(session.drain_hits());
            session.hashes() > 10 * space.len()
        });
        let outcome = session.finish().unwrap_or_else(|e| panic!("{kind}: {e}"));
        // `channel` publishes results as its dispatcher gets to them: on a loaded machine some
        // come only at the end.
        hits.extend(outcome.late_hits.iter().cloned());
        let total: u64 = outcome.workers.iter().map(|w| w.hashes).sum();
        // No epoch hashes more than its space, so the session must have rolled this often.
        assert!(
            outcome.rolls + 1 >= total.div_ceil(space.len()),
            "{kind}: {} rolls for {total} hashes",
            outcome.rolls
        );
        assert!(outcome.job_switches.is_empty() && outcome.stale_hashes == 0);

        // Once the session moved two headers past a rolled one, that space was hashed exactly:
        // its hits are exactly the single-threaded loop's.
        let complete = outcome.rolls.saturating_sub(1).min(8);
        assert!(complete >= 5, "{kind}: only {} rolls", outcome.rolls);
        for extranonce in 0..complete {
            let header = rolled_header(&work.header, extranonce);
            let rolled = Work::new(header, work.target);
            let expected = scan_verified(&Sha2Midstate, &rolled, space).unwrap();
            let mut got: Vec<Hit> = hits
                .iter()
                .filter(|f| f.extranonce == extranonce)
                .map(|f| {
                    assert_eq!(f.header, header, "{kind}");
                    assert_eq!(f.job, 0, "{kind}");
                    f.hit
                })
                .collect();
            got.sort_unstable();
            assert_eq!(got, expected.hits, "{kind}: extranonce {extranonce}");
        }
    }
}

/// Reports one false hit per batch.
struct Liar;
impl Backend for Liar {
    fn name(&self) -> &str {
        "sha2"
    }
    fn scan(&self, _work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        if !range.is_empty() {
            hits.push(Hit {
                nonce: range.start(),
                hash: [0; 32],
            });
        }
        range.len()
    }
}

/// Panics in every batch.
struct Bomb;
impl Backend for Bomb {
    fn name(&self) -> &str {
        "bomb"
    }
    fn scan(&self, _work: &Work, _range: NonceRange, _hits: &mut Vec<Hit>) -> u64 {
        panic!("deliberate backend panic (sched test)");
    }
}

#[test]
fn a_false_hit_is_an_error_not_a_panic() {
    let work = many_hits_work(41);
    let range = NonceRange::new(0, 50_000).unwrap();
    for &kind in SchedulerKind::ALL {
        let err = scan_range(&kind, Arc::new(Liar), &work, range, &cfg(3, 1000)).unwrap_err();
        assert!(
            matches!(err, SchedError::Backend(BackendError::BadHit { .. })),
            "{kind}: {err}"
        );

        let session = start(&kind, Arc::new(Liar), work, &cfg(2, 1000)).unwrap();
        wait_until(&format!("{kind} to notice the false hit"), || {
            session.failed()
        });
        let err = session.finish().unwrap_err();
        assert!(
            matches!(err, SchedError::Backend(BackendError::BadHit { .. })),
            "{kind}: {err}"
        );
    }
}

#[test]
fn deferred_verification_leaves_the_reference_check_to_the_caller() {
    let work = many_hits_work(43);
    let deferred = SchedConfig {
        defer_verification: true,
        ..cfg(2, 1000)
    };
    for &kind in SchedulerKind::ALL {
        // The liar's hits lie in their batches, so the workers publish them unchecked...
        let session = start(&kind, Arc::new(Liar), work, &deferred).unwrap();
        let mut hits = Vec::new();
        wait_until(&format!("{kind} to publish hits"), || {
            hits.extend(session.drain_hits());
            !hits.is_empty()
        });
        assert!(!session.failed(), "{kind}");
        session.finish().unwrap();
        // ...and the caller's check finds them out.
        let err = hits[0].verify("sha2").unwrap_err();
        assert!(matches!(err, BackendError::BadHit { .. }), "{kind}: {err}");

        // Honest hits pass the caller's check.
        let session = start(&kind, Arc::new(Sha2Midstate), work, &deferred).unwrap();
        let mut hits = Vec::new();
        wait_until(&format!("{kind} to find hits"), || {
            hits.extend(session.drain_hits());
            hits.len() > 10
        });
        session.finish().unwrap();
        for h in &hits {
            h.verify("sha2-midstate").unwrap();
        }
    }
    // A finite scan never defers: its caller gets verified hits or an error.
    let range = NonceRange::new(0, 50_000).unwrap();
    let err = scan_range(
        &SchedulerKind::Atomic,
        Arc::new(Liar),
        &work,
        range,
        &deferred,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        SchedError::Backend(BackendError::BadHit { .. })
    ));
}

#[test]
fn a_panicking_backend_is_an_error_naming_the_worker() {
    let work = many_hits_work(42);
    let range = NonceRange::new(0, 10_000).unwrap();
    for &kind in SchedulerKind::ALL {
        let err = scan_range(&kind, Arc::new(Bomb), &work, range, &cfg(2, 1000)).unwrap_err();
        assert!(
            matches!(err, SchedError::BackendPanicked { ref backend, worker, .. }
                if backend == "bomb" && worker < 2),
            "{kind}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("bomb") && text.contains("worker") && text.contains("deliberate"),
            "{text}"
        );
    }
}

#[test]
fn bad_configs_are_refused() {
    let work = many_hits_work(43);
    let range = NonceRange::new(0, 10).unwrap();
    for bad in [cfg(0, 1000), cfg(1, 0), cfg(MAX_THREADS + 1, 1)] {
        let err = scan_range(&SchedulerKind::Atomic, backend(), &work, range, &bad).unwrap_err();
        assert!(matches!(err, SchedError::Config(_)), "{bad:?}: {err}");
        assert!(start(&SchedulerKind::Stride, backend(), work, &bad).is_err());
    }
}

#[test]
fn dropping_a_session_stops_its_workers() {
    for &kind in SchedulerKind::ALL {
        let session = start(&kind, backend(), many_hits_work(44), &cfg(2, 1000)).unwrap();
        wait_until("some hashing", || session.hashes() > 0);
        drop(session); // must return (joins the workers) rather than hang
    }
}

#[test]
fn sessions_and_outcomes_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Session>();
    send_sync::<SessionOutcome>();
    send_sync::<RangeOutcome>();
    send_sync::<SchedError>();
}

/// Not a test: prints each scheduler's hash rate in a short session, for the report.
/// `cargo test --release --lib sched::tests::throughput_probe -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check"]
fn throughput_probe() {
    let secs: f64 = std::env::var("MB_PROBE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let work = Work::new(Header::synthetic(1), Target::from_zero_bits(32).unwrap());
    for threads in [1, 2] {
        for &kind in SchedulerKind::ALL {
            let session = start(&kind, backend(), work, &cfg(threads, 4096)).unwrap();
            std::thread::sleep(Duration::from_secs_f64(0.5));
            let (h0, t0) = (session.hashes(), Instant::now());
            std::thread::sleep(Duration::from_secs_f64(secs));
            let (h1, t1) = (session.hashes(), Instant::now());
            let outcome = session.finish().unwrap();
            let busy: u64 = outcome.workers.iter().map(|w| w.busy_ns).sum();
            let idle: u64 = outcome.workers.iter().map(|w| w.idle_ns).sum();
            let p50: Vec<u64> = outcome
                .workers
                .iter()
                .map(|w| w.batch_latency_ns.value_at_quantile(0.5))
                .collect();
            println!(
                "{kind:>8} x{threads}: {:7.3} MH/s  busy {:5.1}%  batch p50 {p50:?} ns",
                (h1 - h0) as f64 / (t1 - t0).as_secs_f64() / 1e6,
                100.0 * busy as f64 / (busy + idle) as f64,
            );
        }
    }
}
