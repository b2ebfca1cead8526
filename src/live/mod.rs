//! Live metrics while a command runs: `/metrics` in the Prometheus text format (through the
//! `prometheus-client` crate) and `/summary` in xmrig's summary vocabulary, served by
//! [`http::Server`] (`run --metrics ADDR`, `pool --metrics ADDR`).
//!
//! Owns: the metric families and the rolling hash-rate windows. Must not: measure anything
//! itself — the run's controller and the workers (through [`crate::sched::Tap`]) push what they
//! already measure; a scrape only reads.
//!
//! Metrics (every one labelled by `case`, the case id of the report):
//! - `minebench_hashes_total{case,worker}` counter: hashes done per worker;
//! - `minebench_shares_total{case,result}` counter: `accepted`, `rejected_<reason>` from a pool,
//!   `found` for verified hits of a case without one;
//! - `minebench_hash_rate{case,window}` gauge, hashes/s over the last `10s`, `60s`, `15m`;
//! - `minebench_job_switch_latency_seconds{case}`, `minebench_batch_latency_seconds{case}`,
//!   `minebench_submit_latency_seconds{case}` histograms;
//! - `minebench_pool_difficulty{case}`, `minebench_case_info{case,backend,scheduler,threads}`
//!   (1 for the running case, 0 after), `minebench_up`.

pub mod http;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::{json, Value};

/// The rate windows, as labelled and as long.
pub const WINDOWS: [(&str, Duration); 3] = [
    ("10s", Duration::from_secs(10)),
    ("60s", Duration::from_secs(60)),
    ("15m", Duration::from_secs(900)),
];
/// Rate points are kept at most this often (and for the longest window).
const POINT_EVERY: Duration = Duration::from_millis(250);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CaseLabel {
    case: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabel {
    case: String,
    worker: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    case: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WindowLabel {
    case: String,
    window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabel {
    case: String,
    backend: String,
    scheduler: String,
    threads: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// 1 µs .. ~67 s in factors of 2.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-6, 2.0, 27))
}

/// What the metrics know of one case.
#[derive(Debug, Default)]
struct CaseState {
    /// Last counts pushed, per worker, so counters grow by the difference.
    worker_hashes: Vec<u64>,
    /// (when, total hashes) points for the rate windows.
    points: VecDeque<(Instant, u64)>,
    /// Per worker: points for the per-thread rates of `/summary`.
    worker_points: VecDeque<(Instant, Vec<u64>)>,
    shares: BTreeMap<String, u64>,
    highest: f64,
    started: Option<Instant>,
    info: Option<InfoLabel>,
}

/// The connection part of `/summary`.
#[derive(Debug, Default, Clone)]
pub struct PoolView {
    pub url: String,
    pub connected_at: Option<Instant>,
    pub difficulty: f64,
    pub accepted: u64,
    pub rejected: u64,
    /// The latest submit → answer time.
    pub ping_ms: Option<f64>,
    pub failures: u64,
}

#[derive(Debug, Default)]
struct State {
    cases: BTreeMap<String, CaseState>,
    /// The case being measured now.
    current: Option<String>,
    pool: Option<PoolView>,
}

/// The metrics of one process; share it as `Arc<Live>`.
#[derive(Debug)]
pub struct Live {
    registry: Registry,
    hashes: Family<WorkerLabel, Counter>,
    shares: Family<ResultLabel, Counter>,
    rate: Family<WindowLabel, FloatGauge>,
    job_switch: Family<CaseLabel, Histogram>,
    batch: Family<CaseLabel, Histogram>,
    submit: Family<CaseLabel, Histogram>,
    difficulty: Family<CaseLabel, FloatGauge>,
    info: Family<InfoLabel, Gauge>,
    up: Gauge,
    state: Mutex<State>,
    started: Instant,
    /// `minebench run`, `minebench pool`: what `/summary` says it is.
    kind: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Live {
    pub fn new(kind: &str) -> Live {
        let mut registry = Registry::default();
        let hashes = Family::<WorkerLabel, Counter>::default();
        let shares = Family::<ResultLabel, Counter>::default();
        let rate = Family::<WindowLabel, FloatGauge>::default();
        let job_switch = Family::<CaseLabel, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let batch = Family::<CaseLabel, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let submit = Family::<CaseLabel, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let difficulty = Family::<CaseLabel, FloatGauge>::default();
        let info = Family::<InfoLabel, Gauge>::default();
        let up = Gauge::default();
        registry.register(
            "minebench_hashes",
            "Hashes done, per worker thread of a case",
            hashes.clone(),
        );
        registry.register(
            "minebench_shares",
            "Shares by result: accepted or rejected_<reason> by a pool, found without one",
            shares.clone(),
        );
        registry.register(
            "minebench_hash_rate",
            "Hashes per second over the trailing window",
            rate.clone(),
        );
        registry.register(
            "minebench_job_switch_latency_seconds",
            "From a new job's arrival (a pool's notify read off the socket) to each worker's first batch of it",
            job_switch.clone(),
        );
        registry.register(
            "minebench_batch_latency_seconds",
            "How long each batch's scan took",
            batch.clone(),
        );
        registry.register(
            "minebench_submit_latency_seconds",
            "From mining.submit to the pool's answer",
            submit.clone(),
        );
        registry.register(
            "minebench_pool_difficulty",
            "The pool's share difficulty",
            difficulty.clone(),
        );
        registry.register(
            "minebench_case_info",
            "1 for the case being measured, 0 for the cases before it",
            info.clone(),
        );
        registry.register("minebench_up", "1 while minebench runs", up.clone());
        up.set(1);
        Live {
            registry,
            hashes,
            shares,
            rate,
            job_switch,
            batch,
            submit,
            difficulty,
            info,
            up,
            state: Mutex::new(State::default()),
            started: Instant::now(),
            kind: kind.to_string(),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// A case starts being measured: the earlier one's info goes to 0.
    pub fn begin_case(&self, case: &str, backend: &str, scheduler: &str, threads: usize) {
        let mut state = lock(&self.state);
        if let Some(prev) = state.current.take() {
            self.set_info(&prev, &state, 0);
        }
        state.current = Some(case.to_string());
        let labels = InfoLabel {
            case: case.to_string(),
            backend: backend.to_string(),
            scheduler: scheduler.to_string(),
            threads: threads.to_string(),
        };
        self.info.get_or_create(&labels).set(1);
        let entry = state.cases.entry(case.to_string()).or_default();
        entry.started = Some(Instant::now());
        entry.info = Some(labels);
    }

    fn set_info(&self, case: &str, state: &State, value: i64) {
        if let Some(labels) = state.cases.get(case).and_then(|c| c.info.as_ref()) {
            self.info.get_or_create(labels).set(value);
        }
    }

    /// The case ended (its info goes to 0; its counters stay).
    pub fn end_case(&self, case: &str) {
        let mut state = lock(&self.state);
        if state.current.as_deref() == Some(case) {
            state.current = None;
        }
        self.set_info(case, &state, 0);
    }

    /// The workers' hash counts now (`per_worker[i]` for worker i, counting from the case's
    /// start). Counters grow by the difference; the rate windows get a point.
    pub fn hashes(&self, case: &str, per_worker: &[u64]) {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let c = state.cases.entry(case.to_string()).or_default();
        c.worker_hashes.resize(per_worker.len(), 0);
        for (i, (&now_count, last)) in per_worker
            .iter()
            .zip(c.worker_hashes.iter_mut())
            .enumerate()
        {
            if now_count > *last {
                self.hashes
                    .get_or_create(&WorkerLabel {
                        case: case.to_string(),
                        worker: i.to_string(),
                    })
                    .inc_by(now_count - *last);
                *last = now_count;
            }
        }
        let total: u64 = per_worker.iter().sum();
        if c.points.back().is_some_and(|&(t, _)| now - t < POINT_EVERY) {
            return;
        }
        c.points.push_back((now, total));
        c.worker_points.push_back((now, per_worker.to_vec()));
        let longest = WINDOWS[WINDOWS.len() - 1].1 + POINT_EVERY;
        while c.points.front().is_some_and(|&(t, _)| now - t > longest) {
            c.points.pop_front();
            c.worker_points.pop_front();
        }
        for (label, window) in WINDOWS {
            if let Some(r) = window_rate(&c.points, now, window) {
                self.rate
                    .get_or_create(&WindowLabel {
                        case: case.to_string(),
                        window: label.to_string(),
                    })
                    .set(r);
                if label == "10s" && r > c.highest {
                    c.highest = r;
                }
            }
        }
    }

    /// Share counts now by result (`accepted`, `rejected_stale`, …, `found`): counters grow by
    /// the difference.
    pub fn shares(&self, case: &str, counts: &BTreeMap<String, u64>) {
        let mut state = lock(&self.state);
        let c = state.cases.entry(case.to_string()).or_default();
        for (result, &n) in counts {
            let last = c.shares.entry(result.clone()).or_default();
            if n > *last {
                self.shares
                    .get_or_create(&ResultLabel {
                        case: case.to_string(),
                        result: result.clone(),
                    })
                    .inc_by(n - *last);
                *last = n;
            }
        }
    }

    pub fn submit_latency(&self, case: &str, ns: u64) {
        self.submit
            .get_or_create(&CaseLabel {
                case: case.to_string(),
            })
            .observe(ns as f64 / 1e9);
    }

    /// The pool connection as `/summary` shows it, and the difficulty gauge.
    pub fn pool(&self, case: &str, view: PoolView) {
        self.difficulty
            .get_or_create(&CaseLabel {
                case: case.to_string(),
            })
            .set(view.difficulty);
        lock(&self.state).pool = Some(view);
    }

    /// The [`crate::sched::Tap`] of a case's session.
    pub fn tap(self: &Arc<Live>, case: &str) -> Arc<dyn crate::sched::Tap> {
        Arc::new(CaseTap {
            batch: self.batch.get_or_create_owned(&CaseLabel {
                case: case.to_string(),
            }),
            job_switch: self.job_switch.get_or_create_owned(&CaseLabel {
                case: case.to_string(),
            }),
        })
    }

    /// `/summary`: xmrig's summary vocabulary over the case being measured (or the last one).
    pub fn summary(&self) -> Value {
        let state = lock(&self.state);
        let now = Instant::now();
        let uptime = (now - self.started).as_secs();
        let name = state
            .current
            .clone()
            .or_else(|| state.cases.keys().last().cloned());
        let case = name.as_ref().and_then(|n| state.cases.get(n));
        let rates: Vec<Option<f64>> = WINDOWS
            .iter()
            .map(|&(_, w)| case.and_then(|c| window_rate(&c.points, now, w)))
            .collect();
        let threads: Vec<Vec<Option<f64>>> = case
            .map(|c| {
                let n = c.worker_hashes.len();
                (0..n)
                    .map(|i| {
                        WINDOWS
                            .iter()
                            .map(|&(_, w)| {
                                let pts: VecDeque<(Instant, u64)> = c
                                    .worker_points
                                    .iter()
                                    .map(|(t, v)| (*t, v.get(i).copied().unwrap_or(0)))
                                    .collect();
                                window_rate(&pts, now, w)
                            })
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let hashes_total: u64 = case.map_or(0, |c| c.worker_hashes.iter().sum());
        let good = case.map_or(0, |c| {
            c.shares
                .get("accepted")
                .or_else(|| c.shares.get("found"))
                .copied()
                .unwrap_or(0)
        });
        let total = case.map_or(0, |c| c.shares.values().sum::<u64>());
        let case_secs = case
            .and_then(|c| c.started)
            .map_or(0.0, |t| (now - t).as_secs_f64());
        let avg_time = if good > 0 {
            case_secs / good as f64
        } else {
            0.0
        };
        let connection = state.pool.as_ref().map(|p| {
            let up = p.connected_at.map_or(0.0, |t| (now - t).as_secs_f64());
            json!({
                "pool": p.url,
                "uptime": up as u64,
                "uptime_ms": (up * 1e3) as u64,
                "ping": p.ping_ms.map(|m| m.round() as u64).unwrap_or(0),
                "failures": p.failures,
                "tls": null,
                "algo": "sha256d",
                "diff": p.difficulty,
                "accepted": p.accepted,
                "rejected": p.rejected,
                "avg_time": avg_time as u64,
                "avg_time_ms": (avg_time * 1e3) as u64,
                "hashes_total": hashes_total,
            })
        });
        json!({
            "id": format!("minebench-{}", std::process::id()),
            "worker_id": name,
            "uptime": uptime,
            "version": env!("CARGO_PKG_VERSION"),
            "kind": self.kind,
            "ua": concat!("minebench/", env!("CARGO_PKG_VERSION")),
            "algo": "sha256d",
            "paused": false,
            "hashrate": {
                "total": rates,
                "highest": case.map_or(0.0, |c| c.highest),
                "threads": threads,
            },
            "results": {
                "diff_current": state.pool.as_ref().map_or(0.0, |p| p.difficulty),
                "shares_good": good,
                "shares_total": total,
                "avg_time": avg_time as u64,
                "avg_time_ms": (avg_time * 1e3) as u64,
                "hashes_total": hashes_total,
            },
            "connection": connection,
        })
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.up.set(0);
    }
}

/// Hashes/s over the last `window`: from the oldest point inside it (or, when the points do
/// not reach that far back, the oldest there is) to the newest. None with fewer than two.
fn window_rate(points: &VecDeque<(Instant, u64)>, now: Instant, window: Duration) -> Option<f64> {
    let &(t1, h1) = points.back()?;
    let from = now.checked_sub(window);
    let &(t0, h0) = points.iter().find(|&&(t, _)| from.is_none_or(|f| t >= f))?;
    let secs = (t1 - t0).as_secs_f64();
    (secs > 0.0).then(|| h1.saturating_sub(h0) as f64 / secs)
}

struct CaseTap {
    batch: Histogram,
    job_switch: Histogram,
}

impl crate::sched::Tap for CaseTap {
    fn batch(&self, ns: u64) {
        self.batch.observe(ns as f64 / 1e9);
    }

    fn job_switch(&self, ns: u64) {
        self.job_switch.observe(ns as f64 / 1e9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_grow_by_differences_and_the_exposition_names_every_family() {
        let live = Arc::new(Live::new("run"));
        live.begin_case("b/s/t2/zb8", "b", "s", 2);
        live.hashes("b/s/t2/zb8", &[100, 50]);
        live.hashes("b/s/t2/zb8", &[300, 50]);
        live.shares(
            "b/s/t2/zb8",
            &BTreeMap::from([
                ("accepted".to_string(), 3),
                ("rejected_stale".to_string(), 1),
            ]),
        );
        let tap = live.tap("b/s/t2/zb8");
        tap.batch(2_000_000);
        tap.job_switch(30_000);
        live.submit_latency("b/s/t2/zb8", 1_000_000);
        let text = live.encode();
        for want in [
            "minebench_hashes_total{case=\"b/s/t2/zb8\",worker=\"0\"} 300",
            "minebench_hashes_total{case=\"b/s/t2/zb8\",worker=\"1\"} 50",
            "minebench_shares_total{case=\"b/s/t2/zb8\",result=\"accepted\"} 3",
            "minebench_shares_total{case=\"b/s/t2/zb8\",result=\"rejected_stale\"} 1",
            "minebench_batch_latency_seconds_count{case=\"b/s/t2/zb8\"} 1",
            "minebench_job_switch_latency_seconds_count{case=\"b/s/t2/zb8\"} 1",
            "minebench_submit_latency_seconds_count{case=\"b/s/t2/zb8\"} 1",
            "minebench_case_info{case=\"b/s/t2/zb8\",backend=\"b\",scheduler=\"s\",threads=\"2\"} 1",
            "minebench_up 1",
            "# TYPE minebench_hashes_total counter",
            "# TYPE minebench_batch_latency_seconds histogram",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        live.end_case("b/s/t2/zb8");
        assert!(live
            .encode()
            .contains("minebench_case_info{case=\"b/s/t2/zb8\",backend=\"b\",scheduler=\"s\",threads=\"2\"} 0"));
        // A count that did not grow (a new case restarting from 0 under another id) adds nothing.
        live.hashes("b/s/t2/zb8", &[10, 10]);
        assert!(live
            .encode()
            .contains("minebench_hashes_total{case=\"b/s/t2/zb8\",worker=\"0\"} 300"));
    }

    #[test]
    fn window_rates_use_the_points_inside_the_window() {
        let t0 = Instant::now();
        let s = |ms: u64| t0 + Duration::from_millis(ms);
        let points: VecDeque<(Instant, u64)> = [
            (s(0), 0),
            (s(5_000), 5_000),
            (s(10_000), 20_000),
            (s(12_000), 24_000),
        ]
        .into();
        // The last 10 s from t=12 s begin at 2 s: the first point inside is t=5 s.
        let r = window_rate(&points, s(12_000), Duration::from_secs(10)).unwrap();
        assert!((r - 19_000.0 / 7.0).abs() < 1e-9, "{r}");
        // A window longer than the history uses all of it.
        let r = window_rate(&points, s(12_000), Duration::from_secs(60)).unwrap();
        assert!((r - 2_000.0).abs() < 1e-9, "{r}");
        assert!(window_rate(&VecDeque::from([(s(0), 1)]), s(1), Duration::from_secs(10)).is_none());
    }

    #[test]
    fn summary_speaks_xmrigs_vocabulary() {
        let live = Live::new("run");
        live.begin_case("c", "b", "s", 1);
        live.hashes("c", &[0]);
        std::thread::sleep(POINT_EVERY + Duration::from_millis(10));
        live.hashes("c", &[1000]);
        live.shares("c", &BTreeMap::from([("accepted".to_string(), 2)]));
        live.pool(
            "c",
            PoolView {
                url: "stratum+tcp://127.0.0.1:3333".into(),
                difficulty: 0.5,
                accepted: 2,
                ..PoolView::default()
            },
        );
        let s = live.summary();
        assert_eq!(s["worker_id"], "c");
        assert!(s["hashrate"]["total"][0].as_f64().unwrap() > 0.0, "{s}");
        assert_eq!(s["hashrate"]["threads"].as_array().unwrap().len(), 1);
        assert_eq!(s["results"]["shares_good"], 2);
        assert_eq!(s["results"]["hashes_total"], 1000);
        assert_eq!(s["connection"]["pool"], "stratum+tcp://127.0.0.1:3333");
        assert_eq!(s["connection"]["diff"], 0.5);
        assert_eq!(s["algo"], "sha256d");
    }
}
