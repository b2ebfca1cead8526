//! `minebench history` driven through the binary: synthetic report series (the compare
//! fixture with its samples, time and commit replaced, statistics recomputed as a run would),
//! change points where a step was injected and none in a flat series, every output written,
//! and the `run --history` database round trip.

mod common;

use std::path::{Path, PathBuf};

use common::minebench;
use minebench::report::compare::parse_report;
use minebench::report::{stats, Report, Sample};
use minebench::rng::SplitMix64;

const FIXTURE: &str = "tests/data/compare-base.json";

fn fixture() -> Report {
    parse_report(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

/// Run `i` of a series: every case at `level` × its base rate, 8 samples with ~1 % noise,
/// started `i` hours after the fixture, on commit `i` (a fake 40-hex hash).
fn run_report(i: usize, level: f64, rng: &mut SplitMix64) -> Report {
    let mut r = fixture();
    r.started_at = format!("2026-11-21T{:02}:14:17Z", i);
    r.finished_at = format!("2026-11-21T{:02}:14:18Z", i);
    r.machine.git_commit = Some(format!("{i:040x}"));
    for (k, c) in r.cases.iter_mut().enumerate() {
        let center = 1e7 * (1.0 + k as f64) * level;
        c.samples = (0..8)
            .map(|_| {
                let noise = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                Sample {
                    hashes: (center * (1.0 + 0.02 * noise) * 0.05) as u64,
                    elapsed_ns: 50_000_000,
                    cpu_ns: None,
                }
            })
            .collect();
        let rates: Vec<f64> = c.samples.iter().map(Sample::hashes_per_sec).collect();
        c.hash_rate = stats::summarize(&rates).unwrap();
        c.cpu_rate = None;
    }
    r
}

/// Writes `levels.len()` runs as `<dir>/run-NN/report.json` (as `run --out` lays them out).
fn write_series(dir: &Path, levels: &[f64], seed: u64) {
    let mut rng = SplitMix64(seed);
    for (i, level) in levels.iter().enumerate() {
        let run = dir.join(format!("run-{i:02}"));
        std::fs::create_dir_all(&run).unwrap();
        let r = run_report(i, *level, &mut rng);
        std::fs::write(
            run.join("report.json"),
            serde_json::to_vec_pretty(&r).unwrap(),
        )
        .unwrap();
    }
}

fn history_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = minebench()
        .arg("history")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn change_indexes(series: &serde_json::Value) -> Vec<u64> {
    series["change_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect()
}

fn step_levels() -> Vec<f64> {
    (0..16).map(|i| if i < 10 { 1.0 } else { 1.1 }).collect()
}

#[test]
fn a_ten_percent_step_is_found_at_its_run_and_every_output_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    write_series(&reports, &step_levels(), 1);
    let plots = tmp.path().join("plots");
    let csv = tmp.path().join("csv");
    let md = tmp.path().join("history.md");
    let v = history_json(&[
        reports.as_os_str(),
        "--plot".as_ref(),
        plots.as_os_str(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--markdown".as_ref(),
        md.as_os_str(),
    ]);
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "one series per case");
    for s in series {
        assert_eq!(s["points"].as_array().unwrap().len(), 16);
        assert_eq!(change_indexes(s), vec![10], "{}", s["case_id"]);
        let cp = &s["change_points"][0];
        assert_eq!(cp["started_at"], "2026-11-21T10:14:17Z");
        assert_eq!(cp["git_commit"], format!("{:040x}", 10));
        let pct = cp["change_pct"].as_f64().unwrap();
        assert!((pct - 10.0).abs() < 1.5, "{pct}");
        assert!(cp["pvalue"].as_f64().unwrap() < 0.001);
        let stem = s["stem"].as_str().unwrap();
        for ext in ["svg", "png"] {
            let f = plots.join(format!("{stem}.{ext}"));
            assert!(std::fs::metadata(&f).unwrap().len() > 0, "{}", f.display());
        }
        let text = std::fs::read_to_string(csv.join(format!("{stem}.csv"))).unwrap();
        assert_eq!(text.lines().count(), 17);
        assert!(text.starts_with("time,commit,hash_rate\n"));
    }
    let svg =
        std::fs::read_to_string(plots.join(format!("{}.svg", series[0]["stem"].as_str().unwrap())))
            .unwrap();
    assert!(svg.contains("#10 +"), "the change point is labelled");
    let yaml = std::fs::read_to_string(csv.join("otava.yaml")).unwrap();
    assert!(yaml.contains("type: csv"));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| 10 | 2026-11-21T10:14:17Z |"), "{md}");

    // The console table names the change point too.
    let out = minebench().arg("history").arg(&reports).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2026-11-21T10:14:17Z"), "{text}");
}

#[test]
fn a_flat_series_has_no_change_point_and_a_run_seen_twice_counts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    write_series(&reports, &[1.0; 16], 2);
    let v = history_json(&[reports.as_os_str()]);
    for s in v["series"].as_array().unwrap() {
        assert_eq!(change_indexes(s), Vec::<u64>::new(), "{}", s["case_id"]);
    }
    // The same report given again, as a file and inside its directory.
    let again = reports.join("run-03").join("report.json");
    let out = minebench()
        .arg("history")
        .args([reports.as_os_str(), tmp.path().as_os_str()])
        .arg(&again)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["series"][0]["points"].as_array().unwrap().len(), 16);
}

#[test]
fn case_filter_and_bad_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    write_series(&reports, &step_levels(), 3);
    let case = fixture().cases[0].id.clone();
    let v = history_json(&[reports.as_os_str(), "--case".as_ref(), case.as_ref()]);
    assert_eq!(v["series"].as_array().unwrap().len(), 1);
    assert_eq!(v["series"][0]["case_id"], case);

    for (args, flag) in [
        (vec!["--case", "no/such/case"], "--case"),
        (vec!["--window", "1"], "--window"),
        (vec!["--p-value", "0"], "--p-value"),
        (vec!["--min-magnitude", "-1"], "--min-magnitude"),
    ] {
        let out = minebench()
            .arg("history")
            .arg(&reports)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag));
    }
    let missing = tmp.path().join("missing.sqlite");
    let out = minebench()
        .arg("history")
        .arg("--db")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.sqlite"));
    assert!(
        !missing.exists(),
        "reading history never creates a database"
    );
    let out = minebench().arg("history").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

const TINY: &str = r#"
name = "tiny-history"
[work]
header = "synthetic"
seed = 3
difficulty = { zero_bits = 10 }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["stride"]
threads = [1]
[measure]
warmup = "20ms"
samples = 3
sample = { duration = "30ms" }
batch = 1024
"#;

fn report_paths(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path().join("report.json"))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn run_history_appends_each_run_and_history_db_reads_them_back() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("tiny.toml");
    std::fs::write(&scenario, TINY).unwrap();
    let out = tmp.path().join("out");
    let db = tmp.path().join("history.sqlite");
    for _ in 0..2 {
        let o = minebench()
            .arg("run")
            .arg(&scenario)
            .args(["--no-profile", "--out"])
            .arg(&out)
            .arg("--history")
            .arg(&db)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("history: 1 case(s) appended"));
        // Run directories are named by the second: keep two runs apart.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let v = history_json(&["--db".as_ref(), db.as_os_str()]);
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["case_id"], "sha2-midstate/stride/t1/zb10");
    let points = series[0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);

    // The same runs read from their reports give the same points; both sources together
    // count each run once.
    let reports = report_paths(&out);
    assert_eq!(reports.len(), 2);
    let from_files = history_json(&[out.as_os_str()]);
    let values = |v: &serde_json::Value| -> Vec<f64> {
        v["series"][0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(values(&from_files), values(&v));
    let both = history_json(&[out.as_os_str(), "--db".as_ref(), db.as_os_str()]);
    assert_eq!(values(&both), values(&v));
    assert_eq!(
        points[0]["source"].as_str().unwrap(),
        reports[0].display().to_string()
    );

    // An unusable database path is refused before anything runs.
    let o = minebench()
        .arg("run")
        .arg(&scenario)
        .args(["--no-profile", "--out"])
        .arg(&out)
        .arg("--history")
        .arg(tmp.path().join("no/such/dir/h.sqlite"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--history"));
    assert_eq!(report_paths(&out).len(), 2);
}
