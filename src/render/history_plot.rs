//! The chart of one history series (`minebench history --plot DIR`): the median rate of each
//! run in series order, the mean of each segment between change points as a flat line, and each
//! change point as a dashed vertical line labelled with its change. SVG and PNG, like every
//! chart (see `plots.rs` for why both, and for the embedded font).
//!
//! Owns: drawing. Must not: compute statistics — the segment means are the change points' own
//! `mean_before` / `mean_after`, as the detection reported them.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plots::{encode_png, font, register_font_once};
use super::RenderError;
use crate::output::write_atomic;
use crate::report::history::Analysed;

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 500;
const MEGA: f64 = 1e6;
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const CHANGE: RGBColor = RGBColor(214, 39, 40);

/// Draws `a` as `<dir>/<stem>.svg` and `<dir>/<stem>.png`; returns the two paths.
pub fn write(a: &Analysed, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, RenderError> {
    register_font_once()?;
    let plot_err = |message: String| RenderError::Plot {
        chart: format!("history {stem}"),
        message,
    };
    let size = (WIDTH, HEIGHT);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(a, &root).map_err(plot_err)?;
        root.present().map_err(|e| plot_err(e.to_string()))?;
    }
    let svg_path = dir.join(format!("{stem}.svg"));
    write_atomic(&svg_path, svg.as_bytes()).map_err(|source| RenderError::Write {
        path: svg_path.clone(),
        source,
    })?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(a, &root).map_err(plot_err)?;
        root.present().map_err(|e| plot_err(e.to_string()))?;
    }
    let png =
        encode_png(&rgb, WIDTH, HEIGHT).map_err(|e| plot_err(format!("PNG encoding: {e}")))?;
    let png_path = dir.join(format!("{stem}.png"));
    write_atomic(&png_path, &png).map_err(|source| RenderError::Write {
        path: png_path.clone(),
        source,
    })?;
    Ok(vec![svg_path, png_path])
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn draw<DB: DrawingBackend>(a: &Analysed, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let s = &a.series;
    let (w, _) = root.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Top);
    root.draw_text(&s.case_id, &font(22).pos(centre), (w as i32 / 2, 10))
        .map_err(err)?;
    let subtitle = format!(
        "{} ({} metric), {} points, {} change point(s)",
        s.machine,
        s.metric.name(),
        s.points.len(),
        a.change_points.len()
    );
    root.draw_text(
        &subtitle,
        &font(12).color(&RGBColor(80, 80, 80)).pos(centre),
        (w as i32 / 2, 40),
    )
    .map_err(err)?;
    let area = root.margin(62, 10, 10, 20);

    let values: Vec<f64> = s.points.iter().map(|p| p.value / MEGA).collect();
    let n = values.len().max(1);
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.01).max(1e-9);
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let x_max = (n as f64 - 0.5).max(0.5);
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..x_max, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(WHITE)
        .x_desc("run (series order)")
        .y_desc(match s.metric {
            crate::report::Metric::Wall => "median MH/s",
            crate::report::Metric::Cpu => "median MH/s per CPU second",
        })
        .x_label_formatter(&|v: &f64| format!("{v:.0}"))
        .y_label_formatter(&|v: &f64| format!("{v:.3}"))
        .label_style(font(14))
        .axis_desc_style(font(16))
        .draw()
        .map_err(err)?;

    // Segment means first, under the data.
    let mut bounds = vec![0usize];
    bounds.extend(a.change_points.iter().map(|c| c.index));
    bounds.push(values.len());
    for (k, pair) in bounds.windows(2).enumerate() {
        let mean = if k < a.change_points.len() {
            a.change_points[k].mean_before
        } else if let Some(last) = a.change_points.last() {
            last.mean_after
        } else {
            continue;
        } / MEGA;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(pair[0] as f64 - 0.4, mean), (pair[1] as f64 - 0.6, mean)],
                ORANGE.stroke_width(3),
            )))
            .map_err(err)?;
    }
    for cp in &a.change_points {
        let x = cp.index as f64 - 0.5;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, lo), (x, hi)],
                8,
                5,
                CHANGE.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("#{} {:+.1} %", cp.index, cp.change_pct()),
                (x, hi),
                font(14).color(&CHANGE).pos(Pos::new(HPos::Left, VPos::Top)),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(LineSeries::new(
            values.iter().enumerate().map(|(i, v)| (i as f64, *v)),
            BLUE.stroke_width(1),
        ))
        .map_err(err)?;
    chart
        .draw_series(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Circle::new((i as f64, *v), 4, BLUE.filled())),
        )
        .map_err(err)?;
    Ok(())
}
