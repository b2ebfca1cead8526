//! Hostile inputs and signals through the binary: closed pipes, impossible scenario values,
//! gates with nothing to judge, second signals, unwritable and full outputs. Each test pins one
//! item of the hardening sweep (issue 19); each failed on the code before its fix.

mod common;

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::minebench;
use minebench::report::compare::parse_report;
use minebench::report::{stats, Report, Sample};
use minebench::rng::SplitMix64;
use serde_json::Value;

const FIXTURE: &str = "tests/data/compare-base.json";

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("minebench").to_path_buf()
}

/// A pipe whose reader has already exited: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

/// The fixture with deterministic ~1 % noise samples (so verdicts do not depend on the machine
/// that wrote it), every sample's hashes × `factor`.
fn report_scaled(factor: f64) -> Report {
    let mut r = parse_report(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let mut rng = SplitMix64(5);
    for (i, c) in r.cases.iter_mut().enumerate() {
        let center = 1e7 * (1.0 + i as f64);
        c.samples = (0..8)
            .map(|_| {
                let noise = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                Sample {
                    hashes: (center * (1.0 + 0.02 * noise) * 0.05 * factor) as u64,
                    elapsed_ns: 50_000_000,
                    cpu_ns: None,
                }
            })
            .collect();
        let rates: Vec<f64> = c.samples.iter().map(Sample::hashes_per_sec).collect();
        c.hash_rate = stats::summarize(&rates).unwrap();
    }
    r
}

fn write_report(dir: &Path, name: &str, r: &Report) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(r).unwrap()).unwrap();
    path
}

fn write_scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, body).unwrap();
    path
}

/// A scenario of `name` that runs in well under a second: 1 case, 2 short samples.
fn tiny(name: &str, backend: &str) -> String {
    format!(
        r#"
name = "{name}"
[work]
header = "synthetic"
seed = 3
difficulty = {{ zero_bits = 10 }}
[matrix]
backend = ["{backend}"]
scheduler = ["atomic"]
threads = [1]
[measure]
warmup = "10ms"
samples = 2
sample = {{ duration = "20ms" }}
batch = 1024
[profile]
flamegraph = false
"#
    )
}

/// Report directories (not baselines) under `out`.
fn report_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.is_dir() && p.file_name().unwrap() != "baselines")
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Waits for `child` at most `limit`; kills it and fails if it is still running then.
fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `sig` to `child`.
fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0);
}

/// Waits until `report.json` under `out` holds at least `cases` cases.
fn wait_for_cases(out: &Path, cases: usize) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no report with {cases} cases");
        if let Some(dir) = report_dirs(out).pop() {
            let report = std::fs::read(dir.join("report.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            if report.is_some_and(|r| r["cases"].as_array().unwrap().len() >= cases) {
                return dir;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// 1. A closed pipe only stops printing.

#[test]
fn closed_stdout_does_not_skip_the_gate_or_the_markdown() {
    let tmp = tempfile::tempdir().unwrap();
    let base = write_report(tmp.path(), "base.json", &report_scaled(1.0));
    let slow = write_report(tmp.path(), "slow.json", &report_scaled(0.9));
    let md = tmp.path().join("c.md");
    let status = Command::new(bin())
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .args(["--fail-on-regression", "5", "--markdown"])
        .arg(&md)
        .stdout(closed_pipe())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the regression gate must still fail"
    );
    assert!(std::fs::read_to_string(&md).unwrap().contains("slower"));

    // The same with --json output.
    let status = Command::new(bin())
        .arg("compare")
        .arg(&base)
        .arg(&slow)
        .args(["--json", "--fail-on-regression", "5"])
        .stdout(closed_pipe())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn closed_stdout_runs_every_scenario_and_saves_the_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write_scenario(tmp.path(), "a", &tiny("a", "sha2-midstate"));
    let b = write_scenario(tmp.path(), "b", &tiny("b", "sha2-midstate"));
    let out = tmp.path().join("out");
    let status = Command::new(bin())
        .arg("run")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .stdout(closed_pipe())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let names: Vec<String> = report_dirs(&out)
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("a-") && names[1].starts_with("b-"));

    let status = Command::new(bin())
        .arg("run")
        .arg(&a)
        .arg("--out")
        .arg(&out)
        .arg("--baselines-dir")
        .arg(out.join("baselines"))
        .args(["--save-baseline", "main"])
        .stdout(closed_pipe())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(out.join("baselines/main/report.json").is_file());
}

// 2. Job intervals the harness cannot honour.

#[test]
fn a_sub_millisecond_job_interval_is_refused_under_a_memory_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let body = tiny("jobs", "sha2-midstate")
        .replace("batch = 1024", "batch = 1024\njob_interval = \"100ns\"");
    let scenario = write_scenario(tmp.path(), "jobs", &body);
    let out = tmp.path().join("out");
    let mut cmd = Command::new(bin());
    cmd.arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    limit_memory(&mut cmd, 2 << 30);
    let mut child = cmd.spawn().unwrap();
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("jobs.toml:16: measure.job_interval:") && err.contains("1ms to 1h"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written for a refused scenario");
}

#[test]
fn the_shortest_job_interval_runs_and_stops_with_bounded_switches() {
    let tmp = tempfile::tempdir().unwrap();
    let body = tiny("jobs", "sha2-midstate")
        .replace("batch = 1024", "batch = 1024\njob_interval = \"1ms\"");
    let scenario = write_scenario(tmp.path(), "jobs", &body);
    let out = tmp.path().join("out");
    let mut cmd = Command::new(bin());
    cmd.arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    limit_memory(&mut cmd, 2 << 30);
    let mut child = cmd.spawn().unwrap();
    let status = wait_at_most(&mut child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0));
    let report = read_json(&report_dirs(&out)[0].join("report.json"));
    let case = &report["cases"][0];
    let switches = case["job_switch"]["switches"].as_u64().unwrap();
    let measured_ns: u64 = case["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["elapsed_ns"].as_u64().unwrap())
        .sum();
    // At most one switch per millisecond of the case (warm-up 10 ms + the samples, with slack
    // for the time between samples): a controller that fell behind never fires a burst.
    let bound = (10_000_000 + measured_ns) / 1_000_000 + 20;
    assert!(switches > 0 && switches <= bound, "{switches} > {bound}");
}

/// Caps the child's address space (RLIMIT_AS) at `bytes`.
fn limit_memory(cmd: &mut Command, bytes: u64) {
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent; it runs in
    // the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Caps the size of any file the child writes (RLIMIT_FSIZE) at `bytes`, with SIGXFSZ ignored,
/// so a write past it fails with EFBIG as a write to a full disk fails with ENOSPC.
fn limit_file_size(cmd: &mut Command, bytes: u64) {
    // SAFETY: signal(2) and setrlimit(2) are async-signal-safe; an ignored disposition survives
    // exec. Nothing of the parent's memory is touched.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

// 3. A gate with nothing to judge does not pass; an empty run is no baseline.

#[test]
fn a_gate_with_missing_or_no_cases_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let good = report_scaled(1.0);
    let base = write_report(tmp.path(), "base.json", &good);
    let mut empty = good.clone();
    empty.cases.clear();
    let none = write_report(tmp.path(), "none.json", &empty);
    let mut fewer = good.clone();
    let dropped = fewer.cases.pop().unwrap().id;
    let fewer = write_report(tmp.path(), "fewer.json", &fewer);

    let out = minebench()
        .arg("compare")
        .arg(&base)
        .arg(&none)
        .args(["--fail-on-regression", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nothing was judged"), "{err}");

    let out = minebench()
        .arg("compare")
        .arg(&base)
        .arg(&fewer)
        .args(["--fail-on-regression", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{dropped}  in the base but not in the new")),
        "{err}"
    );

    // Without a gate the same comparison is only reported.
    minebench()
        .arg("compare")
        .arg(&base)
        .arg(&fewer)
        .assert()
        .code(0);
}

#[test]
fn a_run_with_no_measured_case_neither_passes_the_gate_nor_becomes_the_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "g", &tiny("g", "sha2-midstate"));
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--baselines-dir")
        .arg(out.join("baselines"))
        .args(["--save-baseline", "main"])
        .assert()
        .code(0);
    let saved = std::fs::read(out.join("baselines/main/report.json")).unwrap();

    // The scenario's only backend hidden: the case is skipped, nothing is measured.
    let run = minebench()
        .env("MINEBENCH_DISABLE", "sha2-midstate")
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--baselines-dir")
        .arg(out.join("baselines"))
        .args(["--baseline", "main", "--fail-on-regression", "5"])
        .args(["--save-baseline", "main"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("in the base but not in the new report"),
        "{err}"
    );
    assert!(err.contains("baseline main not updated"), "{err}");
    assert_eq!(
        std::fs::read(out.join("baselines/main/report.json")).unwrap(),
        saved,
        "the baseline must be untouched"
    );

    // No gate, but still nothing measured: not saved, and not a success.
    let run = minebench()
        .env("MINEBENCH_DISABLE", "sha2-midstate")
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .arg("--baselines-dir")
        .arg(out.join("baselines"))
        .args(["--save-baseline", "other"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("baseline other not saved: the run measured no case"),
        "{err}"
    );
    assert!(!out.join("baselines/other").exists());
}

// 4, 14, 19. Signals: the report says interrupted from the first one on; a second exits at
// once; Ctrl-C ends a long sample early; SIGTERM is 143.

/// A scenario of `samples` samples of `sample` each, over `cases` schedulers.
fn long_running(sample: &str, samples: u32) -> String {
    tiny("long", "sha2-midstate")
        .replace(
            r#"scheduler = ["atomic"]"#,
            r#"scheduler = ["atomic", "stride", "chunked"]"#,
        )
        .replace("samples = 2", &format!("samples = {samples}"))
        .replace(r#"duration = "20ms""#, &format!(r#"duration = "{sample}""#))
}

fn spawn_run(scenario: &Path, out: &Path) -> Child {
    Command::new(bin())
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_second_signal_exits_at_once_and_the_report_says_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    // Samples of a minute: only an immediate exit ends the run within the wait below.
    let scenario = write_scenario(tmp.path(), "long", &long_running("60s", 3));
    let out = tmp.path().join("out");
    let mut child = spawn_run(&scenario, &out);
    let dir = wait_for_cases(&out, 0);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, libc::SIGINT);
    let status = wait_at_most(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["interrupted"], true, "{report}");
    assert!(report["cases"].as_array().unwrap().is_empty());
}

#[test]
fn a_killed_run_leaves_a_report_that_says_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "long", &long_running("100ms", 3));
    let out = tmp.path().join("out");
    let mut child = spawn_run(&scenario, &out);
    let dir = wait_for_cases(&out, 1);
    child.kill().unwrap();
    child.wait().unwrap();
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["interrupted"], true);
    assert!(!report["cases"].as_array().unwrap().is_empty());
    // Updated with every finished case (the timestamps are to the second, so compare wall_ns).
    assert!(report["wall_ns"].as_u64().unwrap() > 0);
}

#[test]
fn ctrl_c_ends_a_long_sample_early_and_drops_it() {
    let tmp = tempfile::tempdir().unwrap();
    // Each sample takes 60 s: a Ctrl-C that waited for the sample would take a minute.
    let scenario = write_scenario(tmp.path(), "long", &long_running("60s", 2));
    let out = tmp.path().join("out");
    let mut child = spawn_run(&scenario, &out);
    let dir = wait_for_cases(&out, 0);
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, libc::SIGINT);
    let status = wait_at_most(&mut child, Duration::from_secs(40));
    assert_eq!(status.code(), Some(130));
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["interrupted"], true);
    assert!(
        report["cases"].as_array().unwrap().is_empty(),
        "no partial sample is kept"
    );
    assert!(
        dir.join("index.html").is_file(),
        "the interrupted run is still rendered"
    );
}

#[test]
fn sigterm_exits_143_with_the_finished_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = write_scenario(tmp.path(), "long", &long_running("100ms", 3));
    let out = tmp.path().join("out");
    let mut child = spawn_run(&scenario, &out);
    let dir = wait_for_cases(&out, 1);
    signal(&child, libc::SIGTERM);
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(143));
    let report = read_json(&dir.join("report.json"));
    assert_eq!(report["interrupted"], true);
    assert!(!report["cases"].as_array().unwrap().is_empty());
}

// 5. Values that make long ids or names.

#[test]
fn a_huge_share_difficulty_runs_with_a_short_case_id() {
    let tmp = tempfile::tempdir().unwrap();
    let body = tiny("share", "sha2-midstate").replace(
        "difficulty = { zero_bits = 10 }",
        "difficulty = { share = 1e300 }",
    );
    let scenario = write_scenario(tmp.path(), "share", &body);
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let report = read_json(&report_dirs(&out)[0].join("report.json"));
    assert_eq!(report["cases"][0]["id"], "sha2-midstate/atomic/t1/sd1e300");
}

#[test]
fn an_overlong_scenario_name_fails_in_plan_as_in_run() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    let scenario = write_scenario(tmp.path(), "n", &tiny(&long, "sha2"));
    let out = tmp.path().join("out");
    let run_args = [
        "run".as_ref(),
        scenario.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    let plan_args = ["plan".as_ref(), scenario.as_os_str()];
    for args in [&plan_args[..], &run_args[..]] {
        minebench()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(
                "n.toml:2: name: 300 characters is too long",
            ));
    }
    assert!(!out.exists());
}

// 6. scan keeps a bounded number of hits.

#[test]
fn scan_json_caps_the_hits_it_keeps_and_says_how_many_it_dropped() {
    let out = minebench()
        .args(["scan", "--header", &"00".repeat(80), "--zero-bits", "0"])
        .args(["--count", "250000", "--backend", "sha2-midstate", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hits_total"], 250_000);
    assert_eq!(v["hits"].as_array().unwrap().len(), 100_000);
    assert_eq!(v["hits_omitted"], 150_000);
    assert_eq!(v["hits"][99_999]["nonce"], 99_999);

    // Text output streams every hit.
    let out = minebench()
        .args(["scan", "--header", &"00".repeat(80), "--zero-bits", "0"])
        .args([
            "--count",
            "150000",
            "--start",
            "7",
            "--backend",
            "sha2-midstate",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("hit ")).count(),
        150_000
    );
    assert!(text
        .lines()
        .last()
        .unwrap()
        .starts_with("150000 hits in 150000 hashes with sha2-midstate"));
}

// 7. Inputs that are not regular files.

#[test]
fn plan_refuses_a_device_at_once() {
    minebench()
        .args(["plan", "/dev/zero"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "/dev/zero: not a regular file (a character device)",
        ));
}

// 10, 11, 12. Unwritable and full outputs.

#[test]
fn unwritable_outputs_are_flag_errors_found_before_the_work() {
    let tmp = tempfile::tempdir().unwrap();
    let base = write_report(tmp.path(), "base.json", &report_scaled(1.0));
    // /proc accepts no new file, even from root (permission bits do not stop root).
    minebench()
        .arg("render")
        .arg(&base)
        .args(["--out", "/proc"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--out: /proc: not writable"));
    let out = minebench()
        .arg("compare")
        .arg(&base)
        .arg(&base)
        .args(["--markdown", "/proc/c.md"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "nothing is printed before the refusal"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--markdown: /proc/c.md: not writable"));
    let scenario = write_scenario(tmp.path(), "g", &tiny("g", "sha2"));
    minebench()
        .arg("run")
        .arg(&scenario)
        .args(["--out", "/proc/x"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--out: /proc/x: cannot create directory",
        ));
}

#[test]
fn a_full_disk_names_the_file_and_keeps_no_empty_report_directory() {
    let tmp = tempfile::tempdir().unwrap();
    // Rendering: charts are larger than 4 KiB, so writing the first one fails.
    let base = write_report(tmp.path(), "report.json", &report_scaled(1.0));
    let mut cmd = Command::new(bin());
    cmd.arg("render")
        .arg(&base)
        .arg("--out")
        .arg(tmp.path().join("r"));
    limit_file_size(&mut cmd, 4096);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/r/plots/") && err.contains("cannot write"),
        "{err}"
    );
    assert!(
        !err.contains("ImageError") && !err.contains("Custom {"),
        "{err}"
    );

    // A run whose first report write fails: no "partial report" over an empty directory.
    let scenario = write_scenario(tmp.path(), "g", &tiny("g", "sha2"));
    let out_root = tmp.path().join("out");
    let mut cmd = Command::new(bin());
    cmd.arg("run").arg(&scenario).arg("--out").arg(&out_root);
    limit_file_size(&mut cmd, 512);
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("partial report"), "{err}");
    assert!(err.contains("no case finished; nothing kept"), "{err}");
    assert!(
        report_dirs(&out_root).is_empty(),
        "{:?}",
        report_dirs(&out_root)
    );
}

// 13. Flags and variables that were silently ignored.

#[test]
fn ignored_flags_and_unknown_disable_names_are_errors() {
    minebench()
        .args(["run", "--json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--json: only means something with --dry-run",
        ));
    minebench()
        .env("MINEBENCH_DISABLE", "avx512,bogus")
        .arg("backends")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "MINEBENCH_DISABLE: \"bogus\" is not a backend; known: avx512",
        ));
    minebench()
        .env("MINEBENCH_DISABLE", "reference")
        .args(["plan"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("reference cannot be disabled"));
}

// 17. An error's cause is printed once.

#[test]
fn an_error_chain_repeats_no_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let out = minebench()
        .arg("plan")
        .arg(tmp.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}
