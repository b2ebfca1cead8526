//! Named baselines: `<reports root>/baselines/NAME/`, a copy of a finished report's directory.
//! Validating names, finding them, listing them and saving one (replacing the old one with two
//! renames, so a reader never sees a half-copied baseline).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::{InputError, UsageError};

/// A baseline name is `[A-Za-z0-9._-]+` and does not start with a dot (which would allow `.`,
/// `..` and clash with the temporary directories of [`save`]).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// [`is_valid_name`] as a usage error naming the flag.
pub fn check_name(flag: &str, name: &str) -> Result<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(UsageError::new(
            flag,
            format!(
                "{name:?} is not a valid baseline name: use letters, digits, '.', '_' and '-', \
                 not starting with '.'"
            ),
        )
        .into())
    }
}

/// The names of the baselines under `dir` that hold a report.json, sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_valid_name(n) && dir.join(n).join("report.json").is_file())
        .collect();
    names.sort();
    names
}

/// The report.json of baseline `name` under `dir`, or an input error naming it and listing the
/// baselines that do exist.
pub fn report_path(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name).join("report.json");
    if is_valid_name(name) && path.is_file() {
        return Ok(path);
    }
    Err(InputError(format!(
        "no baseline {name:?} in {}: {}",
        dir.display(),
        existing(dir)
    ))
    .into())
}

/// "existing baselines: a, b" or "there are no baselines yet".
pub fn existing(dir: &Path) -> String {
    let names = list(dir);
    if names.is_empty() {
        "there are no baselines there yet (create one with `minebench run --save-baseline NAME`)"
            .to_string()
    } else {
        format!("existing baselines: {}", names.join(", "))
    }
}

/// Copies the report directory `src` to `dir/name`, replacing an existing baseline of that name:
/// the copy goes to a temporary sibling first, then the old one is renamed away, the new one
/// renamed in, and the old one removed. A failure leaves the old baseline in place.
pub fn save(src: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let fail =
        |what: &str, e: std::io::Error| InputError(format!("--save-baseline {name}: {what}: {e}"));
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(&format!("cannot create {}", dir.display()), e))?;
    let pid = std::process::id();
    let tmp = dir.join(format!(".{name}.tmp-{pid}"));
    let old = dir.join(format!(".{name}.old-{pid}"));
    let dest = dir.join(name);
    let _ = std::fs::remove_dir_all(&tmp);
    if let Err(e) = copy_dir(src, &tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(fail(
            &format!("cannot copy {} to {}", src.display(), tmp.display()),
            e,
        )
        .into());
    }
    let had_old = dest.exists();
    if had_old {
        if let Err(e) = std::fs::rename(&dest, &old) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(fail(&format!("cannot move the old {} aside", dest.display()), e).into());
        }
    }
    if let Err(e) = std::fs::rename(&tmp, &dest) {
        if had_old {
            let _ = std::fs::rename(&old, &dest);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(fail(&format!("cannot move the copy to {}", dest.display()), e).into());
    }
    if had_old {
        // The new baseline is in place; a leftover old copy is only wasted space.
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(dest)
}

/// Recursive copy of regular files and directories (a report directory has nothing else).
fn copy_dir(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["main", "v1.2", "ci_x-64", "A"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", "ü", "../x"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
