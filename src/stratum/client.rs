//! A blocking stratum v1 client and a small miner on any minebench backend: `minebench mine`.
//! It is the pool's first peer in the tests and a Rust miner measured black-box like any other
//! (it counts its own hashes, an independent measure of the rate the pool derives from shares).
//!
//! Each worker hashes its own extranonce2 (worker index in the top byte, a roll counter below),
//! so no two workers ever hash the same header; a worker that exhausts the 2^32 nonces of one
//! rolls its extranonce2 and never rehashes a header.

use std::io::{BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::job::{roll_version, Job, ShareParts};
use super::protocol::{self, from_hex, Line, LineReader, Message};
use crate::pow::{verify_hits, Backend, NonceRange, Target, Work};

/// Nonces per backend call: a job switch is seen within one batch.
pub const BATCH: u64 = 1 << 16;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("pool URL {0:?}: expected stratum+tcp://HOST:PORT")]
    Url(String),
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error("pool {0}")]
    Protocol(String),
    #[error("connection to the pool lost: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Backend(#[from] crate::pow::BackendError),
}

/// `host:port` from `stratum+tcp://host:port` (or a bare `host:port`).
pub fn parse_url(url: &str) -> Result<String, ClientError> {
    let rest = url.strip_prefix("stratum+tcp://").unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(rest.to_string())
        }
        _ => Err(ClientError::Url(url.to_string())),
    }
}

#[derive(Clone)]
pub struct MinerConfig {
    pub url: String,
    pub user: String,
    pub password: String,
    pub threads: usize,
    pub backend: Arc<dyn Backend>,
    /// Ask for BIP 310 version rolling and roll version bits instead of extranonce2 first.
    pub version_rolling: bool,
}

/// What a mining session did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinerReport {
    /// Hashes the workers did (their own count).
    pub hashes: u64,
    pub elapsed: Duration,
    pub submitted: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub jobs: u64,
}

/// The job workers hash, with what the session negotiated.
struct Current {
    job: Job,
    target: Target,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    version_mask: Option<u32>,
    epoch: u64,
}

struct SessionState {
    current: RwLock<Option<Arc<Current>>>,
    epoch: AtomicU64,
    hashes: AtomicU64,
    submitted: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    jobs: AtomicU64,
    writer: Mutex<TcpStream>,
    next_id: AtomicU64,
    failed: Mutex<Option<String>>,
}

impl SessionState {
    fn send(&self, method: &str, params: Value) -> std::io::Result<u64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let line = protocol::request(json!(id), method, params);
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(line.as_bytes())?;
        Ok(id)
    }
}

/// Connects, subscribes, authorises and mines until `stop` is set or the pool goes away; prints
/// nothing (the caller reports). `progress` is called about once a second with the hashes so far.
pub fn mine(
    cfg: &MinerConfig,
    stop: &AtomicBool,
    mut progress: impl FnMut(&MinerReport),
) -> Result<MinerReport, ClientError> {
    let addr = parse_url(&cfg.url)?;
    let connect_err = |source| ClientError::Connect {
        url: cfg.url.clone(),
        source,
    };
    let sock = addr
        .to_socket_addrs()
        .map_err(connect_err)?
        .next()
        .ok_or_else(|| ClientError::Url(cfg.url.clone()))?;
    let stream = TcpStream::connect_timeout(&sock, Duration::from_secs(10)).map_err(|source| {
        ClientError::Connect {
            url: cfg.url.clone(),
            source,
        }
    })?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let state = Arc::new(SessionState {
        current: RwLock::new(None),
        epoch: AtomicU64::new(0),
        hashes: AtomicU64::new(0),
        submitted: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        jobs: AtomicU64::new(0),
        writer: Mutex::new(stream.try_clone()?),
        next_id: AtomicU64::new(1),
        failed: Mutex::new(None),
    });
    let configure_id = if cfg.version_rolling {
        Some(state.send(
            "mining.configure",
            json!([["version-rolling"], {"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 2}]),
        )?)
    } else {
        None
    };
    let subscribe_id = state.send("mining.subscribe", json!(["minebench-mine/0.1"]))?;
    state.send("mining.authorize", json!([cfg.user, cfg.password]))?;

    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for index in 0..cfg.threads {
        let (state, done, backend, user) = (
            state.clone(),
            done.clone(),
            cfg.backend.clone(),
            cfg.user.clone(),
        );
        workers.push(
            std::thread::Builder::new()
                .name(format!("mine-w{index}"))
                .spawn(move || worker(index, &state, &done, backend.as_ref(), &user))?,
        );
    }

    let mut reader = BufReader::new(stream);
    let mut lines = LineReader::new();
    let mut session = Negotiated {
        extranonce1: None,
        extranonce2_size: 4,
        version_mask: None,
        difficulty: 1.0,
    };
    let mut last_progress = Instant::now();
    let result = loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        if let Some(why) = state
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            break Err(ClientError::Protocol(why));
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            progress(&report(&state, started));
        }
        match lines.next_line(&mut reader) {
            Ok(Line::Full(line)) => {
                if let Err(why) = on_line(&line, &state, &mut session, subscribe_id, configure_id) {
                    break Err(ClientError::Protocol(why));
                }
            }
            Ok(Line::Pending) => {}
            Ok(Line::Eof) => break Err(ClientError::Protocol("closed the connection".into())),
            Ok(Line::TooLong) => {
                break Err(ClientError::Protocol("sent a line over 64 KiB".into()))
            }
            Err(e) => break Err(ClientError::Io(e)),
        }
    };
    done.store(true, Ordering::SeqCst);
    let mut worker_error = None;
    for w in workers {
        if let Ok(Err(e)) = w.join() {
            worker_error = Some(e);
        }
    }
    if let Some(e) = worker_error {
        return Err(e);
    }
    let elapsed = started.elapsed();
    // Stopped by the caller: wait (up to 2 s) for the answers to the shares already submitted,
    // so the accepted count is the pool's.
    if result.is_ok() {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let answered =
                state.accepted.load(Ordering::Relaxed) + state.rejected.load(Ordering::Relaxed);
            if answered >= state.submitted.load(Ordering::Relaxed) {
                break;
            }
            match lines.next_line(&mut reader) {
                Ok(Line::Full(line)) => {
                    let _ = on_line(&line, &state, &mut session, subscribe_id, configure_id);
                }
                Ok(Line::Pending) => {}
                _ => break,
            }
        }
    }
    result.map(|()| MinerReport {
        elapsed,
        ..report(&state, started)
    })
}

struct Negotiated {
    extranonce1: Option<Vec<u8>>,
    extranonce2_size: usize,
    version_mask: Option<u32>,
    difficulty: f64,
}

fn report(state: &SessionState, started: Instant) -> MinerReport {
    MinerReport {
        hashes: state.hashes.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        submitted: state.submitted.load(Ordering::Relaxed),
        accepted: state.accepted.load(Ordering::Relaxed),
        rejected: state.rejected.load(Ordering::Relaxed),
        jobs: state.jobs.load(Ordering::Relaxed),
    }
}

fn on_line(
    line: &[u8],
    state: &SessionState,
    s: &mut Negotiated,
    subscribe_id: u64,
    configure_id: Option<u64>,
) -> Result<(), String> {
    let msg = protocol::parse(line).map_err(|e| format!("sent a bad line: {e}"))?;
    match msg {
        Message::Response { id, result, error } => {
            let id = id.as_u64().unwrap_or(0);
            if id == subscribe_id {
                let en1 = result
                    .get(1)
                    .and_then(Value::as_str)
                    .and_then(from_hex)
                    .ok_or("answered mining.subscribe without an extranonce1")?;
                let size = result
                    .get(2)
                    .and_then(Value::as_u64)
                    .filter(|&n| (1..=8).contains(&n))
                    .ok_or("answered mining.subscribe without an extranonce2 size in 1..=8")?;
                s.extranonce1 = Some(en1);
                s.extranonce2_size = size as usize;
            } else if Some(id) == configure_id {
                if result.get("version-rolling").and_then(Value::as_bool) == Some(true) {
                    s.version_mask = result
                        .get("version-rolling.mask")
                        .and_then(Value::as_str)
                        .and_then(protocol::u32_from_hex);
                }
            } else if id == subscribe_id + 1 {
                if result.as_bool() != Some(true) {
                    return Err(format!("refused mining.authorize: {error}"));
                }
            } else if result.as_bool() == Some(true) {
                state.accepted.fetch_add(1, Ordering::Relaxed);
            } else {
                state.rejected.fetch_add(1, Ordering::Relaxed);
            }
        }
        Message::Request { method, params, .. } => match method.as_str() {
            "mining.set_difficulty" => {
                if let Some(d) = params.first().and_then(Value::as_f64).filter(|d| *d > 0.0) {
                    s.difficulty = d;
                }
            }
            "mining.notify" => {
                let job = Job::from_notify(&params)?;
                let en1 = s
                    .extranonce1
                    .clone()
                    .ok_or("sent mining.notify before answering mining.subscribe")?;
                let target = Target::from_share_difficulty(s.difficulty)
                    .map_err(|e| format!("set an unusable difficulty: {e}"))?;
                let epoch = state.epoch.load(Ordering::SeqCst) + 1;
                let cur = Arc::new(Current {
                    job,
                    target,
                    extranonce1: en1,
                    extranonce2_size: s.extranonce2_size,
                    version_mask: s.version_mask,
                    epoch,
                });
                *state.current.write().unwrap_or_else(|e| e.into_inner()) = Some(cur);
                state.epoch.store(epoch, Ordering::SeqCst);
                state.jobs.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        },
    }
    Ok(())
}

fn worker(
    index: usize,
    state: &SessionState,
    done: &AtomicBool,
    backend: &dyn Backend,
    user: &str,
) -> Result<(), ClientError> {
    let mut hits = Vec::new();
    let mut roll: u64 = 0;
    while !done.load(Ordering::SeqCst) {
        let cur = state
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(cur) = cur else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        // This worker's extranonce2: index in the top byte, the roll counter below.
        let size = cur.extranonce2_size;
        let value = ((index as u64) << (8 * size - 8)) | (roll & ((1u64 << (8 * size - 8)) - 1));
        roll += 1;
        let en2 = value.to_be_bytes()[8 - size..].to_vec();
        let root = cur.job.merkle_root(&cur.extranonce1, &en2);
        // With version rolling negotiated, the roll counter also goes into the version bits.
        let version = match cur.version_mask {
            Some(mask) if mask != 0 => roll_version(cur.job.version, deposit(roll, mask), mask),
            _ => cur.job.version,
        };
        let work = Work::new(
            cur.job.header_with_root(&root, version, cur.job.ntime, 0),
            cur.target,
        );
        let mut start: u64 = 0;
        while start < 1 << 32 {
            if done.load(Ordering::Relaxed) || state.epoch.load(Ordering::Relaxed) != cur.epoch {
                break;
            }
            let count = BATCH.min((1 << 32) - start);
            let range = NonceRange::new(start as u32, count)
                .map_err(|e| ClientError::Protocol(format!("internal: {e}")))?;
            hits.clear();
            let n = backend.scan(&work, range, &mut hits);
            state.hashes.fetch_add(n, Ordering::Relaxed);
            verify_hits(backend.name(), &work, range, &hits)?;
            for hit in &hits {
                let mut params = vec![
                    json!(user),
                    json!(cur.job.id),
                    json!(crate::pow::header::to_hex(&en2)),
                    json!(format!("{:08x}", cur.job.ntime)),
                    json!(format!("{:08x}", hit.nonce)),
                ];
                if let Some(mask) = cur.version_mask.filter(|&m| m != 0) {
                    params.push(json!(format!("{:08x}", version & mask)));
                }
                debug_assert!(cur.target.is_met_by(&crate::pow::reference::sha256d(
                    cur.job
                        .header(&ShareParts {
                            extranonce1: &cur.extranonce1,
                            extranonce2: &en2,
                            ntime: cur.job.ntime,
                            nonce: hit.nonce,
                            version,
                        })
                        .as_bytes()
                )));
                if let Err(e) = state.send("mining.submit", Value::Array(params)) {
                    *state.failed.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(format!("submit failed: {e}"));
                    return Ok(());
                }
                state.submitted.fetch_add(1, Ordering::Relaxed);
            }
            start += count;
        }
    }
    Ok(())
}

/// The low bits of `value` spread into the set bits of `mask`, lowest first (what x86's `pdep`
/// does).
pub fn deposit(mut value: u64, mask: u32) -> u32 {
    let mut out = 0u32;
    for bit in 0..32 {
        if mask & (1 << bit) != 0 {
            if value & 1 == 1 {
                out |= 1 << bit;
            }
            value >>= 1;
        }
    }
    out
}
