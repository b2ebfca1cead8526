//! A Go miner's own diagnostics, read from outside: its `net/http/pprof` CPU profile, its
//! `GODEBUG=schedtrace` lines and its expvar memstats (`/debug/vars`).
//!
//! Everything here takes what the miner gave (bytes, lines, JSON) and either decodes it or says
//! why not; an endpoint that is down, answers HTML or sends a truncated or bad-gzip profile is a
//! reason (`profile: null` with it), a malformed schedtrace line is skipped and counted. Nothing
//! here panics on what a miner sends.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The largest HTTP body read (a CPU profile of a busy miner is a few hundred KiB).
const MAX_BODY: usize = 64 << 20;

/// `GET base+path` over HTTP/1.0 (a Go `net/http` server then answers without chunking and
/// closes): the status and the body. `base` is `http://host:port`.
pub fn http_get(base: &str, path: &str, timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    let hostport = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("{base:?} is not an http:// URL"))?
        .trim_end_matches('/');
    let addr = hostport
        .to_socket_addrs()
        .map_err(|e| format!("{base}: {e}"))?
        .next()
        .ok_or_else(|| format!("{base}: no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("{base}: cannot connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: minebench\r\n\r\n"
    )
    .map_err(|e| format!("{base}{path}: {e}"))?;
    let mut raw = Vec::new();
    s.take(MAX_BODY as u64 + 65536)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{base}{path}: reading the answer: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{base}{path}: not an HTTP answer ({} bytes)", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("{base}{path}: no HTTP status line"))?;
    Ok((status, raw[split + 4..].to_vec()))
}

/// A CPU profile decoded into folded stacks.
#[derive(Debug, Clone)]
pub struct GoProfile {
    /// The bytes as served (gzipped protobuf: `go tool pprof` reads them as they are).
    pub raw: Vec<u8>,
    /// `frame;frame;... count` lines, root first, counts in samples.
    pub folded: String,
    pub samples: u64,
    /// Σ of the `cpu/nanoseconds` values.
    pub cpu_ns: u64,
    /// The profile's sampling period, ns.
    pub period_ns: i64,
}

/// Fetches `/debug/pprof/profile?seconds=N` (blocks about N seconds) and decodes it.
pub fn fetch_cpu_profile(base: &str, seconds: u64) -> Result<GoProfile, String> {
    let path = format!("/debug/pprof/profile?seconds={seconds}");
    let (status, body) = http_get(base, &path, Duration::from_secs(seconds + 30))?;
    if status != 200 {
        return Err(format!(
            "{base}{path} answered HTTP {status}: {}",
            snippet(&body)
        ));
    }
    decode_profile(body)
}

/// The first bytes of a body as text, for error messages.
fn snippet(body: &[u8]) -> String {
    let t: String = String::from_utf8_lossy(&body[..body.len().min(120)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    t.trim().to_string()
}

/// A served profile (gzipped or not) to folded stacks; the reason when it is not a profile.
pub fn decode_profile(raw: Vec<u8>) -> Result<GoProfile, String> {
    use pprof::protos::Message;
    if raw.is_empty() {
        return Err("the pprof endpoint sent an empty body".into());
    }
    let first = raw.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'<') {
        return Err(format!(
            "the pprof endpoint answered HTML, not a profile: {}",
            snippet(&raw)
        ));
    }
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_BODY as u64 * 4)
            .read_to_end(&mut out)
            .map_err(|e| format!("the profile is not valid gzip (truncated?): {e}"))?;
        out
    } else {
        raw.clone()
    };
    let p = pprof::protos::Profile::decode(&bytes[..])
        .map_err(|e| format!("the body is not a pprof protobuf: {e}"))?;
    let string = |i: i64| {
        p.string_table
            .get(i as usize)
            .map(String::as_str)
            .unwrap_or("?")
    };
    let index_of = |ty: &str| p.sample_type.iter().position(|t| string(t.ty) == ty);
    let count_i =
        index_of("samples").ok_or("the profile has no `samples` value: not a CPU profile")?;
    let cpu_i = index_of("cpu");
    let functions: std::collections::HashMap<u64, &str> =
        p.function.iter().map(|f| (f.id, string(f.name))).collect();
    let locations: std::collections::HashMap<u64, Vec<&str>> = p
        .location
        .iter()
        .map(|l| {
            // Inline frames: line[0] is the innermost.
            let names = l
                .line
                .iter()
                .map(|ln| functions.get(&ln.function_id).copied().unwrap_or("?"))
                .collect::<Vec<_>>();
            (
                l.id,
                if names.is_empty() {
                    vec!["[unknown]"]
                } else {
                    names
                },
            )
        })
        .collect();
    let mut folded: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let (mut samples, mut cpu_ns) = (0u64, 0u64);
    for s in &p.sample {
        let n = s.value.get(count_i).copied().unwrap_or(0).max(0) as u64;
        if n == 0 {
            continue;
        }
        samples += n;
        cpu_ns += cpu_i
            .and_then(|i| s.value.get(i))
            .copied()
            .unwrap_or(0)
            .max(0) as u64;
        // Leaf first in pprof; folded stacks are root first.
        let mut frames: Vec<&str> = Vec::new();
        for id in s.location_id.iter().rev() {
            match locations.get(id) {
                Some(names) => frames.extend(names.iter().rev()),
                None => frames.push("[unknown]"),
            }
        }
        let stack = frames
            .iter()
            .map(|f| f.replace([';', '\n'], "_"))
            .collect::<Vec<_>>()
            .join(";");
        *folded.entry(stack).or_default() += n;
    }
    if samples == 0 {
        return Err("the profile holds no samples (was the miner busy?)".into());
    }
    let folded = folded
        .iter()
        .map(|(s, n)| format!("{s} {n}\n"))
        .collect::<String>();
    Ok(GoProfile {
        raw,
        folded,
        samples,
        cpu_ns,
        period_ns: p.period,
    })
}

/// One `SCHED` line of `GODEBUG=schedtrace=X`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedPoint {
    /// The miner's own stamp (`SCHED 1004ms:`), ms since it started.
    pub t_ms: u64,
    pub gomaxprocs: u32,
    pub idleprocs: u32,
    pub threads: u32,
    pub spinningthreads: u32,
    pub idlethreads: u32,
    /// The global run queue.
    pub runqueue: u32,
    /// Per-P local run queues.
    pub local: Vec<u32>,
}

/// Parses `SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0
/// needspinning=0 idlethreads=1 runqueue=0 [0 0]` (extra `key=value` fields, as newer Go
/// versions add, are ignored). None for anything else or a malformed line.
pub fn parse_schedtrace(line: &str) -> Option<SchedPoint> {
    let rest = line.trim().strip_prefix("SCHED ")?;
    let (stamp, rest) = rest.split_once(':')?;
    let t_ms = stamp.trim().strip_suffix("ms")?.parse().ok()?;
    let (fields, local) = match rest.split_once('[') {
        Some((f, l)) => (f, Some(l.strip_suffix(']')?)),
        None => (rest, None),
    };
    let mut get = std::collections::HashMap::new();
    for kv in fields.split_whitespace() {
        let (k, v) = kv.split_once('=')?;
        get.insert(k, v.parse::<u32>().ok()?);
    }
    let local = match local {
        Some(l) => l
            .split_whitespace()
            .map(|n| n.parse().ok())
            .collect::<Option<Vec<u32>>>()?,
        None => Vec::new(),
    };
    Some(SchedPoint {
        t_ms,
        gomaxprocs: *get.get("gomaxprocs")?,
        idleprocs: *get.get("idleprocs")?,
        threads: *get.get("threads")?,
        spinningthreads: *get.get("spinningthreads").unwrap_or(&0),
        idlethreads: *get.get("idlethreads").unwrap_or(&0),
        runqueue: *get.get("runqueue")?,
        local,
    })
}

/// What the schedtrace of the measured phase says, in a few numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedSummary {
    /// Points inside the measured phase (the ones summarised).
    pub points: u64,
    pub mean_global_runqueue: f64,
    pub max_global_runqueue: u32,
    /// Over every P of every point.
    pub mean_local_runqueue: f64,
    pub max_local_runqueue: u32,
    /// Σ idleprocs ÷ Σ gomaxprocs: the share of Ps with nothing to run.
    pub idle_p_fraction: f64,
    pub mean_threads: f64,
    pub max_threads: u32,
}

pub fn summarize_schedtrace(points: &[&SchedPoint]) -> Option<SchedSummary> {
    if points.is_empty() {
        return None;
    }
    let n = points.len() as f64;
    let locals: Vec<u32> = points
        .iter()
        .flat_map(|p| p.local.iter().copied())
        .collect();
    let procs: u64 = points.iter().map(|p| u64::from(p.gomaxprocs)).sum();
    Some(SchedSummary {
        points: points.len() as u64,
        mean_global_runqueue: points.iter().map(|p| f64::from(p.runqueue)).sum::<f64>() / n,
        max_global_runqueue: points.iter().map(|p| p.runqueue).max().unwrap_or(0),
        mean_local_runqueue: if locals.is_empty() {
            0.0
        } else {
            locals.iter().map(|&q| f64::from(q)).sum::<f64>() / locals.len() as f64
        },
        max_local_runqueue: locals.iter().copied().max().unwrap_or(0),
        idle_p_fraction: points.iter().map(|p| u64::from(p.idleprocs)).sum::<u64>() as f64
            / procs.max(1) as f64,
        mean_threads: points.iter().map(|p| f64::from(p.threads)).sum::<f64>() / n,
        max_threads: points.iter().map(|p| p.threads).max().unwrap_or(0),
    })
}

/// The expvar memstats fields used for GC cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemStats {
    pub num_gc: u64,
    pub pause_total_ns: u64,
    pub total_alloc: u64,
    pub heap_alloc: u64,
}

/// `/debug/vars` (expvar) → its `memstats`.
pub fn fetch_memstats(base: &str) -> Result<MemStats, String> {
    let (status, body) = http_get(base, "/debug/vars", Duration::from_secs(5))?;
    if status != 200 {
        return Err(format!(
            "{base}/debug/vars answered HTTP {status}: {}",
            snippet(&body)
        ));
    }
    parse_memstats(&body)
}

pub fn parse_memstats(body: &[u8]) -> Result<MemStats, String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("/debug/vars is not JSON ({e}): {}", snippet(body)))?;
    let m = v
        .get("memstats")
        .ok_or("/debug/vars has no memstats (the miner does not import expvar)")?;
    let field = |k: &str| {
        m.get(k)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format!("/debug/vars memstats has no {k}"))
    };
    Ok(MemStats {
        num_gc: field("NumGC")?,
        pause_total_ns: field("PauseTotalNs")?,
        total_alloc: field("TotalAlloc")?,
        heap_alloc: field("HeapAlloc")?,
    })
}

/// GC cost over the measured phase, from memstats at its two ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcCost {
    pub cycles: u64,
    pub pause_ns: u64,
    /// Bytes allocated per second of the phase.
    pub alloc_bytes_per_sec: f64,
    /// Live heap at the end.
    pub heap_alloc_bytes: u64,
}

pub fn gc_cost(before: &MemStats, after: &MemStats, seconds: f64) -> GcCost {
    GcCost {
        cycles: after.num_gc.saturating_sub(before.num_gc),
        pause_ns: after.pause_total_ns.saturating_sub(before.pause_total_ns),
        alloc_bytes_per_sec: after.total_alloc.saturating_sub(before.total_alloc) as f64
            / seconds.max(1e-9),
        heap_alloc_bytes: after.heap_alloc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedtrace_lines_parse_and_malformed_ones_do_not() {
        let p = parse_schedtrace(
            "SCHED 1004ms: gomaxprocs=2 idleprocs=1 threads=6 spinningthreads=0 needspinning=0 idlethreads=2 runqueue=3 [1 0]",
        )
        .unwrap();
        assert_eq!(
            (
                p.t_ms,
                p.gomaxprocs,
                p.idleprocs,
                p.threads,
                p.runqueue,
                p.local.clone()
            ),
            (1004, 2, 1, 6, 3, vec![1, 0])
        );
        // Go 1.19 has no needspinning; extra fields are fine.
        assert!(parse_schedtrace("SCHED 0ms: gomaxprocs=4 idleprocs=4 threads=3 spinningthreads=0 idlethreads=0 runqueue=0 [0 0 0 0]").is_some());
        for bad in [
            "SCHED 1004: gomaxprocs=2",
            "SCHED xms: gomaxprocs=2 idleprocs=0 threads=5 runqueue=0 [0]",
            "SCHED 5ms: gomaxprocs=two idleprocs=0 threads=5 runqueue=0 [0]",
            "SCHED 5ms: gomaxprocs=2 idleprocs=0 threads=5 runqueue=0 [0 x]",
            "SCHED 5ms: gomaxprocs=2 idleprocs=0 threads=5 runqueue=0 [0",
            "hashes 5",
            "",
        ] {
            assert_eq!(parse_schedtrace(bad), None, "{bad}");
        }
        let q = SchedPoint {
            idleprocs: 0,
            runqueue: 1,
            local: vec![4, 2],
            ..p.clone()
        };
        let s = summarize_schedtrace(&[&p, &q]).unwrap();
        assert_eq!(s.points, 2);
        assert!((s.mean_global_runqueue - 2.0).abs() < 1e-12);
        assert_eq!((s.max_global_runqueue, s.max_local_runqueue), (3, 4));
        assert!((s.mean_local_runqueue - 7.0 / 4.0).abs() < 1e-12);
        assert!((s.idle_p_fraction - 0.25).abs() < 1e-12);
    }

    #[test]
    fn bad_profiles_are_reasons_not_panics() {
        assert!(decode_profile(Vec::new()).unwrap_err().contains("empty"));
        assert!(decode_profile(b"<html><body>404</body></html>".to_vec())
            .unwrap_err()
            .contains("HTML"));
        let mut gz = Vec::new();
        {
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
            e.write_all(&[0x0a; 4000]).unwrap();
        }
        gz.truncate(gz.len() / 2);
        assert!(decode_profile(gz).unwrap_err().contains("gzip"));
        assert!(decode_profile(vec![0xff; 64])
            .unwrap_err()
            .contains("pprof"));
    }

    #[test]
    fn a_gzipped_pprof_profile_decodes_to_folded_stacks() {
        // Our own folded → pprof writer, gzipped the way Go serves it.
        let folded =
            "main;runtime.main;main.worker;crypto/sha256.block 7\nmain;main.dispatcher 3\n";
        let pb = super::super::perf::folded_to_pprof(folded, 100, Duration::from_secs(1));
        let mut gz = Vec::new();
        {
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
            e.write_all(&pb).unwrap();
        }
        let p = decode_profile(gz).unwrap();
        assert_eq!(p.samples, 10);
        assert_eq!(p.cpu_ns, 10 * 10_000_000);
        assert_eq!(
            p.folded,
            folded
                .lines()
                .rev()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        );
    }

    #[test]
    fn memstats_from_expvar() {
        let body = br#"{"cmdline":["x"],"memstats":{"NumGC":12,"PauseTotalNs":3400,"TotalAlloc":1000,"HeapAlloc":500,"Other":1}}"#;
        let m = parse_memstats(body).unwrap();
        assert_eq!(
            (m.num_gc, m.pause_total_ns, m.total_alloc, m.heap_alloc),
            (12, 3400, 1000, 500)
        );
        let later = MemStats {
            num_gc: 15,
            pause_total_ns: 5400,
            total_alloc: 3000,
            ..m
        };
        let g = gc_cost(&m, &later, 2.0);
        assert_eq!((g.cycles, g.pause_ns), (3, 2000));
        assert!((g.alloc_bytes_per_sec - 1000.0).abs() < 1e-9);
        assert!(parse_memstats(b"{}").unwrap_err().contains("memstats"));
        assert!(parse_memstats(b"<html>").unwrap_err().contains("not JSON"));
    }
}
