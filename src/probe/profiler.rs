//! CPU sampling around a case's measured phase with pprof-rs: collapsed stacks (the input of
//! every flamegraph) and a pprof protobuf (for `go tool pprof`).
//!
//! Owns: starting/stopping pprof and turning its report into those two artefacts. Must not:
//! draw (that is `render::flamegraph`, which works from the folded text only) or decide when to
//! profile (that is `run/`).
//!
//! How pprof samples, and what that means for the numbers:
//! - It arms `ITIMER_PROF` (process CPU time) and unwinds the interrupted thread in the SIGPROF
//!   handler. Samples therefore follow CPU time, not wall time: an idle thread gets none, and
//!   at `f` Hz a process busy on `n` cores gets about `n · f` samples per second — up to a
//!   limit: the kernel checks CPU timers on scheduler ticks, so it delivers at most about one
//!   sample per tick per busy CPU. Measured here (one busy thread, 1 s): 99 Hz → 94 samples,
//!   250 Hz → 235, 997 Hz → 231, 4999 Hz → 245. Compare profiles by sample *shares*, and do
//!   not read `samples / frequency` as CPU seconds above ~250 Hz.
//! - The whole process is sampled, every thread: the root frame of each stack is the thread's
//!   name (truncated by Linux to 15 bytes) so workers can be told apart.
//! - pprof's default unwinder (the `backtrace` crate, `.eh_frame` based) keeps the SHA-NI
//!   frames; its `frame-pointer` feature lost them, so it is not enabled.
//! - Only one profiler can run per process (pprof has a single global one): a second `start`
//!   while one runs fails with `ProbeError::Profiler`.

use std::collections::BTreeMap;

use pprof::protos::Message;

use super::ProbeError;

/// Highest frequency we allow: pprof's timer interval is `1e6 / f` µs, so 10 kHz is 100 µs,
/// already finer than the kernel checks CPU timers on most configurations.
pub const MAX_FREQUENCY_HZ: u32 = 10_000;

/// Libraries the signal handler refuses to unwind from: unwinding while the interrupted thread
/// holds a lock inside libc/libgcc/the vDSO can deadlock (the pprof-rs README's advice).
const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// A running process-wide CPU profiler. Dropping it without [`Profiler::finish`] stops
/// sampling and discards the data.
pub struct Profiler {
    guard: pprof::ProfilerGuard<'static>,
}

/// What one profiling session collected.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuProfile {
    /// Total samples taken (the sum of the counts in `folded`).
    pub samples: u64,
    /// Collapsed stacks ("root;frame;frame count\n" lines, inferno/Brendan Gregg format), thread
    /// name as the root frame, sorted lines. `;` inside a frame name (Rust's `[u8; 64]`) is
    /// written as `,` so it cannot split a frame.
    pub folded: String,
    /// pprof protobuf (profile.proto), uncompressed, openable by `go tool pprof`.
    pub pprof: Vec<u8>,
}

impl Profiler {
    /// Starts process-wide sampling at `frequency_hz` (1..=10000, else
    /// `ProbeError::Frequency`).
    pub fn start(frequency_hz: u32) -> Result<Profiler, ProbeError> {
        if !(1..=MAX_FREQUENCY_HZ).contains(&frequency_hz) {
            return Err(ProbeError::Frequency { hz: frequency_hz });
        }
        let hz = i32::try_from(frequency_hz)
            .expect("frequency was checked to be at most 10000, which fits in i32");
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(hz)
            .blocklist(&BLOCKLIST)
            .build()
            .map_err(|e| match e {
                pprof::Error::Running => ProbeError::Profiler(
                    "another profiler is already running in this process (pprof has a single \
                     global profiler)"
                        .into(),
                ),
                e => ProbeError::Profiler(format!("cannot start sampling at {hz} Hz: {e}")),
            })?;
        Ok(Profiler { guard })
    }

    /// Stops and returns the collected profile. Symbolization happens here, so this takes a
    /// moment (longer the first time, and with full debug info).
    pub fn finish(self) -> Result<CpuProfile, ProbeError> {
        // The report must be built while the guard lives: dropping it resets pprof's data.
        let report = self
            .guard
            .report()
            .build()
            .map_err(|e| ProbeError::Profiler(format!("cannot build the report: {e}")))?;
        drop(self.guard);

        let mut stacks: BTreeMap<String, u64> = BTreeMap::new();
        let mut samples = 0u64;
        for (frames, &count) in &report.data {
            let count = u64::try_from(count).unwrap_or(0);
            if count == 0 {
                continue;
            }
            samples += count;
            *stacks.entry(folded_stack(frames)).or_default() += count;
        }
        let mut folded = String::new();
        for (stack, count) in &stacks {
            folded.push_str(stack);
            folded.push(' ');
            folded.push_str(&count.to_string());
            folded.push('\n');
        }

        let profile = report
            .pprof()
            .map_err(|e| ProbeError::Profiler(format!("cannot encode the pprof protobuf: {e}")))?;
        Ok(CpuProfile {
            samples,
            folded,
            pprof: profile.encode_to_vec(),
        })
    }
}

/// One folded stack (without its count): thread name, then frames from the outermost caller
/// to the sampled instruction. The innermost frames are pprof's own signal handling
/// (`perf_signal_handler`, the unwinder and the kernel's signal trampoline); they are dropped
/// so every stack ends where the thread actually was.
fn folded_stack(frames: &pprof::Frames) -> String {
    // pprof stores frames leaf first and, within a frame, inlined functions innermost first.
    let names: Vec<Vec<String>> = frames
        .frames
        .iter()
        .map(|frame| frame.iter().map(|s| s.name()).collect())
        .collect();
    let skip = leaf_frames_to_skip(&names);
    let mut line = clean_frame(&frames.thread_name_or_id());
    for frame in names[skip..].iter().rev() {
        for name in frame.iter().rev() {
            line.push(';');
            line.push_str(&clean_frame(name));
        }
    }
    line
}

/// How many leaf-side frames belong to the profiler rather than the program: everything up to
/// and including the frame holding `perf_signal_handler`, plus the signal trampoline right
/// after it (`__restore_rt`, often unnamed). If the handler is not in the stack, none.
fn leaf_frames_to_skip(leaf_first: &[Vec<String>]) -> usize {
    let Some(handler) = leaf_first
        .iter()
        .position(|f| f.iter().any(|n| n.contains("perf_signal_handler")))
    else {
        return 0;
    };
    let mut skip = handler + 1;
    if let Some(next) = leaf_first.get(skip) {
        if next
            .iter()
            .all(|n| n.contains("__restore_rt") || n == "Unknown")
        {
            skip += 1;
        }
    }
    skip
}

/// A frame or thread name made safe for the folded format: `;` separates frames and a newline
/// ends the line, so neither may appear inside a name; an empty name would vanish.
fn clean_frame(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            ';' => ',',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    if cleaned.trim().is_empty() {
        "[unknown]".to_string()
    } else {
        cleaned
    }
}

/// pprof has one global profiler, so tests anywhere in the crate that start one must not
/// overlap: hold this guard for the whole test.
#[cfg(test)]
pub(crate) fn serial_test_guard() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that panicked while holding the lock leaves nothing to repair.
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The named SHA hot loop the profile must show.
    #[inline(never)]
    fn sha256_compress_loop(duration: Duration) -> [u32; 8] {
        let blocks = [[0x5au8; 64]; 64];
        let mut state = [0u32; 8];
        let start = Instant::now();
        while start.elapsed() < duration {
            sha2::block_api::compress256(std::hint::black_box(&mut state), &blocks);
        }
        state
    }

    #[test]
    fn frequency_out_of_range_is_rejected() {
        for hz in [0, 100_000] {
            match Profiler::start(hz) {
                Err(e @ ProbeError::Frequency { .. }) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains(&hz.to_string()) && msg.contains("1..=10000"),
                        "{msg}"
                    );
                }
                Err(e) => panic!("{hz} Hz: wrong error {e}"),
                Ok(_) => panic!("{hz} Hz was accepted"),
            }
        }
    }

    /// `run/` may start the profiler on one thread and finish it on another.
    #[test]
    fn profiler_is_send() {
        fn send<T: Send>() {}
        send::<Profiler>();
        send::<CpuProfile>();
    }

    #[test]
    fn clean_frame_and_skip() {
        assert_eq!(clean_frame("f<[u8; 64]>"), "f<[u8, 64]>");
        assert_eq!(clean_frame(""), "[unknown]");
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let stack = vec![
            s(&["backtrace::trace"]),
            s(&["pprof::profiler::perf_signal_handler"]),
            s(&["Unknown"]),
            s(&["sha2::compress", "sha2::compress256"]),
            s(&["main"]),
        ];
        assert_eq!(leaf_frames_to_skip(&stack), 3);
        assert_eq!(leaf_frames_to_skip(&stack[3..]), 0);
    }

    /// Symbols: the test (dev) profile already has full debug info (Cargo's default
    /// `debug = true`), and release has `debug = "line-tables-only"`; both are enough for the
    /// default unwinder to show the SHA-NI frames, including inlined ones (`x86_sha::compress`,
    /// `rounds4`; with line tables only, inlined names come without their module path). Nothing
    /// needed changing in Cargo.toml. Sampling has been reliable here, but on a busy machine
    /// the kernel delivers at most about one SIGPROF per scheduler tick per busy CPU (~250/s
    /// here, whatever the frequency asked for), so only `samples > 0` is asserted.
    #[test]
    fn profiles_a_named_sha_loop() {
        let _serial = serial_test_guard();
        let profiler = Profiler::start(997).unwrap();
        let worker = std::thread::Builder::new()
            .name("mb-worker-0".into())
            .spawn(|| sha256_compress_loop(Duration::from_millis(300)))
            .unwrap();
        std::hint::black_box(worker.join().unwrap());
        let profile = profiler.finish().unwrap();

        assert!(profile.samples > 0, "no samples: {profile:?}");
        let sum: u64 = profile
            .folded
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, profile.samples);
        let mut lines: Vec<&str> = profile.folded.lines().collect();
        let sorted = {
            let mut s = lines.clone();
            s.sort();
            s
        };
        assert_eq!(lines, sorted, "folded lines are sorted");

        let is_sha = |frame: &str| {
            let f = frame.to_lowercase();
            f.contains("compress") || f.contains("sha256")
        };
        let found = profile.folded.lines().any(|l| {
            l.starts_with("mb-worker-0;") && l.rsplit_once(' ').unwrap().0.split(';').any(is_sha)
        });
        if !found {
            lines.sort_by_key(|l| {
                std::cmp::Reverse(l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            });
            panic!(
                "no mb-worker-0 stack with a SHA frame; top stacks:\n{}",
                lines[..lines.len().min(20)].join("\n")
            );
        }

        let decoded = pprof::protos::Profile::decode(profile.pprof.as_slice()).unwrap();
        let pprof_samples: i64 = decoded.sample.iter().map(|s| s.value[0]).sum();
        assert!(pprof_samples > 0);
        assert_eq!(pprof_samples as u64, profile.samples);
        assert!(decoded.string_table.iter().any(|s| s == "mb-worker-0"));

        let svg = crate::render::flamegraph::flamegraph_svg(&profile.folded, "sha loop").unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        let sha_frame = profile
            .folded
            .lines()
            .filter(|l| l.starts_with("mb-worker-0;"))
            .flat_map(|l| l.rsplit_once(' ').unwrap().0.split(';'))
            .find(|f| is_sha(f))
            .unwrap();
        // The SVG escapes XML metacharacters in names (`<`, `>`, `&`), so look for the escaped
        // form.
        let escaped = sha_frame
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(svg.contains(&escaped), "{sha_frame} not in the SVG");

        // A second session in the same process works too (pprof's global is reset by finish).
        let again = Profiler::start(997).unwrap();
        let busy = Profiler::start(997);
        match busy {
            Err(ProbeError::Profiler(msg)) => assert!(msg.contains("already running"), "{msg}"),
            Err(e) => panic!("wrong error for a second concurrent start: {e}"),
            Ok(_) => panic!("a second concurrent start was accepted"),
        }
        again.finish().unwrap();
    }
}
