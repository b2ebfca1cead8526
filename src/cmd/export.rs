//! `minebench export --format bmf|gab REPORT [--out FILE]`: a report in a benchmark tracker's
//! format, on stdout or written atomically to a file.

use anyhow::Result;

use crate::error::UsageError;
use crate::output::write_atomic;
use crate::report::export::{self, Format};

use crate::cli::{ExportArgs, ExportFormat};

/// `minebench export`: the JSON on stdout, or written to `--out`.
pub fn run(args: &ExportArgs) -> Result<u8> {
    let report =
        super::compare::load(&super::compare::resolve(&args.report, &args.baselines_dir)?)?;
    let format = match args.format {
        ExportFormat::Bmf => Format::Bmf,
        ExportFormat::Gab => Format::Gab,
    };
    let text = export::to_json(&report, format)?;
    match &args.out {
        None => super::emit(&text)?,
        Some(path) => {
            write_atomic(path, text.as_bytes()).map_err(|e| {
                UsageError::new("--out", format!("{}: cannot write: {e}", path.display()))
            })?;
            crate::note!(
                "{} export of {} cases -> {}",
                format.name(),
                report.cases.len(),
                path.display()
            );
        }
    }
    Ok(0)
}
