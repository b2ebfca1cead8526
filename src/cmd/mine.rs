//! `minebench mine --pool URL`: a stratum client on a minebench backend. It counts its own
//! hashes, so a pool's share-derived rate of it can be checked against an independent figure.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::cli::MineArgs;
use crate::error::UsageError;
use crate::stratum::client::{mine, parse_url, MinerConfig};
use crate::Registry;

pub fn run(args: &MineArgs, registry: &Registry) -> Result<u8> {
    parse_url(&args.pool).map_err(|e| UsageError::new("--pool", e))?;
    if args.threads == 0 || args.threads > crate::sched::MAX_THREADS {
        return Err(UsageError::new(
            "--threads",
            format!("must be 1..={}", crate::sched::MAX_THREADS),
        )
        .into());
    }
    let duration = match &args.duration {
        Some(d) => Some(parse_duration(d, "--duration")?),
        None => None,
    };
    let name = if args.backend == "auto" {
        registry.auto_backend()
    } else {
        args.backend.clone()
    };
    let backend = registry
        .backend(&name)
        .map_err(|e| UsageError::new("--backend", e))?;
    let cfg = MinerConfig {
        url: args.pool.clone(),
        user: args.user.clone(),
        password: args.password.clone(),
        threads: args.threads,
        backend,
        version_rolling: args.version_rolling,
    };
    let stop = crate::run::interrupt_flag();
    let started = Instant::now();
    if let Some(d) = duration {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut last = (Instant::now(), 0u64);
    let report = mine(&cfg, &stop, |r| {
        let now = Instant::now();
        let rate = (r.hashes - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-9);
        last = (now, r.hashes);
        crate::note!(
            "{:>6.1} s  {:>9.2} MH/s  submitted {}  accepted {}  rejected {}",
            r.elapsed.as_secs_f64(),
            rate / 1e6,
            r.submitted,
            r.accepted,
            r.rejected
        );
    })?;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let text = if args.json {
        format!(
            "{}\n",
            json!({
                "backend": name,
                "threads": args.threads,
                "hashes": report.hashes,
                "elapsed_s": secs,
                "hashes_per_sec": report.hashes as f64 / secs,
                "submitted": report.submitted,
                "accepted": report.accepted,
                "rejected": report.rejected,
                "jobs": report.jobs,
            })
        )
    } else {
        format!(
            "{name} x{}: {} hashes in {:.2} s = {:.2} MH/s; shares submitted {}, accepted {}, \
             rejected {}; jobs {}\n",
            args.threads,
            report.hashes,
            secs,
            report.hashes as f64 / secs / 1e6,
            report.submitted,
            report.accepted,
            report.rejected,
            report.jobs
        )
    };
    let _ = started;
    super::emit(&text)?;
    Ok(0)
}

/// `humantime` durations (`30s`, `500ms`, `2m`), above zero.
pub fn parse_duration(text: &str, flag: &str) -> Result<Duration, UsageError> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(UsageError::new(flag, "must be above zero")),
        Err(e) => Err(UsageError::new(
            flag,
            format!("{text:?} is not a duration like 30s, 500ms or 2m: {e}"),
        )),
    }
}
