//! Thread scaling: median hash rate against worker threads for each backend + scheduler +
//! difficulty, with the ideal linear line from the 1-thread median.

use plotters::style::RGBColor;

use super::axes::{linear_axis, Axis};
use super::model::{LegendEntry, LegendKind, LineChart, Series};
use super::{color, no_cases, ChartInfo, NothingToDraw, MEGA};
use crate::report::{CaseReport, Report};

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "scaling",
    title: "Thread scaling",
    about: "Median hash rate against worker threads for each backend, scheduler and \
            difficulty; the dashed line is ideal linear scaling from the 1-thread median.",
};

/// One line of the scaling chart: a backend+scheduler+difficulty, its cases by thread count.
struct ScalingGroup<'a> {
    label: String,
    cases: Vec<&'a CaseReport>,
}

fn scaling_groups(report: &Report) -> Vec<ScalingGroup<'_>> {
    let mut groups: Vec<ScalingGroup<'_>> = Vec::new();
    for c in &report.cases {
        let label = c.variant();
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

pub(super) fn build(report: &Report) -> Result<LineChart, NothingToDraw> {
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
