//! A stratum v1 job feed for `run --pool`: the cases of a run take their jobs from a real pool.
//!
//! Owns: one connection to the pool (subscribe, BIP 310 version rolling when the pool agrees,
//! authorize), the latest job with the difficulty that applies to it, the extranonce2 space
//! (each header hashed in this process gets an extranonce2, or rolled version bits, never used
//! before), share submission and the pool's answers, reconnects. Must not: hash or time cases
//! (that is `run/`); it hands the session new jobs through a [`JobSink`].
//!
//! How a notify becomes work: the reader thread parses `mining.notify`, builds the job's first
//! header (coinbase = coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2, merkle root up the branch)
//! and calls the attached sink at once, with the instant the line was read off the socket: a
//! session's job-switch latency is measured from there to each worker's first batch of the job.
//! A session that exhausts a header's 2^32 nonces calls the job's [`Roller`], which takes the
//! next extranonce2 (or, with version rolling negotiated, the next version bits): no header is
//! ever hashed twice. `mining.set_difficulty` applies from the next notify (as cpuminer does).
//!
//! Failures: a pool that closes the connection, sends a bad line or stays silent for
//! `stall_timeout` is reconnected with backoff (1, 2, 4 s); `client.reconnect` is honoured. When
//! every attempt fails the feed is dead and says why ([`Feed::failure`]); the run fails the case.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::client::{deposit, parse_url};
use super::job::{roll_version, Job};
use super::protocol::{self, from_hex, Line, LineReader, Message};
use crate::pow::{Header, Target, Work};
use crate::probe::latency;
use crate::sched::{FoundHit, Roller};

/// Where to mine and as whom.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    /// `stratum+tcp://host:port`.
    pub url: String,
    pub user: String,
    pub password: String,
    /// Connecting and the first job must take less than this.
    pub connect_timeout: Duration,
    /// No line from the pool for this long: reconnect.
    pub stall_timeout: Duration,
    /// Reconnect attempts after a drop before the feed gives up (waits 1, 2, 4, … s).
    pub reconnect_attempts: u32,
}

impl FeedConfig {
    pub fn new(url: &str, user: &str, password: &str) -> FeedConfig {
        FeedConfig {
            url: url.to_string(),
            user: user.to_string(),
            password: password.to_string(),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(120),
            reconnect_attempts: 3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Client(#[from] super::client::ClientError),
    #[error("pool {url}: {message}")]
    Pool { url: String, message: String },
}

/// A job as the feed hands it to a session.
#[derive(Debug)]
pub struct PoolJob {
    /// Grows by one with every notify the feed accepted (over reconnects too).
    pub generation: u64,
    pub job: Job,
    pub difficulty: f64,
    pub target: Target,
    /// When its notify line was read off the socket.
    pub arrived: Instant,
    /// The connection it came on (1, 2, … over reconnects): shares of an older one are not sent.
    pub connection: u64,
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    version_mask: Option<u32>,
}

/// Called by the reader thread with each new job, its first header's work and its roller (see
/// [`Feed::attach`]).
pub type JobSink = Box<dyn Fn(&Arc<PoolJob>, Work, Roller) + Send>;

/// How to submit a share found on one header.
#[derive(Debug, Clone)]
struct ShareCtx {
    job_id: String,
    extranonce2: Vec<u8>,
    ntime: u32,
    /// The version bits to send (`Some` when version rolling was negotiated).
    version_bits: Option<u32>,
    connection: u64,
    difficulty: f64,
}

/// See [`Feed::peek`].
#[derive(Debug, Clone, Default)]
pub struct FeedPeek {
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    pub difficulty: f64,
    pub last_ping_ns: Option<u64>,
    pub connected_at: Option<Instant>,
    pub reconnects: u64,
}

/// What the pool did with the shares of one stretch of mining (see [`Feed::take_stats`]).
#[derive(Debug, Clone)]
pub struct FeedStats {
    pub submitted: u64,
    pub accepted: u64,
    /// By the pool's reason (`stale`, `duplicate`, `low_difficulty`, `job_not_found`, …, or the
    /// pool's own text for codes it does not share with ours).
    pub rejected: BTreeMap<String, u64>,
    /// Submitted but never answered (by the end of the stretch plus a settling wait).
    pub unanswered: u64,
    /// Found on a connection that had been replaced before they could be sent.
    pub not_sent: u64,
    /// Submit → answer, one record per answered share (ns).
    pub submit_latency_ns: Histogram<u64>,
    pub jobs: u64,
    pub clean_jobs: u64,
    /// Difficulties in force, in the order they came (the first is the one at the start).
    pub difficulties: Vec<f64>,
    pub reconnects: u64,
    /// Σ 2^32 × difficulty over accepted shares: the work the pool credits.
    pub accepted_work: f64,
}

impl FeedStats {
    fn new(difficulty: Option<f64>) -> FeedStats {
        FeedStats {
            submitted: 0,
            accepted: 0,
            rejected: BTreeMap::new(),
            unanswered: 0,
            not_sent: 0,
            submit_latency_ns: latency::new_histogram(),
            jobs: 0,
            clean_jobs: 0,
            difficulties: difficulty.into_iter().collect(),
            reconnects: 0,
            accepted_work: 0.0,
        }
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

struct Negotiated {
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    version_mask: Option<u32>,
}

struct State {
    negotiated: Option<Negotiated>,
    /// The latest `mining.set_difficulty`; applies from the next notify.
    difficulty: f64,
    job: Option<Arc<PoolJob>>,
    generation: u64,
    connection: u64,
    /// Why the feed is dead (every reconnect failed); None while it works.
    failure: Option<String>,
    /// Submit id → (sent at, difficulty of the share).
    pending: HashMap<u64, (Instant, f64)>,
    stats: FeedStats,
    sink: Option<JobSink>,
    /// Sees each submit → answer time (ns) as it is measured (live metrics).
    latency_tap: Option<Box<dyn Fn(u64) + Send>>,
    /// The latest submit → answer time.
    last_ping_ns: Option<u64>,
    connected_at: Option<Instant>,
    /// Ids of our own requests on the current connection.
    subscribe_id: u64,
    authorize_id: u64,
    configure_id: u64,
    authorized: bool,
}

struct Shared {
    cfg: FeedConfig,
    state: Mutex<State>,
    changed: Condvar,
    writer: Mutex<Option<TcpStream>>,
    next_id: AtomicU64,
    /// The next extranonce2 value, run-wide: no header is built twice in this process.
    next_extranonce2: AtomicU64,
    /// Header bytes 0..76 → how to submit a share on that header.
    shares: Mutex<HashMap<[u8; 76], ShareCtx>>,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running job feed; dropping it closes the connection.
pub struct Feed {
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("url", &self.shared.cfg.url)
            .finish()
    }
}

impl Feed {
    /// Connects, subscribes, authorises and waits for the first job (all within
    /// `cfg.connect_timeout`).
    pub fn connect(cfg: FeedConfig) -> Result<Feed, FeedError> {
        parse_url(&cfg.url)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                negotiated: None,
                difficulty: 1.0,
                job: None,
                generation: 0,
                connection: 0,
                failure: None,
                pending: HashMap::new(),
                stats: FeedStats::new(None),
                sink: None,
                latency_tap: None,
                last_ping_ns: None,
                connected_at: None,
                subscribe_id: 0,
                authorize_id: 0,
                configure_id: 0,
                authorized: false,
            }),
            changed: Condvar::new(),
            writer: Mutex::new(None),
            next_id: AtomicU64::new(1),
            next_extranonce2: AtomicU64::new(0),
            shares: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            cfg,
        });
        let url = shared.cfg.url.clone();
        let pool_err = |message: String| FeedError::Pool {
            url: url.clone(),
            message,
        };
        let stream = open(&shared).map_err(|e| pool_err(e.to_string()))?;
        let reader = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("mb-pool-feed".into())
                .spawn(move || read_loop(&shared, stream))
                .map_err(|e| pool_err(format!("cannot start the reader thread: {e}")))?
        };
        let feed = Feed {
            shared,
            reader: Some(reader),
        };
        // The first job.
        let deadline = Instant::now() + feed.shared.cfg.connect_timeout;
        let mut state = lock(&feed.shared.state);
        loop {
            if let Some(why) = &state.failure {
                return Err(pool_err(why.clone()));
            }
            if state.job.is_some() && state.authorized {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                let what = if state.job.is_none() {
                    "sent no mining.notify"
                } else {
                    "did not answer mining.authorize"
                };
                return Err(pool_err(format!(
                    "{what} within {:?} of connecting",
                    feed.shared.cfg.connect_timeout
                )));
            }
            state = feed
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(state);
        Ok(feed)
    }

    pub fn url(&self) -> &str {
        &self.shared.cfg.url
    }

    pub fn user(&self) -> &str {
        &self.shared.cfg.user
    }

    /// The latest job, or why there is none (the feed is dead).
    pub fn latest(&self) -> Result<Arc<PoolJob>, String> {
        let state = lock(&self.shared.state);
        if let Some(why) = &state.failure {
            return Err(why.clone());
        }
        state
            .job
            .clone()
            .ok_or_else(|| "the pool has sent no job".to_string())
    }

    /// Why the feed stopped working, if it did.
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared.state).failure.clone()
    }

    /// The pool's current share difficulty (the one the latest job carries).
    pub fn difficulty(&self) -> Option<f64> {
        lock(&self.shared.state).job.as_ref().map(|j| j.difficulty)
    }

    /// Routes every later job to `sink`, from the reader thread, the moment it arrives; returns
    /// the latest job at the time of attaching (so a caller that started on an older one can
    /// switch to it). `None` detaches.
    pub fn attach(&self, sink: Option<JobSink>) -> Option<Arc<PoolJob>> {
        let mut state = lock(&self.shared.state);
        state.sink = sink;
        state.job.clone()
    }

    /// The first header of `job` (a fresh extranonce2) and how the job rolls after it.
    pub fn work_for(&self, job: &Arc<PoolJob>) -> (Work, Roller) {
        work_for(&self.shared, job)
    }

    /// Routes every submit → answer time (ns) to `tap` as well; `None` stops.
    pub fn set_latency_tap(&self, tap: Option<Box<dyn Fn(u64) + Send>>) {
        lock(&self.shared.state).latency_tap = tap;
    }

    /// The counts so far in this stretch (see [`Feed::take_stats`]) without resetting them.
    pub fn peek(&self) -> FeedPeek {
        let state = lock(&self.shared.state);
        FeedPeek {
            accepted: state.stats.accepted,
            rejected: state.stats.rejected.clone(),
            difficulty: state
                .job
                .as_ref()
                .map_or(state.difficulty, |j| j.difficulty),
            last_ping_ns: state.last_ping_ns,
            connected_at: state.connected_at,
            reconnects: state.stats.reconnects,
        }
    }

    /// Sends `hit` to the pool (the caller has re-verified it with the reference). Returns
    /// false when the hit cannot be sent: its header is not one this feed built, or its
    /// connection was replaced (counted as `not_sent`).
    pub fn submit(&self, hit: &FoundHit) -> bool {
        let mut key = [0u8; 76];
        key.copy_from_slice(&hit.header.as_bytes()[..76]);
        let Some(ctx) = lock(&self.shared.shares).get(&key).cloned() else {
            return false;
        };
        let mut state = lock(&self.shared.state);
        if ctx.connection != state.connection || state.failure.is_some() {
            state.stats.not_sent += 1;
            return false;
        }
        let mut params = vec![
            json!(self.shared.cfg.user),
            json!(ctx.job_id),
            json!(crate::pow::header::to_hex(&ctx.extranonce2)),
            json!(format!("{:08x}", ctx.ntime)),
            json!(format!("{:08x}", hit.hit.nonce)),
        ];
        if let Some(bits) = ctx.version_bits {
            params.push(json!(format!("{bits:08x}")));
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        state.pending.insert(id, (Instant::now(), ctx.difficulty));
        state.stats.submitted += 1;
        drop(state);
        let line = protocol::request(json!(id), "mining.submit", Value::Array(params));
        let mut w = lock(&self.shared.writer);
        match w.as_mut().map(|s| s.write_all(line.as_bytes())) {
            Some(Ok(())) => true,
            // The reader sees the broken connection and reconnects; the share stays unanswered.
            _ => false,
        }
    }

    /// Waits up to `settle` for answers to the shares in flight, then returns what happened
    /// since the last call and starts counting afresh. Shares still unanswered are counted as
    /// such and forgotten (a late answer is ignored).
    pub fn take_stats(&self, settle: Duration) -> FeedStats {
        let deadline = Instant::now() + settle;
        let mut state = lock(&self.shared.state);
        while !state.pending.is_empty() && state.failure.is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let unanswered = state.pending.len() as u64;
        state.pending.clear();
        let difficulty = state.job.as_ref().map(|j| j.difficulty);
        let mut stats = std::mem::replace(&mut state.stats, FeedStats::new(difficulty));
        stats.unanswered += unanswered;
        stats
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(s) = lock(&self.shared.writer).as_ref() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

fn work_for(shared: &Arc<Shared>, job: &Arc<PoolJob>) -> (Work, Roller) {
    let header = build_header(shared, job);
    let roller = {
        let shared = Arc::clone(shared);
        let job = Arc::clone(job);
        Roller::new(move |_| build_header(&shared, &job))
    };
    (Work::new(header, job.target), roller)
}

/// A header of `job` never built before: the next extranonce2 (or version bits), recorded so a
/// share on it can be submitted.
fn build_header(shared: &Shared, job: &PoolJob) -> Header {
    let n = shared.next_extranonce2.fetch_add(1, Ordering::Relaxed);
    let size = job.extranonce2_size;
    let (en2_value, version) = match job.version_mask.filter(|&m| m != 0) {
        // Version rolling: 2^popcount(mask) headers per extranonce2 before it moves on.
        Some(mask) => {
            let per = 1u64 << mask.count_ones().min(32);
            let bits = deposit(n % per, mask);
            (n / per, roll_version(job.job.version, bits, mask))
        }
        None => (n, job.job.version),
    };
    let en2_bytes = en2_value.to_be_bytes();
    let extranonce2 = en2_bytes[8 - size.min(8)..].to_vec();
    let root = job.job.merkle_root(&job.extranonce1, &extranonce2);
    let header = job.job.header_with_root(&root, version, job.job.ntime, 0);
    let mut key = [0u8; 76];
    key.copy_from_slice(&header.as_bytes()[..76]);
    lock(&shared.shares).insert(
        key,
        ShareCtx {
            job_id: job.job.id.clone(),
            extranonce2,
            ntime: job.job.ntime,
            version_bits: job.version_mask.map(|m| version & m),
            connection: job.connection,
            difficulty: job.difficulty,
        },
    );
    header
}

/// Connects and sends configure, subscribe and authorize; returns the stream to read.
fn open(shared: &Shared) -> Result<TcpStream, String> {
    let addr = parse_url(&shared.cfg.url).map_err(|e| e.to_string())?;
    connect_to(shared, &addr)
}

fn connect_to(shared: &Shared, addr: &str) -> Result<TcpStream, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {addr}"))?;
    let stream = TcpStream::connect_timeout(&sock, shared.cfg.connect_timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let setup = |stream: &TcpStream| -> std::io::Result<TcpStream> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_millis(100)))?;
        stream.try_clone()
    };
    let writer = setup(&stream).map_err(|e| format!("socket setup: {e}"))?;
    let mut state = lock(&shared.state);
    state.connection += 1;
    state.connected_at = Some(Instant::now());
    state.negotiated = None;
    state.authorized = false;
    state.pending.clear();
    let next = || shared.next_id.fetch_add(1, Ordering::Relaxed);
    state.configure_id = next();
    state.subscribe_id = next();
    state.authorize_id = next();
    let lines = [
        protocol::request(
            json!(state.configure_id),
            "mining.configure",
            json!([["version-rolling"], {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}]),
        ),
        protocol::request(
            json!(state.subscribe_id),
            "mining.subscribe",
            json!([concat!("minebench/", env!("CARGO_PKG_VERSION"))]),
        ),
        protocol::request(
            json!(state.authorize_id),
            "mining.authorize",
            json!([shared.cfg.user, shared.cfg.password]),
        ),
    ];
    drop(state);
    let mut w = lock(&shared.writer);
    *w = Some(writer);
    for line in lines {
        if let Some(s) = w.as_mut() {
            s.write_all(line.as_bytes())
                .map_err(|e| format!("cannot write to {addr}: {e}"))?;
        }
    }
    Ok(stream)
}

/// Why a connection ended.
enum Ended {
    Stopped,
    /// Reconnect to this address (after the wait) — `client.reconnect`.
    Redirect(String, Duration),
    Lost(String),
}

fn read_loop(shared: &Arc<Shared>, mut stream: TcpStream) {
    loop {
        let ended = read_connection(shared, &stream);
        let (mut target, mut wait, why) = match ended {
            Ended::Stopped => return,
            Ended::Redirect(addr, wait) => (addr, wait, "asked to reconnect".to_string()),
            Ended::Lost(why) => (
                parse_url(&shared.cfg.url).unwrap_or_default(),
                Duration::from_secs(1),
                why,
            ),
        };
        let mut attempt = 0;
        let mut last = why.clone();
        stream = loop {
            if attempt >= shared.cfg.reconnect_attempts.max(1) {
                let mut state = lock(&shared.state);
                state.failure = Some(format!(
                    "{why}; {attempt} reconnect attempts failed (last: {last})"
                ));
                shared.changed.notify_all();
                return;
            }
            attempt += 1;
            let until = Instant::now() + wait;
            while Instant::now() < until {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            match connect_to(shared, &target) {
                Ok(s) => {
                    lock(&shared.state).stats.reconnects += 1;
                    break s;
                }
                Err(e) => last = e,
            }
            wait *= 2;
            target = parse_url(&shared.cfg.url).unwrap_or_default();
        };
    }
}

fn read_connection(shared: &Arc<Shared>, stream: &TcpStream) -> Ended {
    let mut reader = BufReader::new(stream);
    let mut lines = LineReader::new();
    let mut last_line = Instant::now();
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ended::Stopped;
        }
        if last_line.elapsed() > shared.cfg.stall_timeout {
            return Ended::Lost(format!(
                "the pool sent nothing for {:?}",
                shared.cfg.stall_timeout
            ));
        }
        match lines.next_line(&mut reader) {
            Ok(Line::Full(line)) => {
                let at = Instant::now();
                last_line = at;
                match on_line(shared, &line, at) {
                    Ok(None) => {}
                    Ok(Some(ended)) => return ended,
                    Err(why) => return Ended::Lost(why),
                }
            }
            Ok(Line::Pending) => {}
            Ok(Line::Eof) => return Ended::Lost("the pool closed the connection".into()),
            Ok(Line::TooLong) => return Ended::Lost("the pool sent a line over 64 KiB".into()),
            Err(e) => return Ended::Lost(format!("connection to the pool lost: {e}")),
        }
    }
}

fn on_line(shared: &Arc<Shared>, line: &[u8], at: Instant) -> Result<Option<Ended>, String> {
    let msg = protocol::parse(line).map_err(|e| format!("the pool sent a bad line: {e}"))?;
    let mut state = lock(&shared.state);
    match msg {
        Message::Response { id, result, error } => {
            let Some(id) = id.as_u64() else {
                return Ok(None);
            };
            if id == state.subscribe_id {
                let en1 = result.get(1).and_then(Value::as_str).and_then(from_hex);
                let size = result
                    .get(2)
                    .and_then(Value::as_u64)
                    .filter(|&n| (1..=8).contains(&n));
                let (Some(extranonce1), Some(size)) = (en1, size) else {
                    return Err(format!(
                        "the pool answered mining.subscribe without an extranonce1 and an \
                         extranonce2 size in 1..=8: {result} {error}"
                    ));
                };
                let version_mask = state.negotiated.as_ref().and_then(|n| n.version_mask);
                state.negotiated = Some(Negotiated {
                    extranonce1,
                    extranonce2_size: size as usize,
                    version_mask,
                });
            } else if id == state.configure_id {
                let mask = (result.get("version-rolling").and_then(Value::as_bool) == Some(true))
                    .then(|| {
                        result
                            .get("version-rolling.mask")
                            .and_then(Value::as_str)
                            .and_then(protocol::u32_from_hex)
                    })
                    .flatten()
                    .filter(|&m| m != 0);
                match state.negotiated.as_mut() {
                    Some(n) => n.version_mask = mask,
                    None => {
                        state.negotiated = mask.map(|m| Negotiated {
                            extranonce1: Vec::new(),
                            extranonce2_size: 0,
                            version_mask: Some(m),
                        })
                    }
                }
            } else if id == state.authorize_id {
                if result.as_bool() != Some(true) {
                    let why = format!("the pool refused mining.authorize: {error}");
                    state.failure = Some(why.clone());
                    shared.changed.notify_all();
                    return Ok(Some(Ended::Stopped));
                }
                state.authorized = true;
                shared.changed.notify_all();
            } else if let Some((sent, difficulty)) = state.pending.remove(&id) {
                let ns = at.saturating_duration_since(sent).as_nanos() as u64;
                let h = &mut state.stats.submit_latency_ns;
                let _ = h.record(ns.clamp(1, h.high()));
                state.last_ping_ns = Some(ns);
                if let Some(tap) = &state.latency_tap {
                    tap(ns);
                }
                if result.as_bool() == Some(true) {
                    state.stats.accepted += 1;
                    state.stats.accepted_work += difficulty * 4_294_967_296.0;
                } else {
                    *state
                        .stats
                        .rejected
                        .entry(reject_reason(&error))
                        .or_default() += 1;
                }
                shared.changed.notify_all();
            }
        }
        Message::Request { method, params, .. } => match method.as_str() {
            "mining.set_difficulty" => {
                let d = params
                    .first()
                    .and_then(Value::as_f64)
                    .filter(|d| d.is_finite() && *d > 0.0)
                    .ok_or_else(|| {
                        format!("the pool sent an unusable mining.set_difficulty: {params:?}")
                    })?;
                state.difficulty = d;
            }
            "mining.notify" => {
                let job = Job::from_notify(&params)
                    .map_err(|e| format!("the pool sent a bad mining.notify: {e}"))?;
                let n = state.negotiated.as_ref().filter(|n| n.extranonce2_size > 0);
                let Some((extranonce1, extranonce2_size, version_mask)) =
                    n.map(|n| (n.extranonce1.clone(), n.extranonce2_size, n.version_mask))
                else {
                    return Err("the pool sent mining.notify before answering subscribe".into());
                };
                let target = Target::from_share_difficulty(state.difficulty)
                    .map_err(|e| format!("the pool set an unusable difficulty: {e}"))?;
                state.generation += 1;
                let job = Arc::new(PoolJob {
                    generation: state.generation,
                    difficulty: state.difficulty,
                    target,
                    arrived: at,
                    connection: state.connection,
                    extranonce1,
                    extranonce2_size,
                    version_mask,
                    job,
                });
                state.stats.jobs += 1;
                state.stats.clean_jobs += u64::from(job.job.clean);
                if state.stats.difficulties.last() != Some(&job.difficulty) {
                    state.stats.difficulties.push(job.difficulty);
                }
                state.job = Some(Arc::clone(&job));
                if let Some(sink) = &state.sink {
                    let (work, roller) = work_for(shared, &job);
                    sink(&job, work, roller);
                }
                shared.changed.notify_all();
            }
            "client.reconnect" => {
                let host = params
                    .first()
                    .and_then(Value::as_str)
                    .filter(|h| !h.is_empty());
                let port = params.get(1).and_then(|p| {
                    p.as_u64()
                        .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
                });
                let wait = params.get(2).and_then(Value::as_u64).unwrap_or(0).min(60);
                let current = parse_url(&shared.cfg.url).unwrap_or_default();
                let (cur_host, cur_port) = current.rsplit_once(':').unwrap_or(("", ""));
                let addr = format!(
                    "{}:{}",
                    host.unwrap_or(cur_host),
                    port.map_or(cur_port.to_string(), |p| p.to_string())
                );
                return Ok(Some(Ended::Redirect(addr, Duration::from_secs(wait))));
            }
            _ => {}
        },
    }
    Ok(None)
}

/// The reason name for a rejected share: ours for the usual codes, else the pool's text.
fn reject_reason(error: &Value) -> String {
    let code = error
        .get(0)
        .and_then(Value::as_i64)
        .or_else(|| error.get("code").and_then(Value::as_i64));
    if let Some(r) = protocol::Reject::ALL
        .iter()
        .find(|r| Some(r.code()) == code)
    {
        return r.name().to_string();
    }
    let text = error
        .get(1)
        .or_else(|| error.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::pow::sha2_midstate::Sha2Midstate;
    use crate::pow::{scan_verified, NonceRange};
    use crate::stratum::job::JobMaker;
    use crate::stratum::server::{DiffMode, Pool, PoolConfig};

    fn quick(url: &str) -> FeedConfig {
        FeedConfig {
            connect_timeout: Duration::from_secs(5),
            ..FeedConfig::new(url, "tester", "x")
        }
    }

    /// Hashes `n` nonces of `work` and returns its hits as a session would publish them.
    fn hits_of(work: &Work, n: u64) -> Vec<FoundHit> {
        let scanned = scan_verified(&Sha2Midstate, work, NonceRange::new(0, n).unwrap()).unwrap();
        scanned
            .hits
            .into_iter()
            .map(|hit| FoundHit {
                hit,
                job: 0,
                extranonce: 0,
                header: work.header,
                target: work.target,
                at: Instant::now(),
                worker: 0,
            })
            .collect()
    }

    fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn shares_on_the_first_and_rolled_headers_are_accepted_by_a_validating_pool() {
        // 1/4096: a share per ~2^20 hashes.
        let pool = Pool::start(PoolConfig::loopback(DiffMode::Fixed(1.0 / 4096.0))).unwrap();
        let feed = Feed::connect(quick(&format!("stratum+tcp://{}", pool.addr()))).unwrap();
        let job = feed.latest().unwrap();
        assert_eq!(
            job.version_mask,
            Some(0x1fff_e000),
            "our pool agrees to version rolling"
        );
        let (work, roller) = feed.work_for(&job);
        let mut headers = Vec::new();
        let mut submitted = 0;
        let mut all = Vec::new();
        for k in 0..4u64 {
            let header = if k == 0 { work.header } else { roller.roll(k) };
            headers.push(header);
            let w = Work::new(header, work.target);
            for hit in hits_of(&w, 1 << 21) {
                assert!(feed.submit(&hit));
                submitted += 1;
                all.push(hit);
            }
        }
        headers.sort_by_key(|h| *h.as_bytes());
        headers.dedup();
        assert_eq!(
            headers.len(),
            4,
            "every roll is a header never built before"
        );
        assert!(submitted > 0);
        let stats = feed.take_stats(Duration::from_secs(5));
        assert_eq!(stats.submitted, submitted);
        assert_eq!(stats.accepted, submitted, "{:?}", stats.rejected);
        assert_eq!(stats.rejected_total(), 0);
        assert_eq!(stats.submit_latency_ns.len(), submitted);
        assert_eq!(pool.totals().accepted, submitted);
        // A hit on a header this feed never built cannot be submitted.
        let foreign = FoundHit {
            header: Header::synthetic(5),
            ..all[0].clone()
        };
        assert!(!feed.submit(&foreign));
    }

    /// A pool whose connections each run `script` (connection index from 0) after the
    /// handshake; returns its URL and how many connections it accepted.
    fn scripted(
        script: impl Fn(usize, &mut Peer) + Send + Sync + 'static,
    ) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("stratum+tcp://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&count);
        let script = Arc::new(script);
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                accepted.fetch_add(1, Ordering::SeqCst);
                let script = Arc::clone(&script);
                std::thread::spawn(move || {
                    let mut peer = Peer::new(stream, i);
                    if peer.handshake() {
                        script(i, &mut peer);
                    }
                });
            }
        });
        (url, count)
    }

    struct Peer {
        reader: std::io::BufReader<TcpStream>,
        writer: TcpStream,
        jobs: JobMaker,
        index: usize,
        authorize: bool,
    }

    impl Peer {
        fn new(stream: TcpStream, index: usize) -> Peer {
            Peer {
                writer: stream.try_clone().unwrap(),
                reader: std::io::BufReader::new(stream),
                jobs: JobMaker::new(index as u64 + 1, 2, 8, 0x6600_0000),
                index,
                authorize: true,
            }
        }

        fn read(&mut self) -> Option<Value> {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(n) if n > 0 => serde_json::from_str(&line).ok(),
                _ => None,
            }
        }

        fn send(&mut self, v: Value) {
            let _ = self.writer.write_all(format!("{v}\n").as_bytes());
        }

        /// Answers configure (no version rolling), subscribe and authorize.
        fn handshake(&mut self) -> bool {
            for _ in 0..3 {
                let Some(req) = self.read() else {
                    return false;
                };
                let id = req["id"].clone();
                let result = match req["method"].as_str() {
                    Some("mining.configure") => json!({"version-rolling": false}),
                    Some("mining.subscribe") => {
                        json!([[], format!("{:08x}", 0xaabb_0000u32 + self.index as u32), 4])
                    }
                    Some("mining.authorize") => json!(self.authorize),
                    _ => json!(null),
                };
                self.send(json!({"id": id, "result": result, "error": null}));
            }
            true
        }

        fn difficulty(&mut self, d: f64) {
            self.send(json!({"id": null, "method": "mining.set_difficulty", "params": [d]}));
        }

        fn notify(&mut self, clean: bool) {
            let params = self.jobs.next(clean).notify_params();
            self.send(json!({"id": null, "method": "mining.notify", "params": params}));
        }

        /// Reads until the feed closes the connection.
        fn drain(&mut self) {
            while self.read().is_some() {}
        }
    }

    #[test]
    fn difficulty_changes_and_clean_jobs_reach_the_sink_in_order() {
        let (url, _) = scripted(|_, p| {
            p.difficulty(0.5);
            p.notify(true);
            std::thread::sleep(Duration::from_millis(200));
            p.difficulty(2.0);
            p.notify(false);
            p.notify(true);
            p.drain();
        });
        let feed = Feed::connect(quick(&url)).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = Arc::clone(&seen);
        let first = feed
            .attach(Some(Box::new(move |job, work, _roller| {
                lock(&sink_seen).push((job.generation, job.difficulty, job.job.clean, work));
            })))
            .unwrap();
        assert_eq!((first.generation, first.difficulty), (1, 0.5));
        assert_eq!(first.version_mask, None, "the pool refused version rolling");
        wait_for("two more jobs", || lock(&seen).len() == 2);
        let seen = lock(&seen).clone();
        assert_eq!(seen[0].0, 2);
        assert_eq!(
            (seen[0].1, seen[0].2),
            (2.0, false),
            "difficulty applies from the next notify"
        );
        assert_eq!((seen[1].0, seen[1].1, seen[1].2), (3, 2.0, true));
        assert_eq!(
            seen[0].3.target,
            Target::from_share_difficulty(2.0).unwrap()
        );
        // Without version rolling, every header of a job differs in its merkle root
        // (extranonce2), never in its version.
        let (work, roller) = feed.work_for(&feed.latest().unwrap());
        let rolled = roller.roll(1);
        assert_eq!(work.header.as_bytes()[..4], rolled.as_bytes()[..4]);
        assert_ne!(work.header.as_bytes()[36..68], rolled.as_bytes()[36..68]);
        let stats = feed.take_stats(Duration::ZERO);
        assert_eq!((stats.jobs, stats.clean_jobs), (3, 2));
        assert_eq!(stats.difficulties, vec![0.5, 2.0]);
    }

    #[test]
    fn a_dropped_connection_a_bad_line_and_a_stall_each_cost_a_reconnect() {
        let (url, conns) = scripted(|i, p| {
            p.difficulty(1.0);
            p.notify(true);
            match i {
                0 => {} // closes at once
                1 => p.send(json!("not a stratum message")),
                2 => std::thread::sleep(Duration::from_secs(3)), // silent: a stall
                _ => p.drain(),
            }
        });
        let cfg = FeedConfig {
            stall_timeout: Duration::from_millis(500),
            ..quick(&url)
        };
        let feed = Feed::connect(cfg).unwrap();
        wait_for("the fourth connection's job", || {
            feed.latest().is_ok_and(|j| j.connection == 4)
        });
        assert_eq!(conns.load(Ordering::SeqCst), 4);
        assert!(feed.failure().is_none());
        assert_eq!(feed.take_stats(Duration::ZERO).reconnects, 3);
    }

    #[test]
    fn a_pool_that_stays_away_fails_the_feed_with_the_reason() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("stratum+tcp://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut p = Peer::new(stream, 0);
            p.handshake();
            p.difficulty(1.0);
            p.notify(true);
            // Connection and listener close: every reconnect is refused.
        });
        let cfg = FeedConfig {
            reconnect_attempts: 1,
            ..quick(&url)
        };
        let feed = Feed::connect(cfg).unwrap();
        wait_for("the feed to give up", || feed.failure().is_some());
        let why = feed.failure().unwrap();
        assert!(
            why.contains("closed the connection") && why.contains("1 reconnect attempts failed"),
            "{why}"
        );
        assert!(feed.latest().is_err());
    }

    #[test]
    fn client_reconnect_moves_to_the_host_and_port_it_names() {
        let (other, other_conns) = scripted(|_, p| {
            p.difficulty(1.0);
            p.notify(true);
            p.drain();
        });
        let port: u16 = other.rsplit_once(':').unwrap().1.parse().unwrap();
        let (url, _) = scripted(move |_, p| {
            p.difficulty(1.0);
            p.notify(true);
            p.send(
                json!({"id": null, "method": "client.reconnect", "params": ["127.0.0.1", port, 0]}),
            );
            p.drain();
        });
        let feed = Feed::connect(quick(&url)).unwrap();
        wait_for("a job from the other pool", || {
            feed.latest().is_ok_and(|j| j.connection == 2)
        });
        assert_eq!(other_conns.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_refused_authorize_or_a_silent_pool_is_a_clear_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("stratum+tcp://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut p = Peer::new(stream.unwrap(), 0);
                p.authorize = false;
                p.handshake();
                p.drain();
            }
        });
        let err = Feed::connect(quick(&url)).unwrap_err().to_string();
        assert!(err.contains("refused mining.authorize"), "{err}");

        let (silent, _) = scripted(|_, p| p.drain());
        let cfg = FeedConfig {
            connect_timeout: Duration::from_millis(300),
            ..quick(&silent)
        };
        let err = Feed::connect(cfg).unwrap_err().to_string();
        assert!(err.contains("sent no mining.notify"), "{err}");
    }
}
