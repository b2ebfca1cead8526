//! Text outputs of `minebench history`: the console table, the Markdown summary and the CSV
//! files (with their Otava config) that `otava analyze` reads.
//!
//! Owns: the layout of those texts. Must not: compute statistics (series and change points come
//! from [`crate::report::history`] as they are) or touch files (the command glue writes).

use crate::report::history::{Analysed, ChangePoint, Point, Series};
use crate::report::Metric;

const MEGA: f64 = 1e6;

/// A file stem for a series, unique per (case, machine) and stable between runs:
/// `sha2-midstate_atomic_t1_zb12-1a2b3c4d` (the suffix hashes the machine key).
pub fn series_stem(series: &Series) -> String {
    let case: String = series
        .case_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{case}-{:08x}", fnv1a32(&series.machine))
}

/// FNV-1a, 32 bits: a short, dependency-free, stable name for a machine key (not a security
/// boundary; two machines colliding only share a file name prefix the table still tells apart).
fn fnv1a32(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn short(commit: Option<&str>) -> &str {
    commit.map_or("-", |c| &c[..c.len().min(10)])
}

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Wall => "wall MH/s",
        Metric::Cpu => "cpu MH/s per worker",
    }
}

fn point<'a>(a: &'a Analysed, cp: &ChangePoint) -> Option<&'a Point> {
    a.series.points.get(cp.index)
}

/// The console table: per series a heading line and its change points (or "none").
pub fn console(analysed: &[Analysed]) -> String {
    let mut out = String::new();
    for a in analysed {
        let s = &a.series;
        let (first, last) = match (s.points.first(), s.points.last()) {
            (Some(f), Some(l)) => (f.started_at.as_str(), l.started_at.as_str()),
            _ => ("-", "-"),
        };
        out.push_str(&format!(
            "{}  [{}]\n  {} points, {}, {first} .. {last}\n",
            s.case_id,
            s.machine,
            s.points.len(),
            metric_name(s.metric)
        ));
        if a.change_points.is_empty() {
            out.push_str("  no change point\n\n");
            continue;
        }
        out.push_str(&format!(
            "  {:>5}  {:<20}  {:<10}  {:>11}  {:>11}  {:>8}  {:>9}\n",
            "index", "time", "commit", "before", "after", "change", "p-value"
        ));
        for cp in &a.change_points {
            let p = point(a, cp);
            out.push_str(&format!(
                "  {:>5}  {:<20}  {:<10}  {:>11.3}  {:>11.3}  {:>+7.2}%  {:>9.2e}\n",
                cp.index,
                p.map_or("-", |p| p.started_at.as_str()),
                short(p.and_then(|p| p.git_commit.as_deref())),
                cp.mean_before / MEGA,
                cp.mean_after / MEGA,
                cp.change_pct(),
                cp.pvalue,
            ));
        }
        out.push('\n');
    }
    out
}

/// One Markdown table of every change point, then the series without any.
pub fn markdown(analysed: &[Analysed]) -> String {
    let mut out = String::from("## History: change points\n\n");
    let with: Vec<&Analysed> = analysed
        .iter()
        .filter(|a| !a.change_points.is_empty())
        .collect();
    if with.is_empty() {
        out.push_str("No change point in any series.\n");
    } else {
        out.push_str(
            "| case | machine | index | time | commit | before (MH/s) | after (MH/s) | change | p-value |\n\
             |---|---|---:|---|---|---:|---:|---:|---:|\n",
        );
        for a in &with {
            for cp in &a.change_points {
                let p = point(a, cp);
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | `{}` | {:.3} | {:.3} | {:+.2} % | {:.2e} |\n",
                    a.series.case_id,
                    md_escape(&a.series.machine),
                    cp.index,
                    p.map_or("-", |p| p.started_at.as_str()),
                    short(p.and_then(|p| p.git_commit.as_deref())),
                    cp.mean_before / MEGA,
                    cp.mean_after / MEGA,
                    cp.change_pct(),
                    cp.pvalue
                ));
            }
        }
    }
    let without: Vec<&Analysed> = analysed
        .iter()
        .filter(|a| a.change_points.is_empty())
        .collect();
    if !without.is_empty() {
        out.push_str("\nNo change point:\n\n");
        for a in without {
            out.push_str(&format!(
                "- `{}` ({} points) on {}\n",
                a.series.case_id,
                a.series.points.len(),
                md_escape(&a.series.machine)
            ));
        }
    }
    out
}

/// A machine key holds `|` separators, which would split a Markdown table cell.
fn md_escape(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The CSV column of the analysed metric.
pub fn csv_metric_column(metric: Metric) -> &'static str {
    match metric {
        Metric::Wall => "hash_rate",
        Metric::Cpu => "cpu_rate",
    }
}

/// One series as the CSV Otava's `csv` data source reads: a `time` column (RFC 3339), a
/// `commit` attribute and the analysed median rate, one row per point in series order (Otava
/// keeps the file's row order, so an `--order commit` series stays in commit order).
pub fn csv(series: &Series) -> String {
    let mut out = format!("time,commit,{}\n", csv_metric_column(series.metric));
    for p in &series.points {
        // `{}` of an f64 is the shortest text that reads back as the same number, so Otava
        // analyses exactly the values minebench did.
        out.push_str(&format!(
            "{},{},{}\n",
            p.started_at,
            p.git_commit.as_deref().unwrap_or(""),
            p.value
        ));
    }
    out
}

/// An Otava config (YAML) with one `csv` test per series: `(test name, CSV path)`. Run it as
/// `OTAVA_CONFIG=otava.yaml otava analyze NAME...`.
pub fn otava_config(tests: &[(String, String)], metric: Metric) -> String {
    let mut out = String::from(
        "# Written by `minebench history --csv`: one test per series.\n\
         # OTAVA_CONFIG=<this file> otava analyze <test> --since 1970-01-01 --until 2100-01-01\n\
         tests:\n",
    );
    for (name, path) in tests {
        out.push_str(&format!(
            "  {}:\n    type: csv\n    file: {}\n    time_column: time\n    attributes: [commit]\n    metrics: [{}]\n",
            yaml_quote(name),
            yaml_quote(path),
            csv_metric_column(metric)
        ));
    }
    out
}

/// A double-quoted YAML scalar.
fn yaml_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> Series {
        Series {
            case_id: "sha2/atomic/t1/zb12".into(),
            machine: "cpu=x|flags=|cores=2|profile=release".into(),
            metric: Metric::Wall,
            points: (0..3)
                .map(|i| Point {
                    started_at: format!("2026-01-0{}T00:00:00Z", i + 1),
                    git_commit: Some("ab".repeat(20)),
                    git_dirty: Some(false),
                    value: 1e7 + 0.1 * i as f64,
                    wall_median: 1e7,
                    cpu_median: None,
                    source: "r.json".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn csv_round_trips_the_values_exactly() {
        let text = csv(&series());
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("time,commit,hash_rate"));
        let values: Vec<f64> = lines
            .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(values, series().values());
    }

    #[test]
    fn stems_are_file_names_and_differ_by_machine() {
        let a = series();
        let mut b = series();
        b.machine.push('x');
        assert!(series_stem(&a).starts_with("sha2_atomic_t1_zb12-"));
        assert_ne!(series_stem(&a), series_stem(&b));
    }

    #[test]
    fn markdown_escapes_the_machine_key_pipes() {
        let a = Analysed {
            series: series(),
            change_points: vec![ChangePoint {
                index: 1,
                mean_before: 1e7,
                mean_after: 1.1e7,
                stddev_before: 0.0,
                stddev_after: 0.0,
                pvalue: 1e-5,
            }],
        };
        let md = markdown(&[a]);
        assert!(md.contains("cpu=x\\|flags="), "{md}");
        assert!(md.contains("+10.00 %"), "{md}");
    }
}
