//! The report file, `report.json`: what a run measured, with statistics, in a versioned schema.
//!
//! Everything `render` draws and `compare` decides comes from these types alone, so a report
//! must carry the raw samples and the serialized histograms, not just summaries. Field meanings
//! are documented in the README ("Report schema"); keep the two in step. Adding an optional field
//! keeps the version; renaming or removing one, or widening what a field may hold, needs a new
//! one. `v2` made backend and scheduler names open strings (a user's own backend travels by its
//! name) and added `failed` and the fingerprint's `subject`; `v1` reports read as `v2` (their
//! names are a subset, the new fields default to empty).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::probe::ceiling::Ceiling;
use crate::probe::latency::LatencySummary;
use crate::probe::machine::Fingerprint;
use crate::probe::profile::HotLine;
use crate::report::stats::RateStats;
use crate::scenario::plan::{Difficulty, Plan};

/// The `schema` value this build writes.
pub const SCHEMA_VERSION: &str = "minebench.report/v2";

/// Every `schema` value this build reads, oldest first (older ones are upgraded on load).
pub const SCHEMA_VERSIONS_READ: &[&str] = &["minebench.report/v1", SCHEMA_VERSION];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema: String,
    pub minebench_version: String,
    /// The scenario as resolved (defaults filled in, `auto` resolved, cases expanded).
    pub scenario: Plan,
    pub machine: Fingerprint,
    /// Single-core SHA-256 compression ceiling calibrated at the start of the run.
    pub ceiling: Option<Ceiling>,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: String,
    pub wall_ns: u64,
    /// True when Ctrl-C stopped the run: `cases` then holds only the cases that finished.
    pub interrupted: bool,
    pub profiling: ProfilingInfo,
    pub cases: Vec<CaseReport>,
    /// Planned cases that did not run here, with the reason (e.g. a backend this CPU lacks).
    pub skipped: Vec<SkippedCase>,
    /// Cases refused before timing, with the reason: a backend or scheduler that disagreed with
    /// the reference in the pre-flight cross-check. No rate is recorded for them; the run
    /// exits 1. (v2; empty in v1 reports.)
    #[serde(default)]
    pub failed: Vec<SkippedCase>,
    /// How `auto` was chosen: each built-in backend timed on this CPU before the cases. Absent
    /// when the plan has no `auto`, with `--no-auto-calibration`, and in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_calibration: Option<crate::pow::calibrate::AutoCalibration>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfilingInfo {
    pub enabled: bool,
    pub frequency_hz: u32,
    /// Hash rate with and without the profiler on one case, interleaved in the same session.
    pub overhead: Option<ProfilerOverhead>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfilerOverhead {
    pub case_id: String,
    pub rounds: u32,
    pub with_profiler_hashes_per_sec: f64,
    pub without_profiler_hashes_per_sec: f64,
    /// `100 · (1 − with / without)`; negative means the difference was below the noise.
    pub overhead_pct: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SkippedCase {
    pub id: String,
    pub reason: String,
}

/// One measured sample: hashes completed by all workers between two clock readings.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sample {
    pub hashes: u64,
    pub elapsed_ns: u64,
    /// CPU time the case's workers spent in the window, summed over the workers (their thread
    /// CPU clocks read at both ends). Absent in reports written before it was recorded, and
    /// when a worker's clock could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ns: Option<u64>,
}

impl Sample {
    /// Wall-clock rate: hashes per second of elapsed time.
    pub fn hashes_per_sec(&self) -> f64 {
        self.hashes as f64 * 1e9 / self.elapsed_ns.max(1) as f64
    }

    /// CPU-time rate: hashes per second of worker CPU time (one worker's rate, whatever the
    /// thread count). It leaves out the time a worker waited for a CPU, so co-tenants' load
    /// moves it far less than the wall rate. None without `cpu_ns`.
    pub fn hashes_per_cpu_sec(&self) -> Option<f64> {
        self.cpu_ns
            .filter(|&ns| ns > 0)
            .map(|ns| self.hashes as f64 * 1e9 / ns as f64)
    }
}

/// Which clock a rate is measured with.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Hashes per second of elapsed (wall-clock) time: what a miner earns.
    #[default]
    Wall,
    /// Hashes per second of worker CPU time: what the code costs, with less host noise.
    Cpu,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Wall => "wall",
            Metric::Cpu => "cpu",
        }
    }

    /// The per-sample rates of `samples` under this clock; None when a sample lacks it.
    pub fn rates(self, samples: &[Sample]) -> Option<Vec<f64>> {
        match self {
            Metric::Wall => Some(samples.iter().map(Sample::hashes_per_sec).collect()),
            Metric::Cpu => samples.iter().map(Sample::hashes_per_cpu_sec).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseReport {
    /// `{backend}/{scheduler}/t{threads}/{difficulty}`, the key `compare` matches on.
    pub id: String,
    /// The backend's registered name.
    pub backend: String,
    /// The scheduler's registered name.
    pub scheduler: String,
    pub threads: usize,
    pub difficulty: Difficulty,
    /// Nonces per backend call, where the scenario's `matrix.batch` sweeps it (else the
    /// scenario's `measure.batch`, absent here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    pub samples: Vec<Sample>,
    /// Hashes done by all workers over the whole case (warm-up and probes included): the sum of
    /// `workers[].hashes`.
    pub total_hashes: u64,
    /// Backend calls (batches) over the whole case: the sum of `workers[].batches`, and the count
    /// of `latency.batch`.
    pub total_batches: u64,
    /// Statistics of the per-sample hash rates, in hashes per second.
    pub hash_rate: RateStats,
    /// Statistics of the per-sample CPU-time rates ([`Sample::hashes_per_cpu_sec`]); absent
    /// when the samples carry no `cpu_ns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_rate: Option<RateStats>,
    pub efficiency: Efficiency,
    pub shares: Shares,
    pub latency: Latency,
    pub job_switch: Option<JobSwitchReport>,
    pub workers: Vec<WorkerReport>,
    pub balance: Balance,
    pub profile: Option<ProfileArtefacts>,
    /// How the rates were measured: absent means `counted` (the workers counted their hashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_method: Option<RateMethod>,
    /// An external miner's case: the command, what the pool saw, how the miner stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalCase>,
    /// A case mined from a stratum pool (`[work] pool`, `run --pool`): what the pool did with
    /// the case's shares. `shares` then counts against the pool's targets and `latency.job_switch`
    /// runs from each notify's arrival at the socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_client: Option<PoolClientCase>,
    /// A device backend's own probes (the `gpu` backend): dispatches, the device's execution
    /// time per dispatch, the host's round trip and readback, how busy the device was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceReport>,
}

/// See [`CaseReport::device`] and [`crate::pow::DeviceStats`]. Over the whole case (warm-up
/// included), like `workers[]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceReport {
    /// The adapter's name.
    pub device: String,
    pub dispatches: u64,
    /// Nonces hashed in them (`nonces ÷ dispatches`: the mean dispatch).
    pub nonces: u64,
    /// Feeding settings: nonces per dispatch at most, dispatches in flight per backend call,
    /// nonces per shader invocation, candidate slots per dispatch.
    pub dispatch_limit: u64,
    pub in_flight: u32,
    pub nonces_per_invocation: u32,
    pub candidate_slots: u32,
    /// Dispatches with more candidates than slots, hashed again in pieces.
    pub overflows: u64,
    /// Execution time of each dispatch on the device (its own timestamps).
    pub execution: Option<LatencySummary>,
    /// Host: submit → candidates in host memory.
    pub round_trip: Option<LatencySummary>,
    /// Host: mapping and copying a finished dispatch's results.
    pub readback: Option<LatencySummary>,
    /// Σ execution time and the span from the first dispatch's start to the last one's end
    /// (device clock); `busy_fraction` is their ratio (above 1 where dispatches overlapped).
    pub execution_ns: Option<u64>,
    pub span_ns: Option<u64>,
    pub busy_fraction: Option<f64>,
    /// Why `execution` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_timestamps: Option<String>,
    /// The SM clock as the case ended (`nvidia-smi`), MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_mhz: Option<u32>,
}

impl CaseReport {
    /// backend/scheduler/difficulty[/bN]: what the cases that differ only by thread count
    /// share (thread scaling compares within it).
    pub fn variant(&self) -> String {
        let mut v = format!(
            "{}/{}/{}",
            self.backend,
            self.scheduler,
            self.difficulty.label()
        );
        if let Some(b) = self.batch {
            v.push_str(&format!("/b{b}"));
        }
        v
    }
}

/// See [`CaseReport::pool_client`]. Counts cover the whole case (warm-up included).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolClientCase {
    pub url: String,
    pub user: String,
    /// Share difficulties in force, in the order the pool set them.
    pub difficulty: Vec<f64>,
    /// `mining.notify` jobs received during the case, and how many of them were clean.
    pub jobs: u64,
    pub clean_jobs: u64,
    pub submitted: u64,
    pub accepted: u64,
    /// By reason (`stale`, `duplicate`, `low_difficulty`, `job_not_found`, … or the pool's text).
    pub rejected: BTreeMap<String, u64>,
    /// Submitted but not answered within 2 s after the case ended.
    pub unanswered: u64,
    /// Found on a connection that was replaced before they could be sent.
    pub not_sent: u64,
    pub reconnects: u64,
    /// `mining.submit` → the pool's answer.
    pub submit_latency: Option<LatencySummary>,
    /// Rejected as stale or for a job the pool no longer knows (a clean switch), ÷ submitted.
    pub stale_fraction: f64,
    /// Σ 2^32 × difficulty over accepted shares ÷ the case's wall time: the rate the pool
    /// credits (compare with `hash_rate`, the workers' own count).
    pub credited_hashes_per_sec: f64,
}

/// How a case's hash rate was measured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RateMethod {
    /// Hashes counted by minebench's own workers.
    Counted,
    /// Derived from shares the pool verified: each accepted share stands for `1 / P(hash ≤ its
    /// share target)` hashes on average, so a sample's `hashes` is that sum over the shares
    /// accepted in its window (an estimate with Poisson noise: see `external.pool.rate_ci95`).
    Shares,
}

/// What minebench knows of an external miner's case beyond the common fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExternalCase {
    /// The `[external.NAME]` table's name.
    pub name: String,
    /// The command as run (placeholders replaced).
    pub command: Vec<String>,
    /// The first line of the `version` command's output, when one was given and answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub pid: i32,
    pub pool: PoolCaseStats,
    /// Shares rejected as stale (submitted for a job a clean switch had replaced).
    pub stale_shares: u64,
    /// How the miner ended: `stopped by SIGINT`, `killed (SIGKILL) after the grace period`, or
    /// an exit it made by itself.
    pub exit: String,
    /// Why `profile` is null when profiling was asked for (perf missing, not permitted, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_unavailable: Option<String>,
    /// The end of the miner's stdout and stderr (at most 2 KiB).
    pub output_tail: String,
    /// Where `profile` came from: `perf` (sampled from outside) or `go pprof` (the miner's own
    /// `/debug/pprof/profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_source: Option<String>,
    /// A Go miner's own diagnostics, when the scenario asked for them (`pprof`,
    /// `go_schedtrace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<GoDiagnostics>,
}

/// What a Go miner's runtime said about the measured phase.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GoDiagnostics {
    /// The pprof/expvar base URL used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pprof_url: Option<String>,
    /// `GODEBUG=schedtrace` over the measured phase; absent when not asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedtrace: Option<SchedTrace>,
    /// GC cost from expvar memstats at both ends of the measured phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc: Option<crate::probe::go::GcCost>,
    /// Why `gc` is absent when a pprof URL was given (no expvar, endpoint down, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_unavailable: Option<String>,
}

/// The scheduler trace of a Go miner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SchedTrace {
    /// The `SCHED` lines received during the measured phase, in order.
    pub points: Vec<crate::probe::go::SchedPoint>,
    /// Their summary; absent when none came.
    pub summary: Option<crate::probe::go::SchedSummary>,
    /// Lines starting with `SCHED` that did not parse (skipped).
    pub malformed_lines: u64,
}

/// The loopback pool's view of one external case, over the whole case (warm-up included)
/// except where said.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolCaseStats {
    pub url: String,
    pub connections: u64,
    /// The share difficulty every job was sent with.
    pub difficulty: f64,
    pub accepted: u64,
    /// Rejections by reason (`job_not_found`, `stale`, `duplicate`, `low_difficulty`,
    /// `unauthorized`, `not_subscribed`, `malformed`, `unknown_method`).
    pub rejected: std::collections::BTreeMap<String, u64>,
    /// Malformed lines and unknown methods.
    pub protocol_errors: u64,
    /// Accepted shares inside the measured samples (what the rate is derived from).
    pub measured_shares: u64,
    /// Hash rate over all measured samples together, with its 95 % CI from the Poisson count
    /// of `measured_shares` (exact Garwood interval), hashes per second.
    pub rate: f64,
    pub rate_ci95: [f64; 2],
    /// BIP 310 version rolling was negotiated.
    pub version_rolling: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Efficiency {
    /// Median hash rate ÷ (threads × the calibrated naive ceiling). Above 1 means the backend
    /// beats two plain compressions per nonce (midstate, early exit, lanes).
    pub vs_ceiling: Option<f64>,
    /// Median ÷ (threads × median of the same backend and scheduler at 1 thread, same
    /// difficulty). 1.0 is ideal linear scaling. None when there is no 1-thread case.
    pub scaling: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Shares {
    /// Hashes done during the measured samples (the denominator of `expected`).
    pub hashes: u64,
    /// Hits found during the measured samples.
    pub found: u64,
    /// Hits re-verified with the reference SHA-256 (always equal to `found`; a mismatch aborts).
    pub verified: u64,
    /// `hashes × P(hash ≤ target)`.
    pub expected: f64,
    /// Two-sided Poisson p-value of `found` given `expected`.
    pub poisson_p: f64,
    /// `poisson_p ≥ 0.001`: a lower value means the search is losing or inventing hits.
    pub plausible: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Latency {
    /// Time inside one backend call (one batch), all workers merged.
    pub batch: Option<LatencySummary>,
    /// Time between consecutive shares found (any worker).
    pub share_interval: Option<LatencySummary>,
    /// Time from a job broadcast until a worker began hashing the new job, one value per worker
    /// per switch.
    pub job_switch: Option<LatencySummary>,
    /// `channel` scheduler only: time a batch waited in the queue before a worker took it.
    pub queue_wait: Option<LatencySummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobSwitchReport {
    pub switches: u64,
    /// Hashes done on an old job after its replacement was broadcast (wasted work).
    pub stale_hashes: u64,
    /// `stale_hashes ÷ all hashes in the case`.
    pub stale_fraction: f64,
    /// Worker-switches that never reached the new job before the case ended.
    pub missed: u64,
}

/// Per worker thread, over the whole case (warm-up included; the thread lives that long).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerReport {
    pub index: usize,
    pub tid: i32,
    pub hashes: u64,
    pub batches: u64,
    pub busy_ns: u64,
    pub idle_ns: u64,
    pub last_cpu: Option<usize>,
    /// From `/proc/self/task/<tid>/…` between the start of measuring and the end; null with
    /// `unavailable` saying why when /proc could not be read.
    pub cpu_ns: Option<u64>,
    pub voluntary_ctxt_switches: Option<u64>,
    pub nonvoluntary_ctxt_switches: Option<u64>,
    pub migrations: Option<u64>,
    pub run_delay_ns: Option<u64>,
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Balance {
    /// max ÷ mean of per-worker hashes (1.0 = perfectly even).
    pub imbalance: f64,
    /// idle ÷ (busy + idle), summed over workers.
    pub idle_fraction: f64,
}

impl Balance {
    /// From per-worker `(hashes, busy_ns, idle_ns)`.
    pub fn from_workers(workers: impl IntoIterator<Item = (u64, u64, u64)>) -> Balance {
        let (mut n, mut sum, mut max, mut busy, mut idle) = (0u64, 0u64, 0u64, 0u64, 0u64);
        for (hashes, b, i) in workers {
            n += 1;
            sum += hashes;
            max = max.max(hashes);
            busy += b;
            idle += i;
        }
        let mean = sum as f64 / n.max(1) as f64;
        Balance {
            imbalance: if mean > 0.0 { max as f64 / mean } else { 1.0 },
            idle_fraction: idle as f64 / (busy + idle).max(1) as f64,
        }
    }
}

/// `rel` as a path that stays inside the directory it is joined to: relative, not empty, no
/// `..` (nor a root or a Windows prefix). Every path a report holds is relative to the report's
/// directory, and a report is a JSON file a user may have edited or been sent: `render` must not
/// write, nor `flame` read, anywhere else on its say-so. The one check both call.
///
/// Lexical only: a symlink inside the directory could still lead out, so readers go through
/// [`resolve_inside`] and `render` refuses to write through links.
pub fn inside_dir(rel: &str) -> Option<&Path> {
    let path = Path::new(rel);
    let ok = !rel.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    ok.then_some(path)
}

/// Why a report's input path was not resolved (see [`resolve_inside`]).
#[derive(Debug, thiserror::Error)]
pub enum InsideError {
    #[error("{rel:?} is not a relative path inside the report's directory")]
    NotRelative { rel: String },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{rel:?} resolves to {}, outside the report's directory {} (through a symbolic link)",
        resolved.display(),
        dir.display()
    )]
    Outside {
        rel: String,
        resolved: PathBuf,
        dir: PathBuf,
    },
}

/// The file `rel` names under `dir`, for reading: [`inside_dir`] on the text, then both
/// canonicalised (links followed) and the file required to be under the directory. The text
/// check alone would let a link inside the directory (`flame/x.folded -> /etc/passwd`) lead
/// anywhere. A link that stays inside is fine. Returns the canonical path, which is what
/// should be read (a link swapped after this check then changes nothing).
pub fn resolve_inside(dir: &Path, rel: &str) -> Result<PathBuf, InsideError> {
    let joined = dir.join(inside_dir(rel).ok_or_else(|| InsideError::NotRelative {
        rel: rel.to_string(),
    })?);
    let canonical = |path: &Path| {
        path.canonicalize().map_err(|source| InsideError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let dir = canonical(dir)?;
    let resolved = canonical(&joined)?;
    if resolved.starts_with(&dir) {
        Ok(resolved)
    } else {
        Err(InsideError::Outside {
            rel: rel.to_string(),
            resolved,
            dir,
        })
    }
}

/// `rel` spelt one way: inside the directory (see [`inside_dir`]), without `.` components or
/// doubled separators, so that `./flame//a.svg` and `flame/a.svg` compare equal.
fn normal_rel(rel: &str) -> Option<PathBuf> {
    inside_dir(rel).map(|p| {
        p.components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect()
    })
}

/// Why each case's `profile.svg` must not be written, by case index (`None`: fine, or no
/// profile). `profile.svg` is the one path of a report that `render` *writes*, and a report is
/// a file a user may have edited: without this an `"svg": "report.json"` or the path of a
/// folded file would have that file replaced by a picture. So the path must be inside the
/// directory, end in `.svg`, and be none of `taken` (other files render writes or reads, each
/// with what it is, e.g. `("report.json", "the report itself")`), no case's folded or pprof
/// file, and no other case's SVG (both cases of a shared SVG are refused: drawing either would
/// silently hide the other). Lexical, like [`inside_dir`]; links are the writer's to refuse.
pub fn svg_path_problems(report: &Report, taken: &[(&str, &str)]) -> Vec<Option<String>> {
    // Every path the profiles name, spelt one way, with what it is.
    let mut named: Vec<(PathBuf, String)> = taken
        .iter()
        .filter_map(|(rel, what)| normal_rel(rel).map(|p| (p, what.to_string())))
        .collect();
    for case in &report.cases {
        let Some(p) = &case.profile else { continue };
        for (field, rel) in [("folded", &p.folded), ("pprof", &p.pprof)] {
            if let Some(path) = normal_rel(rel) {
                named.push((path, format!("the profile.{field} of case {}", case.id)));
            }
        }
    }
    let svgs: Vec<Option<PathBuf>> = report
        .cases
        .iter()
        .map(|c| c.profile.as_ref().and_then(|p| normal_rel(&p.svg)))
        .collect();
    report
        .cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let p = case.profile.as_ref()?;
            let Some(svg) = &svgs[i] else {
                return Some(format!(
                    "profile.svg {:?} is not a relative path inside the report directory",
                    p.svg
                ));
            };
            if !svg
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
            {
                return Some(format!(
                    "profile.svg {:?} does not end in .svg; render writes only SVG files there",
                    p.svg
                ));
            }
            if let Some((_, what)) = named.iter().find(|(path, _)| path == svg) {
                return Some(format!("profile.svg {:?} is {what}; refusing to overwrite it", p.svg));
            }
            let other = report
                .cases
                .iter()
                .zip(&svgs)
                .enumerate()
                .find(|(j, (_, other))| *j != i && other.as_ref() == Some(svg));
            other.map(|(_, (c, _))| {
                format!(
                    "profile.svg {:?} is also the flamegraph of case {}; two cases cannot share one SVG",
                    p.svg, c.id
                )
            })
        })
        .collect()
}

/// Profile files of a case, relative to the report's directory (see [`inside_dir`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileArtefacts {
    pub samples: u64,
    pub folded: String,
    pub pprof: String,
    /// Written by `render` from `folded`.
    pub svg: String,
    /// Hashes done while the profiler ran (to normalise differential flamegraphs per hash).
    pub hashes: u64,
    // Optional fields below: absent in reports written before the profiler recorded them.
    /// The sampling frequency asked for, Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_hz: Option<u32>,
    /// Samples actually taken per second of sampled CPU time (the kernel delivers at most
    /// about one per scheduler tick per busy CPU, whatever was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_hz: Option<f64>,
    /// CPU time the samples stand for, ns (each sample weighted by its thread's CPU time since
    /// its previous sample); the `cpu` values of the `.pb` add up to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ns: Option<u64>,
    /// Samples kept under an `[unknown]` frame because they could not be unwound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_samples: Option<u64>,
    /// Samples lost because the sampler's buffer was full (not in `samples`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_samples: Option<u64>,
    /// The hottest source lines of this workspace in the case's workers, hottest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hot_lines: Vec<HotLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_dir_refuses_escapes() {
        assert_eq!(inside_dir("flame/a.svg"), Some(Path::new("flame/a.svg")));
        assert!(inside_dir("./flame/a.svg").is_some());
        assert!(inside_dir("../a.svg").is_none());
        assert!(inside_dir("flame/../../a.svg").is_none());
        assert!(inside_dir("flame/..").is_none());
        assert!(inside_dir("/etc/passwd").is_none());
        assert!(inside_dir("").is_none());
    }

    #[test]
    fn resolve_inside_follows_links_only_within_the_directory() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("rep");
        std::fs::create_dir_all(dir.join("flame")).unwrap();
        std::fs::write(dir.join("flame/a.folded"), "a 1\n").unwrap();
        std::fs::write(tmp.path().join("secret"), "s 1\n").unwrap();
        symlink(tmp.path().join("secret"), dir.join("flame/out.folded")).unwrap();
        symlink("a.folded", dir.join("flame/in.folded")).unwrap();
        symlink(tmp.path(), dir.join("up")).unwrap();

        let a = resolve_inside(&dir, "./flame/a.folded").unwrap();
        assert_eq!(a, dir.join("flame/a.folded").canonicalize().unwrap());
        assert_eq!(resolve_inside(&dir, "flame/in.folded").unwrap(), a);
        for rel in ["flame/out.folded", "up/secret"] {
            assert!(
                matches!(resolve_inside(&dir, rel), Err(InsideError::Outside { .. })),
                "{rel}"
            );
        }
        assert!(matches!(
            resolve_inside(&dir, "../secret"),
            Err(InsideError::NotRelative { .. })
        ));
        assert!(matches!(
            resolve_inside(&dir, "flame/missing.folded"),
            Err(InsideError::Io { .. })
        ));
    }

    #[test]
    fn svg_paths_may_not_name_the_report_an_input_or_each_other() {
        let mut report: Report =
            serde_json::from_str(include_str!("../../tests/data/compare-base.json")).unwrap();
        let profile = |i: usize, svg: &str| ProfileArtefacts {
            samples: 1,
            folded: format!("flame/{i}.folded"),
            pprof: format!("flame/{i}.pb"),
            svg: svg.to_string(),
            hashes: 1,
            requested_hz: None,
            effective_hz: None,
            cpu_ns: None,
            unknown_samples: None,
            dropped_samples: None,
            hot_lines: Vec::new(),
        };
        let taken = [("report.json", "the report itself")];
        let mut problems = |svgs: [&str; 2]| {
            for (i, svg) in svgs.iter().enumerate() {
                report.cases[i].profile = Some(profile(i, svg));
            }
            svg_path_problems(&report, &taken)
        };
        assert_eq!(problems(["flame/0.svg", "./flame/1.svg"]), [None, None]);
        for (svg, says) in [
            ("report.json", "does not end in .svg"),
            ("flame/0.folded", "does not end in .svg"),
            ("../x.svg", "not a relative path"),
            ("flame/1.svg", "also the flamegraph of case"),
        ] {
            let p = problems([svg, "flame/1.svg"]);
            assert!(
                p[0].as_deref().is_some_and(|r| r.contains(says)),
                "{svg}: {p:?}"
            );
        }
        // Both cases of a shared SVG are refused.
        let p = problems(["flame/s.svg", "flame/s.svg"]);
        assert!(p.iter().all(|r| r.is_some()), "{p:?}");
        // An .svg that is the report, or another case's input, is refused too.
        report.cases[1].profile = Some(ProfileArtefacts {
            folded: "flame/1.svg".into(),
            ..profile(1, "flame/x.svg")
        });
        report.cases[0].profile = Some(profile(0, "./flame//1.svg"));
        let p = svg_path_problems(&report, &taken);
        assert!(
            p[0].as_deref()
                .unwrap()
                .contains("the profile.folded of case"),
            "{p:?}"
        );
        report.cases[0].profile = Some(profile(0, "r.svg"));
        let p = svg_path_problems(&report, &[("r.svg", "the report itself")]);
        assert!(
            p[0].as_deref().unwrap().contains("the report itself"),
            "{p:?}"
        );
    }
}
