//! `gpu`: sha256d on a GPU through wgpu (a WGSL compute shader on Vulkan, Metal or DX12), behind
//! the cargo feature `gpu`. The shader is written out by [`shader::source`].
//!
//! The contract is every backend's: the host computes the midstate and the nonce-independent
//! words of the second block ([`Precomputed`]); each shader invocation hashes
//! [`Settings::per_invocation`] nonces and appends the index of each whose hash's top 32 bits
//! are at or below the target's to a candidate list; the host re-hashes every candidate in full
//! against the whole 256-bit target ([`Precomputed::confirm`]) and counts every nonce of the
//! range as hashed.
//!
//! A scan of a range is cut into dispatches of [`Settings::dispatch`] nonces, and up to
//! [`Settings::in_flight`] of them are submitted before the host waits for the oldest, so the
//! device has the next one queued while the host reads the last one back. The device drains
//! at the end of each scan (a backend call returns its hits), so the scenario's `batch` — a
//! scan's length — decides how often the device idles and, with it, the job-switch latency:
//! `scenarios/gpu.toml` sweeps it.
//!
//! Owns: the adapter and device (opened once per process and shared by every instance), the
//! shader, the dispatch and readback of a range, and the device's own probes
//! ([`DeviceStats`]: execution time per dispatch from the GPU's timestamps, submit-to-host
//! round trip, readback). Unlike the CPU backends it reads the host clock: the round trip and
//! the readback are host-side waits no one else can see. Must not: fall back to the CPU — no
//! adapter means "unavailable" with the reason (and an error under [`REQUIRE_ENV`]).

mod shader;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::precompute::Precomputed;
use super::{Availability, Backend, DeviceStats, Hit, NonceRange, Work};

/// The backend's name in scenarios and reports.
pub const NAME: &str = "gpu";
/// Set to `1` to make a missing or failing GPU an error instead of "unavailable" (for CI).
pub const REQUIRE_ENV: &str = "MINEBENCH_REQUIRE_GPU";
/// Nonces per dispatch ([`Settings::dispatch`]).
pub const DISPATCH_ENV: &str = "MINEBENCH_GPU_DISPATCH";
/// Dispatches in flight per scan ([`Settings::in_flight`]).
pub const IN_FLIGHT_ENV: &str = "MINEBENCH_GPU_IN_FLIGHT";
/// Nonces per shader invocation ([`Settings::per_invocation`]).
pub const PER_INVOCATION_ENV: &str = "MINEBENCH_GPU_PER_INVOCATION";

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WORKGROUP: u32 = 256;
/// Workgroups per dispatch dimension at most (every adapter allows 65535).
const MAX_GROUPS_X: u32 = 65535;
/// Candidate slots read back with the counter; more need a second copy.
const FIRST_READ: u64 = 64;
/// Bytes before the counter in a readback: the pass's two GPU timestamps.
const TS_BYTES: u64 = 16;
/// How long a wait for the device may last before the backend calls it lost.
const DEVICE_TIMEOUT: Duration = Duration::from_secs(120);

/// How the backend feeds the device. [`Settings::from_env`] reads them from the environment
/// (the H200 script sweeps them that way); every report's `device` block records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Nonces per dispatch (default 2^24: 65536 workgroups of 256 — milliseconds of work for a
    /// data-centre GPU, so the fixed cost of a submission is a small part of it).
    pub dispatch: u64,
    /// Dispatches submitted before the host waits for the oldest (default 3).
    pub in_flight: usize,
    /// Nonces each shader invocation hashes, one after the other (default 1).
    pub per_invocation: u32,
    /// Candidate slots per dispatch (default 2^20). A dispatch that finds more (only at
    /// difficulties where one nonce in 16 passes the top word) is hashed again in pieces of
    /// this many nonces, which cannot overflow; [`DeviceStats::overflows`] counts them.
    pub candidates: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            dispatch: 1 << 24,
            in_flight: 3,
            per_invocation: 1,
            candidates: 1 << 20,
        }
    }
}

impl Settings {
    /// The largest dispatch: 2^28 nonces (the candidate indices and the 2-D grid stay far from
    /// their u32 limits).
    pub const MAX_DISPATCH: u64 = 1 << 28;

    /// The defaults, with [`DISPATCH_ENV`], [`IN_FLIGHT_ENV`] and [`PER_INVOCATION_ENV`]
    /// applied where set; an error naming the variable and the range it takes.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Settings::from_env`] with the variables looked up by `var`.
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut s = Settings::default();
        if let Some(v) = int_var(&var, DISPATCH_ENV, 256, Settings::MAX_DISPATCH)? {
            s.dispatch = v;
        }
        if let Some(v) = int_var(&var, IN_FLIGHT_ENV, 1, 8)? {
            s.in_flight = v as usize;
        }
        if let Some(v) = int_var(&var, PER_INVOCATION_ENV, 1, 64)? {
            s.per_invocation = v as u32;
        }
        Ok(s)
    }

    fn check(&self) -> Result<(), String> {
        let ok = (1..=Settings::MAX_DISPATCH).contains(&self.dispatch)
            && (1..=8).contains(&self.in_flight)
            && (1..=64).contains(&self.per_invocation)
            && self.candidates >= 1;
        match ok {
            true => Ok(()),
            false => Err(format!("gpu settings out of range: {self:?}")),
        }
    }
}

fn int_var(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    lo: u64,
    hi: u64,
) -> Result<Option<u64>, String> {
    let Some(raw) = var(name) else {
        return Ok(None);
    };
    let t = raw.trim().replace('_', "");
    let parsed = match t.strip_prefix("2^") {
        Some(exp) => exp
            .parse::<u32>()
            .ok()
            .and_then(|e| 1u64.checked_shl(e).filter(|_| e < 64)),
        None => t.parse::<u64>().ok(),
    };
    match parsed {
        Some(v) if (lo..=hi).contains(&v) => Ok(Some(v)),
        _ => Err(format!(
            "{name}={raw:?}: expected an integer in {lo}..={hi} (or 2^N)"
        )),
    }
}

/// What the adapter says about itself, for `backends` and the reports.
pub use crate::probe::machine::GpuFacts as DeviceFacts;

/// The opened device, shared by every [`Gpu`] of the process.
struct Shared {
    facts: DeviceFacts,
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// The bind group layout every pipeline shares (so a slot serves any of them).
    layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    /// One pipeline per nonces-per-invocation count asked for, built on first use.
    pipelines: Mutex<Vec<(u32, wgpu::ComputePipeline)>>,
    /// Whether passes carry GPU timestamps (the adapter offers `TIMESTAMP_QUERY`).
    timestamps: bool,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
    /// Idle dispatch slots (buffers and bind group), taken by a scan and given back after.
    slots: Mutex<Vec<Slot>>,
}

/// The buffers one dispatch in flight needs.
struct Slot {
    /// Candidate capacity the buffers were made for.
    capacity: u32,
    params: wgpu::Buffer,
    out: wgpu::Buffer,
    readback: wgpu::Buffer,
    bind: wgpu::BindGroup,
    /// Timestamp queries and their resolve buffer, where the adapter has them.
    queries: Option<(wgpu::QuerySet, wgpu::Buffer)>,
}

static SHARED: OnceLock<Result<Arc<Shared>, String>> = OnceLock::new();

fn shared() -> &'static Result<Arc<Shared>, String> {
    SHARED.get_or_init(|| open().map(Arc::new))
}

/// The adapter's facts if this process has already opened it (never opens it).
pub fn opened() -> Option<DeviceFacts> {
    match SHARED.get() {
        Some(Ok(s)) => Some(s.facts.clone()),
        _ => None,
    }
}

/// Whether a GPU backend can run here, with the adapter's facts or the reason it cannot.
pub fn probe() -> Result<DeviceFacts, String> {
    shared()
        .as_ref()
        .map(|s| s.facts.clone())
        .map_err(Clone::clone)
}

/// [`Availability`] for the registry: the adapter opened, or why not.
pub fn availability() -> Availability {
    match probe() {
        Ok(_) => Availability::Available,
        Err(reason) => Availability::Unavailable(reason),
    }
}

/// Whether [`REQUIRE_ENV`] asks for a GPU.
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// NVIDIA's PCI vendor id: the adapters `nvidia-smi` can say more about.
const NVIDIA: u32 = 0x10de;

fn open() -> Result<Shared, String> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
    });
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .map_err(|e| format!("no GPU adapter (wgpu: {e})"))?;
    let info = adapter.get_info();
    let software = info.device_type == wgpu::DeviceType::Cpu;
    let clocks = (info.vendor == NVIDIA && !software)
        .then(nvidia_smi_clocks)
        .flatten();
    let facts = DeviceFacts {
        name: info.name.clone(),
        api: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        software,
        sm_clock_mhz: clocks.map(|c| c.0),
        sm_clock_max_mhz: clocks.map(|c| c.1),
    };
    let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("minebench"),
        required_features: if timestamps {
            wgpu::Features::TIMESTAMP_QUERY
        } else {
            wgpu::Features::empty()
        },
        ..Default::default()
    }))
    .map_err(|e| format!("GPU adapter {} refused a device: {e}", facts.name))?;
    let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("sha256d"),
        entries: &[
            entry(0, wgpu::BufferBindingType::Uniform),
            entry(1, wgpu::BufferBindingType::Storage { read_only: false }),
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("sha256d"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let period_ns = f64::from(queue.get_timestamp_period());
    let shared = Shared {
        facts,
        device,
        queue,
        layout,
        pipeline_layout,
        pipelines: Mutex::new(Vec::new()),
        timestamps,
        period_ns,
        slots: Mutex::new(Vec::new()),
    };
    // The default pipeline now, so a shader the driver refuses shows as "unavailable" here
    // rather than as a failed case.
    shared.pipeline(Settings::default().per_invocation)?;
    Ok(shared)
}

/// The SM clock now and its maximum, in MHz, from `nvidia-smi` (None where it does not answer
/// within 5 s). The first GPU's: wgpu does not say which PCI device an adapter is.
pub fn nvidia_smi_clocks() -> Option<(u32, u32)> {
    let mut child = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=clocks.sm,clocks.max.sm",
            "--format=csv,noheader,nounits",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut text).ok()?;
    parse_smi_clocks(&text)
}

/// `"1980, 1980"` (the first line) → (1980, 1980).
fn parse_smi_clocks(text: &str) -> Option<(u32, u32)> {
    let mut it = text
        .lines()
        .next()?
        .split(',')
        .map(|f| f.trim().parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(now)), Some(Ok(max))) => Some((now, max)),
        _ => None,
    }
}

/// The uniform block's size: 5 vec4 + 8 u32 (see [`shader::source`]).
const PARAMS_BYTES: usize = 112;

impl Shared {
    /// The pipeline for `per_invocation` nonces per invocation (compiled once, then cached).
    fn pipeline(&self, per_invocation: u32) -> Result<wgpu::ComputePipeline, String> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = cache.iter().find(|(n, _)| *n == per_invocation) {
            return Ok(p.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("sha256d"),
                source: wgpu::ShaderSource::Wgsl(shader::source(per_invocation).into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("sha256d"),
                layout: Some(&self.pipeline_layout),
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(format!(
                "the sha256d shader ({per_invocation} nonce(s) per invocation) was refused: {e}"
            ));
        }
        cache.push((per_invocation, pipeline.clone()));
        Ok(pipeline)
    }

    fn slot(&self, capacity: u32) -> Slot {
        let mut idle = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = idle.iter().position(|s| s.capacity == capacity) {
            return idle.swap_remove(k);
        }
        drop(idle);
        let d = &self.device;
        let out_size = 4 * (1 + u64::from(capacity));
        let params = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params"),
            size: PARAMS_BYTES as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let out = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("candidates"),
            size: out_size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: TS_BYTES + out_size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("sha256d"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: out.as_entire_binding(),
                },
            ],
        });
        let queries = self.timestamps.then(|| {
            let set = d.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("pass time"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            });
            let resolve = d.create_buffer(&wgpu::BufferDescriptor {
                label: Some("pass time"),
                size: TS_BYTES,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            (set, resolve)
        });
        Slot {
            capacity,
            params,
            out,
            readback,
            bind,
            queries,
        }
    }

    fn give_back(&self, slots: impl IntoIterator<Item = Slot>) {
        let mut idle = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        idle.extend(slots);
    }
}

/// The GPU backend: a handle on the process's shared device, with its settings and what it
/// measured of the device since it was made.
pub struct Gpu {
    shared: Arc<Shared>,
    settings: Settings,
    pipeline: wgpu::ComputePipeline,
    stats: Mutex<Stats>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("device", &self.shared.facts)
            .field("settings", &self.settings)
            .finish()
    }
}

/// What [`Gpu`] accumulates for [`DeviceStats`].
struct Stats {
    dispatches: u64,
    nonces: u64,
    overflows: u64,
    execution: hdrhistogram::Histogram<u64>,
    round_trip: hdrhistogram::Histogram<u64>,
    readback: hdrhistogram::Histogram<u64>,
    execution_ns: f64,
    /// Earliest pass start and latest pass end seen, in timestamp ticks.
    span: Option<(u64, u64)>,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            dispatches: 0,
            nonces: 0,
            overflows: 0,
            execution: crate::probe::latency::new_histogram(),
            round_trip: crate::probe::latency::new_histogram(),
            readback: crate::probe::latency::new_histogram(),
            execution_ns: 0.0,
            span: None,
        }
    }
}

fn record(h: &mut hdrhistogram::Histogram<u64>, ns: u64) {
    let _ = h.record(ns.clamp(1, h.high()));
}

/// A dispatch submitted and not yet read back.
struct Pending {
    slot: Slot,
    /// Index in the range of its first nonce, and how many.
    first: u64,
    count: u32,
    submitted: Instant,
    index: wgpu::SubmissionIndex,
    /// Bytes of the readback mapped for it: timestamps, counter, first candidates.
    head: u64,
    mapped: std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
}

impl Gpu {
    /// The backend on this machine's GPU with the settings of the environment
    /// ([`Settings::from_env`]), or why there is none.
    pub fn open() -> Result<Gpu, String> {
        Gpu::open_with(Settings::from_env()?)
    }

    /// The backend with explicit settings.
    pub fn open_with(settings: Settings) -> Result<Gpu, String> {
        settings.check()?;
        let shared = shared().as_ref().map_err(Clone::clone)?;
        Ok(Gpu {
            pipeline: shared.pipeline(settings.per_invocation)?,
            shared: Arc::clone(shared),
            settings,
            stats: Mutex::new(Stats::new()),
        })
    }

    pub fn facts(&self) -> &DeviceFacts {
        &self.shared.facts
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// Candidate capacity of this backend's dispatches.
    fn capacity(&self) -> u32 {
        let most = self.settings.dispatch.min(u64::from(u32::MAX)) as u32;
        self.settings.candidates.min(most)
    }

    /// Submits `count` nonces of `range` from index `first` on `slot`.
    fn submit(
        &self,
        pre: &Precomputed,
        top: u32,
        range: NonceRange,
        first: u64,
        count: u32,
        slot: Slot,
    ) -> Pending {
        let s = &self.shared;
        let per = self.settings.per_invocation;
        let mut params = [0u32; PARAMS_BYTES / 4];
        params[..8].copy_from_slice(&pre.mid);
        params[8..16].copy_from_slice(&pre.s3);
        params[16..19].copy_from_slice(&pre.w);
        params[19] = top;
        params[20] = range.nth(first);
        params[21] = range.step();
        params[22] = count;
        params[23] = first as u32;
        params[24] = per;
        params[25] = slot.capacity;
        let bytes: Vec<u8> = params.iter().flat_map(|w| w.to_le_bytes()).collect();
        s.queue.write_buffer(&slot.params, 0, &bytes);
        s.queue.write_buffer(&slot.out, 0, &0u32.to_le_bytes());
        let mut enc = s
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        let invocations = count.div_ceil(per);
        let groups = invocations.div_ceil(WORKGROUP);
        let x = groups.min(MAX_GROUPS_X);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: slot.queries.as_ref().map(|(set, _)| {
                    wgpu::ComputePassTimestampWrites {
                        query_set: set,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    }
                }),
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &slot.bind, &[]);
            pass.dispatch_workgroups(x, groups.div_ceil(x), 1);
        }
        if let Some((set, resolve)) = &slot.queries {
            enc.resolve_query_set(set, 0..2, resolve, 0);
            enc.copy_buffer_to_buffer(resolve, 0, &slot.readback, 0, TS_BYTES);
        }
        let words = 1 + FIRST_READ
            .min(u64::from(count))
            .min(u64::from(slot.capacity));
        enc.copy_buffer_to_buffer(&slot.out, 0, &slot.readback, TS_BYTES, 4 * words);
        let head = TS_BYTES + 4 * words;
        let submitted = Instant::now();
        let index = s.queue.submit([enc.finish()]);
        // Mapping is asked for now: it completes with the submission.
        let (tx, mapped) = std::sync::mpsc::channel();
        slot.readback
            .slice(..head)
            .map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
        Pending {
            slot,
            first,
            count,
            submitted,
            index,
            head,
            mapped,
        }
    }

    /// Waits for `p`, appends its candidates' indices to `out`, and gives its slot back into
    /// `idle`. A dispatch whose candidates overflowed is hashed again in pieces.
    fn finish(
        &self,
        pre: &Precomputed,
        top: u32,
        range: NonceRange,
        p: Pending,
        idle: &mut Vec<Slot>,
        out: &mut Vec<u64>,
    ) -> Result<(), String> {
        let s = &self.shared;
        wait(&s.device, &p.index, &p.mapped)?;
        let t_ready = Instant::now();
        let words = take_words(&p.slot.readback, p.head)?;
        let t_read = Instant::now();
        let ts = (
            u64::from(words[0]) | u64::from(words[1]) << 32,
            u64::from(words[2]) | u64::from(words[3]) << 32,
        );
        let counter = &words[4..];
        let found = u64::from(counter[0]);
        if found > u64::from(p.count) {
            idle.push(p.slot);
            return Err(format!(
                "the shader reported {found} candidates for {} nonces",
                p.count
            ));
        }
        let mut extra = Duration::ZERO;
        let mut overflowed = false;
        if found > u64::from(p.slot.capacity) {
            // More candidates than slots: hash the dispatch again in pieces that cannot
            // overflow (a piece of `capacity` nonces has at most that many candidates).
            overflowed = true;
            let slot = p.slot;
            let mut piece_slot = Some(slot);
            let mut first = p.first;
            let end = p.first + u64::from(p.count);
            while first < end {
                let n = (end - first).min(u64::from(self.capacity())) as u32;
                let Some(slot) = piece_slot.take() else { break };
                let q = self.submit(pre, top, range, first, n, slot);
                let got = self.collect_small(q, &mut piece_slot, out)?;
                debug_assert!(got <= u64::from(n));
                first += u64::from(n);
            }
            if let Some(slot) = piece_slot {
                idle.push(slot);
            }
        } else if found > FIRST_READ {
            let t0 = Instant::now();
            let all = read_all(s, &p.slot, found)?;
            extra = t0.elapsed();
            out.extend(all.iter().map(|&i| u64::from(i)));
            idle.push(p.slot);
        } else {
            out.extend(counter[1..=found as usize].iter().map(|&i| u64::from(i)));
            idle.push(p.slot);
        }
        let mut st = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        st.dispatches += 1;
        st.nonces += u64::from(p.count);
        st.overflows += u64::from(overflowed);
        record(&mut st.round_trip, (t_read - p.submitted).as_nanos() as u64);
        record(
            &mut st.readback,
            ((t_read - t_ready) + extra).as_nanos() as u64,
        );
        if s.timestamps && ts.1 > ts.0 {
            let ns = (ts.1 - ts.0) as f64 * s.period_ns;
            st.execution_ns += ns;
            record(&mut st.execution, ns as u64);
            st.span = Some(match st.span {
                None => ts,
                Some((b, e)) => (b.min(ts.0), e.max(ts.1)),
            });
        }
        Ok(())
    }

    /// The candidates of a dispatch that cannot overflow (`count <= capacity`): appended to
    /// `out`, the slot put in `slot`. Returns how many.
    fn collect_small(
        &self,
        p: Pending,
        slot: &mut Option<Slot>,
        out: &mut Vec<u64>,
    ) -> Result<u64, String> {
        let s = &self.shared;
        wait(&s.device, &p.index, &p.mapped)?;
        let words = take_words(&p.slot.readback, p.head)?;
        let found = u64::from(words[4]);
        if found > u64::from(p.count) || found > u64::from(p.slot.capacity) {
            return Err(format!(
                "the shader reported {found} candidates for {} nonces",
                p.count
            ));
        }
        if found > FIRST_READ {
            let all = read_all(s, &p.slot, found)?;
            out.extend(all.iter().map(|&i| u64::from(i)));
        } else {
            out.extend(words[5..5 + found as usize].iter().map(|&i| u64::from(i)));
        }
        *slot = Some(p.slot);
        Ok(found)
    }

    /// The candidate indices (in `range`, from 0) of every nonce of `range` whose top word
    /// passes `top`, in no particular order.
    fn candidates(
        &self,
        pre: &Precomputed,
        top: u32,
        range: NonceRange,
    ) -> Result<Vec<u64>, String> {
        let capacity = self.capacity();
        let chunks = range.len().div_ceil(self.settings.dispatch);
        let depth = (self.settings.in_flight as u64).min(chunks).max(1) as usize;
        let mut idle: Vec<Slot> = (0..depth).map(|_| self.shared.slot(capacity)).collect();
        let mut pending: VecDeque<Pending> = VecDeque::with_capacity(depth);
        let mut out = Vec::new();
        let mut next = 0u64;
        let result = loop {
            while next < range.len() {
                let Some(slot) = idle.pop() else { break };
                let count = (range.len() - next).min(self.settings.dispatch) as u32;
                pending.push_back(self.submit(pre, top, range, next, count, slot));
                next += u64::from(count);
            }
            let Some(p) = pending.pop_front() else {
                break Ok(out);
            };
            if let Err(e) = self.finish(pre, top, range, p, &mut idle, &mut out) {
                break Err(e);
            }
        };
        // After an error the device is gone; the pending slots are dropped with it.
        if result.is_ok() {
            self.shared.give_back(idle);
        }
        result
    }
}

/// Waits until submission `index` is done and its readback mapped.
fn wait(
    device: &wgpu::Device,
    index: &wgpu::SubmissionIndex,
    mapped: &std::sync::mpsc::Receiver<Result<(), wgpu::BufferAsyncError>>,
) -> Result<(), String> {
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(index.clone()),
            timeout: Some(DEVICE_TIMEOUT),
        })
        .map_err(|e| format!("GPU poll failed: {e}"))?;
    // The map callback runs in a poll once its submission is done; poll until it has.
    let deadline = Instant::now() + DEVICE_TIMEOUT;
    loop {
        match mapped.try_recv() {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => return Err(format!("GPU readback failed: {e}")),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                return Err("GPU readback never completed".to_string())
            }
            Err(std::sync::mpsc::TryRecvError::Empty) if Instant::now() < deadline => {
                device
                    .poll(wgpu::PollType::Poll)
                    .map_err(|e| format!("GPU poll failed: {e}"))?;
                std::thread::yield_now();
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                return Err(format!(
                    "GPU readback not mapped after {} s",
                    DEVICE_TIMEOUT.as_secs()
                ))
            }
        }
    }
}

/// The first `bytes` of a mapped `buffer` as words; unmaps it.
fn take_words(buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u32>, String> {
    let words = {
        let view = buffer
            .slice(..bytes)
            .get_mapped_range()
            .map_err(|e| format!("GPU readback could not be mapped: {e}"))?;
        view.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    buffer.unmap();
    Ok(words)
}

/// All `found` candidate indices of a finished dispatch on `slot` (a second copy).
fn read_all(s: &Shared, slot: &Slot, found: u64) -> Result<Vec<u32>, String> {
    let bytes = 4 * (1 + found);
    let mut enc = s
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    enc.copy_buffer_to_buffer(&slot.out, 0, &slot.readback, TS_BYTES, bytes);
    let index = s.queue.submit([enc.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    let end = TS_BYTES + bytes;
    slot.readback
        .slice(..end)
        .map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
    wait(&s.device, &index, &rx)?;
    let words = take_words(&slot.readback, end)?;
    Ok(words[5..].to_vec())
}

impl Backend for Gpu {
    fn name(&self) -> &str {
        NAME
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let pre = Precomputed::new(work.header.as_bytes());
        let top = work.target.top_word();
        let indices = match self.candidates(&pre, top, range) {
            Ok(i) => i,
            // A device lost mid-run cannot be answered with a partial count: the case fails
            // with the reason (the worker's panic names the backend).
            Err(e) => panic!("gpu backend on {}: {e}", self.shared.facts.name),
        };
        let candidates: Vec<u32> = indices.iter().map(|&i| range.nth(i)).collect();
        pre.confirm(work, &candidates, hits);
        range.len()
    }

    fn device_stats(&self) -> Option<DeviceStats> {
        let st = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let s = &self.shared;
        let clocks = (!s.facts.software && s.facts.sm_clock_mhz.is_some())
            .then(nvidia_smi_clocks)
            .flatten();
        Some(DeviceStats {
            device: s.facts.name.clone(),
            dispatches: st.dispatches,
            nonces: st.nonces,
            dispatch_limit: self.settings.dispatch,
            in_flight: self.settings.in_flight as u32,
            nonces_per_invocation: self.settings.per_invocation,
            candidate_slots: self.capacity(),
            overflows: st.overflows,
            execution: s.timestamps.then(|| st.execution.clone()),
            round_trip: st.round_trip.clone(),
            readback: st.readback.clone(),
            execution_ns: s.timestamps.then_some(st.execution_ns as u64),
            span_ns: st.span.map(|(b, e)| ((e - b) as f64 * s.period_ns) as u64),
            no_timestamps: (!s.timestamps)
                .then(|| "the adapter offers no timestamp queries".to_string()),
            sm_clock_mhz: clocks.map(|c| c.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smi_clock_lines_parse() {
        assert_eq!(parse_smi_clocks("1980, 1980\n"), Some((1980, 1980)));
        assert_eq!(
            parse_smi_clocks("345, 1980\n1980, 1980\n"),
            Some((345, 1980))
        );
        assert_eq!(parse_smi_clocks("[N/A], 1980"), None);
        assert_eq!(parse_smi_clocks(""), None);
    }

    #[test]
    fn settings_from_the_environment_name_the_variable() {
        let vars = |list: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                list.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let s = Settings::from_vars(vars(&[
            (DISPATCH_ENV, "2^20"),
            (IN_FLIGHT_ENV, "2"),
            (PER_INVOCATION_ENV, "4"),
        ]))
        .expect("valid");
        assert_eq!((s.dispatch, s.in_flight, s.per_invocation), (1 << 20, 2, 4));
        assert_eq!(
            Settings::from_vars(vars(&[(DISPATCH_ENV, "16_777_216")])).map(|s| s.dispatch),
            Ok(1 << 24)
        );
        let e = Settings::from_vars(vars(&[(IN_FLIGHT_ENV, "9")])).unwrap_err();
        assert!(e.contains(IN_FLIGHT_ENV) && e.contains("1..=8"), "{e}");
        let e = Settings::from_vars(vars(&[(DISPATCH_ENV, "lots")])).unwrap_err();
        assert!(e.contains(DISPATCH_ENV), "{e}");
        assert!(Settings::from_vars(vars(&[(DISPATCH_ENV, "2^64")])).is_err());
        assert!(Settings::from_vars(vars(&[(PER_INVOCATION_ENV, "0")])).is_err());
        assert_eq!(Settings::from_vars(vars(&[])), Ok(Settings::default()));
    }

    /// Every feeding shape against the reference on the same work: small and odd dispatches,
    /// one or several in flight, several nonces per invocation, and a candidate list so small
    /// that dispatches overflow and are hashed again in pieces.
    #[test]
    fn every_setting_agrees_with_the_reference() {
        let shapes = [
            Settings {
                dispatch: 1000,
                in_flight: 1,
                per_invocation: 1,
                candidates: 1000,
            },
            Settings {
                dispatch: 4099,
                in_flight: 3,
                per_invocation: 3,
                candidates: 1 << 20,
            },
            Settings {
                dispatch: 1 << 14,
                in_flight: 2,
                per_invocation: 8,
                candidates: 7,
            },
        ];
        for settings in shapes {
            let g = match Gpu::open_with(settings) {
                Ok(g) => g,
                Err(e) if required() => panic!("{REQUIRE_ENV}=1 but no GPU: {e}"),
                Err(e) => {
                    eprintln!("gpu test skipped: {e}");
                    return;
                }
            };
            crate::testing::cross_check(&g);
            let st = g.device_stats().expect("a device backend reports stats");
            assert!(st.dispatches > 0);
            if settings.candidates == 7 {
                assert!(
                    st.overflows > 0,
                    "{settings:?}: the overflow path never ran"
                );
            }
            assert_eq!(st.nonces_per_invocation, settings.per_invocation);
        }
    }
}
