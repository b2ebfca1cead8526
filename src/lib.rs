//! minebench: a workbench for profiling and benchmarking the hot paths of cryptocurrency mining.
//!
//! Data flows one way: scenario → plan → run (measurements) → report → render / compare. Each
//! stage has one owning module; see the README for the map.

pub mod bisect;
pub mod error;
pub mod history_store;
pub mod input;
pub mod output;
pub mod pow;
pub mod probe;
pub mod render;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sched;
