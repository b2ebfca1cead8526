//! Rendering from `&Report` only: console table, plots, flamegraphs, HTML, Markdown, and every
//! output of a report written into a directory ([`render_report`]). Must not: compute
//! statistics, or import `run` or the binary's `cmd` (files are written through
//! `crate::output`).

use std::path::PathBuf;

pub mod compare;
pub mod flamegraph;
pub mod format;
pub mod history;
pub mod history_plot;
pub mod html;
pub mod markdown;
mod outputs;
pub mod plots;
pub mod table;

pub use outputs::{render_report, report_dir_of, Rendered};

/// An output that was not drawn, and why (no data for it, a missing profile file...). Listed
/// by `render` and on the HTML page, so a missing picture is never silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDrawn {
    /// What was not drawn: `plots/scaling`, `flame/<case>.svg`, ...
    pub output: String,
    pub reason: String,
}

/// What a render produced, for the HTML page and the Markdown summary to link to. Paths are
/// relative to the output directory, with `/` separators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drawn {
    /// Names of the charts drawn (see [`plots::CHARTS`], for a comparison
    /// [`plots::COMPARE_CHARTS`]): `plots/<name>.svg` and `.png` exist.
    pub charts: Vec<String>,
    /// (case id, flamegraph SVG path) for every case whose flamegraph was drawn (for a
    /// comparison, its differential flamegraph).
    pub flamegraphs: Vec<(String, String)>,
    pub not_drawn: Vec<NotDrawn>,
}

impl Drawn {
    /// The flamegraph SVG of `case_id`, if drawn.
    pub fn flamegraph(&self, case_id: &str) -> Option<&str> {
        self.flamegraphs
            .iter()
            .find(|(id, _)| id == case_id)
            .map(|(_, p)| p.as_str())
    }
}

/// Why a picture could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The text given as collapsed stacks is not: `line` is 1-based.
    #[error("line {line}: not a collapsed stack ({reason}); expected \"frame;frame;frame COUNT\"")]
    Folded { line: usize, reason: String },
    /// The sample counts add up past `max` (see `flamegraph::MAX_TOTAL_SAMPLES`) by `line`,
    /// 1-based: drawn, they would overflow or saturate.
    #[error(
        "line {line}: the sample counts add up to more than {max} here, too many to draw \
         without overflowing (no real profile has that many)"
    )]
    TooManySamples { line: usize, max: u64 },
    /// There is nothing to draw (a profile with no samples).
    #[error("{what}: no samples to draw")]
    EmptyProfile { what: String },
    /// A differential flamegraph needs the hash count of each side to scale it per hash.
    #[error("differential flamegraph: the {side} profile has 0 hashes, cannot scale it per hash")]
    ZeroHashes { side: &'static str },
    /// No unit of samples per hashes keeps both sides of a per-hash diff in integers: one would
    /// round to nothing or the other overflow (see `flamegraph::per_hash_unit`).
    #[error(
        "differential flamegraph: the hash counts (before {before_hashes}, after \
         {after_hashes}) are too far apart to scale both profiles per hash without one side \
         rounding to nothing or the other overflowing; compare raw sample counts instead"
    )]
    UnevenHashes {
        before_hashes: u64,
        after_hashes: u64,
    },
    /// inferno failed while writing the SVG.
    #[error("flamegraph: {0}")]
    Inferno(#[from] std::io::Error),
    /// plotters failed while drawing a chart (a bug or an out-of-range value, not user input).
    #[error("{chart} chart: {message}")]
    Plot { chart: String, message: String },
    /// An output file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The embedded font did not parse (the build embedded a broken TTF).
    #[error("the embedded font assets/DejaVuSans.ttf could not be registered with plotters")]
    Font,
}
