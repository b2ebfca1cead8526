//! Rendering through the binary: a tiny profiled run writes plots (SVG+PNG), flamegraphs,
//! index.html and summary.md; `render REPORT.json` rebuilds them; `flame --diff` draws a
//! differential flamegraph; bad inputs exit 2 with the file named.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::minebench;

const CHARTS: [&str; 5] = ["hashrate", "scaling", "latency", "threads", "efficiency"];
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Two cases (1 and 2 threads), profiled, about a second of hashing in all. The description
/// carries markup, to check the page escapes it.
const SCENARIO: &str = r#"
name = "tiny"
description = "<script>alert('x')</script> & friends"
[work]
header = "synthetic"
seed = 5
difficulty = { zero_bits = 12 }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic"]
threads = [1, 2]
[measure]
warmup = "50ms"
samples = 3
sample = { duration = "100ms" }
[profile]
flamegraph = true
"#;

/// Runs the scenario into `root` and returns the report directory.
fn run_tiny(root: &Path) -> PathBuf {
    let scenario = root.join("tiny.toml");
    fs::write(&scenario, SCENARIO).unwrap();
    let out = root.join("reports");
    let result = minebench()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let dirs: Vec<PathBuf> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

fn case_ids(report: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every `src="..."` and `href="..."` value of an HTML page.
fn links(html: &str) -> Vec<String> {
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

fn check_outputs(dir: &Path, ids: &[String]) {
    let plots = dir.join("plots");
    for name in CHARTS {
        let svg = fs::read_to_string(plots.join(format!("{name}.svg")))
            .unwrap_or_else(|e| panic!("plots/{name}.svg: {e}"));
        assert!(svg.starts_with("<svg"), "plots/{name}.svg is not an SVG");
        assert!(svg.len() > 1000, "plots/{name}.svg is nearly empty");
        let png = fs::read(plots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(PNG_MAGIC), "plots/{name}.png is not a PNG");
        assert!(png.len() > 1000, "plots/{name}.png is nearly empty");
    }
    let hashrate = fs::read_to_string(plots.join("hashrate.svg")).unwrap();
    for id in ids {
        assert!(hashrate.contains(id.as_str()), "hashrate.svg lacks {id}");
    }
    assert!(hashrate.contains("hash rate (MH/s)"));
    let latency = fs::read_to_string(plots.join("latency.svg")).unwrap();
    assert!(latency.contains("percentile"));
    assert!(latency.contains("99.9"));
    assert!(
        latency.contains(ids[0].as_str()),
        "latency legend lacks {}",
        ids[0]
    );
    let scaling = fs::read_to_string(plots.join("scaling.svg")).unwrap();
    assert!(scaling.contains("worker threads"));
    assert!(scaling.contains("ideal"));
    let threads = fs::read_to_string(plots.join("threads.svg")).unwrap();
    assert!(threads.contains("worker 1"));

    let html = fs::read_to_string(dir.join("index.html")).unwrap();
    for id in ids {
        assert!(html.contains(id.as_str()), "index.html lacks {id}");
    }
    assert!(!html.contains("<script>alert"), "description not escaped");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; friends"));
    let links = links(&html);
    assert!(links.iter().any(|l| l == "plots/hashrate.svg"), "{links:?}");
    for link in &links {
        assert!(
            !link.contains("://") && !link.starts_with("//") && !link.starts_with('/'),
            "non-local link {link}"
        );
        assert!(dir.join(link).is_file(), "index.html links missing {link}");
    }

    let md = fs::read_to_string(dir.join("summary.md")).unwrap();
    for id in ids {
        let rows = md
            .lines()
            .filter(|l| l.starts_with(&format!("| {id} |")))
            .count();
        assert_eq!(rows, 1, "summary.md rows for {id}:\n{md}");
    }

    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("report.json")).unwrap()).unwrap();
    for case in report["cases"].as_array().unwrap() {
        let svg_rel = case["profile"]["svg"].as_str().expect("profiled case");
        let svg = fs::read_to_string(dir.join(svg_rel)).unwrap();
        assert!(
            svg.contains("compress"),
            "{svg_rel} has no compression frame"
        );
        assert!(html.contains(svg_rel), "index.html does not link {svg_rel}");
        // The hottest source lines of the case's workers, in the report and on the page.
        let hot = case["profile"]["hot_lines"].as_array().expect("hot lines");
        let first = &hot[0];
        assert!(first["file"].as_str().unwrap().ends_with(".rs"), "{first}");
        assert!(first["line"].as_u64().unwrap() > 0, "{first}");
        let shares: f64 = hot.iter().map(|l| l["share"].as_f64().unwrap()).sum();
        assert!(shares > 0.0 && shares <= 1.0 + 1e-9, "{shares}");
        let cell = format!("{}:{}", first["file"].as_str().unwrap(), first["line"]);
        assert!(html.contains(&cell), "index.html lacks hot line {cell}");
    }
    assert!(html.contains("id=\"hot-lines\""));
}

#[test]
fn run_renders_everything_and_render_rebuilds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_tiny(tmp.path());
    let report = dir.join("report.json");
    let ids = case_ids(&report);
    assert_eq!(ids.len(), 2);
    check_outputs(&dir, &ids);

    // Rebuild from the report alone.
    fs::remove_dir_all(dir.join("plots")).unwrap();
    fs::remove_file(dir.join("index.html")).unwrap();
    fs::remove_file(dir.join("summary.md")).unwrap();
    for entry in fs::read_dir(dir.join("flame")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "svg") {
            fs::remove_file(path).unwrap();
        }
    }
    minebench().arg("render").arg(&report).assert().success();
    check_outputs(&dir, &ids);

    // --out elsewhere: the same outputs there, flamegraphs read from the report's directory.
    let other = tmp.path().join("elsewhere");
    minebench()
        .arg("render")
        .arg(&report)
        .arg("--out")
        .arg(&other)
        .assert()
        .success();
    assert!(other.join("plots/latency.png").is_file());
    assert!(other.join("index.html").is_file());

    // A missing folded file is reported as not drawn, not a crash.
    let folded = dir.join(
        serde_json::from_slice::<serde_json::Value>(&fs::read(&report).unwrap()).unwrap()["cases"]
            [0]["profile"]["folded"]
            .as_str()
            .unwrap(),
    );
    let saved = fs::read(&folded).unwrap();
    fs::remove_file(&folded).unwrap();
    let out = minebench().arg("render").arg(&report).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not drawn") && stderr.contains(ids[0].as_str()),
        "{stderr}"
    );
    let html = fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("Not drawn"));
    fs::write(&folded, saved).unwrap();

    flame_diff_between_cases(tmp.path(), &report, &ids);
    compare_out_draws_a_flame_diff_per_case(tmp.path(), &dir, &ids);
    charts_without_data_are_not_drawn_and_said_so(tmp.path(), &report, &ids);
}

/// `compare --out` of the profiled run against itself: a per-hash differential flamegraph for
/// every case, linked from the verdict table, and links back to the run's own page.
fn compare_out_draws_a_flame_diff_per_case(tmp: &Path, run_dir: &Path, ids: &[String]) {
    let cmp = tmp.join("cmp");
    minebench()
        .arg("compare")
        .args([run_dir, run_dir])
        .arg("--out")
        .arg(&cmp)
        .assert()
        .success();
    let html = fs::read_to_string(cmp.join("compare.html")).unwrap();
    let links = links(&html);
    for id in ids {
        let stem = id.replace('/', "_");
        let rel = format!("flame/{stem}.diff.svg");
        let svg = fs::read_to_string(cmp.join(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(svg.contains("per hash"), "{rel} is not normalised per hash");
        assert!(svg.contains("compress"), "{rel} has no compression frame");
        assert!(links.contains(&rel), "compare.html does not link {rel}");
    }
    assert!(
        links.iter().any(|l| l.ends_with("/index.html")),
        "no link to the run's page: {links:?}"
    );
    for link in &links {
        assert!(
            cmp.join(link).is_file(),
            "compare.html links missing {link}"
        );
    }
    assert!(!html.contains("neither run was profiled"));
}

/// An edited report: one case (no scaling), no ceiling (no efficiency), interrupted, and a
/// skipped case. The missing charts are named with their reason, never silently absent.
fn charts_without_data_are_not_drawn_and_said_so(tmp: &Path, report: &Path, ids: &[String]) {
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    v["cases"].as_array_mut().unwrap().truncate(1);
    v["ceiling"] = serde_json::Value::Null;
    v["interrupted"] = serde_json::Value::Bool(true);
    v["skipped"] =
        serde_json::json!([{"id": "sha-ni/atomic/t1/zb12", "reason": "CPU lacks <sha_ni>"}]);
    let dir = tmp.join("edited");
    fs::create_dir_all(&dir).unwrap();
    let edited = dir.join("report.json");
    fs::write(&edited, serde_json::to_vec(&v).unwrap()).unwrap();

    let out = minebench().arg("render").arg(&edited).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not drawn: plots/scaling"), "{stderr}");
    assert!(stderr.contains("not drawn: plots/efficiency"), "{stderr}");
    // The flamegraph's folded file is relative to this report's directory, where it is not.
    assert!(
        stderr.contains(&format!("not drawn: flamegraph of {}", ids[0])),
        "{stderr}"
    );
    assert!(!dir.join("plots/scaling.svg").exists());
    assert!(!dir.join("plots/efficiency.png").exists());
    assert!(dir.join("plots/hashrate.svg").is_file());

    let html = fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("Run interrupted"));
    assert!(html.contains("no calibrated ceiling"));
    assert!(html.contains("sha-ni/atomic/t1/zb12") && html.contains("CPU lacks &lt;sha_ni&gt;"));
    assert!(!html.contains(&ids[1]));
    let md = fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("Interrupted"));
    assert!(md.contains("sha-ni/atomic/t1/zb12"));
}

fn flame_diff_between_cases(tmp: &Path, report: &Path, ids: &[String]) {
    let spec = |id: &str| format!("{}#{id}", report.display());
    let out = tmp.join("diff.svg");
    minebench()
        .args(["flame", "--diff", &spec(&ids[0]), &spec(&ids[1]), "--out"])
        .arg(&out)
        .assert()
        .success();
    let svg = fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
    assert!(svg.contains("compress"));
    assert!(svg.contains(ids[0].as_str()) && svg.contains(ids[1].as_str()));
    assert!(!svg.contains("not normalised"));

    // Two bare folded files without hash counts: drawn, and the title says so.
    let v: serde_json::Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    let dir = report.parent().unwrap();
    let folded = |i: usize| dir.join(v["cases"][i]["profile"]["folded"].as_str().unwrap());
    let out2 = tmp.join("diff2.svg");
    minebench()
        .args(["flame", "--diff"])
        .arg(folded(0))
        .arg(folded(1))
        .arg("--out")
        .arg(&out2)
        .assert()
        .success();
    assert!(fs::read_to_string(&out2)
        .unwrap()
        .contains("not normalised"));

    // An unknown case id lists the known ones.
    let out = minebench()
        .args(["flame", "--diff", &spec("nope/x"), &spec(&ids[1]), "--out"])
        .arg(tmp.join("never.svg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nope/x") && stderr.contains(ids[0].as_str()),
        "{stderr}"
    );
    assert!(!tmp.join("never.svg").exists());
}

#[test]
fn render_rejects_bad_reports_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.json", None, "cannot read"),
        ("garbage.json", Some("not json at all"), "not valid JSON"),
        (
            "old.json",
            Some(r#"{"schema": "minebench.report/v0", "cases": []}"#),
            "minebench.report/v0",
        ),
        ("noschema.json", Some(r#"{"cases": []}"#), "schema"),
        (
            "partial.json",
            Some(r#"{"schema": "minebench.report/v1", "cases": 3}"#),
            "malformed",
        ),
    ];
    for (name, content, expect) in cases {
        let path = tmp.path().join(name);
        if let Some(text) = content {
            fs::write(&path, text).unwrap();
        }
        let out = minebench().arg("render").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(stderr.contains(expect), "{name}: {stderr}");
    }
}

#[test]
fn flame_diff_rejects_bad_inputs_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.folded");
    fs::write(&good, "main;work;compress 10\nmain;idle 2\n").unwrap();
    let bad = tmp.path().join("bad.folded");
    fs::write(&bad, "main;work 10\nthis line has no count\n").unwrap();
    let empty = tmp.path().join("empty.folded");
    fs::write(&empty, "").unwrap();
    let missing = tmp.path().join("missing.folded");
    let out_svg = tmp.path().join("d.svg");

    let run = |a: &Path, b: &Path| {
        minebench()
            .args(["flame", "--diff"])
            .arg(a)
            .arg(b)
            .arg("--out")
            .arg(&out_svg)
            .output()
            .unwrap()
    };
    let out = run(&good, &bad);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.folded") && stderr.contains("line 2"),
        "{stderr}"
    );

    let out = run(&missing, &good);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.folded"));

    let out = run(&empty, &empty);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_svg.exists());

    // One argument is a usage error.
    minebench()
        .args(["flame", "--diff"])
        .arg(&good)
        .assert()
        .code(2);

    // Valid files with hash counts: drawn and scaled per hash.
    minebench()
        .args(["flame", "--diff"])
        .arg(&good)
        .arg(&good)
        .args([
            "--hashes-a",
            "100",
            "--hashes-b",
            "200",
            "--title",
            "A vs B",
        ])
        .arg("--out")
        .arg(&out_svg)
        .assert()
        .success();
    let svg = fs::read_to_string(&out_svg).unwrap();
    assert!(svg.contains("A vs B") && svg.contains("compress"));
    assert!(!svg.contains("not normalised"));
}
