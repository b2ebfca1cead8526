//! Loaded reports and `merge-reports` driven through the binary: a report with impossible or
//! inconsistent values is refused on load by every command (exit 2, naming the file, the case and
//! the field), merging a report with itself or into one of its inputs is a usage error, and a
//! device given as a report is refused without being read.
//!
//! The fixture tests/data/compare-base.json is a real report (2 cases × 8 samples, see
//! tests/compare.rs); each test writes a damaged copy into a temporary directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::minebench;
use minebench::report::compare::parse_report;
use minebench::report::Report;

const FIXTURE: &str = "tests/data/compare-base.json";

fn fixture() -> Report {
    parse_report(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

fn fixture_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

fn write_json(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    minebench().args(args).output().unwrap()
}

/// Every command that loads a report refuses `path` with exit 2 and a message holding the file
/// name and each of `expect`.
fn refused_everywhere(path: &Path, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.json");
    let p = path.as_os_str();
    let fixture = std::ffi::OsStr::new(FIXTURE);
    let commands: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec!["compare".as_ref(), fixture, p],
        vec!["compare".as_ref(), p, fixture],
        vec!["export".as_ref(), "--format".as_ref(), "bmf".as_ref(), p],
        vec![
            "render".as_ref(),
            p,
            "--out".as_ref(),
            dir.path().as_os_str(),
        ],
        vec!["merge-reports".as_ref(), merged.as_os_str(), fixture, p],
    ];
    for args in commands {
        let out = run(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&path.display().to_string()),
            "{args:?}: {stderr}"
        );
        for e in expect {
            assert!(stderr.contains(e), "{args:?}: no {e:?} in {stderr}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(!merged.exists(), "a refused merge wrote its output");
}

const CASE0: &str = "sha2-midstate/atomic/t1/zb12";
const CASE1: &str = "sha2-midstate/chunked/t1/zb12";

#[test]
fn the_fixture_still_loads_everywhere() {
    let out = run(&[
        "export".as_ref(),
        "--format".as_ref(),
        "gab".as_ref(),
        FIXTURE.as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(fixture().cases[0].id, CASE0);
    assert_eq!(fixture().cases[1].id, CASE1);
}

#[test]
fn a_sample_with_zero_elapsed_time_or_zero_hashes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = fixture_json();
    v["cases"][1]["samples"][3]["elapsed_ns"] = 0.into();
    let p = write_json(dir.path(), "zero-elapsed.json", &v);
    refused_everywhere(&p, &[CASE1, "samples[3].elapsed_ns"]);

    let mut v = fixture_json();
    v["cases"][0]["samples"][0]["hashes"] = 0.into();
    let p = write_json(dir.path(), "zero-hashes.json", &v);
    refused_everywhere(&p, &[CASE0, "samples[0].hashes"]);
}

#[test]
fn an_impossible_rate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = fixture_json();
    v["cases"][0]["samples"][5]["hashes"] = u64::MAX.into();
    let p = write_json(dir.path(), "max-hashes.json", &v);
    refused_everywhere(&p, &[CASE0, "samples[5]", "H/s"]);
}

#[test]
fn negative_or_stale_statistics_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = fixture_json();
    v["cases"][1]["hash_rate"]["stddev"] = (-1.0).into();
    let p = write_json(dir.path(), "negative-stddev.json", &v);
    refused_everywhere(&p, &[CASE1, "hash_rate.stddev"]);

    let mut v = fixture_json();
    v["cases"][0]["shares"]["expected"] = (-3.5).into();
    let p = write_json(dir.path(), "negative-expected.json", &v);
    refused_everywhere(&p, &[CASE0, "shares.expected"]);

    // A stored median that the samples do not give: export would publish it while compare
    // recomputes from the samples, so the two would disagree.
    let mut v = fixture_json();
    let m = v["cases"][0]["hash_rate"]["median"].as_f64().unwrap();
    v["cases"][0]["hash_rate"]["median"] = (m * 2.0).into();
    let p = write_json(dir.path(), "stale-median.json", &v);
    refused_everywhere(&p, &[CASE0, "hash_rate.median"]);

    let mut v = fixture_json();
    let m = v["cases"][1]["hash_rate"]["mean"].as_f64().unwrap();
    v["cases"][1]["hash_rate"]["mean"] = (m * 1.01).into();
    let p = write_json(dir.path(), "stale-mean.json", &v);
    refused_everywhere(&p, &[CASE1, "hash_rate.mean"]);
}

#[test]
fn a_case_without_samples_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = fixture_json();
    v["cases"][1]["samples"] = serde_json::json!([]);
    let p = write_json(dir.path(), "no-samples.json", &v);
    refused_everywhere(&p, &[CASE1, "samples"]);
}

/// Item 15a: two cases with one id would collapse into one on merge (24 samples became 16).
#[test]
fn duplicate_case_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = fixture_json();
    v["cases"][1]["id"] = CASE0.into();
    let p = write_json(dir.path(), "duplicate-id.json", &v);
    refused_everywhere(&p, &[CASE0, "more than once"]);
}

fn second_round(dir: &Path) -> PathBuf {
    let mut v = fixture_json();
    v["started_at"] = "2026-11-21T10:20:00Z".into();
    write_json(dir, "round2.json", &v)
}

/// Item 15b: the same report given twice (by the same path, another spelling of it, or a copy)
/// would double its samples.
#[test]
fn merging_a_report_with_itself_is_a_usage_error_naming_both_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged.json");
    let copy = dir.path().join("copy.json");
    std::fs::copy(FIXTURE, &copy).unwrap();
    let round2 = second_round(dir.path());
    let run_dir = dir.path().join("run1");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::copy(FIXTURE, run_dir.join("report.json")).unwrap();
    let in_dir = run_dir.join("report.json");
    let respelled = "tests/data/../data/compare-base.json";
    for (a, b) in [
        (FIXTURE, FIXTURE),
        (FIXTURE, respelled),
        (FIXTURE, copy.to_str().unwrap()),
        // A directory stands for its report.json.
        (run_dir.to_str().unwrap(), in_dir.to_str().unwrap()),
    ] {
        let res = minebench()
            .arg("merge-reports")
            .arg(&out)
            .args([a, round2.to_str().unwrap(), b])
            .output()
            .unwrap();
        let stderr = text(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{a} {b}: {stderr}");
        assert!(
            stderr.contains(a) && stderr.contains(b),
            "{a} {b}: {stderr}"
        );
        assert!(stderr.contains("same"), "{stderr}");
        assert!(!out.exists());
    }

    // Two different rounds merge.
    let res = minebench()
        .arg("merge-reports")
        .arg(&out)
        .arg(FIXTURE)
        .arg(&round2)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(0), "{}", text(&res.stderr));
    let m = parse_report(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(m.cases[0].samples.len(), 16);

    // A merged report holds its first round: merging it with that round again would count the
    // round twice.
    let again = dir.path().join("again.json");
    let res = minebench()
        .arg("merge-reports")
        .arg(&again)
        .arg(&out)
        .arg(FIXTURE)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2), "{}", text(&res.stderr));
    assert!(!again.exists());
}

/// Item 15c: OUT resolving to an input would overwrite it.
#[test]
fn out_that_is_one_of_the_inputs_is_a_usage_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run1");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::copy(FIXTURE, run_dir.join("report.json")).unwrap();
    let round2 = second_round(dir.path());
    let original = std::fs::read(&round2).unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&round2, &link).unwrap();
    let respelled = dir.path().join("run1/../round2.json");

    for (out, inputs) in [
        (round2.clone(), vec![run_dir.clone(), round2.clone()]),
        (respelled.clone(), vec![run_dir.clone(), round2.clone()]),
        (link.clone(), vec![run_dir.clone(), round2.clone()]),
        // A directory OUT means OUT/report.json.
        (run_dir.clone(), vec![run_dir.clone(), round2.clone()]),
        (
            run_dir.clone(),
            vec![round2.clone(), run_dir.join("report.json")],
        ),
    ] {
        let res = minebench()
            .arg("merge-reports")
            .arg(&out)
            .args(&inputs)
            .output()
            .unwrap();
        let stderr = text(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{out:?}: {stderr}");
        assert!(stderr.contains(&out.display().to_string()), "{stderr}");
        assert!(stderr.contains("input"), "{stderr}");
        assert_eq!(std::fs::read(&round2).unwrap(), original);
        assert_eq!(
            std::fs::read(run_dir.join("report.json")).unwrap(),
            std::fs::read(FIXTURE).unwrap()
        );
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 3, "nothing else written: {names:?}");
}

/// Item 7: a character device as a report is refused from its metadata, not read forever.
#[test]
fn dev_zero_is_not_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let fixture = std::ffi::OsStr::new(FIXTURE);
    for args in [
        vec!["compare".as_ref(), "/dev/zero".as_ref(), fixture],
        vec!["compare".as_ref(), fixture, "/dev/zero".as_ref()],
        vec![
            "merge-reports".as_ref(),
            out.as_os_str(),
            "/dev/zero".as_ref(),
        ],
        vec![
            "merge-reports".as_ref(),
            out.as_os_str(),
            fixture,
            "/dev/zero".as_ref(),
        ],
    ] {
        let started = Instant::now();
        let res = run(&args);
        let took = started.elapsed();
        let stderr = text(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("/dev/zero"), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
        assert!(!out.exists());
    }
}

/// A commit that is not hex was sliced at a byte index by the console table and panicked (exit
/// 101) when a multi-byte character straddled it.
#[test]
fn a_git_commit_that_is_not_hex_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = fixture_json();
    v["machine"]["git_commit"] = "ééééééé".into();
    let p = write_json(dir.path(), "commit.json", &v);
    refused_everywhere(&p, &["machine.git_commit"]);
}
