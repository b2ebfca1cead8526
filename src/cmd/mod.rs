//! Command glue: one function per subcommand, turning parsed CLI arguments into calls on the
//! library and printing the result. Validation of flags happens here (errors name the flag).

pub mod backends;
pub mod baseline;
pub mod bisect;
pub mod compare;
pub mod export;
pub mod flame;
pub mod hash;
pub mod history;
pub mod mine;
pub mod pool;
pub mod render;
pub mod run;
pub mod scan;

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

use crate::error::UsageError;

use crate::cli::Command;
use crate::Registry;

/// Runs one parsed command; the returned code is the process exit status on success paths
/// (a detected regression returns 1 without being an error of minebench itself).
pub fn dispatch(command: Command, registry: &Registry) -> Result<u8> {
    match command {
        Command::Backends { json } => backends::run(json, registry),
        Command::Hash { header, json } => hash::run(&header, json),
        Command::Scan(args) => scan::run(&args, registry),
        Command::Run(args) => run::run(&args, registry),
        Command::Plan(args) => run::plan(&args, registry),
        Command::Render(args) => render::run(&args),
        Command::Flame(args) => flame::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Export(args) => export::run(&args),
        Command::MergeReports(args) => compare::merge(&args),
        Command::History(args) => history::run(&args),
        Command::Bisect(args) => bisect::run(&args),
        Command::Pool(args) => pool::run(&args),
        Command::Mine(args) => mine::run(&args, registry),
    }
}

/// Set once stdout's reader has gone away; from then on nothing more is printed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout. A closed pipe (the reader exited, as `| head -1` does) only stops
/// printing: it is not an error, so it can never skip the files, the baseline or the regression
/// gate that follow, nor change the exit code. Other write errors (a full disk behind `>`)
/// are errors.
pub fn emit(text: &str) -> Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => Ok(other?),
    }
}

/// Checks, before any work, that `dir` is a directory new files can be written in: created if
/// missing (and removed again if the check fails). An unwritable output is the user's flag at
/// fault (exit 2), found before anything is measured or printed.
pub fn check_dir_writable(dir: &Path, flag: &str) -> Result<()> {
    let existed = dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| {
        UsageError::new(
            flag,
            format!("{}: cannot create directory: {e}", dir.display()),
        )
    })?;
    if let Err(e) = probe_write(dir) {
        if !existed {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(UsageError::new(flag, format!("{}: not writable: {e}", dir.display())).into());
    }
    Ok(())
}

/// Checks, before any work, that the file `path` can be written (atomically, so its directory
/// must accept a new file) and is not a directory.
pub fn check_file_writable(path: &Path, flag: &str) -> Result<()> {
    if path.is_dir() {
        return Err(UsageError::new(flag, format!("{} is a directory", path.display())).into());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(UsageError::new(
            flag,
            format!("{}: no such directory {}", path.display(), dir.display()),
        )
        .into());
    }
    probe_write(dir)
        .map_err(|e| UsageError::new(flag, format!("{}: not writable: {e}", path.display())))?;
    Ok(())
}

/// Creates and removes an empty file in `dir` (permission bits say nothing to root, and nothing
/// of a read-only mount: only trying tells).
fn probe_write(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".minebench-write-test-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// Pretty JSON plus a newline.
pub fn emit_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    emit(&text)
}

/// `--metrics ADDR [--metrics-token T] [--metrics-allow-remote]`: binds and serves live
/// metrics for this command (`kind` names it in `/summary`); None without `--metrics`. Every
/// refusal names its flag (exit 2), before anything runs.
pub fn start_metrics(
    args: &crate::cli::MetricsArgs,
    kind: &str,
) -> Result<Option<(std::sync::Arc<crate::live::Live>, crate::live::http::Server)>> {
    let Some(addr) = &args.metrics else {
        for (flag, given) in [
            ("--metrics-token", args.metrics_token.is_some()),
            ("--metrics-allow-remote", args.metrics_allow_remote),
        ] {
            if given {
                return Err(
                    UsageError::new(flag, "only means something with --metrics ADDR").into(),
                );
            }
        }
        return Ok(None);
    };
    if args.metrics_token.as_deref().is_some_and(str::is_empty) {
        return Err(UsageError::new("--metrics-token", "must not be empty").into());
    }
    let live = std::sync::Arc::new(crate::live::Live::new(kind));
    let server = crate::live::http::Server::start(
        addr,
        args.metrics_allow_remote,
        args.metrics_token.clone(),
        std::sync::Arc::clone(&live),
    )
    .map_err(|e| UsageError::new("--metrics", e))?;
    crate::note!(
        "live metrics on http://{}/metrics and /summary",
        server.addr()
    );
    Ok(Some((live, server)))
}
