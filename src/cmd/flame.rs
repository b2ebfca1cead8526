//! `minebench flame --diff A B`: a differential flamegraph between two profiles, scaled per
//! hash when both hash counts are known, raw sample counts (and said so) otherwise.
//!
//! Each side is either a collapsed-stacks file (`x.folded`, with an optional `--hashes-a/-b`)
//! or `REPORT.json#CASE_ID`, whose folded file and hash count come from that case's profile
//! artefacts (paths relative to the report's directory, and refused if they leave it).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::{InputError, UsageError};
use crate::input::{read_text, MAX_FOLDED_BYTES};
use crate::output::write_atomic;
use crate::render::flamegraph::{diff_flamegraph_svg, folded_stats, DiffScale};
use crate::report::resolve_inside;

use crate::cli::FlameArgs;

/// One side of the diff, loaded.
struct Side {
    /// How the user named it (for the title and errors).
    label: String,
    folded: String,
    /// Hashes done while it was profiled; None when unknown (a bare folded file).
    hashes: Option<u64>,
    /// The files read for it (the folded file, and the report), which `--out` must not be.
    files: Vec<PathBuf>,
}

pub fn run(args: &FlameArgs) -> Result<u8> {
    let [a, b] = args.diff.as_slice() else {
        return Err(UsageError::new("--diff", "takes exactly two profiles: A B").into());
    };
    check_hash_flags(a, b, args.hashes_a, args.hashes_b)?;
    let a = load_side(a, args.hashes_a, "--hashes-a")?;
    let b = load_side(b, args.hashes_b, "--hashes-b")?;
    check_out_is_no_input(&args.out, a.files.iter().chain(&b.files))?;
    if a.hashes.is_some() != b.hashes.is_some() {
        // Only reachable with a report on one side and a bare folded file on the other.
        let (missing, flag) = if a.hashes.is_none() {
            (&a.label, "--hashes-a")
        } else {
            (&b.label, "--hashes-b")
        };
        crate::note!("note: not scaled per hash: {missing} has no hash count (give {flag} N)");
    }
    // Per-hash scaling needs both counts; with one missing, scaling only one side would make
    // the colours mean nothing, so neither is scaled and the subtitle says so.
    let scale = match (a.hashes, b.hashes) {
        (Some(before_hashes), Some(after_hashes)) => DiffScale::PerHash {
            before_hashes,
            after_hashes,
        },
        _ => DiffScale::RawSamples,
    };
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| format!("{} → {}", a.label, b.label));
    let svg = diff_flamegraph_svg(&a.folded, &b.folded, scale, &title)
        .map_err(|e| InputError(format!("flame --diff {} {}: {e}", a.label, b.label)))?;
    let out = &args.out;
    write_atomic(out, &svg)
        .map_err(|e| InputError(format!("--out {}: cannot write: {e}", out.display())))?;
    crate::note!("wrote {}", out.display());
    Ok(0)
}

/// The hash-count flags, checked before any file is read: a count of 0 cannot scale anything
/// per hash, and a count for one folded file without one for the other would be silently
/// ignored (scaling needs both sides), so each is a usage error naming the flag at fault. A
/// report case brings its own count, so a folded file opposite one needs only its own flag.
fn check_hash_flags(
    a_spec: &str,
    b_spec: &str,
    hashes_a: Option<u64>,
    hashes_b: Option<u64>,
) -> Result<(), UsageError> {
    for (flag, hashes) in [("--hashes-a", hashes_a), ("--hashes-b", hashes_b)] {
        if hashes == Some(0) {
            return Err(UsageError::new(
                flag,
                "0 hashes cannot scale a profile per hash; give the number of hashes done \
                 while it was profiled",
            ));
        }
    }
    let a_folded = split_report_spec(a_spec).is_none();
    let b_folded = split_report_spec(b_spec).is_none();
    let missing = match (hashes_a, hashes_b) {
        (Some(_), None) if b_folded => Some(("--hashes-b", "--hashes-a", b_spec)),
        (None, Some(_)) if a_folded => Some(("--hashes-a", "--hashes-b", a_spec)),
        _ => None,
    };
    match missing {
        Some((missing, given, spec)) => Err(UsageError::new(
            missing,
            format!(
                "missing: {given} is given, but per-hash scaling also needs the hash count of \
                 {spec}; give {missing} N, or neither flag for raw sample counts"
            ),
        )),
        None => Ok(()),
    }
}

/// Loads `spec` (a folded file or `REPORT.json#CASE_ID`); `hashes_flag` is the flag that gave
/// `hashes`, which only a folded file may take.
fn load_side(spec: &str, hashes: Option<u64>, hashes_flag: &str) -> Result<Side> {
    if let Some((report_path, case_id)) = split_report_spec(spec) {
        if hashes.is_some() {
            return Err(UsageError::new(
                hashes_flag,
                format!("{spec}: the hash count of a report case comes from the report"),
            )
            .into());
        }
        return load_case(spec, report_path, case_id);
    }
    let folded = read_folded(Path::new(spec))?;
    Ok(Side {
        label: spec.to_string(),
        folded,
        hashes,
        files: vec![PathBuf::from(spec)],
    })
}

/// `REPORT.json#CASE_ID` → (report path, case id); None for anything else (a folded file).
fn split_report_spec(spec: &str) -> Option<(&Path, &str)> {
    let (path, case) = spec.split_once('#')?;
    let path = Path::new(path);
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        .then_some((path, case))
}

fn load_case(spec: &str, report_path: &Path, case_id: &str) -> Result<Side> {
    let report = super::render::load_report(report_path)?;
    let Some(case) = report.cases.iter().find(|c| c.id == case_id) else {
        let known: Vec<&str> = report.cases.iter().map(|c| c.id.as_str()).collect();
        return Err(InputError(format!(
            "{spec}: no case {case_id:?} in {}; known cases: {}",
            report_path.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
        .into());
    };
    let Some(profile) = &case.profile else {
        return Err(InputError(format!(
            "{spec}: case {case_id} has no profile (the run had profiling off)"
        ))
        .into());
    };
    if profile.hashes == 0 {
        // Caught here, where the report and case are known: the diff itself could only say
        // "the before profile".
        return Err(InputError(format!(
            "report {}, case {case_id}: profile.hashes is 0, so this profile cannot be scaled \
             per hash (the report records no hashes done while it was profiled)",
            report_path.display()
        ))
        .into());
    }
    let dir = report_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The same check as `render`: a report names files in its own directory, never elsewhere
    // (not even through a link).
    let folded_path = resolve_inside(dir, &profile.folded).map_err(|e| {
        InputError(format!(
            "report {}, case {case_id}: profile.folded {e}; refusing to read it",
            report_path.display()
        ))
    })?;
    let folded = read_folded(&folded_path)?;
    Ok(Side {
        label: case_id.to_string(),
        folded,
        hashes: Some(profile.hashes),
        files: vec![report_path.to_path_buf(), folded_path],
    })
}

/// `--out` naming one of the files read (however spelt: another path, a link, or the folded
/// file a `REPORT.json#CASE` resolves to) would replace an input with the picture of it; it is
/// refused before anything is written. Compared canonically, since the same file has many
/// spellings.
fn check_out_is_no_input<'a>(
    out: &Path,
    inputs: impl IntoIterator<Item = &'a PathBuf>,
) -> Result<(), UsageError> {
    // Unresolvable (its directory is missing): then it cannot be an input either, and the
    // write says why it fails.
    let Some(target) = write_target(out) else {
        return Ok(());
    };
    for input in inputs {
        if input.canonicalize().is_ok_and(|c| c == target) {
            return Err(UsageError::new(
                "--out",
                format!(
                    "{} is {}, an input of this diff; writing there would replace it, give \
                     another file",
                    out.display(),
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The file a write to `path` concerns, canonical: `path` itself with links followed when it
/// exists (a link to an input is refused, though the rename would only replace the link: there
/// is no reason to allow it), else its canonical directory joined with its name.
fn write_target(path: &Path) -> Option<PathBuf> {
    if let Ok(canonical) = path.canonicalize() {
        return Some(canonical);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    dir.canonicalize().ok().map(|d| d.join(name))
}

/// Reads a collapsed-stacks file and checks it is one with samples to compare, naming the file
/// (and the bad line).
fn read_folded(path: &Path) -> Result<String, InputError> {
    let text = read_text(path, MAX_FOLDED_BYTES, "collapsed-stacks file")
        .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    let stats = folded_stats(&text).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    if stats.samples == 0 {
        let why = match stats.stacks {
            0 => "no stacks at all".to_string(),
            n => format!("{n} stacks, every count 0"),
        };
        return Err(InputError(format!(
            "{}: no samples to compare ({why})",
            path.display()
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_specs_need_a_json_path_and_a_hash() {
        let (p, c) = split_report_spec("r/report.json#sha2/atomic/t1/zb12").unwrap();
        assert_eq!(p, Path::new("r/report.json"));
        assert_eq!(c, "sha2/atomic/t1/zb12");
        assert!(split_report_spec("a.folded").is_none());
        assert!(split_report_spec("weird#name.folded").is_none());
    }

    #[test]
    fn hash_flags_pair_up_unless_the_other_side_is_a_report() {
        let flag = |r: Result<(), UsageError>| r.err().map(|e| e.flag);
        assert_eq!(flag(check_hash_flags("a", "b", Some(1), Some(2))), None);
        assert_eq!(flag(check_hash_flags("a", "b", None, None)), None);
        assert_eq!(
            flag(check_hash_flags("a", "b", Some(1), None)).as_deref(),
            Some("--hashes-b")
        );
        assert_eq!(
            flag(check_hash_flags("a", "b", None, Some(1))).as_deref(),
            Some("--hashes-a")
        );
        assert_eq!(
            flag(check_hash_flags("a", "b", Some(0), Some(1))).as_deref(),
            Some("--hashes-a")
        );
        assert_eq!(
            flag(check_hash_flags("a", "b", Some(1), Some(0))).as_deref(),
            Some("--hashes-b")
        );
        assert_eq!(flag(check_hash_flags("a", "r.json#c", Some(1), None)), None);
    }
}
