//! Batch-latency percentiles of each case on a "nines" axis, read from the stored histograms.
//! The curve and axis code here is shared with the comparison's base-vs-new latency charts
//! (`latency_compare.rs`), so both read a histogram the same way.

use hdrhistogram::Histogram;
use plotters::style::RGBColor;

use super::axes::{linear_axis, log_axis, nines, Axis, MAX_NINES};
use super::model::{LegendEntry, LegendKind, LineChart, Series};
use super::{color, no_cases, ChartInfo, NothingToDraw};
use crate::render::NotDrawn;
use crate::report::Report;

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "latency",
    title: "Batch latency percentiles",
    about: "Time of one backend call (one batch), all workers merged, by percentile on a \
            \"nines\" axis: the tail is on the right.",
};

/// Points per curve (evenly spaced in nines).
const LATENCY_POINTS: usize = 200;

/// One percentile curve: (nines, µs) points, drawn solid or dashed.
pub(super) struct Curve {
    pub(super) color: RGBColor,
    pub(super) dashed: bool,
    pub(super) points: Vec<(f64, f64)>,
}

/// Decodes a stored histogram (base64 V2), or says why not for the "not drawn" list.
pub(super) fn decode(b64: &str) -> Result<Histogram<u64>, String> {
    crate::probe::latency::decode(b64).map_err(|e| e.to_string())
}

/// The percentile curve of `h`: (nines, µs) from p0 to the highest percentile its count
/// resolves.
pub(super) fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    // Beyond 1 − 1/count every percentile is the maximum: the curve ends where the data
    // does instead of drawing a flat line that suggests more samples than there are.
    let x_end = (h.len() as f64).log10().clamp(0.0, MAX_NINES);
    let mut points: Vec<(f64, f64)> = (0..=LATENCY_POINTS)
        .map(|i| MAX_NINES * i as f64 / LATENCY_POINTS as f64)
        .take_while(|&x| x < x_end)
        .chain(std::iter::once(x_end))
        .map(|x| {
            // At x_end (q = 1 − 1/count) the quantile's rank is count − 1, one short of
            // the slowest batch, which is the point of a tail plot: end on the maximum.
            let v = if x >= x_end {
                h.max()
            } else {
                h.value_at_quantile(1.0 - 10f64.powf(-x))
            };
            (x, v as f64 / 1e3)
        })
        .collect();
    points.dedup_by(|a, b| a.0 == b.0);
    points
}

/// A line chart of percentile curves on a nines axis; the y axis (`what`, in µs) turns
/// logarithmic when the values span more than a factor 100. `curves` must not be empty.
pub(super) fn nines_chart(
    title: String,
    subtitle: String,
    what: &str,
    curves: Vec<Curve>,
    legend: Vec<LegendEntry>,
) -> LineChart {
    let all = || curves.iter().flat_map(|c| c.points.iter().map(|&(_, y)| y));
    // 1 ns is the histogram's lowest trackable value: the floor of a log axis.
    let lo = all().fold(f64::INFINITY, f64::min).max(1e-3);
    let hi = all().fold(0.0, f64::max).max(lo);
    let log = hi / lo > 100.0;
    let y = if log {
        log_axis(&format!("{what} (µs, log scale)"), lo, hi)
    } else {
        linear_axis(&format!("{what} (µs)"), hi * 1.08)
    };
    let ticks = [
        (0.0, "0"),
        (50.0, "50"),
        (90.0, "90"),
        (99.0, "99"),
        (99.9, "99.9"),
        (99.99, "99.99"),
    ]
    .iter()
    .map(|&(p, label)| (nines(p), label.to_string()))
    .collect();
    let x = Axis {
        desc: "percentile (log-scaled nines)".into(),
        range: (0.0, MAX_NINES),
        ticks,
        minor: Vec::new(),
    };
    let series = curves
        .into_iter()
        .map(|c| Series {
            color: c.color,
            points: if log {
                c.points
                    .into_iter()
                    .map(|(x, y)| (x, y.max(lo).log10()))
                    .collect()
            } else {
                c.points
            },
            dashed: c.dashed,
            markers: false,
            whiskers: Vec::new(),
        })
        .collect();
    LineChart {
        title,
        subtitle,
        x,
        y,
        series,
        legend,
    }
}

pub(super) fn build(
    report: &Report,
    skipped: &mut Vec<NotDrawn>,
) -> Result<LineChart, NothingToDraw> {
    no_cases(report)?;
    let mut curves = Vec::new();
    let mut legend = Vec::new();
    for c in &report.cases {
        let Some(batch) = &c.latency.batch else {
            continue;
        };
        if batch.count == 0 {
            continue;
        }
        let h = match decode(&batch.histogram_b64) {
            Ok(h) => h,
            Err(e) => {
                skipped.push(NotDrawn {
                    output: format!("plots/latency: case {}", c.id),
                    reason: format!("batch histogram: {e}"),
                });
                continue;
            }
        };
        let i = curves.len();
        curves.push(Curve {
            color: color(i),
            dashed: false,
            points: percentile_curve(&h),
        });
        legend.push(LegendEntry {
            label: c.id.clone(),
            color: color(i),
            kind: LegendKind::Line,
        });
    }
    if curves.is_empty() {
        return Err("no case has a batch-latency histogram".into());
    }
    Ok(nines_chart(
        "Batch latency percentiles".into(),
        "time inside one backend call, all workers merged; a curve ends at the highest \
         percentile its sample count resolves"
            .into(),
        "batch latency",
        curves,
        legend,
    ))
}
