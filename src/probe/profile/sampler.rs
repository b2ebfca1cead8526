//! The signal-handler half of the profiler: `ITIMER_PROF` raises `SIGPROF` on whichever thread
//! is burning CPU, and the handler records what that thread was doing into a fixed ring of
//! slots; a drain thread empties the ring into [`Aggregate`].
//!
//! Owns: the timer, the handler, the ring, and the first (raw, address-only) aggregation. Must
//! not: allocate, lock or symbolise inside the handler (it can interrupt a thread holding the
//! allocator's lock); name frames (that is `symbols`, after sampling stopped).
//!
//! What a sample holds, and why:
//! - the interrupted program counter, read from the signal's `ucontext`. It is the exact
//!   instruction the thread was at, so samples inside one big inlined kernel keep their own
//!   address (pprof-rs 0.15 merged them by function start address);
//! - the return addresses from unwinding (libgcc's `_Unwind_Backtrace`, `.eh_frame` based,
//!   through the `backtrace` crate as pprof-rs did). The first frames are this handler's own
//!   and the kernel's signal trampoline; everything before the frame whose address equals the
//!   interrupted PC is cut, and nothing else. A sample whose unwinding never reaches that frame
//!   is kept with its PC alone and counted as not unwound (`[unknown]`);
//! - the thread's own CPU clock at that moment. The differences between a thread's samples
//!   add up to the CPU time it used while sampled, which its samples then share out: that is
//!   what makes weights honest when the kernel delivers fewer signals than asked for;
//! - the thread id and name (`PR_GET_NAME`, one syscall).
//!
//! Nothing is filtered by library: a sample in libc (memset) keeps its frames. pprof-rs refused
//! to unwind from libc because the unwinder could deadlock on a lock the thread holds; glibc
//! ≥ 2.35 with GCC ≥ 12's libgcc finds unwind tables with `_dl_find_object`, which takes no
//! lock, so that risk is gone on the systems this runs on (Debian 12: glibc 2.36, GCC 12).

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::probe::ProbeError;

/// Return addresses kept per sample (the handler's own frames included, about 8).
pub(super) const MAX_DEPTH: usize = 128;
/// Slots in the ring (a power of two). 4096 slots of ~1 KiB; the drain thread empties it every
/// [`DRAIN_EVERY`], so it holds ~400 000 samples/s, far above what the kernel delivers.
const RING_SLOTS: usize = 4096;
const DRAIN_EVERY: Duration = Duration::from_millis(10);

/// One sample as the handler wrote it.
struct RawSample {
    tid: i32,
    name: [u8; 16],
    cpu_ns: u64,
    pc: usize,
    depth: usize,
    ips: [usize; MAX_DEPTH],
}

struct Slot {
    /// Vyukov bounded-queue sequence: `pos` free for the producer of `pos`, `pos + 1` written
    /// and ready for the consumer.
    seq: AtomicUsize,
    data: UnsafeCell<RawSample>,
}

/// A bounded multi-producer (signal handlers), single-consumer (the drain thread) queue. No
/// locks and no allocation on the producer side, so it is safe to use from a signal handler.
struct Ring {
    slots: Box<[Slot]>,
    head: AtomicUsize,
    tail: AtomicUsize,
}

// SAFETY: a slot's data is written only by the producer that claimed it (the sequence number
// hands out each position once) and read only by the single consumer after the producer's
// Release store of `pos + 1`; the sequence numbers order every access.
unsafe impl Sync for Ring {}

impl Ring {
    fn new() -> Ring {
        let slots = (0..RING_SLOTS)
            .map(|i| Slot {
                seq: AtomicUsize::new(i),
                data: UnsafeCell::new(RawSample {
                    tid: 0,
                    name: [0; 16],
                    cpu_ns: 0,
                    pc: 0,
                    depth: 0,
                    ips: [0; MAX_DEPTH],
                }),
            })
            .collect();
        Ring {
            slots,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// Empties the ring for a new session. Only while no handler and no consumer runs.
    fn reset(&self) {
        for (i, slot) in self.slots.iter().enumerate() {
            slot.seq.store(i, Ordering::Relaxed);
        }
        self.head.store(0, Ordering::Relaxed);
        self.tail.store(0, Ordering::Release);
    }

    /// Claims the next free position, or None when the ring is full.
    fn claim(&self) -> Option<usize> {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let seq = self.slots[pos % RING_SLOTS].seq.load(Ordering::Acquire);
            let diff = seq as isize - pos as isize;
            if diff == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Some(pos),
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                return None;
            } else {
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Hands the oldest written sample to `f`; false when there is none (empty, or the oldest
    /// claimed slot is still being written).
    fn pop(&self, f: impl FnOnce(&RawSample)) -> bool {
        let pos = self.tail.load(Ordering::Relaxed);
        let slot = &self.slots[pos % RING_SLOTS];
        if slot.seq.load(Ordering::Acquire) != pos + 1 {
            return false;
        }
        // SAFETY: the Acquire load saw the producer's Release of `pos + 1`, so the write is
        // complete, and no producer touches this slot again until we store `pos + RING_SLOTS`.
        f(unsafe { &*slot.data.get() });
        slot.seq.store(pos + RING_SLOTS, Ordering::Release);
        self.tail.store(pos + 1, Ordering::Relaxed);
        true
    }
}

static RING: OnceLock<Ring> = OnceLock::new();
/// The handler records only while this is set.
static ARMED: AtomicBool = AtomicBool::new(false);
/// Handlers running now; `stop` waits for zero before the ring is read for the last time.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// Samples the handler could not store (ring full). Reported, never silent.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// One sampler per process: the timer and the signal disposition are process-wide.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Samples with the same thread and the same address stack (after the handler's frames are
/// cut), leaf first: `ips[0]` is the interrupted PC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct StackKey {
    pub tid: i32,
    /// False when unwinding did not get past the signal frame: `ips` is then the PC alone.
    pub unwound: bool,
    /// True when the stack filled [`MAX_DEPTH`]: the outermost callers are missing.
    pub truncated: bool,
    pub ips: Vec<usize>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Weight {
    pub samples: u64,
    pub cpu_ns: u64,
}

/// What the drain thread built from the raw samples.
///
/// Weights: a thread's samples together stand for the CPU time the thread used from the start
/// (or its birth) to its last sample — the sum of the clock deltas between its samples — and
/// [`Aggregate::spread_weights`] shares that total out evenly over them ("thread CPU time ÷
/// samples"). Giving each sample its own delta would be as unbiased but noisier: the kernel
/// delivers process-timer signals at ticks, to whichever thread's tick finds the timer
/// expired, so per-sample deltas vary (4, 8, 12 ms…) without telling anything about the code.
#[derive(Debug, Default)]
pub(super) struct Aggregate {
    pub stacks: HashMap<StackKey, Weight>,
    /// Thread id → (CPU time its samples stand for, its sample count).
    thread_cpu: HashMap<i32, (u64, u64)>,
    /// Thread id → the last name seen for it.
    pub names: HashMap<i32, String>,
    /// Thread id → CPU clock at its latest sample (at the start for threads that existed then).
    last_cpu: HashMap<i32, u64>,
    pub samples: u64,
    pub unknown: u64,
    pub truncated: u64,
    pub dropped: u64,
}

impl Aggregate {
    fn add(&mut self, raw: &RawSample) {
        let mut depth = raw.depth.min(MAX_DEPTH);
        // The unwinder ends a thread's stack with a null return address (past `clone3` /
        // `_start`): not a frame.
        while depth > 0 && raw.ips[depth - 1] == 0 {
            depth -= 1;
        }
        let ips = &raw.ips[..depth];
        let (unwound, ips) = match ips.iter().position(|&ip| raw.pc != 0 && ip == raw.pc) {
            Some(i) => (true, ips[i..].to_vec()),
            None => (
                false,
                if raw.pc != 0 {
                    vec![raw.pc]
                } else {
                    Vec::new()
                },
            ),
        };
        let truncated = unwound && depth == MAX_DEPTH;
        let previous = self.last_cpu.insert(raw.tid, raw.cpu_ns).unwrap_or(0);
        let weight = raw.cpu_ns.saturating_sub(previous);
        let name_len = raw
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(raw.name.len());
        if name_len > 0 && !self.names.contains_key(&raw.tid) {
            let name = String::from_utf8_lossy(&raw.name[..name_len]).into_owned();
            self.names.insert(raw.tid, name);
        }
        self.samples += 1;
        self.unknown += u64::from(!unwound);
        self.truncated += u64::from(truncated);
        let w = self
            .stacks
            .entry(StackKey {
                tid: raw.tid,
                unwound,
                truncated,
                ips,
            })
            .or_default();
        w.samples += 1;
        let t = self.thread_cpu.entry(raw.tid).or_default();
        t.0 += weight;
        t.1 += 1;
    }

    /// Sets every stack's `cpu_ns` to its share of its thread's CPU time, in proportion to its
    /// samples; the stacks of a thread add up to that thread's time exactly.
    pub fn spread_weights(&mut self) {
        let mut keys: Vec<StackKey> = self.stacks.keys().cloned().collect();
        keys.sort_by(|a, b| (a.tid, &a.ips, a.unwound).cmp(&(b.tid, &b.ips, b.unwound)));
        let mut seen: HashMap<i32, u64> = HashMap::new();
        for key in keys {
            let Some(&(cpu, n)) = self.thread_cpu.get(&key.tid) else {
                continue;
            };
            let Some(w) = self.stacks.get_mut(&key) else {
                continue;
            };
            let before = seen.entry(key.tid).or_default();
            let after = *before + w.samples;
            let at = |k: u64| (u128::from(cpu) * u128::from(k) / u128::from(n.max(1))) as u64;
            w.cpu_ns = at(after) - at(*before);
            *before = after;
        }
    }
}

/// A running sampler: the armed timer plus the drain thread.
pub(super) struct Sampler {
    stop: Arc<AtomicBool>,
    drain: Option<JoinHandle<Aggregate>>,
}

impl Sampler {
    /// Installs the handler, arms `ITIMER_PROF` at `frequency_hz` and starts draining.
    pub fn start(frequency_hz: u32) -> Result<Sampler, ProbeError> {
        if RUNNING
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(ProbeError::Profiler(
                "another profiler is already running in this process (the interval timer and \
                 SIGPROF are process-wide)"
                    .into(),
            ));
        }
        match Self::start_running(frequency_hz) {
            Ok(s) => Ok(s),
            Err(e) => {
                disarm();
                RUNNING.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    fn start_running(frequency_hz: u32) -> Result<Sampler, ProbeError> {
        let ring = RING.get_or_init(Ring::new);
        ring.reset();
        DROPPED.store(0, Ordering::SeqCst);

        // Threads that exist now: their first sample stands for CPU used since this moment,
        // not since the thread began.
        let mut aggregate = Aggregate::default();
        for tid in own_tids() {
            if let Some(ns) = crate::probe::threads::thread_cpu_time_ns(tid) {
                aggregate.last_cpu.insert(tid, ns);
            }
        }
        // The unwinder and the `backtrace` crate initialise lazily; do it here, not in the
        // first signal handler.
        backtrace::trace(|_| true);

        install_handler()?;
        let stop = Arc::new(AtomicBool::new(false));
        let drain_stop = Arc::clone(&stop);
        let drain = std::thread::Builder::new()
            .name("mb-profiler".into())
            .spawn(move || {
                loop {
                    let stopping = drain_stop.load(Ordering::SeqCst);
                    while ring.pop(|raw| aggregate.add(raw)) {}
                    if stopping {
                        break;
                    }
                    std::thread::sleep(DRAIN_EVERY);
                }
                aggregate
            })
            .map_err(|e| ProbeError::Profiler(format!("cannot start the drain thread: {e}")))?;
        ARMED.store(true, Ordering::SeqCst);
        if let Err(e) = set_timer(frequency_hz) {
            ARMED.store(false, Ordering::SeqCst);
            stop.store(true, Ordering::SeqCst);
            let _ = drain.join();
            return Err(e);
        }
        Ok(Sampler {
            stop,
            drain: Some(drain),
        })
    }

    /// Stops the timer, waits for running handlers, drains what is left and returns it.
    pub fn stop(mut self) -> Result<Aggregate, ProbeError> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<Aggregate, ProbeError> {
        disarm();
        self.stop.store(true, Ordering::SeqCst);
        let result = match self.drain.take() {
            Some(h) => h
                .join()
                .map_err(|_| ProbeError::Profiler("the drain thread panicked".into())),
            None => Err(ProbeError::Profiler(
                "the sampler was already stopped".into(),
            )),
        };
        RUNNING.store(false, Ordering::SeqCst);
        result.map(|mut a| {
            a.dropped = DROPPED.load(Ordering::SeqCst);
            a.spread_weights();
            a
        })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        if self.drain.is_some() {
            let _ = self.shut_down();
        }
    }
}

/// Stops the timer and the handler's recording, then waits until no handler runs. A signal
/// still pending afterwards finds `SIGPROF` ignored.
fn disarm() {
    let zero = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
    };
    // SAFETY: setitimer reads `zero`, a valid itimerval, and writes nothing (null old value).
    unsafe { libc::setitimer(libc::ITIMER_PROF, &zero, std::ptr::null_mut()) };
    ARMED.store(false, Ordering::SeqCst);
    // A handler that entered before ARMED fell may still be writing a slot; one that enters
    // later sees ARMED false (both sides use SeqCst) and touches nothing.
    while IN_HANDLER.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
    // SAFETY: SIG_IGN is a valid disposition for SIGPROF; the old action is not needed.
    unsafe { libc::signal(libc::SIGPROF, libc::SIG_IGN) };
}

fn install_handler() -> Result<(), ProbeError> {
    // SAFETY: an all-zero sigaction is a valid starting value (empty mask, no flags).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigprof as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `action` is fully initialised and its handler has the SA_SIGINFO signature.
    let rc = unsafe { libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(ProbeError::Profiler(format!(
            "cannot install the SIGPROF handler: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

fn set_timer(frequency_hz: u32) -> Result<(), ProbeError> {
    let interval_us = (1_000_000 / u64::from(frequency_hz.max(1))).max(1);
    let tv = libc::timeval {
        tv_sec: (interval_us / 1_000_000) as libc::time_t,
        tv_usec: (interval_us % 1_000_000) as libc::suseconds_t,
    };
    let timer = libc::itimerval {
        it_interval: tv,
        it_value: tv,
    };
    // SAFETY: setitimer reads `timer`, a valid itimerval, and writes nothing.
    let rc = unsafe { libc::setitimer(libc::ITIMER_PROF, &timer, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(ProbeError::Profiler(format!(
            "cannot arm the profiling timer at {frequency_hz} Hz: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Thread ids of this process now.
fn own_tids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The profiler's own signal handler. Async-signal-safe: atomics, three syscalls
/// (`gettid`, `clock_gettime`, `prctl`) and libgcc's unwinder; no allocation, no lock.
extern "C" fn on_sigprof(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    uctx: *mut libc::c_void,
) {
    // SAFETY: `__errno_location` returns this thread's errno, valid for the thread's lifetime;
    // the interrupted code must find it unchanged.
    let errno = unsafe { *libc::__errno_location() };
    IN_HANDLER.fetch_add(1, Ordering::SeqCst);
    if ARMED.load(Ordering::SeqCst) {
        if let Some(ring) = RING.get() {
            record(ring, uctx);
        }
    }
    IN_HANDLER.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

fn record(ring: &Ring, uctx: *mut libc::c_void) {
    let pc = interrupted_pc(uctx);
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the calling thread's CPU clock always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    let cpu_ns = (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64);
    let Some(pos) = ring.claim() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    // SAFETY: `claim` handed position `pos` to this handler alone; the consumer does not read
    // the slot until the Release store below.
    let sample = unsafe { &mut *ring.slots[pos % RING_SLOTS].data.get() };
    sample.tid = tid;
    sample.cpu_ns = cpu_ns;
    sample.pc = pc;
    sample.name = [0; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (the name and its NUL) into the buffer.
    unsafe { libc::prctl(libc::PR_GET_NAME, sample.name.as_mut_ptr()) };
    let mut depth = 0;
    // SAFETY: trace_unsynchronized is not reentrant-safe only against itself on this thread;
    // SIGPROF is blocked while its handler runs, so this thread runs one trace at a time, and
    // the closure neither allocates nor locks.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            if depth < MAX_DEPTH {
                sample.ips[depth] = frame.ip() as usize;
                depth += 1;
                true
            } else {
                false
            }
        })
    };
    sample.depth = depth;
    ring.slots[pos % RING_SLOTS]
        .seq
        .store(pos + 1, Ordering::Release);
}

/// The instruction the thread was at when the signal came, from the saved registers.
#[allow(unused_variables)]
fn interrupted_pc(uctx: *mut libc::c_void) -> usize {
    if uctx.is_null() {
        return 0;
    }
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let uc = uctx.cast::<libc::ucontext_t>();
        // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
        return unsafe { (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] } as usize;
    }
    #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
    {
        let uc = uctx.cast::<libc::ucontext_t>();
        // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
        return unsafe { (*uc).uc_mcontext.pc } as usize;
    }
    #[allow(unreachable_code)]
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(tid: i32, cpu_ns: u64, pc: usize, ips: &[usize]) -> RawSample {
        let mut s = RawSample {
            tid,
            name: *b"mb-worker-0\0\0\0\0\0",
            cpu_ns,
            pc,
            depth: ips.len(),
            ips: [0; MAX_DEPTH],
        };
        s.ips[..ips.len()].copy_from_slice(ips);
        s
    }

    #[test]
    fn handler_frames_are_cut_at_the_interrupted_pc_and_weights_share_the_thread_cpu() {
        let mut a = Aggregate::default();
        a.last_cpu.insert(7, 1_000);
        // Handler frames 1, 2 (and the trampoline 3), then the PC 100 and its callers, and the
        // null return address that ends a stack.
        a.add(&raw(7, 5_000, 100, &[1, 2, 3, 100, 200, 300, 0]));
        a.add(&raw(7, 9_000, 100, &[1, 2, 3, 100, 200, 300]));
        // Unwinding stopped in the trampoline: kept with the PC alone, counted.
        a.add(&raw(7, 10_000, 150, &[1, 2, 3]));
        // A thread born after the start: its whole CPU time counts.
        a.add(&raw(8, 2_500, 100, &[1, 100, 400]));
        assert_eq!(a.samples, 4);
        assert_eq!(a.unknown, 1);
        let key = |tid, unwound, ips: &[usize]| StackKey {
            tid,
            unwound,
            truncated: false,
            ips: ips.to_vec(),
        };
        // Thread 7 used 9 000 ns over its 3 samples, thread 8 2 500 ns over 1.
        a.spread_weights();
        assert_eq!(
            a.stacks[&key(7, true, &[100, 200, 300])],
            Weight {
                samples: 2,
                cpu_ns: 6_000
            }
        );
        assert_eq!(a.stacks[&key(7, false, &[150])].cpu_ns, 3_000);
        assert_eq!(a.stacks[&key(8, true, &[100, 400])].cpu_ns, 2_500);
        assert_eq!(a.names[&7], "mb-worker-0");
    }

    #[test]
    fn ring_hands_out_each_slot_once_and_reports_full() {
        let ring = Ring::new();
        let mut claimed = Vec::new();
        while let Some(p) = ring.claim() {
            // Publish as a handler would.
            ring.slots[p % RING_SLOTS]
                .seq
                .store(p + 1, Ordering::Release);
            claimed.push(p);
        }
        assert_eq!(claimed, (0..RING_SLOTS).collect::<Vec<_>>());
        let mut n = 0;
        while ring.pop(|_| n += 1) {}
        assert_eq!(n, RING_SLOTS);
        assert_eq!(
            ring.claim(),
            Some(RING_SLOTS),
            "slots are reused after a pop"
        );
        // Claimed but not yet written: the consumer waits for it.
        assert!(!ring.pop(|_| ()));
    }
}
