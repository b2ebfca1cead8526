//! The machine fingerprint stored in every report: CPU model and the flags that matter for
//! SHA-256 backends, core count, OS and kernel, the compiler and build profile, the git commit,
//! and whether hardware performance counters can be read here.
//!
//! Owns: describing the machine. Must not: choose a backend from these flags — feature detection
//! for hashing lives in `pow::BackendKind` only; the flags here are a record for comparing
//! reports.

use std::fs;

use serde::{Deserialize, Serialize};

/// The `/proc/cpuinfo` flags the fingerprint records, in this order: the fingerprinted entries
/// of [`crate::pow::CPU_FEATURES`] (a compile-time check keeps the count right).
pub const FLAGS_OF_INTEREST: [&str; 6] = fingerprint_flags();

const fn fingerprint_flags() -> [&'static str; 6] {
    let all = &crate::pow::CPU_FEATURES;
    let mut out = [""; 6];
    let (mut i, mut n) = (0, 0);
    while i < all.len() {
        if all[i].fingerprinted {
            out[n] = all[i].proc_flag;
            n += 1;
        }
        i += 1;
    }
    assert!(
        n == out.len(),
        "FLAGS_OF_INTEREST's length must match CPU_FEATURES"
    );
    out
}

/// Where a report was measured. See [`Fingerprint::comparable_key`] for what must match
/// between two reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fingerprint {
    /// `model name` from `/proc/cpuinfo` ("unknown" if it cannot be read).
    pub cpu_model: String,
    /// The [`FLAGS_OF_INTEREST`] this CPU reports, in that order.
    pub cpu_flags: Vec<String>,
    /// Logical CPUs this process may use (`available_parallelism`: honours affinity masks and
    /// cgroup quotas, which is what a benchmark can actually use).
    pub logical_cores: usize,
    /// OS family and distribution, e.g. "linux (Debian GNU/Linux 12 (bookworm))".
    pub os: String,
    /// Kernel release (`/proc/sys/kernel/osrelease`), "unknown" if unreadable.
    pub kernel: String,
    /// `rustc --version` of the compiler that built this binary (from build.rs).
    pub rustc: String,
    /// "release" or "debug", from `cfg!(debug_assertions)`.
    pub build_profile: String,
    /// The commit this binary was built from, if built from a git checkout.
    pub git_commit: Option<String>,
    /// Whether the checkout had uncommitted changes at build time.
    pub git_dirty: Option<bool>,
    pub hostname: Option<String>,
    /// "available", or "unavailable: <why>" — from a `perf_event_open` probe for CPU cycles.
    pub hardware_counters: String,
    /// The crate under test when minebench runs as a library inside a user's bench (report v2;
    /// absent when minebench measures its own backends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// The GPU adapter the `gpu` backend opened (builds with the `gpu` feature, where an
    /// adapter opened; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuFacts>,
}

impl GpuFacts {
    /// One line for people: "name (API, type, driver …)", with "software adapter" where it is.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {}, driver {} {}{}){}",
            self.name,
            self.api,
            self.device_type,
            self.driver,
            self.driver_info,
            match (self.sm_clock_mhz, self.sm_clock_max_mhz) {
                (Some(now), Some(max)) => format!(", SM clock {now}/{max} MHz"),
                _ => String::new(),
            },
            if self.software {
                " - a software adapter: correct, not a GPU's speed"
            } else {
                ""
            }
        )
    }
}

/// What a GPU adapter says about itself (wgpu's adapter info), for `backends` and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuFacts {
    pub name: String,
    /// Vulkan, Metal, Dx12, Gl.
    pub api: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu (a software adapter such as lavapipe).
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    /// A software adapter (lavapipe, llvmpipe, WARP): correct, but not a GPU's speed.
    pub software: bool,
    /// The SM clock when the adapter was opened, and its maximum, in MHz: NVIDIA adapters,
    /// where `nvidia-smi` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_max_mhz: Option<u32>,
}

/// What is being benchmarked when it is not minebench itself: set through
/// `Registry::for_crate` / `with_commit`, recorded in every report's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub crate_name: String,
    pub crate_version: String,
    /// A revision the caller supplies (e.g. from its own build script or CI); `None` if not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The GPU adapter, if this process has opened one (never opens one itself).
fn opened_gpu() -> Option<GpuFacts> {
    #[cfg(feature = "gpu")]
    {
        crate::pow::gpu::opened()
    }
    #[cfg(not(feature = "gpu"))]
    {
        None
    }
}

impl Fingerprint {
    /// Describes this machine and binary. Never fails: what cannot be read is "unknown" or
    /// `None`.
    pub fn capture() -> Fingerprint {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let (cpu_model, cpu_flags) = parse_cpuinfo(&cpuinfo);
        let logical_cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or_else(|_| count_processors(&cpuinfo).max(1));
        let os = match fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| os_pretty_name(&t))
        {
            Some(name) => format!("{} ({name})", std::env::consts::OS),
            None => std::env::consts::OS.to_string(),
        };
        Fingerprint {
            cpu_model,
            cpu_flags,
            logical_cores,
            os,
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
            rustc: option_env!("MINEBENCH_RUSTC_VERSION")
                .unwrap_or("unknown")
                .to_string(),
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_string(),
            git_commit: option_env!("MINEBENCH_GIT_COMMIT").map(str::to_string),
            git_dirty: option_env!("MINEBENCH_GIT_DIRTY").map(|d| d == "true"),
            hostname: read_trimmed("/proc/sys/kernel/hostname"),
            hardware_counters: probe_hardware_counters(),
            subject: None,
            gpu: opened_gpu(),
        }
    }

    /// What must match for two reports to be comparable: CPU model, flags, logical cores and
    /// build profile. Deliberately not the git commit (comparing commits is the point), the
    /// hostname (identical cloud VMs have different names) or the kernel (patch updates).
    pub fn comparable_key(&self) -> String {
        format!(
            "cpu={}|flags={}|cores={}|profile={}",
            self.cpu_model,
            self.cpu_flags.join(","),
            self.logical_cores,
            self.build_profile
        )
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// The first `model name` and the [`FLAGS_OF_INTEREST`] present in the first `flags` line.
pub(crate) fn parse_cpuinfo(text: &str) -> (String, Vec<String>) {
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim())
        })
    };
    let model = value("model name")
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
        .to_string();
    let present: Vec<&str> = value("flags")
        .map(|f| f.split_whitespace().collect())
        .unwrap_or_default();
    let flags = FLAGS_OF_INTEREST
        .iter()
        .filter(|f| present.contains(f))
        .map(|f| f.to_string())
        .collect();
    (model, flags)
}

fn count_processors(cpuinfo: &str) -> usize {
    cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count()
}

/// `PRETTY_NAME` from os-release text, unquoted.
pub(crate) fn os_pretty_name(text: &str) -> Option<String> {
    let v = text
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))?
        .trim()
        .trim_matches('"');
    (!v.is_empty()).then(|| v.to_string())
}

/// The first 64 bytes of the kernel's `struct perf_event_attr` (`PERF_ATTR_SIZE_VER0`): the
/// kernel accepts this size from any caller, and libc does not define the struct.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttrV0 {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// Bit field: disabled (bit 0), exclude_kernel (bit 5), exclude_hv (bit 6), …
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_COUNT_HW_CPU_CYCLES: u64 = 0;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

/// Tries to open a CPU-cycles counter on the current thread and closes it straight away.
/// On the VMs this project runs on the kernel answers ENOENT (no PMU exposed to the guest).
fn probe_hardware_counters() -> String {
    let attr = PerfEventAttrV0 {
        type_: PERF_TYPE_HARDWARE,
        size: std::mem::size_of::<PerfEventAttrV0>() as u32,
        config: PERF_COUNT_HW_CPU_CYCLES,
        // disabled | exclude_kernel | exclude_hv: user-space-only counting is allowed at
        // perf_event_paranoid = 2, so a refusal means no PMU rather than missing privileges.
        flags: 1 | (1 << 5) | (1 << 6),
        ..PerfEventAttrV0::default()
    };
    // SAFETY: perf_event_open reads `size` bytes from `attr`, which points to a live,
    // initialised #[repr(C)] struct of exactly that size; pid 0 / cpu -1 / group -1 name the
    // calling thread on any CPU with no group. The returned fd is closed below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttrV0,
            0 as libc::pid_t,
            -1 as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd >= 0 {
        // SAFETY: `fd` was just returned by the kernel to us and is closed exactly once.
        unsafe { libc::close(fd as libc::c_int) };
        return "available".to_string();
    }
    let err = std::io::Error::last_os_error();
    let why = match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) => {
            "the kernel exposes no hardware PMU (typical of VMs)"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => "not permitted (see perf_event_paranoid)",
        Some(libc::ENOSYS) => "perf_event_open is not supported or is filtered",
        _ => "perf_event_open failed",
    };
    format!("unavailable: {why}: perf_event_open(PERF_COUNT_HW_CPU_CYCLES): {err}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_model_and_flags() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 9R14\n\
            flags\t\t: fpu sse4_1 sse4_2 avx2 sha_ni avx512f avx512vl\n\n\
            processor\t: 1\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu\n";
        let (model, flags) = parse_cpuinfo(text);
        assert_eq!(model, "AMD EPYC 9R14");
        // In FLAGS_OF_INTEREST order, and sse4_2 / avx512bw are not invented.
        assert_eq!(flags, ["sha_ni", "sse4_1", "avx2", "avx512f", "avx512vl"]);
        assert_eq!(count_processors(text), 2);
        assert_eq!(parse_cpuinfo("").0, "unknown");
    }

    #[test]
    fn os_release_pretty_name() {
        let t = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_pretty_name(t).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_pretty_name("NAME=x\n"), None);
    }

    #[test]
    fn capture_describes_this_machine() {
        let f = Fingerprint::capture();
        assert!(!f.cpu_model.is_empty());
        assert!(f.logical_cores >= 1);
        assert!(
            f.hardware_counters == "available" || f.hardware_counters.starts_with("unavailable: "),
            "{}",
            f.hardware_counters
        );
        assert!(f.build_profile == "debug" || f.build_profile == "release");
        assert!(f.rustc.starts_with("rustc "), "{}", f.rustc);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), f);
    }

    #[test]
    fn comparable_key_ignores_commit_host_and_kernel_but_not_cores() {
        let a = Fingerprint::capture();
        let mut b = a.clone();
        b.git_commit = Some("0000000000000000000000000000000000000000".into());
        b.git_dirty = Some(true);
        b.hostname = Some("elsewhere".into());
        b.kernel = "0.0.1".into();
        assert_eq!(a.comparable_key(), b.comparable_key());
        b.logical_cores += 1;
        assert_ne!(a.comparable_key(), b.comparable_key());
        let mut c = a.clone();
        c.build_profile = "other".into();
        assert_ne!(a.comparable_key(), c.comparable_key());
    }
}
