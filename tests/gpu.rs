//! The `gpu` backend (cargo feature `gpu`) against the reference, on whatever adapter this
//! machine has: a real GPU, or lavapipe (Mesa's software Vulkan) in CI. Without an adapter the
//! tests say so and pass, unless `MINEBENCH_REQUIRE_GPU=1` asks for one.
#![cfg(feature = "gpu")]

use minebench::pow::gpu;

fn with_gpu(f: impl FnOnce(&gpu::Gpu)) {
    match gpu::Gpu::open() {
        Ok(g) => {
            eprintln!("gpu: {:?}", g.facts());
            f(&g)
        }
        Err(e) if gpu::required() => panic!("{}=1 but no GPU: {e}", gpu::REQUIRE_ENV),
        Err(e) => eprintln!("gpu test skipped: {e}"),
    }
}

#[test]
fn agrees_with_the_reference() {
    with_gpu(|g| minebench::testing::cross_check(g));
}

#[test]
fn finds_real_mainnet_nonces() {
    with_gpu(|g| minebench::testing::mainnet_windows(g));
}

#[test]
fn facts_name_the_adapter() {
    with_gpu(|g| {
        let f = g.facts();
        assert!(!f.name.is_empty());
        assert!(
            ["Vulkan", "Metal", "Dx12", "Gl"].contains(&f.api.as_str()),
            "{f:?}"
        );
        // lavapipe/llvmpipe report a CPU device type: labelled software.
        assert_eq!(f.software, f.device_type == "Cpu", "{f:?}");
    });
}

#[test]
fn a_bad_feeding_setting_is_exit_2_naming_the_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_minebench"))
        .arg("backends")
        .env(gpu::IN_FLIGHT_ENV, "9")
        .output()
        .expect("minebench runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(gpu::IN_FLIGHT_ENV) && err.contains("1..=8"),
        "{err}"
    );
}
