//! `minebench run --pool`: cases mined from a stratum pool the run did not start (ours, in this
//! test process, validating every share), with job switches and clean jobs mid-case.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::minebench;
use minebench::stratum::server::{DiffMode, Pool, PoolConfig};
use predicates::prelude::*;
use serde_json::Value;

const SCENARIO: &str = r#"
name = "from-pool"
[work]
pool = { url = "stratum+tcp://127.0.0.1:1", user = "scenario-user" }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic", "channel"]
threads = [2]
[measure]
warmup = "200ms"
samples = 3
sample = { duration = "300ms" }
batch = 4096
"#;

fn scenario(dir: &Path) -> PathBuf {
    let path = dir.join("from-pool.toml");
    std::fs::write(&path, SCENARIO).unwrap();
    path
}

fn report(out: &Path) -> Value {
    let dir = std::fs::read_dir(out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn every_share_goes_to_the_pool_and_jobs_switch_from_the_pools_notify() {
    // 1/16384: a share per ~2^18 hashes: dozens per case even on a loaded machine running the
    // slowest backend.
    let pool = Arc::new(Pool::start(PoolConfig::loopback(DiffMode::Fixed(1.0 / 16384.0))).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let switcher = {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(250));
                // Every third switch is a new block (clean): older jobs become stale.
                n += 1;
                pool.switch_job(n.is_multiple_of(3));
            }
        })
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    minebench()
        .arg("run")
        .arg(scenario(tmp.path()))
        .args([
            "--no-profile",
            "--pool",
            &pool.url(),
            "--pool-user",
            "w7",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("mining as w7"));
    done.store(true, Ordering::SeqCst);
    switcher.join().unwrap();

    let r = report(&out);
    assert_eq!(r["scenario"]["work"]["pool"]["url"], pool.url());
    assert!(r["scenario"]["work"]["pool"].get("password").is_none());
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{}", r["failed"]);
    let mut accepted_total = 0;
    for c in cases {
        let id = c["id"].as_str().unwrap();
        assert!(id.ends_with("/pool"), "{id}");
        let p = &c["pool_client"];
        assert_eq!(p["user"], "w7");
        let submitted = p["submitted"].as_u64().unwrap();
        let accepted = p["accepted"].as_u64().unwrap();
        assert!(accepted > 0, "{id}: {p}");
        let rejected: u64 = p["rejected"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(reason, n)| {
                // Only work on a job the pool had replaced may be refused: never a bad share.
                assert!(reason == "stale" || reason == "job_not_found", "{id}: {p}");
                n.as_u64().unwrap()
            })
            .sum();
        assert_eq!(accepted + rejected, submitted, "{id}: {p}");
        assert_eq!(p["unanswered"], 0, "{id}");
        assert!(p["jobs"].as_u64().unwrap() >= 1, "{id}: {p}");
        assert_eq!(p["difficulty"], serde_json::json!([1.0 / 16384.0]), "{id}");
        assert!(p["submit_latency"]["count"].as_u64().unwrap() > 0, "{id}");
        // Every share found was verified, and the count fits the pool's target.
        let shares = &c["shares"];
        assert_eq!(shares["found"], shares["verified"], "{id}");
        let expected = shares["expected"].as_f64().unwrap();
        let hashes = shares["hashes"].as_f64().unwrap();
        // Share difficulty d: target 0xffff·2^208 / d, so P(hit) = 65535 / (d · 2^48).
        let p_hit = 65535.0 * 16384.0 / 2f64.powi(48);
        assert!(
            (expected - hashes * p_hit).abs() < 1e-9 * expected,
            "{id}: {shares}"
        );
        assert_eq!(shares["plausible"], true, "{id}: {shares}");
        // The pool's notifies switched the session's job: measured per worker, from arrival.
        let js = &c["job_switch"];
        assert!(js["switches"].as_u64().unwrap() >= 1, "{id}: {js}");
        assert!(
            c["latency"]["job_switch"]["count"].as_u64().unwrap() >= 1,
            "{id}"
        );
        accepted_total += accepted;
    }
    assert_eq!(pool.totals().accepted, accepted_total);
    // The rendered pages say what the pool did.
    let dir = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("**From the pool**"), "{md}");
    assert!(md.contains(&format!("{} as w7", pool.url())), "{md}");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("<h2 id=\"pool\">From the pool</h2>"));
    assert_eq!(
        pool.totals().connections,
        1,
        "one connection for the whole run"
    );
}

#[test]
fn an_unreachable_pool_fails_each_case_with_the_reason_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // Port 1 on loopback: nothing listens there.
    minebench()
        .arg("run")
        .arg(scenario(tmp.path()))
        .args(["--no-profile", "--out"])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot connect to 127.0.0.1:1"));
    let r = report(&out);
    assert_eq!(r["cases"].as_array().unwrap().len(), 0);
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    assert!(failed[0]["reason"]
        .as_str()
        .unwrap()
        .contains("stratum+tcp://127.0.0.1:1"));
}

#[test]
fn pool_flags_and_keys_are_checked_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    minebench()
        .args(["run", "--pool", "http://example.org", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--pool"));
    minebench()
        .args(["run", "--pool-user", "w", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--pool-user"));
    let both = tmp.path().join("both.toml");
    std::fs::write(
        &both,
        SCENARIO.replace(
            "threads = [2]",
            "threads = [2]\ndifficulty = [{ zero_bits = 8 }]",
        ),
    )
    .unwrap();
    minebench()
        .args(["run"])
        .arg(&both)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("matrix.difficulty"))
        .stderr(predicate::str::contains("both.toml:"));
    assert!(!out.exists(), "nothing is written for bad input");
    // With --pool, a scenario needs neither a header nor a difficulty; without, it does.
    let bare = tmp.path().join("bare.toml");
    std::fs::write(
        &bare,
        "name = \"bare\"\n[matrix]\nbackend = [\"sha2-midstate\"]\nscheduler = [\"atomic\"]\nthreads = [1]\n",
    )
    .unwrap();
    minebench()
        .args(["run", "--dry-run", "--pool", "stratum+tcp://127.0.0.1:3333"])
        .arg(&bare)
        .assert()
        .success()
        .stdout(predicate::str::contains("sha2-midstate/atomic/t1/pool"));
    minebench()
        .args(["run", "--dry-run"])
        .arg(&bare)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("work.difficulty"));
    // --pool on the built-in scenario collapses its difficulties into the pool's.
    minebench()
        .args(["run", "--dry-run", "--pool", "stratum+tcp://127.0.0.1:3333"])
        .assert()
        .success()
        .stdout(predicate::str::contains("/pool"))
        .stdout(predicate::str::contains("/zb").not());
}

/// A pool that closes the first connection mid-case and serves the reconnect: the case goes on
/// with the new connection's jobs and says it reconnected.
#[test]
fn a_pool_that_drops_the_connection_mid_case_is_reconnected_and_the_case_completes() {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use minebench::stratum::job::JobMaker;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("stratum+tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let mut send = |v: Value| {
                    let _ = w.write_all(format!("{v}\n").as_bytes());
                };
                let mut jobs = JobMaker::new(i as u64 + 7, 2, 8, 0x6600_0000);
                let mut line = String::new();
                let opened = std::time::Instant::now();
                let mut sent_job = false;
                r.get_ref()
                    .set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                loop {
                    // The first connection dies 700 ms in, whatever it is doing.
                    if i == 0 && opened.elapsed() > Duration::from_millis(700) {
                        return;
                    }
                    match r.read_line(&mut line) {
                        Ok(0) => return,
                        Ok(_) => {}
                        // A timeout keeps what was read so far in `line`.
                        Err(_) => continue,
                    }
                    let Ok(req) = serde_json::from_str::<Value>(&line) else {
                        return;
                    };
                    line.clear();
                    let result = match req["method"].as_str() {
                        Some("mining.configure") => serde_json::json!({"version-rolling": false}),
                        Some("mining.subscribe") => {
                            serde_json::json!([[], format!("{:08x}", 0x5000_0000u32 + i as u32), 4])
                        }
                        // Every share is taken: this pool tests reconnection, not validation.
                        _ => serde_json::json!(true),
                    };
                    send(serde_json::json!({"id": req["id"], "result": result, "error": null}));
                    if req["method"] == "mining.authorize" && !sent_job {
                        sent_job = true;
                        send(
                            serde_json::json!({"id": null, "method": "mining.set_difficulty", "params": [1.0 / 16384.0]}),
                        );
                        let params = jobs.next(true).notify_params();
                        send(
                            serde_json::json!({"id": null, "method": "mining.notify", "params": params}),
                        );
                    }
                }
            });
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let scenario = tmp.path().join("drop.toml");
    std::fs::write(
        &scenario,
        SCENARIO
            .replace(
                "scheduler = [\"atomic\", \"channel\"]",
                "scheduler = [\"atomic\"]",
            )
            .replace("samples = 3", "samples = 8"),
    )
    .unwrap();
    minebench()
        .arg("run")
        .arg(&scenario)
        .args(["--no-profile", "--pool", &url, "--out"])
        .arg(&out)
        .assert()
        .success();
    let r = report(&out);
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{}", r["failed"]);
    let p = &cases[0]["pool_client"];
    assert_eq!(p["reconnects"], 1, "{p}");
    assert!(
        p["jobs"].as_u64().unwrap() >= 1,
        "the new connection's job: {p}"
    );
    assert!(p["accepted"].as_u64().unwrap() > 0, "{p}");
}
