//! Files a run writes as it goes: the report (atomically) and each case's raw profile.

use std::path::{Path, PathBuf};

use crate::probe::profiler::CpuProfile;
use crate::report::{ProfileArtefacts, Report};

use super::RunError;

// Moved to the library's I/O module (render writes files too, and must not import `run`);
// re-exported so run's callers keep their path.
pub use crate::output::write_atomic;

pub fn write_report(path: &Path, report: &Report) -> Result<(), RunError> {
    let mut json = serde_json::to_vec_pretty(report)?;
    json.push(b'\n');
    write_atomic(path, &json).map_err(|source| RunError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A case id as a file stem: `sha2/atomic/t2/zb20` → `sha2_atomic_t2_zb20`.
pub fn case_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `flame/<case>.folded` and `flame/<case>.pb`; the SVG path is recorded for `render`.
pub fn write_profile(
    dir: &Path,
    id: &str,
    cpu: &CpuProfile,
    hashes: u64,
) -> Result<ProfileArtefacts, RunError> {
    let flame = dir.join("flame");
    std::fs::create_dir_all(&flame).map_err(|source| RunError::Write {
        path: flame.clone(),
        source,
    })?;
    let stem = case_stem(id);
    let rel = |ext: &str| format!("flame/{stem}.{ext}");
    let write = |rel: &str, bytes: &[u8]| {
        let path: PathBuf = dir.join(rel);
        write_atomic(&path, bytes).map_err(|source| RunError::Write { path, source })
    };
    write(&rel("folded"), cpu.folded.as_bytes())?;
    write(&rel("pb"), &cpu.pprof)?;
    Ok(ProfileArtefacts {
        samples: cpu.samples,
        folded: rel("folded"),
        pprof: rel("pb"),
        svg: rel("svg"),
        hashes,
        requested_hz: Some(cpu.requested_hz),
        effective_hz: Some(cpu.effective_hz),
        cpu_ns: Some(cpu.cpu_ns),
        unknown_samples: Some(cpu.unknown_samples),
        dropped_samples: Some(cpu.dropped_samples),
        hot_lines: cpu.hot_lines.clone(),
    })
}
