//! `minebench compare` and `minebench merge-reports`: reading reports (by path, directory or
//! baseline name), then handing the [`Comparison`] to the library's renderers (console table,
//! Markdown, JSON, the comparison directory) and the regression gate.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::{InputError, UsageError};
use crate::output::write_atomic;
use crate::render::compare::{markdown, write_compare_dir, Input};
use crate::render::format::change_text;
use crate::report::compare::{self, CompareOptions, Comparison};
use crate::report::merge::{merge_reports, MergeError};
use crate::report::Report;

use super::baseline;
use crate::cli::{CompareArgs, GateArgs, MergeReportsArgs};

/// `minebench compare BASE NEW`: 0, or 1 when the `--fail-on-regression` gate fails.
pub fn run(args: &CompareArgs) -> Result<u8> {
    check_pct("--threshold", args.threshold)?;
    if !(args.alpha > 0.0 && args.alpha <= 1.0) {
        return Err(UsageError::new("--alpha", format!("{} is not in (0, 1]", args.alpha)).into());
    }
    check_gate_args(&args.gate)?;
    if let Some(path) = &args.markdown {
        super::check_file_writable(path, "--markdown")?;
    }
    let base_path = resolve(&args.base, &args.baselines_dir)?;
    let new_path = resolve(&args.new, &args.baselines_dir)?;
    let base = load(&base_path)?;
    let new = load(&new_path)?;
    let opts = CompareOptions::new(
        args.threshold / 100.0,
        args.alpha,
        args.allow_different_machines,
    )
    .with_metric(args.metric.metric());
    let comparison = compare_reports(&base, &new, &opts)?;
    if let Some(out) = &args.out {
        // Written before the table and the gate, so a failed gate still leaves the directory
        // (what a reviewer looks at to see why).
        super::check_dir_writable(out, "--out")?;
        let rendered = write_compare_dir(
            &comparison,
            Input {
                report: &base,
                path: &base_path,
            },
            Input {
                report: &new,
                path: &new_path,
            },
            out,
        )?;
        super::render::log_not_drawn(&rendered.drawn.not_drawn);
        crate::note!(
            "comparison written into {} ({} files; open {})",
            out.display(),
            rendered.written.len(),
            out.join(crate::render::compare::HTML).display()
        );
    }
    if args.json {
        super::emit_json(&comparison)?;
    } else {
        super::emit(&crate::render::compare::console_table(&comparison))?;
    }
    if let Some(path) = &args.markdown {
        write_markdown(path, &comparison, "--markdown")?;
    }
    Ok(gate(&comparison, &args.gate))
}

/// `merge-reports OUT IN...`.
pub fn merge(args: &MergeReportsArgs) -> Result<u8> {
    let out = if args.out.extension().is_some_and(|e| e == "json") {
        args.out.clone()
    } else {
        args.out.join("report.json")
    };
    let paths = args
        .inputs
        .iter()
        .map(|p| resolve_path(p))
        .collect::<Result<Vec<PathBuf>>>()?;
    // Both checks come before anything is read or written: a refused merge leaves every file
    // as it was.
    let ids = paths
        .iter()
        .zip(&args.inputs)
        .map(|(p, arg)| {
            FileId::of(p).map_err(|e| InputError(format!("{}: cannot read: {e}", arg.display())))
        })
        .collect::<Result<Vec<FileId>, InputError>>()?;
    for (j, id) in ids.iter().enumerate() {
        if let Some(i) = ids[..j].iter().position(|o| o.same_file(id)) {
            return Err(UsageError::new(
                "IN",
                format!(
                    "{} and {} are the same file ({}): merging a report with itself counts its \
                     samples twice",
                    args.inputs[i].display(),
                    args.inputs[j].display(),
                    id.path.display()
                ),
            )
            .into());
        }
    }
    // OUT is replaced atomically (a new file renamed over it), so if it is an input that input
    // is lost, and a later merge of the same rounds would count it twice.
    if let Ok(out_id) = FileId::of(&out) {
        if let Some(i) = ids.iter().position(|id| id.same_file(&out_id)) {
            return Err(UsageError::new(
                "OUT",
                format!(
                    "{} is the input {} ({}): merge-reports would overwrite it; write the merged \
                     report elsewhere",
                    out.display(),
                    args.inputs[i].display(),
                    out_id.path.display()
                ),
            )
            .into());
        }
    }

    let reports = paths
        .iter()
        .map(|p| load(p))
        .collect::<Result<Vec<Report>>>()?;
    let merged = merge_reports(&reports).map_err(|e| match e {
        MergeError::SameRun { first, second, .. } => anyhow::Error::from(UsageError::new(
            "IN",
            format!(
                "{} and {} are the same report: {e}",
                args.inputs[first].display(),
                args.inputs[second].display()
            ),
        )),
        e => InputError(format!("merge-reports: {e}")).into(),
    })?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| InputError(format!("{}: cannot create directory: {e}", dir.display())))?;
    }
    let mut json = serde_json::to_vec_pretty(&merged)?;
    json.push(b'\n');
    write_atomic(&out, &json)
        .map_err(|e| InputError(format!("{}: cannot write: {e}", out.display())))?;
    let samples: usize = merged.cases.iter().map(|c| c.samples.len()).sum();
    crate::note!(
        "merged {} reports: {} cases, {samples} samples -> {}",
        reports.len(),
        merged.cases.len(),
        out.display()
    );
    Ok(0)
}

/// Which file a path is: its canonical path (links and `..` resolved) and its device and inode
/// (so a hard link to an input is that input too).
struct FileId {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(path: &Path) -> std::io::Result<FileId> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(FileId {
            path: std::fs::canonicalize(path)?,
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    fn same_file(&self, other: &FileId) -> bool {
        self.path == other.path || (self.dev, self.ino) == (other.dev, other.ino)
    }
}

/// [`compare::compare`] with its refusal as an input error (exit 2).
pub fn compare_reports(base: &Report, new: &Report, opts: &CompareOptions) -> Result<Comparison> {
    compare::compare(base, new, opts).map_err(|e| InputError(e.to_string()).into())
}

/// A percentage flag must be a finite number ≥ 0.
pub fn check_pct(flag: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(UsageError::new(flag, format!("{value} is not a percentage ≥ 0")).into())
    }
}

/// A report argument: an existing report.json or report directory, else a baseline name.
pub fn resolve(arg: &Path, baselines_dir: &Path) -> Result<PathBuf> {
    if arg.exists() {
        return resolve_path(arg);
    }
    match arg.to_str() {
        Some(name) if baseline::is_valid_name(name) && !name.ends_with(".json") => {
            let path = baselines_dir.join(name).join("report.json");
            if path.is_file() {
                Ok(path)
            } else {
                Err(InputError(format!(
                    "{name}: no such report file or directory, and no baseline {name:?} in {}: {}",
                    baselines_dir.display(),
                    baseline::existing(baselines_dir)
                ))
                .into())
            }
        }
        _ => Err(InputError(format!(
            "{}: no such report file or directory",
            arg.display()
        ))
        .into()),
    }
}

/// An existing path: a directory stands for its report.json.
pub fn resolve_path(arg: &Path) -> Result<PathBuf> {
    if arg.is_dir() {
        let file = arg.join("report.json");
        if file.is_file() {
            Ok(file)
        } else {
            Err(InputError(format!(
                "{}: a directory without a report.json",
                arg.display()
            ))
            .into())
        }
    } else if arg.exists() {
        Ok(arg.to_path_buf())
    } else {
        Err(InputError(format!(
            "{}: no such report file or directory",
            arg.display()
        ))
        .into())
    }
}

/// Reads and parses a report; every failure names the file and is an input error.
pub fn load(path: &Path) -> Result<Report> {
    Ok(super::render::load_report(path)?)
}

/// Writes the Markdown table atomically; `flag` names the option in an error.
pub fn write_markdown(path: &Path, c: &Comparison, flag: &str) -> Result<()> {
    write_atomic(path, markdown(c).as_bytes())
        .map_err(|e| UsageError::new(flag, format!("{}: cannot write: {e}", path.display())).into())
}

/// `--fail-on-regression` is a percentage; `--allow-inconclusive` needs it.
pub fn check_gate_args(args: &GateArgs) -> Result<()> {
    match args.fail_on_regression {
        Some(p) => check_pct("--fail-on-regression", p),
        None if args.allow_inconclusive => Err(UsageError::new(
            "--allow-inconclusive",
            "only means something with --fail-on-regression PCT",
        )
        .into()),
        None => Ok(()),
    }
}

/// The exit code of the regression gate (0 without `--fail-on-regression`), with every case
/// that failed it or could not be decided named on stderr: 1 for a regression beyond PCT %, a
/// base case missing from the new report or no case compared; 3 when some case could not be
/// decided (0 with `--allow-inconclusive`).
pub fn gate(c: &Comparison, args: &GateArgs) -> u8 {
    let Some(pct) = args.fail_on_regression else {
        return 0;
    };
    let gate = c.gate(pct);
    let code = gate.exit_code(args.allow_inconclusive);
    let outcome = match code {
        0 if gate.inconclusive.is_empty() => "passed",
        0 => "passed (undecided cases allowed by --allow-inconclusive)",
        compare::GATE_INCONCLUSIVE => {
            "inconclusive (exit 3): no regression found, but not every case could be decided"
        }
        _ => "FAILED (exit 1)",
    };
    crate::note!("gate --fail-on-regression {pct}: {outcome}");
    for case in &gate.regressed {
        crate::note!(
            "  {}  slower by more than {pct} %: {}",
            case.id,
            change_text(case)
        );
    }
    for id in &gate.missing {
        crate::note!("  {id}  in the base but not in the new report: not judged, so not passed");
    }
    if gate.nothing_compared {
        crate::note!(
            "  no case in common between base ({:?}) and new ({:?}): nothing was judged",
            c.base.scenario,
            c.new.scenario
        );
    }
    for case in &gate.inconclusive {
        let why = if case.verdict_possible {
            "the CI reaches past the limit without significance"
        } else {
            "too few samples for significance"
        };
        crate::note!(
            "  {}  undecided: {} ({why}; {} vs {} samples)",
            case.id,
            change_text(case),
            case.base_samples,
            case.new_samples
        );
    }
    code
}
