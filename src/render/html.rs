//! The per-report `index.html`: summary table, the charts, links to each case's flamegraph,
//! each case's hottest source lines, skipped cases, profiler overhead, the interrupted banner and the machine fingerprint.
//!
//! Owns: the page's markup and its (inline) style. Must not: compute statistics, or reference
//! anything outside the report directory — the page must work offline from a CI artefact, so
//! there are no scripts, web fonts or external URLs, and every link is a relative path.
//! All text from the report is escaped: a scenario name or description is user input.

use std::fmt::Write as _;

use super::format::{case_cells, fmt_ns, fmt_num, CASE_HEADERS};
use super::plots::{ChartInfo, CHARTS};
use super::Drawn;
use crate::probe::machine::Fingerprint;
use crate::report::{CaseReport, Report};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative path as a URL path: bytes outside `A-Za-z0-9-._~/` are percent-encoded, so a
/// hand-edited report cannot turn a path into a scheme (`javascript:`) or a query.
pub(crate) fn url_path(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len());
    for b in rel.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub(crate) const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 1em 1.5em 3em; color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
.meta { color: #555; font-size: 0.9em; }
.banner { background: #fff3cd; border: 1px solid #e0b400; padding: 0.7em 1em; border-radius: 4px;
          font-weight: 600; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; }
th { background: #f4f4f6; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; white-space: nowrap; }
.warn { color: #b00020; font-weight: 600; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; }
table.kv th { width: 14em; }
footer { margin-top: 2em; color: #777; font-size: 0.8em; }
";

/// The whole `index.html` of `report`, linking the outputs listed in `drawn` (relative paths).
pub fn index_html(report: &Report, drawn: &Drawn) -> String {
    let e = escape;
    let mut h = String::new();
    let name = &report.scenario.name;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>minebench: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        e(name)
    );
    let _ = writeln!(h, "<h1>minebench report: {}</h1>", e(name));
    if !report.scenario.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", e(&report.scenario.description));
    }
    let _ = writeln!(
        h,
        "<p class=\"meta\">scenario {} &middot; started {} &middot; finished {} &middot; \
         wall time {} &middot; minebench {}</p>",
        e(&report.scenario.source),
        e(&report.started_at),
        e(&report.finished_at),
        e(&fmt_ns(report.wall_ns as f64)),
        e(&report.minebench_version)
    );
    if report.interrupted {
        let _ = writeln!(
            h,
            "<p class=\"banner\" id=\"interrupted\">Run interrupted: only the {} case(s) that \
             finished are reported.</p>",
            report.cases.len()
        );
    }

    summary_section(&mut h, report, drawn);
    pool_section(&mut h, report);
    device_section(&mut h, report);
    plots_section(&mut h, &CHARTS, drawn);
    flamegraph_section(&mut h, report, drawn);
    hot_lines_section(&mut h, report);
    if !drawn.not_drawn.is_empty() {
        h.push_str("<h2 id=\"not-drawn\">Not drawn</h2>\n<ul>\n");
        for nd in &drawn.not_drawn {
            let _ = writeln!(h, "<li>{}: {}</li>", e(&nd.output), e(&nd.reason));
        }
        h.push_str("</ul>\n");
    }
    if !report.skipped.is_empty() {
        h.push_str("<h2 id=\"skipped\">Skipped cases</h2>\n<ul>\n");
        for s in &report.skipped {
            let _ = writeln!(h, "<li><code>{}</code>: {}</li>", e(&s.id), e(&s.reason));
        }
        h.push_str("</ul>\n");
    }
    profiling_section(&mut h, report);
    machine_section(&mut h, report);
    let _ = writeln!(
        h,
        "<footer>Report schema {} &middot; written by <code>minebench render</code> from \
         report.json; every number here is read from that file.</footer>\n</body>\n</html>",
        e(&report.schema)
    );
    h
}

/// Cases mined from a pool: what the pool did with their shares.
fn pool_section(h: &mut String, report: &Report) {
    let rows = crate::render::format::pool_rows(report);
    if rows.is_empty() {
        return;
    }
    h.push_str(
        "<h2 id=\"pool\">From the pool</h2>\n<p>Shares submitted to the pool and its answers; \
         job switches timed from each notify's arrival at the socket.</p>\n",
    );
    table(h, &crate::render::format::POOL_HEADERS, &rows);
}

/// Cases of a device backend (`gpu`): how the host fed the device.
fn device_section(h: &mut String, report: &Report) {
    let rows = crate::render::format::device_rows(report);
    if rows.is_empty() {
        return;
    }
    h.push_str(
        "<h2 id=\"device\">Device</h2>\n<p>Per case of a device backend: the device's own \
         execution time per dispatch (its timestamps), the host's round trip from submit to \
         results, busy = device time &divide; the span of its dispatches, and the CPU the \
         feeding host thread used.</p>\n",
    );
    table(h, &crate::render::format::DEVICE_HEADERS, &rows);
}

/// A plain table: a header row and the rows, every cell escaped.
fn table<const N: usize>(h: &mut String, heads: &[&str; N], rows: &[[String; N]]) {
    h.push_str("<table>\n<tr>");
    for head in heads {
        let _ = write!(h, "<th>{}</th>", escape(head));
    }
    h.push_str("</tr>\n");
    for row in rows {
        h.push_str("<tr>");
        for cell in row {
            let _ = write!(h, "<td>{}</td>", escape(cell));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn summary_section(h: &mut String, report: &Report, drawn: &Drawn) {
    let e = escape;
    h.push_str("<h2 id=\"summary\">Summary</h2>\n");
    if report.cases.is_empty() {
        h.push_str("<p>No case was measured.</p>\n");
        return;
    }
    h.push_str("<table>\n<thead><tr><th>case</th>");
    for head in CASE_HEADERS {
        let _ = write!(h, "<th>{}</th>", e(head));
    }
    h.push_str("<th>flamegraph</th></tr></thead>\n<tbody>\n");
    let mut implausible = false;
    for c in &report.cases {
        let cells = case_cells(c);
        implausible |= !cells.plausible;
        let shares = if cells.plausible {
            e(&cells.shares)
        } else {
            format!("<span class=\"warn\">{} (!)</span>", e(&cells.shares))
        };
        let flame = drawn.flamegraph(&c.id).map_or_else(
            || "-".to_string(),
            |p| format!("<a href=\"{}\">svg</a>", e(&url_path(p))),
        );
        let _ = writeln!(
            h,
            "<tr><td class=\"id\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td></tr>",
            e(&c.id),
            e(&cells.median),
            e(&cells.ci),
            e(&cells.cv),
            e(&cells.scaling),
            e(&cells.vs_ceiling),
            shares,
            e(&cells.imbalance),
            e(&cells.batch_p99),
            flame
        );
    }
    h.push_str("</tbody>\n</table>\n");
    if implausible {
        h.push_str(
            "<p class=\"warn\">(!) shares found are implausible for the hashes done \
             (Poisson p &lt; 0.001): the search is losing or inventing hits.</p>\n",
        );
    }
}

/// The "Plots" section: a figure per chart of `charts` that was drawn (SVG inline, PNG linked),
/// shared by a report's page and a comparison's.
pub(crate) fn plots_section(h: &mut String, charts: &[ChartInfo], drawn: &Drawn) {
    let e = escape;
    h.push_str("<h2 id=\"plots\">Plots</h2>\n");
    let mut any = false;
    for info in charts
        .iter()
        .filter(|c| drawn.charts.iter().any(|d| d == c.name))
    {
        any = true;
        let svg = url_path(&format!("plots/{}.svg", info.name));
        let png = url_path(&format!("plots/{}.png", info.name));
        let _ = writeln!(
            h,
            "<figure id=\"plot-{name}\"><img src=\"{svg}\" alt=\"{title}\">\n\
             <figcaption><strong>{title}.</strong> {about} (<a href=\"{png}\">PNG</a>)\
             </figcaption></figure>",
            name = e(info.name),
            svg = e(&svg),
            png = e(&png),
            title = e(info.title),
            about = e(info.about),
        );
    }
    if !any {
        h.push_str("<p>No chart was drawn (see \"Not drawn\").</p>\n");
    }
}

fn flamegraph_section(h: &mut String, report: &Report, drawn: &Drawn) {
    let e = escape;
    let profiled: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|c| c.profile.is_some())
        .collect();
    if profiled.is_empty() {
        return;
    }
    h.push_str(
        "<h2 id=\"flamegraphs\">Flamegraphs</h2>\n<p>CPU-time stack samples of each case \
         (interactive SVG: click a frame to zoom, Ctrl-F to search).</p>\n<ul>\n",
    );
    for c in profiled {
        let Some(p) = &c.profile else { continue };
        let mut detail = format!("{} samples, {} hashes profiled", p.samples, p.hashes);
        if let (Some(req), Some(eff)) = (p.requested_hz, p.effective_hz) {
            let _ = write!(detail, ", {eff:.0} Hz effective of {req} Hz asked");
        }
        if let Some(cpu) = p.cpu_ns {
            let _ = write!(detail, ", {} CPU", fmt_ns(cpu as f64));
        }
        if let Some(n) = p.unknown_samples.filter(|&n| n > 0) {
            let _ = write!(detail, ", {n} not unwound ([unknown])");
        }
        if let Some(n) = p.dropped_samples.filter(|&n| n > 0) {
            let _ = write!(detail, ", {n} dropped (buffer full)");
        }
        match drawn.flamegraph(&c.id) {
            Some(path) => {
                let _ = writeln!(
                    h,
                    "<li><a href=\"{}\">{}</a> ({})</li>",
                    e(&url_path(path)),
                    e(&c.id),
                    e(&detail)
                );
            }
            None => {
                let _ = writeln!(h, "<li>{} ({}): not drawn</li>", e(&c.id), e(&detail));
            }
        }
    }
    h.push_str("</ul>\n");
}

/// Per profiled case, the source lines of this workspace where the workers spent their CPU
/// time: the question after "which function" is "which stage of the rounds".
fn hot_lines_section(h: &mut String, report: &Report) {
    let e = escape;
    let with_lines: Vec<&CaseReport> = report
        .cases
        .iter()
        .filter(|c| c.profile.as_ref().is_some_and(|p| !p.hot_lines.is_empty()))
        .collect();
    if with_lines.is_empty() {
        return;
    }
    h.push_str(
        "<h2 id=\"hot-lines\">Hottest source lines</h2>\n<p>Per case, the workspace source lines \
         the workers' samples were on (the innermost line of this workspace in each sample's \
         stack: inlined library helpers and calls into libc count for the line that used them), \
         weighted by CPU time. Share is of the workers' sampled CPU time.</p>\n",
    );
    for c in with_lines {
        let Some(p) = &c.profile else { continue };
        let _ = writeln!(
            h,
            "<h3 class=\"id\">{}</h3>\n<table class=\"hot-lines\">\n<thead><tr><th>share</th>\
             <th>samples</th><th>line</th><th>function</th><th>code</th></tr></thead>\n<tbody>",
            e(&c.id)
        );
        for l in &p.hot_lines {
            let _ = writeln!(
                h,
                "<tr><td class=\"num\">{:.1} %</td><td class=\"num\">{}</td>\
                 <td><code>{}:{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                100.0 * l.share,
                l.samples,
                e(&l.file),
                l.line,
                e(&l.function),
                e(l.code.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
}

fn profiling_section(h: &mut String, report: &Report) {
    let e = escape;
    h.push_str("<h2 id=\"profiling\">Profiler and ceiling</h2>\n<table class=\"kv\">\n");
    let p = &report.profiling;
    let row = |h: &mut String, k: &str, v: &str| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", e(k), e(v));
    };
    row(
        h,
        "profiler",
        &if p.enabled {
            format!("on, {} Hz stack sampling", p.frequency_hz)
        } else {
            "off".into()
        },
    );
    match &p.overhead {
        Some(o) => row(
            h,
            "profiler overhead",
            &format!(
                "{:.2} % on {} ({} interleaved rounds: {} MH/s with, {} MH/s without; \
                 negative = below the noise)",
                o.overhead_pct,
                o.case_id,
                o.rounds,
                fmt_num(o.with_profiler_hashes_per_sec / 1e6),
                fmt_num(o.without_profiler_hashes_per_sec / 1e6)
            ),
        ),
        None => row(h, "profiler overhead", "not measured"),
    }
    match &report.ceiling {
        Some(c) => {
            row(
                h,
                "ceiling",
                &format!(
                    "{} M compressions/s on one core = {} MH/s naive sha256d",
                    fmt_num(c.compressions_per_sec / 1e6),
                    fmt_num(c.naive_hashes_per_sec / 1e6)
                ),
            );
            row(h, "ceiling method", &c.method);
        }
        None => row(h, "ceiling", "not calibrated"),
    }
    h.push_str("</table>\n");
}

fn machine_section(h: &mut String, report: &Report) {
    let e = escape;
    h.push_str("<h2 id=\"machine\">Machine</h2>\n<table class=\"kv\">\n");
    for (k, v) in machine_rows(&report.machine) {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", e(k), e(&v));
    }
    h.push_str("</table>\n");
}

/// The fingerprint as (label, value) rows, for a run's page and a comparison's side-by-side.
pub(crate) fn machine_rows(m: &Fingerprint) -> [(&'static str, String); 11] {
    let flags = if m.cpu_flags.is_empty() {
        "none of interest".to_string()
    } else {
        m.cpu_flags.join(" ")
    };
    let commit = match (&m.git_commit, m.git_dirty) {
        (Some(c), Some(true)) => format!("{c} (uncommitted changes)"),
        (Some(c), _) => c.clone(),
        (None, _) => "unknown".into(),
    };
    [
        ("CPU", m.cpu_model.clone()),
        ("CPU flags", flags),
        ("logical cores", m.logical_cores.to_string()),
        ("OS", m.os.clone()),
        ("kernel", m.kernel.clone()),
        ("compiler", m.rustc.clone()),
        ("build profile", m.build_profile.clone()),
        ("git commit", commit),
        (
            "host",
            m.hostname.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("hardware counters", m.hardware_counters.clone()),
        (
            "GPU",
            m.gpu
                .as_ref()
                .map_or_else(|| "none used".into(), |g| g.describe()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn url_path_keeps_plain_paths_and_encodes_the_rest() {
        assert_eq!(
            url_path("flame/sha2_atomic_t1.svg"),
            "flame/sha2_atomic_t1.svg"
        );
        assert_eq!(url_path("javascript:x y"), "javascript%3Ax%20y");
    }
}
