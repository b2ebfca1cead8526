//! The console summary table printed at the end of a run (and by `render`).

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
        "{:<id_width$}  {:>10}  {:>21}  {:>6}  {:>7}  {:>13}\n",
        "case", "MH/s", "95% CI", "cv %", "scaling", "shares f/exp"
    ));
    for c in &report.cases {
        let scaling = c
            .efficiency
            .scaling
            .map(|s| format!("{s:.3}"))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<id_width$}  {:>10.3}  {:>10.3}..{:<10.3} {:>6.2}  {:>7}  {:>6}/{:<6.1}{}\n",
            c.id,
            c.hash_rate.median / 1e6,
            c.hash_rate.ci95_low / 1e6,
            c.hash_rate.ci95_high / 1e6,
            c.hash_rate.cv * 100.0,
            scaling,
            c.shares.found,
            c.shares.expected,
            if c.shares.plausible { "" } else { " (!)" },
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
