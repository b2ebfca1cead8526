//! `minebench backends`: what can hash here, fastest first, and why the rest cannot.

use anyhow::Result;
use serde::Serialize;

use minebench::pow::{cpu_features, Availability, BackendKind};

#[derive(Serialize)]
struct Row {
    name: &'static str,
    available: bool,
    reason: Option<String>,
}

#[derive(Serialize)]
struct Listing {
    /// The backend `auto` resolves to.
    auto: &'static str,
    backends: Vec<Row>,
    cpu_features: std::collections::BTreeMap<&'static str, bool>,
}

pub fn run(json: bool) -> Result<u8> {
    let rows: Vec<Row> = BackendKind::ALL
        .iter()
        .map(|&k| match k.availability() {
            Availability::Available => Row {
                name: k.name(),
                available: true,
                reason: None,
            },
            Availability::Unavailable(reason) => Row {
                name: k.name(),
                available: false,
                reason: Some(reason),
            },
        })
        .collect();
    let listing = Listing {
        auto: BackendKind::detect().name(),
        backends: rows,
        cpu_features: cpu_features().into_iter().collect(),
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
    let features: Vec<String> = listing
        .cpu_features
        .iter()
        .map(|(name, on)| format!("{name}{}", if *on { "+" } else { "-" }))
        .collect();
    text.push_str(&format!("cpu features: {}\n", features.join(" ")));
    super::emit(&text).map(|_| 0)
}
