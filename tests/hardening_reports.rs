//! Loaded reports and `merge-reports` driven through the binary: hardening of report loading.
//!
//! The fixture tests/data/compare-base.json is a real report (2 cases × 8 samples, see
//! tests/compare.rs).

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::minebench;

const FIXTURE: &str = "tests/data/compare-base.json";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    minebench().args(args).output().unwrap()
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
