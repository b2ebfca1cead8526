//! Files a run writes as it goes: the report (atomically) and each case's raw profile.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::probe::profiler::CpuProfile;
use crate::report::{ProfileArtefacts, Report};

use super::RunError;

/// Writes `bytes` to `path` via a temporary file in the same directory and a rename, so a
/// reader (or a crash) never sees half a file.
///
/// Links: the rename replaces a link at `path` itself (the file it pointed to is untouched),
/// and the temporary file is made new (`create_new`: O_EXCL, which never follows a link), so
/// a link planted at the predictable temporary name cannot redirect the write either. A link
/// among `path`'s directories is followed; callers writing where a report says check that.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    // A leftover of a crashed run with the same pid (or a planted link): removed, not opened
    // (removing a link removes the link only).
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn write_atomic_modifies_no_file_a_link_points_to() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir_all(&dir).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        // A link at the temporary name this process will use...
        let planted = dir.join(format!(".x.svg.tmp-{}", std::process::id()));
        symlink(&outside, &planted).unwrap();
        write_atomic(&dir.join("x.svg"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(dir.join("x.svg")).unwrap(), "new");
        assert!(std::fs::symlink_metadata(&planted).is_err());
        // ...and a link at the path itself: replaced, not written through.
        symlink(&outside, dir.join("y.svg")).unwrap();
        write_atomic(&dir.join("y.svg"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(dir.join("y.svg"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
