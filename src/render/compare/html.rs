//! `compare.html`: one offline page for a comparison — the verdict table (each row linking its
//! differential flamegraph), the cases not compared and why, the charts, links to both runs'
//! own pages, and the two machine fingerprints side by side.
//!
//! Owns: the page's markup. Must not: compute statistics or reference anything outside the
//! local files (no scripts, fonts or URLs; every link relative), as the run's page.

use std::fmt::Write as _;

use super::RunLinks;
use crate::render::format::{
    no_common_cases, p99_text, p_text, rate_unit, side_text, underpowered, unmatched, verdict_rule,
    verdict_text,
};
use crate::render::html::{escape, machine_rows, plots_section, url_path, STYLE};
use crate::render::plots::COMPARE_CHARTS;
use crate::render::Drawn;
use crate::report::compare::Comparison;
use crate::report::stats::Verdict;
use crate::report::Report;

const COMPARE_STYLE: &str = "
td.slower { color: #b00020; font-weight: 700; }
td.faster { color: #1a7f37; font-weight: 700; }
td.nochange { color: #555; }
td.inconclusive { color: #b35900; font-weight: 600; }
tr.differ td { background: #fff3cd; }
";

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Slower => "slower",
        Verdict::Faster => "faster",
        Verdict::NoChange => "nochange",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// The whole `compare.html`.
pub(super) fn compare_html(
    c: &Comparison,
    base: &Report,
    new: &Report,
    drawn: &Drawn,
    links: &RunLinks,
) -> String {
    let e = escape;
    let mut h = String::new();
    let title = if c.base.scenario == c.new.scenario {
        c.new.scenario.clone()
    } else {
        format!("{} vs {}", c.base.scenario, c.new.scenario)
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>minebench compare: {}</title>\n<style>{STYLE}{COMPARE_STYLE}</style>\n\
         </head>\n<body>\n",
        e(&title)
    );
    let _ = writeln!(h, "<h1>minebench compare: {}</h1>", e(&title));
    let _ = writeln!(
        h,
        "<p class=\"meta\">base {} &middot; new {} &middot; {} clock &middot; threshold {} % \
         &middot; alpha {}</p>",
        e(&side_text(&c.base)),
        e(&side_text(&c.new)),
        e(c.metric.name()),
        c.threshold * 100.0,
        c.alpha
    );
    if c.machines_differ {
        h.push_str(
            "<p class=\"banner\" id=\"machines-differ\">The machines differ \
             (--allow-different-machines): the changes measure the machines as much as the \
             code. See \"Machines\" below.</p>\n",
        );
    }
    for (side, s) in [("base", &c.base), ("new", &c.new)] {
        if s.interrupted {
            let _ = writeln!(
                h,
                "<p class=\"banner\">The {side} run was interrupted: only its finished cases \
                 are compared.</p>"
            );
        }
    }
    verdict_section(&mut h, c, drawn);
    plots_section(&mut h, &COMPARE_CHARTS, drawn);
    flame_section(&mut h, c, drawn);
    if !drawn.not_drawn.is_empty() {
        h.push_str("<h2 id=\"not-drawn\">Not drawn</h2>\n<ul>\n");
        for nd in &drawn.not_drawn {
            let _ = writeln!(h, "<li>{}: {}</li>", e(&nd.output), e(&nd.reason));
        }
        h.push_str("</ul>\n");
    }
    runs_section(&mut h, links);
    machines_section(&mut h, base, new);
    let _ = writeln!(
        h,
        "<footer>{}. Written by <code>minebench compare --out</code>; every number is read \
         from the two reports (compare.json holds the comparison).</footer>\n</body>\n</html>",
        e(&verdict_rule(c))
    );
    h
}

fn verdict_section(h: &mut String, c: &Comparison, drawn: &Drawn) {
    let e = escape;
    let unit = rate_unit(c.metric);
    h.push_str("<h2 id=\"verdicts\">Verdicts</h2>\n");
    if !c.cases.is_empty() {
        let _ = writeln!(
            h,
            "<table>\n<thead><tr><th>case</th><th>base {u}</th><th>new {u}</th>\
             <th>change</th><th>95 % CI</th><th>p</th><th>verdict</th><th>batch p99</th>\
             <th>samples</th><th>flame diff</th></tr></thead>\n<tbody>",
            u = e(unit)
        );
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
            let flame = drawn.flamegraph(&x.id).map_or_else(
                || "-".to_string(),
                |p| format!("<a href=\"{}\">svg</a>", e(&url_path(p))),
            );
            let _ = writeln!(
                h,
                "<tr id=\"case-{id}\"><td class=\"id\">{id}</td><td class=\"num\">{:.3}</td>\
                 <td class=\"num\">{:.3}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"{}\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{} / {}</td><td>{}</td></tr>",
                x.base_median_hps / 1e6,
                x.new_median_hps / 1e6,
                e(&change),
                e(&ci),
                e(&p_text(x)),
                verdict_class(x.verdict),
                e(verdict_text(x.verdict)),
                e(&p99_text(x)),
                x.base_samples,
                x.new_samples,
                flame,
                id = e(&x.id),
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    let unmatched = unmatched(c);
    if !unmatched.is_empty() {
        h.push_str(
            "<h3 id=\"not-compared\">Not compared</h3>\n<table>\n<thead><tr><th>case</th>\
             <th>why</th></tr></thead>\n<tbody>\n",
        );
        for u in &unmatched {
            let _ = writeln!(
                h,
                "<tr><td class=\"id\">{}</td><td>{}</td></tr>",
                e(&u.id),
                e(&u.why)
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    for note in [no_common_cases(c), underpowered(c)].into_iter().flatten() {
        let _ = writeln!(h, "<p class=\"warn\">{}</p>", e(&note));
    }
}

fn flame_section(h: &mut String, c: &Comparison, drawn: &Drawn) {
    let e = escape;
    if drawn.flamegraphs.is_empty() {
        return;
    }
    h.push_str(
        "<h2 id=\"flame-diffs\">Differential flamegraphs</h2>\n<p>Per matched case, both \
         profiles scaled per hash (as <code>minebench flame --diff</code>): widths show the new \
         run, red frames take more CPU time per hash than in the base run, blue less.</p>\n<ul>\n",
    );
    for x in &c.cases {
        if let Some(p) = drawn.flamegraph(&x.id) {
            let _ = writeln!(
                h,
                "<li><a href=\"{}\">{}</a> ({})</li>",
                e(&url_path(p)),
                e(&x.id),
                e(verdict_text(x.verdict))
            );
        }
    }
    h.push_str("</ul>\n");
}

fn runs_section(h: &mut String, links: &RunLinks) {
    let e = escape;
    h.push_str("<h2 id=\"runs\">The two runs</h2>\n<ul>\n");
    for (side, l) in [("base", &links.base), ("new", &links.new)] {
        let page = match &l.index_html {
            Some(p) => format!("<a href=\"{}\">its page</a>", e(&url_path(p))),
            None => format!(
                "no page beside it (<code>minebench render {}</code> draws one)",
                e(&l.shown)
            ),
        };
        let json = match &l.report_json {
            Some(p) => format!("<a href=\"{}\">{}</a>", e(&url_path(p)), e(&l.shown)),
            None => format!("<code>{}</code>", e(&l.shown)),
        };
        let _ = writeln!(h, "<li>{side}: {json}, {page}</li>");
    }
    h.push_str("</ul>\n");
}

fn machines_section(h: &mut String, base: &Report, new: &Report) {
    let e = escape;
    h.push_str(
        "<h2 id=\"machines\">Machines</h2>\n<table class=\"kv\">\n<thead><tr><th></th>\
         <th>base</th><th>new</th></tr></thead>\n<tbody>\n",
    );
    let (b, n) = (machine_rows(&base.machine), machine_rows(&new.machine));
    for ((k, bv), (_, nv)) in b.iter().zip(n.iter()) {
        let class = if bv != nv { " class=\"differ\"" } else { "" };
        let _ = writeln!(
            h,
            "<tr{class}><th>{}</th><td>{}</td><td>{}</td></tr>",
            e(k),
            e(bv),
            e(nv)
        );
    }
    h.push_str("</tbody>\n</table>\n");
}
