//! Records what built this binary for the machine fingerprint (`probe::machine`):
//! `MINEBENCH_GIT_COMMIT` and `MINEBENCH_GIT_DIRTY` when git is installed and this is a checkout
//! (unset otherwise, so the fingerprint says `None`), and `MINEBENCH_RUSTC_VERSION`.
//!
//! Must not fail the build: every probe here degrades to "not set".

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Some(version) = run(&rustc, &["--version"]) {
        println!("cargo:rustc-env=MINEBENCH_RUSTC_VERSION={version}");
    }

    let Some(commit) = run("git", &["rev-parse", "HEAD"]) else {
        return; // no git, or not a checkout (e.g. a crates.io tarball)
    };
    println!("cargo:rustc-env=MINEBENCH_GIT_COMMIT={commit}");
    // `--untracked-files=no`: a stray untracked file (a report, a scratch script) does not make
    // the build "dirty"; modified tracked files do.
    if let Some(status) = run("git", &["status", "--porcelain", "--untracked-files=no"]) {
        println!("cargo:rustc-env=MINEBENCH_GIT_DIRTY={}", !status.is_empty());
    }

    // Rebuild when the commit or the index moves. Ask git for the paths rather than assuming
    // `.git/HEAD`: in a worktree `.git` is a file and the branch ref lives in the common dir.
    let mut watched = vec![
        "HEAD".to_string(),
        "index".to_string(),
        "packed-refs".to_string(),
    ];
    if let Some(branch) = run("git", &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch); // e.g. refs/heads/probe: a commit moves this, not HEAD
    }
    for name in watched {
        if let Some(path) = run("git", &["rev-parse", "--git-path", &name]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    // Editing a tracked file changes dirtiness without touching the index, so also watch the
    // sources (cheap: the crate recompiles on such a change anyway).
    for path in ["src", "Cargo.toml"] {
        if Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// Runs `program args`, returning trimmed stdout on success, `None` on any failure.
fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}
