//! `minebench run` and `minebench plan`: scenario files in, reports out.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::error::{InputError, UsageError};
use crate::probe::machine::Fingerprint;
use crate::report::compare::CompareOptions;
use crate::report::Report;
use crate::run::{self, RunOptions};
use crate::scenario::plan::{Plan, PoolSpec, DEFAULT_POOL_USER};
use crate::scenario::{self, PlanOptions};
use crate::Registry;

use super::{baseline, compare};
use crate::cli::{PlanArgs, RunArgs};

/// Loads every scenario before anything runs, so a typo in the third file costs no hashing.
fn load_plans(
    files: &[PathBuf],
    registry: &Registry,
    pool_given: bool,
    auto: Option<&str>,
) -> Result<Vec<Plan>> {
    let mut opts = PlanOptions {
        pool_given,
        ..PlanOptions::detect(registry)
    };
    if let Some(auto) = auto {
        opts.catalog.auto = auto.to_string();
    }
    if files.is_empty() {
        return Ok(vec![scenario::default_plan(&opts, registry)]);
    }
    files
        .iter()
        .map(|f| scenario::load_file(f, &opts).map_err(Into::into))
        .collect()
}

pub fn plan(args: &PlanArgs, registry: &Registry) -> Result<u8> {
    let plans = load_plans(args.file.as_slice(), registry, false, None)?;
    print_plans(&plans, args.json)
}

fn print_plans(plans: &[Plan], json: bool) -> Result<u8> {
    if json {
        if let [one] = plans {
            super::emit_json(one)?;
        } else {
            super::emit_json(&plans)?;
        }
        return Ok(0);
    }
    let mut text = String::new();
    for p in plans {
        text.push_str(&format!(
            "scenario {} ({}): {} cases\n",
            p.name,
            p.source,
            p.cases.len()
        ));
        for c in &p.cases {
            match &c.skip {
                None => text.push_str(&format!("  {}\n", c.id)),
                Some(why) => text.push_str(&format!("  {}  (skipped: {why})\n", c.id)),
            }
        }
    }
    super::emit(&text)?;
    Ok(0)
}

pub fn run(args: &RunArgs, registry: &Registry) -> Result<u8> {
    if args.json && !args.dry_run {
        return Err(UsageError::new(
            "--json",
            "only means something with --dry-run (a run's JSON is its report.json)",
        )
        .into());
    }
    let mut plans = load_plans(&args.scenarios, registry, args.pool.is_some(), None)?;
    apply_pool_flags(args, &mut plans)?;
    if args.dry_run {
        return print_plans(&plans, args.json);
    }
    // `auto` is what is fastest here, measured, unless asked otherwise: the plans are expanded
    // again with the measured choice (they were checked above, so this cannot fail anew).
    let uses_auto = plans
        .iter()
        .any(|p| p.matrix.backend.iter().any(|b| b == "auto"));
    let auto_calibration = if uses_auto && !args.no_auto_calibration {
        let c = registry.calibrate_auto(AUTO_CALIBRATION_ROUND, AUTO_CALIBRATION_ROUNDS);
        if let Some(c) = &c {
            registry.apply_tunings(&c.tuning);
            let list: Vec<String> = c
                .candidates
                .iter()
                .map(|k| match &k.tuning {
                    Some(t) => format!("{} ({t}) {:.1}", k.backend, k.hashes_per_sec / 1e6),
                    None => format!("{} {:.1}", k.backend, k.hashes_per_sec / 1e6),
                })
                .collect();
            crate::note!(
                "auto: {}{} (one thread, MH/s: {}; {:.0} ms)",
                c.chosen,
                c.tuning
                    .get(&c.chosen)
                    .map_or(String::new(), |t| format!(" ({t})")),
                list.join(", "),
                c.duration_ns as f64 / 1e6
            );
            if c.chosen != c.static_choice {
                plans = load_plans(
                    &args.scenarios,
                    registry,
                    args.pool.is_some(),
                    Some(&c.chosen),
                )?;
                apply_pool_flags(args, &mut plans)?;
            }
        }
        c
    } else {
        None
    };
    // Before anything is created or hashed: a bad name or a missing or foreign baseline is an
    // input error that costs nothing.
    let baseline = BaselineJob::prepare(args, plans.len())?;
    // Bound before anything is hashed or written: a taken port is an input error that costs
    // nothing.
    let (live, _server) = match super::start_metrics(&args.metrics, "run")? {
        Some((live, server)) => (Some(live), Some(server)),
        None => (None, None),
    };
    super::check_dir_writable(&args.out, "--out")?;
    let mut history = super::history::open_store(args.history.as_deref())?;
    let stop = run::interrupt_flag();
    let opts = RunOptions {
        out_root: args.out.clone(),
        profile: !args.no_profile,
        calibrate: true,
        subject: registry.subject().cloned(),
        live,
        auto_calibration,
    };
    let mut code = 0;
    for plan in &plans {
        let started = SystemTime::now();
        let dir = run::create_run_dir(&args.out, plan, started)
            .map_err(|e| InputError(format!("--out: {e}")))?;
        crate::note!(
            "running {} ({} cases) into {}",
            plan.name,
            plan.cases.len(),
            dir.display()
        );
        let outcome = run::execute(registry, plan, &opts, &dir, started, &stop)
            .with_context(|| failed_run_context(&plan.name, &dir))?;
        let written = super::render::render_dir(&outcome.report, &outcome.dir)?;
        super::emit(&crate::render::table::summary(&outcome.report))?;
        crate::note!("report: {}", outcome.report_path.display());
        for path in written {
            crate::note!("        {}", path.display());
        }
        super::history::append_run(history.as_mut(), &outcome.report, &outcome.report_path)?;
        if outcome.report.interrupted {
            if let Some(name) = &args.save_baseline {
                crate::note!("baseline {name} not saved: the run was interrupted");
            }
            code = run::interrupt_exit_code();
            break;
        }
        if !outcome.report.failed.is_empty() {
            // No number for a wrong backend (its cases failed the pre-flight cross-check) nor
            // for an external miner that did not come up or died.
            crate::note!(
                "{} case(s) failed; first: {}: {}",
                outcome.report.failed.len(),
                outcome.report.failed[0].id,
                outcome.report.failed[0].reason
            );
            if let Some(name) = &args.save_baseline {
                crate::note!("baseline {name} not saved: cases failed");
            }
            code = code.max(1);
            continue;
        }
        code = code.max(baseline.after_run(args, &outcome.report, &outcome.dir)?);
    }
    Ok(code)
}

/// Time per backend per round of the `auto` calibration, and rounds (interleaved).
const AUTO_CALIBRATION_ROUND: std::time::Duration = std::time::Duration::from_millis(15);
const AUTO_CALIBRATION_ROUNDS: u32 = 3;

/// `--pool URL [--pool-user U] [--pool-password P]`: every plan takes its jobs from that pool
/// (the scenario's `[work] pool` user and password are kept unless the flags give others).
fn apply_pool_flags(args: &RunArgs, plans: &mut [Plan]) -> Result<()> {
    let Some(url) = &args.pool else {
        for (flag, given) in [
            ("--pool-user", args.pool_user.is_some()),
            ("--pool-password", args.pool_password.is_some()),
        ] {
            if given {
                return Err(UsageError::new(flag, "only means something with --pool URL").into());
            }
        }
        return Ok(());
    };
    crate::stratum::client::parse_url(url).map_err(|e| UsageError::new("--pool", e.to_string()))?;
    for plan in plans {
        let old = plan.work.pool.clone();
        let spec = PoolSpec {
            url: url.clone(),
            user: args
                .pool_user
                .clone()
                .or_else(|| old.as_ref().map(|p| p.user.clone()))
                .unwrap_or_else(|| DEFAULT_POOL_USER.to_string()),
            password: args
                .pool_password
                .clone()
                .or_else(|| old.as_ref().map(|p| p.password.clone()))
                .unwrap_or_else(|| "x".to_string()),
        };
        let dropped = plan
            .use_pool(spec)
            .map_err(|e| UsageError::new("--pool", format!("scenario {}: {e}", plan.name)))?;
        if !dropped.is_empty() {
            crate::note!(
                "--pool: the pool sets the share difficulty; scenario {}'s difficulties ({}) \
                 are not used",
                plan.name,
                dropped.join(", ")
            );
        }
    }
    Ok(())
}

/// What a failed run left: "partial report in DIR" only when DIR holds a report with finished
/// cases; an empty run directory is removed rather than pointed at.
fn failed_run_context(scenario: &str, dir: &Path) -> String {
    let finished = compare::load(&dir.join("report.json")).map(|r| r.cases.len());
    match finished {
        Ok(n) if n > 0 => format!(
            "scenario {scenario} (partial report of {n} finished case(s) in {})",
            dir.display()
        ),
        _ => {
            let _ = std::fs::remove_dir_all(dir);
            format!("scenario {scenario} (no case finished; nothing kept)")
        }
    }
}

/// `run --baseline` / `--save-baseline`: what was checked before the run, used after it.
struct BaselineJob {
    /// The baseline to compare against, loaded before the run.
    compare_with: Option<Report>,
    save_as: Option<String>,
}

impl BaselineJob {
    /// Validates the baseline flags and loads the `--baseline` report, checking its machine
    /// against this one, so that every refusal happens before anything runs.
    fn prepare(args: &RunArgs, scenarios: usize) -> Result<BaselineJob> {
        let wants = args.baseline.is_some() || args.save_baseline.is_some();
        if wants && scenarios > 1 {
            let flag = if args.baseline.is_some() {
                "--baseline"
            } else {
                "--save-baseline"
            };
            return Err(UsageError::new(
                flag,
                format!("a baseline is one report: give one scenario, not {scenarios}"),
            )
            .into());
        }
        if args.baseline.is_none() {
            for (flag, given) in [
                (
                    "--fail-on-regression",
                    args.gate.fail_on_regression.is_some(),
                ),
                ("--allow-inconclusive", args.gate.allow_inconclusive),
                ("--metric", args.metric != crate::cli::MetricArg::Wall),
                ("--markdown", args.markdown.is_some()),
                ("--allow-different-machines", args.allow_different_machines),
            ] {
                if given {
                    return Err(
                        UsageError::new(flag, "only means something with --baseline NAME").into(),
                    );
                }
            }
        }
        compare::check_gate_args(&args.gate)?;
        if let Some(name) = &args.save_baseline {
            baseline::check_name("--save-baseline", name)?;
        }
        if let Some(path) = &args.markdown {
            super::check_file_writable(path, "--markdown")?;
        }
        let compare_with = match &args.baseline {
            None => None,
            Some(name) => {
                baseline::check_name("--baseline", name)?;
                let path = baseline::report_path(&args.baselines_dir, name)
                    .map_err(|e| InputError(format!("--baseline: {e:#}")))?;
                let report = compare::load(&path)?;
                let here = Fingerprint::capture().comparable_key();
                let there = report.machine.comparable_key();
                if here != there && !args.allow_different_machines {
                    return Err(InputError(format!(
                        "--baseline {name}: measured on another machine; comparing would measure \
                         the machines, not the code (pass --allow-different-machines to compare \
                         anyway)\n  baseline: {there}\n  here:     {here}"
                    ))
                    .into());
                }
                Some(report)
            }
        };
        Ok(BaselineJob {
            compare_with,
            save_as: args.save_baseline.clone(),
        })
    }

    /// Compares the finished report with the baseline (printing the table), then saves it as a
    /// baseline — unless the regression gate failed: a regressed run must not become the
    /// reference the next run is judged against. Returns the exit code (1 on a regression).
    fn after_run(&self, args: &RunArgs, report: &Report, dir: &Path) -> Result<u8> {
        let mut code = 0;
        if let Some(base) = &self.compare_with {
            let opts = CompareOptions::new(
                crate::report::stats::DEFAULT_THRESHOLD,
                crate::report::stats::DEFAULT_ALPHA,
                args.allow_different_machines,
            )
            .with_metric(args.metric.metric());
            let comparison = compare::compare_reports(base, report, &opts)?;
            super::emit(&format!(
                "\ncompared with baseline {}:\n{}",
                args.baseline.as_deref().unwrap_or_default(),
                crate::render::compare::console_table(&comparison)
            ))?;
            if let Some(path) = &args.markdown {
                compare::write_markdown(path, &comparison, "--markdown")?;
            }
            code = compare::gate(&comparison, &args.gate);
        }
        if let Some(name) = &self.save_as {
            if code != 0 {
                crate::note!(
                    "baseline {name} not updated: this run failed the gate against the baseline"
                );
            } else if report.cases.is_empty() {
                // A baseline with no case would make every later gate compare nothing.
                crate::note!(
                    "baseline {name} not saved: the run measured no case ({} skipped{})",
                    report.skipped.len(),
                    report
                        .skipped
                        .first()
                        .map(|s| format!(", e.g. {}: {}", s.id, s.reason))
                        .unwrap_or_default()
                );
                code = 1;
            } else {
                let dest = baseline::save(dir, &args.baselines_dir, name)?;
                crate::note!("baseline {name} saved: {}", dest.display());
            }
        }
        Ok(code)
    }
}
