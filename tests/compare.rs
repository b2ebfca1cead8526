//! `compare`, baselines, `export` and `merge-reports` driven through the binary.
//!
//! The fixture tests/data/compare-base.json is a real report of tests/data/compare-fixture.toml
//! (2 cases × 8 samples), written once with
//! `minebench run tests/data/compare-fixture.toml --no-profile --out DIR`. Tests that need a
//! verdict replace its samples with deterministic ~1 %-noise ones so that they do not depend on
//! how busy the machine that wrote the fixture was.

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

fn resummarize(r: &mut Report) {
    for c in &mut r.cases {
        let rates: Vec<f64> = c.samples.iter().map(Sample::hashes_per_sec).collect();
        c.hash_rate = stats::summarize(&rates).unwrap();
    }
}

/// The fixture with 8 deterministic samples per case, ~1 % noise around 10 and 20 MH/s.
fn quiet() -> Report {
    let mut r = fixture();
    let mut rng = SplitMix64(5);
    for (i, c) in r.cases.iter_mut().enumerate() {
        let center = 1e7 * (1.0 + i as f64);
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
    }
    resummarize(&mut r);
    r
}

/// Every sample's hashes × `factor`, statistics recomputed.
fn scaled(r: &Report, factor: f64) -> Report {
    let mut r = r.clone();
    for c in &mut r.cases {
        for s in &mut c.samples {
            s.hashes = (s.hashes as f64 * factor) as u64;
        }
    }
    resummarize(&mut r);
    r
}

fn write(dir: &Path, name: &str, r: &Report) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(r).unwrap()).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_report_against_itself_is_no_change_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let quiet_path = write(dir.path(), "quiet.json", &quiet());
    let out = minebench()
        .arg("compare")
        .args([&quiet_path, &quiet_path])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for c in &fixture().cases {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&c.id))
            .unwrap_or_else(|| panic!("no row for {} in\n{stdout}", c.id));
        assert!(line.contains("no change"), "{line}");
        assert!(line.contains("+0.00 %"), "{line}");
    }
    // The fixture's real samples spread by tens of percent: against itself its CI is wide, so
    // the verdict is inconclusive, never "no change" (and without a gate that is exit 0).
    let out = minebench()
        .args(["compare", FIXTURE, FIXTURE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("inconclusive  ").count(), 2, "{stdout}");
    let gated = minebench()
        .args(["compare", FIXTURE, FIXTURE, "--fail-on-regression", "5"])
        .output()
        .unwrap();
    assert_eq!(gated.status.code(), Some(3), "{}", text(&gated.stderr));
    assert!(text(&gated.stderr).contains("inconclusive (exit 3)"));
    let allowed = minebench()
        .args(["compare", FIXTURE, FIXTURE, "--fail-on-regression", "5"])
        .arg("--allow-inconclusive")
        .output()
        .unwrap();
    assert_eq!(allowed.status.code(), Some(0));
    // A report directory stands for its report.json.
    let out = minebench()
        .args([
            "compare",
            "tests/data/../data/compare-base.json",
            FIXTURE,
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cases"].as_array().unwrap().len(), 2);
    assert!(v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["verdict"] == "inconclusive"));
}

#[test]
fn a_ten_percent_drop_is_slower_and_fails_only_with_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let base = quiet();
    let base_path = write(dir.path(), "base.json", &base);
    let slow_dir = dir.path().join("slow-run");
    std::fs::create_dir(&slow_dir).unwrap();
    write(&slow_dir, "report.json", &scaled(&base, 0.9));

    let gated = minebench()
        .arg("compare")
        .args([&base_path, &slow_dir])
        .args(["--fail-on-regression", "5"])
        .output()
        .unwrap();
    assert_eq!(gated.status.code(), Some(1), "{}", text(&gated.stderr));
    let stderr = text(&gated.stderr);
    assert!(stderr.contains("regression"), "{stderr}");
    for c in &base.cases {
        assert!(stderr.contains(&c.id), "{stderr}");
    }
    let stdout = text(&gated.stdout);
    assert_eq!(stdout.matches("SLOWER").count(), 2, "{stdout}");

    let ungated = minebench()
        .arg("compare")
        .args([&base_path, &slow_dir])
        .output()
        .unwrap();
    assert_eq!(ungated.status.code(), Some(0));
    assert_eq!(text(&ungated.stdout).matches("SLOWER").count(), 2);

    // A 10 % drop does not exceed a 15 % gate.
    let loose = minebench()
        .arg("compare")
        .args([&base_path, &slow_dir])
        .args(["--fail-on-regression", "15"])
        .output()
        .unwrap();
    assert_eq!(loose.status.code(), Some(0));

    // The other way round it is faster, and never a regression.
    let faster = minebench()
        .arg("compare")
        .args([&slow_dir, &base_path])
        .args(["--fail-on-regression", "0"])
        .output()
        .unwrap();
    assert_eq!(faster.status.code(), Some(0));
    assert_eq!(text(&faster.stdout).matches("faster  ").count(), 2);
}

#[test]
fn markdown_writes_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let base = quiet();
    let a = write(dir.path(), "a.json", &base);
    let b = write(dir.path(), "b.json", &scaled(&base, 0.9));
    let md = dir.path().join("summary.md");
    let out = minebench()
        .arg("compare")
        .args([&a, &b])
        .arg("--markdown")
        .arg(&md)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = std::fs::read_to_string(&md).unwrap();
    assert!(table.contains("| case | base MH/s | new MH/s |"), "{table}");
    assert!(table.contains("|---|"), "{table}");
    for c in &base.cases {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `{}`", c.id)))
            .unwrap_or_else(|| panic!("no row for {} in\n{table}", c.id));
        assert!(row.contains("**slower**"), "{row}");
    }
    // Nothing else left in the directory (the write is atomic through a temporary file).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn bad_inputs_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    v["schema"] = "minebench.report/v9".into();
    v["cases"] = "not even a list".into();
    let old = dir.path().join("old-schema.json");
    std::fs::write(&old, v.to_string()).unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(
        &corrupt,
        "{\"schema\": \"minebench.report/v1\", \"cases\": [",
    )
    .unwrap();

    for (file, expect) in [(&old, "minebench.report/v9"), (&corrupt, "not valid JSON")] {
        let out = minebench()
            .arg("compare")
            .arg(FIXTURE)
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(out.stdout.is_empty());
    }

    let out = minebench()
        .args(["compare", FIXTURE, FIXTURE, "--threshold", "-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--threshold"));
}

#[test]
fn baselines_are_found_by_name_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let baselines = dir.path().join("baselines");
    for name in ["main", "v0.1"] {
        std::fs::create_dir_all(baselines.join(name)).unwrap();
        std::fs::copy(FIXTURE, baselines.join(name).join("report.json")).unwrap();
    }
    let ok = minebench()
        .args(["compare", "main", FIXTURE, "--baselines-dir"])
        .arg(&baselines)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));

    let missing = minebench()
        .args(["compare", "nightly", FIXTURE, "--baselines-dir"])
        .arg(&baselines)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let stderr = text(&missing.stderr);
    assert!(stderr.contains("\"nightly\""), "{stderr}");
    assert!(stderr.contains("main, v0.1"), "{stderr}");
}

#[test]
fn different_machines_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut other = fixture();
    other.machine.cpu_model = "Other CPU 9000".into();
    let other = write(dir.path(), "other.json", &other);

    let refused = minebench()
        .arg("compare")
        .arg(FIXTURE)
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("different machines"), "{stderr}");
    assert!(stderr.contains("Other CPU 9000"), "{stderr}");
    assert!(stderr.contains(&fixture().machine.cpu_model), "{stderr}");
    assert!(stderr.contains("--allow-different-machines"), "{stderr}");

    let allowed = minebench()
        .arg("compare")
        .arg(FIXTURE)
        .arg(&other)
        .arg("--allow-different-machines")
        .output()
        .unwrap();
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    assert!(text(&allowed.stdout).contains("machines differ"));
}

const TINY: &str = r#"
name = "tiny"
[work]
difficulty = { zero_bits = 12 }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic"]
threads = [1]
[measure]
warmup = "20ms"
samples = 3
sample = { duration = "50ms" }
"#;

/// The run directories (not `baselines`) directly under `out`.
fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|p| p.is_dir() && !p.ends_with("baselines"));
    dirs.sort();
    dirs
}

#[test]
fn run_saves_a_baseline_and_compares_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("tiny.toml");
    std::fs::write(&scenario, TINY).unwrap();
    let out = dir.path().join("reports");
    let run = |extra: &[&str]| {
        minebench()
            .arg("run")
            .arg(&scenario)
            .args(["--no-profile", "--out"])
            .arg(&out)
            .arg("--baselines-dir")
            .arg(out.join("baselines"))
            .args(extra)
            .output()
            .unwrap()
    };

    // A missing baseline is found out before anything runs or is created.
    let missing = run(&["--baseline", "x"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("\"x\""),
        "{}",
        text(&missing.stderr)
    );
    assert!(
        !out.exists(),
        "nothing may be created for a missing baseline"
    );
    let bad = run(&["--save-baseline", "../x"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--save-baseline"));
    let lone = run(&["--fail-on-regression", "5"]);
    assert_eq!(lone.status.code(), Some(2));

    let first = run(&["--save-baseline", "x"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let saved = out.join("baselines/x/report.json");
    let saved_report = parse_report(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let first_dir = run_dirs(&out);
    assert_eq!(first_dir.len(), 1);
    let original = std::fs::read(first_dir[0].join("report.json")).unwrap();
    assert_eq!(std::fs::read(&saved).unwrap(), original);

    let second = run(&["--baseline", "x", "--save-baseline", "x"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let stdout = text(&second.stdout);
    assert!(stdout.contains("compared with baseline x"), "{stdout}");
    assert!(stdout.contains("sha2-midstate/atomic/t1/zb12"), "{stdout}");
    // 3 samples a side: the table says no verdict was possible.
    assert!(stdout.contains("too few samples"), "{stdout}");
    // Compared first, then replaced by the new report.
    let dirs = run_dirs(&out);
    assert_eq!(dirs.len(), 2);
    let newest = dirs.iter().find(|d| **d != first_dir[0]).unwrap();
    let replaced = parse_report(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_ne!(
        replaced.wall_ns, saved_report.wall_ns,
        "the baseline was replaced"
    );
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(newest.join("report.json")).unwrap()
    );
    // No temporary directories left behind.
    let leftovers: Vec<_> = std::fs::read_dir(out.join("baselines"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("x")]);

    // The baseline by name works for `compare` too.
    let by_name = minebench()
        .args(["compare", "x"])
        .arg(newest)
        .arg("--baselines-dir")
        .arg(out.join("baselines"))
        .output()
        .unwrap();
    assert_eq!(by_name.status.code(), Some(0), "{}", text(&by_name.stderr));
}

#[test]
fn exports_have_one_entry_per_case() {
    let dir = tempfile::tempdir().unwrap();
    let cases = fixture().cases;
    let bmf = minebench()
        .args(["export", "--format", "bmf", FIXTURE])
        .output()
        .unwrap();
    assert_eq!(bmf.status.code(), Some(0), "{}", text(&bmf.stderr));
    let v: serde_json::Value = serde_json::from_slice(&bmf.stdout).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), cases.len());
    for c in &cases {
        let t = &obj[&c.id]["throughput"];
        assert_eq!(t["value"].as_f64().unwrap(), c.hash_rate.median);
        assert!(t["lower_value"].as_f64().unwrap() <= t["value"].as_f64().unwrap());
        assert!(t["upper_value"].as_f64().unwrap() >= t["value"].as_f64().unwrap());
        assert!(obj[&c.id]["latency"]["value"].as_f64().unwrap() > 0.0);
    }

    let file = dir.path().join("gab.json");
    let gab = minebench()
        .args(["export", "--format", "gab", FIXTURE, "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(gab.status.code(), Some(0), "{}", text(&gab.stderr));
    assert!(gab.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let entries = v.as_array().unwrap();
    assert_eq!(entries.len(), cases.len());
    for (e, c) in entries.iter().zip(&cases) {
        assert_eq!(e["name"], c.id.as_str());
        assert_eq!(e["unit"], "MH/s");
        assert!((e["value"].as_f64().unwrap() - c.hash_rate.median / 1e6).abs() < 1e-9);
        assert!(e["range"].as_str().unwrap().starts_with("± "));
    }

    let bad = minebench()
        .args(["export", "--format", "csv", FIXTURE])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn merge_reports_concatenates_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged");
    // A second round: another run, so another start (one run given twice is refused).
    let mut round2 = fixture();
    round2.started_at = "2026-11-21T10:20:00Z".into();
    let round2 = write(dir.path(), "round2.json", &round2);
    let merged = minebench()
        .args(["merge-reports"])
        .arg(&out)
        .arg(FIXTURE)
        .arg(&round2)
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    let m = parse_report(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let f = fixture();
    assert_eq!(m.cases.len(), f.cases.len());
    for (a, b) in m.cases.iter().zip(&f.cases) {
        assert_eq!(a.samples.len(), 2 * b.samples.len());
        assert_eq!(a.hash_rate.n, a.samples.len());
    }

    let mut other = fixture();
    other.machine.cpu_model = "Other".into();
    let other = write(dir.path(), "other.json", &other);
    let refused = minebench()
        .arg("merge-reports")
        .arg(dir.path().join("x.json"))
        .arg(FIXTURE)
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("another machine"));
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Every `src="..."` and `href="..."` value of an HTML page.
fn page_links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').unwrap();
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn compare_out_writes_the_comparison_directory_and_drops_no_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = quiet();
    // A case only the base measured, which the new run skipped (its CPU "lacks" the backend),
    // and one both runs skipped: neither may vanish from any output.
    let mut extra = base.cases[0].clone();
    extra.id = "sha2-midstate/rayon/t1/zb12".into();
    base.cases.push(extra);
    let both = minebench::report::SkippedCase {
        id: "avx512/atomic/t1/zb12".into(),
        reason: "the CPU lacks avx512f".into(),
    };
    base.skipped.push(both.clone());
    let mut new = scaled(&quiet(), 0.9);
    new.skipped.push(both);
    new.skipped.push(minebench::report::SkippedCase {
        id: "sha2-midstate/rayon/t1/zb12".into(),
        reason: "rayon disabled here".into(),
    });
    let a = write(dir.path(), "a.json", &base);
    let b = write(dir.path(), "b.json", &new);
    let cmp = dir.path().join("cmp");
    let out = minebench()
        .arg("compare")
        .args([&a, &b])
        .arg("--out")
        .arg(&cmp)
        .args(["--fail-on-regression", "5"])
        .output()
        .unwrap();
    // The gate fails (10 % slower), and the directory is there all the same.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let matched: Vec<String> = quiet().cases.iter().map(|c| c.id.clone()).collect();
    let all: Vec<&str> = matched
        .iter()
        .map(String::as_str)
        .chain(["sha2-midstate/rayon/t1/zb12", "avx512/atomic/t1/zb12"])
        .collect();

    // Every chart as SVG and PNG, with the case labels it must show.
    for (chart, labels) in [
        ("forest", all.clone()),
        ("before-after", all.clone()),
        (
            "latency-batch",
            matched.iter().map(String::as_str).collect(),
        ),
    ] {
        let svg = std::fs::read_to_string(cmp.join(format!("plots/{chart}.svg")))
            .unwrap_or_else(|e| panic!("plots/{chart}.svg: {e}"));
        assert!(svg.starts_with("<svg"), "plots/{chart}.svg");
        for label in labels {
            assert!(svg.contains(label), "plots/{chart}.svg lacks {label}");
        }
        let png = std::fs::read(cmp.join(format!("plots/{chart}.png"))).unwrap();
        assert!(
            png.starts_with(PNG_MAGIC) && png.len() > 1000,
            "{chart}.png"
        );
    }
    let forest = std::fs::read_to_string(cmp.join("plots/forest.svg")).unwrap();
    assert!(forest.contains("SLOWER"), "forest has no verdict");
    assert!(forest.contains("noise threshold"));
    assert!(forest.contains("only in base; skipped in new: rayon disabled here"));
    assert!(forest.contains("skipped in both: the CPU lacks avx512f"));
    let latency = std::fs::read_to_string(cmp.join("plots/latency-batch.svg")).unwrap();
    assert!(latency.contains("base run") && latency.contains("new run"));
    // No job switches in these runs: not drawn, and said so.
    assert!(!cmp.join("plots/latency-job-switch.svg").exists());

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cmp.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["cases"].as_array().unwrap().len(), 2);
    assert_eq!(json["only_in_base"][0], "sha2-midstate/rayon/t1/zb12");
    assert_eq!(json["skipped_in_new"].as_array().unwrap().len(), 2);

    let md = std::fs::read_to_string(cmp.join("compare.md")).unwrap();
    for id in &matched {
        assert!(md.contains(&format!("| `{id}` |")), "compare.md lacks {id}");
    }
    assert!(
        md.contains("skipped in both: the CPU lacks avx512f"),
        "{md}"
    );

    let html = std::fs::read_to_string(cmp.join("compare.html")).unwrap();
    assert!(html.contains("<h1>minebench compare"));
    for id in &all {
        assert!(html.contains(id), "compare.html lacks {id}");
    }
    assert!(html.contains("only in base; skipped in new: rayon disabled here"));
    assert!(html.contains("latency-job-switch"), "not-drawn list");
    assert!(html.contains("neither run was profiled"));
    let links = page_links(&html);
    for chart in ["forest", "before-after", "latency-batch"] {
        assert!(links.contains(&format!("plots/{chart}.svg")), "{links:?}");
    }
    assert!(links.contains(&"../a.json".to_string()), "{links:?}");
    for link in &links {
        assert!(!link.contains("://") && !link.starts_with('/'), "{link}");
        assert!(
            cmp.join(link).is_file(),
            "compare.html links missing {link}"
        );
    }
    // The console table lists the same cases not compared.
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("skipped in both: the CPU lacks avx512f"),
        "{stdout}"
    );
}

#[test]
fn compare_out_that_cannot_be_a_directory_exits_2_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", &quiet());
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = minebench()
        .arg("compare")
        .args([&a, &a])
        .arg("--out")
        .arg(file.join("cmp"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--out"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "printed before refusing");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}
