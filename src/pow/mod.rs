//! The hashing core: Bitcoin's SHA-256d over an 80-byte header and the nonce search against a
//! target, behind one [`Backend`] trait, with [`BackendKind`] as the single place that asks the
//! CPU what it can do.
//!
//! Owns: the header, targets, the backends and the cross-check harness. Must not: spawn threads
//! (that is `sched/`), read clocks (that is `run/`).
//!
//! A backend works on a *batch* — one header template, a nonce range, a target — so dynamic
//! dispatch costs one virtual call per batch, never one per hash.

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod calibrate;
pub mod crosscheck;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod header;
#[cfg(target_arch = "x86_64")]
pub(crate) mod precompute;
pub mod reference;
pub mod sha2_midstate;
pub mod sha2_naive;
#[cfg(target_arch = "x86_64")]
pub mod sha_ni;
pub mod target;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use header::{display_hash, Header, HeaderError};
pub use target::{hash_leading_zero_bits, Target, TargetError};

/// What to hash: a header template (its nonce field is ignored) and the target a hash must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    pub header: Header,
    pub target: Target,
}

impl Work {
    pub fn new(header: Header, target: Target) -> Work {
        Work { header, target }
    }
}

/// A nonce whose header hash meets the target, with that hash (SHA-256 byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hit {
    pub nonce: u32,
    pub hash: [u8; 32],
}

/// The nonces `start, start + step, …` (`count` of them). Never wraps past `u32::MAX`: the
/// constructors refuse such a range, so every backend can assume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceRange {
    start: u32,
    count: u64,
    step: u32,
}

/// Why a nonce range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("nonce range {start}+{count} (step {step}) runs past u32::MAX")]
    PastEnd { start: u32, count: u64, step: u32 },
    #[error("nonce step must be at least 1")]
    ZeroStep,
}

impl NonceRange {
    /// The contiguous nonces `start .. start + count`; `count` may be up to 2^32.
    pub fn new(start: u32, count: u64) -> Result<NonceRange, RangeError> {
        NonceRange::strided(start, count, 1)
    }

    /// Every `step`-th nonce from `start`, `count` of them.
    pub fn strided(start: u32, count: u64, step: u32) -> Result<NonceRange, RangeError> {
        if step == 0 {
            return Err(RangeError::ZeroStep);
        }
        if count > 0 {
            let last = u64::from(start) + (count - 1) * u64::from(step);
            if last > u64::from(u32::MAX) {
                return Err(RangeError::PastEnd { start, count, step });
            }
        }
        Ok(NonceRange { start, count, step })
    }

    /// The whole 32-bit nonce space.
    pub fn full() -> NonceRange {
        NonceRange {
            start: 0,
            count: 1 << 32,
            step: 1,
        }
    }

    pub fn start(&self) -> u32 {
        self.start
    }

    pub fn step(&self) -> u32 {
        self.step
    }

    /// How many nonces (hashes) the range holds.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `nonce` is one of this range's nonces.
    pub fn contains(&self, nonce: u32) -> bool {
        let Some(offset) = nonce.checked_sub(self.start) else {
            return false;
        };
        offset % self.step == 0 && u64::from(offset / self.step) < self.count
    }

    /// The `i`-th nonce (`i < len()`).
    pub fn nth(&self, i: u64) -> u32 {
        debug_assert!(i < self.count);
        (u64::from(self.start) + i * u64::from(self.step)) as u32
    }

    /// The first `n` nonces as a range, and the rest.
    pub fn split_at(&self, n: u64) -> (NonceRange, NonceRange) {
        let n = n.min(self.count);
        let head = NonceRange { count: n, ..*self };
        let rest_start = if n < self.count {
            self.nth(n)
        } else {
            self.start
        };
        let tail = NonceRange {
            start: rest_start,
            count: self.count - n,
            step: self.step,
        };
        (head, tail)
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> {
        let r = *self;
        (0..r.count).map(move |i| r.nth(i))
    }
}

/// A hashing backend. Implementations must append to `hits` exactly the nonces of `range` whose
/// SHA-256d meets `work.target` (in any order), with their hashes, and return how many hashes they
/// did (`range.len()`: a backend that rejects early still counts the nonce as hashed).
///
/// A backend is known by its [`Backend::name`] wherever it travels (scenarios, case ids, reports,
/// plots, `compare`): the built-ins answer their [`BackendKind`] name, a user's backend
/// (registered through [`crate::Registry`]) any name of its own.
pub trait Backend: Send + Sync {
    /// The name scenarios and reports use (`[A-Za-z0-9][A-Za-z0-9._-]*`, at most 64 bytes).
    fn name(&self) -> &str;
    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64;

    /// What a backend that drives a device (a GPU) measured of it since it was made: the run
    /// asks once a case's session has finished and puts the answer in the case's `device`
    /// block. CPU backends have nothing to add: `None`.
    fn device_stats(&self) -> Option<DeviceStats> {
        None
    }
}

/// A device backend's own probes over one case (warm-up included, like `workers[]`). Times are
/// nanoseconds.
#[derive(Debug, Clone)]
pub struct DeviceStats {
    /// The adapter's name.
    pub device: String,
    /// Dispatches submitted and read back (pieces of an overflowed dispatch not counted), and
    /// the nonces they held.
    pub dispatches: u64,
    pub nonces: u64,
    /// The feeding settings: nonces per dispatch at most (a backend call shorter than that is
    /// one shorter dispatch), dispatches in flight per backend call, nonces per shader
    /// invocation, candidate slots per dispatch.
    pub dispatch_limit: u64,
    pub in_flight: u32,
    pub nonces_per_invocation: u32,
    pub candidate_slots: u32,
    /// Dispatches with more candidates than slots, hashed again in pieces.
    pub overflows: u64,
    /// Execution time of each dispatch on the device, from the GPU's own timestamps (None
    /// where the adapter has none: see `no_timestamps`).
    pub execution: Option<hdrhistogram::Histogram<u64>>,
    /// Host: submit → the dispatch's candidates in host memory (queueing behind earlier
    /// dispatches included).
    pub round_trip: hdrhistogram::Histogram<u64>,
    /// Host: mapping and copying a finished dispatch's results (and any second copy).
    pub readback: hdrhistogram::Histogram<u64>,
    /// Σ execution time, and the span from the first dispatch's start to the last one's end,
    /// on the device's clock: their ratio is how busy the device was.
    pub execution_ns: Option<u64>,
    pub span_ns: Option<u64>,
    /// Why there are no execution times.
    pub no_timestamps: Option<String>,
    /// The SM clock when the case ended, where `nvidia-smi` answers.
    pub sm_clock_mhz: Option<u32>,
}

/// The backends minebench knows, in the order `backends` lists them: fastest expected first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    Avx512,
    ShaNi,
    Avx2,
    Sha2Midstate,
    Sha2,
    Reference,
}

/// Whether a backend can run here, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Availability {
    Available,
    Unavailable(String),
}

/// Errors at the backend boundary.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    #[error("unknown backend {name:?}; known backends: auto, {known}")]
    Unknown { name: String, known: String },
    #[error("backend {name} is not available on this machine: {reason}")]
    Unavailable { name: String, reason: String },
    #[error("backend {registered:?} was registered under that name, but the backend its factory made calls itself {answered:?}")]
    Misnamed {
        registered: String,
        answered: String,
    },
    #[error("backend {backend} reported nonce {nonce} but {problem} (reference re-check failed)")]
    BadHit {
        backend: String,
        nonce: u32,
        problem: String,
    },
}

/// The environment variable that hides backends (comma-separated names), so tests and users can
/// force every fallback path on a machine that has the fast ones.
pub const DISABLE_ENV: &str = "MINEBENCH_DISABLE";

impl BackendKind {
    /// Every backend, fastest expected first.
    pub const ALL: &'static [BackendKind] = &[
        BackendKind::Avx512,
        BackendKind::ShaNi,
        BackendKind::Avx2,
        BackendKind::Sha2Midstate,
        BackendKind::Sha2,
        BackendKind::Reference,
    ];

    /// The name used on the command line, in scenarios and in reports.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Reference => "reference",
            BackendKind::Sha2 => "sha2",
            BackendKind::Sha2Midstate => "sha2-midstate",
            BackendKind::ShaNi => "sha-ni",
            BackendKind::Avx2 => "avx2",
            BackendKind::Avx512 => "avx512",
        }
    }

    /// Looks a backend up by name; `auto` is the fastest available one ([`BackendKind::detect`]).
    pub fn from_name(name: &str) -> Result<BackendKind, BackendError> {
        if name == "auto" {
            return Ok(BackendKind::detect());
        }
        BackendKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| BackendError::Unknown {
                name: name.to_string(),
                known: known_names(),
            })
    }

    /// Whether this CPU (and `MINEBENCH_DISABLE`) lets this backend run.
    pub fn availability(self) -> Availability {
        if self != BackendKind::Reference && disabled_by_env(self.name()) {
            return Availability::Unavailable(format!("disabled by {DISABLE_ENV}"));
        }
        match self {
            BackendKind::Reference | BackendKind::Sha2 | BackendKind::Sha2Midstate => {
                Availability::Available
            }
            BackendKind::ShaNi | BackendKind::Avx2 | BackendKind::Avx512 => {
                cpu_availability(self.required_cpu_features())
            }
        }
    }

    /// The x86 features a backend's code is compiled for (`is_x86_feature_detected!` names);
    /// empty for the portable backends.
    pub fn required_cpu_features(self) -> &'static [&'static str] {
        match self {
            BackendKind::Reference | BackendKind::Sha2 | BackendKind::Sha2Midstate => &[],
            BackendKind::ShaNi => &["sha", "ssse3", "sse4.1"],
            BackendKind::Avx2 => &["avx2"],
            BackendKind::Avx512 => &["avx512f"],
        }
    }

    pub fn is_available(self) -> bool {
        self.availability() == Availability::Available
    }

    /// The fastest backend usable here. `reference` is always usable, so this always answers.
    pub fn detect() -> BackendKind {
        BackendKind::ALL
            .iter()
            .copied()
            .find(|k| k.is_available())
            .unwrap_or(BackendKind::Reference)
    }

    /// The backends usable here, fastest expected first.
    pub fn available() -> Vec<BackendKind> {
        BackendKind::ALL
            .iter()
            .copied()
            .filter(|k| k.is_available())
            .collect()
    }

    /// A ready backend, or why it cannot run here. The only constructor callers outside `pow/`
    /// use: it is what makes "asking for a missing CPU feature" an error instead of a crash.
    pub fn instantiate(self) -> Result<Box<dyn Backend>, BackendError> {
        if let Availability::Unavailable(reason) = self.availability() {
            return Err(BackendError::Unavailable {
                name: self.name().to_string(),
                reason,
            });
        }
        Ok(match self {
            BackendKind::Reference => Box::new(reference::Reference),
            BackendKind::Sha2 => Box::new(sha2_naive::Sha2Naive),
            BackendKind::Sha2Midstate => Box::new(sha2_midstate::Sha2Midstate),
            // For the three SIMD kinds, `availability()` returning `Available` above means
            // `cpu_availability` found every feature in `required_cpu_features()`, which lists
            // exactly what each backend's `new_unchecked` requires.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: availability() checked sha, ssse3 and sse4.1 (see above).
            BackendKind::ShaNi => Box::new(unsafe { sha_ni::ShaNi::new_unchecked() }),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: availability() checked avx2 (see above).
            BackendKind::Avx2 => Box::new(unsafe { avx2::Avx2::new_unchecked() }),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: availability() checked avx512f (see above).
            BackendKind::Avx512 => Box::new(unsafe { avx512::Avx512::new_unchecked() }),
            #[cfg(not(target_arch = "x86_64"))]
            BackendKind::ShaNi | BackendKind::Avx2 | BackendKind::Avx512 => {
                return Err(BackendError::Unavailable {
                    name: self.name().to_string(),
                    reason: NOT_X86_64.to_string(),
                })
            }
        })
    }
}

/// A backend made with a named tuning (`None`: the backend has no knob).
pub type Tuned = (Option<String>, Box<dyn Backend>);

impl BackendKind {
    /// The instances `auto`'s calibration times: one per tuning for a backend with a knob (the
    /// current default first), else the plain instance with no tuning.
    pub fn tunings(self) -> Result<Vec<Tuned>, BackendError> {
        let plain = self.instantiate()?;
        #[cfg(target_arch = "x86_64")]
        if self == BackendKind::ShaNi {
            let current = sha_ni::default_lanes();
            let order = std::iter::once(current).chain(
                sha_ni::LANE_CHOICES
                    .iter()
                    .copied()
                    .filter(move |&l| l != current),
            );
            return Ok(order
                .map(|l| {
                    // SAFETY: instantiate() above succeeded, so availability() found sha,
                    // ssse3 and sse4.1.
                    let b = unsafe { sha_ni::ShaNi::new_unchecked() }.with_lanes(l);
                    (Some(format!("lanes={l}")), Box::new(b) as Box<dyn Backend>)
                })
                .collect());
        }
        #[cfg(target_arch = "x86_64")]
        if self == BackendKind::Avx512 {
            let current = avx512::default_groups();
            let order = std::iter::once(current).chain(
                avx512::GROUP_CHOICES
                    .iter()
                    .rev()
                    .copied()
                    .filter(move |&g| g != current),
            );
            return Ok(order
                .map(|g| {
                    // SAFETY: instantiate() above succeeded, so availability() found avx512f.
                    let b = unsafe { avx512::Avx512::new_unchecked() }.with_groups(g);
                    (Some(format!("groups={g}")), Box::new(b) as Box<dyn Backend>)
                })
                .collect());
        }
        Ok(vec![(None, plain)])
    }

    /// Makes every instance of this kind made from now on use `tuning` (as `tunings` names
    /// it); false when the kind has no such tuning.
    pub fn apply_tuning(self, tuning: &str) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            BackendKind::ShaNi => match tuning.strip_prefix("lanes=").map(str::parse) {
                Some(Ok(l)) if sha_ni::LANE_CHOICES.contains(&l) => {
                    sha_ni::set_default_lanes(l);
                    true
                }
                _ => false,
            },
            #[cfg(target_arch = "x86_64")]
            BackendKind::Avx512 => match tuning.strip_prefix("groups=").map(str::parse) {
                Some(Ok(g)) if avx512::GROUP_CHOICES.contains(&g) => {
                    avx512::set_default_groups(g);
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn known_names() -> String {
    BackendKind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(not(target_arch = "x86_64"))]
const NOT_X86_64: &str = "not an x86_64 build";

/// `Available` when the CPU has every feature in `features`, else the first one it lacks. The one
/// place minebench asks the CPU what it can do (besides reporting [`cpu_features`]).
fn cpu_availability(features: &[&str]) -> Availability {
    #[cfg(target_arch = "x86_64")]
    {
        // A name not in CPU_FEATURES counts as missing: refuse rather than guess.
        match features.iter().find(|f| detected(f) != Some(true)) {
            Some(missing) => Availability::Unavailable(format!("CPU lacks {missing}")),
            None => Availability::Available,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = features;
        Availability::Unavailable(NOT_X86_64.to_string())
    }
}

/// One x86 feature the backends are compiled for: the name `is_x86_feature_detected!` knows,
/// the flag `/proc/cpuinfo` prints, and whether the machine fingerprint records it.
#[derive(Debug, Clone, Copy)]
pub struct CpuFeature {
    pub name: &'static str,
    pub proc_flag: &'static str,
    pub fingerprinted: bool,
}

/// The one list of CPU features minebench looks at: backend requirements
/// ([`BackendKind::required_cpu_features`]), `backends`' feature list ([`cpu_features`]) and the
/// fingerprint's flags ([`crate::probe::machine::FLAGS_OF_INTEREST`]) all come from it.
pub const CPU_FEATURES: [CpuFeature; 7] = [
    CpuFeature {
        name: "sha",
        proc_flag: "sha_ni",
        fingerprinted: true,
    },
    CpuFeature {
        name: "ssse3",
        proc_flag: "ssse3",
        fingerprinted: false,
    },
    CpuFeature {
        name: "sse4.1",
        proc_flag: "sse4_1",
        fingerprinted: true,
    },
    CpuFeature {
        name: "avx2",
        proc_flag: "avx2",
        fingerprinted: true,
    },
    CpuFeature {
        name: "avx512f",
        proc_flag: "avx512f",
        fingerprinted: true,
    },
    CpuFeature {
        name: "avx512bw",
        proc_flag: "avx512bw",
        fingerprinted: true,
    },
    CpuFeature {
        name: "avx512vl",
        proc_flag: "avx512vl",
        fingerprinted: true,
    },
];

/// Whether this CPU has the feature `name` (a [`CPU_FEATURES`] name); `None` for a name not in
/// the list, `Some(false)` off x86_64. The macro needs literal names, hence the match; a unit
/// test checks it answers for every entry of the list.
pub fn detected(name: &str) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        Some(match name {
            "sha" => std::arch::is_x86_feature_detected!("sha"),
            "ssse3" => std::arch::is_x86_feature_detected!("ssse3"),
            "sse4.1" => std::arch::is_x86_feature_detected!("sse4.1"),
            "avx2" => std::arch::is_x86_feature_detected!("avx2"),
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
            "avx512vl" => std::arch::is_x86_feature_detected!("avx512vl"),
            _ => return None,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        CPU_FEATURES.iter().any(|f| f.name == name).then_some(false)
    }
}

pub(crate) fn disabled_by_env(name: &str) -> bool {
    std::env::var(DISABLE_ENV)
        .map(|v| v.split(',').any(|d| d.trim() == name))
        .unwrap_or(false)
}

/// Every [`CPU_FEATURES`] entry as `(name, present)`; empty off x86_64.
pub fn cpu_features() -> Vec<(&'static str, bool)> {
    if cfg!(not(target_arch = "x86_64")) {
        return Vec::new();
    }
    CPU_FEATURES
        .iter()
        .map(|f| (f.name, detected(f.name) == Some(true)))
        .collect()
}

/// What a verified scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Hits sorted by nonce.
    pub hits: Vec<Hit>,
    pub hashes: u64,
}

/// Runs `backend` over `range` and re-checks every hit it reports with the reference SHA-256:
/// the nonce must be in the range, the hash must be the reference hash, and it must meet the
/// target. A backend that fails this is broken, and the run stops with [`BackendError::BadHit`].
pub fn scan_verified(
    backend: &dyn Backend,
    work: &Work,
    range: NonceRange,
) -> Result<ScanOutcome, BackendError> {
    let mut hits = Vec::new();
    let hashes = backend.scan(work, range, &mut hits);
    verify_hits(backend.name(), work, range, &hits)?;
    hits.sort_unstable();
    Ok(ScanOutcome { hits, hashes })
}

/// The reference re-check of reported hits (see [`scan_verified`]); schedulers call it per batch.
pub fn verify_hits(
    backend: &str,
    work: &Work,
    range: NonceRange,
    hits: &[Hit],
) -> Result<(), BackendError> {
    check_in_range(backend, range, hits)?;
    for hit in hits {
        verify_hit(backend, work, hit)?;
    }
    Ok(())
}

/// The cheap half of [`verify_hits`]: every hit's nonce lies in the range the batch was given.
pub fn check_in_range(backend: &str, range: NonceRange, hits: &[Hit]) -> Result<(), BackendError> {
    match hits.iter().find(|h| !range.contains(h.nonce)) {
        Some(hit) => Err(BackendError::BadHit {
            backend: backend.to_string(),
            nonce: hit.nonce,
            problem: "it is outside the scanned range".to_string(),
        }),
        None => Ok(()),
    }
}

/// The reference re-check of one hit: its hash is the reference SHA-256d of `work`'s header
/// with its nonce, and meets `work`'s target.
pub fn verify_hit(backend: &str, work: &Work, hit: &Hit) -> Result<(), BackendError> {
    let bad = |problem: &str| BackendError::BadHit {
        backend: backend.to_string(),
        nonce: hit.nonce,
        problem: problem.to_string(),
    };
    let header = work.header.with_nonce(hit.nonce);
    let (hash, meets) = reference::verify(header.as_bytes(), &work.target);
    if hash != hit.hash {
        return Err(bad("its hash differs from the reference hash"));
    }
    if !meets {
        return Err(bad("its hash does not meet the target"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_refuse_to_wrap() {
        assert!(NonceRange::new(u32::MAX, 1).is_ok());
        assert!(NonceRange::new(u32::MAX, 2).is_err());
        assert!(NonceRange::new(0, 1 << 32).is_ok());
        assert!(NonceRange::new(1, 1 << 32).is_err());
        assert!(NonceRange::strided(0, 3, 0).is_err());
        assert!(NonceRange::strided(1, 3, u32::MAX / 2).is_ok());
        assert!(NonceRange::strided(1, 4, u32::MAX / 2).is_err());
        let r = NonceRange::strided(5, 4, 3).unwrap();
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![5, 8, 11, 14]);
        assert!(r.contains(11) && !r.contains(12) && !r.contains(17) && !r.contains(2));
        let (a, b) = r.split_at(1);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![5]);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![8, 11, 14]);
        let (a, b) = r.split_at(10);
        assert_eq!(a.len(), 4);
        assert!(b.is_empty());
    }

    #[test]
    fn names_round_trip_and_unknown_lists_known() {
        for &k in BackendKind::ALL {
            assert_eq!(BackendKind::from_name(k.name()), Ok(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.name()));
        }
        let err = BackendKind::from_name("gpu").unwrap_err().to_string();
        assert!(
            err.contains("gpu") && err.contains("sha2-midstate"),
            "{err}"
        );
        assert!(BackendKind::from_name("auto").unwrap().is_available());
    }

    /// `auto` is the first backend of `ALL` that is available, never one `MINEBENCH_DISABLE`
    /// hides; `scripts/test-backends.sh` runs this under each forced set and shows the choice.
    #[test]
    fn auto_skips_disabled_backends() {
        let disabled: Vec<String> = std::env::var(DISABLE_ENV)
            .map(|v| v.split(',').map(|d| d.trim().to_string()).collect())
            .unwrap_or_default();
        let auto = BackendKind::detect();
        println!("{DISABLE_ENV}={:?}: auto = {auto}", disabled.join(","));
        assert_eq!(
            Some(auto),
            BackendKind::ALL.iter().copied().find(|k| k.is_available())
        );
        for name in &disabled {
            let Ok(kind) = BackendKind::from_name(name) else {
                continue;
            };
            if kind == BackendKind::Reference {
                continue; // the oracle cannot be hidden
            }
            assert_ne!(kind, auto, "{name} is disabled but auto chose it");
            assert!(
                matches!(kind.availability(), Availability::Unavailable(r) if r.contains(DISABLE_ENV))
            );
            assert!(matches!(
                kind.instantiate(),
                Err(BackendError::Unavailable { .. })
            ));
        }
    }

    #[test]
    fn simd_backends_name_the_feature_they_lack() {
        for kind in [BackendKind::ShaNi, BackendKind::Avx2, BackendKind::Avx512] {
            assert!(!kind.required_cpu_features().is_empty(), "{kind}");
            for f in kind.required_cpu_features() {
                assert!(
                    CPU_FEATURES.iter().any(|c| c.name == *f),
                    "{kind} needs {f}, not in CPU_FEATURES"
                );
            }
        }
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            cpu_availability(&["no-such-feature"]),
            Availability::Unavailable("CPU lacks no-such-feature".to_string()),
            "a name cpu_availability does not know counts as missing"
        );
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(
            BackendKind::Avx2.availability(),
            Availability::Unavailable(NOT_X86_64.to_string())
        );
    }

    #[test]
    fn every_listed_cpu_feature_is_detected_by_name() {
        for f in CPU_FEATURES {
            assert!(
                detected(f.name).is_some(),
                "detected() does not know {}",
                f.name
            );
        }
        assert_eq!(detected("no-such-feature"), None);
        assert_eq!(crate::probe::machine::FLAGS_OF_INTEREST[0], "sha_ni");
        assert!(!crate::probe::machine::FLAGS_OF_INTEREST.contains(&"ssse3"));
    }

    /// A backend that lies about one hit, to prove the reference re-check catches it.
    struct Liar;
    impl Backend for Liar {
        fn name(&self) -> &str {
            "liar"
        }
        fn scan(&self, _work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
            hits.push(Hit {
                nonce: range.start(),
                hash: [0; 32],
            });
            range.len()
        }
    }

    #[test]
    fn verification_rejects_a_false_hit() {
        let work = Work::new(Header::synthetic(1), Target::from_zero_bits(0).unwrap());
        let err = scan_verified(&Liar, &work, NonceRange::new(3, 2).unwrap()).unwrap_err();
        assert!(
            matches!(err, BackendError::BadHit { nonce: 3, .. }),
            "{err}"
        );
    }
}
