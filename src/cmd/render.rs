//! `minebench render REPORT.json`: rebuild every output of a report without re-running — the
//! charts, each case's flamegraph, `index.html` and `summary.md` — through the library's
//! [`render_report`]. `run` calls [`render_dir`] after each scenario, so a run and a later
//! `render` write the same files.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::InputError;
use crate::input::{read_text, MAX_REPORT_BYTES};
use crate::render::{render_report, report_dir_of, NotDrawn};
use crate::report::Report;

use crate::cli::RenderArgs;

/// Writes everything `render` knows how to draw into `dir` (the report's own directory, where
/// its `flame/*.folded` files are); returns the files written. Outputs that could not be drawn
/// are listed on stderr (and on the HTML page), not silently dropped.
pub fn render_dir(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let rendered = render_report(report, &dir.join("report.json"), dir)?;
    log_not_drawn(&rendered.drawn.not_drawn);
    Ok(rendered.written)
}

pub fn log_not_drawn(not_drawn: &[NotDrawn]) {
    for nd in not_drawn {
        crate::note!("not drawn: {}: {}", nd.output, nd.reason);
    }
}

/// Reads a report file: the `schema` field is checked before the rest is deserialised, so a
/// report of another schema version says so instead of naming some missing field. Every error
/// names the file and is an input error (exit 2).
pub fn load_report(path: &Path) -> Result<Report, InputError> {
    let text = read_text(path, MAX_REPORT_BYTES, "report")
        .map_err(|e| InputError(format!("{}: {e}", path.display())))?;
    crate::report::compare::parse_report(&text)
        .map_err(|e| InputError(format!("{}: {e}", path.display())))
}

/// `minebench render REPORT.json [--out DIR]`.
pub fn run(args: &RenderArgs) -> Result<u8> {
    let report = load_report(&args.report)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report_dir_of(&args.report));
    // An output directory that cannot be made or written is the user's flag at fault (exit
    // 2), unlike a write failing half-way through.
    super::check_dir_writable(&out, "--out")?;
    let rendered = render_report(&report, &args.report, &out)?;
    super::emit(&crate::render::table::summary(&report))?;
    log_not_drawn(&rendered.drawn.not_drawn);
    crate::note!("rendered {} into {}", args.report.display(), out.display());
    for path in &rendered.written {
        crate::note!("        {}", path.display());
    }
    Ok(0)
}
