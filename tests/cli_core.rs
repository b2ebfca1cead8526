//! The core commands driven through the binary: `backends`, `hash`, `scan`, and their bad input.

mod common;

use common::{available_backends, minebench, real_headers, template_hex};
use predicates::prelude::*;

#[test]
fn hash_prints_every_known_block_hash() {
    for h in real_headers() {
        let out = minebench()
            .args(["hash", &h.header_hex, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "height {}", h.height);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["block_hash"],
            h.block_hash.as_str(),
            "height {}",
            h.height
        );
        assert_eq!(
            v["leading_zero_bits"], h.leading_zero_bits,
            "height {}",
            h.height
        );
        assert_eq!(v["meets_target"], true, "height {}", h.height);
    }
}

#[test]
fn hash_of_a_mutated_header_does_not_meet_its_target() {
    let h = &real_headers()[0];
    let mut hex = h.header_hex.clone();
    hex.replace_range(152..154, "00");
    let out = minebench().args(["hash", &hex, "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["meets_target"], false);
    assert_ne!(v["block_hash"], h.block_hash.as_str());
}

/// `scan` finds the real nonce of every mainnet header with every available backend, in a window
/// of about a million nonces that is not aligned to any lane count, with the nonce field zeroed.
#[test]
fn scan_finds_every_real_nonce_with_every_backend() {
    let backends = available_backends();
    assert!(backends.iter().any(|b| b == "reference"));
    let headers = real_headers();
    std::thread::scope(|s| {
        for chunk in headers.chunks(headers.len().div_ceil(2)) {
            let backends = &backends;
            s.spawn(move || {
                for h in chunk {
                    let start = h.nonce.saturating_sub(524_271);
                    let count = (1u64 << 20).min(u64::from(u32::MAX - start) + 1);
                    for backend in backends {
                        let out = minebench()
                            .args(["scan", "--header", &template_hex(h), "--json"])
                            .args(["--start", &start.to_string(), "--count", &count.to_string()])
                            .args(["--backend", backend])
                            .output()
                            .unwrap();
                        let what = format!("height {} backend {backend}", h.height);
                        assert!(
                            out.status.success(),
                            "{what}: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                        assert_eq!(v["hashes"], count, "{what}");
                        assert_eq!(v["backend"], backend.as_str(), "{what}");
                        let hits = v["hits"].as_array().unwrap();
                        assert_eq!(hits.len(), 1, "{what}: {hits:?}");
                        assert_eq!(hits[0]["nonce"], h.nonce, "{what}");
                        assert_eq!(hits[0]["block_hash"], h.block_hash.as_str(), "{what}");
                    }
                }
            });
        }
    });
}

#[test]
fn scan_with_explicit_targets_counts_hits() {
    let h = &real_headers()[0];
    // zero_bits 0: every nonce is a hit.
    let out = minebench()
        .args([
            "scan",
            "--header",
            &template_hex(h),
            "--count",
            "37",
            "--zero-bits",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hits"].as_array().unwrap().len(), 37);
    // share difficulty 1 equals nBits 1d00ffff: the genesis nonce is found either way.
    for flag in [["--share-difficulty", "1"], ["--nbits", "1d00ffff"]] {
        let start = (h.nonce - 1000).to_string();
        minebench()
            .args([
                "scan",
                "--header",
                &template_hex(h),
                "--start",
                &start,
                "--count",
                "2000",
            ])
            .args(flag)
            .assert()
            .success()
            .stdout(predicate::str::contains(h.block_hash.as_str()));
    }
}

#[test]
fn backends_lists_reference_and_auto() {
    let out = minebench().args(["backends", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["backends"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"reference") && names.contains(&"sha2-midstate"),
        "{names:?}"
    );
    let first_available = rows.iter().find(|b| b["available"] == true).unwrap();
    assert_eq!(
        v["auto"], first_available["name"],
        "auto is the fastest available backend"
    );
    minebench()
        .arg("backends")
        .assert()
        .success()
        .stdout(predicate::str::contains("(auto)"));
}

#[test]
fn disabled_backends_are_reported_unavailable_and_refused() {
    let out = minebench()
        .env("MINEBENCH_DISABLE", "sha2-midstate")
        .args(["backends", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "sha2-midstate")
        .cloned();
    let row = row.unwrap();
    assert_eq!(row["available"], false);
    assert!(row["reason"]
        .as_str()
        .unwrap()
        .contains("MINEBENCH_DISABLE"));
    let h = &real_headers()[0];
    minebench()
        .env("MINEBENCH_DISABLE", "sha2-midstate")
        .args([
            "scan",
            "--header",
            &template_hex(h),
            "--count",
            "10",
            "--backend",
            "sha2-midstate",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("--backend").and(predicate::str::contains("not available")),
        );
}

/// Every kind of bad input: one line naming the argument, exit code 2, nothing on stdout.
#[test]
fn bad_input_exits_2_naming_the_argument() {
    let h = &real_headers()[0];
    let t = template_hex(h);
    let bad_hex = format!("{}zz", &t[..158]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["hash", "00"], "160 hex"),
        (vec!["hash", &bad_hex], "non-hex"),
        (vec!["scan", "--header", "abc", "--count", "1"], "--header"),
        (vec!["scan", "--header", &t, "--count", "0"], "--count"),
        (
            vec!["scan", "--header", &t, "--count", "4294967297"],
            "--count",
        ),
        (
            vec![
                "scan",
                "--header",
                &t,
                "--start",
                "4294967295",
                "--count",
                "2",
            ],
            "past u32::MAX",
        ),
        (
            vec![
                "scan", "--header", &t, "--count", "1", "--nbits", "04923456",
            ],
            "negative",
        ),
        (
            vec![
                "scan", "--header", &t, "--count", "1", "--nbits", "ff123456",
            ],
            "overflow",
        ),
        (
            vec![
                "scan", "--header", &t, "--count", "1", "--nbits", "00000000",
            ],
            "zero",
        ),
        (
            vec!["scan", "--header", &t, "--count", "1", "--nbits", "xyz"],
            "--nbits",
        ),
        (
            vec!["scan", "--header", &t, "--count", "1", "--zero-bits", "256"],
            "--zero-bits",
        ),
        (
            vec![
                "scan",
                "--header",
                &t,
                "--count",
                "1",
                "--share-difficulty",
                "-1",
            ],
            "--share-difficulty",
        ),
        (
            vec!["scan", "--header", &t, "--count", "1", "--backend", "gpu"],
            "known backends",
        ),
        (
            vec![
                "scan",
                "--header",
                &t,
                "--count",
                "1",
                "--zero-bits",
                "1",
                "--nbits",
                "1d00ffff",
            ],
            "cannot be used",
        ),
        (vec!["scan", "--header", &t], "--count"),
        (vec!["frobnicate"], "unrecognized"),
    ];
    for (args, needle) in cases {
        let out = minebench().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: want {needle:?} in {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}
