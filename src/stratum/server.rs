//! The loopback pool. One reader and one writer thread per connection (a slow or hostile peer
//! stalls only its own threads), a bounded outgoing queue and a bounded line reader (memory per
//! connection is bounded), every share rebuilt and hashed with the reference SHA-256d.
//!
//! The pool keeps, per connection, what a measurement needs: every accepted share with its time
//! and the hashes it stands for, rejections by reason, and when each job was sent. It does not
//! turn them into rates: `run/external.rs` and `cmd/pool.rs` do.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde_json::{json, Value};

use super::job::{roll_version, Job, JobMaker, ShareParts, VERSION_ROLLING_MASK};
use super::protocol::{self, from_hex, u32_from_hex, Line, LineReader, Message, Reject};
use super::vardiff::Vardiff;
use crate::pow::reference::sha256d;
use crate::pow::Target;

/// Jobs a connection may still submit to (older ones answer "job not found").
const JOBS_KEPT: usize = 32;
/// Lines queued for a peer that does not read; one more closes the connection.
const OUT_QUEUE: usize = 4096;
/// Consecutive malformed lines before a connection is closed.
const MAX_CONSECUTIVE_ERRORS: u32 = 16;
/// Distinct share headers remembered per connection for duplicate detection (cleared at each
/// clean job switch, when every older share is stale anyway).
const MAX_SEEN: usize = 1 << 20;
/// Accepted-share events kept per connection (about 40 MB at most).
const MAX_EVENTS: usize = 1 << 20;
/// How often a reader wakes without input (idle timeout, vardiff).
const POLL: Duration = Duration::from_millis(100);
/// A submitted ntime may run this far past the job's (as Bitcoin allows two hours).
const NTIME_AHEAD: u32 = 7200;

/// How the pool sets share difficulty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiffMode {
    /// Every job at this difficulty.
    Fixed(f64),
    /// Vardiff aiming at `share_rate` shares per second, starting at `initial`.
    Vardiff { share_rate: f64, initial: f64 },
}

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub listen: SocketAddr,
    pub difficulty: DiffMode,
    pub extranonce2_size: usize,
    /// Seed of the job maker (jobs are reproducible).
    pub seed: u64,
    /// Transactions besides the coinbase: the merkle branch length.
    pub branch_len: usize,
    /// A connection that sends nothing this long is closed.
    pub idle_timeout: Duration,
    /// Open connections at most; more are accepted and closed at once (counted).
    pub max_connections: usize,
}

impl PoolConfig {
    pub fn loopback(difficulty: DiffMode) -> PoolConfig {
        PoolConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            difficulty,
            extranonce2_size: 4,
            seed: 0x6d69_6e65,
            branch_len: 3,
            idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
        }
    }
}

/// See [`Pool::live_view`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConnLive {
    pub index: u64,
    pub user: Option<String>,
    pub accepted: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    /// Σ 2^32 × difficulty over accepted shares: the hashes the shares stand for.
    pub work: f64,
    pub difficulty: f64,
}

/// An accepted share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShareEvent {
    pub at: Instant,
    /// Hashes the share stands for on average: `1 / P(hash ≤ share target)`.
    pub expected_hashes: f64,
    pub difficulty: f64,
    /// The job generation (bumped by each clean switch) the share was for.
    pub generation: u64,
}

/// A job sent to a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyEvent {
    pub job_id: String,
    pub generation: u64,
    pub clean: bool,
    /// When the line was written to the socket (None: queued, not written yet).
    pub sent_at: Option<Instant>,
}

/// What the pool knows of one connection (a copy: [`Pool::connections`]).
#[derive(Debug, Clone, Default)]
pub struct ConnStats {
    pub index: u64,
    pub peer: Option<SocketAddr>,
    pub opened_at: Option<Instant>,
    /// The first authorised worker name.
    pub user: Option<String>,
    /// `mining.subscribe`'s first param (the miner's name and version, by convention).
    pub agent: Option<String>,
    pub extranonce1: String,
    pub version_rolling: Option<u32>,
    pub accepted: u64,
    pub rejected: BTreeMap<&'static str, u64>,
    /// Malformed lines, oversize lines and unknown methods.
    pub protocol_errors: u64,
    pub difficulty: f64,
    pub difficulty_changes: u64,
    /// Σ expected hashes of every accepted share (kept even past [`MAX_EVENTS`]).
    pub work_total: f64,
    /// Why the connection closed; None while open.
    pub closed: Option<String>,
    pub shares: Vec<ShareEvent>,
    pub notifies: Vec<NotifyEvent>,
    /// Share events dropped past [`MAX_EVENTS`].
    pub events_dropped: u64,
}

impl ConnStats {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
    /// Σ expected hashes of the accepted shares.
    pub fn work(&self) -> f64 {
        self.work_total
    }
}

/// Pool-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolTotals {
    pub connections: u64,
    pub open: u64,
    pub refused: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub protocol_errors: u64,
}

struct Issued {
    job: Arc<Job>,
    generation: u64,
    target: Target,
    difficulty: f64,
}

struct ConnState {
    stats: ConnStats,
    subscribed: bool,
    extranonce1: [u8; 4],
    authorized: Vec<String>,
    jobs: VecDeque<Issued>,
    seen: HashSet<[u8; 32]>,
    vardiff: Option<Vardiff>,
    consecutive_errors: u32,
}

struct Conn {
    out: Sender<Out>,
    closed: AtomicBool,
    /// Taken (and so closed, once the reader and writer threads have dropped their clones) when
    /// the connection closes: a peer still writing then gets a reset instead of a sink.
    stream: Mutex<Option<TcpStream>>,
    state: Mutex<ConnState>,
}

enum Out {
    Line(String),
    Notify { line: String, job_id: String },
}

struct Book {
    maker: JobMaker,
    current: Arc<Job>,
    generation: u64,
}

struct Shared {
    cfg: PoolConfig,
    stop: AtomicBool,
    book: Mutex<Book>,
    conns: Mutex<Vec<Arc<Conn>>>,
    refused: AtomicU64,
    next_index: AtomicU64,
    epoch: Instant,
}

/// A running pool; dropping it stops it.
pub struct Pool {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in one connection's thread must not take the pool down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    /// Binds `cfg.listen` and starts accepting.
    pub fn start(cfg: PoolConfig) -> std::io::Result<Pool> {
        let listener = TcpListener::bind(cfg.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let ntime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1_700_000_000);
        let mut maker = JobMaker::new(cfg.seed, cfg.branch_len, 4 + cfg.extranonce2_size, ntime);
        let current = Arc::new(maker.next(true));
        let shared = Arc::new(Shared {
            cfg,
            stop: AtomicBool::new(false),
            book: Mutex::new(Book {
                maker,
                current,
                generation: 0,
            }),
            conns: Mutex::new(Vec::new()),
            refused: AtomicU64::new(0),
            next_index: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("pool-accept".into())
            .spawn(move || accept_loop(listener, s))?;
        Ok(Pool {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `stratum+tcp://host:port`.
    pub fn url(&self) -> String {
        format!("stratum+tcp://{}", self.addr)
    }

    /// Sends every authorised connection a new job; `clean` voids the older ones (their shares
    /// are then rejected as stale). Returns when the job was queued to all of them.
    pub fn switch_job(&self, clean: bool) -> Instant {
        let (job, generation) = {
            let mut book = lock(&self.shared.book);
            if clean {
                book.generation += 1;
            }
            let job = Arc::new(book.maker.next(clean));
            book.current = job.clone();
            (job, book.generation)
        };
        let at = Instant::now();
        for conn in lock(&self.shared.conns).iter() {
            if conn.closed.load(Ordering::SeqCst) {
                continue;
            }
            let mut st = lock(&conn.state);
            if st.subscribed && !st.authorized.is_empty() {
                if clean {
                    st.seen.clear();
                }
                send_job(conn, &mut st, job.clone(), generation);
            }
        }
        at
    }

    /// A copy of every connection's statistics, in the order they connected.
    pub fn connections(&self) -> Vec<ConnStats> {
        lock(&self.shared.conns)
            .iter()
            .map(|c| lock(&c.state).stats.clone())
            .collect()
    }

    /// Counts only (cheap: for a live line).
    pub fn totals(&self) -> PoolTotals {
        let conns = lock(&self.shared.conns);
        let mut t = PoolTotals {
            connections: conns.len() as u64,
            refused: self.shared.refused.load(Ordering::Relaxed),
            ..PoolTotals::default()
        };
        for c in conns.iter() {
            let st = lock(&c.state);
            if st.stats.closed.is_none() {
                t.open += 1;
            }
            t.accepted += st.stats.accepted;
            t.rejected += st.stats.rejected_total();
            t.protocol_errors += st.stats.protocol_errors;
        }
        t
    }

    /// Per connection: rejections by reason (cheap: for a live line).
    pub fn connections_counts(&self) -> Vec<BTreeMap<&'static str, u64>> {
        lock(&self.shared.conns)
            .iter()
            .map(|c| lock(&c.state).stats.rejected.clone())
            .collect()
    }

    /// Per connection, what live metrics show (cheap: no share list is copied).
    pub fn live_view(&self) -> Vec<ConnLive> {
        lock(&self.shared.conns)
            .iter()
            .map(|c| {
                let st = lock(&c.state);
                ConnLive {
                    index: st.stats.index,
                    user: st.stats.user.clone(),
                    accepted: st.stats.accepted,
                    rejected: st.stats.rejected.clone(),
                    work: st.stats.work(),
                    difficulty: st.stats.difficulty,
                }
            })
            .collect()
    }

    /// Per connection: index, accepted shares and Σ expected hashes (cheap: for a live line).
    pub fn work_by_connection(&self) -> Vec<(u64, u64, f64)> {
        lock(&self.shared.conns)
            .iter()
            .map(|c| {
                let st = lock(&c.state);
                (st.stats.index, st.stats.accepted, st.stats.work())
            })
            .collect()
    }

    /// Stops accepting, closes every connection and waits for the acceptor.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for c in lock(&self.shared.conns).iter() {
            close(c, "pool stopped");
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let open = lock(&shared.conns)
                    .iter()
                    .filter(|c| !c.closed.load(Ordering::SeqCst))
                    .count();
                if open >= shared.cfg.max_connections {
                    shared.refused.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.shutdown(Shutdown::Both);
                    continue;
                }
                if let Err(e) = start_connection(&shared, stream, peer) {
                    crate::note!("pool: cannot serve {peer}: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn start_connection(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let index = shared.next_index.fetch_add(1, Ordering::Relaxed);
    // Distinct per connection: the index, mixed so neighbours differ in every byte.
    let extranonce1 = ((index as u32).wrapping_mul(0x9e37_79b9) ^ 0x5bd1_e995).to_be_bytes();
    let (tx, rx) = crossbeam_channel::bounded(OUT_QUEUE);
    let (difficulty, vardiff) = match shared.cfg.difficulty {
        DiffMode::Fixed(d) => (d, None),
        DiffMode::Vardiff {
            share_rate,
            initial,
        } => {
            let v = Vardiff::new(share_rate, initial, shared.epoch.elapsed().as_secs_f64());
            (v.difficulty(), Some(v))
        }
    };
    let conn = Arc::new(Conn {
        out: tx,
        closed: AtomicBool::new(false),
        stream: Mutex::new(Some(stream.try_clone()?)),
        state: Mutex::new(ConnState {
            stats: ConnStats {
                index,
                peer: Some(peer),
                opened_at: Some(Instant::now()),
                extranonce1: crate::pow::header::to_hex(&extranonce1),
                difficulty,
                ..ConnStats::default()
            },
            subscribed: false,
            extranonce1,
            authorized: Vec::new(),
            jobs: VecDeque::new(),
            seen: HashSet::new(),
            vardiff,
            consecutive_errors: 0,
        }),
    });
    let writer_stream = stream.try_clone()?;
    let (c1, c2) = (conn.clone(), conn.clone());
    let s1 = shared.clone();
    std::thread::Builder::new()
        .name(format!("pool-w{index}"))
        .spawn(move || write_loop(writer_stream, rx, c1))?;
    std::thread::Builder::new()
        .name(format!("pool-r{index}"))
        .spawn(move || read_loop(stream, c2, s1))?;
    let mut conns = lock(&shared.conns);
    conns.push(conn);
    Ok(())
}

fn close(conn: &Conn, why: &str) {
    if !conn.closed.swap(true, Ordering::SeqCst) {
        let mut st = lock(&conn.state);
        if st.stats.closed.is_none() {
            st.stats.closed = Some(why.to_string());
        }
        drop(st);
        if let Some(s) = lock(&conn.stream).take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn enqueue(conn: &Conn, out: Out) {
    match conn.out.try_send(out) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => close(conn, "peer does not read (outgoing queue full)"),
        Err(TrySendError::Disconnected(_)) => close(conn, "writer gone"),
    }
}

fn write_loop(mut stream: TcpStream, rx: Receiver<Out>, conn: Arc<Conn>) {
    loop {
        let out = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(o) => o,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if conn.closed.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        };
        let (line, job) = match out {
            Out::Line(l) => (l, None),
            Out::Notify { line, job_id } => (line, Some(job_id)),
        };
        if let Err(e) = stream.write_all(line.as_bytes()) {
            close(&conn, &format!("write failed: {e}"));
            return;
        }
        if let Some(job_id) = job {
            let now = Instant::now();
            let mut st = lock(&conn.state);
            if let Some(n) = st
                .stats
                .notifies
                .iter_mut()
                .rev()
                .find(|n| n.job_id == job_id)
            {
                n.sent_at = Some(now);
            }
        }
    }
}

/// Records and queues `job` for this connection at its current difficulty (a
/// `mining.set_difficulty` first when the difficulty changed since the last one sent).
fn send_job(conn: &Conn, st: &mut ConnState, job: Arc<Job>, generation: u64) {
    let difficulty = st.stats.difficulty;
    let target = match Target::from_share_difficulty(difficulty) {
        Ok(t) => t,
        Err(_) => Target::MAX,
    };
    if st.jobs.back().is_none_or(|j| j.difficulty != difficulty) {
        enqueue(
            conn,
            Out::Line(protocol::request(
                Value::Null,
                "mining.set_difficulty",
                json!([difficulty]),
            )),
        );
    }
    let mut sent = (*job).clone();
    if st.jobs.is_empty() {
        // The first job a connection gets voids whatever it had.
        sent.clean = true;
    }
    let line = protocol::request(Value::Null, "mining.notify", sent.notify_params());
    st.stats.notifies.push(NotifyEvent {
        job_id: job.id.clone(),
        generation,
        clean: sent.clean,
        sent_at: None,
    });
    if st.stats.notifies.len() > MAX_EVENTS {
        st.stats.notifies.remove(0);
    }
    st.jobs.push_back(Issued {
        job: job.clone(),
        generation,
        target,
        difficulty,
    });
    while st.jobs.len() > JOBS_KEPT {
        st.jobs.pop_front();
    }
    enqueue(
        conn,
        Out::Notify {
            line,
            job_id: job.id.clone(),
        },
    );
}

fn read_loop(stream: TcpStream, conn: Arc<Conn>, shared: Arc<Shared>) {
    let mut reader = BufReader::with_capacity(8192, stream);
    let mut lines = LineReader::new();
    let mut last_input = Instant::now();
    loop {
        if shared.stop.load(Ordering::SeqCst) || conn.closed.load(Ordering::SeqCst) {
            break;
        }
        match lines.next_line(&mut reader) {
            Ok(Line::Full(line)) => {
                last_input = Instant::now();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                handle_line(&conn, &shared, &line);
            }
            Ok(Line::Pending) => {
                if last_input.elapsed() > shared.cfg.idle_timeout {
                    close(&conn, "idle timeout");
                }
            }
            Ok(Line::Eof) => close(&conn, "peer closed the connection"),
            Ok(Line::TooLong) => {
                lock(&conn.state).stats.protocol_errors += 1;
                close(
                    &conn,
                    &format!("line over {} bytes without a newline", protocol::MAX_LINE),
                );
            }
            Err(e) => close(&conn, &format!("read failed: {e}")),
        }
        retarget(&conn, &shared);
    }
    close(&conn, "pool stopped");
}

fn retarget(conn: &Conn, shared: &Shared) {
    let now = shared.epoch.elapsed().as_secs_f64();
    let mut st = lock(&conn.state);
    if st.authorized.is_empty() {
        return;
    }
    let Some(v) = st.vardiff.as_mut() else { return };
    let Some(d) = v.retarget(now) else { return };
    st.stats.difficulty = d;
    st.stats.difficulty_changes += 1;
    // A fresh job carries the new difficulty (miners apply set_difficulty at the next notify).
    let (job, generation) = {
        let mut book = lock(&shared.book);
        (Arc::new(book.maker.next(false)), book.generation)
    };
    send_job(conn, &mut st, job, generation);
}

fn handle_line(conn: &Conn, shared: &Shared, line: &[u8]) {
    let msg = match protocol::parse(line) {
        Ok(m) => m,
        Err(e) => {
            let mut st = lock(&conn.state);
            st.stats.protocol_errors += 1;
            st.consecutive_errors += 1;
            let too_many = st.consecutive_errors >= MAX_CONSECUTIVE_ERRORS;
            drop(st);
            enqueue(
                conn,
                Out::Line(protocol::response(
                    &Value::Null,
                    Value::Null,
                    json!([20, format!("Parse error: {e}"), null]),
                )),
            );
            if too_many {
                close(conn, "too many malformed lines in a row");
            }
            return;
        }
    };
    let Message::Request { id, method, params } = msg else {
        return; // a response to something we asked: nothing to do
    };
    let mut st = lock(&conn.state);
    st.consecutive_errors = 0;
    let reply = |result: Value, error: Value| protocol::response(&id, result, error);
    let out = match method.as_str() {
        "mining.subscribe" => {
            st.subscribed = true;
            if st.stats.agent.is_none() {
                st.stats.agent = params
                    .first()
                    .and_then(Value::as_str)
                    .map(|s| s.chars().take(200).collect());
            }
            let sid = format!("{:x}", st.stats.index);
            reply(
                json!([
                    [["mining.set_difficulty", sid], ["mining.notify", sid]],
                    st.stats.extranonce1,
                    shared.cfg.extranonce2_size
                ]),
                Value::Null,
            )
        }
        "mining.authorize" => {
            if !st.subscribed {
                reject(&mut st, Reject::NotSubscribed);
                reply(Value::Null, Reject::NotSubscribed.to_error(None))
            } else {
                let user = params
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect::<String>();
                let first = st.authorized.is_empty();
                if !st.authorized.contains(&user) && st.authorized.len() < 64 {
                    st.authorized.push(user.clone());
                }
                if st.stats.user.is_none() {
                    st.stats.user = Some(user);
                }
                enqueue(conn, Out::Line(reply(Value::Bool(true), Value::Null)));
                if first {
                    let (job, generation) = {
                        let book = lock(&shared.book);
                        (book.current.clone(), book.generation)
                    };
                    send_job(conn, &mut st, job, generation);
                }
                return;
            }
        }
        "mining.configure" => reply(configure(&mut st, &params), Value::Null),
        "mining.extranonce.subscribe" | "mining.suggest_difficulty" | "mining.suggest_target" => {
            reply(Value::Bool(true), Value::Null)
        }
        "mining.get_transactions" => reply(json!([]), Value::Null),
        "mining.submit" => match submit(&mut st, &params, shared) {
            Ok(()) => reply(Value::Bool(true), Value::Null),
            Err((r, detail)) => {
                reject(&mut st, r);
                // JSON-RPC 1.0: `result` is null when `error` is set.
                reply(Value::Null, r.to_error(detail.as_deref()))
            }
        },
        _ => {
            st.stats.protocol_errors += 1;
            reject(&mut st, Reject::UnknownMethod);
            reply(Value::Null, Reject::UnknownMethod.to_error(Some(&method)))
        }
    };
    drop(st);
    enqueue(conn, Out::Line(out));
}

fn reject(st: &mut ConnState, r: Reject) {
    *st.stats.rejected.entry(r.name()).or_insert(0) += 1;
}

/// BIP 310: version rolling within our mask; other extensions declined.
fn configure(st: &mut ConnState, params: &[Value]) -> Value {
    let mut result = serde_json::Map::new();
    let names: Vec<&str> = params
        .first()
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let opts = params.get(1).and_then(Value::as_object);
    for name in names {
        if name == "version-rolling" {
            let asked = opts
                .and_then(|o| o.get("version-rolling.mask"))
                .and_then(Value::as_str)
                .and_then(u32_from_hex)
                .unwrap_or(u32::MAX);
            let mask = asked & VERSION_ROLLING_MASK;
            st.stats.version_rolling = Some(mask);
            result.insert("version-rolling".into(), Value::Bool(true));
            result.insert("version-rolling.mask".into(), json!(format!("{mask:08x}")));
        } else {
            result.insert(name.to_string(), Value::Bool(false));
        }
    }
    Value::Object(result)
}

type SubmitError = (Reject, Option<String>);

fn submit(st: &mut ConnState, params: &[Value], shared: &Shared) -> Result<(), SubmitError> {
    if !st.subscribed {
        return Err((Reject::NotSubscribed, None));
    }
    let bad = |what: &str| (Reject::Malformed, Some(what.to_string()));
    if params.len() < 5 || params.len() > 6 {
        return Err(bad("mining.submit takes 5 or 6 params"));
    }
    let text = |i: usize, what: &str| params[i].as_str().ok_or_else(|| bad(what));
    let worker = text(0, "worker name is not a string")?;
    if !st.authorized.iter().any(|w| w == worker) {
        return Err((Reject::Unauthorized, None));
    }
    let job_id = text(1, "job id is not a string")?;
    let extranonce2 = from_hex(text(2, "extranonce2 is not a string")?)
        .filter(|e| e.len() == shared.cfg.extranonce2_size)
        .ok_or_else(|| {
            bad(&format!(
                "extranonce2 must be {} bytes of hex",
                shared.cfg.extranonce2_size
            ))
        })?;
    let ntime = u32_from_hex(text(3, "ntime is not a string")?)
        .ok_or_else(|| bad("ntime is not 8 hex digits"))?;
    let nonce = u32_from_hex(text(4, "nonce is not a string")?)
        .ok_or_else(|| bad("nonce is not 8 hex digits"))?;
    let Some(issued) = st.jobs.iter().find(|j| j.job.id == job_id) else {
        return Err((Reject::JobNotFound, None));
    };
    let current_generation = lock(&shared.book).generation;
    if issued.generation < current_generation {
        return Err((Reject::Stale, None));
    }
    let job = &issued.job;
    let version = match params.get(5) {
        None => job.version,
        Some(v) => {
            let bits = v
                .as_str()
                .and_then(u32_from_hex)
                .ok_or_else(|| bad("version bits are not 8 hex digits"))?;
            let mask = st
                .stats
                .version_rolling
                .ok_or_else(|| bad("version bits without mining.configure version-rolling"))?;
            if bits & !mask != 0 {
                return Err(bad("version bits outside the negotiated mask"));
            }
            roll_version(job.version, bits, mask)
        }
    };
    if ntime < job.ntime || ntime > job.ntime.saturating_add(NTIME_AHEAD) {
        return Err(bad("ntime outside the job's time .. +2 h"));
    }
    let header = job.header(&ShareParts {
        extranonce1: &st.extranonce1,
        extranonce2: &extranonce2,
        ntime,
        nonce,
        version,
    });
    let hash = sha256d(header.as_bytes());
    if st.seen.contains(&hash) {
        return Err((Reject::Duplicate, None));
    }
    if !issued.target.is_met_by(&hash) {
        return Err((Reject::LowDifficulty, None));
    }
    let expected_hashes = 1.0 / issued.target.hit_probability();
    let (difficulty, generation) = (issued.difficulty, issued.generation);
    if st.seen.len() >= MAX_SEEN {
        st.seen.clear();
    }
    st.seen.insert(hash);
    st.stats.accepted += 1;
    st.stats.work_total += expected_hashes;
    if st.stats.shares.len() < MAX_EVENTS {
        st.stats.shares.push(ShareEvent {
            at: Instant::now(),
            expected_hashes,
            difficulty,
            generation,
        });
    } else {
        st.stats.events_dropped += 1;
    }
    if let Some(v) = st.vardiff.as_mut() {
        v.on_share(expected_hashes);
    }
    Ok(())
}
