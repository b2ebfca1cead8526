//! `minebench backends`: what can hash here (built-ins fastest first, then the registry's own),
//! why the rest cannot, and the schedulers.

use anyhow::Result;
use serde::Serialize;

use crate::pow::{cpu_features, Availability};
use crate::Registry;

#[derive(Serialize)]
struct Row {
    name: String,
    available: bool,
    reason: Option<String>,
}

#[derive(Serialize)]
struct Listing {
    /// The backend `auto` resolves to.
    auto: String,
    backends: Vec<Row>,
    schedulers: Vec<Row>,
    cpu_features: std::collections::BTreeMap<&'static str, bool>,
    /// The GPU adapter the `gpu` backend runs on (builds with the `gpu` feature, when one
    /// opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    gpu: Option<GpuFacts>,
}

#[cfg(feature = "gpu")]
type GpuFacts = crate::pow::gpu::DeviceFacts;
#[cfg(not(feature = "gpu"))]
type GpuFacts = ();

/// The adapter's facts where the `gpu` backend is registered and available.
fn gpu_facts(registry: &Registry) -> Option<GpuFacts> {
    #[cfg(feature = "gpu")]
    {
        registry
            .backend_names()
            .contains(&crate::pow::gpu::NAME)
            .then(crate::pow::gpu::probe)
            .and_then(Result::ok)
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = registry;
        None
    }
}

fn rows(list: Vec<(String, Availability)>) -> Vec<Row> {
    list.into_iter()
        .map(|(name, availability)| match availability {
            Availability::Available => Row {
                name,
                available: true,
                reason: None,
            },
            Availability::Unavailable(reason) => Row {
                name,
                available: false,
                reason: Some(reason),
            },
        })
        .collect()
}

pub fn run(json: bool, registry: &Registry) -> Result<u8> {
    let catalog = registry.catalog();
    let listing = Listing {
        auto: catalog.auto,
        backends: rows(catalog.backends),
        schedulers: rows(catalog.schedulers),
        cpu_features: cpu_features().into_iter().collect(),
        gpu: gpu_facts(registry),
    };
    if json {
        return super::emit_json(&listing).map(|_| 0);
    }
    let mut text = String::from("backend         status\n");
    for row in &listing.backends {
        let status = match &row.reason {
            None if row.name == listing.auto => "available (auto)".to_string(),
            None => "available".to_string(),
            Some(reason) => format!("unavailable: {reason}"),
        };
        text.push_str(&format!("{:<15} {status}\n", row.name));
    }
    let schedulers: Vec<&str> = listing.schedulers.iter().map(|r| r.name.as_str()).collect();
    text.push_str(&format!("schedulers: {}\n", schedulers.join(", ")));
    let features: Vec<String> = listing
        .cpu_features
        .iter()
        .map(|(name, on)| format!("{name}{}", if *on { "+" } else { "-" }))
        .collect();
    text.push_str(&format!("cpu features: {}\n", features.join(" ")));
    #[cfg(feature = "gpu")]
    if let Some(g) = &listing.gpu {
        text.push_str(&format!("gpu: {}\n", g.describe()));
        // The registry refused a bad setting before this runs: the environment parses.
        if let Ok(s) = crate::pow::gpu::Settings::from_env() {
            text.push_str(&format!(
                "gpu feeding: dispatches of {} nonces, {} in flight, {} nonce(s) per invocation \
                 ({}, {}, {})\n",
                s.dispatch,
                s.in_flight,
                s.per_invocation,
                crate::pow::gpu::DISPATCH_ENV,
                crate::pow::gpu::IN_FLIGHT_ENV,
                crate::pow::gpu::PER_INVOCATION_ENV
            ));
        }
    }
    super::emit(&text).map(|_| 0)
}
