//! `minebench run` and `minebench plan`: scenario files in, reports out.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};

use minebench::error::InputError;
use minebench::run::{self, RunOptions};
use minebench::scenario::plan::Plan;
use minebench::scenario::{self, PlanOptions};

use crate::cli::{PlanArgs, RunArgs};

/// Loads every scenario before anything runs, so a typo in the third file costs no hashing.
fn load_plans(files: &[PathBuf]) -> Result<Vec<Plan>> {
    let opts = PlanOptions::detect();
    if files.is_empty() {
        return Ok(vec![scenario::builtin_quick(&opts)]);
    }
    files
        .iter()
        .map(|f| scenario::load_file(f, &opts).map_err(Into::into))
        .collect()
}

pub fn plan(args: &PlanArgs) -> Result<u8> {
    let plans = load_plans(args.file.as_slice())?;
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

pub fn run(args: &RunArgs) -> Result<u8> {
    let plans = load_plans(&args.scenarios)?;
    if args.dry_run {
        return print_plans(&plans, args.json);
    }
    ensure_writable(&args.out)?;
    let stop = run::interrupt_flag();
    let opts = RunOptions {
        out_root: args.out.clone(),
        profile: !args.no_profile,
        calibrate: true,
    };
    let mut code = 0;
    for plan in &plans {
        let started = SystemTime::now();
        let dir = run::create_run_dir(&args.out, plan, started)
            .map_err(|e| InputError(format!("--out: {e}")))?;
        eprintln!(
            "running {} ({} cases) into {}",
            plan.name,
            plan.cases.len(),
            dir.display()
        );
        let outcome = run::execute(plan, &opts, &dir, started, &stop).with_context(|| {
            format!(
                "scenario {} (partial report in {})",
                plan.name,
                dir.display()
            )
        })?;
        let written = super::render::render_dir(&outcome.report, &outcome.dir)?;
        super::emit(&minebench::render::table::summary(&outcome.report))?;
        eprintln!("report: {}", outcome.report_path.display());
        for path in written {
            eprintln!("        {}", path.display());
        }
        if outcome.report.interrupted {
            code = 130;
            break;
        }
    }
    Ok(code)
}

/// `--out` must be a directory we can create and write in; checked before any case runs, and
/// nothing is left behind if it is not.
fn ensure_writable(out: &Path) -> Result<()> {
    let existed = out.exists();
    std::fs::create_dir_all(out).map_err(|e| {
        InputError(format!(
            "--out {}: cannot create directory: {e}",
            out.display()
        ))
    })?;
    let probe = out.join(format!(".minebench-write-test-{}", std::process::id()));
    let result = std::fs::write(&probe, b"");
    let _ = std::fs::remove_file(&probe);
    if let Err(e) = result {
        if !existed {
            let _ = std::fs::remove_dir(out);
        }
        return Err(InputError(format!("--out {}: not writable: {e}", out.display())).into());
    }
    Ok(())
}
