//! `minebench run` and `plan` through the binary: the report it writes, the probes around each
//! case, Ctrl-C, and bad input (exit 2, nothing left behind).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::minebench;
use predicates::prelude::*;
use serde_json::Value;

fn write_scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, body).unwrap();
    path
}

/// The single report directory a run created under `out`.
fn report_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap() != "baselines")
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn read_report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

const TINY: &str = r#"
name = "tiny"
[work]
header = "synthetic"
seed = 3
difficulty = { zero_bits = 10 }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic", "channel"]
threads = [1, 2]
[measure]
warmup = "50ms"
samples = 3
sample = { duration = "100ms" }
batch = 1024
[profile]
flamegraph = true
frequency = 997
"#;

#[test]
fn a_profiled_run_writes_a_complete_report() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "tiny", TINY);
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("sha2-midstate/atomic/t2/zb10"));
    let dir = report_dir(&out);
    assert!(dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("tiny-"));
    let r = read_report(&dir);
    assert_eq!(r["schema"], "minebench.report/v2");
    assert_eq!(r["interrupted"], false);
    assert_eq!(r["scenario"]["name"], "tiny");
    assert!(r["machine"]["logical_cores"].as_u64().unwrap() >= 1);
    assert!(r["ceiling"]["naive_hashes_per_sec"].as_f64().unwrap() > 0.0);
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    let mut profiled_samples = 0;
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let samples = c["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 3, "{id}");
        for s in samples {
            assert!(s["hashes"].as_u64().unwrap() > 0 && s["elapsed_ns"].as_u64().unwrap() > 0);
        }
        let hr = &c["hash_rate"];
        let median = hr["median"].as_f64().unwrap();
        assert!(
            hr["ci95_low"].as_f64().unwrap() <= median
                && median <= hr["ci95_high"].as_f64().unwrap(),
            "{id}"
        );

        // Per-thread stats add up to the case, and one batch-latency record per batch.
        let workers = c["workers"].as_array().unwrap();
        assert_eq!(
            workers.len(),
            c["threads"].as_u64().unwrap() as usize,
            "{id}"
        );
        let sum = |k: &str| workers.iter().map(|w| w[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(sum("hashes"), c["total_hashes"].as_u64().unwrap(), "{id}");
        assert_eq!(sum("batches"), c["total_batches"].as_u64().unwrap(), "{id}");
        assert_eq!(c["latency"]["batch"]["count"], c["total_batches"], "{id}");
        // Every batch is a full 1024 nonces (1024 divides 2^32, so even a roll ends on a batch).
        assert_eq!(
            c["total_hashes"].as_u64().unwrap(),
            1024 * c["total_batches"].as_u64().unwrap(),
            "{id}"
        );
        let sampled: u64 = samples.iter().map(|s| s["hashes"].as_u64().unwrap()).sum();
        assert!(sampled <= c["total_hashes"].as_u64().unwrap(), "{id}");
        for w in workers {
            assert!(w["tid"].as_i64().unwrap() > 0, "{id}");
            // /proc is there on Linux: the counters are numbers, not nulls with a reason.
            if cfg!(target_os = "linux") {
                assert!(w["cpu_ns"].is_u64(), "{id}: {w}");
                assert!(w["unavailable"].is_null(), "{id}: {w}");
            }
        }
        assert!(c["balance"]["imbalance"].as_f64().unwrap() >= 1.0, "{id}");
        if c["scheduler"] == "channel" {
            assert!(
                c["latency"]["queue_wait"]["count"].as_u64().unwrap() > 0,
                "{id}"
            );
        } else {
            assert!(c["latency"]["queue_wait"].is_null(), "{id}");
        }

        // Shares: zero_bits 10 gives ~1 per 1024 hashes; all verified, count plausible.
        let shares = &c["shares"];
        assert_eq!(shares["hashes"].as_u64().unwrap(), sampled, "{id}");
        assert!(shares["found"].as_u64().unwrap() > 0, "{id}");
        assert_eq!(shares["found"], shares["verified"], "{id}");
        let expected = shares["expected"].as_f64().unwrap();
        assert!(
            (expected - sampled as f64 / 1024.0).abs() < 1e-6 * expected,
            "{id}"
        );
        assert_eq!(shares["plausible"], true, "{id}: {shares}");
        assert!(
            c["latency"]["share_interval"]["count"].as_u64().unwrap() > 0,
            "{id}"
        );

        // Profile artefacts: the folded stacks add up to the recorded sample count, and the
        // protobuf decodes with as many stacks. No sample is dropped any more (libc samples
        // are kept), so every case has some, and some on its workers.
        //
        // The kernel delivers the process timer's signal on scheduler ticks (≥ 100 Hz) to a
        // thread that is running, so workers that burned 50 ms of CPU in the measured phase
        // must have been sampled. On a starved machine (a VM whose vCPUs are stolen) they may
        // not have: then only the bookkeeping below is checked, and the run as a whole must
        // still hold samples.
        let profile = &c["profile"];
        let samples = profile["samples"].as_u64().unwrap();
        let measured_cpu_ns: u64 = samples_cpu_ns(c);
        let busy = !cfg!(target_os = "linux") || measured_cpu_ns >= 50_000_000;
        if busy {
            assert!(
                samples > 0,
                "{id}: no profile sample after {measured_cpu_ns} ns of worker CPU"
            );
        } else {
            eprintln!("{id}: workers used only {measured_cpu_ns} ns CPU; {samples} samples");
        }
        profiled_samples += samples;
        let folded =
            std::fs::read_to_string(dir.join(profile["folded"].as_str().unwrap())).unwrap();
        let folded_total: u64 = folded
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(folded_total, samples, "{id}");
        assert!(
            !busy || folded.lines().any(|l| l.starts_with("mb-worker-")),
            "{id}: no worker stack in\n{folded}"
        );
        assert_eq!(profile["requested_hz"], 997, "{id}");
        let pb = std::fs::read(dir.join(profile["pprof"].as_str().unwrap())).unwrap();
        let decoded = <pprof::protos::Profile as prost::Message>::decode(pb.as_slice()).unwrap();
        assert_eq!(decoded.sample.is_empty(), samples == 0, "{id}");
    }
    assert!(
        profiled_samples > 0,
        "no case of the run kept a profile sample"
    );
    // Scaling is filled for the 2-thread cases against the 1-thread case of the same scheduler.
    let t2 = cases
        .iter()
        .find(|c| c["id"] == "sha2-midstate/atomic/t2/zb10")
        .unwrap();
    assert!(t2["efficiency"]["scaling"].as_f64().unwrap() > 0.0);
    let overhead = &r["profiling"]["overhead"];
    assert_eq!(overhead["rounds"], 3);
    assert!(
        overhead["without_profiler_hashes_per_sec"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn no_profile_turns_probes_off() {
    let tmp = tempfile::tempdir().unwrap();
    let body = TINY
        .replace(
            r#"scheduler = ["atomic", "channel"]"#,
            r#"scheduler = ["stride"]"#,
        )
        .replace("threads = [1, 2]", "threads = [1]");
    let scenario = write_scenario(tmp.path(), "tiny", &body);
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--no-profile")
        .assert()
        .success();
    let dir = report_dir(&out);
    let r = read_report(&dir);
    assert_eq!(r["profiling"]["enabled"], false);
    assert!(r["profiling"]["overhead"].is_null());
    assert!(r["cases"][0]["profile"].is_null());
    assert!(!dir.join("flame").exists());
}

#[test]
fn job_switches_are_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let body = TINY
        .replace(
            r#"scheduler = ["atomic", "channel"]"#,
            r#"scheduler = ["chunked", "channel"]"#,
        )
        .replace("threads = [1, 2]", "threads = [2]")
        .replace("batch = 1024", "batch = 1024\njob_interval = \"40ms\"");
    let scenario = write_scenario(tmp.path(), "jobs", &body);
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--no-profile")
        .assert()
        .success();
    let r = read_report(&report_dir(&out));
    for c in r["cases"].as_array().unwrap() {
        let js = &c["job_switch"];
        let switches = js["switches"].as_u64().unwrap();
        assert!(switches >= 3, "{js}");
        let lat = c["latency"]["job_switch"]["count"].as_u64().unwrap();
        assert_eq!(lat + js["missed"].as_u64().unwrap(), switches * 2, "{js}");
        assert!(js["stale_fraction"].as_f64().unwrap() < 1.0);
        // Shares found on any job are still verified and plausible.
        assert_eq!(c["shares"]["plausible"], true);
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_writes_the_finished_cases_marked_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let body = TINY
        .replace(
            r#"scheduler = ["atomic", "channel"]"#,
            r#"scheduler = ["atomic", "stride", "chunked", "rayon"]"#,
        )
        .replace("samples = 3", "samples = 4")
        .replace(
            "[profile]\nflamegraph = true",
            "[profile]\nflamegraph = false",
        );
    let scenario = write_scenario(tmp.path(), "long", &body);
    let out = tmp.path().join("out");
    let bin = assert_cmd::cargo::cargo_bin!("minebench");
    let mut child = std::process::Command::new(bin)
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first case is in the report, then interrupt.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no case finished");
        let done = std::fs::read_dir(&out)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read(e.ok()?.path().join("report.json")).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|r| !r["cases"].as_array().unwrap().is_empty());
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(rc, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let r = read_report(&report_dir(&out));
    assert_eq!(r["interrupted"], true);
    let cases = r["cases"].as_array().unwrap();
    assert!(
        !cases.is_empty() && cases.len() < 8,
        "{} cases",
        cases.len()
    );
    for c in cases {
        assert_eq!(
            c["samples"].as_array().unwrap().len(),
            4,
            "only whole cases are reported"
        );
    }
    // No temporary files left next to the report.
    let leftovers: Vec<_> = std::fs::read_dir(report_dir(&out))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn every_shipped_scenario_plans() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = minebench()
                .arg("plan")
                .arg(&path)
                .arg("--json")
                .output()
                .unwrap();
            if path.ends_with("gpu.toml") && !cfg!(feature = "gpu") {
                // A build without the `gpu` feature refuses it, saying what it needs (exit 2).
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{err}");
                assert!(err.contains("--features gpu"), "{err}");
                continue;
            }
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(
                !plan["cases"].as_array().unwrap().is_empty(),
                "{}",
                path.display()
            );
            n += 1;
        }
    }
    assert!(n >= 6);
    // No argument: the built-in quick scenario.
    minebench()
        .arg("plan")
        .assert()
        .success()
        .stdout(predicate::str::contains("built-in:quick"));
    minebench()
        .args(["run", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("quick"));
}

/// Bad input: exit 2, a message naming file, line and key (or the flag), and no report directory.
#[test]
fn bad_input_exits_2_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "malformed",
            TINY.replace("samples = 3", "samples = = 3"),
            "malformed.toml:",
        ),
        (
            "unknown-key",
            TINY.replace("samples = 3", "samples = 3\nwarmpu = \"1s\""),
            "warmpu",
        ),
        (
            "unknown-backend",
            TINY.replace(r#"["sha2-midstate"]"#, r#"["gpu"]"#),
            "known backends",
        ),
        (
            "unknown-sched",
            TINY.replace(r#"["atomic", "channel"]"#, r#"["fifo"]"#),
            "known schedulers",
        ),
        (
            "zero-threads",
            TINY.replace("threads = [1, 2]", "threads = [0]"),
            "matrix.threads",
        ),
        (
            "many-threads",
            TINY.replace("threads = [1, 2]", "threads = [100000]"),
            "matrix.threads",
        ),
        (
            "zero-samples",
            TINY.replace("samples = 3", "samples = 0"),
            "measure.samples",
        ),
        (
            "bad-duration",
            TINY.replace(r#"duration = "100ms""#, r#"duration = "fast""#),
            "measure.sample",
        ),
        (
            "zero-bits",
            TINY.replace("zero_bits = 10", "zero_bits = 256"),
            "zero_bits",
        ),
        (
            "empty-matrix",
            TINY.replace(r#"["sha2-midstate"]"#, "[]"),
            "matrix.backend",
        ),
        (
            "bad-frequency",
            TINY.replace("frequency = 997", "frequency = 0"),
            "profile.frequency",
        ),
    ];
    for (name, body, needle) in cases {
        let scenario = write_scenario(tmp.path(), name, &body);
        let res = minebench()
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{name}: want {needle:?} in {stderr}"
        );
        assert!(
            stderr.contains(&format!("{name}.toml:")),
            "{name}: names the file and line: {stderr}"
        );
        assert!(!out.exists(), "{name}: left {out:?} behind");
    }
    // A missing file.
    minebench()
        .args(["run", "no/such/file.toml", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/file.toml"));
    assert!(!out.exists());
    // An unwritable --out (a path below a regular file).
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let scenario = write_scenario(tmp.path(), "ok", TINY);
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(file.join("sub"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--out"));
}

#[test]
fn nonce_count_samples_hash_at_least_that_many() {
    let tmp = tempfile::tempdir().unwrap();
    let body = TINY
        .replace(
            r#"scheduler = ["atomic", "channel"]"#,
            r#"scheduler = ["rayon"]"#,
        )
        .replace(
            r#"sample = { duration = "100ms" }"#,
            "sample = { nonces = 500_000 }",
        );
    let scenario = write_scenario(tmp.path(), "nonces", &body);
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--no-profile")
        .assert()
        .success();
    let r = read_report(&report_dir(&out));
    assert_eq!(r["scenario"]["measure"]["sample"]["nonces"], 500_000);
    for c in r["cases"].as_array().unwrap() {
        for s in c["samples"].as_array().unwrap() {
            assert!(s["hashes"].as_u64().unwrap() >= 500_000, "{s}");
        }
    }
}

#[test]
fn samples_carry_the_workers_cpu_time_and_compare_can_use_it() {
    let tmp = tempfile::tempdir().unwrap();
    let body = TINY
        .replace(
            r#"scheduler = ["atomic", "channel"]"#,
            r#"scheduler = ["atomic"]"#,
        )
        .replace("samples = 3", "samples = 4")
        .replace(
            "[profile]\nflamegraph = true",
            "[profile]\nflamegraph = false",
        );
    let scenario = write_scenario(tmp.path(), "cpu", &body);
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let dir = report_dir(&out);
    let r = read_report(&dir);
    for c in r["cases"].as_array().unwrap() {
        let threads = c["threads"].as_u64().unwrap();
        for s in c["samples"].as_array().unwrap() {
            let cpu = s["cpu_ns"].as_u64().expect("cpu_ns recorded");
            let elapsed = s["elapsed_ns"].as_u64().unwrap();
            // N threads cannot use more than N CPU-seconds per second (plus the clock reads'
            // own skew between the two ends of the window).
            assert!(
                cpu > 0 && cpu <= threads * elapsed + 5_000_000,
                "{cpu} vs {elapsed}"
            );
        }
        assert_eq!(c["cpu_rate"]["n"], 4, "{}", c["id"]);
    }
    let report = dir.join("report.json");
    let cmp = minebench()
        .arg("compare")
        .arg(&report)
        .arg(&report)
        .args(["--metric", "cpu"])
        .output()
        .unwrap();
    assert!(cmp.status.success());
    assert!(String::from_utf8_lossy(&cmp.stdout).contains("base MH/cpu-s"));
    // A report written before samples carried CPU time cannot be compared on it.
    let mut old = r.clone();
    for c in old["cases"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("cpu_rate");
        for s in c["samples"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("cpu_ns");
        }
    }
    let old_path = tmp.path().join("old.json");
    std::fs::write(&old_path, serde_json::to_vec(&old).unwrap()).unwrap();
    minebench()
        .arg("compare")
        .arg(&old_path)
        .arg(&report)
        .args(["--metric", "cpu"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--metric cpu: the base report"));
}

/// CPU time the case's workers used over its measured samples (0 when not recorded).
fn samples_cpu_ns(case: &Value) -> u64 {
    case["samples"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["cpu_ns"].as_u64()).sum())
        .unwrap_or(0)
}

#[test]
fn auto_is_the_fastest_backend_measured_here_unless_told_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let body = TINY
        .replace("backend = [\"sha2-midstate\"]", "backend = [\"auto\"]")
        .replace(
            "scheduler = [\"atomic\", \"channel\"]",
            "scheduler = [\"atomic\"]",
        )
        .replace("threads = [1, 2]", "threads = [1]")
        .replace("flamegraph = true", "flamegraph = false");
    let scenario = write_scenario(tmp.path(), "tiny", &body);
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("auto: "));
    let r = read_report(&report_dir(&out));
    let cal = &r["auto_calibration"];
    let cands = cal["candidates"].as_array().unwrap();
    assert!(!cands.is_empty());
    // The chosen backend is the candidate with the highest median, and the case runs it.
    let best = cands
        .iter()
        .max_by(|a, b| {
            a["hashes_per_sec"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["hashes_per_sec"].as_f64().unwrap())
        })
        .unwrap();
    // ... unless the static choice is within 5 % of it (a choice that flips renames cases).
    let rate_of = |name: &Value| {
        cands
            .iter()
            .find(|c| &c["backend"] == name)
            .map(|c| c["hashes_per_sec"].as_f64().unwrap())
    };
    let best_rate = best["hashes_per_sec"].as_f64().unwrap();
    let kept_static = cal["chosen"] == cal["static_choice"]
        && rate_of(&cal["static_choice"]).is_some_and(|s| best_rate <= s * 1.05);
    assert!(cal["chosen"] == best["backend"] || kept_static, "{cal}");
    assert_eq!(r["cases"][0]["backend"], cal["chosen"]);
    assert!(cands.iter().all(|c| c["backend"] != "reference"));
    assert!(cands
        .iter()
        .all(|c| c["rounds"].as_array().unwrap().len() == 3));

    let out2 = tmp.path().join("out2");
    minebench()
        .arg("run")
        .arg(&scenario)
        .args(["--no-auto-calibration", "--out"])
        .arg(&out2)
        .assert()
        .success();
    let r2 = read_report(&report_dir(&out2));
    assert!(r2.get("auto_calibration").is_none());
    assert_eq!(r2["cases"][0]["backend"], cal["static_choice"]);
}
