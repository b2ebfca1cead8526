//! A Go miner's scheduler trace (`GODEBUG=schedtrace`): runnable goroutines waiting (the global
//! run queue plus every P's local queue) over the measured phase, one line per case that has
//! one; dashed, the idle Ps.

use super::axes::{linear_axis, Axis};
use super::model::{LegendEntry, LegendKind, LineChart, Series};
use super::{color, no_cases, ChartInfo, NothingToDraw};
use crate::report::Report;

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "schedtrace",
    title: "Go scheduler trace",
    about: "From an external Go miner run with GODEBUG=schedtrace=1000: goroutines waiting to \
            run (global run queue + every P's local queue, solid) and idle Ps (dashed) over \
            the measured phase, one colour per case.",
};

pub(super) fn build(report: &Report) -> Result<LineChart, NothingToDraw> {
    no_cases(report)?;
    let traced: Vec<_> = report
        .cases
        .iter()
        .filter_map(|c| {
            let t = c.external.as_ref()?.go.as_ref()?.schedtrace.as_ref()?;
            (!t.points.is_empty()).then_some((c, t))
        })
        .collect();
    if traced.is_empty() {
        return Err("no case has a Go scheduler trace (external miners with go_schedtrace)".into());
    }
    let (mut series, mut legend) = (Vec::new(), Vec::new());
    let (mut x_max, mut y_max) = (0.0f64, 0.0f64);
    for (i, (case, trace)) in traced.iter().enumerate() {
        let c = color(i);
        let t0 = trace.points[0].t_ms as f64;
        let at = |p: &crate::probe::go::SchedPoint| (p.t_ms as f64 - t0) / 1e3;
        let waiting: Vec<(f64, f64)> = trace
            .points
            .iter()
            .map(|p| (at(p), f64::from(p.runqueue + p.local.iter().sum::<u32>())))
            .collect();
        let idle: Vec<(f64, f64)> = trace
            .points
            .iter()
            .map(|p| (at(p), f64::from(p.idleprocs)))
            .collect();
        for pts in [&waiting, &idle] {
            x_max = pts.iter().fold(x_max, |m, p| m.max(p.0));
            y_max = pts.iter().fold(y_max, |m, p| m.max(p.1));
        }
        series.push(Series {
            color: c,
            points: waiting,
            dashed: false,
            markers: true,
            whiskers: Vec::new(),
        });
        series.push(Series {
            color: c,
            points: idle,
            dashed: true,
            markers: false,
            whiskers: Vec::new(),
        });
        legend.push(LegendEntry {
            label: case.id.clone(),
            color: c,
            kind: LegendKind::Line,
        });
    }
    let x: Axis = linear_axis("seconds into the measured phase", x_max.max(1.0) * 1.05);
    let y = linear_axis("goroutines waiting / idle Ps", (y_max + 1.0) * 1.1);
    Ok(LineChart {
        title: INFO.title.into(),
        subtitle: "solid: runnable goroutines waiting (global + local queues); dashed: idle Ps"
            .into(),
        x,
        y,
        series,
        legend,
    })
}
