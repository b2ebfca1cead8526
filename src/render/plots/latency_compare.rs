//! Latency percentiles of a comparison, base against new: for every matched case the base
//! run's curve dashed and the new run's solid, in the case's colour, on the same nines axis as
//! a report's latency chart (the curves come from `latency.rs`). One chart for the batch
//! histograms, one for the job-switch histograms.

use plotters::style::RGBColor;

use super::latency::{decode, nines_chart, percentile_curve, Curve};
use super::model::{LegendEntry, LegendKind, LineChart};
use super::{color, ChartInfo, ComparedReports, NothingToDraw};
use crate::probe::latency::LatencySummary;
use crate::render::NotDrawn;
use crate::report::schema::Latency;

pub(super) const BATCH: ChartInfo = ChartInfo {
    name: "latency-batch",
    title: "Batch latency, base vs new",
    about: "Time of one backend call by percentile for each matched case: dashed = base run, \
            solid = new run, one colour per case. A curve ends at the highest percentile its \
            sample count resolves.",
};

pub(super) const JOB_SWITCH: ChartInfo = ChartInfo {
    name: "latency-job-switch",
    title: "Job-switch latency, base vs new",
    about: "Time from a job broadcast until a worker hashes the new job, by percentile: dashed = \
            base run, solid = new run, one colour per case.",
};

/// Which histogram of a case's latencies a chart shows.
pub(super) struct Which {
    pub(super) info: ChartInfo,
    /// For the axis and the title: "batch latency".
    pub(super) what: &'static str,
    pub(super) get: fn(&Latency) -> Option<&LatencySummary>,
    /// Why no case has it, when none has.
    pub(super) none: &'static str,
}

pub(super) const BATCH_WHICH: Which = Which {
    info: BATCH,
    what: "batch latency",
    get: |l| l.batch.as_ref(),
    none: "no matched case has a batch-latency histogram on either side",
};

pub(super) const JOB_SWITCH_WHICH: Which = Which {
    info: JOB_SWITCH,
    what: "job-switch latency",
    get: |l| l.job_switch.as_ref(),
    none: "no matched case has a job-switch histogram on either side (the scenario sets no \
           job_interval)",
};

const GREY: RGBColor = RGBColor(90, 90, 90);

pub(super) fn build(
    d: &ComparedReports<'_>,
    which: &Which,
    skipped: &mut Vec<NotDrawn>,
) -> Result<LineChart, NothingToDraw> {
    let mut curves = Vec::new();
    let mut legend = Vec::new();
    for (i, x) in d.comparison.cases.iter().enumerate() {
        let mut sides = Vec::new();
        for (side, report, dashed) in [("base", d.base, true), ("new", d.new, false)] {
            let Some(summary) = report
                .cases
                .iter()
                .find(|c| c.id == x.id)
                .and_then(|c| (which.get)(&c.latency))
                .filter(|s| s.count > 0)
            else {
                continue;
            };
            match decode(&summary.histogram_b64) {
                Ok(h) => {
                    curves.push(Curve {
                        color: color(i),
                        dashed,
                        points: percentile_curve(&h),
                    });
                    sides.push(side);
                }
                Err(e) => skipped.push(NotDrawn {
                    output: format!("plots/{}: case {} ({side})", which.info.name, x.id),
                    reason: format!("{}: {e}", which.what),
                }),
            }
        }
        if !sides.is_empty() {
            let label = if sides.len() == 2 {
                x.id.clone()
            } else {
                format!("{} ({} only)", x.id, sides[0])
            };
            legend.push(LegendEntry {
                label,
                color: color(i),
                kind: LegendKind::Line,
            });
        }
    }
    if curves.is_empty() {
        return Err(which.none.into());
    }
    legend.push(LegendEntry {
        label: "base run".into(),
        color: GREY,
        kind: LegendKind::Dashed,
    });
    legend.push(LegendEntry {
        label: "new run".into(),
        color: GREY,
        kind: LegendKind::Line,
    });
    Ok(nines_chart(
        which.info.title.into(),
        format!(
            "{} → {}: dashed = base, solid = new; all workers merged",
            d.comparison.base.scenario, d.comparison.new.scenario
        ),
        which.what,
        curves,
        legend,
    ))
}
