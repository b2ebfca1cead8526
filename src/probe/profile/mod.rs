//! CPU sampling around a case's measured phase: collapsed stacks (the input of every
//! flamegraph), a pprof protobuf (for `go tool pprof`), and the hottest source lines.
//!
//! Owns: starting/stopping the sampler and turning its samples into those artefacts, from one
//! list of symbolised stacks so that the three always agree. Must not: draw (that is
//! `render::flamegraph`, which works from the folded text only) or decide when to profile
//! (that is `run/`).
//!
//! How it samples, and what that means for the numbers:
//! - `sampler` arms `ITIMER_PROF` (process CPU time) and records the interrupted thread in the
//!   SIGPROF handler. Samples therefore follow CPU time, not wall time: an idle thread gets
//!   none. The kernel checks CPU timers on scheduler ticks, so it delivers at most about one
//!   sample per tick per busy CPU (measured here: 997 Hz asked → ~250/s per busy thread).
//!   Samples are therefore *weighted*: a thread's samples share out the CPU time that thread
//!   used while sampled (its own CPU clock, read in the handler; see `sampler::Aggregate`),
//!   and the report records the requested and the effective frequency. Folded counts stay sample counts (shares); the
//!   protobuf carries both `samples/count` and `cpu/nanoseconds`, whose total matches the
//!   threads' CPU time.
//! - Every sample keeps its own program counter and is symbolised per address, inline frames
//!   and line numbers included (`symbols`), so samples inside one inlined kernel spread over
//!   the helpers they really hit.
//! - Nothing is dropped quietly: libc frames stay, only the profiler's own signal frames are
//!   cut; a sample that cannot be unwound is kept under `[unknown]` and counted; a sample the
//!   ring had no room for is counted as dropped.
//! - The whole process is sampled, every thread: the root frame of each stack is the thread's
//!   name (truncated by Linux to 15 bytes) so workers can be told apart. The drain thread
//!   (`mb-profiler`) is sampled like any other: its cost is visible.
//! - Only one profiler can run per process (the timer and SIGPROF are process-wide): a second
//!   `start` while one runs fails with `ProbeError::Profiler`.

mod pb;
mod sampler;
mod symbols;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::ProbeError;
use sampler::{Aggregate, Sampler};
use symbols::Symbolizer;

/// Highest frequency we allow: the timer interval is `1e6 / f` µs, so 10 kHz is 100 µs,
/// already finer than the kernel checks CPU timers on most configurations.
pub const MAX_FREQUENCY_HZ: u32 = 10_000;

/// Hot lines kept per case in the report.
pub const HOT_LINES: usize = 20;

/// A running process-wide CPU profiler. Dropping it without [`Profiler::finish`] stops
/// sampling and discards the data.
pub struct Profiler {
    sampler: Sampler,
    requested_hz: u32,
    started: std::time::Instant,
    started_at_ns: i64,
}

/// One distinct stack of one thread, with what its samples stand for.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedStack {
    pub thread: String,
    pub tid: i32,
    /// Frames from the outermost caller to the sampled instruction's innermost inlined
    /// function (the thread name is not included). `[unknown]` right after the thread when
    /// the sample could not be unwound, `[truncated]` when the outermost callers are missing.
    pub frames: Vec<String>,
    pub samples: u64,
    /// CPU time of the thread these samples stand for.
    pub cpu_ns: u64,
}

/// A source line of this workspace and the CPU time spent on it (its own instructions, the
/// helpers inlined there from other crates, and calls made from it into code outside the
/// workspace, e.g. libc's memset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotLine {
    /// Relative to the crate root when inside it.
    pub file: String,
    pub line: u32,
    /// The workspace function that line belongs to (an inlined helper's name if inlined).
    pub function: String,
    pub samples: u64,
    pub cpu_ns: u64,
    /// Share of the CPU time of the threads looked at (the case's workers), 0..=1.
    pub share: f64,
    /// The line's text, trimmed, when the source file was readable at profiling time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// What one profiling session collected.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuProfile {
    /// Total samples kept (the sum of the counts in `folded`).
    pub samples: u64,
    /// Collapsed stacks ("root;frame;frame count\n" lines, inferno/Brendan Gregg format), thread
    /// name as the root frame, sorted lines, counts in samples. `;` inside a frame name (Rust's
    /// `[u8; 64]`) is written as `,` so it cannot split a frame.
    pub folded: String,
    /// pprof protobuf (profile.proto), uncompressed, openable by `go tool pprof`: sample types
    /// `samples/count` and `cpu/nanoseconds`, a `thread` label, line numbers and inline frames.
    pub pprof: Vec<u8>,
    /// The same samples, structured.
    pub stacks: Vec<WeightedStack>,
    /// The frequency asked for.
    pub requested_hz: u32,
    /// Samples per second of sampled CPU time actually taken (`samples / cpu_ns`).
    pub effective_hz: f64,
    /// CPU time the samples stand for (the sum of their weights).
    pub cpu_ns: u64,
    /// Samples kept under `[unknown]` because unwinding did not get past the signal frame.
    pub unknown_samples: u64,
    /// Samples whose stack was deeper than the sampler keeps (outermost callers cut).
    pub truncated_samples: u64,
    /// Samples lost because the ring was full (not in `samples`).
    pub dropped_samples: u64,
    /// The hottest workspace source lines of the focus threads, hottest first.
    pub hot_lines: Vec<HotLine>,
}

impl Profiler {
    /// Starts process-wide sampling at `frequency_hz` (1..=10000, else
    /// `ProbeError::Frequency`).
    pub fn start(frequency_hz: u32) -> Result<Profiler, ProbeError> {
        if !(1..=MAX_FREQUENCY_HZ).contains(&frequency_hz) {
            return Err(ProbeError::Frequency { hz: frequency_hz });
        }
        let started_at_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Ok(Profiler {
            sampler: Sampler::start(frequency_hz)?,
            requested_hz: frequency_hz,
            started: std::time::Instant::now(),
            started_at_ns,
        })
    }

    /// Stops and returns the collected profile, hot lines over every thread. Symbolisation
    /// happens here, so this takes a moment (longer the first time).
    pub fn finish(self) -> Result<CpuProfile, ProbeError> {
        self.finish_focused(&[])
    }

    /// As [`Profiler::finish`], with the hot lines taken over the threads `focus` only (a
    /// case's workers); all threads when `focus` is empty.
    pub fn finish_focused(self, focus: &[i32]) -> Result<CpuProfile, ProbeError> {
        let duration_ns = i64::try_from(self.started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let aggregate = self.sampler.stop()?;
        Ok(build(
            aggregate,
            Meta {
                requested_hz: self.requested_hz,
                time_nanos: self.started_at_ns,
                duration_ns,
            },
            focus,
        ))
    }
}

pub(super) struct Meta {
    pub requested_hz: u32,
    pub time_nanos: i64,
    pub duration_ns: i64,
}

/// Symbolises the aggregated address stacks once and derives every artefact from them.
fn build(aggregate: Aggregate, meta: Meta, focus: &[i32]) -> CpuProfile {
    let mut sym = Symbolizer::new();
    let mut pb = pb::Builder::new(&meta);
    let mut folded: BTreeMap<String, u64> = BTreeMap::new();
    let mut stacks = Vec::new();
    let mut lines: HashMap<(String, u32, String), (u64, u64)> = HashMap::new();
    let mut focus_cpu_ns = 0u64;
    let (mut samples, mut cpu_ns) = (0u64, 0u64);

    // A stable order (HashMap iteration is random): by thread, then addresses.
    let mut entries: Vec<_> = aggregate.stacks.into_iter().collect();
    entries.sort_by(|a, b| (a.0.tid, &a.0.ips).cmp(&(b.0.tid, &b.0.ips)));
    for (key, weight) in entries {
        let thread = aggregate
            .names
            .get(&key.tid)
            .cloned()
            .unwrap_or_else(|| key.tid.to_string());
        samples += weight.samples;
        cpu_ns += weight.cpu_ns;

        // Frames per address, innermost first, as symbolised.
        let per_addr: Vec<_> = key
            .ips
            .iter()
            .enumerate()
            .map(|(i, &ip)| (ip, i == 0, sym.frames(ip, i == 0)))
            .collect();

        let mut frames = Vec::new();
        if key.truncated {
            frames.push("[truncated]".to_string());
        }
        if !key.unwound {
            frames.push("[unknown]".to_string());
        }
        for (_, _, fs) in per_addr.iter().rev() {
            frames.extend(fs.iter().rev().map(|f| clean_frame(&f.name)));
        }
        let mut line = clean_frame(&thread);
        for f in &frames {
            line.push(';');
            line.push_str(f);
        }
        *folded.entry(line).or_default() += weight.samples;

        pb.add_sample(&mut sym, &per_addr, &key, &thread, weight);

        if focus.is_empty() || focus.contains(&key.tid) {
            focus_cpu_ns += weight.cpu_ns;
            // The innermost workspace frame anywhere in the stack, leaf side first.
            let own = per_addr.iter().flat_map(|(_, _, fs)| fs.iter()).find(|f| {
                f.file.as_deref().is_some_and(symbols::is_own_source) && f.line.is_some()
            });
            if let Some(f) = own {
                let k = (
                    f.file.clone().unwrap_or_default(),
                    f.line.unwrap_or(0),
                    f.name.clone(),
                );
                let e = lines.entry(k).or_default();
                e.0 += weight.samples;
                e.1 += weight.cpu_ns;
            }
        }
        stacks.push(WeightedStack {
            thread,
            tid: key.tid,
            frames,
            samples: weight.samples,
            cpu_ns: weight.cpu_ns,
        });
    }

    let mut folded_text = String::new();
    for (stack, count) in &folded {
        folded_text.push_str(stack);
        folded_text.push(' ');
        folded_text.push_str(&count.to_string());
        folded_text.push('\n');
    }
    let effective_hz = if cpu_ns > 0 {
        samples as f64 / (cpu_ns as f64 / 1e9)
    } else {
        0.0
    };
    CpuProfile {
        samples,
        folded: folded_text,
        pprof: pb.finish(&sym),
        stacks,
        requested_hz: meta.requested_hz,
        effective_hz,
        cpu_ns,
        unknown_samples: aggregate.unknown,
        truncated_samples: aggregate.truncated,
        dropped_samples: aggregate.dropped,
        hot_lines: hot_lines(lines, focus_cpu_ns, HOT_LINES),
    }
}

/// The `limit` hottest lines by CPU time, with their text when the file can be read.
fn hot_lines(
    lines: HashMap<(String, u32, String), (u64, u64)>,
    total_cpu_ns: u64,
    limit: usize,
) -> Vec<HotLine> {
    let mut v: Vec<_> = lines.into_iter().collect();
    v.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    let mut sources: HashMap<String, Option<Vec<String>>> = HashMap::new();
    v.into_iter()
        .map(|((file, line, function), (samples, cpu_ns))| {
            let text = sources.entry(file.clone()).or_insert_with(|| {
                std::fs::read_to_string(&file)
                    .ok()
                    .map(|t| t.lines().map(str::to_string).collect())
            });
            let code = text
                .as_ref()
                .and_then(|t| t.get((line as usize).checked_sub(1)?))
                .map(|l| l.trim().chars().take(160).collect::<String>())
                .filter(|l| !l.is_empty());
            HotLine {
                file: symbols::display_path(&file),
                line,
                function,
                samples,
                cpu_ns,
                share: if total_cpu_ns > 0 {
                    cpu_ns as f64 / total_cpu_ns as f64
                } else {
                    0.0
                },
                code,
            }
        })
        .collect()
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

/// One profiler runs per process, so tests anywhere in the crate that start one must not
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
    use pprof::protos::Message;
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
    fn clean_frame_names() {
        assert_eq!(clean_frame("f<[u8; 64]>"), "f<[u8, 64]>");
        assert_eq!(clean_frame(""), "[unknown]");
        assert_eq!(clean_frame("a\nb"), "a b");
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
        // Two values per sample (samples, CPU ns) whose CPU total is the profile's, and line
        // numbers on the locations.
        let cpu: i64 = decoded.sample.iter().map(|s| s.value[1]).sum();
        assert_eq!(cpu as u64, profile.cpu_ns);
        assert!(profile.cpu_ns > 0 && profile.effective_hz > 0.0);
        assert!(
            decoded
                .location
                .iter()
                .any(|l| l.line.iter().any(|line| line.line > 0)),
            "no line numbers in the .pb"
        );
        let structured: u64 = profile.stacks.iter().map(|s| s.samples).sum();
        assert_eq!(structured, profile.samples);

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
