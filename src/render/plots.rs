//! Charts of a report (plotters), each written as SVG and PNG into a `plots/` directory:
//! hash rate per case, thread scaling, batch-latency percentile curves, per-thread hashes and
//! efficiency against the calibrated ceiling.
//!
//! Owns: turning report fields into pictures, axis layout and the embedded font. Must not:
//! compute statistics (medians, CIs, scaling and imbalance come from the report as stored) or
//! read clocks. The one thing derived here is the set of percentile points of a stored latency
//! histogram, which is reading that histogram, not summarising samples.
//!
//! Why everything is drawn twice through one generic `draw`: the SVG is what the HTML page
//! embeds (crisp at any zoom) and the PNG is what a CI artefact viewer or a chat message shows.
//! Drawing both from the same code keeps them the same picture.
//!
//! Why the text goes through an embedded DejaVu Sans (see DESIGN.md, "Known traps"): plotters'
//! default font path needs fontconfig and a system font, which CI images and containers often
//! lack. With `ab_glyph` and `register_font` no system font is read at all.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{NotDrawn, RenderError};
use crate::output::write_atomic;
use crate::report::{CaseReport, Report};

/// DejaVu Sans (free licence, see `assets/DejaVuSans.LICENSE`), the only font the charts use.
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The family name the charts ask for; registered to [`FONT_BYTES`].
const FONT: &str = "sans-serif";

/// Default picture size: wide enough for case-id labels, readable when scaled to a page.
const WIDTH: u32 = 1000;
const HEIGHT: u32 = 600;

/// Tableau 10 and its lighter companions: distinguishable, and colour-blind friendlier than
/// plotters' default palette.
const PALETTE: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(199, 199, 199),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Static description of one chart, for captions in the HTML page.
#[derive(Debug, Clone, Copy)]
pub struct ChartInfo {
    /// File stem under `plots/`: `<name>.svg` and `<name>.png`.
    pub name: &'static str,
    pub title: &'static str,
    /// One sentence on how to read it.
    pub about: &'static str,
}

/// Every chart this module draws, in the order the HTML page shows them.
pub const CHARTS: [ChartInfo; 5] = [
    ChartInfo {
        name: "hashrate",
        title: "Hash rate per case",
        about:
            "Median hash rate of the samples; the whisker is the bootstrap 95 % CI of the median.",
    },
    ChartInfo {
        name: "scaling",
        title: "Thread scaling",
        about: "Median hash rate against worker threads for each backend, scheduler and \
                difficulty; the dashed line is ideal linear scaling from the 1-thread median.",
    },
    ChartInfo {
        name: "latency",
        title: "Batch latency percentiles",
        about: "Time of one backend call (one batch), all workers merged, by percentile on a \
                \"nines\" axis: the tail is on the right.",
    },
    ChartInfo {
        name: "threads",
        title: "Hashes per worker thread",
        about: "One bar per worker thread (whole case, warm-up included): uneven bars show load \
                imbalance; the number is the report's max ÷ mean.",
    },
    ChartInfo {
        name: "efficiency",
        title: "Efficiency against the ceiling",
        about: "Median ÷ (threads × calibrated naive ceiling, two compressions per nonce): above \
                1 the backend beats the plain double compression.",
    },
];

/// What [`draw_all`] produced.
#[derive(Debug, Default, Clone)]
pub struct PlotsOutcome {
    /// Files written (SVG and PNG of each drawn chart).
    pub written: Vec<PathBuf>,
    /// Names (see [`CHARTS`]) of the charts drawn.
    pub charts: Vec<&'static str>,
    /// Charts not drawn, with the reason.
    pub not_drawn: Vec<NotDrawn>,
}

/// Draws every chart the report has data for into `plots_dir` (created if needed), as
/// `<name>.svg` and `<name>.png`, each written atomically. A chart without data is not
/// written and is listed in `not_drawn` with the reason.
pub fn draw_all(report: &Report, plots_dir: &Path) -> Result<PlotsOutcome, RenderError> {
    register_font_once()?;
    std::fs::create_dir_all(plots_dir).map_err(|source| RenderError::Write {
        path: plots_dir.to_path_buf(),
        source,
    })?;
    let mut out = PlotsOutcome::default();
    for info in CHARTS {
        let mut skipped = Vec::new();
        let chart = match info.name {
            "hashrate" => hashrate_chart(report).map(Chart::Bars),
            "scaling" => scaling_chart(report).map(Chart::Lines),
            "latency" => latency_chart(report, &mut skipped).map(Chart::Lines),
            "threads" => threads_chart(report).map(Chart::Bars),
            "efficiency" => efficiency_chart(report).map(Chart::Bars),
            other => unreachable!("CHARTS lists only charts drawn here, not {other}"),
        };
        out.not_drawn.extend(skipped);
        match chart {
            Ok(chart) => {
                out.written
                    .extend(write_chart(plots_dir, info.name, &chart)?);
                out.charts.push(info.name);
            }
            Err(reason) => out.not_drawn.push(NotDrawn {
                output: format!("plots/{}", info.name),
                reason,
            }),
        }
    }
    Ok(out)
}

/// Registers the embedded font exactly once per process. plotters keeps fonts in a global
/// table; registering again would only replace the entry, but there is no reason to parse the
/// TTF more than once.
pub(crate) fn register_font_once() -> Result<(), RenderError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(RenderError::Font)
    }
}

// ---------------------------------------------------------------------------------------------
// Chart models: plain data built from the report, drawn by one generic routine each.

enum Chart {
    Bars(BarChart),
    Lines(LineChart),
}

impl Chart {
    fn size(&self) -> (u32, u32) {
        match self {
            Chart::Bars(c) => c.size,
            Chart::Lines(_) => (WIDTH, HEIGHT),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        match self {
            Chart::Bars(c) => c.draw(root),
            Chart::Lines(c) => c.draw(root),
        }
    }
}

#[derive(Debug, Clone)]
struct LegendEntry {
    label: String,
    color: RGBColor,
    kind: LegendKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LegendKind {
    Box,
    Line,
    Dashed,
}

/// Horizontal bars, one row per case (so long case ids stay readable as y labels), each row
/// holding one or more bars (one per worker for the threads chart).
#[derive(Debug, Clone)]
struct BarChart {
    title: String,
    subtitle: String,
    x_desc: String,
    size: (u32, u32),
    rows: Vec<BarRow>,
    /// A dashed vertical line at this value, with its label (e.g. the ceiling at 1.0).
    reference: Option<(f64, String)>,
    legend: Vec<LegendEntry>,
}

#[derive(Debug, Clone)]
struct BarRow {
    label: String,
    bars: Vec<Bar>,
    /// Text right of the row (the value, the imbalance).
    note: String,
}

#[derive(Debug, Clone)]
struct Bar {
    value: f64,
    /// A whisker from low to high (a confidence interval).
    whisker: Option<(f64, f64)>,
    color: RGBColor,
}

/// Lines over numeric axes. Values are in axis space: a log axis holds log10 of the value and
/// its ticks say what they mean.
#[derive(Debug, Clone)]
struct LineChart {
    title: String,
    subtitle: String,
    x: Axis,
    y: Axis,
    series: Vec<Series>,
    legend: Vec<LegendEntry>,
}

#[derive(Debug, Clone)]
struct Axis {
    desc: String,
    range: (f64, f64),
    /// Labelled ticks (also the bold grid lines).
    ticks: Vec<(f64, String)>,
    /// Unlabelled light grid lines (minor ticks of a log axis).
    minor: Vec<f64>,
}

#[derive(Debug, Clone)]
struct Series {
    color: RGBColor,
    points: Vec<(f64, f64)>,
    dashed: bool,
    markers: bool,
    /// Vertical whiskers (x, low, high).
    whiskers: Vec<(f64, f64, f64)>,
}

// ---------------------------------------------------------------------------------------------
// From the report to chart models. Err(reason) = not drawn.

const MEGA: f64 = 1e6;

fn no_cases(report: &Report) -> Result<(), String> {
    if report.cases.is_empty() {
        Err("the report has no measured cases".into())
    } else {
        Ok(())
    }
}

/// Height for `rows` bar rows: at least the default, and ~30 px per row so labels never touch.
fn bar_height(rows: usize) -> u32 {
    HEIGHT.max(170 + 30 * rows as u32)
}

/// Distinct values in first-seen order, with their palette colours.
fn color_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<(String, RGBColor)> {
    let mut seen: Vec<(String, RGBColor)> = Vec::new();
    for k in keys {
        if !seen.iter().any(|(s, _)| s == k) {
            let c = color(seen.len());
            seen.push((k.to_string(), c));
        }
    }
    seen
}

fn lookup(keys: &[(String, RGBColor)], key: &str) -> RGBColor {
    keys.iter()
        .find(|(k, _)| k == key)
        .map_or(color(0), |(_, c)| *c)
}

fn hashrate_chart(report: &Report) -> Result<BarChart, String> {
    no_cases(report)?;
    let backends = color_keys(report.cases.iter().map(|c| c.backend.name()));
    let rows = report
        .cases
        .iter()
        .map(|c| BarRow {
            label: c.id.clone(),
            bars: vec![Bar {
                value: c.hash_rate.median / MEGA,
                whisker: Some((c.hash_rate.ci95_low / MEGA, c.hash_rate.ci95_high / MEGA)),
                color: lookup(&backends, c.backend.name()),
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
        legend: backend_legend(&backends),
    })
}

fn backend_legend(backends: &[(String, RGBColor)]) -> Vec<LegendEntry> {
    backends
        .iter()
        .map(|(name, c)| LegendEntry {
            label: name.clone(),
            color: *c,
            kind: LegendKind::Box,
        })
        .collect()
}

/// One line of the scaling chart: a backend+scheduler+difficulty, its cases by thread count.
struct ScalingGroup<'a> {
    label: String,
    cases: Vec<&'a CaseReport>,
}

fn scaling_groups(report: &Report) -> Vec<ScalingGroup<'_>> {
    let mut groups: Vec<ScalingGroup<'_>> = Vec::new();
    for c in &report.cases {
        let label = format!(
            "{}/{}/{}",
            c.backend.name(),
            c.scheduler.name(),
            c.difficulty.label()
        );
        match groups.iter_mut().find(|g| g.label == label) {
            Some(g) => g.cases.push(c),
            None => groups.push(ScalingGroup {
                label,
                cases: vec![c],
            }),
        }
    }
    for g in &mut groups {
        g.cases.sort_by_key(|c| c.threads);
        g.cases.dedup_by_key(|c| c.threads);
    }
    groups.retain(|g| g.cases.len() >= 2);
    groups
}

fn scaling_chart(report: &Report) -> Result<LineChart, String> {
    no_cases(report)?;
    let groups = scaling_groups(report);
    if groups.is_empty() {
        return Err("no backend+scheduler+difficulty has cases at 2 or more thread counts".into());
    }
    let mut series = Vec::new();
    let mut legend = Vec::new();
    let mut threads: Vec<usize> = Vec::new();
    let mut y_max: f64 = 0.0;
    let mut any_ideal = false;
    for (i, g) in groups.iter().enumerate() {
        let c = color(i);
        let points: Vec<(f64, f64)> = g
            .cases
            .iter()
            .map(|k| (k.threads as f64, k.hash_rate.median / MEGA))
            .collect();
        let whiskers: Vec<(f64, f64, f64)> = g
            .cases
            .iter()
            .map(|k| {
                (
                    k.threads as f64,
                    k.hash_rate.ci95_low / MEGA,
                    k.hash_rate.ci95_high / MEGA,
                )
            })
            .collect();
        threads.extend(g.cases.iter().map(|k| k.threads));
        y_max = whiskers.iter().fold(y_max, |m, w| m.max(w.2));
        series.push(Series {
            color: c,
            points,
            dashed: false,
            markers: true,
            whiskers,
        });
        let one = g.cases.iter().find(|k| k.threads == 1);
        let mut label = g.label.clone();
        if let Some(one) = one {
            let m1 = one.hash_rate.median / MEGA;
            let ideal: Vec<(f64, f64)> = g
                .cases
                .iter()
                .map(|k| (k.threads as f64, k.threads as f64 * m1))
                .collect();
            y_max = ideal.iter().fold(y_max, |m, p| m.max(p.1));
            any_ideal = true;
            series.push(Series {
                color: c,
                points: ideal,
                dashed: true,
                markers: false,
                whiskers: Vec::new(),
            });
        } else {
            label.push_str(" (no 1-thread case: no ideal line)");
        }
        legend.push(LegendEntry {
            label,
            color: c,
            kind: LegendKind::Line,
        });
    }
    if any_ideal {
        legend.push(LegendEntry {
            label: "ideal: threads × 1-thread median".into(),
            color: RGBColor(90, 90, 90),
            kind: LegendKind::Dashed,
        });
    }
    threads.sort_unstable();
    threads.dedup();
    let t_min = threads[0] as f64;
    let t_max = *threads
        .last()
        .expect("groups are non-empty, each with ≥ 2 cases") as f64;
    // Pad so the end points and their whiskers are not on the frame.
    let pad = ((t_max - t_min) * 0.08).max(0.2);
    let x = Axis {
        desc: "worker threads".into(),
        range: ((t_min - pad).max(0.0), t_max + pad),
        ticks: threads.iter().map(|&t| (t as f64, t.to_string())).collect(),
        minor: Vec::new(),
    };
    let y = linear_axis("hash rate (MH/s)", y_max * 1.08);
    Ok(LineChart {
        title: "Thread scaling".into(),
        subtitle: "median hash rate with 95 % CI; dashed = ideal linear scaling".into(),
        x,
        y,
        series,
        legend,
    })
}

/// Nines of the largest percentile drawn: 4 = p99.99.
const MAX_NINES: f64 = 4.0;
/// Points per curve (evenly spaced in nines).
const LATENCY_POINTS: usize = 200;

/// `x = −log10(1 − p/100)`: 0 → p0, 1 → p90, 2 → p99, ...
fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

fn latency_chart(report: &Report, skipped: &mut Vec<NotDrawn>) -> Result<LineChart, String> {
    no_cases(report)?;
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for c in &report.cases {
        let Some(batch) = &c.latency.batch else {
            continue;
        };
        if batch.count == 0 {
            continue;
        }
        let h = match crate::probe::latency::decode(&batch.histogram_b64) {
            Ok(h) => h,
            Err(e) => {
                skipped.push(NotDrawn {
                    output: format!("plots/latency: case {}", c.id),
                    reason: format!("batch histogram: {e}"),
                });
                continue;
            }
        };
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
        curves.push((c.id.clone(), points));
    }
    if curves.is_empty() {
        return Err("no case has a batch-latency histogram".into());
    }
    let all = || curves.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y));
    // 1 ns is the histogram's lowest trackable value: the floor of a log axis.
    let lo = all().fold(f64::INFINITY, f64::min).max(1e-3);
    let hi = all().fold(0.0, f64::max).max(lo);
    let log = hi / lo > 100.0;
    let y = if log {
        log_axis("batch latency (µs, log scale)", lo, hi)
    } else {
        linear_axis("batch latency (µs)", hi * 1.08)
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
    let mut series = Vec::new();
    let mut legend = Vec::new();
    for (i, (id, points)) in curves.into_iter().enumerate() {
        let points = if log {
            points
                .into_iter()
                .map(|(x, y)| (x, y.max(lo).log10()))
                .collect()
        } else {
            points
        };
        series.push(Series {
            color: color(i),
            points,
            dashed: false,
            markers: false,
            whiskers: Vec::new(),
        });
        legend.push(LegendEntry {
            label: id,
            color: color(i),
            kind: LegendKind::Line,
        });
    }
    Ok(LineChart {
        title: "Batch latency percentiles".into(),
        subtitle: "time inside one backend call, all workers merged; a curve ends at the \
                   highest percentile its sample count resolves"
            .into(),
        x,
        y,
        series,
        legend,
    })
}

/// Up to this many workers get one legend entry each; above it the legend says what a bar is.
const MAX_WORKER_LEGEND: usize = 12;

fn threads_chart(report: &Report) -> Result<BarChart, String> {
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
        legend,
    })
}

fn efficiency_chart(report: &Report) -> Result<BarChart, String> {
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
    let backends = color_keys(cases.iter().map(|(c, _)| c.backend.name()));
    let rows: Vec<BarRow> = cases
        .iter()
        .map(|(c, e)| BarRow {
            label: c.id.clone(),
            bars: vec![Bar {
                value: *e,
                whisker: None,
                color: lookup(&backends, c.backend.name()),
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
        legend: backend_legend(&backends),
    })
}

// ---------------------------------------------------------------------------------------------
// Axes and number formatting.

/// A tick step of 1, 2, 2.5 or 5 × 10^k giving about `target` intervals over `span`.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// `0 ..= max` with ~6 nicely spaced labelled ticks.
fn linear_axis(desc: &str, max: f64) -> Axis {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let step = nice_step(max, 6);
    let ticks = (0..)
        .map(|i| i as f64 * step)
        .take_while(|&v| v <= max * (1.0 + 1e-9))
        .map(|v| (v, fmt_num(v)))
        .collect();
    Axis {
        desc: desc.into(),
        range: (0.0, max),
        ticks,
        minor: Vec::new(),
    }
}

/// A log10 axis over whole decades covering `lo ..= hi` (both > 0): ticks at each decade,
/// light lines at 2..9 × each decade.
fn log_axis(desc: &str, lo: f64, hi: f64) -> Axis {
    let d0 = lo.log10().floor();
    let mut d1 = hi.log10().ceil();
    if d1 <= d0 {
        d1 = d0 + 1.0;
    }
    let decades = (d0 as i32)..=(d1 as i32);
    let ticks = decades
        .clone()
        .map(|d| (d as f64, fmt_num(10f64.powi(d))))
        .collect();
    let minor = decades
        .filter(|&d| (d as f64) < d1)
        .flat_map(|d| (2..10).map(move |m| d as f64 + (m as f64).log10()))
        .collect();
    Axis {
        desc: desc.into(),
        range: (d0, d1),
        ticks,
        minor,
    }
}

/// A number for a label: no exponent, at most 3 significant decimals, no trailing zeros.
pub(crate) fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_nan() { "-".into() } else { "0".into() };
    }
    let a = v.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // Three significant digits below 1: 0.123, 0.0123, ...
        (2 - a.log10().floor() as i32).clamp(0, 9) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A linear f64 axis whose grid lines and labels sit exactly at the given values. plotters'
/// `with_key_points` wrapper loses the f64 label formatter (its format option has no default),
/// so this is the ten-line equivalent that keeps `configure_mesh` and custom labels working.
#[derive(Debug, Clone)]
struct TickedAxis {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl TickedAxis {
    fn new(range: (f64, f64), bold: Vec<f64>, light: Vec<f64>) -> TickedAxis {
        TickedAxis {
            lo: range.0,
            hi: range.1,
            bold,
            light,
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span == 0.0 || !span.is_finite() {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.lo) / span;
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

fn tick_label(ticks: &[(f64, String)], v: f64) -> String {
    ticks
        .iter()
        .find(|(t, _)| (t - v).abs() < 1e-9 * t.abs().max(1.0))
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Drawing. Every function is generic over the backend so SVG and PNG are the same picture.

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Text in the embedded font. Use even sizes: plotters' ab_glyph rasteriser places each glyph
/// at `trunc(size / 2 + glyph top)`, and with an odd size that truncation rounds tall and short
/// glyphs differently, lifting a decimal point a pixel above the baseline in the PNGs.
pub(crate) fn font(size: u32) -> TextStyle<'static> {
    debug_assert!(
        size.is_multiple_of(2),
        "odd font sizes misplace small glyphs in PNGs"
    );
    TextStyle::from((FONT, size).into_font())
}

/// Title and subtitle centred at the top; returns the area below them.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Top);
    root.draw_text(title, &font(24).pos(centre), (w as i32 / 2, 12))
        .map_err(err)?;
    root.draw_text(
        subtitle,
        &font(14).color(&RGBColor(80, 80, 80)).pos(centre),
        (w as i32 / 2, 44),
    )
    .map_err(err)?;
    Ok(root.margin(70, 0, 0, 0))
}

type Area<DB> = DrawingArea<DB, Shift>;

/// Splits a legend panel off the right of `area` if there is a legend; the panel is as wide as
/// the longest label needs, but at most 40 % of the picture.
fn split_legend<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    legend: &[LegendEntry],
) -> Result<(Area<DB>, Option<Area<DB>>), String> {
    if legend.is_empty() {
        return Ok((area, None));
    }
    let (w, _) = area.dim_in_pixel();
    let style = font(14);
    let mut text_w = 0;
    for e in legend {
        text_w = text_w.max(area.estimate_text_size(&e.label, &style).map_err(err)?.0);
    }
    let panel = (text_w + 70).min(w * 2 / 5);
    let (plot, panel_area) = area.split_horizontally(w - panel);
    Ok((plot, Some(panel_area)))
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    legend: &[LegendEntry],
) -> Result<(), String> {
    let (_, h) = area.dim_in_pixel();
    // Shrink the rows rather than drop entries when there are many.
    let row = ((h as i32 - 40) / legend.len().max(1) as i32).clamp(10, 24);
    let style = font(if row < 18 { 12 } else { 14 }).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in legend.iter().enumerate() {
        let y = 30 + i as i32 * row;
        match e.kind {
            LegendKind::Box => area
                .draw(&Rectangle::new(
                    [(12, y - 6), (36, y + 6)],
                    e.color.filled(),
                ))
                .map_err(err)?,
            LegendKind::Line => area
                .draw(&PathElement::new(
                    vec![(8, y), (40, y)],
                    e.color.stroke_width(3),
                ))
                .map_err(err)?,
            LegendKind::Dashed => {
                for x in [8, 20, 32] {
                    area.draw(&PathElement::new(
                        vec![(x, y), (x + 8, y)],
                        e.color.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            }
        }
        area.draw_text(&e.label, &style, (48, y)).map_err(err)?;
    }
    Ok(())
}

impl BarChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let (plot, legend) = split_legend(body, &self.legend)?;
        if let Some(panel) = &legend {
            draw_legend(panel, &self.legend)?;
        }
        let n = self.rows.len();
        let label_style = font(14);
        let mut label_w = 0;
        for r in &self.rows {
            label_w = label_w.max(
                plot.estimate_text_size(&r.label, &label_style)
                    .map_err(err)?
                    .0,
            );
        }
        let data_max = self
            .rows
            .iter()
            .flat_map(|r| r.bars.iter())
            .map(|b| b.whisker.map_or(b.value, |(_, hi)| hi.max(b.value)))
            .chain(self.reference.iter().map(|(v, _)| *v))
            .fold(0.0, f64::max);
        // Room right of the longest bar for its note.
        let x_max = if data_max > 0.0 { data_max * 1.22 } else { 1.0 };
        // Row k (0 = first case) is drawn at y = n-1-k, so the first case is at the top.
        let y_of = |k: usize| (n - 1 - k) as f64;
        let keys: Vec<f64> = (0..n).map(y_of).collect();
        let labels: Vec<(f64, String)> = self
            .rows
            .iter()
            .enumerate()
            .map(|(k, r)| (y_of(k), r.label.clone()))
            .collect();
        let x_axis = linear_axis("", x_max);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(label_w + 16)
            .build_cartesian_2d(
                TickedAxis::new(
                    (0.0, x_max),
                    x_axis.ticks.iter().map(|t| t.0).collect(),
                    Vec::new(),
                ),
                TickedAxis::new((-0.5, n as f64 - 0.5), keys, Vec::new()),
            )
            .map_err(err)?;
        let x_fmt = |v: &f64| tick_label(&x_axis.ticks, *v);
        let y_fmt = |v: &f64| tick_label(&labels, *v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(self.x_desc.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(font(14))
            .axis_desc_style(font(16))
            .draw()
            .map_err(err)?;

        // Under the bars and notes, so a note next to the line stays readable.
        if let Some((v, label)) = &self.reference {
            let grey = RGBColor(110, 110, 110);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(*v, -0.5), (*v, n as f64 - 0.5)],
                    8,
                    5,
                    grey.stroke_width(2),
                ))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (*v, n as f64 - 0.5),
                    font(14)
                        .color(&grey)
                        .pos(Pos::new(HPos::Left, VPos::Bottom)),
                )))
                .map_err(err)?;
        }
        let note_style = font(14).pos(Pos::new(HPos::Left, VPos::Center));
        let (plot_w, plot_h) = chart.plotting_area().dim_in_pixel();
        let px_to_x = x_max / f64::from(plot_w.max(1));
        let px_to_y = n as f64 / f64::from(plot_h.max(1));
        for (k, row) in self.rows.iter().enumerate() {
            let yc = y_of(k);
            // 76 % of the row, but not fat slabs when there are only a few rows.
            let bars = row.bars.len().max(1) as f64;
            let band = 0.76f64.min((26.0 + 14.0 * bars) * px_to_y);
            let h = band / bars;
            let mut right = 0.0f64;
            for (j, bar) in row.bars.iter().enumerate() {
                let top = yc + band / 2.0 - j as f64 * h;
                let bottom = top - h * 0.88;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, bottom), (bar.value.max(0.0), top)],
                        bar.color.filled(),
                    )))
                    .map_err(err)?;
                right = right.max(bar.value);
                if let Some((lo, hi)) = bar.whisker {
                    let ym = (top + bottom) / 2.0;
                    let cap = (h * 0.25).min(0.15).min(7.0 * px_to_y);
                    let style = BLACK.stroke_width(2);
                    chart
                        .draw_series([
                            PathElement::new(vec![(lo, ym), (hi, ym)], style),
                            PathElement::new(vec![(lo, ym - cap), (lo, ym + cap)], style),
                            PathElement::new(vec![(hi, ym - cap), (hi, ym + cap)], style),
                        ])
                        .map_err(err)?;
                    right = right.max(hi);
                }
            }
            // A white box behind the note keeps it readable over a grid or reference line.
            let x0 = right + x_max * 0.012;
            let note_w = plot
                .estimate_text_size(&row.note, &note_style)
                .map_err(err)?
                .0 as f64
                * px_to_x;
            chart
                .draw_series([Rectangle::new(
                    [
                        (x0, yc - 10.0 * px_to_y),
                        (x0 + note_w, yc + 10.0 * px_to_y),
                    ],
                    WHITE.filled(),
                )])
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    row.note.clone(),
                    (x0, yc),
                    note_style.clone(),
                )))
                .map_err(err)?;
        }
        Ok(())
    }
}

impl LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let (plot, legend) = split_legend(body, &self.legend)?;
        if let Some(panel) = &legend {
            draw_legend(panel, &self.legend)?;
        }
        let key = |a: &Axis| a.ticks.iter().map(|t| t.0).collect::<Vec<_>>();
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(25)
            .x_label_area_size(55)
            .y_label_area_size(70)
            .build_cartesian_2d(
                TickedAxis::new(self.x.range, key(&self.x), self.x.minor.clone()),
                TickedAxis::new(self.y.range, key(&self.y), self.y.minor.clone()),
            )
            .map_err(err)?;
        let x_fmt = |v: &f64| tick_label(&self.x.ticks, *v);
        let y_fmt = |v: &f64| tick_label(&self.y.ticks, *v);
        chart
            .configure_mesh()
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(RGBColor(240, 240, 240))
            .x_desc(self.x.desc.as_str())
            .y_desc(self.y.desc.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(font(14))
            .axis_desc_style(font(16))
            .draw()
            .map_err(err)?;
        for s in &self.series {
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(
                        s.points.clone(),
                        10,
                        6,
                        s.color.stroke_width(2),
                    ))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(s.points.clone(), s.color.stroke_width(3)))
                    .map_err(err)?;
            }
            if s.markers {
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|&p| Circle::new(p, 5, s.color.filled())),
                    )
                    .map_err(err)?;
            }
            let cap = (self.x.range.1 - self.x.range.0) * 0.008;
            for &(x, lo, hi) in &s.whiskers {
                let style = s.color.stroke_width(2);
                chart
                    .draw_series([
                        PathElement::new(vec![(x, lo), (x, hi)], style),
                        PathElement::new(vec![(x - cap, lo), (x + cap, lo)], style),
                        PathElement::new(vec![(x - cap, hi), (x + cap, hi)], style),
                    ])
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

/// Draws `chart` as `<dir>/<name>.svg` and `<dir>/<name>.png`, both written atomically.
fn write_chart(dir: &Path, name: &str, chart: &Chart) -> Result<Vec<PathBuf>, RenderError> {
    let plot_err = |message: String| RenderError::Plot {
        chart: name.to_string(),
        message,
    };
    let size = chart.size();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        chart.draw(&root).map_err(plot_err)?;
        root.present().map_err(|e| plot_err(e.to_string()))?;
    }
    let svg_path = dir.join(format!("{name}.svg"));
    write_atomic(&svg_path, svg.as_bytes()).map_err(|source| RenderError::Write {
        path: svg_path.clone(),
        source,
    })?;

    // Drawn into memory and encoded here, so the only file operation is the atomic write: a
    // full disk then reads "plots/x.png: cannot write: No space left on device", not the image
    // crate's debug dump without a path.
    let png_path = dir.join(format!("{name}.png"));
    let (w, h) = size;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        chart.draw(&root).map_err(plot_err)?;
        root.present().map_err(|e| plot_err(e.to_string()))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| plot_err(format!("PNG encoding: {e}")))?;
    write_atomic(&png_path, &png).map_err(|source| RenderError::Write {
        path: png_path.clone(),
        source,
    })?;
    Ok(vec![svg_path, png_path])
}

/// An 8-bit RGB buffer as PNG bytes.
pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_num_is_short_and_exponent_free() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(250.0), "250");
        assert_eq!(fmt_num(0.00123456), "0.00123");
        assert_eq!(fmt_num(99.99), "100");
        assert_eq!(fmt_num(99.9), "99.9");
        assert_eq!(fmt_num(1e7), "10000000");
    }

    #[test]
    fn nines_axis_positions() {
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.99) - 4.0).abs() < 1e-9);
        assert_eq!(nines(0.0), 0.0);
    }

    #[test]
    fn linear_axis_ticks_cover_the_range_with_nice_steps() {
        let a = linear_axis("x", 13.7);
        let values: Vec<f64> = a.ticks.iter().map(|t| t.0).collect();
        assert_eq!(values.first(), Some(&0.0));
        assert!(*values.last().unwrap() <= 13.7);
        assert!(values.len() >= 4 && values.len() <= 8, "{values:?}");
        let step = values[1] - values[0];
        assert!([1.0, 2.0, 2.5, 5.0].contains(&step), "{step}");
    }

    #[test]
    fn log_axis_spans_whole_decades() {
        let a = log_axis("y", 3.2, 4500.0);
        assert_eq!(a.range, (0.0, 4.0));
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["1", "10", "100", "1000", "10000"]);
        assert_eq!(a.minor.len(), 4 * 8);
    }
}
