//! The registry: every backend and scheduler a run can name, built in or the user's own.
//!
//! Owns: names (unique, path-safe), availability answers (with `MINEBENCH_DISABLE` applied to
//! every backend but the reference) and the factories that make a backend for a case. Must not:
//! run anything — `run/` asks it for a backend and a scheduler per case, `scenario/` for a
//! [`Catalog`] of names to validate and plan against.
//!
//! ```no_run
//! use std::process::ExitCode;
//! use minebench::pow::{Backend, Hit, NonceRange, Work};
//! use minebench::Registry;
//!
//! struct Mine;
//! impl Backend for Mine {
//!     fn name(&self) -> &str { "mine" }
//!     fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
//!         // ... hash every nonce of `range`, push the ones meeting `work.target` ...
//!         range.len()
//!     }
//! }
//!
//! fn main() -> ExitCode {
//!     minebench::main_with(
//!         Registry::builtin()
//!             .for_crate(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
//!             .with_backend("mine", || Box::new(Mine)),
//!     )
//! }
//! ```

use std::fmt;
use std::sync::Arc;

use crate::pow::{self, Availability, Backend, BackendError, BackendKind};
pub use crate::probe::machine::Subject;
use crate::scenario::Catalog;
use crate::sched::{Scheduler, SchedulerKind};

/// The longest backend or scheduler name: names become parts of case ids and file names.
pub const MAX_NAME_LEN: usize = 64;

type AvailabilityFn = Box<dyn Fn() -> Availability + Send + Sync>;
type BackendFactory = Box<dyn Fn() -> Box<dyn Backend> + Send + Sync>;

struct BackendEntry {
    name: String,
    /// `Some` for the six built-ins (their availability and construction live in `pow/`).
    builtin: Option<BackendKind>,
    availability: Option<AvailabilityFn>,
    create: Option<BackendFactory>,
    /// Registered by the user (not a built-in, nor the `gpu` backend a feature adds).
    user: bool,
}

struct SchedulerEntry {
    scheduler: Arc<dyn Scheduler>,
    builtin: bool,
}

/// A registration that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("{what} {name:?} is registered twice")]
    Duplicate { what: &'static str, name: String },
    #[error("{what} name {name:?} is not usable: {problem}")]
    BadName {
        what: &'static str,
        name: String,
        problem: String,
    },
    #[error("{env}=1 asks for a GPU, but the gpu backend is unavailable: {reason}")]
    GpuRequired { env: &'static str, reason: String },
    /// A `MINEBENCH_GPU_*` setting that does not parse or is out of range.
    #[error("{0}")]
    GpuSetting(String),
}

/// Every backend and scheduler a run can use, in listing order (built-ins first, fastest
/// expected first, then the user's in registration order).
pub struct Registry {
    backends: Vec<BackendEntry>,
    schedulers: Vec<SchedulerEntry>,
    /// Registrations refused by the builder methods, reported by [`Registry::check`] (and by
    /// `main_with`, exit 2, before anything runs).
    problems: Vec<RegistryError>,
    subject: Option<Subject>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("backends", &self.backend_names())
            .field("schedulers", &self.scheduler_names())
            .field("problems", &self.problems)
            .field("subject", &self.subject)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::builtin()
    }
}

/// Added to "unknown backend \"gpu\"" in builds without the cargo feature `gpu`.
pub(crate) const GPU_HINT: &str =
    " (the gpu backend needs a build with the cargo feature `gpu`: cargo run --release --features gpu -- ...)";

/// [`GPU_HINT`] where `name` is the GPU backend's and this build lacks it.
pub(crate) fn gpu_hint(name: &str) -> &'static str {
    if name == "gpu" && !cfg!(feature = "gpu") {
        GPU_HINT
    } else {
        ""
    }
}

impl Registry {
    /// The built-in backends (with the cargo feature `gpu`, the GPU backend after the CPU ones)
    /// and the five built-in schedulers.
    pub fn builtin() -> Registry {
        let registry = Registry {
            backends: BackendKind::ALL
                .iter()
                .map(|&kind| BackendEntry {
                    name: kind.name().to_string(),
                    builtin: Some(kind),
                    availability: None,
                    create: None,
                    user: false,
                })
                .collect(),
            schedulers: SchedulerKind::ALL
                .iter()
                .map(|&kind| SchedulerEntry {
                    scheduler: Arc::new(kind),
                    builtin: true,
                })
                .collect(),
            problems: Vec::new(),
            subject: None,
        };
        registry.with_gpu()
    }

    /// Adds the `gpu` backend (builds with the cargo feature `gpu`): unavailable, with the
    /// reason, where no adapter opens — its cases are skipped, never run on the CPU;
    /// `MINEBENCH_REQUIRE_GPU=1` makes that a registration problem (exit 2 before anything
    /// runs). Builds without the feature do not know the name (see [`GPU_HINT`]).
    fn with_gpu(self) -> Registry {
        #[cfg(feature = "gpu")]
        {
            use crate::pow::gpu;
            let mut registry = self;
            if let Err(message) = gpu::Settings::from_env() {
                registry.problems.push(RegistryError::GpuSetting(message));
            }
            if gpu::required() {
                if let Err(reason) = gpu::probe() {
                    registry.problems.push(RegistryError::GpuRequired {
                        env: gpu::REQUIRE_ENV,
                        reason,
                    });
                }
            }
            let mut registry = registry.with_backend_when(gpu::NAME, gpu::availability, || {
                match gpu::Gpu::open() {
                    Ok(g) => Box::new(g) as Box<dyn Backend>,
                    // `create` runs only after `availability` answered Available, and the
                    // device is opened once per process: the same answer.
                    Err(reason) => {
                        panic!("gpu backend vanished after it was found available: {reason}")
                    }
                }
            });
            // Shipped with minebench: not the user's (the default plan adds users' backends).
            if let Some(e) = registry.backends.iter_mut().find(|b| b.name == gpu::NAME) {
                e.user = false;
            }
            registry
        }
        #[cfg(not(feature = "gpu"))]
        {
            self
        }
    }

    /// Adds a backend that can always run here; `create` makes one per case.
    pub fn with_backend(
        self,
        name: &str,
        create: impl Fn() -> Box<dyn Backend> + Send + Sync + 'static,
    ) -> Registry {
        self.with_backend_when(name, || Availability::Available, create)
    }

    /// Adds a backend with an availability answer (e.g. a CPU feature check, with the reason
    /// when it cannot run): cases of an unavailable backend are planned, skipped and reported
    /// with the reason. `create` is only called when `availability` says `Available`.
    pub fn with_backend_when(
        mut self,
        name: &str,
        availability: impl Fn() -> Availability + Send + Sync + 'static,
        create: impl Fn() -> Box<dyn Backend> + Send + Sync + 'static,
    ) -> Registry {
        if let Err(e) = self.add_backend(name, availability, create) {
            self.problems.push(e);
        }
        self
    }

    /// [`Registry::with_backend_when`] that answers a refused registration at once.
    pub fn add_backend(
        &mut self,
        name: &str,
        availability: impl Fn() -> Availability + Send + Sync + 'static,
        create: impl Fn() -> Box<dyn Backend> + Send + Sync + 'static,
    ) -> Result<(), RegistryError> {
        check_name("backend", name)?;
        if self.backends.iter().any(|b| b.name == name) {
            return Err(RegistryError::Duplicate {
                what: "backend",
                name: name.to_string(),
            });
        }
        self.backends.push(BackendEntry {
            name: name.to_string(),
            builtin: None,
            availability: Some(Box::new(availability)),
            create: Some(Box::new(create)),
            user: true,
        });
        Ok(())
    }

    /// Adds a scheduler (see [`Scheduler`]).
    pub fn with_scheduler(mut self, scheduler: impl Scheduler + 'static) -> Registry {
        if let Err(e) = self.add_scheduler(scheduler) {
            self.problems.push(e);
        }
        self
    }

    /// [`Registry::with_scheduler`] that answers a refused registration at once.
    pub fn add_scheduler(
        &mut self,
        scheduler: impl Scheduler + 'static,
    ) -> Result<(), RegistryError> {
        let name = scheduler.name().to_string();
        check_name("scheduler", &name)?;
        if self.schedulers.iter().any(|s| s.scheduler.name() == name) {
            return Err(RegistryError::Duplicate {
                what: "scheduler",
                name,
            });
        }
        self.schedulers.push(SchedulerEntry {
            scheduler: Arc::new(scheduler),
            builtin: false,
        });
        Ok(())
    }

    /// Records the crate under test (pass `env!("CARGO_PKG_NAME")`, `env!("CARGO_PKG_VERSION")`).
    pub fn for_crate(mut self, name: &str, version: &str) -> Registry {
        let commit = self.subject.take().and_then(|s| s.commit);
        self.subject = Some(Subject {
            crate_name: name.to_string(),
            crate_version: version.to_string(),
            commit,
        });
        self
    }

    /// Records the revision of the crate under test (after [`Registry::for_crate`]).
    pub fn with_commit(mut self, commit: impl Into<String>) -> Registry {
        let subject = self.subject.get_or_insert_with(|| Subject {
            crate_name: String::new(),
            crate_version: String::new(),
            commit: None,
        });
        subject.commit = Some(commit.into());
        self
    }

    /// The crate under test, if the caller named one.
    pub fn subject(&self) -> Option<&Subject> {
        self.subject.as_ref()
    }

    /// The first refused registration, if any.
    pub fn check(&self) -> Result<(), RegistryError> {
        match self.problems.first() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    pub fn backend_names(&self) -> Vec<&str> {
        self.backends.iter().map(|b| b.name.as_str()).collect()
    }

    pub fn scheduler_names(&self) -> Vec<&str> {
        self.schedulers.iter().map(|s| s.scheduler.name()).collect()
    }

    /// The backends and schedulers registered on top of the built-ins.
    pub fn user_backend_names(&self) -> Vec<&str> {
        self.backends
            .iter()
            .filter(|b| b.user)
            .map(|b| b.name.as_str())
            .collect()
    }

    pub fn user_scheduler_names(&self) -> Vec<&str> {
        self.schedulers
            .iter()
            .filter(|s| !s.builtin)
            .map(|s| s.scheduler.name())
            .collect()
    }

    fn backend_entry(&self, name: &str) -> Result<&BackendEntry, BackendError> {
        self.backends
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| BackendError::Unknown {
                name: name.to_string(),
                known: format!("{}{}", self.backend_names().join(", "), gpu_hint(name)),
            })
    }

    /// Whether backend `name` can run here (`MINEBENCH_DISABLE` hides any but the reference).
    pub fn backend_availability(&self, name: &str) -> Result<Availability, BackendError> {
        let entry = self.backend_entry(name)?;
        Ok(match (entry.builtin, &entry.availability) {
            (Some(kind), _) => kind.availability(),
            (None, _) if pow::disabled_by_env(name) => {
                Availability::Unavailable(format!("disabled by {}", pow::DISABLE_ENV))
            }
            (None, Some(answer)) => answer(),
            (None, None) => Availability::Available,
        })
    }

    /// A ready backend for one case, or why not: unknown, unavailable here, or a factory that
    /// made a backend answering to another name (reports would then mislabel its numbers).
    pub fn backend(&self, name: &str) -> Result<Arc<dyn Backend>, BackendError> {
        let entry = self.backend_entry(name)?;
        if let Availability::Unavailable(reason) = self.backend_availability(name)? {
            return Err(BackendError::Unavailable {
                name: name.to_string(),
                reason,
            });
        }
        let backend: Arc<dyn Backend> = match (&entry.builtin, &entry.create) {
            (Some(kind), _) => Arc::from(kind.instantiate()?),
            (None, Some(create)) => Arc::from(create()),
            (None, None) => unreachable!("a user backend is registered with a factory"),
        };
        if backend.name() != name {
            return Err(BackendError::Misnamed {
                registered: name.to_string(),
                answered: backend.name().to_string(),
            });
        }
        Ok(backend)
    }

    /// What `auto` means here: the first available built-in backend (fastest expected first).
    pub fn auto_backend(&self) -> String {
        self.backends
            .iter()
            .filter(|b| b.builtin.is_some())
            .find(|b| self.backend_availability(&b.name) == Ok(Availability::Available))
            .map_or_else(
                || BackendKind::Reference.name().to_string(),
                |b| b.name.clone(),
            )
    }

    /// Measures what `auto` should mean on this CPU: every available built-in backend but the
    /// reference (the oracle, never the fastest), `per_round` on one thread, `rounds` times
    /// interleaved (see [`pow::calibrate`]). None when no candidate can be made.
    pub fn calibrate_auto(
        &self,
        per_round: std::time::Duration,
        rounds: u32,
    ) -> Option<pow::calibrate::AutoCalibration> {
        let mut candidates = Vec::new();
        for b in &self.backends {
            let Some(kind) = b.builtin.filter(|&k| k != BackendKind::Reference) else {
                continue;
            };
            if self.backend_availability(&b.name) != Ok(Availability::Available) {
                continue;
            }
            for (tuning, imp) in kind.tunings().unwrap_or_default() {
                candidates.push(pow::calibrate::Entry {
                    backend: b.name.clone(),
                    tuning,
                    imp: Arc::from(imp),
                });
            }
        }
        pow::calibrate::calibrate(&candidates, &self.auto_backend(), per_round, rounds)
    }

    /// Makes the tunings a calibration chose apply to every backend made from now on.
    pub fn apply_tunings(&self, tunings: &std::collections::BTreeMap<String, String>) {
        for (name, tuning) in tunings {
            if let Some(kind) = self
                .backends
                .iter()
                .find(|b| &b.name == name)
                .and_then(|b| b.builtin)
            {
                kind.apply_tuning(tuning);
            }
        }
    }

    /// Scheduler `name`, or an error listing the registered ones.
    pub fn scheduler(
        &self,
        name: &str,
    ) -> Result<Arc<dyn Scheduler>, crate::sched::UnknownScheduler> {
        self.schedulers
            .iter()
            .find(|s| s.scheduler.name() == name)
            .map(|s| Arc::clone(&s.scheduler))
            .ok_or_else(|| crate::sched::UnknownScheduler {
                name: name.to_string(),
                known: self.scheduler_names().join(", "),
            })
    }

    /// Every name with its availability here: what a scenario is validated and planned against.
    pub fn catalog(&self) -> Catalog {
        Catalog {
            backends: self
                .backends
                .iter()
                .map(|b| {
                    let availability = self
                        .backend_availability(&b.name)
                        .unwrap_or_else(|e| Availability::Unavailable(e.to_string()));
                    (b.name.clone(), availability)
                })
                .collect(),
            schedulers: self
                .schedulers
                .iter()
                .map(|s| (s.scheduler.name().to_string(), s.scheduler.availability()))
                .collect(),
            auto: self.auto_backend(),
        }
    }

    /// Checks `MINEBENCH_DISABLE` against the registered names: each must be a backend other
    /// than `reference` (the oracle every hit is re-verified by).
    pub fn check_disable_env(&self) -> Result<(), String> {
        let Ok(value) = std::env::var(pow::DISABLE_ENV) else {
            return Ok(());
        };
        let reference = BackendKind::Reference.name();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == reference {
                return Err(
                    "reference cannot be disabled: every hit is re-verified by it".to_string(),
                );
            }
            if !self.backends.iter().any(|b| b.name == name) {
                let known: Vec<&str> = self
                    .backend_names()
                    .into_iter()
                    .filter(|n| *n != reference)
                    .collect();
                return Err(format!(
                    "{name:?} is not a backend; known: {}",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Names travel into case ids (`backend/scheduler/t2/zb16`), file names and URLs: a letter or
/// digit, then letters, digits, `.`, `_`, `-`; not `auto` (it means "the best built-in").
fn check_name(what: &'static str, name: &str) -> Result<(), RegistryError> {
    let bad = |problem: &str| {
        Err(RegistryError::BadName {
            what,
            name: name.to_string(),
            problem: problem.to_string(),
        })
    };
    let Some(first) = name.chars().next() else {
        return bad("it is empty");
    };
    if name.len() > MAX_NAME_LEN {
        return bad(&format!("longer than {MAX_NAME_LEN} bytes"));
    }
    if !first.is_ascii_alphanumeric() {
        return bad("it must start with an ASCII letter or digit");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return bad(&format!(
            "{c:?} is not allowed (letters, digits, '.', '_' and '-' only)"
        ));
    }
    if name == "auto" {
        return bad("\"auto\" means the fastest built-in backend");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::{Hit, NonceRange, Work};

    struct Named(&'static str);
    impl Backend for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn scan(&self, _work: &Work, range: NonceRange, _hits: &mut Vec<Hit>) -> u64 {
            range.len()
        }
    }

    #[test]
    fn builtins_are_listed_fastest_first_and_users_after() {
        let r = Registry::builtin().with_backend("mine", || Box::new(Named("mine")));
        let mut expected = vec![
            "avx512",
            "sha-ni",
            "avx2",
            "sha2-midstate",
            "sha2",
            "reference",
        ];
        if cfg!(feature = "gpu") {
            expected.push("gpu");
        }
        expected.push("mine");
        assert_eq!(r.backend_names(), expected);
        assert_eq!(r.user_backend_names(), vec!["mine"]);
        assert!(r.check().is_ok());
        assert_eq!(r.backend("mine").unwrap().name(), "mine");
        assert_eq!(r.backend_availability("mine"), Ok(Availability::Available));
        assert!(r.catalog().backends.iter().any(|(n, _)| n == "mine"));
    }

    #[test]
    fn duplicates_and_bad_names_are_refused_at_registration() {
        let r = Registry::builtin().with_backend("sha2", || Box::new(Named("sha2")));
        assert!(
            matches!(r.check(), Err(RegistryError::Duplicate { ref name, .. }) if name == "sha2"),
            "{:?}",
            r.check()
        );
        let r = Registry::builtin().with_scheduler(SchedulerKind::Atomic);
        assert!(matches!(r.check(), Err(RegistryError::Duplicate { .. })));
        for bad in ["", "auto", "a/b", "-x", "x y", &"x".repeat(65)] {
            let mut r = Registry::builtin();
            let err = r
                .add_backend(bad, || Availability::Available, || Box::new(Named("x")))
                .unwrap_err();
            assert!(
                matches!(err, RegistryError::BadName { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn unavailable_and_misnamed_backends_are_errors_naming_them() {
        let r = Registry::builtin()
            .with_backend_when(
                "fpga",
                || Availability::Unavailable("no FPGA here".into()),
                || panic!("never called when unavailable"),
            )
            .with_backend("liar", || Box::new(Named("other")));
        let err = r.backend("fpga").err().unwrap().to_string();
        assert!(
            err.contains("fpga") && err.contains("no FPGA here"),
            "{err}"
        );
        let err = r.backend("liar").err().unwrap().to_string();
        assert!(err.contains("liar") && err.contains("other"), "{err}");
        let err = r.backend("nope").err().unwrap().to_string();
        assert!(err.contains("nope") && err.contains("fpga, liar"), "{err}");
        let err = r.scheduler("nope").err().unwrap().to_string();
        assert!(
            err.contains("stride, chunked, atomic, rayon, channel"),
            "{err}"
        );
    }

    #[test]
    fn subject_keeps_crate_and_commit() {
        let r = Registry::builtin()
            .for_crate("my-miner", "1.2.3")
            .with_commit("abc");
        assert_eq!(
            r.subject(),
            Some(&Subject {
                crate_name: "my-miner".into(),
                crate_version: "1.2.3".into(),
                commit: Some("abc".into())
            })
        );
    }
}
