//! The `Plan`: a validated scenario expanded into the list of Cases to run, and that pure
//! expansion. Everything here is already validated (by `scenario::load_*`), so the accessors are
//! infallible. Must not: read files, clocks or threads; a Plan is data that `minebench plan` can
//! print without hashing anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pow::{Availability, Header, Target};

/// A scenario, validated and resolved, with every Case it expands to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    /// The scenario's name (`[A-Za-z0-9._-]+`, safe in a directory name).
    pub name: String,
    /// Free text; empty when the file gives none.
    pub description: String,
    /// The file path as given, or `built-in:quick`.
    pub source: String,
    pub work: WorkSpec,
    pub measure: MeasureSpec,
    pub profile: ProfileSpec,
    /// The cases in run order: difficulty (outer), backend, scheduler, threads (inner), so the
    /// thread scaling of one backend+scheduler is adjacent.
    pub cases: Vec<Case>,
    /// The matrix as the user wrote it (backend names keep `auto`), with `threads = "all"`
    /// resolved; `cases` is its expansion.
    pub matrix: MatrixSpec,
    /// `[external.NAME]`: miner programs the `external:NAME` backends run (absent in plans
    /// without them, and in reports written before they existed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external: BTreeMap<String, ExternalSpec>,
}

impl Plan {
    /// Takes every case's jobs from `pool` (`run --pool`): the difficulty axis collapses to
    /// [`Difficulty::Pool`] and cases that differed only by difficulty become one. Returns the
    /// difficulties no longer used (to say so); an error naming the backend when the plan runs
    /// an external miner (those mine against minebench's own loopback pool).
    pub fn use_pool(&mut self, pool: PoolSpec) -> Result<Vec<String>, String> {
        if let Some(c) = self
            .cases
            .iter()
            .find(|c| external_name(&c.backend).is_some())
        {
            return Err(format!(
                "{}: an external miner takes its jobs from minebench's own loopback pool, not \
                 from --pool",
                c.backend
            ));
        }
        let dropped: Vec<String> = self
            .matrix
            .difficulty
            .iter()
            .filter(|d| **d != Difficulty::Pool)
            .map(Difficulty::label)
            .collect();
        self.work.pool = Some(pool);
        self.work.difficulty = Difficulty::Pool;
        self.matrix.difficulty = vec![Difficulty::Pool];
        let mut cases: Vec<Case> = Vec::new();
        for mut c in std::mem::take(&mut self.cases) {
            c.difficulty = Difficulty::Pool;
            c.id = Case::make_id(&c.backend, &c.scheduler, c.threads, &c.difficulty, c.batch);
            if !cases.iter().any(|k| k.id == c.id) {
                cases.push(c);
            }
        }
        self.cases = cases;
        Ok(dropped)
    }
}

/// The prefix of a backend name that runs an `[external.NAME]` miner.
pub const EXTERNAL_PREFIX: &str = "external:";

/// The scheduler name of external cases: the miner schedules its own threads.
pub const EXTERNAL_SCHEDULER: &str = "own";

/// The placeholders an external command may use, each replaced per case.
pub const EXTERNAL_PLACEHOLDERS: &[&str] = &[
    "pool_url",
    "pool_host",
    "pool_port",
    "user",
    "password",
    "threads",
    "minebench",
    "pprof_port",
];

/// The NAME of an `external:NAME` backend, or None for any other backend.
pub fn external_name(backend: &str) -> Option<&str> {
    backend.strip_prefix(EXTERNAL_PREFIX)
}

/// A miner program measured black-box through minebench's loopback stratum pool.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExternalSpec {
    /// Program and arguments; `{pool_url}`, `{pool_host}`, `{pool_port}`, `{user}`,
    /// `{password}` and `{threads}` are replaced per case, `{minebench}` by the path of the
    /// running minebench (so `minebench mine` can be measured black-box like any miner).
    pub command: Vec<String>,
    /// A command printing the miner's version (recorded in the case), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Vec<String>>,
    /// How long the miner may take to subscribe to the pool (default 10 s).
    pub startup_timeout_ns: u64,
    /// After SIGINT, how long before SIGKILL (default 2 s).
    pub stop_grace_ns: u64,
    /// Extra environment variables for the miner.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The worker name given to the miner (default `minebench`).
    pub user: String,
    pub password: String,
    /// A Go miner's `net/http/pprof` base URL, e.g. `http://127.0.0.1:{pprof_port}` (minebench
    /// picks the free port): its CPU profile replaces perf's, its expvar memstats give GC cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pprof: Option<String>,
    /// Run the miner with `GODEBUG=schedtrace=1000` and put its scheduler trace in the report.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub go_schedtrace: bool,
}

/// Where the header template comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeaderSpec {
    /// [`Header::synthetic`] with this seed: reproducible, pseudo-random.
    Synthetic { seed: u64 },
    /// A real header, 160 lower-case hex digits.
    Hex { hex: String },
}

impl HeaderSpec {
    /// The header template (its nonce is ignored by the backends).
    pub fn header(&self) -> Header {
        match self {
            HeaderSpec::Synthetic { seed } => Header::synthetic(*seed),
            HeaderSpec::Hex { hex } => {
                Header::from_hex(hex).expect("header hex is validated when the scenario loads")
            }
        }
    }
}

/// The work every case hashes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkSpec {
    pub header: HeaderSpec,
    /// `[work] pool`: cases take their jobs from this stratum pool (`header` and difficulty
    /// then come from the pool). Absent in plans without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolSpec>,
    /// `work.difficulty`; when the file gives only `matrix.difficulty`, its first entry. Each
    /// Case carries the difficulty it actually uses.
    pub difficulty: Difficulty,
}

/// A stratum pool to take jobs from (`[work] pool = { url, user, password }` or `run --pool`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PoolSpec {
    /// `stratum+tcp://host:port`.
    pub url: String,
    pub user: String,
    /// Never written to a report: pools use it for options, some for secrets.
    #[serde(skip_serializing, default)]
    pub password: String,
}

/// The user name when none is given.
pub const DEFAULT_POOL_USER: &str = "minebench";

/// A difficulty as a scenario states it. Serialises like the TOML: `{"zero_bits": 20}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    /// A hash meets it with at least this many leading zero bits (0..=255).
    ZeroBits(u32),
    /// Bitcoin compact nBits, 8 lower-case hex digits.
    Nbits(String),
    /// Pool share difficulty (1.0 = target 0xffff·2^208), finite and above 0.
    Share(f64),
    /// Whatever the pool of `[work] pool` / `run --pool` sets, changing as it does: the run
    /// takes each job's target from the pool (`target()` is then share difficulty 1, a
    /// placeholder nothing measured uses).
    Pool,
}

impl Difficulty {
    /// The target a hash must meet.
    pub fn target(&self) -> Target {
        let target = match self {
            Difficulty::ZeroBits(n) => Target::from_zero_bits(*n),
            Difficulty::Nbits(hex) => Target::from_compact_hex(hex),
            Difficulty::Share(d) => Target::from_share_difficulty(*d),
            Difficulty::Pool => Target::from_share_difficulty(1.0),
        };
        target.expect("difficulty is validated when the scenario loads")
    }

    /// A short label for case ids: `zb20`, `nb1d00ffff`, `sd1.5`.
    pub fn label(&self) -> String {
        match self {
            Difficulty::ZeroBits(n) => format!("zb{n}"),
            Difficulty::Nbits(hex) => format!("nb{hex}"),
            Difficulty::Share(d) => format!("sd{}", short_number(*d)),
            Difficulty::Pool => "pool".to_string(),
        }
    }

    /// How many hashes find one share on average: 1 / P(hash meets target).
    pub fn expected_hashes_per_share(&self) -> f64 {
        1.0 / self.target().hit_probability()
    }
}

/// How long one sample lasts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SampleSpec {
    /// Wall-clock length in nanoseconds (above 0).
    DurationNs(u64),
    /// A fixed number of nonces (1..=2^32).
    Nonces(u64),
}

/// How each case is measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MeasureSpec {
    /// Hashing before the first sample, discarded (default 500 ms; may be 0).
    pub warmup_ns: u64,
    /// Samples per case (default 5; 1..=10000).
    pub samples: u32,
    /// Default: 300 ms of wall-clock time.
    pub sample: SampleSpec,
    /// Nonces a worker takes at a time (default 4096; 1..=2^32).
    pub batch: u64,
    /// Switch jobs this often while measuring; `None` = never.
    pub job_interval_ns: Option<u64>,
    /// Pin worker k to core k (default false).
    pub pin_threads: bool,
}

/// Profiling around each case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProfileSpec {
    /// Sample stacks and draw a flamegraph (default true).
    pub flamegraph: bool,
    /// Stack sampling frequency in Hz (default 997, a prime so it does not beat with timers;
    /// 1..=10000).
    pub frequency_hz: u32,
}

/// The `[matrix]` axes as validated, before expansion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MatrixSpec {
    /// Backend names as written (`auto` kept; resolved per Case).
    pub backend: Vec<String>,
    pub scheduler: Vec<String>,
    pub threads: ThreadsSpec,
    /// `matrix.difficulty`, or `[work.difficulty]` when the matrix gives none.
    pub difficulty: Vec<Difficulty>,
    /// `matrix.batch`: nonces per backend call, one case per value (a batch-size sweep);
    /// empty when the scenario sets one `measure.batch` for every case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<u64>,
    /// `matrix.batch = { NAME = [...] }`: batch sizes swept for the backends named (as
    /// `backend` writes them, `auto` included); the others take `measure.batch`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub batch_by_backend: BTreeMap<String, Vec<u64>>,
}

/// `matrix.threads`: an explicit list, or `"all"` resolved to the logical cores at plan time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ThreadsSpec {
    List(Vec<usize>),
    All { logical_cores: usize },
}

impl ThreadsSpec {
    /// The thread counts this axis expands to.
    pub fn counts(&self) -> Vec<usize> {
        match self {
            ThreadsSpec::List(list) => list.clone(),
            ThreadsSpec::All { logical_cores } => vec![*logical_cores],
        }
    }
}

/// One combination of the matrix: what `run/` measures and `report/` keys results by.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    /// `{backend}/{scheduler}/t{threads}/{difficulty.label()}`, with `/b{batch}` when the
    /// matrix sweeps the batch size; unique within a Plan.
    pub id: String,
    /// A registered backend's name, always concrete (`auto` is resolved).
    pub backend: String,
    /// A registered scheduler's name.
    pub scheduler: String,
    pub threads: usize,
    pub difficulty: Difficulty,
    /// Why this case cannot run here (backend unavailable on this CPU); `None` = runnable.
    pub skip: Option<String>,
    /// The case's own batch size (`matrix.batch`); `None`: `measure.batch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
}

impl Case {
    /// The id a case with these parameters has.
    pub fn make_id(
        backend: &str,
        scheduler: &str,
        threads: usize,
        difficulty: &Difficulty,
        batch: Option<u64>,
    ) -> String {
        let mut id = format!("{backend}/{scheduler}/t{threads}/{}", difficulty.label());
        if let Some(b) = batch {
            id.push_str(&format!("/b{b}"));
        }
        id
    }

    /// Nonces per backend call in this case.
    pub fn batch_or(&self, measure: &MeasureSpec) -> u64 {
        self.batch.unwrap_or(measure.batch)
    }
}

/// Expands a validated matrix into Cases: difficulty, backend, scheduler, threads, batch
/// (inner). An external miner feeds itself: it gets no batch axis.
///
/// Pure: what can run here comes in through `catalog` (a snapshot of the registry), nothing is
/// asked of the machine.
///
/// `auto` resolves to [`Catalog::auto`]; backends that resolve to the same name, and any other
/// repeated entry, give one case (the first), so case ids are unique. A backend or scheduler
/// that cannot run here is still planned, with `skip` saying why, so the report shows it was
/// asked for. Names must be in `catalog` (the scenario loader checked them).
pub fn expand(matrix: &MatrixSpec, catalog: &Catalog) -> Vec<Case> {
    let resolve = |name: &String| {
        if name == "auto" {
            catalog.auto.clone()
        } else {
            name.clone()
        }
    };
    let backends = dedup(matrix.backend.iter().map(resolve));
    // Per-backend sweeps by resolved name; the first entry for a name wins (as the case does).
    let mut swept: Vec<(String, Vec<Option<u64>>)> = Vec::new();
    for name in &matrix.backend {
        if let Some(list) = matrix.batch_by_backend.get(name) {
            let resolved = resolve(name);
            if !swept.iter().any(|(n, _)| *n == resolved) {
                let list = dedup(list.iter().copied()).into_iter().map(Some).collect();
                swept.push((resolved, list));
            }
        }
    }
    let schedulers = dedup(matrix.scheduler.iter().cloned());
    let threads = dedup(matrix.threads.counts());
    let difficulties = dedup(matrix.difficulty.iter().cloned());
    let batches: Vec<Option<u64>> = match matrix.batch.is_empty() {
        true => vec![None],
        false => dedup(matrix.batch.iter().copied())
            .into_iter()
            .map(Some)
            .collect(),
    };

    let mut cases = Vec::new();
    for difficulty in &difficulties {
        for backend in &backends {
            let backend_skip = catalog.backend_skip(backend);
            // An external miner schedules its own threads: one case per thread count.
            let own = [EXTERNAL_SCHEDULER.to_string()];
            let schedulers: &[String] = match external_name(backend) {
                Some(_) => &own,
                None => &schedulers,
            };
            for scheduler in schedulers {
                let skip = match external_name(backend) {
                    Some(_) => None,
                    None => backend_skip
                        .clone()
                        .or_else(|| catalog.scheduler_skip(scheduler)),
                };
                let own_batch = [None];
                let batches: &[Option<u64>] = match external_name(backend) {
                    Some(_) => &own_batch,
                    None => swept
                        .iter()
                        .find(|(n, _)| n == backend)
                        .map_or(&batches, |(_, list)| list),
                };
                for &threads in &threads {
                    for &batch in batches {
                        cases.push(Case {
                            id: Case::make_id(backend, scheduler, threads, difficulty, batch),
                            backend: backend.clone(),
                            scheduler: scheduler.clone(),
                            threads,
                            difficulty: difficulty.clone(),
                            skip: skip.clone(),
                            batch,
                        });
                    }
                }
            }
        }
    }
    cases
}

/// The names a scenario may use and whether each can run here: a snapshot of the registry
/// (`Registry::catalog`), so that loading and planning a scenario is pure.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// Every backend name, in listing order, with its availability here.
    pub backends: Vec<(String, Availability)>,
    /// Every scheduler name, in listing order, with its availability here.
    pub schedulers: Vec<(String, Availability)>,
    /// What `auto` resolves to.
    pub auto: String,
}

impl Catalog {
    pub fn has_backend(&self, name: &str) -> bool {
        self.backends.iter().any(|(n, _)| n == name)
    }

    pub fn has_scheduler(&self, name: &str) -> bool {
        self.schedulers.iter().any(|(n, _)| n == name)
    }

    pub fn backend_names(&self) -> String {
        names(&self.backends)
    }

    pub fn scheduler_names(&self) -> String {
        names(&self.schedulers)
    }

    /// Why backend `name` cannot run here (`None`: it can).
    pub fn backend_skip(&self, name: &str) -> Option<String> {
        skip_reason(&self.backends, name, "backend")
    }

    /// Why scheduler `name` cannot run here (`None`: it can).
    pub fn scheduler_skip(&self, name: &str) -> Option<String> {
        skip_reason(&self.schedulers, name, "scheduler")
    }
}

fn names(list: &[(String, Availability)]) -> String {
    list.iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn skip_reason(list: &[(String, Availability)], name: &str, what: &str) -> Option<String> {
    match list.iter().find(|(n, _)| n == name) {
        Some((_, Availability::Available)) => None,
        Some((_, Availability::Unavailable(reason))) => Some(reason.clone()),
        None => Some(format!("{what} {name} is not registered")),
    }
}

/// Keeps the first of equal items, in order (the lists are short: quadratic is fine).
fn dedup<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// `d` as a short, path-friendly token: plain decimals while short (`1.5`, `0.0002`, `65536`),
/// else the shortest exact exponent form (`1e300`, `1.2345e-12`). f64's Display alone never
/// uses an exponent, so `share = 1e300` gave a 300-digit case id and file names too long to
/// create.
fn short_number(d: f64) -> String {
    let plain = d.to_string();
    if plain.len() <= 12 {
        plain
    } else {
        format!("{d:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(backend: &[&str], threads: ThreadsSpec, difficulty: Vec<Difficulty>) -> MatrixSpec {
        MatrixSpec {
            backend: backend.iter().map(|s| s.to_string()).collect(),
            scheduler: vec!["stride".into(), "atomic".into()],
            threads,
            difficulty,
            batch: Vec::new(),
            batch_by_backend: BTreeMap::new(),
        }
    }

    /// A machine with every backend but `avx512`, where `auto` is `sha-ni`.
    fn catalog() -> Catalog {
        let ok = Availability::Available;
        Catalog {
            backends: vec![
                (
                    "avx512".into(),
                    Availability::Unavailable("CPU lacks avx512f".into()),
                ),
                ("sha-ni".into(), ok.clone()),
                ("sha2".into(), ok.clone()),
                ("reference".into(), ok.clone()),
            ],
            schedulers: vec![("stride".into(), ok.clone()), ("atomic".into(), ok)],
            auto: "sha-ni".into(),
        }
    }

    #[test]
    fn order_is_difficulty_backend_scheduler_threads() {
        let m = matrix(
            &["sha2", "reference"],
            ThreadsSpec::List(vec![1, 2]),
            vec![Difficulty::ZeroBits(8), Difficulty::Share(1.5)],
        );
        let cases = expand(&m, &catalog());
        assert_eq!(cases.len(), 2 * 2 * 2 * 2);
        let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            &ids[..5],
            &[
                "sha2/stride/t1/zb8",
                "sha2/stride/t2/zb8",
                "sha2/atomic/t1/zb8",
                "sha2/atomic/t2/zb8",
                "reference/stride/t1/zb8",
            ]
        );
        assert_eq!(ids[8], "sha2/stride/t1/sd1.5");
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn auto_resolves_and_dedupes() {
        let m = matrix(
            &["auto", "sha-ni", "avx512"],
            ThreadsSpec::All { logical_cores: 3 },
            vec![Difficulty::ZeroBits(16)],
        );
        let cases = expand(&m, &catalog());
        assert_eq!(cases.len(), 4, "{cases:?}");
        assert!(cases.iter().all(|c| c.threads == 3));
        assert!(cases[..2]
            .iter()
            .all(|c| c.backend == "sha-ni" && c.skip.is_none()));
        // Planned, not dropped: the report shows it was asked for and why it did not run.
        assert!(cases[2..]
            .iter()
            .all(|c| c.backend == "avx512" && c.skip.as_deref() == Some("CPU lacks avx512f")));
    }

    #[test]
    fn difficulty_labels_targets_and_serde_shape() {
        assert_eq!(Difficulty::ZeroBits(20).label(), "zb20");
        assert_eq!(Difficulty::Share(1.5).label(), "sd1.5");
        assert_eq!(Difficulty::Share(0.0002).label(), "sd0.0002");
        assert_eq!(Difficulty::Share(1e300).label(), "sd1e300");
        assert_eq!(
            Difficulty::Share(1.0 / 3.0).label(),
            "sd3.333333333333333e-1"
        );
        assert!(Difficulty::Share(f64::MAX).label().len() < 30);
        assert_eq!(Difficulty::Nbits("1d00ffff".into()).label(), "nb1d00ffff");
        assert_eq!(Difficulty::Share(1.5).label(), "sd1.5");
        assert_eq!(Difficulty::Share(1.0).label(), "sd1");
        assert_eq!(
            Difficulty::Nbits("1d00ffff".into()).target(),
            Difficulty::Share(1.0).target()
        );
        let e = Difficulty::ZeroBits(16).expected_hashes_per_share();
        assert!((e - 65536.0).abs() < 1e-6, "{e}");
        assert_eq!(
            serde_json::to_string(&Difficulty::ZeroBits(20)).unwrap(),
            r#"{"zero_bits":20}"#
        );
        assert_eq!(
            serde_json::to_string(&SampleSpec::DurationNs(5)).unwrap(),
            r#"{"duration_ns":5}"#
        );
        assert_eq!(
            serde_json::to_string(&HeaderSpec::Synthetic { seed: 7 }).unwrap(),
            r#"{"kind":"synthetic","seed":7}"#
        );
    }
}
