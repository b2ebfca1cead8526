//! `flame --diff` and `render` on hostile or odd inputs, through the binary: un-normalised
//! diffs say raw samples (never a fake "per 1 hashes"), a report's profile paths stay inside
//! its directory, the hash-count flags come in positive pairs, sample counts that would
//! overflow are refused, and a device is refused without being read.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::minebench;

/// A real report (two unprofiled cases) to attach profile artefacts to.
const FIXTURE: &str = "tests/data/compare-base.json";

const FOLDED: &str = "mb-worker-0;main;scan;compress256 60\n\
                      mb-worker-1;main;scan;compress256 40\n\
                      mb-worker-0;main;scan;check 10\n";

/// 2^63: two lines of it add up past u64::MAX.
const HALF_PAST_MAX: u64 = u64::MAX / 2 + 1;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes FIXTURE as `dir/report.json` with case `i` profiled at `folded[i]` (as written into
/// the report, unchecked); returns the report path and the case ids.
fn report_with_profiles(dir: &Path, folded: [&str; 2]) -> (PathBuf, [String; 2]) {
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let cases = v["cases"].as_array_mut().unwrap();
    for (i, case) in cases.iter_mut().enumerate() {
        case["profile"] = serde_json::json!({
            "samples": 110,
            "folded": folded[i],
            "pprof": format!("flame/{i}.pb"),
            "svg": format!("flame/{i}.svg"),
            "hashes": 1000 * (i as u64 + 1),
        });
    }
    let ids = [
        cases[0]["id"].as_str().unwrap().to_string(),
        cases[1]["id"].as_str().unwrap().to_string(),
    ];
    fs::create_dir_all(dir).unwrap();
    let path = dir.join("report.json");
    fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    (path, ids)
}

fn spec(report: &Path, id: &str) -> String {
    format!("{}#{id}", report.display())
}

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

/// Item 9: `flame` refuses a report's profile path that leaves the report's directory, as
/// `render` does, naming the report, the case and the path.
#[test]
fn report_profile_paths_must_stay_inside_the_report_directory() {
    let tmp = tempfile::tempdir().unwrap();
    // A perfectly good folded file, but outside the report's directory.
    let outside = tmp.path().join("outside.folded");
    fs::write(&outside, FOLDED).unwrap();
    let rep = tmp.path().join("rep");
    fs::create_dir_all(rep.join("flame")).unwrap();
    fs::write(rep.join("flame/inside.folded"), FOLDED).unwrap();
    let out = tmp.path().join("d.svg");

    let absolute = outside.display().to_string();
    for escape in [
        absolute.as_str(),
        "../outside.folded",
        "flame/../../outside.folded",
    ] {
        let (report, ids) = report_with_profiles(&rep, [escape, "flame/inside.folded"]);
        let result = minebench()
            .args([
                "flame",
                "--diff",
                &spec(&report, &ids[0]),
                &spec(&report, &ids[1]),
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{escape}: {stderr}");
        assert!(
            stderr.contains("report.json") && stderr.contains(&ids[0]) && stderr.contains(escape),
            "{escape}: {stderr}"
        );
        assert!(!out.exists(), "{escape}: drew from outside the report");

        // `render` refuses the same path (the same check): not drawn, said why.
        let result = minebench().arg("render").arg(&report).output().unwrap();
        let stderr = text(&result.stderr);
        assert!(result.status.success(), "{escape}: {stderr}");
        assert!(
            stderr.contains(&format!("not drawn: flamegraph of {}", ids[0])),
            "{escape}: {stderr}"
        );
    }

    // Inside the directory (also spelt with `./`): drawn.
    let (report, ids) =
        report_with_profiles(&rep, ["./flame/inside.folded", "flame/inside.folded"]);
    minebench()
        .args([
            "flame",
            "--diff",
            &spec(&report, &ids[0]),
            &spec(&report, &ids[1]),
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
}

/// Item 13 (flame): one of --hashes-a/--hashes-b alone would be silently ignored, and 0
/// hashes cannot scale anything per hash: both are usage errors naming the flag.
#[test]
fn hash_count_flags_come_in_pairs_and_are_positive() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.folded");
    fs::write(&a, FOLDED).unwrap();
    let out = tmp.path().join("d.svg");
    let run = |flags: &[&str]| {
        minebench()
            .args(["flame", "--diff"])
            .arg(&a)
            .arg(&a)
            .args(flags)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    for (flags, named) in [
        (&["--hashes-a", "100"][..], "--hashes-b"),
        (&["--hashes-b", "100"][..], "--hashes-a"),
        (&["--hashes-a", "0", "--hashes-b", "100"][..], "--hashes-a"),
        (&["--hashes-a", "100", "--hashes-b", "0"][..], "--hashes-b"),
        (&["--hashes-a", "0"][..], "--hashes-a"),
    ] {
        let result = run(flags);
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{flags:?} should name {named}: {stderr}"
        );
        assert!(!out.exists(), "{flags:?}: drew anyway");
    }
    assert!(run(&["--hashes-a", "100", "--hashes-b", "100"])
        .status
        .success());

    // A report case brings its own hash count: a folded B needs only --hashes-b.
    let rep = tmp.path().join("rep");
    fs::create_dir_all(rep.join("flame")).unwrap();
    fs::write(rep.join("flame/0.folded"), FOLDED).unwrap();
    let (report, ids) = report_with_profiles(&rep, ["flame/0.folded", "flame/0.folded"]);
    minebench()
        .args(["flame", "--diff", &spec(&report, &ids[0])])
        .arg(&a)
        .args(["--hashes-b", "500", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert!(!fs::read_to_string(&out).unwrap().contains("not normalised"));
}

/// Item 18: counts adding up past what can be drawn are refused naming the file and line,
/// instead of saturating (every sibling then shows 100 %) or overflowing inside inferno.
#[test]
fn sample_counts_that_overflow_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.folded");
    fs::write(&good, FOLDED).unwrap();
    let big = tmp.path().join("big.folded");
    fs::write(
        &big,
        format!("mb-worker-0;main;a {HALF_PAST_MAX}\nmb-worker-0;main;b {HALF_PAST_MAX}\n"),
    )
    .unwrap();
    let out = tmp.path().join("d.svg");
    for (a, b) in [(&big, &good), (&good, &big)] {
        let result = minebench()
            .args(["flame", "--diff"])
            .arg(a)
            .arg(b)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("big.folded") && stderr.contains("line "),
            "{stderr}"
        );
        assert!(!out.exists());
    }

    // `render` draws every other flamegraph and says why this one was not drawn.
    let rep = tmp.path().join("rep");
    fs::create_dir_all(rep.join("flame")).unwrap();
    fs::copy(&big, rep.join("flame/big.folded")).unwrap();
    fs::write(rep.join("flame/good.folded"), FOLDED).unwrap();
    let (report, ids) = report_with_profiles(&rep, ["flame/big.folded", "flame/good.folded"]);
    let result = minebench().arg("render").arg(&report).output().unwrap();
    let stderr = text(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("not drawn: flamegraph of {}", ids[0]))
            && stderr.contains("big.folded"),
        "{stderr}"
    );
    assert!(rep.join("flame/1.svg").exists());
    assert!(!rep.join("flame/0.svg").exists());
}

/// A device is refused from its metadata, before a byte is read.
#[test]
fn dev_zero_is_refused_quickly_as_not_a_regular_file() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.folded");
    fs::write(&good, FOLDED).unwrap();
    let started = Instant::now();
    let result = minebench()
        .args(["flame", "--diff", "/dev/zero"])
        .arg(&good)
        .arg("--out")
        .arg(tmp.path().join("d.svg"))
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("not a regular file"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
}

/// Rewrites the JSON report at `path` through `edit`.
fn edit_report(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// A report in `dir` with both cases profiled at good folded files `flame/0.folded` and
/// `flame/1.folded` (and pprof files `flame/0.pb`, `flame/1.pb`).
fn report_with_good_profiles(dir: &Path) -> (PathBuf, [String; 2]) {
    fs::create_dir_all(dir.join("flame")).unwrap();
    for i in 0..2 {
        fs::write(dir.join(format!("flame/{i}.folded")), FOLDED).unwrap();
        fs::write(dir.join(format!("flame/{i}.pb")), b"pprof bytes").unwrap();
    }
    report_with_profiles(dir, ["flame/0.folded", "flame/1.folded"])
}

fn render(report: &Path) -> (Option<i32>, String) {
    let result = minebench().arg("render").arg(report).output().unwrap();
    (result.status.code(), text(&result.stderr))
}

/// Hardening item 1: a profile's `svg` is an output `render` writes, so an edited report must
/// not make it overwrite the report, a folded or pprof input, a chart, or another case's
/// flamegraph. Such a flamegraph is not drawn (said why); the rest is.
#[test]
fn render_never_overwrites_the_report_or_an_input_with_an_svg() {
    let tmp = tempfile::tempdir().unwrap();
    for (n, svgs) in [
        ["report.json", "flame/1.svg"],
        ["./report.json", "flame/1.svg"],
        ["flame/1.folded", "flame/1.svg"],
        ["flame/0.folded", "flame/1.svg"],
        ["flame/0.pb", "flame/1.svg"],
        ["flame//1.pb", "flame/1.svg"],
        ["flame/0.png", "flame/1.svg"],
        ["plots/hashrate.svg", "flame/1.svg"],
        ["flame/same.svg", "./flame/same.svg"],
    ]
    .into_iter()
    .enumerate()
    {
        let rep = tmp.path().join(format!("rep{n}"));
        let (report, ids) = report_with_good_profiles(&rep);
        edit_report(&report, |v| {
            for (i, svg) in svgs.iter().enumerate() {
                v["cases"][i]["profile"]["svg"] = serde_json::json!(svg);
            }
        });
        let report_text = fs::read_to_string(&report).unwrap();
        let (code, stderr) = render(&report);
        assert_eq!(code, Some(0), "{svgs:?}: {stderr}");
        assert!(
            fs::read_to_string(&report).unwrap() == report_text,
            "{svgs:?}: report overwritten"
        );
        for i in 0..2 {
            assert_eq!(
                fs::read_to_string(rep.join(format!("flame/{i}.folded"))).unwrap(),
                FOLDED,
                "{svgs:?}"
            );
            assert_eq!(
                fs::read(rep.join(format!("flame/{i}.pb"))).unwrap(),
                b"pprof bytes",
                "{svgs:?}"
            );
        }
        assert!(
            stderr.contains(&format!("not drawn: flamegraph of {}", ids[0]))
                && stderr.contains(svgs[0].trim_start_matches("./")),
            "{svgs:?}: {stderr}"
        );
        assert!(rep.join("index.html").exists() && rep.join("summary.md").exists());
        if svgs[1] == "flame/1.svg" {
            // The other case is drawn as usual.
            assert!(rep.join("flame/1.svg").exists(), "{svgs:?}: {stderr}");
            let chart = fs::read_to_string(rep.join("plots/hashrate.svg")).unwrap();
            assert!(
                !chart.contains("compress256"),
                "a flamegraph replaced a chart"
            );
        } else {
            // Two cases on one SVG: neither is drawn (either would hide the other).
            assert!(
                stderr.contains(&format!("not drawn: flamegraph of {}", ids[1])),
                "{stderr}"
            );
            assert!(!rep.join("flame/same.svg").exists());
        }
    }
}

/// Hardening item 2: a profile whose counts are all 0 has nothing to draw: `render` says so
/// and renders the rest; `flame --diff` refuses it naming the file.
#[test]
fn a_profile_with_only_zero_counts_is_not_drawn_and_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let rep = tmp.path().join("rep");
    let (report, ids) = report_with_good_profiles(&rep);
    fs::write(
        rep.join("flame/0.folded"),
        "mb-worker-0;main;scan 0\nmb-worker-1;main 0\n",
    )
    .unwrap();
    let (code, stderr) = render(&report);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("not drawn: flamegraph of {}", ids[0]))
            && stderr.contains("no samples"),
        "{stderr}"
    );
    assert!(!rep.join("flame/0.svg").exists());
    assert!(rep.join("flame/1.svg").exists());
    assert!(rep.join("index.html").exists() && rep.join("summary.md").exists());

    let out = tmp.path().join("d.svg");
    let zero = rep.join("flame/0.folded");
    let good = rep.join("flame/1.folded");
    for (a, b) in [(&zero, &good), (&good, &zero)] {
        let result = minebench()
            .args(["flame", "--diff"])
            .arg(a)
            .arg(b)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("0.folded") && stderr.contains("no samples"),
            "{stderr}"
        );
        assert!(!out.exists());
    }
    // The same through a report case.
    let result = minebench()
        .args([
            "flame",
            "--diff",
            &spec(&report, &ids[0]),
            &spec(&report, &ids[1]),
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("0.folded") && stderr.contains("no samples"),
        "{stderr}"
    );
}

/// Hardening item 3: very uneven hash counts must not scale either side to nothing: both are
/// drawn, in a unit the subtitle names; where no integer unit can hold both, it is refused.
#[test]
fn very_uneven_hash_counts_keep_both_sides() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.folded");
    let b = tmp.path().join("b.folded");
    fs::write(&a, FOLDED).unwrap();
    fs::write(
        &b,
        "mb-worker-0;main;scan;compress256 90\nmb-worker-0;main;scan;other 3\n",
    )
    .unwrap();
    let out = tmp.path().join("d.svg");
    for (ha, hb) in [("1", "1000000000000"), ("1000000000000", "1")] {
        let result = minebench()
            .args(["flame", "--diff"])
            .arg(&a)
            .arg(&b)
            .args(["--hashes-a", ha, "--hashes-b", hb, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(0), "{ha} vs {hb}: {stderr}");
        let svg = fs::read_to_string(&out).unwrap();
        assert!(
            svg.contains("samples per ") && svg.contains(" hashes"),
            "{svg}"
        );
        // B's frames are drawn (widths show B; that neither column rounds to 0 is checked on
        // the diff itself in the unit tests of render::flamegraph).
        assert!(
            svg.contains("compress256") && svg.contains("other"),
            "{svg}"
        );
        fs::remove_file(&out).unwrap();
    }

    // 2^40 samples in one hash against one sample in u64::MAX hashes: no integer unit keeps
    // both, so it is refused rather than drawn with a side missing.
    fs::write(&a, "mb-worker-0;main;a 1099511627776\n").unwrap();
    fs::write(&b, "mb-worker-0;main;a 1\n").unwrap();
    let result = minebench()
        .args(["flame", "--diff"])
        .arg(&a)
        .arg(&b)
        .args([
            "--hashes-a",
            "1",
            "--hashes-b",
            &u64::MAX.to_string(),
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("hash counts") && stderr.contains("raw"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// Hardening item 4: a symlink inside the report's directory is not a way out of it, neither
/// to read a folded file nor to write a flamegraph.
#[test]
fn symlinks_do_not_lead_out_of_the_report_directory() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let secret = outside.join("secret.folded");
    fs::write(&secret, FOLDED).unwrap();
    let rep = tmp.path().join("rep");
    let (report, ids) = report_with_good_profiles(&rep);
    fs::remove_file(rep.join("flame/0.folded")).unwrap();
    symlink(&secret, rep.join("flame/0.folded")).unwrap();
    let out = tmp.path().join("d.svg");

    let result = minebench()
        .args([
            "flame",
            "--diff",
            &spec(&report, &ids[0]),
            &spec(&report, &ids[1]),
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("report.json") && stderr.contains(&ids[0]) && stderr.contains("outside"),
        "{stderr}"
    );
    assert!(!out.exists());
    let (code, stderr) = render(&report);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("not drawn: flamegraph of {}", ids[0])),
        "{stderr}"
    );
    assert!(!rep.join("flame/0.svg").exists());

    // A link that stays inside the directory is fine to read.
    fs::remove_file(rep.join("flame/0.folded")).unwrap();
    symlink("1.folded", rep.join("flame/0.folded")).unwrap();
    let (code, stderr) = render(&report);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(rep.join("flame/0.svg").exists(), "{stderr}");

    // Outputs: an SVG path that is a link (to a file outside), or that goes through a linked
    // directory, is not written; the files outside are untouched and nothing is created there.
    let target = outside.join("target.svg");
    fs::write(&target, "keep").unwrap();
    fs::remove_file(rep.join("flame/0.svg")).unwrap();
    symlink(&target, rep.join("flame/0.svg")).unwrap();
    symlink(&outside, rep.join("linked")).unwrap();
    edit_report(&report, |v| {
        v["cases"][1]["profile"]["svg"] = serde_json::json!("linked/sub/1.svg");
    });
    let (code, stderr) = render(&report);
    assert_eq!(code, Some(0), "{stderr}");
    for id in &ids {
        assert!(
            stderr.contains(&format!("not drawn: flamegraph of {id}")),
            "{stderr}"
        );
    }
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
    assert!(fs::symlink_metadata(rep.join("flame/0.svg"))
        .unwrap()
        .file_type()
        .is_symlink());
    let mut listing: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    listing.sort();
    assert_eq!(listing, ["secret.folded", "target.svg"]);

    // The charts' folder, linked out: no chart is drawn there (said why), the rest is.
    fs::remove_dir_all(rep.join("plots")).unwrap();
    symlink(&outside, rep.join("plots")).unwrap();
    let (code, stderr) = render(&report);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("not drawn: plots/hashrate") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 2);
    assert!(rep.join("index.html").exists());
}

/// Hardening item 5: `--out` naming one of the inputs (however spelt, or the folded file of a
/// report case, or the report) is refused before anything is written.
#[test]
fn flame_out_may_not_be_one_of_its_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.folded");
    let b = tmp.path().join("b.folded");
    fs::write(&a, FOLDED).unwrap();
    fs::write(&b, FOLDED).unwrap();
    let rep = tmp.path().join("rep");
    let (report, ids) = report_with_good_profiles(&rep);
    let report_text = fs::read_to_string(&report).unwrap();
    let case0 = spec(&report, &ids[0]);
    let a_str = a.display().to_string();
    let b_str = b.display().to_string();
    let b_alias = tmp.path().join("rep/../b.folded");
    let folded0 = rep.join("flame/0.folded");
    for (sides, out) in [
        ([a_str.as_str(), b_str.as_str()], a.clone()),
        ([a_str.as_str(), b_str.as_str()], b_alias),
        ([case0.as_str(), b_str.as_str()], folded0.clone()),
        ([a_str.as_str(), case0.as_str()], report.clone()),
    ] {
        let result = minebench()
            .args(["flame", "--diff", sides[0], sides[1], "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{out:?}: {stderr}");
        assert!(stderr.contains("--out"), "{stderr}");
        assert_eq!(fs::read_to_string(&a).unwrap(), FOLDED);
        assert_eq!(fs::read_to_string(&b).unwrap(), FOLDED);
        assert_eq!(fs::read_to_string(&folded0).unwrap(), FOLDED);
        assert!(
            fs::read_to_string(&report).unwrap() == report_text,
            "report overwritten"
        );
    }
}

/// Hardening item 6: a report case recording 0 profiled hashes is named (report and case).
#[test]
fn a_report_case_with_zero_hashes_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let rep = tmp.path().join("rep");
    let (report, ids) = report_with_good_profiles(&rep);
    edit_report(&report, |v| {
        v["cases"][0]["profile"]["hashes"] = serde_json::json!(0);
    });
    let out = tmp.path().join("d.svg");
    let result = minebench()
        .args([
            "flame",
            "--diff",
            &spec(&report, &ids[0]),
            &spec(&report, &ids[1]),
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&report.display().to_string())
            && stderr.contains(&ids[0])
            && stderr.contains("profile.hashes"),
        "{stderr}"
    );
    assert!(!out.exists());
}
