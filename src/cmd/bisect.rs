//! `minebench bisect`: find the commit where a case got slower. The search is `crate::bisect`;
//! this is the I/O around it that `scripts/compare-revs.sh` does for two revisions: git
//! (revisions, temporary worktrees), the build command, one `run --no-profile` per round with
//! each revision's own binary, and printing the result.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, Context, Result};
use serde_json::json;

use crate::bisect::{self, BisectError, BisectOptions, Bisection, Mark, Probe};
use crate::error::UsageError;
use crate::output::write_atomic;
use crate::report::compare::CaseComparison;
use crate::report::Report;

use crate::cli::BisectArgs;
use crate::render::format::change_text;

/// Exit status when BAD is not slower than GOOD: nothing to bisect (not an input error, not a
/// failed run; the same code `compare` uses for "cannot decide").
const NO_REGRESSION: u8 = 3;

/// One revision: GOOD first, then GOOD..BAD along first parents, BAD last.
struct Rev {
    sha: String,
    subject: String,
}

pub fn run(args: &BisectArgs) -> Result<u8> {
    if args.rounds == 0 {
        return Err(UsageError::new("--rounds", "must be at least 1").into());
    }
    if let Some(dir) = &args.out {
        super::check_dir_writable(dir, "--out")?;
    }
    let repo = repo_root(args.repo.as_deref())?;
    let good = resolve(&repo, &args.good, "GOOD")?;
    let bad = resolve(&repo, &args.bad, "BAD")?;
    let ancestor = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["merge-base", "--is-ancestor", &good, &bad])
        .status()
        .context("running git merge-base")?;
    if !ancestor.success() || good == bad {
        return Err(UsageError::new(
            "GOOD",
            format!(
                "{} ({}) is not an ancestor of BAD {} ({}): nothing between them to bisect",
                args.good,
                short(&good),
                args.bad,
                short(&bad)
            ),
        )
        .into());
    }
    let mut revs = vec![Rev {
        subject: git(&repo, &["log", "-1", "--format=%s", &good])?,
        sha: good.clone(),
    }];
    let range = format!("{good}..{bad}");
    for line in git(
        &repo,
        &[
            "rev-list",
            "--first-parent",
            "--reverse",
            "--format=%H %s",
            "--no-commit-header",
            &range,
        ],
    )?
    .lines()
    {
        let (sha, subject) = line.split_once(' ').unwrap_or((line, ""));
        revs.push(Rev {
            sha: sha.to_string(),
            subject: subject.to_string(),
        });
    }
    check_scenario(&repo, &args.scenario, &bad)?;

    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => repo.join("target"),
    };
    let tmp = make_temp_dir()?;
    crate::note!(
        "bisecting {} over {} commit(s) ({} .. {}), {} round(s) a step; work in {}",
        args.case,
        revs.len() - 1,
        short(&good),
        short(&bad),
        args.rounds,
        tmp.display()
    );
    let mut probe = Revisions {
        args,
        repo: repo.clone(),
        target_dir,
        tmp: tmp.clone(),
        revs: &revs,
        bins: vec![None; revs.len()],
        worktrees: Vec::new(),
    };
    let mut opts = BisectOptions::new(&args.case).with_rounds(args.rounds);
    opts.compare = opts.compare.with_metric(args.metric.metric());
    // The worktrees go whatever happened (unless --keep): `probe` is dropped on every path.
    let result = bisect::bisect(revs.len(), &opts, &mut probe);
    drop(probe);
    if args.keep {
        crate::note!("kept worktrees, binaries and runs in {}", tmp.display());
    } else {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let b = result.map_err(|e| input_error(e, &revs))?;

    let md = markdown(&b, &revs);
    if let Some(dir) = &args.out {
        write_atomic(&dir.join("bisect.md"), md.as_bytes())
            .with_context(|| format!("writing {}", dir.join("bisect.md").display()))?;
        let text = serde_json::to_string_pretty(&to_json(&b, &revs))?;
        write_atomic(&dir.join("bisect.json"), text.as_bytes())
            .with_context(|| format!("writing {}", dir.join("bisect.json").display()))?;
    }
    if args.json {
        super::emit_json(&to_json(&b, &revs))?;
    } else {
        super::emit(&console(&b, &revs))?;
    }
    match b.first_bad {
        Some(_) => Ok(0),
        None => {
            crate::note!(
                "no regression between GOOD and BAD to bisect: {} is not slower at {} than at {}",
                b.case,
                short(&bad),
                short(&good)
            );
            Ok(NO_REGRESSION)
        }
    }
}

/// A case missing from a revision's report is the user's `--case` at fault (exit 2); the
/// message names the revision by commit rather than by index.
fn input_error(err: anyhow::Error, revs: &[Rev]) -> anyhow::Error {
    match err.downcast_ref::<BisectError>() {
        Some(BisectError::MissingCase {
            rev,
            case,
            available,
        }) => UsageError::new(
            "--case",
            format!(
                "the report of {} has no case {case} (its cases: {})",
                short(&revs[*rev].sha),
                available.join(", ")
            ),
        )
        .into(),
        _ => err,
    }
}

/// `--repo`, or the top level of the repository the current directory is in.
fn repo_root(repo: Option<&Path>) -> Result<PathBuf> {
    let dir = repo.unwrap_or(Path::new("."));
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .context("running git")?;
    if !out.status.success() {
        return Err(UsageError::new(
            "--repo",
            format!("{}: not in a git repository", dir.display()),
        )
        .into());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The full sha of `rev`, or an input error naming the argument.
fn resolve(repo: &Path, rev: &str, what: &str) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .output()
        .context("running git rev-parse")?;
    if !out.status.success() {
        return Err(UsageError::new(what, format!("{rev:?} is not a commit")).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// stdout of a git command that must succeed.
fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .context("running git")?;
    if !out.status.success() {
        return Err(anyhow!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// The scenario must exist somewhere a revision will look: in BAD's tree or the current
/// checkout (or as the absolute path given), checked before anything is built.
fn check_scenario(repo: &Path, scenario: &Path, bad: &str) -> Result<()> {
    let found = if scenario.is_absolute() {
        scenario.is_file()
    } else {
        repo.join(scenario).is_file()
            || Command::new("git")
                .arg("-C")
                .arg(repo)
                .args(["cat-file", "-e", &format!("{bad}:{}", scenario.display())])
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
    };
    if found {
        Ok(())
    } else {
        Err(UsageError::new(
            "SCENARIO",
            format!(
                "{}: no such file in BAD or in {}",
                scenario.display(),
                repo.display()
            ),
        )
        .into())
    }
}

/// A fresh directory for worktrees, binaries and runs.
fn make_temp_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = base.join(format!("minebench-bisect.{}.{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(9)]
}

/// Measures revisions by building each once in its own worktree and running the scenario.
struct Revisions<'a> {
    args: &'a BisectArgs,
    repo: PathBuf,
    target_dir: PathBuf,
    tmp: PathBuf,
    revs: &'a [Rev],
    /// Each revision's binary, copied out of the shared target dir once built.
    bins: Vec<Option<PathBuf>>,
    worktrees: Vec<PathBuf>,
}

impl Revisions<'_> {
    fn worktree(&self, rev: usize) -> PathBuf {
        self.tmp.join(format!("rev-{}", self.revs[rev].sha))
    }

    /// Builds `rev` in a new worktree (once) and returns its binary.
    fn binary(&mut self, rev: usize) -> Result<PathBuf> {
        if let Some(bin) = &self.bins[rev] {
            return Ok(bin.clone());
        }
        let r = &self.revs[rev];
        crate::note!("== building {} ({})", short(&r.sha), r.subject);
        let wt = self.worktree(rev);
        git(
            &self.repo,
            &[
                "worktree",
                "add",
                "--detach",
                "--quiet",
                &wt.to_string_lossy(),
                &r.sha,
            ],
        )?;
        self.worktrees.push(wt.clone());
        let status = Command::new("sh")
            .arg("-c")
            .arg(&self.args.build)
            .current_dir(&wt)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("--build: running sh -c {:?}", self.args.build))?;
        if !status.success() {
            return Err(anyhow!(
                "--build: {:?} failed in {} ({status})",
                self.args.build,
                short(&r.sha)
            ));
        }
        let built = match &self.args.bin {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => wt.join(p),
            None => self.target_dir.join("release").join("minebench"),
        };
        // Every revision builds into one target dir: copy the binary out before the next build.
        let bin = self.tmp.join("bin").join(&r.sha);
        std::fs::create_dir_all(self.tmp.join("bin"))?;
        std::fs::copy(&built, &bin).with_context(|| {
            format!(
                "--bin: copying the binary {} built for {}",
                built.display(),
                short(&r.sha)
            )
        })?;
        self.bins[rev] = Some(bin.clone());
        Ok(bin)
    }

    /// The scenario for `rev`: its own copy when it has one.
    fn scenario(&self, rev: usize) -> PathBuf {
        let s = &self.args.scenario;
        if s.is_absolute() {
            return s.clone();
        }
        let own = self.worktree(rev).join(s);
        if own.is_file() {
            own
        } else {
            self.repo.join(s)
        }
    }
}

impl Probe for Revisions<'_> {
    type Error = anyhow::Error;

    fn measure(&mut self, rev: usize, round: usize) -> Result<Report> {
        let bin = self.binary(rev)?;
        let sha = &self.revs[rev].sha;
        let out = self
            .tmp
            .join("runs")
            .join(format!("{}-{round}", short(sha)));
        crate::note!("   run {} round {round}", short(sha));
        let output = Command::new(&bin)
            .arg("run")
            .arg(self.scenario(rev))
            .arg("--no-profile")
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            return Err(anyhow!(
                "the run of {} failed ({}): {}",
                short(sha),
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ));
        }
        // `run --out DIR` writes DIR/<scenario>-<timestamp>/report.json.
        let report = std::fs::read_dir(&out)
            .with_context(|| format!("reading {}", out.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("report.json"))
            .find(|p| p.is_file())
            .ok_or_else(|| anyhow!("the run of {} wrote no report.json", short(sha)))?;
        Ok(super::render::load_report(&report)?)
    }

    fn step(&mut self, step: &bisect::Step) {
        let r = &self.revs[step.rev];
        let judged = if step.judged {
            " (undecided: judged by the nearer median)"
        } else {
            ""
        };
        crate::note!(
            "== {} vs {}: {} over {} round(s) → {}{judged}",
            short(&r.sha),
            short(&self.revs[step.good].sha),
            change_text(&step.comparison),
            step.rounds,
            mark_text(step.mark)
        );
    }
}

impl Drop for Revisions<'_> {
    fn drop(&mut self) {
        if self.args.keep {
            return;
        }
        for wt in &self.worktrees {
            let _ = Command::new("git")
                .arg("-C")
                .arg(&self.repo)
                .args(["worktree", "remove", "--force"])
                .arg(wt)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("git")
            .arg("-C")
            .arg(&self.repo)
            .args(["worktree", "prune"])
            .status();
    }
}

fn mark_text(m: Mark) -> &'static str {
    match m {
        Mark::Good => "good",
        Mark::Bad => "bad",
    }
}

fn role(b: &Bisection, rev: usize, last: usize) -> &'static str {
    if rev == 0 {
        "GOOD"
    } else if b.first_bad == Some(rev) {
        "FIRST BAD"
    } else if rev == last {
        "BAD"
    } else {
        ""
    }
}

fn headline(b: &Bisection, revs: &[Rev]) -> String {
    match b.first_bad {
        Some(i) => format!("first bad commit: {} {}", revs[i].sha, revs[i].subject),
        None => format!("no regression of {} between GOOD and BAD", b.case),
    }
}

/// The evidence table: every measured revision in commit order.
fn console(b: &Bisection, revs: &[Rev]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(b, revs));
    let _ = writeln!(out, "case {}", b.case);
    let _ = writeln!(
        out,
        "{:<9}  {:<9}  {:>7}  {:>10}  {:>28}  {:>12}  {:<4}  subject",
        "commit",
        "",
        "samples",
        unit(b),
        "change vs GOOD [95% CI]",
        "verdict",
        "mark"
    );
    for e in &b.evidence {
        let c = &e.vs_good;
        let change = if e.rev == 0 {
            "-".to_string()
        } else {
            change_text(c)
        };
        let _ = writeln!(
            out,
            "{:<9}  {:<9}  {:>7}  {:>10.3}  {:>28}  {:>12}  {:<4}  {}",
            short(&revs[e.rev].sha),
            role(b, e.rev, revs.len() - 1),
            c.new_samples,
            c.new_median_hps / 1e6,
            change,
            if e.rev == 0 { "-" } else { verdict(c) },
            mark_text(e.mark),
            revs[e.rev].subject
        );
    }
    let judged = b.steps.iter().filter(|s| s.judged).count();
    if judged > 0 {
        let _ = writeln!(
            out,
            "{judged} step(s) stayed undecided after every extra round and were judged by the \
             nearer median: confirm with scripts/compare-revs.sh"
        );
    }
    out
}

/// The rate unit of the clock compared.
fn unit(b: &Bisection) -> &'static str {
    match b.metric {
        crate::report::Metric::Cpu => "MH/cpu-s",
        crate::report::Metric::Wall => "MH/s",
    }
}

fn verdict(c: &CaseComparison) -> &'static str {
    use crate::report::stats::Verdict;
    match c.verdict {
        Verdict::Faster => "faster",
        Verdict::Slower => "SLOWER",
        Verdict::NoChange => "no change",
        Verdict::Inconclusive => "inconclusive",
    }
}

fn markdown(b: &Bisection, revs: &[Rev]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### minebench bisect: `{}`\n", b.case);
    let _ = writeln!(out, "{}\n", headline(b, revs));
    let _ = writeln!(
        out,
        "| commit | | samples | {} | change vs GOOD | 95 % CI | verdict | mark | subject |",
        unit(b)
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|---|---|");
    for e in &b.evidence {
        let c = &e.vs_good;
        let (change, ci) = match (e.rev, c.change) {
            (0, _) | (_, None) => ("-".to_string(), "-".to_string()),
            (_, Some(ch)) => (
                format!("{:+.2} %", ch.change_pct),
                format!(
                    "{:+.2} … {:+.2} %",
                    ch.change_ci95_low_pct, ch.change_ci95_high_pct
                ),
            ),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {:.3} | {change} | {ci} | {} | {} | {} |",
            short(&revs[e.rev].sha),
            role(b, e.rev, revs.len() - 1),
            c.new_samples,
            c.new_median_hps / 1e6,
            if e.rev == 0 { "-" } else { verdict(c) },
            mark_text(e.mark),
            revs[e.rev].subject.replace('|', "\\|")
        );
    }
    out
}

fn to_json(b: &Bisection, revs: &[Rev]) -> serde_json::Value {
    let rev = |i: usize| json!({"sha": revs[i].sha, "subject": revs[i].subject});
    json!({
        "case": b.case,
        "good": rev(0),
        "bad": rev(revs.len() - 1),
        "first_bad": b.first_bad.map(rev),
        "steps": b.steps.iter().map(|s| json!({
            "commit": revs[s.rev].sha,
            "against": revs[s.good].sha,
            "rounds": s.rounds,
            "mark": s.mark,
            "judged": s.judged,
            "comparison": s.comparison,
        })).collect::<Vec<_>>(),
        "evidence": b.evidence.iter().map(|e| json!({
            "commit": revs[e.rev].sha,
            "subject": revs[e.rev].subject,
            "mark": e.mark,
            "vs_good": e.vs_good,
        })).collect::<Vec<_>>(),
    })
}
