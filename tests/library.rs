//! minebench as a library: a backend and a scheduler of one's own, registered in a `Registry`
//! and run through the same command line (`run_cli`, what `main_with` calls), beside the
//! built-ins; a backend that drops hits refused before it is timed; v1 reports still read.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use minebench::pow::sha2_midstate::Sha2Midstate;
use minebench::pow::{Availability, Backend, Hit, NonceRange, Work};
use minebench::sched::{BatchSource, Epoch, Launch, SchedError, Scheduler};
use minebench::Registry;

/// A user's backend: the midstate algorithm under a name of its own.
struct Mine;
impl Backend for Mine {
    fn name(&self) -> &str {
        "mine"
    }
    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        Sha2Midstate.scan(work, range, hits)
    }
}

/// A broken backend: hashes correctly, then loses every other hit it found.
struct DropsEveryOther;
impl Backend for DropsEveryOther {
    fn name(&self) -> &str {
        "dropper"
    }
    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let mut found = Vec::new();
        let n = Sha2Midstate.scan(work, range, &mut found);
        found.sort_unstable();
        hits.extend(found.into_iter().step_by(2));
        n
    }
}

/// A user's scheduler: guided self-scheduling, each batch a share of what is left, between an
/// eighth of the scenario's batch and the batch itself (a timed epoch spans 2^32 nonces).
struct Guided;
struct GuidedSource {
    threads: u64,
    min: u64,
    max: u64,
}
impl BatchSource for GuidedSource {
    fn begin(&mut self, _epoch: &Epoch) {}
    fn next_batch(&mut self, epoch: &Epoch) -> Option<NonceRange> {
        let range = epoch.range();
        let cursor = epoch.cursor();
        let mut at = cursor.load(Ordering::Relaxed);
        loop {
            if at >= range.len() {
                return None;
            }
            let size = ((range.len() - at) / (2 * self.threads)).clamp(self.min, self.max);
            match cursor.compare_exchange_weak(at, at + size, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(range.split_at(at).1.split_at(size).0),
                Err(now) => at = now,
            }
        }
    }
}
impl Scheduler for Guided {
    fn name(&self) -> &str {
        "guided"
    }
    fn is_dynamic(&self) -> bool {
        true
    }
    fn launch(&self, launch: &mut Launch<'_>) -> Result<(), SchedError> {
        for k in 0..launch.threads() {
            let source = GuidedSource {
                threads: launch.threads() as u64,
                min: (launch.batch() / 8).max(1),
                max: launch.batch(),
            };
            launch.spawn_worker(k, source)?;
        }
        Ok(())
    }
}

fn registry() -> Registry {
    Registry::builtin()
        .for_crate("library-test", "0.0.1")
        .with_commit("cafe")
        .with_backend("mine", || Box::new(Mine))
        .with_backend("dropper", || Box::new(DropsEveryOther))
        .with_backend_when(
            "gpu",
            || Availability::Unavailable("no GPU on this machine".into()),
            || unreachable!("not called when unavailable"),
        )
        .with_scheduler(Guided)
}

fn scenario(
    dir: &Path,
    name: &str,
    backends: &[&str],
    schedulers: &[&str],
    profile: bool,
) -> PathBuf {
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "name = {name:?}\n[work]\ndifficulty = {{ zero_bits = 8 }}\n[matrix]\nbackend = [{}]\n\
         scheduler = [{}]\nthreads = [1, 2]\n[measure]\nwarmup = \"0s\"\nsamples = 3\n\
         sample = {{ duration = \"20ms\" }}\n[profile]\nflamegraph = {profile}\n",
        list(backends),
        list(schedulers)
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn cli(registry: &Registry, args: &[&str]) -> u8 {
    let mut all = vec!["minebench".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    minebench::run_cli(registry, all)
}

/// The single run directory under `out`.
fn run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_registered_backend_and_scheduler_run_beside_the_builtins_with_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let r = registry();
    let file = scenario(
        tmp.path(),
        "mine",
        &["mine", "sha2-midstate", "gpu"],
        &["guided", "atomic"],
        true,
    );
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        let code = cli(
            &r,
            &[
                "run",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0);
    }
    let dir = run_dir(&a);
    let rep = report(&dir);
    assert_eq!(rep["schema"], "minebench.report/v2");
    assert_eq!(rep["machine"]["subject"]["crate_name"], "library-test");
    assert_eq!(rep["machine"]["subject"]["commit"], "cafe");
    let ids: Vec<&str> = rep["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for want in [
        "mine/guided/t2/zb8",
        "mine/atomic/t1/zb8",
        "sha2-midstate/guided/t2/zb8",
    ] {
        assert!(ids.contains(&want), "{want} not in {ids:?}");
    }
    for case in rep["cases"].as_array().unwrap() {
        assert!(
            case["hash_rate"]["median"].as_f64().unwrap() > 0.0,
            "{case}"
        );
        assert!(case["profile"].is_object(), "{} has no profile", case["id"]);
    }
    // The unavailable backend is planned and skipped with its factory's reason, not dropped.
    let skipped = rep["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(skipped
        .iter()
        .all(|s| s["reason"] == "no GPU on this machine"
            && s["id"].as_str().unwrap().starts_with("gpu/")));
    assert!(rep["failed"].as_array().unwrap().is_empty());
    // Every output of a run, for the user's backend too.
    for file in ["index.html", "summary.md"] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let flames: Vec<String> = walk(&dir)
        .into_iter()
        .filter(|p| p.ends_with(".svg") && p.contains("mine"))
        .collect();
    assert!(
        !flames.is_empty(),
        "no SVG for the user backend under {}",
        dir.display()
    );
    // compare between two runs of the user's backend: a verdict, not an input error.
    let md = tmp.path().join("compare.md");
    let code = cli(
        &r,
        &[
            "compare",
            dir.to_str().unwrap(),
            run_dir(&b).to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    assert!(code == 0 || code == 1 || code == 3, "compare exited {code}");
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains("mine/guided/t2/zb8"), "{text}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[test]
fn a_backend_that_drops_hits_is_refused_with_exit_1_and_no_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let r = registry();
    let file = scenario(
        tmp.path(),
        "drop",
        &["dropper", "sha2-midstate"],
        &["atomic"],
        false,
    );
    let out = tmp.path().join("out");
    let code = cli(
        &r,
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    let rep = report(&run_dir(&out));
    let failed = rep["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    for f in failed {
        let reason = f["reason"].as_str().unwrap();
        assert!(f["id"].as_str().unwrap().starts_with("dropper/"), "{f}");
        assert!(
            reason.contains("backend dropper") && reason.contains("first differing nonce"),
            "{reason}"
        );
    }
    let cases = rep["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "the built-in still runs");
    assert!(
        cases.iter().all(|c| c["backend"] == "sha2-midstate"),
        "no rate for dropper"
    );
}

#[test]
fn a_scheduler_that_skips_nonces_is_refused() {
    /// Hands out every batch but the last of each epoch: exact coverage broken.
    struct Lossy;
    struct LossySource;
    impl BatchSource for LossySource {
        fn begin(&mut self, _epoch: &Epoch) {}
        fn next_batch(&mut self, epoch: &Epoch) -> Option<NonceRange> {
            let range = epoch.range();
            let at = epoch.cursor().fetch_add(1000, Ordering::Relaxed);
            (at + 1000 < range.len()).then(|| range.split_at(at).1.split_at(1000).0)
        }
    }
    impl Scheduler for Lossy {
        fn name(&self) -> &str {
            "lossy"
        }
        fn is_dynamic(&self) -> bool {
            true
        }
        fn launch(&self, launch: &mut Launch<'_>) -> Result<(), SchedError> {
            for k in 0..launch.threads() {
                launch.spawn_worker(k, LossySource)?;
            }
            Ok(())
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let r = Registry::builtin().with_scheduler(Lossy);
    let file = scenario(
        tmp.path(),
        "lossy",
        &["sha2-midstate"],
        &["lossy", "atomic"],
        false,
    );
    let out = tmp.path().join("out");
    let code = cli(
        &r,
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    let rep = report(&run_dir(&out));
    let failed = rep["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0]["reason"]
        .as_str()
        .unwrap()
        .contains("scheduler lossy"));
    // The testing harness says the same.
    let panicked = std::panic::catch_unwind(|| {
        minebench::testing::cross_check_scheduler(&Lossy, &[1]);
    });
    assert!(panicked.is_err());
    minebench::testing::cross_check_scheduler(&Guided, &[1, 2, 3]);
}

#[test]
fn the_testing_harness_passes_a_good_backend_and_names_the_first_dropped_nonce() {
    minebench::testing::cross_check(&Mine);
    let err =
        minebench::testing::preflight(&DropsEveryOther, &mut minebench::testing::Oracle::new())
            .unwrap_err();
    assert!(err.first_nonce.is_some(), "{err}");
    assert!(err.to_string().contains("dropper"), "{err}");
}

#[test]
fn names_are_checked_against_the_registry() {
    use minebench::scenario::{load_str, PlanOptions};
    let r = registry();
    let opts = PlanOptions::detect(&r);
    let text = "name = \"x\"\n[work]\ndifficulty = { zero_bits = 8 }\n[matrix]\nbackend = [\"nope\"]\nscheduler = [\"guided\"]\nthreads = [1]\n";
    let err = load_str(text, "x.toml", &opts).unwrap_err().to_string();
    assert!(
        err.contains("x.toml:5") && err.contains("matrix.backend"),
        "{err}"
    );
    assert!(
        err.contains("mine") && err.contains("dropper") && err.contains("avx2"),
        "{err}"
    );
    let text = text
        .replace("[\"nope\"]", "[\"mine\"]")
        .replace("guided", "fifo");
    let err = load_str(&text, "x.toml", &opts).unwrap_err().to_string();
    assert!(
        err.contains("matrix.scheduler") && err.contains("guided"),
        "{err}"
    );
    // Duplicates are refused when the command line starts: exit 2 before anything runs.
    let dup = Registry::builtin()
        .with_backend("mine", || Box::new(Mine))
        .with_backend("mine", || Box::new(Mine));
    assert_eq!(cli(&dup, &["backends"]), 2);
    // A factory whose backend answers to another name is refused, not mislabelled.
    let misnamed = Registry::builtin().with_backend("theirs", || Box::new(Mine));
    let err = misnamed.backend("theirs").err().unwrap().to_string();
    assert!(err.contains("theirs") && err.contains("mine"), "{err}");
    let _keep: Arc<dyn Backend> = r.backend("mine").unwrap();
}

#[test]
fn v1_reports_read_everywhere_and_unknown_versions_name_the_known_ones() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compare-base.json");
    let text = std::fs::read_to_string(&fixture).unwrap();
    assert!(
        text.contains("\"minebench.report/v1\""),
        "the fixture is a v1 report"
    );
    let tmp = tempfile::tempdir().unwrap();
    let r = Registry::builtin();
    let f = fixture.to_str().unwrap();
    // render
    let rendered = tmp.path().join("rendered");
    assert_eq!(
        cli(&r, &["render", f, "--out", rendered.to_str().unwrap()]),
        0
    );
    assert!(rendered.join("index.html").is_file());
    // compare (v1 with itself: nothing changed)
    assert_eq!(cli(&r, &["compare", f, f]), 0);
    // export
    let exported = tmp.path().join("bmf.json");
    assert_eq!(
        cli(
            &r,
            &[
                "export",
                "--format",
                "bmf",
                f,
                "--out",
                exported.to_str().unwrap()
            ]
        ),
        0
    );
    assert!(std::fs::read_to_string(&exported)
        .unwrap()
        .contains("sha2-midstate/atomic/t1/zb12"));
    // a v1 baseline, by name
    let baselines = tmp.path().join("baselines");
    std::fs::create_dir_all(baselines.join("old")).unwrap();
    std::fs::copy(&fixture, baselines.join("old/report.json")).unwrap();
    assert_eq!(
        cli(
            &r,
            &[
                "compare",
                "old",
                f,
                "--baselines-dir",
                baselines.to_str().unwrap()
            ]
        ),
        0
    );
    // merge-reports writes the current version
    let mut second: serde_json::Value = serde_json::from_str(&text).unwrap();
    second["started_at"] = "2026-11-21T10:20:00Z".into();
    let second_path = tmp.path().join("second.json");
    std::fs::write(&second_path, second.to_string()).unwrap();
    let merged = tmp.path().join("merged.json");
    assert_eq!(
        cli(
            &r,
            &[
                "merge-reports",
                merged.to_str().unwrap(),
                f,
                second_path.to_str().unwrap()
            ]
        ),
        0
    );
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(merged["schema"], "minebench.report/v2");
    // An unknown version: exit 2, and the error lists what this build reads.
    let mut future: serde_json::Value = serde_json::from_str(&text).unwrap();
    future["schema"] = "minebench.report/v7".into();
    let future_path = tmp.path().join("future.json");
    std::fs::write(&future_path, future.to_string()).unwrap();
    assert_eq!(cli(&r, &["render", future_path.to_str().unwrap()]), 2);
    let err = minebench::report::compare::parse_report(&future.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("minebench.report/v7")
            && err.contains("minebench.report/v1")
            && err.contains("minebench.report/v2"),
        "{err}"
    );
}
