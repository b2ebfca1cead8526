//! A report in the formats of continuous-benchmarking services, so a CI job can hand minebench's
//! numbers to them: Bencher Metric Format (BMF) JSON, and github-action-benchmark's
//! `customBiggerIsBetter` JSON.
//!
//! Owns: the mapping from `Report` fields to those formats. Must not: read or write files (the
//! command writes the value it gets here) or compute new statistics (it only reuses the
//! report's). Reusing them is safe: a loaded report's `hash_rate` is checked to be the summary
//! of its samples (`Report::validate`), the samples `compare` computes its medians from, so an
//! export and a comparison of one report cannot disagree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::Report;

/// The export formats `minebench export --format` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Bencher Metric Format: `{case id: {measure: {value, lower_value, upper_value}}}`.
    Bmf,
    /// github-action-benchmark, tool `customBiggerIsBetter`: `[{name, unit, value, range, extra}]`.
    Gab,
}

impl Format {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bmf => "bmf",
            Format::Gab => "gab",
        }
    }
}

/// One BMF metric. Bencher's built-in measures: `throughput` in operations per second (here
/// hashes per second) and `latency` in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct BmfMetric {
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_value: Option<f64>,
}

/// BMF JSON: benchmark name → measure slug → metric.
pub type Bmf = BTreeMap<String, BTreeMap<String, BmfMetric>>;

/// The report as BMF: per case, `throughput` = median hashes per second with the bootstrap 95 %
/// CI of the median as its bounds, and (when measured) `latency` = the batch-latency p50 in ns.
/// The latency has no bounds: Bencher reads them as the uncertainty of `value`, and the spread
/// of the latency distribution (p10..p90, say) is not that.
pub fn to_bmf(report: &Report) -> Bmf {
    report
        .cases
        .iter()
        .map(|c| {
            let mut measures = BTreeMap::new();
            measures.insert(
                "throughput".to_string(),
                BmfMetric {
                    value: c.hash_rate.median,
                    lower_value: Some(c.hash_rate.ci95_low),
                    upper_value: Some(c.hash_rate.ci95_high),
                },
            );
            if let Some(batch) = &c.latency.batch {
                measures.insert(
                    "latency".to_string(),
                    BmfMetric {
                        value: batch.p50_ns as f64,
                        lower_value: None,
                        upper_value: None,
                    },
                );
            }
            (c.id.clone(), measures)
        })
        .collect()
}

/// One github-action-benchmark entry (`customBiggerIsBetter`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GabEntry {
    pub name: String,
    pub unit: String,
    pub value: f64,
    /// Free text shown next to the value: here "± half the width of the 95 % CI".
    pub range: String,
    /// Free text shown in the chart's tooltip.
    pub extra: String,
}

/// The report as github-action-benchmark entries: per case the median in MH/s, the half-width
/// of its 95 % CI as the range, and samples / CV / commit in `extra`.
pub fn to_gab(report: &Report) -> Vec<GabEntry> {
    let commit = report
        .machine
        .git_commit
        .as_deref()
        .map(|c| format!(", commit {}", &c[..c.len().min(12)]))
        .unwrap_or_default();
    report
        .cases
        .iter()
        .map(|c| {
            let r = &c.hash_rate;
            GabEntry {
                name: c.id.clone(),
                unit: "MH/s".to_string(),
                value: r.median / 1e6,
                range: format!("± {:.3}", (r.ci95_high - r.ci95_low) / 2.0 / 1e6),
                extra: format!(
                    "{} samples, 95% CI {:.3}..{:.3} MH/s, cv {:.2} %{commit}",
                    r.n,
                    r.ci95_low / 1e6,
                    r.ci95_high / 1e6,
                    r.cv * 100.0
                ),
            }
        })
        .collect()
}

/// The export as pretty JSON with a trailing newline.
pub fn to_json(report: &Report, format: Format) -> Result<String, serde_json::Error> {
    let mut text = match format {
        Format::Bmf => serde_json::to_string_pretty(&to_bmf(report))?,
        Format::Gab => serde_json::to_string_pretty(&to_gab(report))?,
    };
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::parse_report;

    fn fixture() -> Report {
        parse_report(include_str!("../../tests/data/compare-base.json")).expect("fixture parses")
    }

    #[test]
    fn bmf_has_one_benchmark_per_case_with_the_ci_as_bounds() {
        let r = fixture();
        let bmf = to_bmf(&r);
        assert_eq!(bmf.len(), r.cases.len());
        for c in &r.cases {
            let t = bmf[&c.id]["throughput"];
            assert_eq!(t.value, c.hash_rate.median);
            assert_eq!(t.lower_value, Some(c.hash_rate.ci95_low));
            assert_eq!(t.upper_value, Some(c.hash_rate.ci95_high));
            let l = bmf[&c.id]["latency"];
            assert_eq!(l.value, c.latency.batch.as_ref().unwrap().p50_ns as f64);
        }
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&r, Format::Bmf).unwrap()).unwrap();
        assert!(json[&r.cases[0].id]["latency"].get("lower_value").is_none());
    }

    #[test]
    fn gab_entries_are_in_mhs_with_a_range() {
        let r = fixture();
        let gab = to_gab(&r);
        assert_eq!(gab.len(), r.cases.len());
        for (e, c) in gab.iter().zip(&r.cases) {
            assert_eq!(e.name, c.id);
            assert_eq!(e.unit, "MH/s");
            assert_eq!(e.value, c.hash_rate.median / 1e6);
            assert!(e.range.starts_with("± "), "{}", e.range);
            assert!(e.extra.contains(&format!("{} samples", c.hash_rate.n)));
        }
        let json: serde_json::Value =
            serde_json::from_str(&to_json(&r, Format::Gab).unwrap()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), r.cases.len());
    }
}
