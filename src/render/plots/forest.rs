//! The forest plot of a comparison: one row per matched case, the change of the median rate
//! (new vs base) as a dot with its bootstrap 95 % CI as a whisker, coloured by verdict, over a
//! shaded band of ± the noise threshold; sorted by change, the most slowed first. Cases that
//! were not compared (one side only, skipped) follow as rows that say why.

use plotters::style::RGBColor;

use super::model::{Band, Bar, BarChart, BarRow, LegendEntry, LegendKind, Mark};
use super::{bar_height, ChartInfo, NothingToDraw, WIDTH};
use crate::render::format::{fmt_num, unmatched, verdict_text};
use crate::report::compare::{CaseComparison, Comparison};
use crate::report::stats::Verdict;

pub(super) const INFO: ChartInfo = ChartInfo {
    name: "forest",
    title: "Change per case",
    about: "Change of the median rate, new vs base, per case: the dot is the change, the \
            whisker its bootstrap 95 % CI, the shaded band ± the noise threshold, the colour the \
            verdict. Sorted by change, the most slowed first; cases not compared are listed \
            below them with why.",
};

/// Every verdict in the order the legend lists them, with its colour.
pub(super) const VERDICT_COLORS: [(Verdict, RGBColor); 4] = [
    (Verdict::Slower, RGBColor(214, 39, 40)),
    (Verdict::Faster, RGBColor(44, 160, 44)),
    (Verdict::NoChange, RGBColor(110, 110, 110)),
    (Verdict::Inconclusive, RGBColor(255, 127, 14)),
];

pub(super) fn verdict_color(v: Verdict) -> RGBColor {
    VERDICT_COLORS
        .iter()
        .find(|(w, _)| *w == v)
        .map_or(RGBColor(0, 0, 0), |(_, c)| *c)
}

const BAND: RGBColor = RGBColor(228, 228, 228);

/// The change (in %) a case sorts by: the most negative first, cases without one last.
fn sort_key(c: &CaseComparison) -> f64 {
    c.change.map_or(f64::INFINITY, |ch| ch.change_pct)
}

pub(super) fn build(c: &Comparison) -> Result<BarChart, NothingToDraw> {
    let unmatched = unmatched(c);
    if c.cases.is_empty() && unmatched.is_empty() {
        return Err("neither report has a case".into());
    }
    let mut matched: Vec<&CaseComparison> = c.cases.iter().collect();
    matched.sort_by(|a, b| sort_key(a).total_cmp(&sort_key(b)));
    let threshold_pct = c.threshold * 100.0;
    let (mut lo, mut hi) = (-threshold_pct, threshold_pct);
    let mut rows = Vec::new();
    for x in matched {
        let verdict = verdict_text(x.verdict);
        let (bars, note) = match x.change {
            Some(ch) => {
                lo = lo.min(ch.change_ci95_low_pct).min(ch.change_pct);
                hi = hi.max(ch.change_ci95_high_pct).max(ch.change_pct);
                (
                    vec![Bar {
                        value: ch.change_pct,
                        whisker: Some((ch.change_ci95_low_pct, ch.change_ci95_high_pct)),
                        color: verdict_color(x.verdict),
                        mark: Mark::Dot,
                    }],
                    format!("{:+.2} % {verdict}", ch.change_pct),
                )
            }
            None => (Vec::new(), format!("no change computable: {verdict}")),
        };
        rows.push(BarRow {
            label: x.id.clone(),
            bars,
            note,
        });
    }
    for u in &unmatched {
        rows.push(BarRow {
            label: u.id.clone(),
            bars: Vec::new(),
            note: u.why.clone(),
        });
    }
    if lo == hi {
        (lo, hi) = (-1.0, 1.0);
    }
    let pad = (hi - lo) * 0.08;
    // Room right of the widest whisker for its note ("−12.34 % SLOWER").
    let room = (hi - lo + 2.0 * pad) * 0.45;
    let mut legend: Vec<LegendEntry> = VERDICT_COLORS
        .iter()
        .filter(|(v, _)| c.cases.iter().any(|x| x.verdict == *v))
        .map(|(v, color)| LegendEntry {
            label: verdict_text(*v).to_string(),
            color: *color,
            kind: LegendKind::Box,
        })
        .collect();
    legend.push(LegendEntry {
        label: format!("± {} % noise threshold", fmt_num(threshold_pct)),
        color: BAND,
        kind: LegendKind::Box,
    });
    Ok(BarChart {
        title: "Change per case, new vs base".into(),
        subtitle: format!(
            "{}: median {} rate; whisker = 95 % CI of the change; verdicts at alpha {}",
            c.new.scenario,
            c.metric.name(),
            c.alpha
        ),
        x_desc: "change of the median rate (%)".into(),
        size: (WIDTH, bar_height(rows.len())),
        rows,
        reference: Some((0.0, "0".into())),
        legend,
        x_range: Some((lo - pad, hi + pad + room)),
        bands: vec![Band {
            lo: -threshold_pct,
            hi: threshold_pct,
            color: BAND,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::format::tests::comparison;

    #[test]
    fn rows_sort_by_change_and_cases_not_compared_follow() {
        let mut c = comparison(&[
            ("up", Some(5.0), Verdict::Faster),
            ("none", None, Verdict::Inconclusive),
            ("down", Some(-12.0), Verdict::Slower),
            ("flat", Some(0.3), Verdict::NoChange),
        ]);
        c.only_in_new = vec!["new-only".into()];
        let chart = build(&c).unwrap();
        let labels: Vec<&str> = chart.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["down", "flat", "up", "none", "new-only"]);
        assert_eq!(chart.rows[0].bars[0].color, verdict_color(Verdict::Slower));
        assert_eq!(chart.rows[0].bars[0].whisker, Some((-13.0, -11.0)));
        assert!(chart.rows[3].bars.is_empty() && chart.rows[4].bars.is_empty());
        assert_eq!(chart.rows[4].note, "only in new");
        // The band is the threshold, and the range holds every whisker.
        assert_eq!((chart.bands[0].lo, chart.bands[0].hi), (-2.0, 2.0));
        let (lo, hi) = chart.x_range.unwrap();
        assert!(lo < -13.0 && hi > 6.0, "{lo} {hi}");
    }

    #[test]
    fn nothing_to_draw_without_any_case() {
        assert!(build(&comparison(&[])).is_err());
    }
}
