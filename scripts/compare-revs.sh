#!/usr/bin/env bash
# Compare the performance of two git revisions of minebench on this machine.
#
#   scripts/compare-revs.sh REV_A REV_B [SCENARIO] [--rounds N] [--out DIR] [-- COMPARE_ARGS...]
#
#   scripts/compare-revs.sh HEAD~1 HEAD                       # quick scenario, 3 rounds
#   scripts/compare-revs.sh main my-branch scenarios/backends.toml --rounds 5 -- --fail-on-regression 3
#
# Builds both revisions (release) in temporary git worktrees, then runs the scenario with each
# binary, interleaved A B, A B, ... (one `run --no-profile` per side per round), so that slow
# drift of the machine (thermal, other load) hits both sides alike instead of biasing one. The
# rounds of each side are merged into one report (`minebench merge-reports`: all samples, stats
# recomputed), each drawn (`minebench render`), and compared (`minebench compare A B --out`,
# A = base) into a comparison directory: compare.html, compare.md, compare.json and the charts.
#
# SCENARIO defaults to scenarios/quick.toml of the current checkout, so both revisions run the
# very same scenario. merge-reports/compare use the binary of the current checkout (old
# revisions may not have them), or $MINEBENCH if set. Each revision must have `run --no-profile
# --out`. The exit status is compare's: 0, 1 on a failed gate (--fail-on-regression in
# COMPARE_ARGS), 3 on an undecided gate, 2 on bad input.
#
# Output: DIR (default reports/compare-<A>-<B>-<UTC>): A/ and B/ (each side's merged report.json
# with its own index.html, summary.md and plots), compare.html, compare.md, compare.json,
# compare.txt (the console table) and plots/ (forest, before-after, latency; SVG and PNG). It is
# written whatever the gate decides; the worktrees, builds' copies and per-round runs are
# temporary.
# The build cache is $CARGO_TARGET_DIR, else the checkout's target/ (dependencies are reused).
set -euo pipefail

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ROUNDS=3
OUT=""
POS=()
COMPARE_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) [[ $# -ge 2 ]] || usage; ROUNDS="$2"; shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage; OUT="$2"; shift 2 ;;
    -h|--help) usage ;;
    --) shift; COMPARE_ARGS=("$@"); break ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) POS+=("$1"); shift ;;
  esac
done
[[ ${#POS[@]} -ge 2 && ${#POS[@]} -le 3 ]] || usage
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }
REV_A="${POS[0]}"
REV_B="${POS[1]}"

REPO="$(git rev-parse --show-toplevel)"
cd "$REPO"
SHA_A="$(git rev-parse --verify --quiet "$REV_A^{commit}")" || { echo "not a revision: $REV_A" >&2; exit 2; }
SHA_B="$(git rev-parse --verify --quiet "$REV_B^{commit}")" || { echo "not a revision: $REV_B" >&2; exit 2; }
SCENARIO="${POS[2]:-$REPO/scenarios/quick.toml}"
[[ -f "$SCENARIO" ]] || { echo "no such scenario file: $SCENARIO" >&2; exit 2; }
SCENARIO="$(cd "$(dirname "$SCENARIO")" && pwd)/$(basename "$SCENARIO")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
[[ -n "$OUT" ]] || OUT="reports/compare-${SHA_A:0:9}-${SHA_B:0:9}-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/minebench-revs.XXXXXX")"
cleanup() {
  for side in a b; do
    [[ -d "$TMP/wt-$side" ]] && git -C "$REPO" worktree remove --force "$TMP/wt-$side" >/dev/null 2>&1
  done
  git -C "$REPO" worktree prune >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The tool that merges and compares: this checkout's (or $MINEBENCH).
if [[ -z "${MINEBENCH:-}" ]]; then
  echo "== building the current checkout (for merge-reports / compare)" >&2
  cargo build --release --quiet --bin minebench
  cp "$CARGO_TARGET_DIR/release/minebench" "$TMP/minebench-tool"
  MINEBENCH="$TMP/minebench-tool"
fi

build() { # side sha
  local side="$1" sha="$2"
  echo "== building $side = ${sha:0:12} ($(git log -1 --format=%s "$sha"))" >&2
  git worktree add --detach --quiet "$TMP/wt-$side" "$sha"
  (cd "$TMP/wt-$side" && cargo build --release --quiet --bin minebench)
  # Both sides build into one target dir: copy each binary out before the next build.
  cp "$CARGO_TARGET_DIR/release/minebench" "$TMP/minebench-$side"
}
build a "$SHA_A"
build b "$SHA_B"

for ((r = 1; r <= ROUNDS; r++)); do
  for side in a b; do
    echo "== round $r/$ROUNDS: $side" >&2
    "$TMP/minebench-$side" run "$SCENARIO" --no-profile --out "$TMP/runs/$side/$r" >/dev/null
  done
done

"$MINEBENCH" merge-reports "$OUT/A/report.json" "$TMP"/runs/a/*/*/report.json
"$MINEBENCH" merge-reports "$OUT/B/report.json" "$TMP"/runs/b/*/*/report.json
# Each side's own page, which compare.html links to.
"$MINEBENCH" render "$OUT/A/report.json" >/dev/null
"$MINEBENCH" render "$OUT/B/report.json" >/dev/null

echo "== A = $REV_A (${SHA_A:0:12}), B = $REV_B (${SHA_B:0:12}), $ROUNDS rounds each" >&2
status=0
"$MINEBENCH" compare "$OUT/A" "$OUT/B" --out "$OUT" \
  ${COMPARE_ARGS[@]+"${COMPARE_ARGS[@]}"} | tee "$OUT/compare.txt" || status=${PIPESTATUS[0]}
echo "== written: $OUT/{compare.html,compare.md,compare.json,compare.txt,plots/,A/,B/}" >&2
exit "$status"
