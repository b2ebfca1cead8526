//! Validation: every key of the raw scenario checked against its span (required keys, ranges,
//! names, exclusive choices), building the resolved specs; errors name file, line and key.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::raw::*;
use super::span::*;
use super::*;
use crate::pow::{Header, Target, TargetError};
use crate::scenario::plan::{external_name, PoolSpec, DEFAULT_POOL_USER};

/// Batch sizes by backend name (`matrix.batch = { NAME = [...] }`).
type BatchTable = BTreeMap<String, Vec<u64>>;

pub(super) const DEFAULT_SEED: u64 = 1;
pub(super) const DEFAULT_WARMUP_NS: u64 = 500_000_000;
pub(super) const DEFAULT_SAMPLES: u32 = 5;
pub(super) const DEFAULT_SAMPLE_NS: u64 = 300_000_000;
pub(super) const DEFAULT_BATCH: u64 = 4096;
pub(super) const DEFAULT_FREQUENCY_HZ: u32 = 997;
/// The longest scenario name: it becomes `<name>-<UTC stamp>[-n]`, a directory name.
pub(super) const MAX_NAME_LEN: usize = 64;
/// The longest warm-up, sample or job interval: an hour.
pub(super) const MAX_PHASE_NS: u64 = 3_600_000_000_000;
/// The shortest sample window: 1 ms (a few hundred batches).
pub(super) const MIN_SAMPLE_NS: u64 = 1_000_000;
/// The shortest job interval the harness can honour: its controller thread sleeps between
/// events and wakes at most about once a millisecond, so faster "switches" would pile up.
pub const MIN_JOB_INTERVAL_NS: u64 = 1_000_000;
/// One job's whole nonce space: a batch or a counted sample never needs more.
pub(super) const NONCE_SPACE: i64 = 1 << 32;

/// The key named in an error that no key can be found for (e.g. a syntax error on line 1).
pub(super) const DOCUMENT: &str = "(document)";

/// The text being validated and its name, to turn byte spans into `file:line: key:` errors.
pub(super) struct Ctx<'a> {
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
}

/// What a validation step returns.
pub(super) type Checked<T> = Result<T, ScenarioError>;

impl Ctx<'_> {
    /// The 1-based line holding byte `offset`.
    pub(super) fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    pub(super) fn invalid(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.origin.to_string(),
            line: self.line(span.start),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// A missing key; `table` is the span of the table that should hold it (`None`: top level).
    pub(super) fn missing(&self, table: Option<Range<usize>>, key: &str) -> ScenarioError {
        ScenarioError::Missing {
            file: self.origin.to_string(),
            line: table.map_or(1, |span| self.line(span.start)),
            key: key.to_string(),
        }
    }

    /// Line and dotted key for an error from the toml crate. The key comes from the parsed
    /// document (the deepest key whose key or value span holds the error); for a syntax error,
    /// where there is no document, from the text around the line.
    pub(super) fn locate_error(&self, e: &toml::de::Error) -> (usize, String) {
        let Some(span) = e.span() else {
            return (1, DOCUMENT.to_string());
        };
        let line = self.line(span.start);
        let key =
            key_path_at(self.text, span.start).unwrap_or_else(|| key_from_lines(self.text, line));
        (line, key)
    }

    pub(super) fn validate(&self, raw: RawScenario, opts: &PlanOptions) -> Checked<Plan> {
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

        let external = self.externals(raw.external)?;
        let matrix = raw.matrix.ok_or_else(|| self.missing(None, "matrix"))?;
        let matrix_span = matrix.span();
        let matrix = matrix.into_inner();
        let backend_list = matrix.backend;
        let backend = self.backends(&backend_list, &matrix_span, opts, &external)?;
        let scheduler = self.schedulers(matrix.scheduler, &matrix_span, opts)?;
        let threads = self.threads(matrix.threads, &matrix_span, opts)?;
        let pool = match work.as_ref().and_then(|w| w.pool.as_ref()) {
            Some(p) => Some(self.pool(p)?),
            None => None,
        };
        if pool.is_some() {
            // The pool sets the difficulty; a second source would be silently ignored.
            if let Some(d) = work.as_ref().and_then(|w| w.difficulty.as_ref()) {
                return Err(self.invalid(
                    d.span(),
                    "work.difficulty",
                    "cannot be given with work.pool: the pool sets the share difficulty",
                ));
            }
            if let Some(d) = &matrix.difficulty {
                return Err(self.invalid(
                    d.span(),
                    "matrix.difficulty",
                    "cannot be given with work.pool: the pool sets the share difficulty",
                ));
            }
            if let Some(b) = backend.iter().find(|b| external_name(b).is_some()) {
                return Err(self.invalid(
                    matrix_span.clone(),
                    "matrix.backend",
                    format!(
                        "{b}: an external miner takes its jobs from minebench's own loopback \
                         pool, not from work.pool"
                    ),
                ));
            }
        }
        let difficulty = match (&matrix.difficulty, &work_difficulty) {
            _ if pool.is_some() => vec![Difficulty::Pool],
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
            // `run --pool` sets it (Plan::use_pool).
            (None, None) if opts.pool_given => vec![Difficulty::Pool],
            (None, None) => return Err(self.missing(work_span, "work.difficulty")),
        };
        let work = WorkSpec {
            header,
            pool,
            difficulty: work_difficulty.unwrap_or_else(|| difficulty[0].clone()),
        };
        let (batch, batch_by_backend) = self.batches(
            matrix.batch.as_ref(),
            backend_list.as_ref(),
            raw.measure
                .as_ref()
                .and_then(|m| m.get_ref().batch.as_ref()),
        )?;
        let matrix = MatrixSpec {
            backend,
            scheduler,
            threads,
            difficulty,
            batch,
            batch_by_backend,
        };

        let measure_span = raw.measure.as_ref().map(|m| {
            m.get_ref()
                .sample
                .as_ref()
                .map_or_else(|| m.span(), Spanned::span)
        });
        let measure = self.measure(raw.measure.map(Spanned::into_inner))?;
        let profile = self.profile(raw.profile.map(Spanned::into_inner))?;
        if let SampleSpec::Nonces(_) = measure.sample {
            if let Some(name) = backend_list
                .iter()
                .flat_map(|l| l.get_ref())
                .find(|n| plan::external_name(n.get_ref()).is_some())
            {
                return Err(self.invalid(
                    measure_span.unwrap_or(name.span()),
                    "measure.sample",
                    format!(
                        "{:?} is an external miner, whose hashes are not counted but derived \
                         from its shares: its samples must be durations, not nonces",
                        name.get_ref()
                    ),
                ));
            }
        }

        Ok(Plan {
            name: name.into_inner(),
            description: raw.description.unwrap_or_default(),
            source: self.origin.to_string(),
            work,
            measure,
            profile,
            cases: plan::expand(&matrix, &opts.catalog),
            matrix,
            external,
        })
    }

    pub(super) fn check_name(&self, name: &Spanned<String>) -> Checked<()> {
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

    /// `[work] pool = { url, user, password }`.
    pub(super) fn pool(&self, raw: &Spanned<RawPool>) -> Checked<PoolSpec> {
        let p = raw.get_ref();
        let url = p
            .url
            .as_ref()
            .ok_or_else(|| self.missing(Some(raw.span()), "work.pool.url"))?;
        crate::stratum::client::parse_url(url.get_ref())
            .map_err(|e| self.invalid(url.span(), "work.pool.url", e.to_string()))?;
        Ok(PoolSpec {
            url: url.get_ref().clone(),
            user: p
                .user
                .as_ref()
                .map_or(DEFAULT_POOL_USER.to_string(), |u| u.get_ref().clone()),
            password: p
                .password
                .as_ref()
                .map_or("x".to_string(), |u| u.get_ref().clone()),
        })
    }

    pub(super) fn header(&self, work: Option<&RawWork>) -> Checked<HeaderSpec> {
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
    pub(super) fn difficulty(
        &self,
        raw: &Spanned<RawDifficulty>,
        key: &str,
    ) -> Checked<Difficulty> {
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
    pub(super) fn name_list<'l>(
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

    pub(super) fn backends(
        &self,
        list: &Option<SpannedList<String>>,
        matrix: &Range<usize>,
        opts: &PlanOptions,
        external: &BTreeMap<String, ExternalSpec>,
    ) -> Checked<Vec<String>> {
        let key = "matrix.backend";
        self.name_list(list, matrix, key, "backend")?
            .iter()
            .map(|name| {
                // Unavailable-but-known is fine here (the Case is planned as skipped); only an
                // unknown name is an error.
                let n = name.get_ref();
                if let Some(ext) = plan::external_name(n) {
                    return if external.contains_key(ext) {
                        Ok(n.clone())
                    } else {
                        let known: Vec<&str> = external.keys().map(String::as_str).collect();
                        Err(self.invalid(
                            name.span(),
                            key,
                            format!(
                                "{n:?} names no [external.{ext}] table; tables given: {}",
                                if known.is_empty() {
                                    "none".to_string()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        ))
                    };
                }
                if n == "auto" || opts.catalog.has_backend(n) {
                    Ok(n.clone())
                } else {
                    Err(self.invalid(
                        name.span(),
                        key,
                        format!(
                            "unknown backend {n:?}; known backends: auto, {}{}",
                            opts.catalog.backend_names(),
                            crate::registry::gpu_hint(n)
                        ),
                    ))
                }
            })
            .collect()
    }

    /// `[external.NAME]` tables: a path-safe NAME, a non-empty command whose placeholders are
    /// all known, durations in range.
    pub(super) fn externals(
        &self,
        raw: Option<Spanned<BTreeMap<String, Spanned<RawExternal>>>>,
    ) -> Checked<BTreeMap<String, ExternalSpec>> {
        let mut out = BTreeMap::new();
        let Some(raw) = raw else { return Ok(out) };
        for (name, table) in raw.into_inner() {
            let span = table.span();
            let base = format!("external.{name}");
            let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
            if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
                return Err(self.invalid(
                    span,
                    &base,
                    "the name must be 1 to 64 of A-Z a-z 0-9 . _ - (it becomes part of case ids)",
                ));
            }
            let t = table.into_inner();
            let key = format!("{base}.command");
            let command = t
                .command
                .ok_or_else(|| self.missing(Some(span.clone()), &key))?;
            if command.get_ref().is_empty() || command.get_ref()[0].get_ref().is_empty() {
                return Err(self.invalid(command.span(), &key, "must name a program to run"));
            }
            for arg in command.get_ref() {
                if let Some(bad) = unknown_placeholder(arg.get_ref()) {
                    return Err(self.invalid(
                        arg.span(),
                        &key,
                        format!(
                            "unknown placeholder {{{bad}}}; known: {}",
                            plan::EXTERNAL_PLACEHOLDERS
                                .iter()
                                .map(|p| format!("{{{p}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            if let Some(v) = &t.version {
                for arg in v.get_ref() {
                    if let Some(bad) = unknown_placeholder(arg.get_ref()) {
                        return Err(self.invalid(
                            arg.span(),
                            &format!("{base}.version"),
                            format!("unknown placeholder {{{bad}}}"),
                        ));
                    }
                }
            }
            let version = match t.version {
                Some(v) if v.get_ref().is_empty() => {
                    return Err(self.invalid(
                        v.span(),
                        &format!("{base}.version"),
                        "must name a program to run (or leave the key out)",
                    ))
                }
                Some(v) => Some(
                    v.into_inner()
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                ),
                None => None,
            };
            let duration = |v: &Option<Spanned<String>>, k: &str, default: u64| match v {
                Some(v) => self.duration_in(
                    v,
                    &format!("{base}.{k}"),
                    1_000_000,
                    MAX_PHASE_NS,
                    "a Ctrl-C waits for nothing longer",
                ),
                None => Ok(default),
            };
            let pprof = match t.pprof {
                Some(u) => {
                    let text = u.get_ref();
                    let key = format!("{base}.pprof");
                    if !text.starts_with("http://") {
                        return Err(self.invalid(
                            u.span(),
                            &key,
                            "must be an http:// base URL, e.g. \"http://127.0.0.1:{pprof_port}\"",
                        ));
                    }
                    if let Some(bad) = unknown_placeholder(text) {
                        return Err(self.invalid(
                            u.span(),
                            &key,
                            format!("unknown placeholder {{{bad}}}"),
                        ));
                    }
                    Some(u.into_inner())
                }
                None => None,
            };
            let spec = ExternalSpec {
                command: command
                    .into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
                version,
                startup_timeout_ns: duration(
                    &t.startup_timeout,
                    "startup_timeout",
                    10_000_000_000,
                )?,
                stop_grace_ns: duration(&t.stop_grace, "stop_grace", 2_000_000_000)?,
                env: t.env.unwrap_or_default(),
                user: t
                    .user
                    .map_or_else(|| "minebench".to_string(), Spanned::into_inner),
                password: t
                    .password
                    .map_or_else(|| "x".to_string(), Spanned::into_inner),
                pprof,
                go_schedtrace: t.go_schedtrace.unwrap_or(false),
            };
            out.insert(name, spec);
        }
        Ok(out)
    }

    pub(super) fn schedulers(
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

    /// `matrix.batch`: a list for every backend (then `measure.batch` may not be given), or a
    /// table of lists keyed by backend names as `matrix.backend` writes them.
    pub(super) fn batches(
        &self,
        raw: Option<&Spanned<RawBatch>>,
        backends: Option<&SpannedList<String>>,
        measure_batch: Option<&Spanned<i64>>,
    ) -> Checked<(Vec<u64>, BatchTable)> {
        let key = "matrix.batch";
        let Some(raw) = raw else {
            return Ok((Vec::new(), BTreeMap::new()));
        };
        let sizes = |list: &[Spanned<i64>], span: Range<usize>, key: &str| -> Checked<Vec<u64>> {
            if list.is_empty() {
                return Err(self.invalid(
                    span,
                    key,
                    "must list at least one batch size (or leave it out to use measure.batch)",
                ));
            }
            list.iter()
                .map(|b| self.int_in(b, key, 1, NONCE_SPACE).map(|b| b as u64))
                .collect()
        };
        match raw.get_ref() {
            RawBatch::List(list) => {
                if let Some(b) = measure_batch {
                    return Err(self.invalid(
                        b.span(),
                        "measure.batch",
                        "cannot be given with a matrix.batch list: every case takes its batch \
                         from the matrix (a table, matrix.batch = { NAME = [...] }, sweeps only \
                         the backends it names and leaves measure.batch to the others)",
                    ));
                }
                Ok((sizes(list, raw.span(), key)?, BTreeMap::new()))
            }
            RawBatch::Table(table) => {
                let mut by = BTreeMap::new();
                for (name, list) in table {
                    let k = format!("{key}.{}", name.get_ref());
                    let listed = backends
                        .map(|l| l.get_ref().iter().any(|b| b.get_ref() == name.get_ref()))
                        .unwrap_or(false);
                    if !listed {
                        return Err(self.invalid(
                            name.span(),
                            &k,
                            format!(
                                "{:?} is not in matrix.backend: name a backend as the matrix \
                                 writes it",
                                name.get_ref()
                            ),
                        ));
                    }
                    if plan::external_name(name.get_ref()).is_some() {
                        return Err(self.invalid(
                            name.span(),
                            &k,
                            "an external miner feeds itself: minebench's batch size is not its",
                        ));
                    }
                    by.insert(
                        name.get_ref().clone(),
                        sizes(list.get_ref(), list.span(), &k)?,
                    );
                }
                Ok((Vec::new(), by))
            }
        }
    }

    pub(super) fn threads(
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
    pub(super) fn int_in(&self, value: &Spanned<i64>, key: &str, lo: i64, hi: i64) -> Checked<i64> {
        let v = *value.get_ref();
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(self.invalid(value.span(), key, format!("must be {lo}..={hi}, got {v}")))
        }
    }

    /// A humantime duration ("500ms", "1.5s", "0s") in nanoseconds.
    pub(super) fn duration_ns(&self, value: &Spanned<String>, key: &str) -> Checked<u64> {
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
    pub(super) fn duration_in(
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

    pub(super) fn measure(&self, raw: Option<RawMeasure>) -> Checked<MeasureSpec> {
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

    pub(super) fn sample(&self, raw: &Spanned<RawSample>) -> Checked<SampleSpec> {
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

    pub(super) fn profile(&self, raw: Option<RawProfile>) -> Checked<ProfileSpec> {
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

/// The first `{name}` in `arg` that is not a known placeholder (`{{` and `}}` are literal braces).
fn unknown_placeholder(arg: &str) -> Option<String> {
    let mut rest = arg.replace("{{", "").replace("}}", "");
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Some(after.to_string());
        };
        let name = &after[..close];
        if !plan::EXTERNAL_PLACEHOLDERS.contains(&name) {
            return Some(name.to_string());
        }
        rest = after[close + 1..].to_string();
    }
    None
}
