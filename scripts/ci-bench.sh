#!/usr/bin/env bash
# The CI benchmark step: run a short scenario in release, compare it against a baseline, put
# the result in the GitHub step summary, and run the criterion benches in their short form.
#
#   scripts/ci-bench.sh [--scenario FILE] [--baseline NAME] [--fail-on-regression PCT]
#                       [--save-baseline NAME]
#                       [--allow-different-machines] [--out DIR] [--gab FILE] [--bmf FILE]
#                       [--no-criterion]
#
#   --scenario FILE            default scenarios/ci.toml: quick's cases with 8 samples (quick's
#                              3 samples can never give p < 0.05, so could never flag anything)
#   --baseline NAME            compare against DIR/baselines/NAME (missing: exit 2 before running)
#   --fail-on-regression PCT   exit 1 when a case is significantly slower by more than PCT % (or
#                              missing), 3 when some case cannot be decided
#   --allow-different-machines compare even if the baseline comes from another CPU / core count
#   --save-baseline NAME       store this run as DIR/baselines/NAME (not if it regressed)
#   --out DIR                  reports root (default: reports)
#   --gab FILE / --bmf FILE    also export the report for github-action-benchmark / Bencher
#   --no-criterion             skip `cargo bench --bench main -- --quick`
#
# When $GITHUB_STEP_SUMMARY is set, the summary table and the comparison (Markdown) are appended
# to it. Exit status: minebench run's (0, 1 regression, 2 bad input, 3 undecided), else 1 if the
# benches fail.
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

SCENARIO="scenarios/ci.toml"
BASELINE=""
FAIL=""
SAVE=""
ALLOW=0
OUT="reports"
GAB=""
BMF=""
CRITERION=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scenario) [[ $# -ge 2 ]] || usage; SCENARIO="$2"; shift 2 ;;
    --baseline) [[ $# -ge 2 ]] || usage; BASELINE="$2"; shift 2 ;;
    --fail-on-regression) [[ $# -ge 2 ]] || usage; FAIL="$2"; shift 2 ;;
    --save-baseline) [[ $# -ge 2 ]] || usage; SAVE="$2"; shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage; OUT="$2"; shift 2 ;;
    --gab) [[ $# -ge 2 ]] || usage; GAB="$2"; shift 2 ;;
    --bmf) [[ $# -ge 2 ]] || usage; BMF="$2"; shift 2 ;;
    --allow-different-machines) ALLOW=1; shift ;;
    --no-criterion) CRITERION=0; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
if [[ -n "$FAIL" && -z "$BASELINE" ]]; then
  echo "--fail-on-regression needs --baseline NAME" >&2
  exit 2
fi

# A relative --scenario is relative to where the script was called from.
[[ -f "$SCENARIO" ]] && SCENARIO="$(cd "$(dirname "$SCENARIO")" && pwd)/$(basename "$SCENARIO")"
cd "$(dirname "$0")/.."
[[ -f "$SCENARIO" ]] || { echo "no such scenario file: $SCENARIO" >&2; exit 2; }
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin minebench
BIN="$TARGET/release/minebench"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/minebench-ci.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

args=(run "$SCENARIO" --no-profile --out "$OUT" --baselines-dir "$OUT/baselines")
if [[ -n "$BASELINE" ]]; then
  args+=(--baseline "$BASELINE" --markdown "$TMP/compare.md")
  [[ -n "$FAIL" ]] && args+=(--fail-on-regression "$FAIL")
  [[ $ALLOW -eq 1 ]] && args+=(--allow-different-machines)
fi
[[ -n "$SAVE" ]] && args+=(--save-baseline "$SAVE")

status=0
"$BIN" "${args[@]}" >"$TMP/stdout" 2>"$TMP/stderr" || status=$?
cat "$TMP/stdout"
cat "$TMP/stderr" >&2
REPORT="$(sed -n 's/^report: //p' "$TMP/stderr" | tail -n 1)"

if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  {
    echo "## minebench $(basename "$SCENARIO" .toml) scenario"
    echo
    if [[ -f "$TMP/compare.md" ]]; then
      cat "$TMP/compare.md"
      echo
      echo "<details><summary>console output</summary>"
      echo
    fi
    echo '```text'
    cat "$TMP/stdout"
    echo '```'
    [[ -f "$TMP/compare.md" ]] && echo && echo "</details>"
    [[ $status -eq 1 ]] && echo && echo "**Gate failed: some case is slower by more than $FAIL % or missing.**"
    [[ $status -eq 3 ]] && echo && echo "**Gate inconclusive: some case could not be decided (see the log).**"
  } >>"$GITHUB_STEP_SUMMARY"
fi

if [[ -n "$REPORT" ]]; then
  [[ -n "$GAB" ]] && "$BIN" export --format gab "$REPORT" --out "$GAB"
  [[ -n "$BMF" ]] && "$BIN" export --format bmf "$REPORT" --out "$BMF"
fi

if [[ $CRITERION -eq 1 && $status -ne 2 ]]; then
  echo "== cargo bench --bench main -- --quick" >&2
  if ! cargo bench --quiet --bench main -- --quick; then
    [[ $status -eq 0 ]] && status=1
  fi
fi
exit "$status"
