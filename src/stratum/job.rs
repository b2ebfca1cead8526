//! A stratum job and the one place a block header is rebuilt from it.
//!
//! Byte orders, as every stratum pool and miner agree (checked against real blocks in the
//! tests): `prevhash` travels as the header's 32 bytes with each 4-byte word reversed;
//! `version`, `nbits`, `ntime` and the submitted `nonce` are the big-endian hex of the number
//! the header stores little-endian; coinbase parts, extranonces and merkle branch hashes are raw
//! bytes in the order they are hashed.

use serde_json::{json, Value};

use super::protocol::{from_hex, u32_from_hex};
use crate::pow::header::to_hex;
use crate::pow::reference::sha256d;
use crate::pow::Header;
use crate::rng::SplitMix64;

/// BIP 310's default version-rolling mask: the bits a miner may roll (BIP 320's 16 general
/// purpose bits).
pub const VERSION_ROLLING_MASK: u32 = 0x1fff_e000;

/// What a `mining.notify` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    /// The previous block hash in header byte order.
    pub prevhash: [u8; 32],
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
    pub merkle_branch: Vec<[u8; 32]>,
    pub version: u32,
    pub nbits: u32,
    pub ntime: u32,
    pub clean: bool,
}

/// The variable parts of one share: what a miner chooses and submits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareParts<'a> {
    pub extranonce1: &'a [u8],
    pub extranonce2: &'a [u8],
    pub ntime: u32,
    pub nonce: u32,
    /// The version the header carries (rolled bits already merged, see [`roll_version`]).
    pub version: u32,
}

/// `base` with the bits of `mask` taken from `bits`.
pub fn roll_version(base: u32, bits: u32, mask: u32) -> u32 {
    (base & !mask) | (bits & mask)
}

/// The prevhash as stratum writes it: each 4-byte word of the header bytes reversed.
pub fn prevhash_to_stratum(prevhash: &[u8; 32]) -> String {
    let mut swapped = *prevhash;
    for w in swapped.chunks_mut(4) {
        w.reverse();
    }
    to_hex(&swapped)
}

/// The inverse of [`prevhash_to_stratum`]; None unless 64 hex digits.
pub fn prevhash_from_stratum(hex: &str) -> Option<[u8; 32]> {
    let b = from_hex(hex)?;
    let mut out: [u8; 32] = b.try_into().ok()?;
    for w in out.chunks_mut(4) {
        w.reverse();
    }
    Some(out)
}

impl Job {
    /// The coinbase transaction: `coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2`.
    pub fn coinbase(&self, extranonce1: &[u8], extranonce2: &[u8]) -> Vec<u8> {
        let mut tx = Vec::with_capacity(
            self.coinb1.len() + extranonce1.len() + extranonce2.len() + self.coinb2.len(),
        );
        tx.extend_from_slice(&self.coinb1);
        tx.extend_from_slice(extranonce1);
        tx.extend_from_slice(extranonce2);
        tx.extend_from_slice(&self.coinb2);
        tx
    }

    /// The merkle root (header byte order) for this coinbase: its double SHA-256 hashed up
    /// the branch, `root = sha256d(root ‖ branch[i])`.
    pub fn merkle_root(&self, extranonce1: &[u8], extranonce2: &[u8]) -> [u8; 32] {
        merkle_root(
            sha256d(&self.coinbase(extranonce1, extranonce2)),
            &self.merkle_branch,
        )
    }

    /// The 80-byte header a share stands for.
    pub fn header(&self, share: &ShareParts<'_>) -> Header {
        let root = self.merkle_root(share.extranonce1, share.extranonce2);
        self.header_with_root(&root, share.version, share.ntime, share.nonce)
    }

    /// The header for an already computed merkle root (a miner computes the root once per
    /// extranonce2 and then only changes the nonce).
    pub fn header_with_root(
        &self,
        root: &[u8; 32],
        version: u32,
        ntime: u32,
        nonce: u32,
    ) -> Header {
        let mut b = [0u8; 80];
        b[0..4].copy_from_slice(&version.to_le_bytes());
        b[4..36].copy_from_slice(&self.prevhash);
        b[36..68].copy_from_slice(root);
        b[68..72].copy_from_slice(&ntime.to_le_bytes());
        b[72..76].copy_from_slice(&self.nbits.to_le_bytes());
        b[76..80].copy_from_slice(&nonce.to_le_bytes());
        Header::from_bytes(b)
    }

    /// The `mining.notify` params.
    pub fn notify_params(&self) -> Value {
        json!([
            self.id,
            prevhash_to_stratum(&self.prevhash),
            to_hex(&self.coinb1),
            to_hex(&self.coinb2),
            self.merkle_branch
                .iter()
                .map(|h| to_hex(h))
                .collect::<Vec<_>>(),
            format!("{:08x}", self.version),
            format!("{:08x}", self.nbits),
            format!("{:08x}", self.ntime),
            self.clean,
        ])
    }

    /// Reads `mining.notify` params (what a client receives).
    pub fn from_notify(params: &[Value]) -> Result<Job, String> {
        if params.len() < 9 {
            return Err(format!(
                "mining.notify has {} params, expected 9",
                params.len()
            ));
        }
        let s = |i: usize, what: &str| {
            params[i]
                .as_str()
                .ok_or_else(|| format!("mining.notify {what} is not a string"))
        };
        let hex = |i: usize, what: &str| {
            from_hex(s(i, what)?).ok_or_else(|| format!("mining.notify {what} is not hex"))
        };
        let word = |i: usize, what: &str| {
            u32_from_hex(s(i, what)?)
                .ok_or_else(|| format!("mining.notify {what} is not 8 hex digits"))
        };
        let branch = params[4]
            .as_array()
            .ok_or("mining.notify merkle branch is not an array")?
            .iter()
            .map(|h| {
                h.as_str()
                    .and_then(from_hex)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        "mining.notify merkle branch entry is not 32 bytes of hex".to_string()
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Job {
            id: s(0, "job_id")?.to_string(),
            prevhash: prevhash_from_stratum(s(1, "prevhash")?)
                .ok_or("mining.notify prevhash is not 64 hex digits")?,
            coinb1: hex(2, "coinb1")?,
            coinb2: hex(3, "coinb2")?,
            merkle_branch: branch,
            version: word(5, "version")?,
            nbits: word(6, "nbits")?,
            ntime: word(7, "ntime")?,
            clean: params[8].as_bool().unwrap_or(false),
        })
    }
}

/// `root = sha256d(root ‖ h)` for each `h` of `branch`.
pub fn merkle_root(coinbase_hash: [u8; 32], branch: &[[u8; 32]]) -> [u8; 32] {
    let mut root = coinbase_hash;
    let mut buf = [0u8; 64];
    for h in branch {
        buf[..32].copy_from_slice(&root);
        buf[32..].copy_from_slice(h);
        root = sha256d(&buf);
    }
    root
}

/// Makes the pool's jobs: a plausible coinbase (BIP 34 height push, a tag, room for the
/// extranonces, one output), a merkle branch of `branch_len` pseudo-random transaction hashes,
/// a pseudo-random previous hash. Reproducible from its seed; each job differs in its branch
/// and time, so no two jobs share a header.
#[derive(Debug, Clone)]
pub struct JobMaker {
    rng: SplitMix64,
    prevhash: [u8; 32],
    height: u32,
    ntime: u32,
    next_id: u64,
    branch_len: usize,
    extranonce_len: usize,
}

impl JobMaker {
    /// `extranonce_len` is extranonce1 + extranonce2 bytes (the coinbase script reserves them).
    pub fn new(seed: u64, branch_len: usize, extranonce_len: usize, ntime: u32) -> JobMaker {
        let mut rng = SplitMix64(seed);
        let mut prevhash = [0u8; 32];
        for c in prevhash.chunks_mut(8) {
            c.copy_from_slice(&rng.next().to_le_bytes());
        }
        // A real previous hash ends (in header order) in zero bytes.
        prevhash[24..].fill(0);
        JobMaker {
            rng,
            prevhash,
            height: 800_000 + (seed % 100_000) as u32,
            ntime,
            next_id: 1,
            branch_len,
            extranonce_len,
        }
    }

    /// The next job; `clean` says whether earlier jobs are void (a new block).
    pub fn next(&mut self, clean: bool) -> Job {
        if clean && self.next_id > 1 {
            // A new block: new previous hash, next height.
            for c in self.prevhash[..24].chunks_mut(8) {
                c.copy_from_slice(&self.rng.next().to_le_bytes());
            }
            self.height += 1;
        }
        self.ntime = self.ntime.wrapping_add(1);
        let tag = b"/minebench/";
        let script_len = 4 + tag.len() + self.extranonce_len;
        let mut coinb1 = Vec::new();
        coinb1.extend_from_slice(&1u32.to_le_bytes()); // tx version
        coinb1.push(1); // one input
        coinb1.extend_from_slice(&[0u8; 32]); // null prevout
        coinb1.extend_from_slice(&u32::MAX.to_le_bytes());
        coinb1.push(script_len as u8);
        coinb1.push(3); // BIP 34: push 3 bytes of height
        coinb1.extend_from_slice(&self.height.to_le_bytes()[..3]);
        coinb1.extend_from_slice(tag);
        let mut coinb2 = Vec::new();
        coinb2.extend_from_slice(&u32::MAX.to_le_bytes()); // sequence
        coinb2.push(1); // one output
        coinb2.extend_from_slice(&312_500_000u64.to_le_bytes());
        coinb2.push(22); // P2WPKH script
        coinb2.extend_from_slice(&[0x00, 0x14]);
        for _ in 0..20 {
            coinb2.push(self.rng.next() as u8);
        }
        coinb2.extend_from_slice(&0u32.to_le_bytes()); // lock time
        let merkle_branch = (0..self.branch_len)
            .map(|_| {
                let mut h = [0u8; 32];
                for c in h.chunks_mut(8) {
                    c.copy_from_slice(&self.rng.next().to_le_bytes());
                }
                h
            })
            .collect();
        let id = format!("{:x}", self.next_id);
        self.next_id += 1;
        Job {
            id,
            prevhash: self.prevhash,
            coinb1,
            coinb2,
            merkle_branch,
            version: 0x2000_0000,
            nbits: 0x1703_4219,
            ntime: self.ntime,
            clean,
        }
    }
}
