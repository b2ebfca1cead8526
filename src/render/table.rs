//! The console summary table printed at the end of a run (and by `render`).

use super::format::case_cells;
use crate::report::Report;

/// A fixed-width table: one row per case, hash rate with its 95 % CI, scaling, shares.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let id_width = report
        .cases
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!(
        "{:<id_width$}  {:>10}  {:>22}  {:>6}  {:>7}  {:>16}\n",
        "case", "MH/s", "95% CI", "cv %", "scaling", "shares f / exp"
    ));
    for c in &report.cases {
        // The same cells as the HTML page and summary.md (`format::case_cells`).
        let cells = case_cells(c);
        out.push_str(&format!(
            "{:<id_width$}  {:>10}  {:>22}  {:>6}  {:>7}  {:>16}{}\n",
            c.id,
            cells.median,
            cells.ci,
            cells.cv,
            cells.scaling,
            cells.shares,
            if cells.plausible { "" } else { " (!)" },
        ));
    }
    for s in &report.skipped {
        out.push_str(&format!("{:<id_width$}  skipped: {}\n", s.id, s.reason));
    }
    if let Some(o) = &report.profiling.overhead {
        out.push_str(&format!(
            "profiler overhead on {}: {:.2} % ({} interleaved rounds)\n",
            o.case_id, o.overhead_pct, o.rounds
        ));
    }
    if report.interrupted {
        out.push_str("run interrupted: only finished cases are reported\n");
    }
    out
}
