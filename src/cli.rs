//! Command-line types (clap derive) only. Nothing outside this file and `cmd/` sees clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "minebench",
    version,
    about = "Profile and benchmark the hot paths of SHA-256d mining"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List hashing backends: available here or not, and why; CPU features seen.
    Backends {
        #[arg(long)]
        json: bool,
    },
    /// Hash one 80-byte header: block hash, leading zero bits, whether it meets its own nBits.
    Hash {
        /// The header as 160 hex digits.
        header: String,
        #[arg(long)]
        json: bool,
    },
    /// Search a nonce range of a header for hashes meeting a target.
    Scan(ScanArgs),
    /// Run scenarios (default: the built-in quick scenario) and write a report for each.
    Run(RunArgs),
    /// Print the cases a scenario expands to, without hashing anything.
    Plan(PlanArgs),
    /// Rebuild every output of a report (plots, flamegraphs, HTML, Markdown) without re-running.
    Render(RenderArgs),
    /// Differential flamegraph of two profiles (per hash when the hash counts are known).
    Flame(FlameArgs),
    /// Compare two reports case by case: change in hash rate with a 95 % CI, p-value, verdict.
    Compare(CompareArgs),
    /// Export a report for a benchmark tracker (Bencher BMF, github-action-benchmark).
    Export(ExportArgs),
    /// Merge reports of one scenario (rounds of one build) into one report with every sample.
    MergeReports(MergeReportsArgs),
    /// Series of many runs per case and machine, with change points (E-divisive means and a
    /// Student t-test, as Apache Otava finds them).
    History(HistoryArgs),
    /// Play a Stratum v1 pool on loopback that any miner can be pointed at: every share is
    /// re-verified, the rate derived from verified work; a report with a case per connection.
    Pool(PoolArgs),
    /// Mine against a Stratum v1 pool with a minebench backend (a reference miner: it counts
    /// its own hashes, so the pool's share-derived rate can be checked against it).
    Mine(MineArgs),
    /// Find the commit where a case got slower: builds revisions between GOOD and BAD in
    /// temporary worktrees and bisects, measuring interleaved rounds at each step.
    Bisect(BisectArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files (TOML). None: the built-in quick scenario (scenarios/quick.toml).
    pub scenarios: Vec<PathBuf>,
    /// Reports root: each run writes <OUT>/<scenario>-<UTC timestamp>/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// No profiler and no overhead measurement: the cleanest numbers.
    #[arg(long)]
    pub no_profile: bool,
    /// Print the plan (as `minebench plan` does) and exit without hashing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// After the run, compare the report against the baseline DIR/NAME of --baselines-dir
    /// (checked before anything runs) and print the comparison.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Save the finished report (its whole directory) as the baseline DIR/NAME of
    /// --baselines-dir, replacing any previous one; with --baseline, after the comparison.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Where baselines are kept: the same default for every command, whatever --out is.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_BASELINES_DIR)]
    pub baselines_dir: PathBuf,
    #[command(flatten)]
    pub gate: GateArgs,
    /// With --baseline: the clock compared, `wall` or `cpu` (as for `compare`).
    #[arg(long, value_enum, default_value_t = MetricArg::Wall)]
    pub metric: MetricArg,
    /// With --baseline: write the comparison as a Markdown table to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// With --baseline: compare even if the baseline was measured on another machine.
    #[arg(long)]
    pub allow_different_machines: bool,
    /// Append each finished run's cases to the SQLite database FILE (created if missing), for
    /// `minebench history --db FILE`. An interrupted run is not appended.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Take every case's jobs from this stratum v1 pool (stratum+tcp://HOST:PORT) instead of
    /// the scenario's header; the pool sets the share difficulty. Overrides `[work] pool`.
    #[arg(long, value_name = "URL")]
    pub pool: Option<String>,
    /// With --pool: the worker name to authorise as (default: the scenario's, else minebench).
    #[arg(long, value_name = "USER")]
    pub pool_user: Option<String>,
    /// With --pool: the password to authorise with (default x).
    #[arg(long, value_name = "PASSWORD")]
    pub pool_password: Option<String>,
    /// `auto` is the first available backend in the static order instead of the fastest one
    /// measured here (a calibration of ~50 ms per backend before the cases).
    #[arg(long)]
    pub no_auto_calibration: bool,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// `--metrics`: live Prometheus metrics and an xmrig-style summary while a command runs.
#[derive(Debug, Args, Clone, Default)]
pub struct MetricsArgs {
    /// Serve /metrics (Prometheus text format) and /summary (xmrig-style JSON) on ADDR while
    /// running, e.g. 127.0.0.1:9184. Loopback only unless --metrics-allow-remote.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// With --metrics: require `Authorization: Bearer TOKEN` on every request.
    #[arg(long, value_name = "TOKEN")]
    pub metrics_token: Option<String>,
    /// With --metrics: allow a non-loopback address.
    #[arg(long)]
    pub metrics_allow_remote: bool,
}

/// `--metric`: the clock rates are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricArg {
    /// Hashes per second of elapsed time.
    Wall,
    /// Hashes per second of worker CPU time.
    Cpu,
}

impl MetricArg {
    pub fn metric(self) -> crate::report::Metric {
        match self {
            MetricArg::Wall => crate::report::Metric::Wall,
            MetricArg::Cpu => crate::report::Metric::Cpu,
        }
    }
}

/// Where baseline names are looked up and saved, by every command.
pub const DEFAULT_BASELINES_DIR: &str = "reports/baselines";

/// The regression gate's flags (`compare`, and `run` with `--baseline`).
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Exit 1 when a case is significantly slower by more than PCT % (used as given, even below
    /// the noise threshold), or a base case is missing; exit 3 when some case cannot be decided
    /// (too few samples, or a CI reaching past -PCT %).
    #[arg(long, value_name = "PCT", allow_negative_numbers = true)]
    pub fail_on_regression: Option<f64>,
    /// With --fail-on-regression: cases that cannot be decided do not fail the gate (exit 0
    /// instead of 3); they are still listed.
    #[arg(long)]
    pub allow_inconclusive: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Scenario file (TOML). None: the built-in quick scenario.
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The header template as 160 hex digits (its nonce field is ignored).
    #[arg(long)]
    pub header: String,
    /// First nonce.
    #[arg(long, default_value_t = 0)]
    pub start: u32,
    /// How many nonces (1 ..= 2^32; start + count must not run past u32::MAX).
    #[arg(long)]
    pub count: u64,
    /// Backend name, or `auto` for the fastest available here.
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Target as compact nBits (8 hex digits). Default: the header's own nBits.
    #[arg(long, group = "target")]
    pub nbits: Option<String>,
    /// Target: hashes with at least this many leading zero bits (0..=255).
    #[arg(long, group = "target")]
    pub zero_bits: Option<u32>,
    /// Target: pool share difficulty (1.0 = 0x00000000ffff·2^208).
    #[arg(long, group = "target", allow_negative_numbers = true)]
    pub share_difficulty: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The report to render (report.json of a run).
    pub report: PathBuf,
    /// Output directory. Default: the report's own directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FlameArgs {
    /// The two profiles, before and after. Each is a collapsed-stacks file (`x.folded`) or
    /// `REPORT.json#CASE_ID` (that case's profile and hash count, from the report).
    #[arg(long, num_args = 2, value_names = ["A", "B"], required = true)]
    pub diff: Vec<String>,
    /// Output SVG.
    #[arg(long, default_value = "flame-diff.svg")]
    pub out: PathBuf,
    /// Title. Default: "A → B".
    #[arg(long)]
    pub title: Option<String>,
    /// Hashes done while A (a .folded file) was profiled: with B's count (--hashes-b, or B's
    /// report), scales per hash. Without either flag: raw sample counts.
    #[arg(long)]
    pub hashes_a: Option<u64>,
    /// Hashes done while B (a .folded file) was profiled; pairs with --hashes-a.
    #[arg(long)]
    pub hashes_b: Option<u64>,
}

/// `minebench compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base: a report.json, a report directory, or a baseline name.
    pub base: PathBuf,
    /// The new report, in the same forms as BASE.
    pub new: PathBuf,
    /// Noise threshold in percent: smaller changes are never a verdict.
    #[arg(
        long,
        value_name = "PCT",
        default_value_t = 2.0,
        allow_negative_numbers = true
    )]
    pub threshold: f64,
    /// Significance level of the Mann-Whitney U test.
    #[arg(
        long,
        value_name = "A",
        default_value_t = 0.05,
        allow_negative_numbers = true
    )]
    pub alpha: f64,
    /// Also write the comparison as a Markdown table (for a CI step summary or a PR comment).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the comparison as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the comparison directory here: compare.html, compare.md, compare.json, the
    /// charts (plots/*.svg and .png) and a differential flamegraph per profiled case.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// The clock compared: `wall` (hashes per elapsed second) or `cpu` (hashes per second of
    /// worker CPU time, much less moved by other load on the machine).
    #[arg(long, value_enum, default_value_t = MetricArg::Wall)]
    pub metric: MetricArg,
    /// Compare even if the reports were measured on different machines.
    #[arg(long)]
    pub allow_different_machines: bool,
    /// Where baseline names are looked up.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_BASELINES_DIR)]
    pub baselines_dir: PathBuf,
}

/// The formats of `minebench export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// Bencher Metric Format JSON (throughput and latency per case).
    Bmf,
    /// github-action-benchmark `customBiggerIsBetter` JSON (MH/s per case).
    Gab,
}

/// `minebench export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// A report.json, a report directory, or a baseline name.
    pub report: PathBuf,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where baseline names are looked up.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_BASELINES_DIR)]
    pub baselines_dir: PathBuf,
}

/// `minebench merge-reports`.
#[derive(Debug, Args)]
pub struct MergeReportsArgs {
    /// Output: a .json file, or a directory that receives report.json.
    pub out: PathBuf,
    /// Reports to merge (report.json files or report directories), all of one scenario and build.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// `--order` of `minebench history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OrderArg {
    /// By the time each run started.
    Time,
    /// By commit, oldest first, as `git rev-list --topo-order` of --repo lists them; runs of
    /// one commit by time; runs of commits not in that history are left out.
    Commit,
}

/// `minebench history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// report.json files, or directories searched recursively for report.json.
    pub paths: Vec<PathBuf>,
    /// A database written by `run --history FILE`.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Only this case id (repeatable).
    #[arg(long = "case", value_name = "ID")]
    pub cases: Vec<String>,
    /// Order of the points of a series.
    #[arg(long, value_enum, default_value_t = OrderArg::Time)]
    pub order: OrderArg,
    /// With --order commit: the git repository whose history orders the commits.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The rate analysed: `wall` (median hashes per second) or `cpu` (per CPU second).
    #[arg(long, value_enum, default_value_t = MetricArg::Wall)]
    pub metric: MetricArg,
    /// Largest p-value of a change point (Otava's -P, default 0.001).
    #[arg(
        long = "p-value",
        value_name = "P",
        default_value_t = 0.001,
        allow_negative_numbers = true
    )]
    pub p_value: f64,
    /// Smallest change, in percent, a change point must exceed (Otava's --magnitude × 100).
    #[arg(
        long,
        value_name = "PCT",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub min_magnitude: f64,
    /// Points analysed at once (Otava's --window, default 50; at least 2).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub window: usize,
    /// Print the series and change points as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write the change points as a Markdown table to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Draw each series with its change points into DIR (SVG and PNG).
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Export each series as DIR/<series>.csv with DIR/otava.yaml, the input of `otava analyze`.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
}

/// `minebench bisect`.
#[derive(Debug, Args)]
pub struct BisectArgs {
    /// A revision where the case is fast.
    pub good: String,
    /// A later revision (GOOD must be an ancestor) where it is slow.
    pub bad: String,
    /// Scenario file relative to the repository, read from each revision's worktree when it has
    /// it there (else from the current checkout); an absolute path is used for every revision.
    #[arg(default_value = "scenarios/quick.toml")]
    pub scenario: PathBuf,
    /// The id of the case bisected (as in the report: backend/scheduler/tTHREADS/difficulty).
    #[arg(long = "case", value_name = "ID")]
    pub case: String,
    /// The git repository. Default: the top level of the one the current directory is in.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Rounds per revision at each step (each round one run, interleaved with the good side).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rounds: usize,
    /// Build command, run with `sh -c` in each revision's worktree, with CARGO_TARGET_DIR set
    /// (to its value here, else the repository's target/) so dependencies are built once.
    #[arg(
        long,
        value_name = "CMD",
        default_value = "cargo build --release --quiet --bin minebench"
    )]
    pub build: String,
    /// The binary the build leaves: relative to the worktree, or absolute. Default:
    /// $CARGO_TARGET_DIR/release/minebench.
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// Also write the result as DIR/bisect.md (Markdown) and DIR/bisect.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Keep the temporary worktrees, binaries and runs (their directory is printed).
    #[arg(long)]
    pub keep: bool,
    /// The clock compared: `wall` (hashes per elapsed second) or `cpu` (hashes per second of
    /// worker CPU time, much less moved by other load on the machine).
    #[arg(long, value_enum, default_value_t = MetricArg::Wall)]
    pub metric: MetricArg,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PoolArgs {
    /// Address to listen on. Anything but loopback needs --allow-remote.
    #[arg(long, default_value = "127.0.0.1:3333")]
    pub listen: String,
    /// Listen on a non-loopback address (the pool answers anyone who connects).
    #[arg(long)]
    pub allow_remote: bool,
    /// Vardiff: aim for this many shares per second per connection (default 20).
    #[arg(long, value_name = "N", conflicts_with = "difficulty")]
    pub share_rate: Option<f64>,
    /// A fixed share difficulty for every job instead of vardiff.
    #[arg(long, value_name = "D")]
    pub difficulty: Option<f64>,
    /// Send a new job (clean_jobs) this often, e.g. `30s`, `500ms`. Default: never.
    #[arg(long, value_name = "T")]
    pub job_interval: Option<String>,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_name = "T")]
    pub duration: Option<String>,
    /// Length of a sample window in the report (default 1s).
    #[arg(long, value_name = "T", default_value = "1s")]
    pub sample: String,
    /// Reports root: the pool writes <OUT>/pool-<UTC timestamp>/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Live lines and the final summary as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Args)]
pub struct MineArgs {
    /// The pool, `stratum+tcp://HOST:PORT`.
    #[arg(long)]
    pub pool: String,
    #[arg(long, default_value = "minebench")]
    pub user: String,
    #[arg(long, default_value = "x")]
    pub password: String,
    /// Hashing threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The backend (`minebench backends` lists them); default: auto.
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Stop after this long (default: until Ctrl-C).
    #[arg(long, value_name = "T")]
    pub duration: Option<String>,
    /// Ask for BIP 310 version rolling.
    #[arg(long)]
    pub version_rolling: bool,
    /// The final summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
