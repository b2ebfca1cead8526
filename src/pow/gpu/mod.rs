//! `gpu`: sha256d on a GPU through wgpu (a WGSL compute shader on Vulkan, Metal or DX12), behind
//! the cargo feature `gpu`. The shader is written out by [`shader::source`].
//!
//! The contract is every backend's: the host computes the midstate and the nonce-independent
//! words of the second block ([`Precomputed`]); each shader invocation hashes one nonce and
//! appends its index to a candidate list when the hash's top 32 bits are at or below the
//! target's; the host re-hashes every candidate in full against the whole 256-bit target
//! ([`Precomputed::confirm`]) and counts every nonce of the range as hashed.
//!
//! Owns: the adapter and device (opened once per process and shared by every instance), the
//! shader, the dispatch and readback of one range. Must not: fall back to the CPU — no adapter
//! means "unavailable" with the reason (and an error under [`REQUIRE_ENV`]).

mod shader;

use std::sync::{Arc, Mutex, OnceLock};

use super::precompute::Precomputed;
use super::{Availability, Backend, Hit, NonceRange, Work};

/// The backend's name in scenarios and reports.
pub const NAME: &str = "gpu";
/// Set to `1` to make a missing or failing GPU an error instead of "unavailable" (for CI).
pub const REQUIRE_ENV: &str = "MINEBENCH_REQUIRE_GPU";

/// Invocations per workgroup (the shader's `@workgroup_size`).
const WORKGROUP: u32 = 256;
/// Nonces per dispatch at most: 16384 workgroups (well under the 65535 per dimension every
/// adapter allows); the candidate buffer holds this many indices.
const CHUNK: u32 = 1 << 22;
/// Candidate slots read back with the counter; more need a second copy.
const FIRST_READ: u64 = 64;

/// What the adapter says about itself, for `backends` and the reports.
pub use crate::probe::machine::GpuFacts as DeviceFacts;

/// The opened device, shared by every [`Gpu`] of the process.
struct Shared {
    facts: DeviceFacts,
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    /// One dispatch at a time: the buffers are reused.
    buffers: Mutex<Buffers>,
}

struct Buffers {
    params: wgpu::Buffer,
    out: wgpu::Buffer,
    readback: wgpu::Buffer,
    bind: wgpu::BindGroup,
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
    let facts = DeviceFacts {
        name: info.name.clone(),
        api: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        software: info.device_type == wgpu::DeviceType::Cpu,
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("minebench"),
        ..Default::default()
    }))
    .map_err(|e| format!("GPU adapter {} refused a device: {e}", facts.name))?;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("sha256d"),
        source: wgpu::ShaderSource::Wgsl(shader::source().into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("sha256d"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let out_size = 4 * (1 + u64::from(CHUNK));
    let params = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("params"),
        size: PARAMS_BYTES as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("candidates"),
        size: out_size,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: out_size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("sha256d"),
        layout: &pipeline.get_bind_group_layout(0),
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
    Ok(Shared {
        facts,
        device,
        queue,
        pipeline,
        buffers: Mutex::new(Buffers {
            params,
            out,
            readback,
            bind,
        }),
    })
}

/// The uniform block's size: 5 vec4 + 4 u32 (see [`shader::source`]).
const PARAMS_BYTES: usize = 96;

/// The GPU backend: a handle on the process's shared device.
pub struct Gpu {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("device", &self.shared.facts)
            .finish()
    }
}

impl Gpu {
    /// The backend on this machine's GPU, or why there is none.
    pub fn open() -> Result<Gpu, String> {
        shared()
            .as_ref()
            .map(|s| Gpu {
                shared: Arc::clone(s),
            })
            .map_err(Clone::clone)
    }

    pub fn facts(&self) -> &DeviceFacts {
        &self.shared.facts
    }

    /// Indices (in `range`) of the nonces of `range[first .. first + count]` whose top word
    /// passes `top`.
    fn dispatch(
        &self,
        pre: &Precomputed,
        range: NonceRange,
        first: u64,
        count: u32,
        top: u32,
        out: &mut Vec<u64>,
    ) -> Result<(), String> {
        let s = &self.shared;
        let bufs = s.buffers.lock().unwrap_or_else(|e| e.into_inner());
        let mut params = [0u32; PARAMS_BYTES / 4];
        params[..8].copy_from_slice(&pre.mid);
        params[8..16].copy_from_slice(&pre.s3);
        params[16..19].copy_from_slice(&pre.w);
        params[19] = top;
        params[20] = range.nth(first);
        params[21] = range.step();
        params[22] = count;
        params[23] = first as u32;
        let bytes: Vec<u8> = params.iter().flat_map(|w| w.to_le_bytes()).collect();
        s.queue.write_buffer(&bufs.params, 0, &bytes);
        s.queue.write_buffer(&bufs.out, 0, &0u32.to_le_bytes());
        let mut enc = s
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&s.pipeline);
            pass.set_bind_group(0, &bufs.bind, &[]);
            pass.dispatch_workgroups(count.div_ceil(WORKGROUP), 1, 1);
        }
        let head = 4 * (1 + FIRST_READ.min(u64::from(count)));
        enc.copy_buffer_to_buffer(&bufs.out, 0, &bufs.readback, 0, head);
        s.queue.submit([enc.finish()]);
        let words = read(&s.device, &bufs.readback, head)?;
        let found = u64::from(words[0]);
        if found > u64::from(count) {
            return Err(format!(
                "the shader reported {found} candidates for {count} nonces"
            ));
        }
        let words = if found > FIRST_READ {
            let all = 4 * (1 + found);
            let mut enc = s
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            enc.copy_buffer_to_buffer(&bufs.out, 0, &bufs.readback, 0, all);
            s.queue.submit([enc.finish()]);
            read(&s.device, &bufs.readback, all)?
        } else {
            words
        };
        // Indices are the range's, counted from 0 (the shader adds `first_index`); a range of
        // 2^32 nonces has indices up to 2^32 - 1, which fit the shader's u32.
        out.extend(words[1..=found as usize].iter().map(|&i| u64::from(i)));
        Ok(())
    }
}

/// Maps the first `bytes` of `buffer` and returns them as words.
fn read(device: &wgpu::Device, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u32>, String> {
    let slice = buffer.slice(..bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| format!("GPU poll failed: {e}"))?;
    match rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("GPU readback failed: {e}")),
        Err(_) => return Err("GPU readback never completed".to_string()),
    }
    let words = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| format!("GPU readback could not be mapped: {e}"))?;
        view.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    buffer.unmap();
    Ok(words)
}

impl Backend for Gpu {
    fn name(&self) -> &str {
        NAME
    }

    fn scan(&self, work: &Work, range: NonceRange, hits: &mut Vec<Hit>) -> u64 {
        let pre = Precomputed::new(work.header.as_bytes());
        let top = work.target.top_word();
        let mut indices = Vec::new();
        let mut first = 0u64;
        while first < range.len() {
            let count = (range.len() - first).min(u64::from(CHUNK)) as u32;
            if let Err(e) = self.dispatch(&pre, range, first, count, top, &mut indices) {
                // A device lost mid-run cannot be answered with a partial count: the case
                // fails with the reason (the worker's panic names the backend).
                panic!("gpu backend on {}: {e}", self.shared.facts.name);
            }
            first += u64::from(count);
        }
        let candidates: Vec<u32> = indices.iter().map(|&i| range.nth(i)).collect();
        pre.confirm(work, &candidates, hits);
        range.len()
    }
}
