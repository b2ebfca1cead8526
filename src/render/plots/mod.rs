//! Charts (plotters), each written as SVG and PNG into a `plots/` directory: those of a report
//! (hash rate per case, thread scaling, batch-latency percentiles, per-thread hashes,
//! efficiency against the ceiling) and those of a comparison of two reports (forest plot of the
//! changes, before/after bars, latency percentiles base vs new).
//!
//! Layout: one file per chart, each a record ([`ChartInfo`]: file name, title, how to read it)
//! and a builder that turns report fields into a chart model or says there is
//! [`NothingToDraw`]; `model.rs` holds that model (bars per row, lines over axes) and the one
//! routine per kind that draws it; `axes.rs` the ticks. A new chart is one file building a
//! `BarChart` or `LineChart`: there is no second plotting path.
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

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{NotDrawn, RenderError};
use crate::output::write_atomic;
use crate::report::compare::Comparison;
use crate::report::Report;

mod axes;
mod before_after;
mod efficiency;
mod forest;
mod hashrate;
mod latency;
mod latency_compare;
mod model;
mod scaling;
mod schedtrace;
mod threads;

use model::{BarChart, LegendEntry, LegendKind, LineChart};

/// DejaVu Sans (free licence, see `assets/DejaVuSans.LICENSE`), the only font the charts use.
const FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
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

/// Why a chart was not drawn (no case has the data it shows...): listed, never silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingToDraw(pub String);

impl From<&str> for NothingToDraw {
    fn from(reason: &str) -> Self {
        NothingToDraw(reason.to_string())
    }
}

impl From<String> for NothingToDraw {
    fn from(reason: String) -> Self {
        NothingToDraw(reason)
    }
}

/// A chart of one report: its record and its builder (which may add per-case problems, such
/// as an undecodable histogram, to the list it is given).
struct ReportChart {
    info: ChartInfo,
    build: fn(&Report, &mut Vec<NotDrawn>) -> Result<Chart, NothingToDraw>,
}

/// The report's charts, in the order the HTML page shows them.
const REPORT_CHARTS: [ReportChart; 6] = [
    ReportChart {
        info: hashrate::INFO,
        build: |r, _| hashrate::build(r).map(Chart::Bars),
    },
    ReportChart {
        info: scaling::INFO,
        build: |r, _| scaling::build(r).map(Chart::Lines),
    },
    ReportChart {
        info: latency::INFO,
        build: |r, skipped| latency::build(r, skipped).map(Chart::Lines),
    },
    ReportChart {
        info: threads::INFO,
        build: |r, _| threads::build(r).map(Chart::Bars),
    },
    ReportChart {
        info: efficiency::INFO,
        build: |r, _| efficiency::build(r).map(Chart::Bars),
    },
    ReportChart {
        info: schedtrace::INFO,
        build: |r, _| schedtrace::build(r).map(Chart::Lines),
    },
];

/// Every chart of a report, in the order the HTML page shows them.
pub const CHARTS: [ChartInfo; 6] = [
    REPORT_CHARTS[0].info,
    REPORT_CHARTS[1].info,
    REPORT_CHARTS[2].info,
    REPORT_CHARTS[3].info,
    REPORT_CHARTS[4].info,
    REPORT_CHARTS[5].info,
];

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
    create_dir(plots_dir)?;
    let mut out = PlotsOutcome::default();
    for chart in REPORT_CHARTS {
        let mut skipped = Vec::new();
        let built = (chart.build)(report, &mut skipped);
        out.not_drawn.extend(skipped);
        out.record(plots_dir, chart.info.name, built)?;
    }
    Ok(out)
}

impl PlotsOutcome {
    /// Writes `built` as `<dir>/<name>.{svg,png}`, or lists it as not drawn with the reason.
    fn record(
        &mut self,
        dir: &Path,
        name: &'static str,
        built: Result<Chart, NothingToDraw>,
    ) -> Result<(), RenderError> {
        match built {
            Ok(chart) => {
                self.written.extend(write_chart(dir, name, &chart)?);
                self.charts.push(name);
            }
            Err(NothingToDraw(reason)) => self.not_drawn.push(NotDrawn {
                output: format!("plots/{name}"),
                reason,
            }),
        }
        Ok(())
    }
}

fn create_dir(dir: &Path) -> Result<(), RenderError> {
    std::fs::create_dir_all(dir).map_err(|source| RenderError::Write {
        path: dir.to_path_buf(),
        source,
    })
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

/// What a comparison's charts are drawn from: the comparison and the two reports it compared
/// (for each side's CIs and latency histograms).
#[derive(Debug, Clone, Copy)]
pub struct ComparedReports<'a> {
    pub comparison: &'a Comparison,
    pub base: &'a Report,
    pub new: &'a Report,
}

/// A chart of a comparison: its record and its builder.
struct CompareChart {
    info: ChartInfo,
    build: fn(&ComparedReports<'_>, &mut Vec<NotDrawn>) -> Result<Chart, NothingToDraw>,
}

/// The comparison's charts, in the order its page shows them.
const COMPARE_CHART_LIST: [CompareChart; 4] = [
    CompareChart {
        info: forest::INFO,
        build: |d, _| forest::build(d.comparison).map(Chart::Bars),
    },
    CompareChart {
        info: before_after::INFO,
        build: |d, _| before_after::build(d).map(Chart::Bars),
    },
    CompareChart {
        info: latency_compare::BATCH,
        build: |d, skipped| {
            latency_compare::build(d, &latency_compare::BATCH_WHICH, skipped).map(Chart::Lines)
        },
    },
    CompareChart {
        info: latency_compare::JOB_SWITCH,
        build: |d, skipped| {
            latency_compare::build(d, &latency_compare::JOB_SWITCH_WHICH, skipped).map(Chart::Lines)
        },
    },
];

/// Every chart of a comparison, in the order its page shows them.
pub const COMPARE_CHARTS: [ChartInfo; 4] = [
    COMPARE_CHART_LIST[0].info,
    COMPARE_CHART_LIST[1].info,
    COMPARE_CHART_LIST[2].info,
    COMPARE_CHART_LIST[3].info,
];

/// Draws every chart of a comparison it has data for into `plots_dir`, as for [`draw_all`].
pub fn draw_comparison(
    data: &ComparedReports<'_>,
    plots_dir: &Path,
) -> Result<PlotsOutcome, RenderError> {
    register_font_once()?;
    create_dir(plots_dir)?;
    let mut out = PlotsOutcome::default();
    for chart in COMPARE_CHART_LIST {
        let mut skipped = Vec::new();
        let built = (chart.build)(data, &mut skipped);
        out.not_drawn.extend(skipped);
        out.record(plots_dir, chart.info.name, built)?;
    }
    Ok(out)
}

/// A chart model ready to draw.
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

const MEGA: f64 = 1e6;

fn no_cases(report: &Report) -> Result<(), NothingToDraw> {
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

/// Distinct values in first-seen order, with their palette colours. Owned strings, so a
/// backend given by `Display` (an enum today, a name string in schema v2) fits as it is.
fn color_keys(keys: impl Iterator<Item = String>) -> Vec<(String, RGBColor)> {
    let mut seen: Vec<(String, RGBColor)> = Vec::new();
    for k in keys {
        if !seen.iter().any(|(s, _)| *s == k) {
            let c = color(seen.len());
            seen.push((k, c));
        }
    }
    seen
}

fn lookup(keys: &[(String, RGBColor)], key: &str) -> RGBColor {
    keys.iter()
        .find(|(k, _)| k == key)
        .map_or(color(0), |(_, c)| *c)
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
