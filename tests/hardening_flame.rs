//! `flame --diff` and `render` on hostile or odd inputs, through the binary: un-normalised
//! diffs say raw samples (never a fake "per 1 hashes").

mod common;

use std::fs;

use common::minebench;

const FOLDED: &str = "mb-worker-0;main;scan;compress256 60\n\
                      mb-worker-1;main;scan;compress256 40\n\
                      mb-worker-0;main;scan;check 10\n";

/// Item 8: without hash counts nothing in the picture may claim per-hash scaling.
#[test]
fn unnormalised_diff_says_raw_samples_not_per_1_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.folded");
    let b = tmp.path().join("b.folded");
    fs::write(&a, FOLDED).unwrap();
    fs::write(&b, "mb-worker-0;main;scan;compress256 90\n").unwrap();
    let out = tmp.path().join("d.svg");
    minebench()
        .args(["flame", "--diff"])
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let svg = fs::read_to_string(&out).unwrap();
    for claim in [
        "per 1 hashes",
        "before 1 hashes",
        "per hash",
        "milli-samples",
    ] {
        assert!(!svg.contains(claim), "un-normalised SVG says {claim:?}");
    }
    assert!(svg.contains("not normalised"), "{svg}");
    assert!(svg.contains("raw sample counts"), "{svg}");
    // The frames carry B's raw counts (inferno writes "N samples" in each frame's title).
    assert!(svg.contains("90 samples"), "{svg}");

    // With both counts the subtitle names them and the counts are per hash.
    minebench()
        .args(["flame", "--diff"])
        .arg(&a)
        .arg(&b)
        .args(["--hashes-a", "1000", "--hashes-b", "2000", "--out"])
        .arg(&out)
        .assert()
        .success();
    let svg = fs::read_to_string(&out).unwrap();
    assert!(svg.contains("per hash") && svg.contains("2000"), "{svg}");
    assert!(!svg.contains("not normalised"));
}
