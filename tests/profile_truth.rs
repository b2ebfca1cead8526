//! Ground truth for the CPU profiler: workloads whose split is known from their own thread-CPU
//! clocks (not from timing), checked against what the profile says; and a case's `.pb` opened
//! by a pprof nobody here wrote (`go tool pprof`, Debian's `golang-go`).
//!
//! Sampling is statistical: at ~250 samples per CPU-second (the kernel's tick limits what
//! ITIMER_PROF delivers), a share measured over n samples has a standard error of about
//! sqrt(p(1-p)/n). The split workload runs 2 threads × 1.5 s of CPU (≈ 750 samples), so the
//! ±5 percentage-point bound is about 3 standard errors for the 60 % part.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use minebench::probe::profile::{CpuProfile, Profiler, WeightedStack};
use minebench::probe::threads::{current_tid, thread_cpu_time_ns};
use pprof::protos::Message;

const HZ: u32 = 997;

/// One profiler per process: the tests that start one take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn own_cpu_ns() -> u64 {
    thread_cpu_time_ns(current_tid()).expect("this thread's CPU clock")
}

/// A small xorshift generator: chunk choices must look random to the sampling timer.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[inline(never)]
fn burn_a(n: u64) -> u64 {
    let mut x = black_box(n);
    for i in 0..n {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
    }
    x
}

#[inline(never)]
fn burn_b(n: u64) -> u64 {
    let mut x = black_box(n) | 1;
    for i in 0..n {
        x = (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ i;
    }
    x
}

/// Time in libc: a runtime length makes LLVM call `memset`.
#[inline(never)]
fn burn_memset(buf: &mut [u8], reps: u64) {
    for r in 0..reps {
        let len = black_box(buf.len());
        // SAFETY: `len` is the buffer's own length, so every written byte is inside it.
        unsafe { std::ptr::write_bytes(buf.as_mut_ptr(), black_box(r as u8), len) };
        black_box(&mut *buf);
    }
}

/// CPU time each part of [`split_workload`] took, from the thread's own clock.
#[derive(Debug, Default, Clone, Copy)]
struct Truth {
    a: u64,
    b: u64,
    memset: u64,
    total: u64,
}

/// Iterations (or memset repetitions) of each part that take about `chunk_ns` of CPU here,
/// measured with the thread's own clock, so that every chunk lasts about as long and the
/// clock readings between chunks (~1 µs each) weigh the same on every part.
fn calibrate(buf: &mut [u8], chunk_ns: u64) -> [u64; 3] {
    let per_unit = |f: &mut dyn FnMut(u64), units: u64| {
        let mut best = u64::MAX;
        for _ in 0..5 {
            let t0 = own_cpu_ns();
            f(units);
            best = best.min(own_cpu_ns() - t0);
        }
        best.max(1) as f64 / units as f64
    };
    let a = per_unit(
        &mut |n| {
            black_box(burn_a(n));
        },
        200_000,
    );
    let b = per_unit(
        &mut |n| {
            black_box(burn_b(n));
        },
        200_000,
    );
    let m = per_unit(&mut |n| burn_memset(buf, n), 100);
    [a, b, m].map(|ns| ((chunk_ns as f64 / ns) as u64).max(1))
}

/// Runs chunks of ~50 µs (±50 %) until the thread has used `budget_ns` of CPU: 6 in 10 of them
/// `burn_a`, 2 `burn_b`, 2 `burn_memset` — about 60 / 20 / 20 % of the CPU, 75 / 25 between
/// the two functions. Every nanosecond between two clock readings goes to the part that ran
/// between them (the reading itself included).
#[inline(never)]
fn split_workload(budget_ns: u64, seed: u64) -> Truth {
    let mut rng = Rng(seed | 1);
    let mut buf = vec![0u8; 64 << 10];
    let [units_a, units_b, units_m] = calibrate(&mut buf, 50_000);
    let mut t = Truth::default();
    let start = own_cpu_ns();
    let mut prev = start;
    while prev - start < budget_ns {
        let pick = rng.next() % 10;
        // 50..150 % of the calibrated size.
        let scale = |units: u64, r: u64| (units * (50 + r % 101) / 100).max(1);
        let r = rng.next();
        let part = if pick < 6 {
            black_box(burn_a(scale(units_a, r)));
            &mut t.a
        } else if pick < 8 {
            black_box(burn_b(scale(units_b, r)));
            &mut t.b
        } else {
            burn_memset(&mut buf, scale(units_m, r));
            &mut t.memset
        };
        let now = own_cpu_ns();
        *part += now - prev;
        prev = now;
    }
    t.total = prev - start;
    t
}

fn frame_is(frame: &str, name: &str) -> bool {
    frame == name || frame.ends_with(&format!("::{name}"))
}

fn is_libc(frame: &str) -> bool {
    frame.contains("memset") || frame.starts_with("[libc")
}

/// Shares of `stacks` (weighted by CPU time) for which `pred` holds.
fn share(stacks: &[&WeightedStack], pred: impl Fn(&WeightedStack) -> bool) -> f64 {
    let total: u64 = stacks.iter().map(|s| s.cpu_ns).sum();
    let part: u64 = stacks.iter().filter(|s| pred(s)).map(|s| s.cpu_ns).sum();
    part as f64 / total.max(1) as f64
}

fn top_stacks(profile: &CpuProfile, tids: &[i32]) -> String {
    let mut v: Vec<_> = profile
        .stacks
        .iter()
        .filter(|s| tids.contains(&s.tid))
        .collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.samples));
    v.iter()
        .take(15)
        .map(|s| format!("{} {}", s.frames.join(";"), s.samples))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_known_split_comes_out_within_five_points_with_libc_kept() {
    let _serial = serial();
    let profiler = Profiler::start(HZ).unwrap();
    let workers: Vec<_> = (0..2u64)
        .map(|i| {
            std::thread::Builder::new()
                .name(format!("truth-{i}"))
                .spawn(move || (current_tid(), split_workload(1_500_000_000, 0x9e37 + i)))
                .unwrap()
        })
        .collect();
    let results: Vec<(i32, Truth)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let profile = profiler.finish().unwrap();
    let tids: Vec<i32> = results.iter().map(|r| r.0).collect();
    let truth = results.iter().fold(Truth::default(), |acc, (_, t)| Truth {
        a: acc.a + t.a,
        b: acc.b + t.b,
        memset: acc.memset + t.memset,
        total: acc.total + t.total,
    });
    let stacks: Vec<&WeightedStack> = profile
        .stacks
        .iter()
        .filter(|s| tids.contains(&s.tid))
        .collect();
    let samples: u64 = stacks.iter().map(|s| s.samples).sum();
    let context = format!(
        "truth {truth:?}, {samples} samples, {} unknown, {} dropped; top stacks:\n{}",
        profile.unknown_samples,
        profile.dropped_samples,
        top_stacks(&profile, &tids)
    );
    assert!(samples >= 100, "too few samples to judge: {context}");

    // Honest weights: the samples stand for the CPU time the threads used.
    let weighted: u64 = stacks.iter().map(|s| s.cpu_ns).sum();
    let ratio = weighted as f64 / truth.total as f64;
    assert!(
        (0.95..=1.05).contains(&ratio),
        "samples stand for {weighted} ns of the threads' {} ns: {context}",
        truth.total
    );

    // No frame missing: every sample unwinds to the workload's frame.
    let complete = share(&stacks, |s| {
        s.frames.iter().any(|f| frame_is(f, "split_workload"))
    });
    assert!(
        complete >= 0.99,
        "only {complete:.3} of the weight reaches split_workload: {context}"
    );

    let has =
        |name: &'static str| move |s: &WeightedStack| s.frames.iter().any(|f| frame_is(f, name));
    let libc_under_memset = |s: &WeightedStack| {
        s.frames
            .iter()
            .position(|f| frame_is(f, "burn_memset"))
            .is_some_and(|i| s.frames[i + 1..].iter().any(|f| is_libc(f)))
    };
    let checks = [
        ("burn_a", share(&stacks, has("burn_a")), truth.a),
        ("burn_b", share(&stacks, has("burn_b")), truth.b),
        (
            "libc memset",
            share(&stacks, libc_under_memset),
            truth.memset,
        ),
    ];
    for (name, got, part_ns) in checks {
        let want = part_ns as f64 / truth.total as f64;
        eprintln!(
            "{name}: profile {:.1} %, thread clocks {:.1} %",
            100.0 * got,
            100.0 * want
        );
        assert!(
            (got - want).abs() <= 0.05,
            "{name}: profile {:.1} %, thread clocks {:.1} %: {context}",
            100.0 * got,
            100.0 * want
        );
    }
    // The memset share really is visible (the old profiler dropped every libc sample).
    assert!(checks[2].1 > 0.05, "{context}");
}

// A kernel of inlined helpers with known relative costs (48 : 24 : 8 rounds).
#[inline(always)]
fn heavy_rounds(mut x: u64) -> u64 {
    for i in 0..black_box(48u64) {
        x = x.rotate_left(7).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i;
    }
    x
}

#[inline(always)]
fn mid_rounds(mut x: u64) -> u64 {
    for i in 0..black_box(24u64) {
        x = x.rotate_left(11).wrapping_mul(0xc2b2_ae3d_27d4_eb4f) ^ i;
    }
    x
}

#[inline(always)]
fn light_rounds(mut x: u64) -> u64 {
    for i in 0..black_box(8u64) {
        x = x.rotate_left(13).wrapping_mul(0x1656_67b1_9e37_79f9) ^ i;
    }
    x
}

#[inline(never)]
fn inlined_kernel(budget_ns: u64) -> u64 {
    let start = own_cpu_ns();
    let mut s = 0u64;
    while own_cpu_ns() - start < budget_ns {
        for i in 0..20_000u64 {
            s = light_rounds(mid_rounds(heavy_rounds(s ^ i)));
        }
    }
    s
}

/// CPU-weighted share of each helper in one profiled run of the kernel, attributing a sample
/// to the innermost helper in its stack.
fn helper_shares() -> (Vec<(&'static str, f64)>, String) {
    let profiler = Profiler::start(HZ).unwrap();
    let worker = std::thread::Builder::new()
        .name("inline-kernel".into())
        .spawn(|| (current_tid(), black_box(inlined_kernel(700_000_000))))
        .unwrap();
    let (tid, _) = worker.join().unwrap();
    let profile = profiler.finish().unwrap();
    let stacks: Vec<&WeightedStack> = profile.stacks.iter().filter(|s| s.tid == tid).collect();
    let helpers = ["heavy_rounds", "mid_rounds", "light_rounds"];
    let innermost = |s: &WeightedStack| {
        s.frames
            .iter()
            .rev()
            .find_map(|f| helpers.iter().find(|h| frame_is(f, h)).copied())
    };
    let mut shares: Vec<(&'static str, f64)> = helpers
        .iter()
        .map(|h| (*h, share(&stacks, |s| innermost(s) == Some(*h))))
        .collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    (shares, top_stacks(&profile, &[tid]))
}

#[test]
fn inlined_helpers_rank_the_same_in_two_runs() {
    let _serial = serial();
    let (first, ctx1) = helper_shares();
    let (second, ctx2) = helper_shares();
    let names = |v: &[(&'static str, f64)]| v.iter().map(|x| x.0).collect::<Vec<&str>>();
    let context = format!("run 1 {first:?}\n{ctx1}\nrun 2 {second:?}\n{ctx2}");
    eprintln!("run 1 {first:?}\nrun 2 {second:?}");
    // Every helper is seen (the old profiler put a whole function's samples on one arbitrary
    // inline frame), ranked by its known cost, the same way twice.
    for (name, s) in first.iter().chain(&second) {
        assert!(*s > 0.02, "{name} barely seen: {context}");
    }
    assert_eq!(names(&first), names(&second), "{context}");
    assert_eq!(
        names(&first),
        ["heavy_rounds", "mid_rounds", "light_rounds"],
        "{context}"
    );
}

const CASE: &str = r#"
name = "pprof-total"
[work]
header = "synthetic"
seed = 5
difficulty = { zero_bits = 12 }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["stride"]
threads = [1, 2]
[measure]
warmup = "50ms"
samples = 3
sample = { duration = "250ms" }
batch = 1024
[profile]
flamegraph = true
frequency = 997
"#;

/// Seconds in a `go tool pprof` quantity such as `1.23s`, `870ms`, `1.5mins`.
fn seconds(q: &str) -> Option<f64> {
    let split = q.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = q.split_at(split);
    let v: f64 = num.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "mins" => 60.0,
        "hrs" => 3600.0,
        _ => return None,
    };
    Some(v * scale)
}

fn go_pprof(args: &[&str], pb: &Path) -> Option<String> {
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(pb)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "go tool pprof {args:?} {} failed: {}",
        pb.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `go tool pprof` is Debian's `golang-go`; `.ci/run` installs it and sets
/// `MINEBENCH_REQUIRE_GO=1`, so in CI its absence fails instead of skipping.
fn go_available() -> bool {
    let found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("MINEBENCH_REQUIRE_GO").is_none(),
            "MINEBENCH_REQUIRE_GO is set but `go` is not on PATH (apt-get install golang-go)"
        );
        eprintln!("SKIPPED: `go` is not installed (apt-get install golang-go)");
    }
    found
}

#[test]
fn a_case_pb_opens_in_go_pprof_with_the_workers_cpu_time_and_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("case.toml");
    std::fs::write(&scenario, CASE).unwrap();
    let out = tmp.path().join("out");
    common::minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let dir = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.file_name().unwrap() != "baselines")
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let go = go_available();
    for case in report["cases"].as_array().unwrap() {
        let id = case["id"].as_str().unwrap();
        let workers_ns: u64 = case["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["cpu_ns"].as_u64().unwrap())
            .sum();
        let profile = &case["profile"];
        let pb_path = dir.join(profile["pprof"].as_str().unwrap());
        let pb =
            pprof::protos::Profile::decode(std::fs::read(&pb_path).unwrap().as_slice()).unwrap();
        let pb_cpu: i64 = pb.sample.iter().map(|s| s.value[1]).sum();
        assert_eq!(pb_cpu as u64, profile["cpu_ns"].as_u64().unwrap(), "{id}");
        assert!(profile["requested_hz"].as_u64() == Some(997), "{id}");
        assert!(profile["effective_hz"].as_f64().unwrap() > 0.0, "{id}");
        assert!(profile["unknown_samples"].is_u64(), "{id}");
        assert!(
            !profile["hot_lines"].as_array().unwrap().is_empty(),
            "{id}: no hot lines"
        );
        if !go {
            continue;
        }
        // "Showing nodes accounting for 1.23s, 100% of 1.23s total"
        let top = go_pprof(&["-top", "-sample_index=cpu"], &pb_path).unwrap();
        let total = top
            .lines()
            .find_map(|l| {
                let rest = l.strip_prefix("Showing nodes accounting for ")?;
                let total = rest.split(" of ").nth(1)?.strip_suffix(" total")?;
                seconds(total)
            })
            .unwrap_or_else(|| panic!("{id}: no total in\n{top}"));
        let ratio = total / (workers_ns as f64 / 1e9);
        eprintln!("{id}: go tool pprof total {total} s, workers {workers_ns} ns, ratio {ratio:.3}");
        assert!(
            (0.9..=1.1).contains(&ratio),
            "{id}: go tool pprof total {total} s vs the workers' {workers_ns} ns\n{top}"
        );
        // Line numbers: -lines names file:line of this workspace's sources.
        let lines = go_pprof(&["-top", "-lines", "-sample_index=cpu"], &pb_path).unwrap();
        assert!(
            lines
                .lines()
                .any(|l| l.contains("src/pow/") && l.contains(".rs:")),
            "{id}: no src/pow line in\n{lines}"
        );
    }
}
