//! `--metrics`: live Prometheus metrics and the xmrig-style summary, scraped while `run` and
//! `pool` work; a taken port refused before anything runs.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, minebench};
use predicates::prelude::*;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_minebench"))
}

/// GET `path` from 127.0.0.1:`port`: (status line, body), None while nothing listens.
fn get(port: u16, path: &str, token: Option<&str>) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// The value of the first sample line starting with `prefix`.
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

#[test]
fn a_run_serves_its_counters_while_it_hashes_behind_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("live.toml");
    std::fs::write(
        &scenario,
        r#"
name = "live"
[work]
difficulty = { zero_bits = 12 }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic"]
threads = [2]
[measure]
warmup = "200ms"
samples = 4
sample = { duration = "500ms" }
"#,
    )
    .unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut run = Command::new(bin())
        .arg("run")
        .arg(&scenario)
        .args(["--no-profile", "--metrics", &addr, "--metrics-token", "t0k"])
        .arg("--out")
        .arg(tmp.path().join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let case = "sha2-midstate/atomic/t2/zb12";
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = None;
    while Instant::now() < deadline {
        if let Some((status, body)) = get(port, "/metrics", Some("t0k")) {
            assert!(status.contains("200"), "{status}");
            let w0 = value(
                &body,
                &format!("minebench_hashes_total{{case=\"{case}\",worker=\"0\"}}"),
            );
            if w0.is_some_and(|v| v > 0.0) && body.contains("minebench_hash_rate{") {
                seen = Some(body);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = seen.expect("no hashes in /metrics while the run hashed");
    for family in [
        "minebench_shares_total{",
        "minebench_hash_rate{",
        "minebench_batch_latency_seconds_bucket{",
        "minebench_case_info{",
        "minebench_up 1",
    ] {
        assert!(body.contains(family), "{family} missing:\n{body}");
    }
    let (status, _) = get(port, "/metrics", None).unwrap();
    assert!(status.contains("401"), "no token: {status}");
    let (_, summary) = get(port, "/summary", Some("t0k")).unwrap();
    let s: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(s["worker_id"], case);
    assert_eq!(s["algo"], "sha256d");
    assert!(s["results"]["hashes_total"].as_u64().unwrap() > 0, "{s}");
    assert!(run.wait().unwrap().success());
}

#[test]
fn a_taken_or_remote_metrics_address_is_exit_2_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    minebench()
        .args(["run", "--metrics", &addr, "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--metrics"))
        .stderr(predicate::str::contains(addr.as_str()));
    minebench()
        .args(["run", "--metrics", "0.0.0.0:0", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--metrics-allow-remote"));
    minebench()
        .args(["run", "--metrics-token", "x", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--metrics-token"));
    assert!(!out.exists(), "nothing ran, nothing was written");
}

#[test]
fn the_pool_publishes_each_connections_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{port}");
    let pool = Command::new(bin())
        .args(["pool", "--listen", &listen, "--duration", "5s", "--json"])
        .args(["--metrics", &format!("127.0.0.1:{mport}"), "--out"])
        .arg(tmp.path().join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let url = format!("stratum+tcp://{listen}");
    let o = Command::new(bin())
        .args([
            "mine",
            "--pool",
            &url,
            "--user",
            "carol",
            "--duration",
            "2s",
        ])
        .args(["--backend", "sha2-midstate", "--json"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success());
    let mined: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The pool publishes once a second: after the miner left, its counts are final.
    std::thread::sleep(Duration::from_millis(1500));
    let (_, body) = get(mport, "/metrics", None).unwrap();
    let accepted = body
        .lines()
        .find(|l| {
            l.starts_with("minebench_shares_total{case=\"external:carol/own/c")
                && l.contains("result=\"accepted\"")
        })
        .and_then(|l| l.rsplit_once(' '))
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .unwrap_or_else(|| panic!("no accepted shares for carol in\n{body}"));
    assert_eq!(
        accepted as u64,
        mined["accepted"].as_u64().unwrap(),
        "{body}"
    );
    assert!(body.contains("minebench_pool_difficulty{case=\"external:carol/own/c"));
    assert!(pool.wait_with_output().unwrap().status.success());
}
