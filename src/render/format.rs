//! Formatting numbers and rows for people: the one place a case's row, a duration or a
//! comparison's change is turned into text, shared by the console table, the Markdown files and
//! the HTML pages (which import from here, never from each other).
//!
//! Owns: units, precision and the wording of cells. Must not: escape for a format (each output
//! escapes its own: `html::escape`, `markdown::escape`) or compute statistics.

use crate::report::compare::{CaseComparison, Comparison, Side};
use crate::report::stats::Verdict;
use crate::report::{CaseReport, Metric};

/// A number for a label: no exponent, at most 3 significant decimals, no trailing zeros.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_nan() { "-".into() } else { "0".into() };
    }
    let a = v.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // Three significant digits below 1: 0.123, 0.0123, ...
        (2 - a.log10().floor() as i32).clamp(0, 9) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The cells of one case's summary row, shared by the HTML page, the Markdown summary and the
/// console table, so all three say the same thing.
pub struct CaseCells {
    pub median: String,
    pub ci: String,
    pub cv: String,
    pub scaling: String,
    pub vs_ceiling: String,
    pub shares: String,
    pub plausible: bool,
    pub imbalance: String,
    pub batch_p99: String,
}

/// Column headers matching [`CaseCells`], after the case id.
pub const CASE_HEADERS: [&str; 8] = [
    "MH/s (median)",
    "95 % CI (MH/s)",
    "cv %",
    "scaling",
    "vs ceiling",
    "shares found / expected",
    "imbalance",
    "batch p99 (µs)",
];

pub fn case_cells(c: &CaseReport) -> CaseCells {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    CaseCells {
        median: format!("{:.3}", c.hash_rate.median / 1e6),
        ci: format!(
            "{:.3} .. {:.3}",
            c.hash_rate.ci95_low / 1e6,
            c.hash_rate.ci95_high / 1e6
        ),
        cv: format!("{:.2}", c.hash_rate.cv * 100.0),
        scaling: opt(c.efficiency.scaling),
        vs_ceiling: opt(c.efficiency.vs_ceiling),
        shares: format!("{} / {:.1}", c.shares.found, c.shares.expected),
        plausible: c.shares.plausible,
        imbalance: format!("{:.3}", c.balance.imbalance),
        batch_p99: c
            .latency
            .batch
            .as_ref()
            .filter(|b| b.count > 0)
            .map_or_else(|| "-".to_string(), |b| fmt_num(b.p99_ns as f64 / 1e3)),
    }
}

/// A duration in ns as a short human string: `4.78 s`, `363 µs`.
/// Column headers of [`pool_rows`].
pub const POOL_HEADERS: [&str; 8] = [
    "case",
    "pool",
    "accepted / submitted",
    "rejected",
    "stale %",
    "submit p50",
    "job switch p50 / p99",
    "credited MH/s",
];

/// One row per case mined from a pool (`run --pool`): what the pool did with its shares.
pub fn pool_rows(report: &crate::report::Report) -> Vec<[String; 8]> {
    report
        .cases
        .iter()
        .filter_map(|c| {
            let p = c.pool_client.as_ref()?;
            let rejected = if p.rejected.is_empty() {
                "0".to_string()
            } else {
                p.rejected
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let switch = c.latency.job_switch.as_ref().map_or("-".to_string(), |l| {
                format!("{} / {}", fmt_ns(l.p50_ns as f64), fmt_ns(l.p99_ns as f64))
            });
            Some([
                c.id.clone(),
                format!("{} as {}", p.url, p.user),
                format!("{} / {}", p.accepted, p.submitted),
                rejected,
                format!("{:.2}", p.stale_fraction * 100.0),
                p.submit_latency
                    .as_ref()
                    .map_or("-".to_string(), |l| fmt_ns(l.p50_ns as f64)),
                switch,
                format!("{:.2}", p.credited_hashes_per_sec / 1e6),
            ])
        })
        .collect()
}

pub const DEVICE_HEADERS: [&str; 10] = [
    "case",
    "MH/s",
    "nonces / dispatch",
    "in flight",
    "device time / dispatch p50",
    "round trip p50 / p99",
    "readback p50",
    "device busy %",
    "job switch p50 / p99",
    "host thread CPU %",
];

/// One row per case of a device backend (`gpu`): how the host fed the device and what the
/// device did with it.
pub fn device_rows(report: &crate::report::Report) -> Vec<[String; 10]> {
    let p50 = |l: &Option<crate::probe::latency::LatencySummary>| {
        l.as_ref()
            .map_or("-".to_string(), |l| fmt_ns(l.p50_ns as f64))
    };
    report
        .cases
        .iter()
        .filter_map(|c| {
            let d = c.device.as_ref()?;
            let switch = c.latency.job_switch.as_ref().map_or("-".to_string(), |l| {
                format!("{} / {}", fmt_ns(l.p50_ns as f64), fmt_ns(l.p99_ns as f64))
            });
            // The sampled windows' CPU time of the feeding threads ÷ their wall time.
            let cpu: Option<u64> = c.samples.iter().map(|s| s.cpu_ns).sum();
            let wall: u64 =
                c.samples.iter().map(|s| s.elapsed_ns).sum::<u64>() * c.threads.max(1) as u64;
            let host = match cpu {
                Some(cpu) if wall > 0 => format!("{:.1}", 100.0 * cpu as f64 / wall as f64),
                _ => "-".to_string(),
            };
            Some([
                c.id.clone(),
                format!("{:.2}", c.hash_rate.median / 1e6),
                format!("{}", d.nonces / d.dispatches.max(1)),
                d.in_flight.to_string(),
                match &d.execution {
                    Some(l) => fmt_ns(l.p50_ns as f64),
                    None => d.no_timestamps.clone().unwrap_or_else(|| "-".to_string()),
                },
                d.round_trip.as_ref().map_or("-".to_string(), |l| {
                    format!("{} / {}", fmt_ns(l.p50_ns as f64), fmt_ns(l.p99_ns as f64))
                }),
                p50(&d.readback),
                d.busy_fraction
                    .map_or("-".to_string(), |b| format!("{:.1}", 100.0 * b)),
                switch,
                host,
            ])
        })
        .collect()
}

pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", fmt_num(v))
}

/// The rate unit of a comparison's clock.
pub fn rate_unit(metric: Metric) -> &'static str {
    match metric {
        Metric::Wall => "MH/s",
        Metric::Cpu => "MH/cpu-s",
    }
}

/// A verdict as the tables print it (`SLOWER` shouts: it is the one to act on).
pub fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Faster => "faster",
        Verdict::Slower => "SLOWER",
        Verdict::NoChange => "no change",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// A case's change as `+1.23 % [+0.50, +2.00]` (its 95 % CI), or `n/a`.
pub fn change_text(c: &CaseComparison) -> String {
    match c.change {
        Some(ch) => format!(
            "{:+.2} % [{:+.2}, {:+.2}]",
            ch.change_pct, ch.change_ci95_low_pct, ch.change_ci95_high_pct
        ),
        None => "n/a".to_string(),
    }
}

/// The Mann-Whitney p-value: three decimals, or an exponent below 0.001; `n/a` without one.
pub fn p_text(c: &CaseComparison) -> String {
    c.p_value
        .map(|p| {
            if p < 0.001 {
                format!("{p:.1e}")
            } else {
                format!("{p:.3}")
            }
        })
        .unwrap_or_else(|| "n/a".into())
}

/// The change of the batch-latency p99 (`+3.1 %`), both values when the base is 0, `-` when a
/// side has none.
pub fn p99_text(c: &CaseComparison) -> String {
    match c.batch_p99 {
        Some(l) => match l.change_pct {
            Some(pct) => format!("{pct:+.1} %"),
            None => format!("{} → {} ns", l.base_ns, l.new_ns),
        },
        None => "-".into(),
    }
}

/// One side of a comparison in a line: `quick @ 1a2b3c4d5 (2025-…, interrupted)`.
pub fn side_text(s: &Side) -> String {
    let commit = s
        .git_commit
        .as_deref()
        .map(|c| {
            let short = &c[..c.len().min(9)];
            if s.git_dirty == Some(true) {
                format!("{short}+dirty")
            } else {
                short.to_string()
            }
        })
        .unwrap_or_else(|| "unknown commit".into());
    let interrupted = if s.interrupted { ", interrupted" } else { "" };
    format!("{} @ {commit} ({}{interrupted})", s.scenario, s.started_at)
}

/// How the verdicts were reached, for the foot of every comparison table.
pub fn verdict_rule(c: &Comparison) -> String {
    format!(
        "threshold {} %, alpha {}: faster/slower needs |change| > threshold, a 95 % CI excluding 0 \
         and p < alpha; no change needs the whole CI within ±threshold; anything else is \
         inconclusive",
        c.threshold * 100.0,
        c.alpha
    )
}

/// A warning when nothing could be compared (usually two different scenarios).
pub fn no_common_cases(c: &Comparison) -> Option<String> {
    c.cases.is_empty().then(|| {
        format!(
            "warning: no case in common (base scenario {:?}, new scenario {:?})",
            c.base.scenario, c.new.scenario
        )
    })
}

/// A warning naming the cases whose sample counts make any verdict impossible.
pub fn underpowered(c: &Comparison) -> Option<String> {
    let ids: Vec<String> = c
        .cases
        .iter()
        .filter(|x| !x.verdict_possible)
        .map(|x| format!("{} ({} vs {} samples)", x.id, x.base_samples, x.new_samples))
        .collect();
    (!ids.is_empty()).then(|| {
        format!(
            "warning: too few samples for p < {} to be possible, so no verdict can be reached \
             (use at least 4 samples a side, or merge rounds): {}",
            c.alpha,
            ids.join(", ")
        )
    })
}

/// A case that a comparison could not compare, and why, worded once for every output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub id: String,
    /// `only in base`, `only in new; skipped in base: <reason>`, `skipped in both: <reason>`...
    pub why: String,
}

/// Every case of either report that has no row in the comparison: measured on one side only
/// (with the other side's skip reason when it has one) or skipped on a side without being
/// measured on the other. In this order: only in base, only in new, skipped only.
pub fn unmatched(c: &Comparison) -> Vec<Unmatched> {
    let reason = |list: &[crate::report::SkippedCase], id: &str| {
        list.iter().find(|s| s.id == id).map(|s| s.reason.clone())
    };
    let mut out = Vec::new();
    for id in &c.only_in_base {
        let why = match reason(&c.skipped_in_new, id) {
            Some(r) => format!("only in base; skipped in new: {r}"),
            None => "only in base".to_string(),
        };
        out.push(Unmatched {
            id: id.clone(),
            why,
        });
    }
    for id in &c.only_in_new {
        let why = match reason(&c.skipped_in_base, id) {
            Some(r) => format!("only in new; skipped in base: {r}"),
            None => "only in new".to_string(),
        };
        out.push(Unmatched {
            id: id.clone(),
            why,
        });
    }
    let listed = |id: &str, out: &[Unmatched]| out.iter().any(|u| u.id == id);
    for s in &c.skipped_in_base {
        if listed(&s.id, &out) {
            continue;
        }
        let why = match reason(&c.skipped_in_new, &s.id) {
            Some(r) if r == s.reason => format!("skipped in both: {r}"),
            Some(r) => format!("skipped in both: base {}; new {r}", s.reason),
            None => format!("skipped in base: {}", s.reason),
        };
        out.push(Unmatched {
            id: s.id.clone(),
            why,
        });
    }
    for s in &c.skipped_in_new {
        if !listed(&s.id, &out) {
            let why = format!("skipped in new: {}", s.reason);
            out.push(Unmatched {
                id: s.id.clone(),
                why,
            });
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn fmt_num_is_short_and_exponent_free() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(250.0), "250");
        assert_eq!(fmt_num(0.00123456), "0.00123");
        assert_eq!(fmt_num(99.99), "100");
        assert_eq!(fmt_num(99.9), "99.9");
        assert_eq!(fmt_num(1e7), "10000000");
    }

    #[test]
    fn fmt_ns_picks_a_unit() {
        assert_eq!(fmt_ns(4_781_809_874.0), "4.78 s");
        assert_eq!(fmt_ns(363_263.0), "363 µs");
        assert_eq!(fmt_ns(12.0), "12 ns");
    }

    #[test]
    fn device_cases_get_a_row_in_every_summary() {
        let mut r = crate::report::compare::parse_report(include_str!(
            "../../tests/data/compare-base.json"
        ))
        .expect("fixture");
        assert!(device_rows(&r).is_empty(), "CPU cases have no device row");
        r.cases[0].device = Some(crate::report::merge::tests::device_block(4));
        let rows = device_rows(&r);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row[0], r.cases[0].id);
        assert_eq!(row[2], (1u64 << 20).to_string(), "mean nonces per dispatch");
        assert_eq!(row[3], "3");
        assert_eq!(row[7], "80.0", "busy %");
        let drawn = crate::render::Drawn::default();
        let md = crate::render::markdown::summary_md(&r, &drawn);
        assert!(
            md.contains("**Device**") && md.contains(&format!("| {} |", row[4])),
            "{md}"
        );
        let html = crate::render::html::index_html(&r, &drawn);
        assert!(html.contains("<h2 id=\"device\">Device</h2>"));
    }

    /// A comparison with matched cases of the given changes (%), for tests of its outputs.
    pub(crate) fn comparison(changes: &[(&str, Option<f64>, Verdict)]) -> Comparison {
        use crate::report::compare::RateChange;
        let side = Side {
            scenario: "s".into(),
            started_at: "t".into(),
            git_commit: None,
            git_dirty: None,
            machine_key: "m".into(),
            interrupted: false,
        };
        Comparison {
            base: side.clone(),
            new: side,
            threshold: 0.02,
            alpha: 0.05,
            metric: Metric::Wall,
            machines_differ: false,
            cases: changes
                .iter()
                .map(|&(id, pct, verdict)| CaseComparison {
                    id: id.into(),
                    base_median_hps: 1e7,
                    new_median_hps: 1e7,
                    base_samples: 8,
                    new_samples: 8,
                    change: pct.map(|p| RateChange {
                        ratio: 1.0 + p / 100.0,
                        ratio_ci95_low: 1.0 + (p - 1.0) / 100.0,
                        ratio_ci95_high: 1.0 + (p + 1.0) / 100.0,
                        change_pct: p,
                        change_ci95_low_pct: p - 1.0,
                        change_ci95_high_pct: p + 1.0,
                    }),
                    p_value: pct.map(|_| 0.01),
                    verdict,
                    verdict_possible: true,
                    batch_p99: None,
                })
                .collect(),
            only_in_base: Vec::new(),
            only_in_new: Vec::new(),
            skipped_in_base: Vec::new(),
            skipped_in_new: Vec::new(),
        }
    }

    #[test]
    fn unmatched_names_every_case_without_a_row_once() {
        use crate::report::SkippedCase;
        let skip = |id: &str, reason: &str| SkippedCase {
            id: id.into(),
            reason: reason.into(),
        };
        let mut c = comparison(&[("m", Some(0.0), Verdict::NoChange)]);
        c.only_in_base = vec!["b".into(), "b2".into()];
        c.only_in_new = vec!["n".into()];
        c.skipped_in_base = vec![
            skip("n", "no sha-ni"),
            skip("both", "no avx512"),
            skip("x", "r1"),
        ];
        c.skipped_in_new = vec![
            skip("b", "no avx2"),
            skip("both", "no avx512"),
            skip("x", "r2"),
            skip("y", "r3"),
        ];
        let got: Vec<(String, String)> = unmatched(&c).into_iter().map(|u| (u.id, u.why)).collect();
        let want = [
            ("b", "only in base; skipped in new: no avx2"),
            ("b2", "only in base"),
            ("n", "only in new; skipped in base: no sha-ni"),
            ("both", "skipped in both: no avx512"),
            ("x", "skipped in both: base r1; new r2"),
            ("y", "skipped in new: r3"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
