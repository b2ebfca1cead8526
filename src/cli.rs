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
    // -- render helper: `render` and `flame` --
    /// Rebuild every output of a report (plots, flamegraphs, HTML, Markdown) without re-running.
    Render(RenderArgs),
    /// Differential flamegraph of two profiles (per hash when the hash counts are known).
    Flame(FlameArgs),
    // -- end render helper --
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

// -- render helper: `render` and `flame` arguments --

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
    /// Hashes done while A (a .folded file) was profiled: with --hashes-b, scales per hash.
    #[arg(long)]
    pub hashes_a: Option<u64>,
    /// Hashes done while B (a .folded file) was profiled.
    #[arg(long)]
    pub hashes_b: Option<u64>,
}

// -- end render helper --
