//! `minebench hash`: the block hash of one header, checked against its own nBits.

use anyhow::Result;
use serde::Serialize;

use crate::error::UsageError;
use crate::pow::{display_hash, hash_leading_zero_bits, reference, Header, Target};

#[derive(Serialize)]
struct HashOutput {
    block_hash: String,
    leading_zero_bits: u32,
    meets_target: bool,
    nonce: u32,
    bits: String,
    /// Why the header's own nBits gives no target (then `meets_target` is false).
    #[serde(skip_serializing_if = "Option::is_none")]
    target_error: Option<String>,
}

pub fn run(header_hex: &str, json: bool) -> Result<u8> {
    let header = Header::from_hex(header_hex).map_err(|e| UsageError::new("HEADER", e))?;
    let hash = reference::sha256d(header.as_bytes());
    let target = Target::from_compact(header.bits());
    let out = HashOutput {
        block_hash: display_hash(&hash),
        leading_zero_bits: hash_leading_zero_bits(&hash),
        meets_target: target.as_ref().map(|t| t.is_met_by(&hash)).unwrap_or(false),
        nonce: header.nonce(),
        bits: format!("{:08x}", header.bits()),
        target_error: target.err().map(|e| e.to_string()),
    };
    if json {
        return super::emit_json(&out).map(|_| 0);
    }
    let mut text = format!(
        "block hash         {}\nleading zero bits  {}\nnonce              {}\nbits               {}\n",
        out.block_hash, out.leading_zero_bits, out.nonce, out.bits
    );
    match &out.target_error {
        None => text.push_str(&format!("meets its target   {}\n", out.meets_target)),
        Some(e) => text.push_str(&format!("meets its target   false ({e})\n")),
    }
    super::emit(&text).map(|_| 0)
}
