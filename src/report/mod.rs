//! The versioned report schema, statistics and compare verdicts. Must not: read clocks.

pub mod build;
pub mod compare;
pub mod export;
pub mod history;
pub mod merge;
pub mod schema;
pub mod stats;
pub mod validate;

pub use schema::*;
