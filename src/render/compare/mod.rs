//! Rendering a [`Comparison`] of two reports: the console table, the Markdown and, with
//! [`write_compare_dir`], a whole comparison directory — the charts (forest plot, before/after
//! bars, latency base vs new), a differential flamegraph per matched case where both runs were
//! profiled, `compare.html`, `compare.md` and `compare.json`.
//!
//! Owns: the text and files of a comparison. Must not: decide anything (verdicts, CIs and the
//! gate come from `report::compare`), read reports (the caller parses them) or import the
//! binary.

use std::path::{Component, Path, PathBuf};

use super::flamegraph::{diff_flamegraph_svg, DiffScale};
use super::outputs::{output_path, report_dir_of, write_file};
use super::plots::{self, ComparedReports, COMPARE_CHARTS};
use super::{NotDrawn, RenderError, Rendered};
use crate::input::{read_text, MAX_FOLDED_BYTES};
use crate::report::compare::Comparison;
use crate::report::{resolve_inside, CaseReport, Report};

mod html;
mod markdown;
mod table;

pub use markdown::markdown;
pub use table::console_table;

/// One side of a comparison as read: the report and the file it was read from (its directory
/// holds the run's profiles and, when rendered, its own page).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub report: &'a Report,
    /// The `report.json` the report was read from.
    pub path: &'a Path,
}

/// The files of a comparison directory besides the charts and flamegraphs.
pub const HTML: &str = "compare.html";
pub const MARKDOWN: &str = "compare.md";
pub const JSON: &str = "compare.json";

/// Writes the comparison directory `out` (created if needed): `plots/<chart>.{svg,png}` for
/// each of [`COMPARE_CHARTS`] with data, `flame/<case>.diff.svg` for each matched case profiled
/// on both sides (per hash, as `flame --diff`), `compare.html` (offline; links both runs' pages
/// when they have one), `compare.md` and `compare.json`. What could not be drawn is listed in
/// the result's `drawn.not_drawn` and on the page; only a failure to write is an error.
pub fn write_compare_dir(
    c: &Comparison,
    base: Input<'_>,
    new: Input<'_>,
    out: &Path,
) -> Result<Rendered, RenderError> {
    std::fs::create_dir_all(out).map_err(|source| RenderError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let mut rendered = Rendered::default();
    let data = ComparedReports {
        comparison: c,
        base: base.report,
        new: new.report,
    };
    let plots = match output_path(out, Path::new("plots")) {
        Ok(dir) => plots::draw_comparison(&data, &dir)?,
        Err(reason) => plots::PlotsOutcome {
            not_drawn: COMPARE_CHARTS
                .iter()
                .map(|chart| NotDrawn {
                    output: format!("plots/{}", chart.name),
                    reason: reason.clone(),
                })
                .collect(),
            ..Default::default()
        },
    };
    rendered.written.extend(plots.written);
    rendered.drawn.charts = plots.charts.iter().map(|s| s.to_string()).collect();
    rendered.drawn.not_drawn.extend(plots.not_drawn);

    flame_diffs(c, base, new, out, &mut rendered)?;

    let links = RunLinks {
        base: run_links(base.path, out),
        new: run_links(new.path, out),
    };
    let mut json = serde_json::to_vec_pretty(c).map_err(|e| RenderError::Write {
        path: out.join(JSON),
        source: std::io::Error::other(e),
    })?;
    json.push(b'\n');
    let page = html::compare_html(c, base.report, new.report, &rendered.drawn, &links);
    for (name, bytes) in [
        (JSON, json),
        (MARKDOWN, markdown(c).into_bytes()),
        (HTML, page.into_bytes()),
    ] {
        let path = out.join(name);
        write_file(&path, &bytes)?;
        rendered.written.push(path);
    }
    Ok(rendered)
}

/// Where a run's own files are, relative to the comparison directory (None: not there, or no
/// relative path to them).
#[derive(Debug, Clone, Default)]
pub(crate) struct SideLinks {
    pub report_json: Option<String>,
    pub index_html: Option<String>,
    /// The report file as given, for the page to name when there is no link.
    pub shown: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RunLinks {
    pub base: SideLinks,
    pub new: SideLinks,
}

fn run_links(report_path: &Path, out: &Path) -> SideLinks {
    let index = report_dir_of(report_path).join("index.html");
    SideLinks {
        report_json: relative_link(out, report_path),
        index_html: index
            .is_file()
            .then(|| relative_link(out, &index))
            .flatten(),
        shown: report_path.display().to_string(),
    }
}

/// `to` relative to the directory `from` (`../a/report.json`), both resolved first; None when
/// either cannot be resolved or the path is not UTF-8.
fn relative_link(from: &Path, to: &Path) -> Option<String> {
    let from = from.canonicalize().ok()?;
    let to = to.canonicalize().ok()?;
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for part in &to_parts[common..] {
        rel.push(part);
    }
    rel.to_str().map(str::to_string)
}

/// A case id as a file stem: `sha2/atomic/t2/zb20` → `sha2_atomic_t2_zb20` (as a run names its
/// profiles).
fn stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One differential flamegraph per matched case profiled on both sides, through the same code
/// as `minebench flame --diff` (per hash, root frame stripped). Every case that gets none is
/// listed with why — once for all when neither run was profiled.
fn flame_diffs<'a>(
    c: &Comparison,
    base: Input<'a>,
    new: Input<'a>,
    out: &Path,
    rendered: &mut Rendered,
) -> Result<(), RenderError> {
    let profiled = |r: &Report| r.cases.iter().any(|c| c.profile.is_some());
    if !profiled(base.report) && !profiled(new.report) {
        if !c.cases.is_empty() {
            rendered.drawn.not_drawn.push(NotDrawn {
                output: "differential flamegraphs".into(),
                reason: "neither run was profiled (run without --no-profile, with \
                         [profile] flamegraph = true)"
                    .into(),
            });
        }
        return Ok(());
    }
    let mut stems: Vec<String> = Vec::new();
    for x in &c.cases {
        let output = format!("flame diff of {}", x.id);
        let find = |r: &'a Report| r.cases.iter().find(|k| k.id == x.id);
        let (Some(b), Some(n)) = (find(base.report), find(new.report)) else {
            continue;
        };
        let sides = (folded_of(base, b), folded_of(new, n));
        let ((before, before_hashes), (after, after_hashes)) = match sides {
            (Ok(b), Ok(n)) => (b, n),
            (Err(why), _) => {
                rendered.drawn.not_drawn.push(NotDrawn {
                    output,
                    reason: format!("base: {why}"),
                });
                continue;
            }
            (_, Err(why)) => {
                rendered.drawn.not_drawn.push(NotDrawn {
                    output,
                    reason: format!("new: {why}"),
                });
                continue;
            }
        };
        let title = format!("{}: base → new, per hash", x.id);
        let scale = DiffScale::PerHash {
            before_hashes,
            after_hashes,
        };
        let svg = match diff_flamegraph_svg(&before, &after, scale, &title) {
            Ok(svg) => svg,
            Err(RenderError::Inferno(e)) => return Err(RenderError::Inferno(e)),
            Err(e) => {
                rendered.drawn.not_drawn.push(NotDrawn {
                    output,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        // Two ids that make the same stem (`a/b`, `a_b`) keep apart.
        let mut name = stem(&x.id);
        while stems.contains(&name) {
            name.push('_');
        }
        stems.push(name.clone());
        let rel = format!("flame/{name}.diff.svg");
        let path = match output_path(out, Path::new(&rel)) {
            Ok(path) => path,
            Err(reason) => {
                rendered.drawn.not_drawn.push(NotDrawn { output, reason });
                continue;
            }
        };
        write_file(&path, &svg)?;
        rendered.written.push(path);
        rendered.drawn.flamegraphs.push((x.id.clone(), rel));
    }
    Ok(())
}

/// A case's collapsed stacks and the hashes done while profiling, read from beside its report,
/// or why not (no profile, a missing or broken file, a file outside the report's directory).
fn folded_of(side: Input<'_>, case: &CaseReport) -> Result<(String, u64), String> {
    let Some(profile) = &case.profile else {
        return Err("not profiled (the run had profiling off)".into());
    };
    if profile.hashes == 0 {
        return Err("profile.hashes is 0: cannot scale per hash".into());
    }
    let dir = report_dir_of(side.path);
    let path = resolve_inside(&dir, &profile.folded).map_err(|e| format!("profile.folded {e}"))?;
    let text = read_text(&path, MAX_FOLDED_BYTES, "collapsed-stacks file")
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((text, profile.hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_climb_out_and_back_down() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("cmp");
        let run = tmp.path().join("runs/a");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("report.json"), "{}").unwrap();
        assert_eq!(
            relative_link(&out, &run.join("report.json")).as_deref(),
            Some("../runs/a/report.json")
        );
        assert_eq!(
            relative_link(&run, &run.join("report.json")).as_deref(),
            Some("report.json")
        );
        assert_eq!(relative_link(&out, &run.join("missing.json")), None);
    }

    #[test]
    fn stems_are_file_names() {
        assert_eq!(stem("sha2/atomic/t2/zb20"), "sha2_atomic_t2_zb20");
        assert_eq!(stem("a b/../c"), "a_b_.._c");
    }
}
