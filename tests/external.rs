//! External miners through the loopback pool, end to end through the binary: `minebench mine`
//! (a real stratum client, started as `{minebench}`) measured black-box beside a built-in
//! backend; miners that fail, never subscribe, or are left behind by Ctrl-C, SIGKILL or a
//! panic of minebench (none may survive).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::free_port;
use minebench::report::compare::parse_report;
use minebench::report::Report;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("minebench").to_path_buf()
}

/// A string no other process has on its command line.
fn marker(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("mb-{what}-{}-{nanos}", std::process::id())
}

/// Pids of live processes whose command line contains `needle` (zombies excluded).
fn processes_with(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie && String::from_utf8_lossy(&cmd).contains(needle) {
            found.push(pid);
        }
    }
    found
}

fn wait_for(mut ok: impl FnMut() -> bool, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ok()
}

fn scenario(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("ext.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn only_report(out: &Path) -> Report {
    let dir = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .find(|e| e.path().join("report.json").exists())
        .expect("a run directory");
    parse_report(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap()
}

const SELF_MINER: &str = r#"
[external.self]
command = ["{minebench}", "mine", "--pool", "{pool_url}", "--threads", "{threads}", "--user", "{user}", "--backend", "sha2-midstate"]
"#;

#[test]
fn an_external_miner_runs_beside_a_builtin_backend_in_one_report() {
    let tmp = tempfile::tempdir().unwrap();
    let user = marker("beside");
    let body = format!(
        r#"name = "ext"
[matrix]
backend = ["sha2-midstate", "external:self"]
scheduler = ["stride"]
threads = [1]
difficulty = [{{ share = 0.00005 }}]
[measure]
warmup = "200ms"
samples = 3
sample = {{ duration = "400ms" }}
job_interval = "300ms"
{SELF_MINER}
user = "{user}"
version = ["{}", "--version"]
"#,
        bin().display()
    );
    let path = scenario(tmp.path(), &body);
    let out = tmp.path().join("out");
    let status = Command::new(bin())
        .args(["run", "--no-profile", "--out"])
        .arg(&out)
        .arg(&path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let r = only_report(&out);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.cases.len(), 2);
    let ext = r
        .cases
        .iter()
        .find(|c| c.backend == "external:self")
        .unwrap();
    assert_eq!(ext.id, "external:self/own/t1/sd0.00005");
    assert_eq!(ext.rate_method, Some(minebench::report::RateMethod::Shares));
    let e = ext.external.as_ref().unwrap();
    assert!(
        e.pool.accepted > 0 && e.pool.measured_shares > 0,
        "{:?}",
        e.pool
    );
    // Only stale shares may be refused (a share found just before a clean switch).
    assert!(
        e.pool.rejected.keys().all(|k| k == "stale"),
        "{:?}",
        e.pool.rejected
    );
    assert!(e.exit.starts_with("stopped by SIGINT"), "{}", e.exit);
    assert!(
        e.version.as_deref().unwrap_or("").contains("minebench"),
        "{:?}",
        e.version
    );
    assert!(e
        .command
        .iter()
        .any(|a| a.starts_with("stratum+tcp://127.0.0.1:")));
    assert_eq!(ext.samples.len(), 3);
    assert!(ext.hash_rate.median > 0.0);
    let (lo, hi) = (e.pool.rate_ci95[0], e.pool.rate_ci95[1]);
    assert!(
        lo < e.pool.rate && e.pool.rate < hi,
        "{lo} {} {hi}",
        e.pool.rate
    );
    assert!(ext.job_switch.as_ref().unwrap().switches >= 2);
    assert!(!ext.workers.is_empty());
    assert!(
        ext.workers.iter().any(|w| w.cpu_ns.unwrap_or(0) > 0),
        "{:?}",
        ext.workers
    );
    // The miner is gone.
    assert!(processes_with(&user).is_empty());
    // And the report works like any other: compare against itself, render again.
    let run_dir = out.read_dir().unwrap().flatten().next().unwrap().path();
    let status = Command::new(bin())
        .arg("compare")
        .arg(&run_dir)
        .arg(&run_dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(run_dir.join("index.html").exists());
}

fn run_failing(tmp: &Path, external: &str) -> (Option<i32>, Report, String) {
    let body = format!(
        r#"name = "bad"
[matrix]
backend = ["external:m"]
scheduler = ["stride"]
threads = [1]
difficulty = [{{ share = 0.001 }}]
[measure]
warmup = "100ms"
samples = 1
sample = {{ duration = "200ms" }}
[external.m]
{external}
"#
    );
    let path = scenario(tmp, &body);
    let out = tmp.join("out");
    let o = Command::new(bin())
        .args(["run", "--no-profile", "--out"])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    (
        o.status.code(),
        only_report(&out),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn a_miner_that_exits_fails_its_case_with_the_end_of_its_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, r, stderr) = run_failing(
        tmp.path(),
        r#"command = ["sh", "-c", "echo cannot-reach-{pool_host}-boom >&2; exit 3"]"#,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(r.cases.is_empty());
    let f = &r.failed[0];
    assert_eq!(f.id, "external:m/own/t1/sd0.001");
    assert!(
        f.reason.contains("cannot-reach-127.0.0.1-boom"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("before subscribing"), "{}", f.reason);
}

#[test]
fn a_miner_that_never_subscribes_times_out_and_is_killed() {
    let tmp = tempfile::tempdir().unwrap();
    // A distinctive argument to find the process by.
    let secs = format!("{}.{}", 40, std::process::id());
    let (code, r, _) = run_failing(
        tmp.path(),
        &format!("command = [\"sleep\", \"{secs}\"]\nstartup_timeout = \"300ms\"\nstop_grace = \"100ms\""),
    );
    assert_eq!(code, Some(1));
    assert!(
        r.failed[0].reason.contains("did not subscribe"),
        "{}",
        r.failed[0].reason
    );
    assert!(
        wait_for(
            || processes_with(&format!("sleep\0{secs}")).is_empty(),
            Duration::from_secs(2)
        ),
        "the silent miner survived"
    );
}

/// Starts a long external case with a marked miner, waits until the miner runs, applies `end`
/// to minebench, and checks that the miner is gone soon after.
fn no_orphan_after(
    end: impl FnOnce(&mut std::process::Child),
    env: Option<(&str, &str)>,
) -> Option<i32> {
    let tmp = tempfile::tempdir().unwrap();
    let user = marker("orphan");
    let body = format!(
        r#"name = "long"
[matrix]
backend = ["external:self"]
scheduler = ["stride"]
threads = [1]
difficulty = [{{ share = 0.001 }}]
[measure]
warmup = "100ms"
samples = 100
sample = {{ duration = "1s" }}
{SELF_MINER}
user = "{user}"
"#
    );
    let path = scenario(tmp.path(), &body);
    let mut cmd = Command::new(bin());
    cmd.args(["run", "--no-profile", "--out"])
        .arg(tmp.path().join("out"))
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    assert!(
        wait_for(
            || !processes_with(&user).is_empty(),
            Duration::from_secs(20)
        ),
        "the miner never started"
    );
    end(&mut child);
    let status = child.wait().unwrap();
    assert!(
        wait_for(|| processes_with(&user).is_empty(), Duration::from_secs(5)),
        "miner {:?} outlived minebench",
        processes_with(&user)
    );
    status.code()
}

#[test]
fn ctrl_c_sigkill_and_a_panic_leave_no_miner_behind() {
    // SAFETY (for the libc calls): signals to our own child process.
    let code = no_orphan_after(
        |c| {
            std::thread::sleep(Duration::from_millis(500));
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
        },
        None,
    );
    assert_eq!(code, Some(130), "Ctrl-C exits 130 with the report written");
    let code = no_orphan_after(
        |c| {
            std::thread::sleep(Duration::from_millis(500));
            unsafe { libc::kill(c.id() as i32, libc::SIGKILL) };
        },
        None,
    );
    assert_eq!(code, None, "killed by a signal");
    let code = no_orphan_after(|_| {}, Some(("MINEBENCH_TEST_PANIC_WITH_MINER", "1")));
    assert_eq!(code, Some(101), "a panic exits 101");
}

/// A free loopback port (bound and released; good enough for a test).

#[test]
fn the_standalone_pool_reports_a_case_per_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let pool = Command::new(bin())
        .args([
            "pool",
            "--listen",
            &listen,
            "--duration",
            "3s",
            "--json",
            "--job-interval",
            "700ms",
        ])
        .args(["--sample", "500ms", "--out"])
        .arg(tmp.path().join("out"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("stratum+tcp://{listen}");
    // Two miners, one with version rolling.
    let miners: Vec<_> = [("alice", false), ("bob", true)]
        .iter()
        .map(|(user, rolling)| {
            let mut c = Command::new(bin());
            c.args(["mine", "--pool", &url, "--user", user, "--duration", "2s"])
                .args(["--backend", "sha2-midstate", "--json"]);
            if *rolling {
                c.arg("--version-rolling");
            }
            c.stdout(Stdio::piped()).stderr(Stdio::null());
            // The pool may need a moment to listen.
            std::thread::sleep(Duration::from_millis(300));
            c.spawn().unwrap()
        })
        .collect();
    let mut mined = Vec::new();
    for m in miners {
        let o = m.wait_with_output().unwrap();
        assert!(o.status.success());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        mined.push(v);
    }
    let o = pool.wait_with_output().unwrap();
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    // JSON lines: one per second, then the summary.
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["accepted"].as_u64().unwrap_or(0) > 0),
        "{stdout}"
    );
    let r = only_report(&tmp.path().join("out"));
    assert_eq!(r.cases.len(), 2, "{:?}", r.skipped);
    for (case, miner) in r.cases.iter().zip(&mined) {
        let e = case.external.as_ref().unwrap();
        assert!(case.id.starts_with("external:"), "{}", case.id);
        assert!(case.id.ends_with("/vardiff"), "{}", case.id);
        assert_eq!(
            e.pool.rejected.values().filter(|_| true).sum::<u64>(),
            e.pool.rejected.get("stale").copied().unwrap_or(0)
        );
        // Every share the miner saw accepted, the pool counted; none it submitted went missing.
        assert_eq!(
            e.pool.accepted,
            miner["accepted"].as_u64().unwrap(),
            "{miner}"
        );
        assert_eq!(
            e.pool.accepted + e.pool.rejected.values().sum::<u64>(),
            miner["submitted"].as_u64().unwrap()
        );
    }
    let bob = r
        .cases
        .iter()
        .find(|c| c.backend == "external:bob")
        .unwrap();
    assert!(bob.external.as_ref().unwrap().pool.version_rolling);
}

#[test]
fn pool_flags_are_checked_before_listening() {
    let o = Command::new(bin())
        .args(["pool", "--listen", "0.0.0.0:0", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--listen") && err.contains("--allow-remote"),
        "{err}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = Command::new(bin())
        .args(["pool", "--listen", &addr, "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--listen") && err.contains("cannot listen"),
        "{err}"
    );
    let o = Command::new(bin())
        .args(["pool", "--difficulty", "0", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn go_probes_degrade_to_reasons_and_count_malformed_schedtrace_lines() {
    // A "Go miner" whose schedtrace lines come from a shell loop beside `minebench mine` (both
    // in the miner's process group), with a pprof URL nothing listens on.
    let tmp = tempfile::tempdir().unwrap();
    let user = marker("gofake");
    let sched = "SCHED 1000ms: gomaxprocs=2 idleprocs=1 threads=5 spinningthreads=0 needspinning=0 idlethreads=1 runqueue=2 [1 0]";
    let body = format!(
        r#"name = "gofake"
[matrix]
backend = ["external:fake"]
scheduler = ["stride"]
threads = [1]
difficulty = [{{ share = 0.0001 }}]
[measure]
warmup = "200ms"
samples = 3
sample = {{ duration = "500ms" }}
[external.fake]
command = ["sh", "-c", "(while :; do echo '{sched}'; echo 'SCHED oops'; sleep 0.1; done) >&2 & exec \"$0\" mine --pool {{pool_url}} --user {{user}} --backend sha2-midstate", "{{minebench}}"]
user = "{user}"
pprof = "http://127.0.0.1:{{pprof_port}}"
go_schedtrace = true
"#
    );
    let path = scenario(tmp.path(), &body);
    let out = tmp.path().join("out");
    let status = Command::new(bin())
        .args(["run", "--out"])
        .arg(&out)
        .arg(&path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let r = only_report(&out);
    let c = &r.cases[0];
    let e = c.external.as_ref().unwrap();
    // Asked for the Go profile: nothing listens, so no profile, and the reason says so.
    assert!(c.profile.is_none());
    let why = e.profile_unavailable.as_deref().unwrap();
    assert!(why.contains("cannot connect"), "{why}");
    let go = e.go.as_ref().unwrap();
    assert!(go.gc.is_none());
    assert!(go
        .gc_unavailable
        .as_deref()
        .unwrap()
        .contains("cannot connect"));
    let trace = go.schedtrace.as_ref().unwrap();
    assert!(trace.points.len() >= 5, "{}", trace.points.len());
    assert!(trace.malformed_lines >= 5, "{}", trace.malformed_lines);
    let s = trace.summary.as_ref().unwrap();
    assert_eq!(
        (s.max_global_runqueue, s.max_local_runqueue, s.max_threads),
        (2, 1, 5)
    );
    assert!((s.idle_p_fraction - 0.5).abs() < 1e-9);
    // The chart is drawn, and the shell loop died with the miner.
    let run_dir = out.read_dir().unwrap().flatten().next().unwrap().path();
    assert!(run_dir.join("plots/schedtrace.svg").exists());
    assert!(processes_with(&user).is_empty());
}
