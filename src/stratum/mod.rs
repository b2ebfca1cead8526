//! Stratum v1: the protocol miners speak to pools, so that minebench can play the pool on
//! loopback and put any miner binary on the bench (`minebench pool`, `external:` backends), and
//! mine against a pool itself (`minebench mine`).
//!
//! - [`protocol`]: newline-delimited JSON-RPC messages, the bounded line reader, reject codes.
//! - [`job`]: a job as `mining.notify` carries it, and the one place a header is rebuilt from a
//!   job, the extranonces, ntime, nonce and rolled version bits (pool and client share it).
//! - [`server`]: the loopback pool: every submitted share re-verified with the reference
//!   SHA-256d, rejections counted by reason, vardiff, job switches, per-connection statistics.
//! - [`client`]: a blocking stratum client and a small miner built on a minebench backend.
//!
//! Must not: time or report cases (that is `run/` and `report/`); the server hands out the raw
//! share events and `run/external.rs` turns them into samples.

pub mod client;
pub mod feed;
pub mod job;
pub mod protocol;
pub mod server;
pub mod vardiff;

#[cfg(test)]
mod tests;
