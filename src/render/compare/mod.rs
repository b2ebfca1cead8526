//! Rendering a [`Comparison`] of two reports: the console table, the Markdown and (with
//! [`write_compare_dir`]) a whole comparison directory.
//!
//! Owns: the text and files of a comparison. Must not: decide anything (verdicts, CIs and the
//! gate come from `report::compare`) or import the binary.
//!
//! [`Comparison`]: crate::report::compare::Comparison

mod markdown;
mod table;

pub use markdown::markdown;
pub use table::console_table;
