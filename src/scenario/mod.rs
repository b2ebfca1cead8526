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

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::pow::{Header, Target, TargetError};

pub use plan::{
    expand, Case, Difficulty, HeaderSpec, MatrixSpec, MeasureSpec, Plan, ProfileSpec, SampleSpec,
    ThreadsSpec, WorkSpec,
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
}

impl PlanOptions {
    /// Options for this machine (`std::thread::available_parallelism`, 1 if unknown) and the
    /// names in `registry`.
    pub fn detect(registry: &crate::Registry) -> PlanOptions {
        PlanOptions {
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            catalog: registry.catalog(),
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

// ---- what the user writes -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<Spanned<String>>,
    description: Option<String>,
    work: Option<Spanned<RawWork>>,
    matrix: Option<Spanned<RawMatrix>>,
    measure: Option<Spanned<RawMeasure>>,
    profile: Option<Spanned<RawProfile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWork {
    header: Option<Spanned<String>>,
    seed: Option<Spanned<i64>>,
    difficulty: Option<Spanned<RawDifficulty>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDifficulty {
    zero_bits: Option<Spanned<i64>>,
    nbits: Option<Spanned<String>>,
    share: Option<Spanned<f64>>,
}

type SpannedList<T> = Spanned<Vec<Spanned<T>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    backend: Option<SpannedList<String>>,
    scheduler: Option<SpannedList<String>>,
    threads: Option<Spanned<RawThreads>>,
    difficulty: Option<SpannedList<RawDifficulty>>,
}

/// `threads = [1, 2]` or `threads = "all"`. A hand-written visitor rather than an untagged enum:
/// untagged enums buffer the value, which loses the element spans.
enum RawThreads {
    List(Vec<Spanned<i64>>),
    Word(String),
}

impl<'de> Deserialize<'de> for RawThreads {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawThreads;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"all\" or a list of thread counts")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawThreads, E> {
                Ok(RawThreads::Word(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawThreads, A::Error> {
                let mut list = Vec::new();
                while let Some(n) = seq.next_element()? {
                    list.push(n);
                }
                Ok(RawThreads::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    warmup: Option<Spanned<String>>,
    samples: Option<Spanned<i64>>,
    sample: Option<Spanned<RawSample>>,
    batch: Option<Spanned<i64>>,
    job_interval: Option<Spanned<String>>,
    pin_threads: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    duration: Option<Spanned<String>>,
    nonces: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    flamegraph: Option<bool>,
    frequency: Option<Spanned<i64>>,
}

// ---- validation ------------------------------------------------------------------------------

const DEFAULT_SEED: u64 = 1;
const DEFAULT_WARMUP_NS: u64 = 500_000_000;
const DEFAULT_SAMPLES: u32 = 5;
const DEFAULT_SAMPLE_NS: u64 = 300_000_000;
const DEFAULT_BATCH: u64 = 4096;
const DEFAULT_FREQUENCY_HZ: u32 = 997;
/// The longest scenario name: it becomes `<name>-<UTC stamp>[-n]`, a directory name.
const MAX_NAME_LEN: usize = 64;
/// The longest warm-up, sample or job interval: an hour.
const MAX_PHASE_NS: u64 = 3_600_000_000_000;
/// The shortest sample window: 1 ms (a few hundred batches).
const MIN_SAMPLE_NS: u64 = 1_000_000;
/// The shortest job interval the harness can honour: its controller thread sleeps between
/// events and wakes at most about once a millisecond, so faster "switches" would pile up.
pub const MIN_JOB_INTERVAL_NS: u64 = 1_000_000;
/// One job's whole nonce space: a batch or a counted sample never needs more.
const NONCE_SPACE: i64 = 1 << 32;

/// The key named in an error that no key can be found for (e.g. a syntax error on line 1).
const DOCUMENT: &str = "(document)";

/// The text being validated and its name, to turn byte spans into `file:line: key:` errors.
struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
}

/// What a validation step returns.
type Checked<T> = Result<T, ScenarioError>;

impl Ctx<'_> {
    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    fn invalid(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.origin.to_string(),
            line: self.line(span.start),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// A missing key; `table` is the span of the table that should hold it (`None`: top level).
    fn missing(&self, table: Option<Range<usize>>, key: &str) -> ScenarioError {
        ScenarioError::Missing {
            file: self.origin.to_string(),
            line: table.map_or(1, |span| self.line(span.start)),
            key: key.to_string(),
        }
    }

    /// Line and dotted key for an error from the toml crate. The key comes from the parsed
    /// document (the deepest key whose key or value span holds the error); for a syntax error,
    /// where there is no document, from the text around the line.
    fn locate_error(&self, e: &toml::de::Error) -> (usize, String) {
        let Some(span) = e.span() else {
            return (1, DOCUMENT.to_string());
        };
        let line = self.line(span.start);
        let key =
            key_path_at(self.text, span.start).unwrap_or_else(|| key_from_lines(self.text, line));
        (line, key)
    }

    fn validate(&self, raw: RawScenario, opts: &PlanOptions) -> Checked<Plan> {
        let name = raw.name.ok_or_else(|| self.missing(None, "name"))?;
        self.check_name(&name)?;

        let (work, work_span) = match raw.work {
            Some(w) => {
                let span = w.span();
                (Some(w.into_inner()), Some(span))
            }
            None => (None, None),
        };
        let header = self.header(work.as_ref())?;
        let work_difficulty = match work.as_ref().and_then(|w| w.difficulty.as_ref()) {
            Some(d) => Some(self.difficulty(d, "work.difficulty")?),
            None => None,
        };

        let matrix = raw.matrix.ok_or_else(|| self.missing(None, "matrix"))?;
        let matrix_span = matrix.span();
        let matrix = matrix.into_inner();
        let backend = self.backends(matrix.backend, &matrix_span, opts)?;
        let scheduler = self.schedulers(matrix.scheduler, &matrix_span, opts)?;
        let threads = self.threads(matrix.threads, &matrix_span, opts)?;
        let difficulty = match (&matrix.difficulty, &work_difficulty) {
            (Some(list), _) => {
                let list_span = list.span();
                if list.get_ref().is_empty() {
                    return Err(self.invalid(
                        list_span,
                        "matrix.difficulty",
                        "must list at least one difficulty (or leave it out to use work.difficulty)",
                    ));
                }
                list.get_ref()
                    .iter()
                    .map(|d| self.difficulty(d, "matrix.difficulty"))
                    .collect::<Checked<Vec<_>>>()?
            }
            (None, Some(d)) => vec![d.clone()],
            (None, None) => return Err(self.missing(work_span, "work.difficulty")),
        };
        let work = WorkSpec {
            header,
            difficulty: work_difficulty.unwrap_or_else(|| difficulty[0].clone()),
        };
        let matrix = MatrixSpec {
            backend,
            scheduler,
            threads,
            difficulty,
        };

        let measure = self.measure(raw.measure.map(Spanned::into_inner))?;
        let profile = self.profile(raw.profile.map(Spanned::into_inner))?;

        Ok(Plan {
            name: name.into_inner(),
            description: raw.description.unwrap_or_default(),
            source: self.origin.to_string(),
            work,
            measure,
            profile,
            cases: plan::expand(&matrix, &opts.catalog),
            matrix,
        })
    }

    fn check_name(&self, name: &Spanned<String>) -> Checked<()> {
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let text = name.get_ref();
        if text.len() > MAX_NAME_LEN {
            return Err(self.invalid(
                name.span(),
                "name",
                format!(
                    "{} characters is too long: use at most {MAX_NAME_LEN} (it becomes part of \
                     a directory name)",
                    text.len()
                ),
            ));
        }
        if text.is_empty() || !text.chars().all(ok) {
            return Err(self.invalid(
                name.span(),
                "name",
                format!(
                    "{text:?} is not a valid name: use letters, digits, '.', '_' and '-' only \
                     (it becomes part of a directory name)"
                ),
            ));
        }
        Ok(())
    }

    fn header(&self, work: Option<&RawWork>) -> Checked<HeaderSpec> {
        let seed = match work.and_then(|w| w.seed.as_ref()) {
            Some(seed) => {
                let value = u64::try_from(*seed.get_ref()).map_err(|_| {
                    self.invalid(
                        seed.span(),
                        "work.seed",
                        format!("must be 0 or more, got {}", seed.get_ref()),
                    )
                })?;
                Some((value, seed.span()))
            }
            None => None,
        };
        let Some(header) = work.and_then(|w| w.header.as_ref()) else {
            return Ok(HeaderSpec::Synthetic {
                seed: seed.map_or(DEFAULT_SEED, |(s, _)| s),
            });
        };
        if header.get_ref() == "synthetic" {
            return Ok(HeaderSpec::Synthetic {
                seed: seed.map_or(DEFAULT_SEED, |(s, _)| s),
            });
        }
        let parsed = Header::from_hex(header.get_ref()).map_err(|e| {
            self.invalid(
                header.span(),
                "work.header",
                format!("expected \"synthetic\" or a 160-hex-digit block header: {e}"),
            )
        })?;
        if let Some((_, span)) = seed {
            return Err(self.invalid(
                span,
                "work.seed",
                "a seed only applies to header = \"synthetic\"; remove it or the hex header",
            ));
        }
        Ok(HeaderSpec::Hex {
            hex: parsed.to_hex(),
        })
    }

    /// A `{ zero_bits | nbits | share }` table; `key` is where it sits (for messages).
    fn difficulty(&self, raw: &Spanned<RawDifficulty>, key: &str) -> Checked<Difficulty> {
        let d = raw.get_ref();
        let given: Vec<&str> = [
            d.zero_bits.as_ref().map(|_| "zero_bits"),
            d.nbits.as_ref().map(|_| "nbits"),
            d.share.as_ref().map(|_| "share"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() != 1 {
            let got = if given.is_empty() {
                "none".to_string()
            } else {
                given.join(" and ")
            };
            return Err(self.invalid(
                raw.span(),
                key,
                format!("give exactly one of zero_bits, nbits, share (got {got})"),
            ));
        }
        let target_err = |span: Range<usize>, sub: &str, e: TargetError| {
            self.invalid(span, &format!("{key}.{sub}"), e.to_string())
        };
        if let Some(bits) = &d.zero_bits {
            let n = u32::try_from(*bits.get_ref()).map_err(|_| {
                self.invalid(
                    bits.span(),
                    &format!("{key}.zero_bits"),
                    format!("must be 0..=255, got {}", bits.get_ref()),
                )
            })?;
            Target::from_zero_bits(n).map_err(|e| target_err(bits.span(), "zero_bits", e))?;
            return Ok(Difficulty::ZeroBits(n));
        }
        if let Some(nbits) = &d.nbits {
            Target::from_compact_hex(nbits.get_ref())
                .map_err(|e| target_err(nbits.span(), "nbits", e))?;
            // Validated above: 8 hex digits after an optional 0x; store them one way.
            let digits = nbits.get_ref();
            let digits = digits.strip_prefix("0x").unwrap_or(digits);
            return Ok(Difficulty::Nbits(digits.to_ascii_lowercase()));
        }
        let share = d
            .share
            .as_ref()
            .expect("exactly one key is present (checked above)");
        Target::from_share_difficulty(*share.get_ref())
            .map_err(|e| target_err(share.span(), "share", e))?;
        Ok(Difficulty::Share(*share.get_ref()))
    }

    /// A required, non-empty list of names under `[matrix]`.
    fn name_list<'l>(
        &self,
        list: &'l Option<SpannedList<String>>,
        matrix: &Range<usize>,
        key: &str,
        what: &str,
    ) -> Checked<&'l [Spanned<String>]> {
        let list = list
            .as_ref()
            .ok_or_else(|| self.missing(Some(matrix.clone()), key))?;
        if list.get_ref().is_empty() {
            return Err(self.invalid(list.span(), key, format!("must list at least one {what}")));
        }
        Ok(list.get_ref())
    }

    fn backends(
        &self,
        list: Option<SpannedList<String>>,
        matrix: &Range<usize>,
        opts: &PlanOptions,
    ) -> Checked<Vec<String>> {
        let key = "matrix.backend";
        self.name_list(&list, matrix, key, "backend")?
            .iter()
            .map(|name| {
                // Unavailable-but-known is fine here (the Case is planned as skipped); only an
                // unknown name is an error.
                let n = name.get_ref();
                if n == "auto" || opts.catalog.has_backend(n) {
                    Ok(n.clone())
                } else {
                    Err(self.invalid(
                        name.span(),
                        key,
                        format!(
                            "unknown backend {n:?}; known backends: auto, {}",
                            opts.catalog.backend_names()
                        ),
                    ))
                }
            })
            .collect()
    }

    fn schedulers(
        &self,
        list: Option<SpannedList<String>>,
        matrix: &Range<usize>,
        opts: &PlanOptions,
    ) -> Checked<Vec<String>> {
        let key = "matrix.scheduler";
        self.name_list(&list, matrix, key, "scheduler")?
            .iter()
            .map(|name| {
                let n = name.get_ref();
                if opts.catalog.has_scheduler(n) {
                    Ok(n.clone())
                } else {
                    Err(self.invalid(
                        name.span(),
                        key,
                        format!(
                            "unknown scheduler {n:?}; known schedulers: {}",
                            opts.catalog.scheduler_names()
                        ),
                    ))
                }
            })
            .collect()
    }

    fn threads(
        &self,
        threads: Option<Spanned<RawThreads>>,
        matrix: &Range<usize>,
        opts: &PlanOptions,
    ) -> Checked<ThreadsSpec> {
        let key = "matrix.threads";
        let threads = threads.ok_or_else(|| self.missing(Some(matrix.clone()), key))?;
        let span = threads.span();
        match threads.into_inner() {
            RawThreads::Word(word) if word == "all" => Ok(ThreadsSpec::All {
                logical_cores: opts.logical_cores.clamp(1, MAX_THREADS as usize),
            }),
            RawThreads::Word(word) => Err(self.invalid(
                span,
                key,
                format!("expected \"all\" or a list of thread counts, got {word:?}"),
            )),
            RawThreads::List(list) if list.is_empty() => Err(self.invalid(
                span,
                key,
                "must list at least one thread count (or say \"all\")",
            )),
            RawThreads::List(list) => list
                .iter()
                .map(|n| self.int_in(n, key, 1, MAX_THREADS).map(|n| n as usize))
                .collect::<Checked<Vec<_>>>()
                .map(ThreadsSpec::List),
        }
    }

    /// An integer within `lo..=hi`.
    fn int_in(&self, value: &Spanned<i64>, key: &str, lo: i64, hi: i64) -> Checked<i64> {
        let v = *value.get_ref();
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.invalid(value.span(), key, format!("must be {lo}..={hi}, got {v}")))
        }
    }

    /// A humantime duration ("500ms", "1.5s", "0s") in nanoseconds.
    fn duration_ns(&self, value: &Spanned<String>, key: &str) -> Checked<u64> {
        let text = value.get_ref();
        let d = humantime::parse_duration(text.trim()).map_err(|e| {
            self.invalid(
                value.span(),
                key,
                format!("{text:?} is not a duration ({e}); write e.g. \"500ms\" or \"2s\""),
            )
        })?;
        u64::try_from(d.as_nanos())
            .map_err(|_| self.invalid(value.span(), key, format!("{text:?} is too long")))
    }

    /// A duration in `min_ns..=max_ns`, the bounds named in the error in the user's units.
    fn duration_in(
        &self,
        value: &Spanned<String>,
        key: &str,
        min_ns: u64,
        max_ns: u64,
        why: &str,
    ) -> Checked<u64> {
        let ns = self.duration_ns(value, key)?;
        if (min_ns..=max_ns).contains(&ns) {
            return Ok(ns);
        }
        let show = |ns: u64| humantime::format_duration(Duration::from_nanos(ns)).to_string();
        Err(self.invalid(
            value.span(),
            key,
            format!(
                "{:?} is out of range: use {} to {} ({why})",
                value.get_ref(),
                show(min_ns),
                show(max_ns)
            ),
        ))
    }

    fn measure(&self, raw: Option<RawMeasure>) -> Checked<MeasureSpec> {
        let Some(m) = raw else {
            return Ok(MeasureSpec {
                warmup_ns: DEFAULT_WARMUP_NS,
                samples: DEFAULT_SAMPLES,
                sample: SampleSpec::DurationNs(DEFAULT_SAMPLE_NS),
                batch: DEFAULT_BATCH,
                job_interval_ns: None,
                pin_threads: false,
            });
        };
        let warmup_ns = match &m.warmup {
            Some(w) => self.duration_in(
                w,
                "measure.warmup",
                0,
                MAX_PHASE_NS,
                "a Ctrl-C waits for nothing longer",
            )?,
            None => DEFAULT_WARMUP_NS,
        };
        let samples = match &m.samples {
            Some(n) => self.int_in(n, "measure.samples", 1, 10_000)? as u32,
            None => DEFAULT_SAMPLES,
        };
        let sample = match &m.sample {
            Some(s) => self.sample(s)?,
            None => SampleSpec::DurationNs(DEFAULT_SAMPLE_NS),
        };
        let batch = match &m.batch {
            Some(b) => self.int_in(b, "measure.batch", 1, NONCE_SPACE)? as u64,
            None => DEFAULT_BATCH,
        };
        let job_interval_ns = match &m.job_interval {
            Some(j) => Some(self.duration_in(
                j,
                "measure.job_interval",
                MIN_JOB_INTERVAL_NS,
                MAX_PHASE_NS,
                "the harness switches jobs from a thread that wakes at most once a millisecond",
            )?),
            None => None,
        };
        Ok(MeasureSpec {
            warmup_ns,
            samples,
            sample,
            batch,
            job_interval_ns,
            pin_threads: m.pin_threads.unwrap_or(false),
        })
    }

    fn sample(&self, raw: &Spanned<RawSample>) -> Checked<SampleSpec> {
        match (&raw.get_ref().duration, &raw.get_ref().nonces) {
            (Some(d), None) => Ok(SampleSpec::DurationNs(self.duration_in(
                d,
                "measure.sample.duration",
                MIN_SAMPLE_NS,
                MAX_PHASE_NS,
                "shorter samples measure the clock, longer ones are better split into samples",
            )?)),
            (None, Some(n)) => {
                Ok(SampleSpec::Nonces(
                    self.int_in(n, "measure.sample.nonces", 1, NONCE_SPACE)? as u64,
                ))
            }
            (Some(_), Some(_)) | (None, None) => Err(self.invalid(
                raw.span(),
                "measure.sample",
                "give exactly one of duration, nonces",
            )),
        }
    }

    fn profile(&self, raw: Option<RawProfile>) -> Checked<ProfileSpec> {
        let raw = raw.unwrap_or(RawProfile {
            flamegraph: None,
            frequency: None,
        });
        let frequency_hz = match &raw.frequency {
            Some(f) => self.int_in(f, "profile.frequency", 1, 10_000)? as u32,
            None => DEFAULT_FREQUENCY_HZ,
        };
        Ok(ProfileSpec {
            flamegraph: raw.flamegraph.unwrap_or(true),
            frequency_hz,
        })
    }
}

/// Error messages from the toml crate may span lines; ours are one line after `file:line: key:`.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `x` from serde's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

/// The dotted key at byte `offset` of a document that parses: the deepest key whose own span or
/// value span holds the offset. Array elements add no index (the line number tells them apart).
fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let doc = DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    locate_in_table(doc.get_ref(), offset, &mut path);
    (!path.is_empty()).then(|| path.join("."))
}

fn holds(span: Range<usize>, offset: usize) -> bool {
    // An empty span still "holds" its start, so errors at zero-width spans find their key.
    span.start <= offset && offset < span.end.max(span.start + 1)
}

fn locate_in_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) {
    for (key, value) in table.iter() {
        if holds(key.span(), offset) {
            path.push(key.get_ref().to_string());
            return;
        }
        if holds(value.span(), offset) {
            path.push(key.get_ref().to_string());
            locate_in_value(value, offset, path);
            return;
        }
    }
}

fn locate_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<String>) {
    match value.get_ref() {
        DeValue::Table(table) => locate_in_table(table, offset, path),
        DeValue::Array(items) => {
            if let Some(item) = items.iter().find(|item| holds(item.span(), offset)) {
                locate_in_value(item, offset, path);
            }
        }
        _ => {}
    }
}

/// Best-effort key for a syntax error on 1-based `line`: the last `[table]` header at or above
/// it, plus the bare key before `=` on the line itself.
fn key_from_lines(text: &str, line: usize) -> String {
    let mut table = String::new();
    let mut key = String::new();
    for (i, l) in text.lines().take(line).enumerate() {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix('[') {
            // `[a.b]`, `[[a]]`, or an unclosed `[a` (itself a syntax error worth naming).
            let inner = rest.trim_start_matches('[');
            let end = inner.find([']', '#']).unwrap_or(inner.len());
            table = inner[..end].trim().to_string();
        }
        if i + 1 == line {
            if let Some((k, _)) = l.split_once('=') {
                let k = k.trim();
                let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
                if !k.is_empty() && k.chars().all(bare) {
                    key = k.to_string();
                }
            }
        }
    }
    match (table.is_empty(), key.is_empty()) {
        (true, true) => DOCUMENT.to_string(),
        (true, false) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}

#[cfg(test)]
mod tests;
