//! Efficiency against the calibrated single-core ceiling, with the ceiling as a dashed line.

use super::model::{Bar, BarChart, BarRow, Mark};
use super::{
    backend_legend, bar_height, color_keys, lookup, no_cases, ChartInfo, NothingToDraw, MEGA, WIDTH,
};
use crate::render::format::fmt_num;
use crate::report::{CaseReport, Report};

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "efficiency",
    title: "Efficiency against the ceiling",
    about: "Median ÷ (threads × calibrated naive ceiling, two compressions per nonce): above \
            1 the backend beats the plain double compression.",
};

pub(super) fn build(report: &Report) -> Result<BarChart, NothingToDraw> {
    no_cases(report)?;
    let Some(ceiling) = &report.ceiling else {
        return Err("the report has no calibrated ceiling".into());
    };
    let cases: Vec<(&CaseReport, f64)> = report
        .cases
        .iter()
        .filter_map(|c| c.efficiency.vs_ceiling.map(|e| (c, e)))
        .collect();
    if cases.is_empty() {
        return Err("no case has an efficiency against the ceiling".into());
    }
    let backends = color_keys(cases.iter().map(|(c, _)| c.backend.to_string()));
    let rows: Vec<BarRow> = cases
        .iter()
        .map(|(c, e)| BarRow {
            label: c.id.clone(),
            bars: vec![Bar {
                value: *e,
                whisker: None,
                color: lookup(&backends, &c.backend.to_string()),
                mark: Mark::Bar,
            }],
            note: format!("{e:.2}×"),
        })
        .collect();
    Ok(BarChart {
        title: "Efficiency against the single-core ceiling".into(),
        subtitle: format!(
            "median ÷ (threads × {} MH/s, the calibrated naive rate of two compressions per nonce)",
            fmt_num(ceiling.naive_hashes_per_sec / MEGA)
        ),
        x_desc: "efficiency vs ceiling (1 = naive ceiling per thread)".into(),
        size: (WIDTH, bar_height(rows.len())),
        rows,
        reference: Some((1.0, "ceiling".into())),
        x_range: None,
        bands: Vec::new(),
        legend: backend_legend(&backends),
    })
}
