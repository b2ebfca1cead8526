//! `minebench bisect` driven through the binary on a throw-away git repository whose scenario
//! makes its one case much slower from commit K on (`batch = 1` instead of 4096: the case id
//! stays the same). `--build true --bin <this test's minebench>` so no revision is compiled:
//! the revisions differ only in the scenario they carry, which bisect reads from each worktree.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use common::minebench;

/// Held by each test: they measure, and on a small machine two at once would mostly measure
/// each other.
static SERIAL: Mutex<()> = Mutex::new(());

const CASE: &str = "sha2-midstate/atomic/t1/zb8";

fn scenario(batch: u32) -> String {
    format!(
        r#"name = "bisect-test"
[work]
header = "synthetic"
seed = 1
difficulty = {{ zero_bits = 8 }}

[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic"]
threads = [1]

[measure]
warmup = "20ms"
samples = 8
sample = {{ duration = "15ms" }}
batch = {batch}

[profile]
flamegraph = false
"#
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository of one commit per entry of `batches` (c0, c1, ...), each with the scenario at
/// that batch size (1 is ~3× slower than 4096). Returns the shas in order.
fn repo(dir: &Path, batches: &[u32]) -> Vec<String> {
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    git(dir, &["config", "user.name", "minebench test"]);
    git(dir, &["config", "user.email", "test@example.invalid"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
    batches
        .iter()
        .enumerate()
        .map(|(i, &batch)| {
            std::fs::write(dir.join("scen.toml"), scenario(batch)).unwrap();
            std::fs::write(dir.join("n.txt"), i.to_string()).unwrap();
            git(dir, &["add", "."]);
            git(dir, &["commit", "--quiet", "-m", &format!("c{i}")]);
            git(dir, &["rev-parse", "HEAD"])
        })
        .collect()
}

fn bisect(repo: &Path, good: &str, bad: &str, case: &str) -> assert_cmd::Command {
    let mut cmd = minebench();
    cmd.args([
        "bisect",
        good,
        bad,
        "scen.toml",
        "--case",
        case,
        // Three rounds a side: on a loaded 2-core machine two rounds misjudged a step about one
        // time in four.
        "--rounds",
        "3",
        // CPU time: other load on a small machine moves elapsed-time rates by tens of percent.
        "--metric",
        "cpu",
    ])
    .arg("--repo")
    .arg(repo)
    .args(["--build", "true", "--bin"])
    .arg(assert_cmd::cargo::cargo_bin!("minebench"));
    cmd
}

#[test]
fn finds_the_commit_that_made_the_case_slower() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let shas = repo(dir.path(), &[4096, 4096, 4096, 1, 1]);
    let out_dir = dir.path().join("out");
    let out = bisect(dir.path(), &shas[0], &shas[4], CASE)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(&format!("first bad commit: {} c3", shas[3])),
        "{stdout}\n{stderr}"
    );
    // The evidence table: GOOD, BAD and the midpoints, in commit order.
    assert!(stdout.contains(&shas[0][..9]) && stdout.contains(&shas[4][..9]));
    let md = std::fs::read_to_string(out_dir.join("bisect.md")).unwrap();
    assert!(md.contains(&shas[3]), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("bisect.json")).unwrap()).unwrap();
    assert_eq!(json["first_bad"]["sha"], shas[3].as_str());
    // The temporary worktrees are gone.
    let worktrees = git(dir.path(), &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
}

#[test]
fn a_faster_bad_exits_3() {
    // BAD faster rather than merely the same: "no change" would depend on how quiet the
    // machine is, a 3× speed-up does not.
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let shas = repo(dir.path(), &[1, 1, 4096]);
    let out = bisect(dir.path(), &shas[0], &shas[2], CASE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("no regression between GOOD and BAD"),
        "{stderr}"
    );
}

#[test]
fn bad_inputs_exit_2() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let shas = repo(dir.path(), &[4096, 1, 1]);
    // GOOD after BAD.
    let out = bisect(dir.path(), &shas[2], &shas[0], CASE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not an ancestor"), "{stderr}");
    // A case the scenario does not have: the message lists the ones it has.
    let out = bisect(dir.path(), &shas[0], &shas[2], "no/such/case")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--case") && stderr.contains(CASE),
        "{stderr}"
    );
    let worktrees = git(dir.path(), &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
    // Not a revision.
    let out = bisect(dir.path(), "nope", &shas[2], CASE).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
