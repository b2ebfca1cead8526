//! Rendering from `&Report` only: console table, plots, flamegraphs, HTML, Markdown. Must not:
//! compute statistics.

pub mod flamegraph;
pub mod table;

/// Why a picture could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The text given as collapsed stacks is not: `line` is 1-based.
    #[error("line {line}: not a collapsed stack ({reason}); expected \"frame;frame;frame COUNT\"")]
    Folded { line: usize, reason: String },
    /// There is nothing to draw (a profile with no samples).
    #[error("{what}: no samples to draw")]
    EmptyProfile { what: String },
    /// A differential flamegraph needs the hash count of each side to scale it per hash.
    #[error("differential flamegraph: the {side} profile has 0 hashes, cannot scale it per hash")]
    ZeroHashes { side: &'static str },
    /// inferno failed while writing the SVG.
    #[error("flamegraph: {0}")]
    Inferno(#[from] std::io::Error),
}
