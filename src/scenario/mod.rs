//! Scenario files: the TOML format, validation with file:line:key errors, and pure expansion
//! into a [`Plan`]. Must not: touch clocks or threads.
//!
//! Loading is two stages. Serde reads the file into `Raw*` structs that mirror what the user
//! writes: every table denies unknown keys, every key is optional, and every value worth
//! complaining about is wrapped in [`toml::Spanned`] so we know its byte span. Then `validate`
//! checks *everything* (required keys, ranges, names, exclusive choices) against those spans and
//! builds the resolved specs; [`plan::expand`] turns the matrix into Cases. Keeping every key
//! optional at the serde level is deliberate: a missing key then gets our own
//! "file:line: key: missing required key" instead of serde's pathless "missing field".
//!
//! The file format (every key below is optional unless marked required):
//! ```toml
//! name = "thread-scaling"          # required; [A-Za-z0-9._-]+
//! description = "..."
//! [work]
//! header = "synthetic"             # default; or 160 hex digits
//! seed = 7                         # synthetic only; default 1
//! difficulty = { zero_bits = 20 }  # or { nbits = "1d00ffff" } or { share = 1.0 }; exactly one
//!                                  # key; required unless matrix.difficulty is given
//! [matrix]                         # required; every combination becomes a Case
//! backend = ["auto", "sha2"]       # required, non-empty
//! scheduler = ["atomic"]           # required, non-empty
//! threads = [1, 2]                 # required; or "all" (logical cores); each 1..=1024
//! difficulty = [{ zero_bits = 16 }]  # overrides work.difficulty
//! [measure]
//! warmup = "500ms"                 # humantime; may be "0s"
//! samples = 5                      # 1..=10000
//! sample = { duration = "300ms" }  # or { nonces = 20_000_000 } (1..=2^32); exactly one key
//! batch = 4096                     # 1..=2^32
//! job_interval = "200ms"           # default: no job switches
//! pin_threads = false
//! [profile]
//! flamegraph = true
//! frequency = 997                  # Hz, 1..=10000
//! ```

pub mod plan;
mod raw;
mod span;
mod validate;

use std::path::Path;

use toml::de::DeTable;

use raw::*;
use span::*;
use validate::*;

pub use validate::MIN_JOB_INTERVAL_NS;

pub use plan::{
    expand, external_name, Case, Difficulty, ExternalSpec, HeaderSpec, MatrixSpec, MeasureSpec,
    Plan, ProfileSpec, SampleSpec, ThreadsSpec, WorkSpec, EXTERNAL_PREFIX, EXTERNAL_SCHEDULER,
};

/// The built-in default scenario (what `minebench run` does without a file).
pub const QUICK: &str = include_str!("../../scenarios/quick.toml");

/// The origin [`builtin_quick`] reports as [`Plan::source`].
pub const QUICK_ORIGIN: &str = "built-in:quick";

/// The largest thread count a scenario may ask for: the schedulers' one limit.
pub const MAX_THREADS: i64 = crate::sched::MAX_THREADS as i64;

pub use plan::Catalog;

/// Facts about the machine that expansion needs, passed in so planning stays pure.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// What `threads = "all"` becomes.
    pub logical_cores: usize,
    /// The backend and scheduler names a scenario may use, with their availability here.
    pub catalog: Catalog,
    /// `run --pool` will supply the jobs and the difficulty: a scenario need not give either.
    pub pool_given: bool,
}

impl PlanOptions {
    /// Options for this machine (`std::thread::available_parallelism`, 1 if unknown) and the
    /// names in `registry`.
    pub fn detect(registry: &crate::Registry) -> PlanOptions {
        PlanOptions {
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            catalog: registry.catalog(),
            pool_given: false,
        }
    }
}

/// Why a scenario could not be loaded. Every variant after `Read` names the file, the 1-based
/// line and the dotted key; the CLI maps them all to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read, is not a regular file, or is too large.
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: crate::input::ReadError,
    },
    #[error("{file}:{line}: {key}: TOML syntax error: {message}")]
    Syntax {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{file}:{line}: {key}: missing required key")]
    Missing {
        file: String,
        line: usize,
        key: String,
    },
    #[error("{file}:{line}: {key}: {message}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
}

impl ScenarioError {
    /// The 1-based line the error points at (`None` for an unreadable file).
    pub fn line(&self) -> Option<usize> {
        match self {
            ScenarioError::Read { .. } => None,
            ScenarioError::Syntax { line, .. }
            | ScenarioError::Missing { line, .. }
            | ScenarioError::Invalid { line, .. } => Some(*line),
        }
    }

    /// The dotted key the error is about (`None` for an unreadable file).
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Read { .. } => None,
            ScenarioError::Syntax { key, .. }
            | ScenarioError::Missing { key, .. }
            | ScenarioError::Invalid { key, .. } => Some(key),
        }
    }
}

/// Reads, validates and expands the scenario at `path`; [`Plan::source`] is `path` as given.
pub fn load_file(path: &Path, opts: &PlanOptions) -> Result<Plan, ScenarioError> {
    let origin = path.display().to_string();
    let text = crate::input::read_text(path, crate::input::MAX_SCENARIO_BYTES, "scenario")
        .map_err(|source| match source.line() {
            // Bytes that are not UTF-8 are a syntax error on a line, like any other.
            Some(line) => ScenarioError::Syntax {
                file: origin.clone(),
                line,
                key: DOCUMENT.to_string(),
                message: source.to_string(),
            },
            None => ScenarioError::Read {
                path: origin.clone(),
                source,
            },
        })?;
    load_str(&text, &origin, opts)
}

/// Validates and expands scenario `text`; `origin` names it in errors and in [`Plan::source`].
pub fn load_str(text: &str, origin: &str, opts: &PlanOptions) -> Result<Plan, ScenarioError> {
    let ctx = Ctx { origin, text };
    // Parse once without serde so a syntax error is reported as one (and not as a type error).
    if let Err(e) = DeTable::parse(text) {
        let (line, key) = ctx.locate_error(&e);
        return Err(ScenarioError::Syntax {
            file: origin.to_string(),
            line,
            key,
            message: one_line(e.message()),
        });
    }
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let (line, mut key) = ctx.locate_error(&e);
        // Inside an inline table the span covers the table, not the unknown key: name the key
        // from serde's "unknown field `x`, expected …" message.
        if let Some(unknown) = unknown_field(e.message()) {
            if key == DOCUMENT {
                key = unknown.to_string();
            } else if key.rsplit('.').next() != Some(unknown) {
                key = format!("{key}.{unknown}");
            }
        }
        // Serde says "field" and "i64"; a TOML user knows keys and integers.
        let message = one_line(e.message())
            .replacen("unknown field", "unknown key", 1)
            .replace("expected i64", "expected an integer");
        ScenarioError::Invalid {
            file: origin.to_string(),
            line,
            key,
            message,
        }
    })?;
    ctx.validate(raw, opts)
}

/// The built-in quick scenario ([`QUICK`]), with source `built-in:quick`.
pub fn builtin_quick(opts: &PlanOptions) -> Plan {
    load_str(QUICK, QUICK_ORIGIN, opts)
        .expect("the built-in quick scenario is valid (scenario tests load it)")
}

/// What `run` without a scenario runs: [`builtin_quick`], widened to every backend the catalog
/// holds beyond the built-ins (`extra_backends`) and every extra scheduler, so a user's
/// `cargo bench` with no arguments measures their own code beside `auto` and the portable
/// baseline.
pub fn quick_with(opts: &PlanOptions, extra_backends: &[&str], extra_schedulers: &[&str]) -> Plan {
    let mut plan = builtin_quick(opts);
    if extra_backends.is_empty() && extra_schedulers.is_empty() {
        return plan;
    }
    let add = |list: &mut Vec<String>, extra: &[&str]| {
        for name in extra {
            if !list.iter().any(|n| n == name) {
                list.push(name.to_string());
            }
        }
    };
    add(&mut plan.matrix.backend, extra_backends);
    add(&mut plan.matrix.scheduler, extra_schedulers);
    plan.cases = plan::expand(&plan.matrix, &opts.catalog);
    plan
}

/// [`quick_with`] for everything `registry` adds to the built-ins.
pub fn default_plan(opts: &PlanOptions, registry: &crate::Registry) -> Plan {
    quick_with(
        opts,
        &registry.user_backend_names(),
        &registry.user_scheduler_names(),
    )
}

#[cfg(test)]
mod tests;
