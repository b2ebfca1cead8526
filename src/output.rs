//! Writing files: every output minebench writes (reports, plots, pages, flamegraphs) goes
//! through [`write_atomic`], so a reader or a crash never sees half a file.
//!
//! Owns: the temporary-file-and-rename dance and its link safety. Must not: know what it
//! writes. It sits below every other module (next to `input`), so `render` and `run` can both
//! use it without one importing the other.

use std::io::Write;
use std::path::Path;

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
