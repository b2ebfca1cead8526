//! Hashes per worker thread: one bar per worker, so load imbalance shows as uneven bars.

use super::model::{Bar, BarChart, BarRow, LegendEntry, LegendKind, Mark};
use super::{color, no_cases, ChartInfo, NothingToDraw, HEIGHT, MEGA, WIDTH};
use crate::report::{CaseReport, Report};

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "threads",
    title: "Hashes per worker thread",
    about: "One bar per worker thread (whole case, warm-up included): uneven bars show load \
            imbalance; the number is the report's max ÷ mean.",
};

/// Up to this many workers get one legend entry each; above it the legend says what a bar is.
const MAX_WORKER_LEGEND: usize = 12;

pub(super) fn build(report: &Report) -> Result<BarChart, NothingToDraw> {
    no_cases(report)?;
    let cases: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|c| !c.workers.is_empty())
        .collect();
    if cases.is_empty() {
        return Err("no case has per-worker data".into());
    }
    let max_workers = cases.iter().map(|c| c.workers.len()).max().unwrap_or(1);
    let rows: Vec<BarRow> = cases
        .iter()
        .map(|c| BarRow {
            label: c.id.clone(),
            bars: c
                .workers
                .iter()
                .map(|w| Bar {
                    value: w.hashes as f64 / MEGA,
                    whisker: None,
                    color: color(w.index),
                    mark: Mark::Bar,
                })
                .collect(),
            note: format!("imbalance {:.3}", c.balance.imbalance),
        })
        .collect();
    let legend = if max_workers <= MAX_WORKER_LEGEND {
        (0..max_workers)
            .map(|i| LegendEntry {
                label: format!("worker {i}"),
                color: color(i),
                kind: LegendKind::Box,
            })
            .collect()
    } else {
        vec![LegendEntry {
            label: "one bar per worker".into(),
            color: color(0),
            kind: LegendKind::Box,
        }]
    };
    // Rows grow with the worker count so each bar stays visible.
    let row_px = 30 + 8 * max_workers.saturating_sub(2) as u32;
    Ok(BarChart {
        title: "Hashes per worker thread".into(),
        subtitle: "whole case, warm-up included; imbalance = max ÷ mean".into(),
        x_desc: "hashes per worker (millions)".into(),
        size: (WIDTH, HEIGHT.max(170 + row_px * rows.len() as u32)),
        rows,
        reference: None,
        x_range: None,
        bands: Vec::new(),
        legend,
    })
}
