//! Axes shared by every chart: nice linear ticks, whole-decade log axes, the "nines" percentile
//! axis, and the plotters coordinate that puts grid lines and labels exactly on those ticks.
//!
//! Owns: where ticks go and what they say. Must not: know about reports.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::render::format::fmt_num;

#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) desc: String,
    pub(super) range: (f64, f64),
    /// Labelled ticks (also the bold grid lines).
    pub(super) ticks: Vec<(f64, String)>,
    /// Unlabelled light grid lines (minor ticks of a log axis).
    pub(super) minor: Vec<f64>,
}

/// A tick step of 1, 2, 2.5 or 5 × 10^k giving about `target` intervals over `span`.
pub(super) fn nice_step(span: f64, target: usize) -> f64 {
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
pub(super) fn linear_axis(desc: &str, max: f64) -> Axis {
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

/// `lo ..= hi` (lo may be negative) with ~8 nicely spaced labelled ticks, 0 among them when
/// inside.
pub(super) fn span_axis(desc: &str, lo: f64, hi: f64) -> Axis {
    let (lo, hi) = if lo < hi && lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (-1.0, 1.0)
    };
    let step = nice_step(hi - lo, 8);
    let first = (lo / step).ceil() as i64;
    let ticks = (first..)
        .map(|i| i as f64 * step)
        .take_while(|&v| v <= hi * (1.0 + 1e-9) + 1e-12)
        // -0.0 would print as "-0".
        .map(|v| if v == 0.0 { 0.0 } else { v })
        .map(|v| (v, fmt_num(v)))
        .collect();
    Axis {
        desc: desc.into(),
        range: (lo, hi),
        ticks,
        minor: Vec::new(),
    }
}

/// A log10 axis over whole decades covering `lo ..= hi` (both > 0): ticks at each decade,
/// light lines at 2..9 × each decade.
pub(super) fn log_axis(desc: &str, lo: f64, hi: f64) -> Axis {
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

/// A linear f64 axis whose grid lines and labels sit exactly at the given values. plotters'
/// `with_key_points` wrapper loses the f64 label formatter (its format option has no default),
/// so this is the ten-line equivalent that keeps `configure_mesh` and custom labels working.#[derive(Debug, Clone)]
pub(super) struct TickedAxis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) bold: Vec<f64>,
    pub(super) light: Vec<f64>,
}

impl TickedAxis {
    pub(super) fn new(range: (f64, f64), bold: Vec<f64>, light: Vec<f64>) -> TickedAxis {
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

pub(super) fn tick_label(ticks: &[(f64, String)], v: f64) -> String {
    ticks
        .iter()
        .find(|(t, _)| (t - v).abs() < 1e-9 * t.abs().max(1.0))
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

/// Nines of the largest percentile drawn: 4 = p99.99.
pub(super) const MAX_NINES: f64 = 4.0;

/// `x = −log10(1 − p/100)`: 0 → p0, 1 → p90, 2 → p99, ...
pub(super) fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn span_axis_crosses_zero_on_a_tick() {
        let a = span_axis("x", -12.0, 7.5);
        let values: Vec<f64> = a.ticks.iter().map(|t| t.0).collect();
        assert!(values.contains(&0.0), "{values:?}");
        assert!(
            values[0] >= -12.0 && *values.last().unwrap() <= 7.5,
            "{values:?}"
        );
        assert!(values.len() >= 5 && values.len() <= 12, "{values:?}");
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
        assert!(
            labels.contains(&"0") && !labels.contains(&"-0"),
            "{labels:?}"
        );
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
