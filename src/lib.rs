//! minebench: a workbench for profiling and benchmarking the hot paths of cryptocurrency mining.
//!
//! Data flows one way: scenario → plan → run (measurements) → report → render / compare. Each
//! stage has one owning module; see the README for the map.

pub mod bisect;
mod cli;
mod cmd;
pub mod error;
pub mod history_store;
pub mod input;
pub mod live;
pub mod output;
pub mod pow;
pub mod probe;
pub mod registry;
pub mod render;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod sched;
pub mod stratum;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use registry::Registry;

use std::process::ExitCode;

/// The whole `minebench` command line (run, plan, backends, scan, render, compare, flame,
/// baselines, export, history, bisect) with `registry`'s backends and schedulers available
/// everywhere: the `minebench` binary is `main_with(Registry::builtin())`, and a miner's own
/// `benches/mine.rs` (`harness = false`) is
///
/// ```no_run
/// # use minebench::Registry;
/// fn main() -> std::process::ExitCode {
///     minebench::main_with(
///         Registry::builtin().for_crate(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
///         // .with_backend("mine", || Box::new(MyBackend))
///     )
/// }
/// ```
///
/// so `cargo bench --bench mine -- run scenarios/mine.toml` runs the user's backends beside the
/// built-ins. With no arguments at all it runs the built-in quick scenario widened to every
/// backend and scheduler the registry adds. Exit codes: 0 ok, 1 a failed run or a regression,
/// 2 usage or input error (a refused registration too), 3 an inconclusive gate.
pub fn main_with(registry: Registry) -> ExitCode {
    ExitCode::from(run_cli(&registry, std::env::args_os()))
}

/// [`main_with`] over explicit arguments (the first is the program name), returning the exit
/// code: for tests and for callers that wrap the command line.
pub fn run_cli<I, T>(registry: &Registry, args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString>,
{
    use clap::Parser;

    let mut args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // `cargo bench` passes `--bench` to a harness-less bench (it means nothing here); when that
    // is all it passes, run the default scenario.
    let from_cargo_bench = args.iter().any(|a| a == "--bench");
    args.retain(|a| a != "--bench");
    if from_cargo_bench && args.len() <= 1 {
        args.push("run".into());
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if let Err(e) = registry.check() {
        note!("error: registry: {e}");
        return 2;
    }
    if let Err(message) = registry.check_disable_env() {
        note!("error: {}: {message}", pow::DISABLE_ENV);
        return 2;
    }
    match cmd::dispatch(cli.command, registry) {
        Ok(code) => code,
        Err(err) => {
            note!("error: {}", error::message(&err));
            error::exit_code(&err)
        }
    }
}
