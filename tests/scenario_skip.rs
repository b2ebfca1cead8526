//! A backend hidden with `MINEBENCH_DISABLE` is planned as a skipped case, with the reason, not
//! dropped and not an error. Its own test binary: setting the variable cannot race other tests.

use minebench::scenario::{load_str, PlanOptions};

#[test]
fn unavailable_backend_is_planned_as_skipped() {
    std::env::set_var(minebench::pow::DISABLE_ENV, "sha2");
    let text = r#"
name = "skip"
[work]
difficulty = { zero_bits = 8 }
[matrix]
backend = ["sha2", "reference"]
scheduler = ["atomic"]
threads = [1]
"#;
    let plan = load_str(
        text,
        "skip.toml",
        &PlanOptions::detect(&minebench::Registry::builtin()),
    )
    .unwrap();
    assert_eq!(plan.cases.len(), 2);
    let sha2 = &plan.cases[0];
    assert_eq!(sha2.backend, "sha2");
    let reason = sha2.skip.as_deref().expect("sha2 is disabled");
    assert!(reason.contains("MINEBENCH_DISABLE"), "{reason}");
    assert_eq!(plan.cases[1].backend, "reference");
    assert_eq!(plan.cases[1].skip, None);
}
