//! `minebench history`: gather stored runs (report files and directories, a `run --history`
//! database), group them into series, find change points, print and write the outputs.
//!
//! Argument glue only: the series and the detection are `report::history`, the texts and the
//! chart are `render::history*`, the database is `history_store`. The one thing done here that
//! is not glue is asking git for the commit order (`--order commit`), because that is I/O.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use serde_json::json;

use crate::error::{InputError, UsageError};
use crate::history_store::Store;
use crate::output::write_atomic;
use crate::render::{history as text, history_plot};
use crate::report::history::{self, Analysed, HistoryRow, Options, Order};
use crate::report::Report;

use crate::cli::{HistoryArgs, OrderArg};

pub fn run(args: &HistoryArgs) -> Result<u8> {
    let opts = check_args(args)?;
    if let Some(path) = &args.markdown {
        super::check_file_writable(path, "--markdown")?;
    }
    for (dir, flag) in [(&args.plot, "--plot"), (&args.csv, "--csv")] {
        if let Some(dir) = dir {
            super::check_dir_writable(dir, flag)?;
        }
    }

    let mut rows = Vec::new();
    let mut interrupted = 0;
    for path in report_files(&args.paths)? {
        let report = super::render::load_report(&path)?;
        // The database never holds an interrupted run (`run --history` skips it); reading
        // reports behaves the same, so both sources give the same series.
        if report.interrupted {
            interrupted += 1;
            continue;
        }
        rows.extend(HistoryRow::from_report(
            &report,
            &path.display().to_string(),
        ));
    }
    if interrupted > 0 {
        crate::note!("left out {interrupted} interrupted run(s)");
    }
    if let Some(db) = &args.db {
        let store = Store::open_existing(db).map_err(|e| InputError(format!("--db: {e}")))?;
        rows.extend(store.rows().map_err(|e| InputError(format!("--db: {e}")))?);
    }
    if !args.cases.is_empty() {
        for id in &args.cases {
            if !rows.iter().any(|r| &r.case_id == id) {
                return Err(
                    UsageError::new("--case", format!("no stored run has case {id}")).into(),
                );
            }
        }
        rows.retain(|r| args.cases.contains(&r.case_id));
    }

    let order = match args.order {
        OrderArg::Time => Order::Time,
        OrderArg::Commit => Order::Commits(commit_order(&args.repo)?),
    };
    let grouped = history::group(&rows, args.metric.metric(), &order);
    if grouped.duplicates > 0 {
        crate::note!(
            "counted once: {} case row(s) seen twice",
            grouped.duplicates
        );
    }
    if grouped.without_metric > 0 {
        crate::note!(
            "left out {} case row(s) without a {} rate",
            grouped.without_metric,
            args.metric.metric().name()
        );
    }
    if grouped.outside_commit_order > 0 {
        crate::note!(
            "left out {} case row(s) whose commit is not in the history of {}",
            grouped.outside_commit_order,
            args.repo.display()
        );
    }
    if grouped.series.is_empty() {
        return Err(InputError(
            "history: no run to analyse in the given reports or database".into(),
        )
        .into());
    }
    let analysed = history::analyse(grouped.series, &opts);

    if let Some(dir) = &args.csv {
        write_csv(dir, &analysed)?;
    }
    if let Some(dir) = &args.plot {
        for a in &analysed {
            for path in history_plot::write(a, dir, &text::series_stem(&a.series))? {
                crate::note!("wrote {}", path.display());
            }
        }
    }
    if let Some(path) = &args.markdown {
        write_atomic(path, text::markdown(&analysed).as_bytes()).map_err(|e| {
            UsageError::new(
                "--markdown",
                format!("{}: cannot write: {e}", path.display()),
            )
        })?;
    }
    if args.json {
        super::emit_json(&to_json(&analysed, &opts))?;
    } else {
        super::emit(&text::console(&analysed))?;
    }
    Ok(0)
}

/// `run --history FILE`: opens (or creates) the database before anything runs, so a bad path
/// is a usage error that costs no hashing.
pub fn open_store(path: Option<&Path>) -> Result<Option<Store>> {
    path.map(|p| Store::open_for_append(p).map_err(|e| UsageError::new("--history", e).into()))
        .transpose()
}

/// `run --history FILE`: appends a finished run; an interrupted one is left out (its missing
/// cases would read as a gap, and its finished ones were measured under a Ctrl-C).
pub fn append_run(store: Option<&mut Store>, report: &Report, report_path: &Path) -> Result<()> {
    let Some(store) = store else { return Ok(()) };
    if report.interrupted {
        crate::note!("history: interrupted run not appended");
        return Ok(());
    }
    let added = store.append(report, report_path)?;
    crate::note!("history: {added} case(s) appended");
    Ok(())
}

/// Checks the flags that need no I/O and turns them into detection options.
fn check_args(args: &HistoryArgs) -> Result<Options> {
    if args.paths.is_empty() && args.db.is_none() {
        return Err(UsageError::new(
            "PATHS",
            "give report files or directories, or --db FILE (or both)",
        )
        .into());
    }
    if !(args.p_value > 0.0 && args.p_value <= 1.0) {
        return Err(
            UsageError::new("--p-value", format!("{} is not in (0, 1]", args.p_value)).into(),
        );
    }
    if !(args.min_magnitude.is_finite() && args.min_magnitude >= 0.0) {
        return Err(UsageError::new(
            "--min-magnitude",
            format!("{} is not a percentage ≥ 0", args.min_magnitude),
        )
        .into());
    }
    if args.window < 2 {
        return Err(UsageError::new("--window", "must be at least 2 points").into());
    }
    Ok(Options {
        window_len: args.window,
        max_pvalue: args.p_value,
        min_magnitude: args.min_magnitude / 100.0,
    })
}

/// The report.json files named by `paths`: files as given, directories searched recursively
/// (symlinked directories are not followed, so a link loop cannot hang the walk), sorted.
fn report_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|e| InputError(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let before = out.len();
            walk(path, &mut out)?;
            if out.len() == before {
                crate::note!("{}: no report.json under it", path.display());
            }
        } else {
            out.push(path.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| InputError(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| InputError(format!("{}: {e}", dir.display())))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if entry.file_name() == "report.json" {
            out.push(path);
        }
    }
    Ok(())
}

/// Every commit of `repo`'s history, oldest first.
fn commit_order(repo: &Path) -> Result<Vec<String>> {
    let fail = |why: String| {
        UsageError::new(
            "--order commit",
            format!("needs the git history of {}: {why}", repo.display()),
        )
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-list", "--topo-order", "--reverse", "HEAD"])
        .output()
        .map_err(|e| fail(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_string()).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// DIR/<series>.csv per series and DIR/otava.yaml naming them all.
fn write_csv(dir: &Path, analysed: &[Analysed]) -> Result<()> {
    // Otava opens the files relative to where it runs: the config names them absolutely.
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut tests = Vec::new();
    let cannot = |path: &Path, e: std::io::Error| {
        UsageError::new("--csv", format!("{}: cannot write: {e}", path.display()))
    };
    for a in analysed {
        let stem = text::series_stem(&a.series);
        let path = dir.join(format!("{stem}.csv"));
        write_atomic(&path, text::csv(&a.series).as_bytes()).map_err(|e| cannot(&path, e))?;
        tests.push((
            stem.clone(),
            abs.join(format!("{stem}.csv")).display().to_string(),
        ));
    }
    let metric = analysed
        .first()
        .map(|a| a.series.metric)
        .unwrap_or_default();
    let config = dir.join("otava.yaml");
    write_atomic(&config, text::otava_config(&tests, metric).as_bytes())
        .map_err(|e| cannot(&config, e))?;
    crate::note!(
        "wrote {} series as CSV and {}",
        tests.len(),
        config.display()
    );
    Ok(())
}

/// The `--json` document: options, then each series with its points and change points (each
/// change point with the time and commit of its first point, and the change in percent).
fn to_json(analysed: &[Analysed], opts: &Options) -> serde_json::Value {
    let series: Vec<serde_json::Value> = analysed
        .iter()
        .map(|a| {
            let cps: Vec<serde_json::Value> = a
                .change_points
                .iter()
                .map(|cp| {
                    let p = a.series.points.get(cp.index);
                    json!({
                        "index": cp.index,
                        "started_at": p.map(|p| p.started_at.clone()),
                        "git_commit": p.and_then(|p| p.git_commit.clone()),
                        "mean_before": cp.mean_before,
                        "mean_after": cp.mean_after,
                        "stddev_before": cp.stddev_before,
                        "stddev_after": cp.stddev_after,
                        "change_pct": cp.change_pct(),
                        "magnitude": cp.magnitude(),
                        "pvalue": cp.pvalue,
                    })
                })
                .collect();
            json!({
                "case_id": a.series.case_id,
                "machine": a.series.machine,
                "stem": text::series_stem(&a.series),
                "metric": a.series.metric,
                "points": a.series.points,
                "change_points": cps,
            })
        })
        .collect();
    json!({ "options": opts, "series": series })
}
