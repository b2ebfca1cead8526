//! Before/after bars of a comparison: per case the median rate of the base run and of the new
//! run side by side, each with its own bootstrap 95 % CI, the change and verdict as the note.
//! A case measured on one side only has that side's bar alone; a skipped one a row saying so.

use plotters::style::RGBColor;

use super::model::{Bar, BarChart, BarRow, LegendEntry, LegendKind, Mark};
use super::{ChartInfo, HEIGHT, MEGA};
use super::{ComparedReports, NothingToDraw, WIDTH};
use crate::render::format::{unmatched, verdict_text};
use crate::report::{CaseReport, Metric, Report};

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "before-after",
    title: "Before and after",
    about: "Median rate of each case in the base run (blue) and the new run (orange), each with \
            its bootstrap 95 % CI as a whisker; the note is the change and its verdict.",
};

pub(super) const BASE_COLOR: RGBColor = RGBColor(31, 119, 180);
pub(super) const NEW_COLOR: RGBColor = RGBColor(255, 127, 14);

/// (median, CI low, CI high) of `case` on `metric`'s clock, in MH/s; None when the case has no
/// rate on that clock (CPU time not recorded).
fn rate(case: &CaseReport, metric: Metric) -> Option<(f64, f64, f64)> {
    let stats = match metric {
        Metric::Wall => Some(&case.hash_rate),
        Metric::Cpu => case.cpu_rate.as_ref(),
    }?;
    Some((
        stats.median / MEGA,
        stats.ci95_low / MEGA,
        stats.ci95_high / MEGA,
    ))
}

fn bar(report: &Report, id: &str, metric: Metric, color: RGBColor) -> Option<Bar> {
    let case = report.cases.iter().find(|c| c.id == id)?;
    let (median, lo, hi) = rate(case, metric)?;
    Some(Bar {
        value: median,
        whisker: Some((lo, hi)),
        color,
        mark: Mark::Bar,
    })
}

pub(super) fn build(d: &ComparedReports<'_>) -> Result<BarChart, NothingToDraw> {
    let c = d.comparison;
    let unmatched = unmatched(c);
    if c.cases.is_empty() && unmatched.is_empty() {
        return Err("neither report has a case".into());
    }
    let mut rows = Vec::new();
    for x in &c.cases {
        // The medians are the comparison's (from the samples, as the table prints them); the
        // whiskers each report's stored CI of that median.
        let side = |report: &Report, median_hps: f64, color| {
            let mut b = bar(report, &x.id, c.metric, color)?;
            b.value = median_hps / MEGA;
            Some(b)
        };
        let bars = [
            side(d.base, x.base_median_hps, BASE_COLOR),
            side(d.new, x.new_median_hps, NEW_COLOR),
        ];
        let note = match x.change {
            Some(ch) => format!("{:+.2} % {}", ch.change_pct, verdict_text(x.verdict)),
            None => verdict_text(x.verdict).to_string(),
        };
        rows.push(BarRow {
            label: x.id.clone(),
            bars: bars.into_iter().flatten().collect(),
            note,
        });
    }
    for u in &unmatched {
        let bars = [
            bar(d.base, &u.id, c.metric, BASE_COLOR),
            bar(d.new, &u.id, c.metric, NEW_COLOR),
        ];
        rows.push(BarRow {
            label: u.id.clone(),
            bars: bars.into_iter().flatten().collect(),
            note: u.why.clone(),
        });
    }
    let unit = crate::render::format::rate_unit(c.metric);
    let legend = vec![
        LegendEntry {
            label: format!("base ({})", c.base.scenario),
            color: BASE_COLOR,
            kind: LegendKind::Box,
        },
        LegendEntry {
            label: format!("new ({})", c.new.scenario),
            color: NEW_COLOR,
            kind: LegendKind::Box,
        },
    ];
    // Two bars a row: rows a little taller than the one-bar charts.
    let height = HEIGHT.max(170 + 44 * rows.len() as u32);
    Ok(BarChart {
        title: "Before and after".into(),
        subtitle: format!(
            "median {} rate per case, whisker = 95 % CI of each run's median",
            c.metric.name()
        ),
        x_desc: format!("median rate ({unit})"),
        size: (WIDTH, height),
        rows,
        reference: None,
        legend,
        x_range: None,
        bands: Vec::new(),
    })
}
