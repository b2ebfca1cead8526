//! The protocol against real blocks, and the pool against raw-socket and real clients.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::{deposit, mine, parse_url, MinerConfig};
use super::job::*;
use super::protocol::*;
use super::server::*;
use crate::pow::header::to_hex;
use crate::pow::reference::sha256d;
use crate::pow::{display_hash, Header, Target};

const GENESIS_COINBASE: &str = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

fn mainnet(height: u64) -> Header {
    let all: Value = serde_json::from_str(include_str!("../../tests/data/headers.json")).unwrap();
    let h = all
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["height"] == height)
        .unwrap();
    Header::from_hex(h["header_hex"].as_str().unwrap()).unwrap()
}

fn rev(hex: &str) -> [u8; 32] {
    let mut b: [u8; 32] = from_hex(hex).unwrap().try_into().unwrap();
    b.reverse();
    b
}

#[test]
fn genesis_coinbase_split_into_stratum_parts_rebuilds_the_genesis_header() {
    let genesis = mainnet(0);
    let tx = from_hex(GENESIS_COINBASE).unwrap();
    // "The Times" in the scriptSig stands where a pool's extranonces would.
    let at = GENESIS_COINBASE.find("5468652054696d6573").unwrap() / 2;
    let job = Job {
        id: "g".into(),
        prevhash: [0; 32],
        coinb1: tx[..at].to_vec(),
        coinb2: tx[at + 8..].to_vec(),
        merkle_branch: vec![],
        version: 1,
        nbits: 0x1d00_ffff,
        ntime: 0x495f_ab29,
        clean: true,
    };
    // Through the wire form, as a miner receives it.
    let job = Job::from_notify(job.notify_params().as_array().unwrap()).unwrap();
    let share = ShareParts {
        extranonce1: &tx[at..at + 4],
        extranonce2: &tx[at + 4..at + 8],
        ntime: u32_from_hex("495fab29").unwrap(),
        nonce: u32_from_hex("7c2bac1d").unwrap(),
        version: 1,
    };
    assert_eq!(job.coinbase(share.extranonce1, share.extranonce2), tx);
    assert_eq!(
        job.merkle_root(share.extranonce1, share.extranonce2),
        rev("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")
    );
    let header = job.header(&share);
    assert_eq!(header, genesis);
    assert_eq!(
        display_hash(&sha256d(header.as_bytes())),
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    );
}

#[test]
fn block_170_merkle_branch_and_word_swapped_prevhash_rebuild_its_header() {
    // Block 170: the coinbase and the first payment (Satoshi to Hal Finney).
    let real = mainnet(170);
    let coinbase = rev("b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082");
    let branch = [rev(
        "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
    )];
    let root = merkle_root(coinbase, &branch);
    assert_eq!(&root[..], &real.as_bytes()[36..68]);
    let prev: [u8; 32] = real.as_bytes()[4..36].try_into().unwrap();
    let wire = prevhash_to_stratum(&prev);
    // Stratum's order: each word reversed, so the leading zeros of the display hash come last.
    assert!(wire.ends_with("00000000"), "{wire}");
    assert_eq!(prevhash_from_stratum(&wire), Some(prev));
    let job = Job {
        id: "170".into(),
        prevhash: prevhash_from_stratum(&wire).unwrap(),
        coinb1: vec![],
        coinb2: vec![],
        merkle_branch: branch.to_vec(),
        version: 1,
        nbits: real.bits(),
        ntime: real.time(),
        clean: true,
    };
    let rebuilt = job.header_with_root(&root, 1, real.time(), real.nonce());
    assert_eq!(rebuilt, real);
    assert!(Target::from_compact(real.bits())
        .unwrap()
        .is_met_by(&sha256d(rebuilt.as_bytes())));
}

#[test]
fn parser_classifies_lines_and_never_panics() {
    assert!(matches!(
        parse(br#"{"id":1,"method":"mining.subscribe","params":[]}"#),
        Ok(Message::Request { .. })
    ));
    assert!(matches!(
        parse(br#"{"id":1,"result":true,"error":null}"#),
        Ok(Message::Response { .. })
    ));
    assert_eq!(parse(b"[1,2]"), Err(ParseError::NotObject));
    assert_eq!(parse(br#"{"id":1}"#), Err(ParseError::Shape));
    assert_eq!(parse(br#"{"method":3}"#), Err(ParseError::MethodType));
    assert_eq!(
        parse(br#"{"method":"a","params":{}}"#),
        Err(ParseError::ParamsType)
    );
    assert_eq!(parse(b"\xff\xfe"), Err(ParseError::Utf8));
    assert!(matches!(parse(b"{"), Err(ParseError::Json(_))));
    // Property: arbitrary bytes, and mutations of a valid line, parse or fail without panic.
    let valid =
        br#"{"id":4,"method":"mining.submit","params":["u","1","00000000","5f5e1000","1c720700"]}"#;
    let mut rng = crate::rng::SplitMix64(7);
    for _ in 0..20_000 {
        let mut line = valid.to_vec();
        for _ in 0..(rng.next() % 4 + 1) {
            let i = (rng.next() as usize) % line.len();
            match rng.next() % 3 {
                0 => line[i] = rng.next() as u8,
                1 => {
                    line.remove(i);
                }
                _ => line.insert(i, b"{}[]\",:0\\"[(rng.next() % 9) as usize]),
            }
        }
        let _ = parse(&line);
        let random: Vec<u8> = (0..rng.next() % 64).map(|_| rng.next() as u8).collect();
        let _ = parse(&random);
    }
}

#[test]
fn line_reader_bounds_lines_and_keeps_partial_input() {
    let mut r = LineReader::new();
    let mut input = std::io::Cursor::new(b"ab\r\ncd".to_vec());
    assert_eq!(r.next_line(&mut input).unwrap(), Line::Full(b"ab".to_vec()));
    assert_eq!(r.next_line(&mut input).unwrap(), Line::Eof);
    let mut big = vec![b'x'; MAX_LINE + 10];
    big.push(b'\n');
    big.extend_from_slice(b"ok\n");
    let mut input = BufReader::with_capacity(1000, std::io::Cursor::new(big));
    let mut r = LineReader::new();
    assert_eq!(r.next_line(&mut input).unwrap(), Line::TooLong);
    assert!(r.pending_len() <= MAX_LINE + 1);
    let exact = vec![b'y'; MAX_LINE];
    let mut input = std::io::Cursor::new([exact.clone(), b"\n".to_vec()].concat());
    assert_eq!(
        LineReader::new().next_line(&mut input).unwrap(),
        Line::Full(exact)
    );
}

#[test]
fn version_rolling_helpers() {
    assert_eq!(
        roll_version(0x2000_0000, 0xffff_ffff, VERSION_ROLLING_MASK),
        0x3fff_e000
    );
    assert_eq!(deposit(0b101, 0x0000_e000), 0xa000);
    assert_eq!(
        parse_url("stratum+tcp://127.0.0.1:3333").unwrap(),
        "127.0.0.1:3333"
    );
    assert!(parse_url("http://x").is_err());
}

/// A hand-driven stratum client on a raw socket.
struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
    id: u64,
}

impl Raw {
    fn connect(pool: &Pool) -> Raw {
        let s = TcpStream::connect(pool.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
            id: 0,
        }
    }
    fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }
    /// Sends a request and returns its response, collecting notifications seen meanwhile.
    fn call(&mut self, method: &str, params: Value, seen: &mut Vec<Value>) -> Value {
        self.id += 1;
        let line = request(json!(self.id), method, params);
        self.send_raw(line.as_bytes());
        loop {
            let v = self.read();
            if v["id"] == json!(self.id) {
                return v;
            }
            seen.push(v);
        }
    }
    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or(Value::Null)
    }
    /// Reads until a `mining.notify`, returning it and the last difficulty set before it.
    fn next_notify(&mut self, seen: &mut Vec<Value>, difficulty: &mut f64) -> Job {
        loop {
            let v = seen
                .drain(..1.min(seen.len()))
                .next()
                .unwrap_or_else(|| self.read());
            if v["method"] == "mining.set_difficulty" {
                *difficulty = v["params"][0].as_f64().unwrap();
            }
            if v["method"] == "mining.notify" {
                return Job::from_notify(v["params"].as_array().unwrap()).unwrap();
            }
        }
    }
}

/// A share difficulty whose shares take ~4096 hashes (quick to find with the reference).
const EASY: f64 = 1.0 / 1048576.0;

fn fixed_pool(d: f64) -> Pool {
    Pool::start(PoolConfig::loopback(DiffMode::Fixed(d))).unwrap()
}

/// Subscribes and authorises `user`; returns extranonce1 and the first job.
fn login(c: &mut Raw, user: &str) -> (Vec<u8>, Job, f64) {
    let mut seen = Vec::new();
    let sub = c.call("mining.subscribe", json!(["test/1"]), &mut seen);
    let en1 = from_hex(sub["result"][1].as_str().unwrap()).unwrap();
    assert_eq!(sub["result"][2], 4);
    let auth = c.call("mining.authorize", json!([user, "x"]), &mut seen);
    assert_eq!(auth["result"], true);
    let mut d = 0.0;
    let job = c.next_notify(&mut seen, &mut d);
    (en1, job, d)
}

/// Nonces from 0 whose header meets (`meets`) or misses the target.
fn find_nonce(job: &Job, en1: &[u8], en2: &[u8], target: &Target, meets: bool) -> u32 {
    (0u32..)
        .find(|&n| {
            let h = job.header(&ShareParts {
                extranonce1: en1,
                extranonce2: en2,
                ntime: job.ntime,
                nonce: n,
                version: job.version,
            });
            target.is_met_by(&sha256d(h.as_bytes())) == meets
        })
        .unwrap()
}

fn submit_params(user: &str, job: &Job, en2: &[u8], nonce: u32) -> Value {
    json!([
        user,
        job.id,
        to_hex(en2),
        format!("{:08x}", job.ntime),
        format!("{nonce:08x}")
    ])
}

#[test]
fn pool_verifies_shares_and_counts_each_rejection_by_reason() {
    let mut pool = fixed_pool(EASY);
    let target = Target::from_share_difficulty(EASY).unwrap();
    let mut c = Raw::connect(&pool);
    let mut seen = Vec::new();
    // Before subscribing: refused.
    let early = c.call(
        "mining.submit",
        json!(["u", "1", "00000000", "00000000", "00000000"]),
        &mut seen,
    );
    assert_eq!(early["error"][0], 25);
    let (en1, job, d) = login(&mut c, "u");
    assert_eq!(d, EASY);
    assert!(job.clean);
    let en2 = [0, 0, 0, 7];
    let good = find_nonce(&job, &en1, &en2, &target, true);
    let ok = c.call(
        "mining.submit",
        submit_params("u", &job, &en2, good),
        &mut seen,
    );
    assert_eq!(ok["result"], true, "{ok}");
    let dup = c.call(
        "mining.submit",
        submit_params("u", &job, &en2, good),
        &mut seen,
    );
    assert_eq!(dup["error"][0], 22);
    let low = find_nonce(&job, &en1, &en2, &target, false);
    let r = c.call(
        "mining.submit",
        submit_params("u", &job, &en2, low),
        &mut seen,
    );
    assert_eq!(r["error"][0], 23);
    let r = c.call(
        "mining.submit",
        submit_params("someone-else", &job, &en2, good),
        &mut seen,
    );
    assert_eq!(r["error"][0], 24);
    let mut ghost = job.clone();
    ghost.id = "nope".into();
    let r = c.call(
        "mining.submit",
        submit_params("u", &ghost, &en2, good),
        &mut seen,
    );
    assert_eq!(r["error"][0], 21);
    let r = c.call(
        "mining.submit",
        json!(["u", job.id, "00", "00000000", "00000000"]),
        &mut seen,
    );
    assert_eq!(r["error"][0], 20, "extranonce2 of the wrong size");
    let r = c.call("mining.frobnicate", json!([]), &mut seen);
    assert_eq!(r["error"][0], 20);
    // Malformed JSON is answered, and the connection keeps working.
    c.send_raw(b"{not json\n");
    assert_eq!(c.read()["error"][0], 20);
    // A clean switch makes shares of the old job stale.
    pool.switch_job(true);
    let en2b = [0, 0, 0, 8];
    let old = find_nonce(&job, &en1, &en2b, &target, true);
    let r = c.call(
        "mining.submit",
        submit_params("u", &job, &en2b, old),
        &mut seen,
    );
    assert_eq!(r["error"][0], 21);
    assert!(r["error"][1].as_str().unwrap().contains("Stale"));
    let mut d = 0.0;
    let new_job = c.next_notify(&mut seen, &mut d);
    assert!(new_job.clean);
    assert_ne!(new_job.id, job.id);
    let fresh = find_nonce(&new_job, &en1, &en2b, &target, true);
    let r = c.call(
        "mining.submit",
        submit_params("u", &new_job, &en2b, fresh),
        &mut seen,
    );
    assert_eq!(r["result"], true, "{r}");

    let stats = pool.connections();
    assert_eq!(stats.len(), 1);
    let s = &stats[0];
    assert_eq!(s.accepted, 2);
    assert_eq!(s.user.as_deref(), Some("u"));
    assert_eq!(s.agent.as_deref(), Some("test/1"));
    for (reason, n) in [
        ("not_subscribed", 1),
        ("duplicate", 1),
        ("low_difficulty", 1),
        ("unauthorized", 1),
        ("job_not_found", 1),
        ("malformed", 1),
        ("unknown_method", 1),
        ("stale", 1),
    ] {
        assert_eq!(
            s.rejected.get(reason),
            Some(&n),
            "{reason}: {:?}",
            s.rejected
        );
    }
    assert_eq!(s.protocol_errors, 2, "bad JSON and the unknown method");
    assert_eq!(s.shares.len(), 2);
    let per_share = 1.0 / target.hit_probability();
    assert!((s.shares[0].expected_hashes / per_share - 1.0).abs() < 1e-12);
    assert_eq!(s.shares[1].generation, 1);
    assert!(s.notifies.iter().all(|n| n.sent_at.is_some()));
    pool.stop();
}

#[test]
fn version_rolling_is_negotiated_and_checked() {
    let pool = fixed_pool(EASY);
    let target = Target::from_share_difficulty(EASY).unwrap();
    let mut c = Raw::connect(&pool);
    let mut seen = Vec::new();
    let conf = c.call(
        "mining.configure",
        json!([["version-rolling", "minimum-difficulty"], {"version-rolling.mask": "ffffffff"}]),
        &mut seen,
    );
    assert_eq!(conf["result"]["version-rolling"], true);
    assert_eq!(conf["result"]["version-rolling.mask"], "1fffe000");
    assert_eq!(conf["result"]["minimum-difficulty"], false);
    let (en1, job, _) = login(&mut c, "u");
    let en2 = [1, 2, 3, 4];
    let bits = 0x0000_6000;
    let version = roll_version(job.version, bits, VERSION_ROLLING_MASK);
    let nonce = (0u32..)
        .find(|&n| {
            let h = job.header(&ShareParts {
                extranonce1: &en1,
                extranonce2: &en2,
                ntime: job.ntime,
                nonce: n,
                version,
            });
            target.is_met_by(&sha256d(h.as_bytes()))
        })
        .unwrap();
    let mut p = submit_params("u", &job, &en2, nonce);
    p.as_array_mut().unwrap().push(json!(format!("{bits:08x}")));
    assert_eq!(
        c.call("mining.submit", p.clone(), &mut seen)["result"],
        true
    );
    // Bits outside the mask are refused.
    p[5] = json!("00000001");
    assert_eq!(c.call("mining.submit", p, &mut seen)["error"][0], 20);
}

#[test]
fn hostile_connections_are_closed_and_honest_counts_stay_exact() {
    let pool = fixed_pool(1.0 / 65536.0);
    // An oversize line closes that connection.
    let mut big = Raw::connect(&pool);
    big.send_raw(&vec![b'a'; MAX_LINE + 100]);
    let mut buf = String::new();
    assert_eq!(big.r.read_line(&mut buf).unwrap_or(0), 0, "closed: {buf}");
    // A stream of garbage lines closes after the limit of consecutive errors.
    let mut junk = Raw::connect(&pool);
    for _ in 0..40 {
        let _ = junk.w.write_all(b"garbage\n");
    }
    // Half-open: connects and says nothing; a slow one that never reads its notifies.
    let _silent = TcpStream::connect(pool.addr()).unwrap();
    // An honest miner mines meanwhile.
    let stop = AtomicBool::new(false);
    let cfg = MinerConfig {
        url: pool.url(),
        user: "honest".into(),
        password: "x".into(),
        threads: 2,
        backend: Arc::new(crate::pow::sha2_midstate::Sha2Midstate),
        version_rolling: true,
    };
    let t0 = Instant::now();
    let report = std::thread::scope(|s| {
        let h = s.spawn(|| mine(&cfg, &stop, |_| {}));
        while t0.elapsed() < Duration::from_millis(1500) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Wait for the answers to what was submitted, then stop.
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        h.join().unwrap().unwrap()
    });
    let stats = pool.connections();
    let honest = stats
        .iter()
        .find(|s| s.user.as_deref() == Some("honest"))
        .unwrap();
    assert_eq!(honest.rejected_total(), 0, "{:?}", honest.rejected);
    assert!(honest.accepted > 0);
    assert!(honest.accepted <= report.submitted);
    assert_eq!(honest.version_rolling, Some(VERSION_ROLLING_MASK));
    // Shares found vs hashes the miner counted: the hash count and the share count agree
    // (Poisson, generous bound: an exact pool never loses or invents shares).
    let expected = report.hashes as f64
        * Target::from_share_difficulty(1.0 / 65536.0)
            .unwrap()
            .hit_probability();
    let p = crate::report::stats::poisson_two_sided_p(report.submitted, expected);
    assert!(
        p > 1e-6,
        "submitted {} expected {expected}",
        report.submitted
    );
    let oversize = &stats[0];
    assert!(
        oversize.closed.as_deref().unwrap().contains("line over"),
        "{:?}",
        oversize.closed
    );
    let garbage = &stats[1];
    // The closing may race the last reads; give it a moment.
    assert!(garbage.protocol_errors >= 16, "{garbage:?}");
    assert!(
        garbage
            .closed
            .as_deref()
            .unwrap_or("")
            .contains("malformed"),
        "{:?}",
        garbage.closed
    );
}

#[test]
fn vardiff_moves_a_fast_miner_off_a_low_starting_difficulty() {
    let pool = Pool::start(PoolConfig::loopback(DiffMode::Vardiff {
        share_rate: 20.0,
        initial: 1e-6,
    }))
    .unwrap();
    let stop = AtomicBool::new(false);
    let cfg = MinerConfig {
        url: pool.url(),
        user: "v".into(),
        password: "x".into(),
        threads: 1,
        backend: Arc::new(crate::pow::sha2_midstate::Sha2Midstate),
        version_rolling: false,
    };
    let report = std::thread::scope(|s| {
        let h = s.spawn(|| mine(&cfg, &stop, |_| {}));
        std::thread::sleep(Duration::from_millis(2500));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        h.join().unwrap().unwrap()
    });
    let s = &pool.connections()[0];
    assert!(s.difficulty_changes >= 1, "{s:?}");
    assert!(s.difficulty > 1e-6 * 1.5, "{}", s.difficulty);
    assert_eq!(s.rejected_total(), 0, "{:?}", s.rejected);
    // Shares after a difficulty change stand for more hashes each.
    let first = s.shares.first().unwrap().expected_hashes;
    let last = s.shares.last().unwrap().expected_hashes;
    assert!(last > first);
    assert!(report.jobs >= 2);
}

#[test]
fn a_flooding_peer_that_never_reads_is_closed_without_disturbing_an_honest_one() {
    let pool = fixed_pool(EASY);
    let target = Target::from_share_difficulty(EASY).unwrap();
    // The flood: requests as fast as the socket takes them, never reading an answer.
    let flood = TcpStream::connect(pool.addr()).unwrap();
    flood
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let line =
        b"{\"id\":1,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n".repeat(1000);
    let flooder = std::thread::spawn(move || {
        let mut f = flood;
        let t0 = Instant::now();
        // Until the pool closes it (a write then fails) or 20 s pass.
        while t0.elapsed() < Duration::from_secs(20) {
            if f.write_all(&line).is_err() {
                return true;
            }
        }
        false
    });
    // Meanwhile an honest peer submits shares and gets every answer.
    let mut c = Raw::connect(&pool);
    let (en1, job, _) = login(&mut c, "honest");
    let mut seen = Vec::new();
    for i in 0..20u8 {
        let en2 = [0, 0, 1, i];
        let n = find_nonce(&job, &en1, &en2, &target, true);
        let r = c.call(
            "mining.submit",
            submit_params("honest", &job, &en2, n),
            &mut seen,
        );
        assert_eq!(r["result"], true, "{r}");
    }
    assert!(
        flooder.join().unwrap(),
        "the flooding peer was never closed"
    );
    let stats = pool.connections();
    let flood = &stats[0];
    assert!(
        flood
            .closed
            .as_deref()
            .unwrap_or("")
            .contains("does not read"),
        "{:?}",
        flood.closed
    );
    let honest = stats
        .iter()
        .find(|s| s.user.as_deref() == Some("honest"))
        .unwrap();
    assert_eq!((honest.accepted, honest.rejected_total()), (20, 0));
}
