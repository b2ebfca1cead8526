//! Probes wired around a case: CPU sampling, latency histograms, per-thread stats from
//! `/proc`, the machine fingerprint and the ceiling calibration.
//!
//! Owns: measuring *around* the hashing (never the hashing itself). Must not: spawn worker
//! threads, choose backends or format output — `run/` wires these probes in, `report/` and
//! `render/` turn what they return into statistics and pictures.

pub mod ceiling;
pub mod latency;
pub mod machine;
pub mod profile;
/// The profiler under its first name (`probe::profiler::Profiler`), kept for callers.
pub use profile as profiler;
pub mod go;
pub mod perf;
pub mod threads;

/// Why a probe could not deliver. `Unavailable` is expected on some machines (no `/proc`, no
/// PMU); the caller records it as a null field with the reason rather than failing the run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The profiler frequency is outside what the interval timer can honour.
    #[error("profile frequency {hz} Hz is out of range: use 1..=10000 Hz (997 is a good default)")]
    Frequency { hz: u32 },
    /// The probe cannot work on this machine or at this moment.
    #[error("{what} unavailable: {reason}")]
    Unavailable { what: String, reason: String },
    /// A kernel file was there but did not look as expected.
    #[error("cannot parse {source_name}: {reason}")]
    Parse { source_name: String, reason: String },
    /// The profiler could not start or stop.
    #[error("cpu profiler: {0}")]
    Profiler(String),
    /// A latency histogram could not be created, serialized or decoded.
    #[error("latency histogram: {0}")]
    Histogram(String),
}
