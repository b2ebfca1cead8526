//! Flamegraphs (inferno) from collapsed stacks, and differential flamegraphs that compare two
//! profiles *per hash*.
//!
//! Owns: turning folded text into SVG. Must not: profile (that is `probe::profiler`) or read
//! anything but the folded text it is given — `render REPORT.json` redraws from stored text.
//!
//! Why a differential flamegraph is scaled by hashes: samples follow CPU time, so a faster
//! build that does more hashes in the same time has just as many samples. Dividing each side
//! by its hash count turns "samples" into "CPU time per hash", and then red (more) and blue
//! (less) mean what a reader expects. The thread-name root frame is stripped first, because
//! worker names differ between runs (and between thread counts) and would otherwise keep the
//! two sides' stacks from ever lining up. Without hash counts ([`DiffScale::RawSamples`]) the
//! sides are compared as raw samples, and the picture says so rather than "per hash".

use std::collections::BTreeMap;

use inferno::flamegraph::{self, Options};

use super::RenderError;

/// The most samples one collapsed-stacks file may hold in all; [`validate_folded`] refuses more.
///
/// Why a bound, and why this one: inferno adds the counts up in a `u64` (an overflow panics in
/// a debug build and wraps in a release one) and takes the difference of a diff's two columns
/// as `isize`; a per-hash diff scales counts through `f64`, which is exact only below 2^53.
/// Past any of those a picture is wrong (saturated counts make every sibling frame 100 %) or
/// the process dies. 2^40 keeps every one of them far away (a per-hash diff is bounded
/// separately, by [`MAX_SCALED_TOTAL`]), and is still 12 days of a 1024-thread profile at
/// 997 Hz: no real profile comes near it.
pub const MAX_TOTAL_SAMPLES: u64 = 1 << 40;

/// The most a side of a per-hash diff may add up to once scaled: below 2^53 (exact in `f64`)
/// and `isize`/`u64` overflow by a wide margin, for the same reasons as [`MAX_TOTAL_SAMPLES`].
const MAX_SCALED_TOTAL: f64 = (1u64 << 50) as f64;

/// What the smallest scaled count of each side should reach when the unit allows: rounding to
/// integers (inferno's counts) then moves any frame by at most 0.05 %.
const SCALED_PRECISION: f64 = 1000.0;

/// An SVG flamegraph of `folded` (collapsed stacks, one "frames count" per line).
/// Stacks whose counts are all 0 are as empty as no stacks at all (inferno would refuse them
/// with "No stack counts found"): both are [`RenderError::EmptyProfile`].
pub fn flamegraph_svg(folded: &str, title: &str) -> Result<Vec<u8>, RenderError> {
    if folded_stats(folded)?.samples == 0 {
        return Err(RenderError::EmptyProfile {
            what: title.to_string(),
        });
    }
    let mut opts = options(title);
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut opts, folded.lines(), &mut svg)?;
    Ok(svg)
}

/// How the two sides of a differential flamegraph are made comparable. Explicit, so that a
/// diff without hash counts can never be labelled as if it had some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffScale {
    /// Each side is scaled by the hashes done while it was profiled, so the colours mean more or
    /// less CPU time *per hash*. Both counts must be non-zero.
    PerHash {
        before_hashes: u64,
        after_hashes: u64,
    },
    /// The hash counts are unknown: raw sample counts, unscaled. Red and blue then compare
    /// samples, which is only meaningful when both profiles ran for the same time and hashes.
    RawSamples,
}

/// Differential flamegraph: strip the root (thread-name) frame from both sides, scale them as
/// `scale` says, inferno differential. Widths show the `after` profile; red frames take more
/// (time per hash, or samples) after, blue less. The subtitle says which.
pub fn diff_flamegraph_svg(
    before: &str,
    after: &str,
    scale: DiffScale,
    title: &str,
) -> Result<Vec<u8>, RenderError> {
    let (diff, unit) = scaled_diff(before, after, scale)?;
    if diff.is_empty() {
        return Err(RenderError::EmptyProfile {
            what: title.to_string(),
        });
    }
    let mut opts = options(title);
    match scale {
        DiffScale::PerHash {
            before_hashes,
            after_hashes,
        } => {
            let unit = unit.unwrap_or(1);
            opts.count_name = format!("samples per {unit} hashes");
            opts.subtitle = Some(format!(
                "per hash: before {before_hashes} hashes, after {after_hashes}, counts in \
                 samples per {unit} hashes; red = more time per hash after, blue = less"
            ));
        }
        DiffScale::RawSamples => {
            opts.count_name = "samples".to_string();
            opts.subtitle = Some(
                "not normalised: hash counts not known for both sides, raw sample counts; \
                 red = more samples after, blue = fewer"
                    .to_string(),
            );
        }
    }
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut opts, diff.lines(), &mut svg)?;
    Ok(svg)
}

/// Drops the first frame (the thread name) of every stack and merges stacks that become
/// identical, e.g. the same call path on `mb-worker-0` and `mb-worker-1`. A stack that was only
/// a root frame becomes `[unknown]`. Lines that are not "stack count" are dropped (validate
/// first with [`validate_folded`] to report them). Output lines are sorted.
pub fn strip_root_frame(folded: &str) -> String {
    let mut merged: BTreeMap<&str, u64> = BTreeMap::new();
    for (stack, count) in folded.lines().filter_map(|l| parse_line(l).ok().flatten()) {
        let rest = stack.split_once(';').map_or("[unknown]", |(_, rest)| rest);
        let slot = merged.entry(rest).or_default();
        // Never saturates on validated text (its total is at most MAX_TOTAL_SAMPLES); on
        // unvalidated text a saturated count beats a panic.
        *slot = slot.saturating_add(count);
    }
    to_folded(&merged)
}

/// Parse check used for CLI errors: is this text collapsed stacks? Returns the number of stack
/// lines (blank lines are allowed and not counted); see [`folded_stats`] for the errors.
pub fn validate_folded(text: &str) -> Result<usize, RenderError> {
    folded_stats(text).map(|s| s.stacks)
}

/// What a valid collapsed-stacks text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldedStats {
    /// Stack lines (blank lines are not counted).
    pub stacks: usize,
    /// All their counts added up: 0 means nothing to draw, even with stacks.
    pub samples: u64,
}

/// Checks `text` is collapsed stacks and counts them: `RenderError::Folded` with the 1-based
/// number of the first bad line, or `RenderError::TooManySamples` with the line where the
/// counts add up past [`MAX_TOTAL_SAMPLES`]. Every drawing function calls it first, so the
/// sums after it cannot overflow.
pub fn folded_stats(text: &str) -> Result<FoldedStats, RenderError> {
    let mut stacks = 0;
    let mut total: u64 = 0;
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some((_, count))) => {
                stacks += 1;
                total = total
                    .checked_add(count)
                    .filter(|&t| t <= MAX_TOTAL_SAMPLES)
                    .ok_or(RenderError::TooManySamples {
                        line: i + 1,
                        max: MAX_TOTAL_SAMPLES,
                    })?;
            }
            Ok(None) => {}
            Err(reason) => {
                return Err(RenderError::Folded {
                    line: i + 1,
                    reason,
                })
            }
        }
    }
    Ok(FoldedStats {
        stacks,
        samples: total,
    })
}

/// `Ok(None)` for a blank line, `Ok(Some((stack, count)))` for a stack line.
fn parse_line(line: &str) -> Result<Option<(&str, u64)>, String> {
    let line = line.trim_end();
    if line.trim().is_empty() {
        return Ok(None);
    }
    let (stack, count) = line
        .rsplit_once(' ')
        .ok_or_else(|| "no space before a sample count".to_string())?;
    let count = count
        .parse::<u64>()
        .map_err(|_| format!("sample count {count:?} is not a non-negative integer"))?;
    let stack = stack.trim_end();
    if stack.is_empty() {
        return Err("no frames before the sample count".into());
    }
    Ok(Some((stack, count)))
}

fn to_folded(stacks: &BTreeMap<&str, u64>) -> String {
    let mut out = String::new();
    for (stack, count) in stacks {
        out.push_str(stack);
        out.push(' ');
        out.push_str(&count.to_string());
        out.push('\n');
    }
    out
}

/// The three-column input of a differential flamegraph ("stack before after", sorted), both
/// sides stripped of their root frame, and the unit of a per-hash diff. Per hash, each side's
/// counts become samples per `unit` hashes (see [`per_hash_unit`]); raw, counts are kept.
fn scaled_diff(
    before: &str,
    after: &str,
    scale: DiffScale,
) -> Result<(String, Option<u64>), RenderError> {
    // A side without samples would not be compared, only vanish: every frame of the other
    // side would read as all new (or all gone).
    for (side, text) in [("before", before), ("after", after)] {
        if folded_stats(text)?.samples == 0 {
            return Err(RenderError::EmptyProfile {
                what: format!("the {side} profile"),
            });
        }
    }
    let (before, after, unit) = match scale {
        DiffScale::PerHash {
            before_hashes,
            after_hashes,
        } => {
            if before_hashes == 0 {
                return Err(RenderError::ZeroHashes { side: "before" });
            }
            if after_hashes == 0 {
                return Err(RenderError::ZeroHashes { side: "after" });
            }
            let (before, after) = (strip_root_frame(before), strip_root_frame(after));
            let unit = per_hash_unit([(&before, before_hashes), (&after, after_hashes)]).ok_or(
                RenderError::UnevenHashes {
                    before_hashes,
                    after_hashes,
                },
            )?;
            (
                scale_counts(&before, unit, before_hashes),
                scale_counts(&after, unit, after_hashes),
                Some(unit),
            )
        }
        DiffScale::RawSamples => (strip_root_frame(before), strip_root_frame(after), None),
    };

    let mut diff = Vec::new();
    inferno::differential::from_readers(
        // No inferno normalisation: per hash we scaled ourselves, raw means raw.
        inferno::differential::Options::default(),
        before.as_bytes(),
        after.as_bytes(),
        &mut diff,
    )?;
    // inferno writes lines in hash-map order; sort for reproducible output.
    let diff = String::from_utf8(diff).map_err(|e| {
        RenderError::Inferno(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    })?;
    let mut lines: Vec<&str> = diff.lines().collect();
    lines.sort_unstable();
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Ok((out, unit))
}

/// The unit (a power of ten, in hashes) a per-hash diff counts in: samples per `unit` hashes.
/// Each side is `(folded, hashes)`, both with samples.
///
/// Why chosen from the data: one fixed unit cannot fit every pair of hash counts. Scaled to
/// the smaller count (as before), a side with 10^12 times the hashes rounds to all zeros and
/// silently vanishes from the picture; scaled to the larger, the other side overflows. So: the
/// smallest unit that gives every non-zero count at least [`SCALED_PRECISION`] on both sides
/// without either side adding up past [`MAX_SCALED_TOTAL`]; failing that, the largest unit that
/// fits (every non-zero count still at least 1: no frame disappears); `None` when even that is
/// impossible (hash counts about 10^10 apart or more, with a large profile on the smaller).
fn per_hash_unit(sides: [(&str, u64); 2]) -> Option<u64> {
    // (smallest non-zero count, total, hashes) of each side.
    let sides = sides.map(|(folded, hashes)| {
        let counts = || {
            folded
                .lines()
                .filter_map(|l| parse_line(l).ok().flatten())
                .map(|(_, count)| count)
        };
        let min = counts().filter(|&c| c > 0).min().unwrap_or(1);
        let total: u64 = counts().fold(0, u64::saturating_add);
        (min as f64, total as f64, hashes as f64)
    });
    let mut best = None;
    // 10^19 is the largest power of ten in a u64.
    for exp in 0..=19 {
        let unit = 10u64.pow(exp);
        let u = unit as f64;
        if sides
            .iter()
            .any(|&(_, total, h)| total * u / h > MAX_SCALED_TOTAL)
        {
            // Larger units only add up to more.
            break;
        }
        let smallest = sides
            .iter()
            .map(|&(min, _, h)| min * u / h)
            .fold(f64::INFINITY, f64::min);
        if smallest >= SCALED_PRECISION {
            return Some(unit);
        }
        if smallest >= 1.0 {
            best = Some(unit);
        }
    }
    best
}

/// Multiplies every count by `unit / hashes`, rounding to the nearest integer.
fn scale_counts(folded: &str, unit: u64, hashes: u64) -> String {
    let factor = unit as f64 / hashes as f64;
    let mut out = String::new();
    for (stack, count) in folded.lines().filter_map(|l| parse_line(l).ok().flatten()) {
        out.push_str(stack);
        out.push(' ');
        out.push_str(&((count as f64 * factor).round() as u64).to_string());
        out.push('\n');
    }
    out
}

fn options(title: &str) -> Options<'static> {
    let mut opts = Options::default();
    opts.title = title.to_string();
    // Colour by a hash of the function name, so the same function has the same colour in
    // every flamegraph of a report and across reports.
    opts.hash = true;
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "mb-worker-0;main;scan;compress256 60\n\
                          mb-worker-1;main;scan;compress256 40\n\
                          mb-worker-0;main;scan;check 10\n";
    const AFTER: &str = "mb-worker-0;main;scan;compress256 100\n\
                         mb-worker-0;main;scan;check 4\n\
                         mb-worker-0 2\n";

    fn per_hash(before_hashes: u64, after_hashes: u64) -> DiffScale {
        DiffScale::PerHash {
            before_hashes,
            after_hashes,
        }
    }

    #[test]
    fn strip_merges_stacks_of_two_threads() {
        assert_eq!(
            strip_root_frame(BEFORE),
            "main;scan;check 10\nmain;scan;compress256 100\n"
        );
        assert!(strip_root_frame(AFTER).contains("[unknown] 2\n"));
    }

    #[test]
    fn diff_scales_each_side_by_its_hashes() {
        // `after` did twice the hashes: its counts are halved relative to `before`.
        // The smallest count (after's 2 samples of [unknown] in 2000 hashes) reaches 1000 in
        // samples per 10^6 hashes.
        let (diff, unit) = scaled_diff(BEFORE, AFTER, per_hash(1_000, 2_000)).unwrap();
        assert_eq!(unit, Some(1_000_000));
        assert_eq!(
            diff,
            "[unknown] 0 1000\nmain;scan;check 10000 2000\nmain;scan;compress256 100000 50000\n"
        );
        // Same hashes: the same counts on both sides.
        let (same, _) = scaled_diff(BEFORE, AFTER, per_hash(500, 500)).unwrap();
        assert!(
            same.contains("main;scan;compress256 200000 200000\n"),
            "{same}"
        );
    }

    #[test]
    fn diff_svg_is_produced() {
        let svg = diff_flamegraph_svg(BEFORE, AFTER, per_hash(1_000, 2_000), "before vs after");
        let svg = String::from_utf8(svg.unwrap()).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("compress256"));
        assert!(svg.contains("before vs after"));
        assert!(svg.contains("samples per 1000000 hashes"));
        assert!(svg.contains("before 1000 hashes, after 2000"));
        // The root frames are gone: no worker names in the picture.
        assert!(!svg.contains("mb-worker-0"));
    }

    /// Every stack a side has samples of keeps a non-zero count in the diff's column for it.
    fn assert_no_side_vanishes(diff: &str) {
        for line in diff.lines() {
            let mut cols = line.rsplitn(3, ' ');
            let after: u64 = cols.next().unwrap().parse().unwrap();
            let before: u64 = cols.next().unwrap().parse().unwrap();
            let stack = cols.next().unwrap();
            let had = |folded: &str| strip_root_frame(folded).contains(&format!("{stack} "));
            assert_eq!(before > 0, had(BEFORE), "{line}\n{diff}");
            assert_eq!(after > 0, had(AFTER), "{line}\n{diff}");
        }
    }

    #[test]
    fn very_uneven_hash_counts_keep_both_sides() {
        for (b, a) in [
            (1, 1_000_000_000_000),
            (1_000_000_000_000, 1),
            // Needs the largest unit, 10^19, and just fits.
            (u64::MAX, 1_000_000),
        ] {
            let (diff, unit) = scaled_diff(BEFORE, AFTER, per_hash(b, a)).unwrap();
            assert!(unit.is_some(), "{b} vs {a}");
            assert_no_side_vanishes(&diff);
            let svg = diff_flamegraph_svg(BEFORE, AFTER, per_hash(b, a), "t").unwrap();
            let svg = String::from_utf8(svg).unwrap();
            assert!(svg.contains(&format!("samples per {} hashes", unit.unwrap())));
        }
        // Three digits on every count would take 10^15 and overflow `before` (110 · 10^15 >
        // 2^50): the largest unit that fits, 10^13, still leaves after's 2 samples at 20.
        let (diff, unit) = scaled_diff(BEFORE, AFTER, per_hash(1, 1_000_000_000_000)).unwrap();
        assert_eq!(unit, Some(10_000_000_000_000));
        assert!(diff.starts_with("[unknown] 0 20\n"), "{diff}");
        // 2^40 samples in one hash against 1 sample in u64::MAX hashes: no unit holds both.
        let big = format!("t;a {}\n", MAX_TOTAL_SAMPLES);
        assert!(matches!(
            scaled_diff(&big, "t;a 1\n", per_hash(1, u64::MAX)),
            Err(RenderError::UnevenHashes { .. })
        ));
    }

    #[test]
    fn raw_diff_keeps_counts_and_claims_no_hashes() {
        let (diff, unit) = scaled_diff(BEFORE, AFTER, DiffScale::RawSamples).unwrap();
        assert_eq!(unit, None);
        assert_eq!(
            diff,
            "[unknown] 0 2\nmain;scan;check 10 4\nmain;scan;compress256 100 100\n"
        );
        let svg = diff_flamegraph_svg(BEFORE, AFTER, DiffScale::RawSamples, "t").unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("not normalised") && svg.contains("raw sample counts"));
        assert!(svg.contains("100 samples"), "{svg}");
        assert!(
            !svg.contains("hashes") && !svg.contains("per hash"),
            "{svg}"
        );
    }

    #[test]
    fn diff_refuses_zero_hashes_and_bad_text() {
        assert!(matches!(
            diff_flamegraph_svg(BEFORE, AFTER, per_hash(0, 1), "t"),
            Err(RenderError::ZeroHashes { side: "before" })
        ));
        assert!(matches!(
            diff_flamegraph_svg(BEFORE, AFTER, per_hash(1, 0), "t"),
            Err(RenderError::ZeroHashes { side: "after" })
        ));
        assert!(matches!(
            diff_flamegraph_svg("a;b x\n", AFTER, DiffScale::RawSamples, "t"),
            Err(RenderError::Folded { line: 1, .. })
        ));
        for (before, after) in [("a;b 0\n", AFTER), (BEFORE, "")] {
            assert!(matches!(
                diff_flamegraph_svg(before, after, DiffScale::RawSamples, "t"),
                Err(RenderError::EmptyProfile { .. })
            ));
        }
    }

    #[test]
    fn validate_counts_lines_and_names_the_first_bad_one() {
        assert_eq!(validate_folded(BEFORE).unwrap(), 3);
        assert_eq!(validate_folded("\n a;b 1\n\n").unwrap(), 1);
        assert_eq!(validate_folded("").unwrap(), 0);
        for (text, bad_line) in [
            ("a;b 1\nnot folded\n", 2),
            ("a;b 1\na;b -3\n", 2),
            ("a;b 1\na;b 1.5\n", 2),
            ("a;b 1\nc 2\n 7\n", 3),
            ("{\"schema\": 1}\n", 1),
        ] {
            match validate_folded(text) {
                Err(RenderError::Folded { line, .. }) => assert_eq!(line, bad_line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let msg = validate_folded("x\n").unwrap_err().to_string();
        assert!(msg.starts_with("line 1:"), "{msg}");
    }

    #[test]
    fn sample_totals_past_the_bound_are_refused_at_their_line() {
        let half_past = |max: u64| max / 2 + 1;
        // Two lines that add up past u64::MAX (each alone is already past the bound).
        let text = format!("a;b {0}\na;c {0}\n", half_past(u64::MAX));
        assert!(matches!(
            validate_folded(&text),
            Err(RenderError::TooManySamples { line: 1, .. })
        ));
        // Two lines that are each fine but add up past the bound: the second is named.
        let text = format!("a;b {0}\n\na;c {0}\n", half_past(MAX_TOTAL_SAMPLES));
        match validate_folded(&text) {
            Err(e @ RenderError::TooManySamples { line: 3, .. }) => {
                assert!(e.to_string().starts_with("line 3:"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(flamegraph_svg(&text, "t").is_err());
        assert!(diff_flamegraph_svg(&text, BEFORE, DiffScale::RawSamples, "t").is_err());
        assert!(diff_flamegraph_svg(BEFORE, &text, per_hash(1, 1), "t").is_err());
        // Exactly the bound is fine.
        let text = format!("a;b {}\na;c 1\n", MAX_TOTAL_SAMPLES - 1);
        assert_eq!(validate_folded(&text).unwrap(), 2);
    }

    #[test]
    fn flamegraph_svg_contains_frames_and_rejects_empty() {
        let svg = String::from_utf8(flamegraph_svg(BEFORE, "one").unwrap()).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("compress256") && svg.contains("mb-worker-1"));
        assert!(matches!(
            flamegraph_svg("\n", "empty"),
            Err(RenderError::EmptyProfile { .. })
        ));
        // Stacks that all count 0 are just as empty (inferno: "No stack counts found").
        assert!(matches!(
            flamegraph_svg("a;b 0\nc 0\n", "zeros"),
            Err(RenderError::EmptyProfile { .. })
        ));
        assert_eq!(
            folded_stats("a;b 0\n\nc 2\n").unwrap(),
            FoldedStats {
                stacks: 2,
                samples: 2
            }
        );
    }
}
