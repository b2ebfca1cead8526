//! A comparison as Markdown (`compare.md`, `--markdown FILE`): for a CI step summary or a pull
//! request comment. Self-contained: it links nothing, since it is read away from its directory.

use std::fmt::Write as _;

use crate::render::format::{
    no_common_cases, p99_text, p_text, rate_unit, side_text, underpowered, unmatched, verdict_rule,
    verdict_text,
};
use crate::render::markdown::escape;
use crate::report::compare::Comparison;
use crate::report::stats::Verdict;

/// The comparison as Markdown: a heading line, a table, the cases not compared, notes.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### minebench compare: `{}`\n", c.new.scenario);
    let _ = writeln!(out, "- base: `{}`", side_text(&c.base));
    let _ = writeln!(out, "- new: `{}`", side_text(&c.new));
    if c.machines_differ {
        let _ = writeln!(out, "- **warning**: the machines differ");
    }
    let _ = writeln!(
        out,
        "\n| case | base {u} | new {u} | change | 95 % CI | p | verdict | batch p99 |",
        u = rate_unit(c.metric)
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|---:|");
    for x in &c.cases {
        let (change, ci) = match x.change {
            Some(ch) => (
                format!("{:+.2} %", ch.change_pct),
                format!(
                    "{:+.2} … {:+.2} %",
                    ch.change_ci95_low_pct, ch.change_ci95_high_pct
                ),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        let verdict = match x.verdict {
            Verdict::NoChange => "no change".to_string(),
            v => format!("**{}**", verdict_text(v).to_lowercase()),
        };
        let _ = writeln!(
            out,
            "| `{}` | {:.3} | {:.3} | {change} | {ci} | {} | {verdict} | {} |",
            x.id,
            x.base_median_hps / 1e6,
            x.new_median_hps / 1e6,
            p_text(x),
            p99_text(x)
        );
    }
    let unmatched = unmatched(c);
    if !unmatched.is_empty() {
        let _ = writeln!(out, "\nNot compared:\n");
        for u in &unmatched {
            let _ = writeln!(out, "- `{}`: {}", u.id, escape(&u.why));
        }
    }
    if let Some(note) = no_common_cases(c) {
        let _ = writeln!(out, "\n**{note}**");
    }
    if let Some(note) = underpowered(c) {
        let _ = writeln!(out, "\n**{note}**");
    }
    let _ = writeln!(out, "\n{}.", verdict_rule(c));
    out
}
