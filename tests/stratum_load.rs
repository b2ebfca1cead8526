//! The pool under load on loopback, bounded in count: 200 concurrent connections, each with 100
//! shares found beforehand, submit them all at once (pipelined); every one must be verified,
//! counted and answered, none lost. The throughput is
//! printed (`cargo test --release --test stratum_load -- --nocapture`), never asserted.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use minebench::pow::header::to_hex;
use minebench::pow::reference::sha256d;
use minebench::pow::Target;
use minebench::stratum::job::Job;
use minebench::stratum::server::{DiffMode, Pool, PoolConfig};
use serde_json::{json, Value};

const CONNECTIONS: usize = 200;
const SHARES_EACH: usize = 100;
/// Nearly every hash is a share at this difficulty (P ≈ 0.23): the load is the pool's.
const DIFFICULTY: f64 = 1e-9;

fn client(addr: std::net::SocketAddr, user: String, go: &Barrier) -> (usize, Instant) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut read = || {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap()
    };
    writeln!(
        w,
        "{}",
        json!({"id": 1, "method": "mining.subscribe", "params": ["load"]})
    )
    .unwrap();
    writeln!(
        w,
        "{}",
        json!({"id": 2, "method": "mining.authorize", "params": [user, "x"]})
    )
    .unwrap();
    let (mut en1, mut job) = (None, None);
    while en1.is_none() || job.is_none() {
        let v = read();
        if v["id"] == 1 {
            en1 = Some(
                minebench::stratum::protocol::from_hex(v["result"][1].as_str().unwrap()).unwrap(),
            );
        }
        if v["method"] == "mining.notify" {
            job = Some(Job::from_notify(v["params"].as_array().unwrap()).unwrap());
        }
    }
    let (en1, job) = (en1.unwrap(), job.unwrap());
    let target = Target::from_share_difficulty(DIFFICULTY).unwrap();
    let en2 = [0u8, 0, 0, 1];
    let root = job.merkle_root(&en1, &en2);
    let mut nonce = 0u32;
    let mut lines = String::new();
    for i in 0..SHARES_EACH {
        loop {
            let h = job.header_with_root(&root, job.version, job.ntime, nonce);
            nonce += 1;
            if target.is_met_by(&sha256d(h.as_bytes())) {
                break;
            }
        }
        lines.push_str(
            &json!({"id": 100 + i, "method": "mining.submit",
                    "params": [user, job.id, to_hex(&en2), format!("{:08x}", job.ntime), format!("{:08x}", nonce - 1)]})
            .to_string(),
        );
        lines.push('\n');
    }
    // Every connection ready with its shares found: submit all at once.
    go.wait();
    w.write_all(lines.as_bytes()).unwrap();
    let mut ok = 0;
    let mut answered = 0;
    while answered < SHARES_EACH {
        let v = read();
        if v["id"].as_u64().is_some_and(|id| id >= 100) {
            answered += 1;
            if v["result"] == true {
                ok += 1;
            }
        }
    }
    (ok, Instant::now())
}

#[test]
fn two_hundred_connections_submit_twenty_thousand_shares_without_loss() {
    let pool = Pool::start(PoolConfig {
        max_connections: CONNECTIONS + 10,
        ..PoolConfig::loopback(DiffMode::Fixed(DIFFICULTY))
    })
    .unwrap();
    let addr = pool.addr();
    let go = Arc::new(Barrier::new(CONNECTIONS + 1));
    let handles: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let go = go.clone();
            std::thread::spawn(move || client(addr, format!("w{i}"), &go))
        })
        .collect();
    go.wait();
    let t0 = Instant::now();
    let done: Vec<(usize, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let accepted_by_clients: usize = done.iter().map(|d| d.0).sum();
    let elapsed = done.iter().map(|d| d.1).max().unwrap() - t0;
    let conns = pool.connections();
    assert_eq!(conns.len(), CONNECTIONS);
    assert_eq!(accepted_by_clients, CONNECTIONS * SHARES_EACH);
    for c in &conns {
        assert_eq!(c.accepted, SHARES_EACH as u64, "{:?}", c.rejected);
        assert_eq!(c.rejected_total(), 0, "{:?}", c.rejected);
        assert_eq!(c.shares.len(), SHARES_EACH);
    }
    println!(
        "{} connections, {} shares submitted at once, all verified and answered in {:.3} s: \
         {:.0} shares/s (the clients run on the same cores)",
        CONNECTIONS,
        CONNECTIONS * SHARES_EACH,
        elapsed.as_secs_f64(),
        (CONNECTIONS * SHARES_EACH) as f64 / elapsed.as_secs_f64()
    );
}
