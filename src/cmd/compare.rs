//! `minebench compare` and `minebench merge-reports`: reading reports (by path, directory or
//! baseline name), and printing a [`Comparison`] as a console table, Markdown or JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use minebench::error::{InputError, UsageError};
use minebench::output::write_atomic;
use minebench::report::compare::{self, CaseComparison, CompareOptions, Comparison, Side};
use minebench::report::merge::{merge_reports, MergeError};
use minebench::report::stats::Verdict;
use minebench::report::{Metric, Report};

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
    let base = load(&resolve(&args.base, &args.baselines_dir)?)?;
    let new = load(&resolve(&args.new, &args.baselines_dir)?)?;
    let opts = CompareOptions::new(
        args.threshold / 100.0,
        args.alpha,
        args.allow_different_machines,
    )
    .with_metric(args.metric.metric());
    let comparison = compare_reports(&base, &new, &opts)?;
    if args.json {
        super::emit_json(&comparison)?;
    } else {
        super::emit(&console_table(&comparison))?;
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
    minebench::note!(
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
    minebench::note!("gate --fail-on-regression {pct}: {outcome}");
    for case in &gate.regressed {
        minebench::note!(
            "  {}  slower by more than {pct} %: {}",
            case.id,
            change_text(case)
        );
    }
    for id in &gate.missing {
        minebench::note!(
            "  {id}  in the base but not in the new report: not judged, so not passed"
        );
    }
    if gate.nothing_compared {
        minebench::note!(
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
        minebench::note!(
            "  {}  undecided: {} ({why}; {} vs {} samples)",
            case.id,
            change_text(case),
            case.base_samples,
            case.new_samples
        );
    }
    code
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Faster => "faster",
        Verdict::Slower => "SLOWER",
        Verdict::NoChange => "no change",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// A case's change as `+1.23 % [+0.50, +2.00]` (its 95 % CI), or `n/a`.
pub fn change_text(c: &CaseComparison) -> String {
    match c.change {
        Some(ch) => format!(
            "{:+.2} % [{:+.2}, {:+.2}]",
            ch.change_pct, ch.change_ci95_low_pct, ch.change_ci95_high_pct
        ),
        None => "n/a".to_string(),
    }
}

fn p_text(c: &CaseComparison) -> String {
    c.p_value
        .map(|p| {
            if p < 0.001 {
                format!("{p:.1e}")
            } else {
                format!("{p:.3}")
            }
        })
        .unwrap_or_else(|| "n/a".into())
}

fn p99_text(c: &CaseComparison) -> String {
    match c.batch_p99 {
        Some(l) => match l.change_pct {
            Some(pct) => format!("{pct:+.1} %"),
            None => format!("{} → {} ns", l.base_ns, l.new_ns),
        },
        None => "-".into(),
    }
}

fn side_text(s: &Side) -> String {
    let commit = s
        .git_commit
        .as_deref()
        .map(|c| {
            let short = &c[..c.len().min(9)];
            if s.git_dirty == Some(true) {
                format!("{short}+dirty")
            } else {
                short.to_string()
            }
        })
        .unwrap_or_else(|| "unknown commit".into());
    let interrupted = if s.interrupted { ", interrupted" } else { "" };
    format!("{} @ {commit} ({}{interrupted})", s.scenario, s.started_at)
}

/// The rate unit of a comparison's clock.
fn unit(c: &Comparison) -> &'static str {
    match c.metric {
        Metric::Wall => "MH/s",
        Metric::Cpu => "MH/cpu-s",
    }
}

fn footer(c: &Comparison) -> String {
    format!(
        "threshold {} %, alpha {}: faster/slower needs |change| > threshold, a 95 % CI excluding 0 \
         and p < alpha; no change needs the whole CI within ±threshold; anything else is \
         inconclusive",
        c.threshold * 100.0,
        c.alpha
    )
}

/// The comparison as a fixed-width console table.
pub fn console_table(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {}", side_text(&c.base));
    let _ = writeln!(out, "new:  {}", side_text(&c.new));
    if c.machines_differ {
        let _ = writeln!(
            out,
            "warning: the machines differ (--allow-different-machines)"
        );
    }
    let w = c
        .cases
        .iter()
        .map(|x| &x.id)
        .chain(&c.only_in_base)
        .chain(&c.only_in_new)
        .map(|id| id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<w$}  {:>13}  {:>13}  {:>28}  {:>7}  {:>12}  {:>9}",
        "case",
        format!("base {}", unit(c)),
        format!("new {}", unit(c)),
        "change % [95% CI]",
        "p",
        "verdict",
        "p99 batch"
    );
    for x in &c.cases {
        let _ = writeln!(
            out,
            "{:<w$}  {:>13.3}  {:>13.3}  {:>28}  {:>7}  {:>12}  {:>9}",
            x.id,
            x.base_median_hps / 1e6,
            x.new_median_hps / 1e6,
            change_text(x),
            p_text(x),
            verdict_text(x.verdict),
            p99_text(x)
        );
    }
    for id in &c.only_in_base {
        let _ = writeln!(out, "{id:<w$}  only in base");
    }
    for id in &c.only_in_new {
        let _ = writeln!(out, "{id:<w$}  only in new");
    }
    if let Some(note) = no_common_cases(c) {
        let _ = writeln!(out, "{note}");
    }
    if let Some(note) = underpowered(c) {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out, "{}", footer(c));
    out
}

/// The comparison as Markdown (a heading line, a table, notes): for a CI step summary or a PR
/// comment.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### minebench compare: `{}`\n", c.new.scenario);
    let _ = writeln!(out, "- base: `{}`", side_text(&c.base));
    let _ = writeln!(out, "- new: `{}`", side_text(&c.new));
    if c.machines_differ {
        let _ = writeln!(out, "- **warning**: the machines differ");
    }
    let _ = writeln!(
        out,
        "\n| case | base {u} | new {u} | change | 95 % CI | p | verdict | batch p99 |",
        u = unit(c)
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|---:|");
    for x in &c.cases {
        let (change, ci) = match x.change {
            Some(ch) => (
                format!("{:+.2} %", ch.change_pct),
                format!(
                    "{:+.2} … {:+.2} %",
                    ch.change_ci95_low_pct, ch.change_ci95_high_pct
                ),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        let verdict = match x.verdict {
            Verdict::NoChange => "no change".to_string(),
            v => format!("**{}**", verdict_text(v).to_lowercase()),
        };
        let _ = writeln!(
            out,
            "| `{}` | {:.3} | {:.3} | {change} | {ci} | {} | {verdict} | {} |",
            x.id,
            x.base_median_hps / 1e6,
            x.new_median_hps / 1e6,
            p_text(x),
            p99_text(x)
        );
    }
    if !c.only_in_base.is_empty() {
        let _ = writeln!(out, "\nOnly in base: {}", ticks(&c.only_in_base));
    }
    if !c.only_in_new.is_empty() {
        let _ = writeln!(out, "\nOnly in new: {}", ticks(&c.only_in_new));
    }
    if let Some(note) = no_common_cases(c) {
        let _ = writeln!(out, "\n**{note}**");
    }
    if let Some(note) = underpowered(c) {
        let _ = writeln!(out, "\n**{note}**");
    }
    let _ = writeln!(out, "\n{}.", footer(c));
    out
}

/// A warning when nothing could be compared (usually two different scenarios).
fn no_common_cases(c: &Comparison) -> Option<String> {
    c.cases.is_empty().then(|| {
        format!(
            "warning: no case in common (base scenario {:?}, new scenario {:?})",
            c.base.scenario, c.new.scenario
        )
    })
}

/// A warning naming the cases whose sample counts make any verdict impossible.
fn underpowered(c: &Comparison) -> Option<String> {
    let ids: Vec<String> = c
        .cases
        .iter()
        .filter(|x| !x.verdict_possible)
        .map(|x| format!("{} ({} vs {} samples)", x.id, x.base_samples, x.new_samples))
        .collect();
    (!ids.is_empty()).then(|| {
        format!(
            "warning: too few samples for p < {} to be possible, so no verdict can be reached \
             (use at least 4 samples a side, or merge rounds): {}",
            c.alpha,
            ids.join(", ")
        )
    })
}

fn ticks(ids: &[String]) -> String {
    ids.iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
