//! The chart model: plain data (bars per row, lines over axes, legends) that a chart file
//! builds from a report or a comparison, and the one generic routine per kind that draws it.
//! Every function is generic over the plotters backend, so the SVG and the PNG are the same
//! picture.
//!
//! Owns: layout and drawing. Must not: know about reports — the chart files turn report fields
//! into these values.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{linear_axis, span_axis, tick_label, Axis, TickedAxis};
use super::font;

#[derive(Debug, Clone)]
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) kind: LegendKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum LegendKind {
    Box,
    Line,
    Dashed,
}

/// Horizontal bars, one row per case (so long case ids stay readable as y labels), each row
/// holding one or more bars (one per worker for the threads chart).
#[derive(Debug, Clone)]
pub(super) struct BarChart {
    pub(super) title: String,
    pub(super) subtitle: String,
    pub(super) x_desc: String,
    pub(super) size: (u32, u32),
    pub(super) rows: Vec<BarRow>,
    /// A dashed vertical line at this value, with its label (e.g. the ceiling at 1.0).
    pub(super) reference: Option<(f64, String)>,
    pub(super) legend: Vec<LegendEntry>,
    /// The x range, when not `0 ..` the data (a change axis has negative values).
    pub(super) x_range: Option<(f64, f64)>,
    /// Shaded vertical bands under everything (a noise threshold).
    pub(super) bands: Vec<Band>,
}

/// A shaded x interval across every row.
#[derive(Debug, Clone)]
pub(super) struct Band {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) color: RGBColor,
}

#[derive(Debug, Clone)]
pub(super) struct BarRow {
    pub(super) label: String,
    pub(super) bars: Vec<Bar>,
    /// Text right of the row (the value, the imbalance).
    pub(super) note: String,
}

#[derive(Debug, Clone)]
pub(super) struct Bar {
    pub(super) value: f64,
    /// A whisker from low to high (a confidence interval).
    pub(super) whisker: Option<(f64, f64)>,
    pub(super) color: RGBColor,
    /// How the value is marked: a bar from 0, or a dot (a forest plot's point estimate).
    pub(super) mark: Mark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    Bar,
    Dot,
}

/// Lines over numeric axes. Values are in axis space: a log axis holds log10 of the value and
/// its ticks say what they mean.
#[derive(Debug, Clone)]
pub(super) struct LineChart {
    pub(super) title: String,
    pub(super) subtitle: String,
    pub(super) x: Axis,
    pub(super) y: Axis,
    pub(super) series: Vec<Series>,
    pub(super) legend: Vec<LegendEntry>,
}

#[derive(Debug, Clone)]
pub(super) struct Series {
    pub(super) color: RGBColor,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) dashed: bool,
    pub(super) markers: bool,
    /// Vertical whiskers (x, low, high).
    pub(super) whiskers: Vec<(f64, f64, f64)>,
}

pub(super) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Title and subtitle centred at the top; returns the area below them.
pub(super) fn titled<DB: DrawingBackend>(
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

pub(super) type Area<DB> = DrawingArea<DB, Shift>;

/// Splits a legend panel off the right of `area` if there is a legend; the panel is as wide as
/// the longest label needs, but at most 40 % of the picture.
pub(super) fn split_legend<DB: DrawingBackend>(
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

pub(super) fn draw_legend<DB: DrawingBackend>(
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
    pub(super) fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
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
        let (x_min, x_max) = self
            .x_range
            .unwrap_or((0.0, if data_max > 0.0 { data_max * 1.22 } else { 1.0 }));
        let x_span = x_max - x_min;
        // Row k (0 = first case) is drawn at y = n-1-k, so the first case is at the top.
        let y_of = |k: usize| (n - 1 - k) as f64;
        let keys: Vec<f64> = (0..n).map(y_of).collect();
        let labels: Vec<(f64, String)> = self
            .rows
            .iter()
            .enumerate()
            .map(|(k, r)| (y_of(k), r.label.clone()))
            .collect();
        let x_axis = if x_min == 0.0 {
            linear_axis("", x_max)
        } else {
            span_axis("", x_min, x_max)
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(label_w + 16)
            .build_cartesian_2d(
                TickedAxis::new(
                    (x_min, x_max),
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

        for b in &self.bands {
            chart
                .draw_series([Rectangle::new(
                    [(b.lo.max(x_min), -0.5), (b.hi.min(x_max), n as f64 - 0.5)],
                    b.color.filled(),
                )])
                .map_err(err)?;
        }
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
        let px_to_x = x_span / f64::from(plot_w.max(1));
        let px_to_y = n as f64 / f64::from(plot_h.max(1));
        for (k, row) in self.rows.iter().enumerate() {
            let yc = y_of(k);
            // 76 % of the row, but not fat slabs when there are only a few rows.
            let bars = row.bars.len().max(1) as f64;
            let band = 0.76f64.min((26.0 + 14.0 * bars) * px_to_y);
            let h = band / bars;
            // The note goes right of what the row draws: a bar spans from 0, a dot (a change
            // that may be negative) only its value and whisker. A row without bars (a case
            // with nothing to show) gets its note at the left.
            let mut right = if row.bars.is_empty() {
                x_min
            } else {
                f64::NEG_INFINITY
            };
            for (j, bar) in row.bars.iter().enumerate() {
                let top = yc + band / 2.0 - j as f64 * h;
                let bottom = top - h * 0.88;
                let value = bar.value.clamp(x_min, x_max);
                match bar.mark {
                    Mark::Bar => chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(value.min(0.0), bottom), (value.max(0.0), top)],
                            bar.color.filled(),
                        )))
                        .map_err(err)?,
                    Mark::Dot => chart
                        .draw_series(std::iter::once(Circle::new(
                            (value, (top + bottom) / 2.0),
                            6,
                            bar.color.filled(),
                        )))
                        .map_err(err)?,
                };
                right = right.max(match bar.mark {
                    Mark::Bar => value.max(0.0),
                    Mark::Dot => value,
                });
                if let Some((lo, hi)) = bar.whisker {
                    let (lo, hi) = (lo.clamp(x_min, x_max), hi.clamp(x_min, x_max));
                    let ym = (top + bottom) / 2.0;
                    let cap = (h * 0.25).min(0.15).min(7.0 * px_to_y);
                    // A dot's whisker takes its colour (the verdict); a bar's is black on it.
                    let style = match bar.mark {
                        Mark::Bar => BLACK.stroke_width(2),
                        Mark::Dot => bar.color.stroke_width(2),
                    };
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
            let x0 = right + x_span * 0.012;
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
    pub(super) fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
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
