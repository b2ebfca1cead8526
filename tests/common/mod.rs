//! Shared helpers for the integration tests: the binary, and the real mainnet headers.

#![allow(dead_code)]

use assert_cmd::Command;
use serde::Deserialize;

/// One real Bitcoin mainnet header from tests/data/headers.json (copied from the project's
/// shared vectors, verified by tests/data/verify_headers.py with hashlib only).
#[derive(Debug, Deserialize)]
pub struct RealHeader {
    pub height: u64,
    pub header_hex: String,
    pub nonce: u32,
    pub bits: String,
    pub block_hash: String,
    pub leading_zero_bits: u32,
}

pub fn real_headers() -> Vec<RealHeader> {
    let text = include_str!("../data/headers.json");
    serde_json::from_str(text).expect("tests/data/headers.json parses")
}

/// The header with its nonce field zeroed, as a miner's template.
pub fn template_hex(h: &RealHeader) -> String {
    format!("{}00000000", &h.header_hex[..152])
}

pub fn minebench() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("minebench"))
}

/// Names of the backends available on this machine, from `minebench backends --json`.
pub fn available_backends() -> Vec<String> {
    let out = minebench()
        .args(["backends", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["backends"]
        .as_array()
        .expect("backends array")
        .iter()
        .filter(|b| b["available"] == true)
        .map(|b| b["name"].as_str().expect("name").to_string())
        .collect()
}

/// A loopback port free a moment ago (another process may take it before it is used).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
