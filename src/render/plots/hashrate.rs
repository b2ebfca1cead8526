//! Hash rate per case: the median of the samples as a bar, its bootstrap 95 % CI as a whisker,
//! coloured by backend.

use super::model::{Bar, BarChart, BarRow, Mark};
use super::{
    backend_legend, bar_height, color_keys, lookup, no_cases, ChartInfo, NothingToDraw, MEGA, WIDTH,
};
use crate::render::format::fmt_num;
use crate::report::Report;

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "hashrate",
    title: "Hash rate per case",
    about: "Median hash rate of the samples; the whisker is the bootstrap 95 % CI of the median.",
};

pub(super) fn build(report: &Report) -> Result<BarChart, NothingToDraw> {
    no_cases(report)?;
    let backends = color_keys(report.cases.iter().map(|c| c.backend.to_string()));
    let rows = report
        .cases
        .iter()
        .map(|c| BarRow {
            label: c.id.clone(),
            bars: vec![Bar {
                value: c.hash_rate.median / MEGA,
                whisker: Some((c.hash_rate.ci95_low / MEGA, c.hash_rate.ci95_high / MEGA)),
                color: lookup(&backends, &c.backend.to_string()),
                mark: Mark::Bar,
            }],
            note: fmt_num(c.hash_rate.median / MEGA),
        })
        .collect::<Vec<_>>();
    Ok(BarChart {
        title: "Hash rate per case".into(),
        subtitle: format!(
            "{}: median of {} samples per case, whisker = 95 % CI of the median",
            report.scenario.name, report.scenario.measure.samples
        ),
        x_desc: "hash rate (MH/s)".into(),
        size: (WIDTH, bar_height(rows.len())),
        rows,
        reference: None,
        x_range: None,
        bands: Vec::new(),
        legend: backend_legend(&backends),
    })
}
