//! Rendering from `&Report` only: console table, plots, flamegraphs, HTML, Markdown. Must not:
//! compute statistics.

pub mod table;
