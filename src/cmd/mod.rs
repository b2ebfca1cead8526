//! Command glue: one function per subcommand, turning parsed CLI arguments into calls on the
//! library and printing the result. Validation of flags happens here (errors name the flag).

pub mod backends;
pub mod baseline;
pub mod compare;
pub mod export;
pub mod flame;
pub mod hash;
pub mod render;
pub mod run;
pub mod scan;

use std::io::{self, Write};

use anyhow::Result;

use crate::cli::Command;

/// Runs one parsed command; the returned code is the process exit status on success paths
/// (a detected regression returns 1 without being an error of minebench itself).
pub fn dispatch(command: Command) -> Result<u8> {
    match command {
        Command::Backends { json } => backends::run(json),
        Command::Hash { header, json } => hash::run(&header, json),
        Command::Scan(args) => scan::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Plan(args) => run::plan(&args),
        Command::Render(args) => render::run(&args),
        Command::Flame(args) => flame::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Export(args) => export::run(&args),
        Command::MergeReports(args) => compare::merge(&args),
    }
}

/// Writes `text` to stdout; a closed pipe surfaces as an io::Error that main maps to exit 0.
pub fn emit(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Pretty JSON plus a newline.
pub fn emit_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    emit(&text)
}
