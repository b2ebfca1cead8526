//! The versioned report schema, statistics and compare verdicts. Must not: read clocks.

pub mod stats;
