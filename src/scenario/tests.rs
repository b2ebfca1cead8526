//! Scenario loading: every documented error names file, line and key; every shipped file loads.

use super::*;

const FILE: &str = "scenarios/x.toml";
use crate::pow::{BackendKind, Header};
use crate::Registry;

/// Two cores and the built-in names as this machine answers them.
fn opts() -> PlanOptions {
    PlanOptions {
        logical_cores: 2,
        catalog: Registry::builtin().catalog(),
        pool_given: false,
    }
}

/// A valid scenario; tests replace one line (1-based, as in the errors) to break it.
const BASE: &str = r#"name = "t"
description = "test"

[work]
header = "synthetic"
seed = 7
difficulty = { zero_bits = 20 }

[matrix]
backend = ["sha2-midstate", "reference"]
scheduler = ["stride", "atomic"]
threads = [1, 2]

[measure]
warmup = "1s"
samples = 10
sample = { duration = "500ms" }
batch = 4096
job_interval = "200ms"
pin_threads = true

[profile]
flamegraph = true
frequency = 997
"#;

const HEX_HEADER: &str = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

/// BASE with line `n` replaced by `text` (which may hold several lines, or none).
fn with_line(n: usize, text: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[n - 1] = text;
    lines.join("\n") + "\n"
}

fn load(text: &str) -> Result<Plan, ScenarioError> {
    load_str(text, FILE, &opts())
}

/// Loading `text` fails at `line` on `key`, and the message holds every `needles` entry.
#[track_caller]
fn fails(text: &str, line: usize, key: &str, needles: &[&str]) -> ScenarioError {
    let err = load(text).expect_err("scenario should be rejected");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{FILE}:{line}: {key}: ")),
        "want {FILE}:{line}: {key}: …, got: {msg}"
    );
    assert_eq!(err.line(), Some(line), "{msg}");
    assert_eq!(err.key(), Some(key), "{msg}");
    for needle in needles {
        assert!(msg.contains(needle), "want {needle:?} in: {msg}");
    }
    assert!(!msg.contains('\n'), "one line: {msg}");
    err
}

#[test]
fn base_loads_with_every_value() {
    let plan = load(BASE).unwrap();
    assert_eq!(plan.name, "t");
    assert_eq!(plan.description, "test");
    assert_eq!(plan.source, FILE);
    assert_eq!(plan.work.header, HeaderSpec::Synthetic { seed: 7 });
    assert_eq!(plan.work.difficulty, Difficulty::ZeroBits(20));
    assert_eq!(
        plan.measure,
        MeasureSpec {
            warmup_ns: 1_000_000_000,
            samples: 10,
            sample: SampleSpec::DurationNs(500_000_000),
            batch: 4096,
            job_interval_ns: Some(200_000_000),
            pin_threads: true,
        }
    );
    assert_eq!(
        plan.profile,
        ProfileSpec {
            flamegraph: true,
            frequency_hz: 997
        }
    );
    let ids: Vec<&str> = plan.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "sha2-midstate/stride/t1/zb20",
            "sha2-midstate/stride/t2/zb20",
            "sha2-midstate/atomic/t1/zb20",
            "sha2-midstate/atomic/t2/zb20",
            "reference/stride/t1/zb20",
            "reference/stride/t2/zb20",
            "reference/atomic/t1/zb20",
            "reference/atomic/t2/zb20",
        ]
    );
    // A Plan survives JSON (it is printed by `minebench plan` and embedded in reports).
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
}

#[test]
fn defaults_fill_what_is_left_out() {
    let text = r#"
name = "minimal"
[work]
difficulty = { nbits = "0x1D00FFFF" }
[matrix]
backend = ["auto"]
scheduler = ["rayon"]
threads = "all"
"#;
    let plan = load_str(
        text,
        FILE,
        &PlanOptions {
            logical_cores: 6,
            catalog: Registry::builtin().catalog(),
            pool_given: false,
        },
    )
    .unwrap();
    assert_eq!(plan.description, "");
    assert_eq!(plan.work.header, HeaderSpec::Synthetic { seed: 1 });
    assert_eq!(plan.work.difficulty, Difficulty::Nbits("1d00ffff".into()));
    assert_eq!(
        plan.measure,
        MeasureSpec {
            warmup_ns: 500_000_000,
            samples: 5,
            sample: SampleSpec::DurationNs(300_000_000),
            batch: 4096,
            job_interval_ns: None,
            pin_threads: false,
        }
    );
    assert_eq!(
        plan.profile,
        ProfileSpec {
            flamegraph: true,
            frequency_hz: 997
        }
    );
    assert_eq!(plan.matrix.threads, ThreadsSpec::All { logical_cores: 6 });
    assert_eq!(plan.matrix.backend, ["auto"]);
    let detected = BackendKind::detect();
    assert_eq!(plan.cases.len(), 1);
    assert_eq!(
        plan.cases[0].id,
        format!("{}/rayon/t6/nb1d00ffff", detected.name())
    );
    assert_eq!(plan.cases[0].backend, detected.name());
}

#[test]
fn hex_header_nonces_zero_warmup_and_matrix_difficulty() {
    let text = with_line(5, &format!("header = \"{}\"", HEX_HEADER.to_uppercase()))
        .replace("seed = 7\n", "")
        .replace("warmup = \"1s\"", "warmup = \"0s\"")
        .replace(
            "sample = { duration = \"500ms\" }",
            "sample = { nonces = 20_000_000 }",
        )
        .replace(
            "threads = [1, 2]",
            "threads = [1]\ndifficulty = [{ zero_bits = 8 }, { share = 1.5 }]",
        );
    let plan = load(&text).unwrap();
    assert_eq!(
        plan.work.header,
        HeaderSpec::Hex {
            hex: HEX_HEADER.to_string()
        }
    );
    assert_eq!(
        plan.work.header.header(),
        Header::from_hex(HEX_HEADER).unwrap()
    );
    assert_eq!(plan.measure.warmup_ns, 0);
    assert_eq!(plan.measure.sample, SampleSpec::Nonces(20_000_000));
    // work.difficulty stays the work's; the cases use the matrix's list, difficulty outermost.
    assert_eq!(plan.work.difficulty, Difficulty::ZeroBits(20));
    let ids: Vec<&str> = plan.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "sha2-midstate/stride/t1/zb8",
            "sha2-midstate/atomic/t1/zb8",
            "reference/stride/t1/zb8",
            "reference/atomic/t1/zb8",
            "sha2-midstate/stride/t1/sd1.5",
            "sha2-midstate/atomic/t1/sd1.5",
            "reference/stride/t1/sd1.5",
            "reference/atomic/t1/sd1.5",
        ]
    );
}

#[test]
fn matrix_difficulty_alone_is_enough() {
    let text = with_line(7, "").replace(
        "threads = [1, 2]",
        "threads = [1]\ndifficulty = [{ zero_bits = 12 }]",
    );
    let plan = load(&text).unwrap();
    assert_eq!(plan.work.difficulty, Difficulty::ZeroBits(12));
}

#[test]
fn malformed_toml() {
    let err = fails(&with_line(16, "samples = = 3"), 16, "measure.samples", &[]);
    assert!(matches!(err, ScenarioError::Syntax { .. }), "{err}");
    fails(&with_line(9, "[matrix"), 9, "matrix", &["syntax"]);
}

#[test]
fn unknown_keys() {
    fails(
        &with_line(3, "colour = \"red\""),
        3,
        "colour",
        &["unknown key", "colour"],
    );
    fails(
        &with_line(21, "warmpu = \"1s\""),
        21,
        "measure.warmpu",
        &["unknown key", "warmpu", "warmup"],
    );
    fails(
        &with_line(7, "difficulty = { zero_bitz = 20 }"),
        7,
        "work.difficulty.zero_bitz",
        &["zero_bitz"],
    );
}

#[test]
fn unknown_backend_and_scheduler() {
    let err = fails(
        &with_line(10, "backend = [\"sha2\", \"fpga\"]"),
        10,
        "matrix.backend",
        &[],
    );
    assert!(
        err.to_string().starts_with(&format!(
            "{FILE}:10: matrix.backend: unknown backend \"fpga\"; known backends: auto, "
        )),
        "{err}"
    );
    for kind in crate::pow::BackendKind::ALL {
        assert!(err.to_string().contains(kind.name()), "{err} lists {kind}");
    }
    // In a list over several lines the error points at the bad element's line.
    fails(
        &with_line(10, "backend = [\n  \"sha2\",\n  \"fpga\",\n]"),
        12,
        "matrix.backend",
        &["\"fpga\""],
    );
    fails(
        &with_line(11, "scheduler = [\"fifo\"]"),
        11,
        "matrix.scheduler",
        &["unknown scheduler \"fifo\"", "stride", "channel"],
    );
}

#[test]
fn thread_counts() {
    fails(
        &with_line(12, "threads = [0]"),
        12,
        "matrix.threads",
        &["1..=1024", "0"],
    );
    fails(
        &with_line(12, "threads = [1, 1025]"),
        12,
        "matrix.threads",
        &["1..=1024", "1025"],
    );
    fails(
        &with_line(12, "threads = \"some string\""),
        12,
        "matrix.threads",
        &["\"all\"", "some string"],
    );
    fails(
        &with_line(12, "threads = []"),
        12,
        "matrix.threads",
        &["at least one"],
    );
    fails(
        &with_line(12, "threads = [\"2\"]"),
        12,
        "matrix.threads",
        &["string"],
    );
}

#[test]
fn measure_values() {
    fails(
        &with_line(16, "samples = 0"),
        16,
        "measure.samples",
        &["1..=10000", "0"],
    );
    fails(
        &with_line(16, "samples = \"ten\""),
        16,
        "measure.samples",
        &["string", "expected an integer"],
    );
    fails(
        &with_line(15, "warmup = \"fast\""),
        15,
        "measure.warmup",
        &["\"fast\"", "not a duration"],
    );
    fails(
        &with_line(17, "sample = { duration = \"0s\" }"),
        17,
        "measure.sample.duration",
        &["out of range", "1ms to 1h"],
    );
    // Hardening: durations the harness cannot honour, or that a Ctrl-C would wait out.
    fails(
        &with_line(17, "sample = { duration = \"1y\" }"),
        17,
        "measure.sample.duration",
        &["\"1y\" is out of range", "1ms to 1h"],
    );
    fails(
        &with_line(15, "warmup = \"2h\""),
        15,
        "measure.warmup",
        &["out of range", "0s to 1h"],
    );
    for tiny in ["100ns", "999us", "1ns"] {
        fails(
            &with_line(19, &format!("job_interval = \"{tiny}\"")),
            19,
            "measure.job_interval",
            &["out of range", "1ms to 1h", "once a millisecond"],
        );
    }
    assert!(load(&with_line(19, "job_interval = \"1ms\"")).is_ok());
    fails(
        &with_line(17, "sample = { duration = \"1s\", nonces = 5 }"),
        17,
        "measure.sample",
        &["exactly one of duration, nonces"],
    );
    fails(
        &with_line(17, "sample = { nonces = 0 }"),
        17,
        "measure.sample.nonces",
        &["0"],
    );
    fails(
        &with_line(18, "batch = 0"),
        18,
        "measure.batch",
        &["4294967296"],
    );
    fails(
        &with_line(19, "job_interval = \"soon\""),
        19,
        "measure.job_interval",
        &["soon"],
    );
    fails(
        &with_line(20, "pin_threads = \"yes\""),
        20,
        "measure.pin_threads",
        &["bool"],
    );
    fails(
        &with_line(24, "frequency = 0"),
        24,
        "profile.frequency",
        &["1..=10000"],
    );
}

#[test]
fn difficulties() {
    let key = "work.difficulty.zero_bits";
    fails(
        &with_line(7, "difficulty = { zero_bits = 256 }"),
        7,
        key,
        &["255"],
    );
    fails(
        &with_line(7, "difficulty = { zero_bits = -1 }"),
        7,
        key,
        &["-1"],
    );
    let key = "work.difficulty.nbits";
    for (nbits, why) in [
        ("04923456", "negative"),
        ("ff123456", "overflows"),
        ("00123456", "zero target"),
        ("1d00fff", "8 hex digits"),
    ] {
        fails(
            &with_line(7, &format!("difficulty = {{ nbits = \"{nbits}\" }}")),
            7,
            key,
            &[nbits, why],
        );
    }
    let key = "work.difficulty.share";
    fails(
        &with_line(7, "difficulty = { share = 0.0 }"),
        7,
        key,
        &["above 0"],
    );
    fails(
        &with_line(7, "difficulty = { share = -2 }"),
        7,
        key,
        &["above 0"],
    );
    fails(
        &with_line(7, "difficulty = { zero_bits = 20, share = 1.0 }"),
        7,
        "work.difficulty",
        &["exactly one", "zero_bits and share"],
    );
    fails(
        &with_line(7, "difficulty = {}"),
        7,
        "work.difficulty",
        &["exactly one"],
    );
    fails(
        &with_line(
            12,
            "threads = [1]\ndifficulty = [{ zero_bits = 8 }, { zero_bits = 300 }]",
        ),
        13,
        "matrix.difficulty.zero_bits",
        &["300"],
    );
    fails(
        &with_line(12, "threads = [1]\ndifficulty = []"),
        13,
        "matrix.difficulty",
        &["at least one"],
    );
}

#[test]
fn empty_matrix_lists() {
    fails(
        &with_line(10, "backend = []"),
        10,
        "matrix.backend",
        &["at least one backend"],
    );
    fails(
        &with_line(11, "scheduler = []"),
        11,
        "matrix.scheduler",
        &["at least one scheduler"],
    );
}

#[test]
fn headers_and_seeds() {
    fails(
        &with_line(5, "header = \"abcd\""),
        5,
        "work.header",
        &["synthetic", "160"],
    );
    fails(
        &with_line(5, &format!("header = \"{}\"", &HEX_HEADER[..158])),
        5,
        "work.header",
        &["158"],
    );
    fails(
        &with_line(5, &format!("header = \"{HEX_HEADER}\"")),
        6,
        "work.seed",
        &["synthetic"],
    );
    fails(&with_line(6, "seed = -1"), 6, "work.seed", &["-1"]);
}

#[test]
fn names() {
    fails(
        &with_line(1, "name = \"a/b\""),
        1,
        "name",
        &["\"a/b\"", "letters"],
    );
    fails(
        &with_line(1, "name = \"\""),
        1,
        "name",
        &["not a valid name"],
    );
}

#[test]
fn missing_required_keys() {
    let err = fails(&with_line(1, ""), 1, "name", &["missing required key"]);
    assert!(matches!(err, ScenarioError::Missing { .. }), "{err}");
    // A key missing from a table points at the table.
    fails(&with_line(10, ""), 9, "matrix.backend", &["missing"]);
    fails(&with_line(11, ""), 9, "matrix.scheduler", &["missing"]);
    fails(&with_line(12, ""), 9, "matrix.threads", &["missing"]);
    fails(&with_line(7, ""), 4, "work.difficulty", &["missing"]);
    let no_matrix: String = BASE
        .lines()
        .filter(|l| !l.starts_with("backend") && !l.starts_with("scheduler"))
        .filter(|l| !l.starts_with("threads") && !l.starts_with("[matrix]"))
        .map(|l| format!("{l}\n"))
        .collect();
    fails(&no_matrix, 1, "matrix", &["missing"]);
}

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    let err = load_file(&path, &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert!(
        msg.starts_with(&format!("{}: cannot read: ", path.display())),
        "{msg}"
    );
    assert_eq!(err.line(), None);

    std::fs::write(&path, with_line(16, "samples = 0")).unwrap();
    let msg = load_file(&path, &opts()).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}:16: measure.samples: ", path.display())),
        "{msg}"
    );
    std::fs::write(&path, BASE).unwrap();
    assert_eq!(
        load_file(&path, &opts()).unwrap().source,
        path.display().to_string()
    );
}

#[test]
fn builtin_quick_loads_and_fits_ten_seconds() {
    let plan = builtin_quick(&opts());
    assert_eq!(plan.source, "built-in:quick");
    assert_eq!(plan.name, "quick");
    assert!(!plan.cases.is_empty());
    assert!(plan.profile.flamegraph);
    // The plan's own budget (not a timing measurement): warm-up plus samples for every case.
    let SampleSpec::DurationNs(sample_ns) = plan.measure.sample else {
        panic!("quick samples by duration");
    };
    let per_case_ns = plan.measure.warmup_ns + u64::from(plan.measure.samples) * sample_ns;
    let total_ns = per_case_ns * plan.cases.len() as u64;
    assert!(total_ns <= 8_000_000_000, "{total_ns} ns planned");
}

#[test]
fn every_shipped_scenario_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap();
        if stem == "gpu" && !cfg!(feature = "gpu") {
            // Without the feature the name is unknown: refused, saying which feature it needs.
            let err = load_file(&path, &opts()).unwrap_err().to_string();
            assert!(
                err.contains("gpu.toml:") && err.contains("--features gpu"),
                "{err}"
            );
            continue;
        }
        let plan = load_file(&path, &opts()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.name, stem, "{}", path.display());
        assert!(!plan.description.is_empty(), "{}", path.display());
        assert!(!plan.cases.is_empty(), "{}", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with('#'),
            "{} opens with a comment",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 6, "found {seen} scenarios in {}", dir.display());
}

#[test]
fn backends_scenario_lists_every_backend() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/backends.toml");
    let plan = load_file(&path, &opts()).unwrap();
    for &kind in BackendKind::ALL {
        assert!(
            plan.cases.iter().any(|c| c.backend == kind.name()),
            "scenarios/backends.toml lacks {kind}"
        );
    }
}

#[test]
fn skip_follows_availability() {
    // Whatever this machine lacks, a planned case is skipped exactly when its backend is.
    let text = with_line(
        10,
        &format!(
            "backend = [{}]",
            BackendKind::ALL
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let plan = load(&text).unwrap();
    for case in &plan.cases {
        assert_eq!(
            case.skip.is_some(),
            !BackendKind::from_name(&case.backend)
                .unwrap()
                .is_available(),
            "{case:?}"
        );
    }
}

#[test]
fn key_locator_for_syntax_errors() {
    assert_eq!(key_from_lines("a = 1\n[x]\nb = = 2\n", 3), "x.b");
    assert_eq!(key_from_lines("a = = 1\n", 1), "a");
    assert_eq!(key_from_lines("[[x]] # c\n!!\n", 2), "x");
    assert_eq!(key_from_lines("!!\n", 1), "(document)");
}

#[test]
fn names_and_labels_stay_short_enough_for_file_names() {
    let long = "n".repeat(65);
    fails(
        &with_line(1, &format!("name = \"{long}\"")),
        1,
        "name",
        &["65 characters is too long", "at most 64"],
    );
    assert!(load(&with_line(1, &format!("name = \"{}\"", "n".repeat(64)))).is_ok());
    let plan = load(&with_line(7, "difficulty = { share = 1e300 }")).unwrap();
    for case in &plan.cases {
        assert!(case.id.len() < 60, "{}", case.id);
        assert!(case.id.ends_with("/sd1e300"), "{}", case.id);
    }
}

#[test]
fn bytes_that_are_not_utf8_are_an_error_on_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    let mut bytes = with_line(2, "description = \"caf").into_bytes();
    let at = bytes.iter().position(|&b| b == b'f').unwrap() + 1;
    bytes.insert(at, 0xe9);
    std::fs::write(&path, &bytes).unwrap();
    let err = load_file(&path, &opts()).unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
}

#[test]
fn devices_and_oversized_files_are_refused_before_reading() {
    let err = load_file(Path::new("/dev/zero"), &opts()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/dev/zero: not a regular file (a character device)"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    let mut text = BASE.to_string();
    text.push_str(&"# padding\n".repeat(120_000));
    std::fs::write(&path, text).unwrap();
    let err = load_file(&path, &opts()).unwrap_err();
    assert!(
        err.to_string().contains("larger than the 1048576 bytes"),
        "{err}"
    );
}

/// BASE with line 10 (the backend list) replaced and an `[external.m]` table appended.
fn with_external(backends: &str, table: &str) -> String {
    format!("{}\n[external.m]\n{table}\n", with_line(10, backends))
}

#[test]
fn external_miners_plan_one_case_per_thread_count_with_their_own_scheduler() {
    let text = with_external(
        r#"backend = ["reference", "external:m"]"#,
        r#"command = ["./miner", "-o", "{pool_url}", "-t", "{threads}", "{{literal}}"]
version = ["./miner", "--version"]
startup_timeout = "3s"
env = { GODEBUG = "schedtrace=1000" }"#,
    );
    let plan = load(&text).unwrap();
    let ext: Vec<&Case> = plan
        .cases
        .iter()
        .filter(|c| c.backend == "external:m")
        .collect();
    // Two thread counts, one scheduler ("own") whatever the matrix lists.
    assert_eq!(ext.len(), 2);
    assert!(ext
        .iter()
        .all(|c| c.scheduler == EXTERNAL_SCHEDULER && c.skip.is_none()));
    assert_eq!(ext[0].id, "external:m/own/t1/zb20");
    let spec = &plan.external["m"];
    assert_eq!(spec.startup_timeout_ns, 3_000_000_000);
    assert_eq!(spec.stop_grace_ns, 2_000_000_000);
    assert_eq!(spec.user, "minebench");
    assert_eq!(spec.env["GODEBUG"], "schedtrace=1000");
    // The plan round-trips through JSON (it is stored in the report).
    let back: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn external_miner_errors_name_the_line_and_key() {
    let table_line = BASE.lines().count() + 2;
    fails(
        &with_external(r#"backend = ["external:nope"]"#, r#"command = ["x"]"#),
        10,
        "matrix.backend",
        &["external:nope", "[external.nope]", "tables given: m"],
    );
    fails(
        &with_external(
            r#"backend = ["external:m"]"#,
            r#"command = ["x", "{pool}"]"#,
        ),
        table_line + 1,
        "external.m.command",
        &["unknown placeholder {pool}", "{pool_url}"],
    );
    fails(
        &with_external(r#"backend = ["external:m"]"#, r#"command = []"#),
        table_line + 1,
        "external.m.command",
        &["must name a program"],
    );
    fails(
        &with_external(r#"backend = ["external:m"]"#, r#"version = ["x"]"#),
        table_line,
        "external.m.command",
        &["missing"],
    );
    fails(
        &with_external(
            r#"backend = ["external:m"]"#,
            "command = [\"x\"]\nstartup_timeout = \"soon\"",
        ),
        table_line + 2,
        "external.m.startup_timeout",
        &["soon"],
    );
    // Nonce-count samples cannot measure a miner whose hashes are not counted.
    let text = with_external(r#"backend = ["external:m"]"#, r#"command = ["x"]"#).replace(
        r#"sample = { duration = "500ms" }"#,
        "sample = { nonces = 1000 }",
    );
    fails(
        &text,
        17,
        "measure.sample",
        &["external miner", "durations"],
    );
}

#[test]
fn matrix_batch_sweeps_the_batch_size_one_case_each() {
    let text = BASE
        .replace(
            "threads = [1, 2]",
            "threads = [1, 2]\nbatch = [65536, 4096, 65536]",
        )
        .replace("batch = 4096\n", "");
    let plan = load(&text).expect("loads");
    assert_eq!(plan.matrix.batch, vec![65536, 4096, 65536]);
    // 2 backends × 2 schedulers × 2 thread counts × 2 distinct batches, batch innermost.
    assert_eq!(plan.cases.len(), 16);
    assert_eq!(plan.cases[0].id, "sha2-midstate/stride/t1/zb20/b65536");
    assert_eq!(plan.cases[1].id, "sha2-midstate/stride/t1/zb20/b4096");
    assert_eq!(plan.cases[1].batch, Some(4096));
    assert_eq!(plan.cases[1].batch_or(&plan.measure), 4096);
    // Without the axis, ids and batches are as before.
    let plain = load(BASE).expect("loads");
    assert_eq!(plain.cases[0].id, "sha2-midstate/stride/t1/zb20");
    assert_eq!(plain.cases[0].batch, None);
    assert_eq!(plain.cases[0].batch_or(&plain.measure), 4096);

    // Both places: the measure key is named, on its line.
    let both = BASE.replace("threads = [1, 2]", "threads = [1, 2]\nbatch = [4096]");
    let e = load(&both).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{FILE}:19: measure.batch:")) && e.contains("matrix.batch"),
        "{e}"
    );
    let empty = text.replace("batch = [65536, 4096, 65536]", "batch = []");
    let e = load(&empty).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{FILE}:13: matrix.batch:")), "{e}");
    let zero = text.replace("batch = [65536, 4096, 65536]", "batch = [4096, 0]");
    let e = load(&zero).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{FILE}:13: matrix.batch:")) && e.contains("got 0"),
        "{e}"
    );
}

#[test]
fn matrix_batch_table_sweeps_only_the_backends_it_names() {
    let text = BASE.replace(
        "threads = [1, 2]",
        "threads = [1]\nbatch = { reference = [1024, 1048576] }",
    );
    let plan = load(&text).expect("loads");
    let ids: Vec<&str> = plan.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "sha2-midstate/stride/t1/zb20",
            "sha2-midstate/atomic/t1/zb20",
            "reference/stride/t1/zb20/b1024",
            "reference/stride/t1/zb20/b1048576",
            "reference/atomic/t1/zb20/b1024",
            "reference/atomic/t1/zb20/b1048576",
        ]
    );
    // measure.batch stays the others'.
    assert_eq!(plan.cases[0].batch_or(&plan.measure), 4096);
    assert_eq!(plan.cases[3].batch_or(&plan.measure), 1048576);

    let stranger = BASE.replace(
        "threads = [1, 2]",
        "threads = [1]\nbatch = { reference = [1024], sha2 = [1] }",
    );
    let e = load(&stranger).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{FILE}:13: matrix.batch.sha2:"))
            && e.contains("not in matrix.backend"),
        "{e}"
    );
    let big = BASE.replace(
        "threads = [1, 2]",
        "threads = [1]\nbatch = { reference = [4294967297] }",
    );
    let e = load(&big).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{FILE}:13: matrix.batch.reference:")),
        "{e}"
    );
    let empty = BASE.replace(
        "threads = [1, 2]",
        "threads = [1]\nbatch = { reference = [] }",
    );
    let e = load(&empty).unwrap_err().to_string();
    assert!(e.contains("at least one batch size"), "{e}");
}
