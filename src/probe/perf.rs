//! A CPU profile of another process (an external miner) from outside: `perf record -e
//! cpu-clock --call-graph dwarf -p PID`, the software clock event, which works in VMs without
//! hardware counters. `perf script` output is collapsed with inferno's perf collapser into the
//! same folded stacks as our own sampler writes, and those into a pprof protobuf, so `render`,
//! `compare` and `flame --diff` treat an external case like any other.
//!
//! When perf is missing, not permitted (`perf_event_paranoid`), or records nothing, the caller
//! gets the reason as an error string and records `profile: null` with it.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pprof::protos::{self, Message};

/// A running `perf record`.
pub struct PerfRecording {
    child: Child,
    data: PathBuf,
    started: Instant,
    frequency_hz: u32,
}

/// What a recording gave.
#[derive(Debug, Clone)]
pub struct PerfProfile {
    pub folded: String,
    pub pprof: Vec<u8>,
    pub samples: u64,
    pub frequency_hz: u32,
    pub duration: Duration,
}

impl PerfRecording {
    /// Starts sampling every thread of `pid` at `frequency_hz`, writing `data` (a scratch file).
    pub fn start(pid: i32, frequency_hz: u32, data: &Path) -> Result<PerfRecording, String> {
        use std::os::unix::process::CommandExt;
        let child = Command::new("perf")
            .args([
                "record",
                "-q",
                "-e",
                "cpu-clock",
                "--call-graph",
                "dwarf",
                "-F",
            ])
            .arg(frequency_hz.to_string())
            .arg("-p")
            .arg(pid.to_string())
            .arg("-o")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C at the terminal must not stop it before we do.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                format!("cannot run perf: {e} (install linux-perf for external flamegraphs)")
            })?;
        let mut rec = PerfRecording {
            child,
            data: data.to_path_buf(),
            started: Instant::now(),
            frequency_hz,
        };
        // perf refuses (paranoid level, no such pid) within a few milliseconds.
        std::thread::sleep(Duration::from_millis(100));
        if let Ok(Some(status)) = rec.child.try_wait() {
            return Err(format!(
                "perf record exited at once ({status}): {}",
                rec.stderr_tail()
            ));
        }
        Ok(rec)
    }

    fn stderr_tail(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut text);
        }
        tail(&text, 400)
    }

    /// Stops the recording (SIGINT, as a Ctrl-C would) and collapses what it wrote.
    pub fn finish(mut self) -> Result<PerfProfile, String> {
        let duration = self.started.elapsed();
        // SAFETY: kill only sends a signal to our own child, whose pid we hold un-reaped.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("perf record did not stop within 10 s of SIGINT".into());
                }
            }
        }
        let script = Command::new("perf")
            // No period field: each sample then counts 1, as in our own folded stacks.
            .args(["script", "-F", "comm,tid,time,event,ip,sym,dso", "-i"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run perf script: {e}"))?;
        let _ = std::fs::remove_file(&self.data);
        if script.stdout.is_empty() {
            return Err(format!(
                "perf recorded no samples: {}",
                tail(&String::from_utf8_lossy(&script.stderr), 400)
            ));
        }
        let folded = collapse(&script.stdout)?;
        let samples = folded_samples(&folded);
        if samples == 0 {
            return Err("perf recorded no samples of the miner".into());
        }
        Ok(PerfProfile {
            pprof: folded_to_pprof(&folded, self.frequency_hz, duration),
            folded,
            samples,
            frequency_hz: self.frequency_hz,
            duration,
        })
    }
}

impl Drop for PerfRecording {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `perf script` text to folded stacks (inferno's perf collapser), one `frames count` per line.
pub fn collapse(script: &[u8]) -> Result<String, String> {
    use inferno::collapse::perf::{Folder, Options};
    use inferno::collapse::Collapse;
    let mut opts = Options::default();
    opts.nthreads = 1;
    let mut out = Vec::new();
    Folder::from(opts)
        .collapse(script, &mut out)
        .map_err(|e| format!("cannot collapse perf script output: {e}"))?;
    String::from_utf8(out).map_err(|_| "collapsed stacks are not UTF-8".to_string())
}

/// Σ counts of folded lines.
pub fn folded_samples(folded: &str) -> u64 {
    folded
        .lines()
        .filter_map(|l| l.rsplit_once(' ')?.1.trim().parse::<u64>().ok())
        .sum()
}

/// A pprof protobuf (`go tool pprof` reads it) of folded stacks sampled at `frequency_hz`:
/// one function and location per frame name, values `samples/count` and `cpu/nanoseconds`.
pub fn folded_to_pprof(folded: &str, frequency_hz: u32, duration: Duration) -> Vec<u8> {
    let mut strings: Vec<String> = vec![String::new()];
    let mut ids: HashMap<String, i64> = HashMap::new();
    let mut intern = |s: &str, strings: &mut Vec<String>| -> i64 {
        if let Some(&i) = ids.get(s) {
            return i;
        }
        strings.push(s.to_string());
        let i = strings.len() as i64 - 1;
        ids.insert(s.to_string(), i);
        i
    };
    let period = 1_000_000_000 / i64::from(frequency_hz.max(1));
    let samples_t = intern("samples", &mut strings);
    let count_t = intern("count", &mut strings);
    let cpu_t = intern("cpu", &mut strings);
    let ns_t = intern("nanoseconds", &mut strings);
    let mut functions: Vec<protos::Function> = Vec::new();
    let mut locations: Vec<protos::Location> = Vec::new();
    let mut loc_of: HashMap<String, u64> = HashMap::new();
    let mut samples = Vec::new();
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(count) = count.trim().parse::<i64>() else {
            continue;
        };
        // Folded stacks are root first; pprof wants the leaf first.
        let mut location_id = Vec::new();
        for frame in stack.split(';').rev() {
            let id = match loc_of.get(frame) {
                Some(&id) => id,
                None => {
                    let id = locations.len() as u64 + 1;
                    let name = intern(frame, &mut strings);
                    functions.push(protos::Function {
                        id,
                        name,
                        system_name: name,
                        filename: 0,
                        start_line: 0,
                    });
                    locations.push(protos::Location {
                        id,
                        line: vec![protos::Line {
                            function_id: id,
                            line: 0,
                        }],
                        ..Default::default()
                    });
                    loc_of.insert(frame.to_string(), id);
                    id
                }
            };
            location_id.push(id);
        }
        samples.push(protos::Sample {
            location_id,
            value: vec![count, count * period],
            ..Default::default()
        });
    }
    let profile = protos::Profile {
        sample_type: vec![
            protos::ValueType {
                ty: samples_t,
                unit: count_t,
            },
            protos::ValueType {
                ty: cpu_t,
                unit: ns_t,
            },
        ],
        sample: samples,
        location: locations,
        function: functions,
        string_table: strings,
        duration_nanos: duration.as_nanos() as i64,
        period_type: Some(protos::ValueType {
            ty: cpu_t,
            unit: ns_t,
        }),
        period,
        ..Default::default()
    };
    let mut out = Vec::new();
    // Encoding into a Vec cannot fail (it grows as needed).
    let _ = profile.encode(&mut out);
    out
}

fn tail(text: &str, max: usize) -> String {
    let t = text.trim();
    if t.len() <= max {
        return t.to_string();
    }
    let mut start = t.len() - max;
    while !t.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &t[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "minerd 24122  7877.428783: cpu-clock: \n\
\t           2fd54 sha256d_ms_8way_avx2_main_loop1+0x7be (/tmp/minerd)\n\
\t            e6e1 scanhash_sha256d+0x1d61 (/tmp/minerd)\n\
\t            5777 miner_thread+0x907 (/tmp/minerd)\n\
\n\
minerd 24122  7877.429777: cpu-clock: \n\
\t           2f8ea sha256d_ms_8way_avx2_main_loop1+0x354 (/tmp/minerd)\n\
\t            e6e1 scanhash_sha256d+0x1d61 (/tmp/minerd)\n\
\t            5777 miner_thread+0x907 (/tmp/minerd)\n\
\n\
minerd 24123  7877.429800: cpu-clock: \n\
\t            9999 stratum_thread+0x10 (/tmp/minerd)\n\
\n";

    #[test]
    fn perf_script_collapses_to_folded_stacks_and_a_readable_pprof() {
        let folded = collapse(SCRIPT.as_bytes()).unwrap();
        assert!(
            folded
                .contains("minerd;miner_thread;scanhash_sha256d;sha256d_ms_8way_avx2_main_loop1 2"),
            "{folded}"
        );
        assert_eq!(folded_samples(&folded), 3);
        let pb = folded_to_pprof(&folded, 1000, Duration::from_secs(1));
        let p = protos::Profile::decode(pb.as_slice()).unwrap();
        let total: i64 = p.sample.iter().map(|s| s.value[0]).sum();
        assert_eq!(total, 3);
        let leaf = &p
            .sample
            .iter()
            .find(|s| s.value[0] == 2)
            .unwrap()
            .location_id[0];
        let f = &p.function[(*leaf - 1) as usize];
        assert_eq!(
            p.string_table[f.name as usize],
            "sha256d_ms_8way_avx2_main_loop1"
        );
        assert_eq!(p.sample[0].value[1], p.sample[0].value[0] * 1_000_000);
    }
}
