//! Writing every output of a report into a directory: the charts, each case's flamegraph,
//! `index.html` and `summary.md`. `minebench render`, `run` (after each scenario) and library
//! users call this one function, so they all write the same files.
//!
//! Owns: which files a render writes and where, and refusing to write through links or over
//! the report's own files. Must not: read the report (the caller parses it) or print.

use std::path::{Path, PathBuf};

use super::flamegraph::flamegraph_svg;
use super::{html, markdown, plots, Drawn, NotDrawn, RenderError};
use crate::input::{read_text, MAX_FOLDED_BYTES};
use crate::output::write_atomic;
use crate::report::{inside_dir, resolve_inside, svg_path_problems, Report};

/// Everything one render wrote and what it could not draw.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Files written, under the output directory.
    pub written: Vec<PathBuf>,
    /// What was drawn (for links) and what was not, with why.
    pub drawn: Drawn,
}

/// Renders `report` (read from `report_path`) into `out`: charts in `out/plots/`, flamegraphs
/// at each case's `profile.svg` path (read from `profile.folded` under the report's
/// directory), `index.html` and `summary.md`. A chart without data, a missing profile file or
/// an SVG path that would overwrite another file is reported in `drawn.not_drawn`; only a
/// failure to write (or a drawing bug) is an error.
pub fn render_report(
    report: &Report,
    report_path: &Path,
    out: &Path,
) -> Result<Rendered, RenderError> {
    let report_dir = report_dir_of(report_path);
    std::fs::create_dir_all(out).map_err(|source| RenderError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let mut rendered = Rendered::default();

    // A linked `plots` folder would take the charts out of `out` (as for flamegraphs below).
    let plots = match output_path(out, Path::new("plots")) {
        Ok(dir) => plots::draw_all(report, &dir)?,
        Err(reason) => plots::PlotsOutcome {
            not_drawn: plots::CHARTS
                .iter()
                .map(|c| NotDrawn {
                    output: format!("plots/{}", c.name),
                    reason: reason.clone(),
                })
                .collect(),
            ..Default::default()
        },
    };
    rendered.written.extend(plots.written);
    rendered.drawn.charts = plots.charts.iter().map(|s| s.to_string()).collect();
    rendered.drawn.not_drawn.extend(plots.not_drawn);

    // The files this render writes or reads besides the flamegraphs, which no `profile.svg`
    // may name (the report's own name only matters when `out` is its directory, but an SVG
    // called that is never right).
    let report_name = report_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let charts: Vec<String> = plots::CHARTS
        .iter()
        .flat_map(|c| {
            [
                format!("plots/{}.svg", c.name),
                format!("plots/{}.png", c.name),
            ]
        })
        .collect();
    let mut taken = vec![
        (report_name.as_str(), "the report itself"),
        ("index.html", "the HTML page render writes"),
        ("summary.md", "the summary render writes"),
    ];
    taken.extend(charts.iter().map(|c| (c.as_str(), "a chart render draws")));
    let svg_problems = svg_path_problems(report, &taken);

    for (case, svg_problem) in report.cases.iter().zip(svg_problems) {
        let Some(profile) = &case.profile else {
            continue;
        };
        let output = format!("flamegraph of {}", case.id);
        let not_drawn = |reason: String| NotDrawn {
            output: output.clone(),
            reason,
        };
        if let Some(reason) = svg_problem {
            rendered.drawn.not_drawn.push(not_drawn(reason));
            continue;
        }
        // Checked by `svg_path_problems` above; a None here is only refused twice.
        let Some(svg_rel) = inside_dir(&profile.svg) else {
            continue;
        };
        let folded_path = match resolve_inside(&report_dir, &profile.folded) {
            Ok(path) => path,
            Err(e) => {
                rendered
                    .drawn
                    .not_drawn
                    .push(not_drawn(format!("profile.folded {e}")));
                continue;
            }
        };
        let folded = match read_text(&folded_path, MAX_FOLDED_BYTES, "collapsed-stacks file") {
            Ok(text) => text,
            Err(e) => {
                rendered
                    .drawn
                    .not_drawn
                    .push(not_drawn(format!("{}: {e}", folded_path.display())));
                continue;
            }
        };
        let svg = match flamegraph_svg(&folded, &case.id) {
            Ok(svg) => svg,
            Err(
                e @ (RenderError::Folded { .. }
                | RenderError::TooManySamples { .. }
                | RenderError::EmptyProfile { .. }),
            ) => {
                rendered
                    .drawn
                    .not_drawn
                    .push(not_drawn(format!("{}: {e}", folded_path.display())));
                continue;
            }
            Err(e) => return Err(e),
        };
        let svg_path = match output_path(out, svg_rel) {
            Ok(path) => path,
            Err(reason) => {
                rendered.drawn.not_drawn.push(not_drawn(reason));
                continue;
            }
        };
        write_file(&svg_path, &svg)?;
        rendered.written.push(svg_path);
        rendered
            .drawn
            .flamegraphs
            .push((case.id.clone(), profile.svg.clone()));
    }

    let index = out.join("index.html");
    write_file(&index, html::index_html(report, &rendered.drawn).as_bytes())?;
    rendered.written.push(index);
    let summary = out.join("summary.md");
    write_file(
        &summary,
        markdown::summary_md(report, &rendered.drawn).as_bytes(),
    )?;
    rendered.written.push(summary);
    Ok(rendered)
}

/// `out/rel` for writing a file a report named (`rel` inside `out`, see [`inside_dir`]), or why
/// not: no part of it under `out` may be a symbolic link. A linked directory would take the
/// write (and the directories made for it) out of `out`; a link at the file itself would be
/// replaced by the atomic write's rename, losing what the user linked there. Parts that do not
/// exist yet are made as plain directories by the write.
pub(crate) fn output_path(out: &Path, rel: &Path) -> Result<PathBuf, String> {
    let mut path = out.to_path_buf();
    for part in rel.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link; refusing to write through it",
                    path.display()
                ))
            }
            Ok(_) => {}
            // Nothing further down exists, so nothing further down is a link.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok(out.join(rel))
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| RenderError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    write_atomic(path, bytes).map_err(|source| RenderError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The directory a report's relative paths start from: the one it is in.
pub fn report_dir_of(report_path: &Path) -> PathBuf {
    match report_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
