//! A comparison as a fixed-width console table (`minebench compare`, `run --baseline`).

use std::fmt::Write as _;

use crate::render::format::{
    change_text, no_common_cases, p99_text, p_text, rate_unit, side_text, underpowered, unmatched,
    verdict_rule, verdict_text,
};
use crate::report::compare::Comparison;

/// The comparison as a fixed-width console table: a row per matched case, then a line per case
/// that was not compared (one side only, skipped) saying why.
pub fn console_table(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "base: {}", side_text(&c.base));
    let _ = writeln!(out, "new:  {}", side_text(&c.new));
    if c.machines_differ {
        let _ = writeln!(
            out,
            "warning: the machines differ (--allow-different-machines)"
        );
    }
    let unmatched = unmatched(c);
    let w = c
        .cases
        .iter()
        .map(|x| x.id.len())
        .chain(unmatched.iter().map(|u| u.id.len()))
        .max()
        .unwrap_or(4)
        .max(4);
    let unit = rate_unit(c.metric);
    let _ = writeln!(
        out,
        "{:<w$}  {:>13}  {:>13}  {:>28}  {:>7}  {:>12}  {:>9}",
        "case",
        format!("base {unit}"),
        format!("new {unit}"),
        "change % [95% CI]",
        "p",
        "verdict",
        "p99 batch"
    );
    for x in &c.cases {
        let _ = writeln!(
            out,
            "{:<w$}  {:>13.3}  {:>13.3}  {:>28}  {:>7}  {:>12}  {:>9}",
            x.id,
            x.base_median_hps / 1e6,
            x.new_median_hps / 1e6,
            change_text(x),
            p_text(x),
            verdict_text(x.verdict),
            p99_text(x)
        );
    }
    for u in &unmatched {
        let _ = writeln!(out, "{:<w$}  {}", u.id, u.why);
    }
    if let Some(note) = no_common_cases(c) {
        let _ = writeln!(out, "{note}");
    }
    if let Some(note) = underpowered(c) {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out, "{}", verdict_rule(c));
    out
}
