//! The per-report `summary.md`: one table row per case, fit for a CI step summary
//! (`$GITHUB_STEP_SUMMARY`), plus skipped cases, profiler overhead and the machine in a line.
//!
//! Owns: the Markdown text. Must not: compute statistics (cells come from the report through
//! [`super::format::case_cells`], so the page and the summary say the same thing), or link to
//! anything: a step summary is read away from the report directory.

use std::fmt::Write as _;

use super::format::{case_cells, fmt_ns, CASE_HEADERS};
use super::Drawn;
use crate::report::Report;

/// Backslash-escapes the characters that would break a table cell or start markup, and folds
/// newlines, so report text (a scenario description, a skip reason) stays one cell.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The whole `summary.md` of `report`. `drawn` adds a line naming what was not drawn.
pub fn summary_md(report: &Report, drawn: &Drawn) -> String {
    let e = escape;
    let mut m = String::new();
    let _ = writeln!(m, "## minebench: {}\n", e(&report.scenario.name));
    if report.interrupted {
        let _ = writeln!(
            m,
            "> **Interrupted:** only the {} case(s) that finished are reported.\n",
            report.cases.len()
        );
    }
    if report.cases.is_empty() {
        m.push_str("No case was measured.\n");
    } else {
        m.push_str("| case |");
        for head in CASE_HEADERS {
            let _ = write!(m, " {} |", e(head));
        }
        m.push_str("\n|---|");
        for _ in CASE_HEADERS {
            m.push_str("---:|");
        }
        m.push('\n');
        let mut implausible = false;
        for c in &report.cases {
            let cells = case_cells(c);
            implausible |= !cells.plausible;
            let shares = if cells.plausible {
                e(&cells.shares)
            } else {
                format!("**{} (!)**", e(&cells.shares))
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                e(&c.id),
                e(&cells.median),
                e(&cells.ci),
                e(&cells.cv),
                e(&cells.scaling),
                e(&cells.vs_ceiling),
                shares,
                e(&cells.imbalance),
                e(&cells.batch_p99),
            );
        }
        if implausible {
            m.push_str(
                "\n(!) shares found are implausible for the hashes done (Poisson p < 0.001).\n",
            );
        }
    }
    let pool = crate::render::format::pool_rows(report);
    if !pool.is_empty() {
        m.push_str("\n**From the pool** (job switch timed from the notify's arrival):\n\n");
        table(
            &mut m,
            &crate::render::format::POOL_HEADERS,
            "---|---|---:|---|---:|---:|---:|---:",
            &pool,
        );
    }
    let device = crate::render::format::device_rows(report);
    if !device.is_empty() {
        m.push_str(
            "\n**Device** (the device's own time per dispatch, the host's submit-to-results \
             round trip, busy = device time ÷ span of its dispatches):\n\n",
        );
        table(
            &mut m,
            &crate::render::format::DEVICE_HEADERS,
            "---|---:|---:|---:|---:|---:|---:|---:|---:|---:",
            &device,
        );
    }
    if !report.skipped.is_empty() {
        m.push_str("\n**Skipped:**\n\n");
        for s in &report.skipped {
            let _ = writeln!(m, "- {}: {}", e(&s.id), e(&s.reason));
        }
    }
    m.push('\n');
    if let Some(o) = &report.profiling.overhead {
        let _ = writeln!(
            m,
            "Profiler overhead on {}: {:.2} % ({} interleaved rounds).\n",
            e(&o.case_id),
            o.overhead_pct,
            o.rounds
        );
    }
    if !drawn.not_drawn.is_empty() {
        let list: Vec<String> = drawn
            .not_drawn
            .iter()
            .map(|n| format!("{} ({})", e(&n.output), e(&n.reason)))
            .collect();
        let _ = writeln!(m, "Not drawn: {}.\n", list.join("; "));
    }
    let mach = &report.machine;
    let _ = writeln!(
        m,
        "Machine: {}, {} logical cores, {}; {} build, {}; commit {}; wall time {}.",
        e(&mach.cpu_model),
        mach.logical_cores,
        e(&mach.os),
        e(&mach.build_profile),
        e(&mach.rustc),
        e(mach.git_commit.as_deref().unwrap_or("unknown")),
        e(&fmt_ns(report.wall_ns as f64)),
    );
    if let Some(g) = &mach.gpu {
        let _ = writeln!(m, "\nGPU: {}.", e(&g.describe()));
    }
    m
}

/// A Markdown table: the header row, the alignment row (`align`, without the outer bars) and
/// the rows, every cell escaped.
fn table<const N: usize>(m: &mut String, heads: &[&str; N], align: &str, rows: &[[String; N]]) {
    m.push('|');
    for head in heads {
        let _ = write!(m, " {} |", escape(head));
    }
    let _ = writeln!(m, "\n|{align}|");
    for row in rows {
        m.push('|');
        for cell in row {
            let _ = write!(m, " {} |", escape(cell));
        }
        m.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_a_cell_a_cell() {
        assert_eq!(escape("a|b\nc_d"), "a\\|b c\\_d");
        assert_eq!(escape("sha2/atomic/t1/zb16"), "sha2/atomic/t1/zb16");
    }
}
