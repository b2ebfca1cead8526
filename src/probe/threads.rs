//! Per-thread scheduler statistics of a live thread of this process, read from
//! `/proc/self/task/<tid>/{stat,status,sched,schedstat}`: CPU time, context switches, migrations,
//! the last CPU and the time spent waiting on a runqueue.
//!
//! Owns: reading and parsing those files (the parsing is pure, on `&str`, so it is tested on
//! fixed text). Must not: spawn or pin threads (that is `sched/`), decide what an imbalance
//! means (that is `report/`).
//!
//! Counters the kernel does not expose (`sched` needs `CONFIG_SCHED_DEBUG`, `schedstat` needs
//! `CONFIG_SCHED_INFO`) come back as `None`, never as zero.

use std::fs;

use serde::{Deserialize, Serialize};

use super::ProbeError;

/// One reading of a thread's counters. Times are nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSample {
    pub tid: i32,
    /// User CPU time from `stat` field 14. The kernel reports it in clock ticks (usually 10 ms),
    /// so it is coarse: prefer [`ThreadSample::runtime_ns`] for CPU time when present.
    pub utime_ns: u64,
    /// System CPU time from `stat` field 15 (clock ticks, like `utime_ns`).
    pub stime_ns: u64,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    /// `se.nr_migrations` from `sched`: times the thread moved to another CPU.
    pub migrations: Option<u64>,
    /// `stat` field 39: the CPU the thread last ran on.
    pub last_cpu: Option<usize>,
    /// `schedstat` field 2: time spent runnable but waiting for a CPU.
    pub run_delay_ns: Option<u64>,
    /// CPU time (user + system) in ns from the thread's CPU-time clock, which is exact even
    /// while the thread runs; else `schedstat` field 1, which for a running thread lags by up to
    /// one scheduler tick.
    pub runtime_ns: Option<u64>,
}

/// The change of a thread's counters between two readings (`later − earlier`, saturating at 0
/// so a counter that went backwards — it should not — reads as no change rather than a huge
/// number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadDelta {
    pub tid: i32,
    /// CPU time: from `schedstat` (ns resolution) when both readings have it, else
    /// `utime + stime` (clock-tick resolution).
    pub cpu_ns: u64,
    pub utime_ns: u64,
    pub stime_ns: u64,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    pub migrations: Option<u64>,
    pub run_delay_ns: Option<u64>,
    /// The CPU the thread last ran on at the later reading.
    pub last_cpu: Option<usize>,
}

/// The kernel thread id of the calling thread (`gettid`).
pub fn current_tid() -> i32 {
    // SAFETY: gettid takes no arguments, cannot fail and touches no memory.
    unsafe { libc::gettid() }
}

impl ThreadSample {
    /// Reads the counters of thread `tid` of this process. `stat` and `status` are required;
    /// `sched` and `schedstat` are optional (their fields become `None`).
    pub fn capture(tid: i32) -> Result<ThreadSample, ProbeError> {
        Self::capture_at(&format!("/proc/self/task/{tid}"), tid, true)
    }

    /// Reads the counters of thread `tid` of another process `pid` (an external miner). CPU
    /// time comes from `schedstat` (a thread's CPU clock can only be read from its own
    /// process), else from `stat`'s ticks.
    pub fn capture_in(pid: i32, tid: i32) -> Result<ThreadSample, ProbeError> {
        Self::capture_at(&format!("/proc/{pid}/task/{tid}"), tid, false)
    }

    fn capture_at(dir: &str, tid: i32, own: bool) -> Result<ThreadSample, ProbeError> {
        let read = |name: &str| -> Result<String, ProbeError> {
            let path = format!("{dir}/{name}");
            fs::read_to_string(&path).map_err(|e| ProbeError::Unavailable {
                what: format!("per-thread stats ({path})"),
                reason: e.to_string(),
            })
        };
        let stat = parse_stat(&read("stat")?, ticks_per_sec())?;
        let status = parse_status(&read("status")?)?;
        // Optional files: a kernel without the config option (or a thread that exited between
        // the reads) gives None for their counters rather than failing the whole sample.
        let migrations = read("sched").ok().and_then(|t| parse_sched_migrations(&t));
        let schedstat = read("schedstat").ok().and_then(|t| parse_schedstat(&t));
        Ok(ThreadSample {
            tid,
            utime_ns: stat.utime_ns,
            stime_ns: stat.stime_ns,
            voluntary_ctxt_switches: status.voluntary,
            nonvoluntary_ctxt_switches: status.nonvoluntary,
            migrations,
            last_cpu: stat.last_cpu,
            run_delay_ns: schedstat.map(|s| s.run_delay_ns),
            runtime_ns: own
                .then(|| thread_cpu_time_ns(tid))
                .flatten()
                .or(schedstat.map(|s| s.runtime_ns)),
        })
    }

    /// `later − self`, counter by counter (saturating).
    pub fn delta(&self, later: &ThreadSample) -> ThreadDelta {
        let opt = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
        let utime_ns = later.utime_ns.saturating_sub(self.utime_ns);
        let stime_ns = later.stime_ns.saturating_sub(self.stime_ns);
        let cpu_ns = opt(self.runtime_ns, later.runtime_ns)
            .unwrap_or_else(|| utime_ns.saturating_add(stime_ns));
        ThreadDelta {
            tid: later.tid,
            cpu_ns,
            utime_ns,
            stime_ns,
            voluntary_ctxt_switches: later
                .voluntary_ctxt_switches
                .saturating_sub(self.voluntary_ctxt_switches),
            nonvoluntary_ctxt_switches: later
                .nonvoluntary_ctxt_switches
                .saturating_sub(self.nonvoluntary_ctxt_switches),
            migrations: opt(self.migrations, later.migrations),
            run_delay_ns: opt(self.run_delay_ns, later.run_delay_ns),
            last_cpu: later.last_cpu,
        }
    }
}

/// The clock id of thread `tid`'s CPU-time clock, as glibc's `pthread_getcpuclockid` builds it
/// (`MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)`: `~tid << 3 | PERTHREAD | SCHED`). Linux lets a
/// process read this clock for any of its own threads, by kernel tid, without a `pthread_t`.
pub(crate) fn thread_cpu_clock_id(tid: i32) -> libc::clockid_t {
    const CPUCLOCK_PERTHREAD_MASK: libc::clockid_t = 4;
    const CPUCLOCK_SCHED: libc::clockid_t = 2;
    ((!tid) << 3) | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED
}

/// CPU time of thread `tid` of this process, ns; `None` if the clock cannot be read (the
/// thread exited, or another process's tid).
/// CPU time (user + system) of thread `tid` of this process, in ns, from its CPU-time clock:
/// exact while the thread runs, about a microsecond to read. None if the thread is gone.
pub fn thread_cpu_time_ns(tid: i32) -> Option<u64> {
    if tid <= 0 {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes to it and reports
    // an unknown or foreign clock id with -1, which we check.
    let rc = unsafe { libc::clock_gettime(thread_cpu_clock_id(tid), &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u64::try_from(ts.tv_nsec).ok()?;
    Some(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}

/// Clock ticks per second for `stat`'s utime/stime (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf only reads a configuration value; it returns -1 on error, handled below.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// The fields of `/proc/<pid>/task/<tid>/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatFields {
    pub utime_ns: u64,
    pub stime_ns: u64,
    pub last_cpu: Option<usize>,
}

/// Parses a `stat` line. The second field is the command name in parentheses and may itself
/// contain spaces and parentheses (`(mb worker (1))`), so the fields are counted from the
/// *last* `)`, not by splitting the whole line on spaces.
pub(crate) fn parse_stat(text: &str, ticks_per_sec: u64) -> Result<StatFields, ProbeError> {
    let err = |reason: String| ProbeError::Parse {
        source_name: "stat".into(),
        reason,
    };
    let close = text
        .rfind(')')
        .ok_or_else(|| err("no ')' closing the command name".into()))?;
    // rest[0] is field 3 (state), so field N is rest[N - 3].
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> Result<u64, ProbeError> {
        let s = rest
            .get(n - 3)
            .ok_or_else(|| err(format!("field {n} missing ({} fields)", rest.len() + 2)))?;
        s.parse::<u64>()
            .map_err(|e| err(format!("field {n} = {s:?}: {e}")))
    };
    let tick_ns = 1_000_000_000 / ticks_per_sec.max(1);
    Ok(StatFields {
        utime_ns: field(14)?.saturating_mul(tick_ns),
        stime_ns: field(15)?.saturating_mul(tick_ns),
        // Old kernels end before field 39; treat that as unknown rather than an error.
        last_cpu: field(39).ok().and_then(|c| usize::try_from(c).ok()),
    })
}

/// Context-switch counts from `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusFields {
    pub voluntary: u64,
    pub nonvoluntary: u64,
}

/// Parses `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` from a `status` file.
pub(crate) fn parse_status(text: &str) -> Result<StatusFields, ProbeError> {
    let get = |key: &str| -> Result<u64, ProbeError> {
        let value = key_value(text, key, ':').ok_or_else(|| ProbeError::Parse {
            source_name: "status".into(),
            reason: format!("no {key} line"),
        })?;
        value.parse().map_err(|e| ProbeError::Parse {
            source_name: "status".into(),
            reason: format!("{key} = {value:?}: {e}"),
        })
    };
    Ok(StatusFields {
        voluntary: get("voluntary_ctxt_switches")?,
        nonvoluntary: get("nonvoluntary_ctxt_switches")?,
    })
}

/// `se.nr_migrations` from a `sched` file (`key   :   value` lines), if present.
pub(crate) fn parse_sched_migrations(text: &str) -> Option<u64> {
    key_value(text, "se.nr_migrations", ':')?.parse().ok()
}

/// The two times in a `schedstat` line: on-CPU time and runqueue wait, both ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SchedStat {
    pub runtime_ns: u64,
    pub run_delay_ns: u64,
}

/// Parses `schedstat` (`runtime_ns run_delay_ns timeslices`).
pub(crate) fn parse_schedstat(text: &str) -> Option<SchedStat> {
    let mut it = text.split_whitespace().map(|s| s.parse::<u64>().ok());
    Some(SchedStat {
        runtime_ns: it.next()??,
        run_delay_ns: it.next()??,
    })
}

/// The trimmed value of the first line whose key (before `sep`, trimmed) is exactly `key`.
fn key_value<'a>(text: &'a str, key: &str, sep: char) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(sep)?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// The thread ids of process `pid` (`/proc/<pid>/task`), sorted; empty when it is gone.
pub fn task_ids(pid: i32) -> Vec<i32> {
    let mut tids: Vec<i32> = fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// CPU time of every thread of process `pid` now alive, summed (ns, from `schedstat`; `stat`
/// ticks where that is missing). None when the process is gone.
pub fn process_cpu_ns(pid: i32) -> Option<u64> {
    let tids = task_ids(pid);
    if tids.is_empty() {
        return None;
    }
    let total = tids
        .iter()
        .filter_map(|&t| ThreadSample::capture_in(pid, t).ok())
        .map(|s| {
            s.runtime_ns
                .unwrap_or_else(|| s.utime_ns.saturating_add(s.stime_ns))
        })
        .sum();
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real stat line with the comm replaced by one that breaks naive splitting.
    const STAT: &str = "4242 (mb worker (1)) R 9984 9985 9985 0 -1 4194560 3750 44572 0 18 \
        250 7 32 9 20 0 1 0 54499 5124096 955 18446744073709551615 94003646218240 \
        94003647007645 140720924461408 0 0 0 65536 4 1132560123 1 0 0 17 1 0 0 0 0 0 \
        94003647240944 94003647289188 94003767345152 140720924470138 140720924470153 \
        140720924470153 140720924471274 0\n";

    #[test]
    fn stat_fields_are_counted_from_the_last_paren() {
        let s = parse_stat(STAT, 100).unwrap();
        assert_eq!(s.utime_ns, 250 * 10_000_000);
        assert_eq!(s.stime_ns, 7 * 10_000_000);
        assert_eq!(s.last_cpu, Some(1));
    }

    #[test]
    fn stat_with_a_close_paren_and_digits_in_comm() {
        // "(x) 1 2 3" inside the comm would shift every field if we split at the first ')'.
        let line = "7 (x) 1 2 3) S 1 7 7 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0 1 1 1 1 1 1 1 0 0 0 0 \
            0 0 0 0 0 17 3 0 0 0 0 0";
        let s = parse_stat(line, 100).unwrap();
        assert_eq!((s.utime_ns, s.stime_ns), (110_000_000, 220_000_000));
        assert_eq!(s.last_cpu, Some(3));
    }

    #[test]
    fn stat_errors_name_the_field() {
        let e = parse_stat("1 (a) S 1 2", 100).unwrap_err().to_string();
        assert!(e.contains("field 14"), "{e}");
        let e = parse_stat("no parens here", 100).unwrap_err().to_string();
        assert!(e.contains("')'"), "{e}");
        let bad = STAT.replace(" 250 7 ", " 250 x7 ");
        let e = parse_stat(&bad, 100).unwrap_err().to_string();
        assert!(e.contains("field 15"), "{e}");
    }

    #[test]
    fn status_sched_and_schedstat_parse() {
        let status = "Name:\tmb worker (1)\nState:\tR (running)\n\
            voluntary_ctxt_switches:\t91\nnonvoluntary_ctxt_switches:\t16\n";
        assert_eq!(
            parse_status(status).unwrap(),
            StatusFields {
                voluntary: 91,
                nonvoluntary: 16
            }
        );
        assert!(parse_status("Name:\tx\n").is_err());

        let sched = "bash (9985, #threads: 1)\n----\n\
            se.sum_exec_runtime                          :            42.689511\n\
            se.nr_migrations                             :                   17\n\
            nr_switches                                  :                  107\n";
        assert_eq!(parse_sched_migrations(sched), Some(17));
        assert_eq!(parse_sched_migrations("nr_switches : 3\n"), None);

        assert_eq!(
            parse_schedstat("42689511 13069850 107\n"),
            Some(SchedStat {
                runtime_ns: 42_689_511,
                run_delay_ns: 13_069_850
            })
        );
        assert_eq!(parse_schedstat("12\n"), None);
    }

    #[test]
    fn capture_current_thread_and_delta() {
        let tid = current_tid();
        assert!(tid > 0);
        let before = ThreadSample::capture(tid).unwrap();
        // Burn a little CPU so at least the ns-resolution runtime moves.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let after = ThreadSample::capture(tid).unwrap();
        let d = before.delta(&after);
        assert_eq!(d.tid, tid);
        assert!(after.runtime_ns >= before.runtime_ns);
        if before.runtime_ns.is_some() {
            assert!(d.cpu_ns > 0, "{before:?} {after:?}");
        }
        // Saturating: reversed order never underflows.
        let back = after.delta(&before);
        assert_eq!(back.voluntary_ctxt_switches, 0);
        assert_eq!(back.utime_ns, 0);
        assert_eq!(back.cpu_ns, 0);
    }

    /// CLOCK_THREAD_CPUTIME_ID of the calling thread, ns.
    fn own_cpu_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid timespec; the clock always exists on Linux.
        assert_eq!(
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
            0
        );
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    #[test]
    fn tid_cpu_clock_matches_the_own_thread_clock() {
        let tid = current_tid();
        let lo = own_cpu_ns();
        let mid = thread_cpu_time_ns(tid).expect("own thread's CPU clock is readable");
        let hi = own_cpu_ns();
        assert!(lo <= mid && mid <= hi, "{lo} {mid} {hi}");
        // Another thread's clock, read from here, only moves while that thread runs.
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tx.send((current_tid(), own_cpu_ns())).unwrap();
            done_rx.recv().unwrap();
            own_cpu_ns()
        });
        let (other, at_start) = rx.recv().unwrap();
        let seen = thread_cpu_time_ns(other).expect("a live thread of this process");
        done_tx.send(()).unwrap();
        let at_end = t.join().unwrap();
        assert!(
            at_start <= seen && seen <= at_end,
            "{at_start} {seen} {at_end}"
        );
        assert_eq!(thread_cpu_time_ns(-1), None);
    }

    #[test]
    fn capture_of_a_missing_thread_is_unavailable() {
        // Thread ids are positive, so -1 can never name a live task of this process.
        match ThreadSample::capture(-1) {
            Err(ProbeError::Unavailable { what, .. }) => assert!(what.contains("-1"), "{what}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}
