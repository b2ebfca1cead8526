#!/usr/bin/env bash
# Checks `minebench history` against Apache Otava (apache-otava 0.8.0 from PyPI), the tool whose
# change-point detection it ports, on the same data:
#   scripts/check-otava.sh
# - installs apache-otava into a throw-away venv (or uses $OTAVA_VENV if it already holds one),
# - writes a history database with synthetic series (flat, one step, a regression, two steps,
#   noisy, a long one spanning several windows, a dozen random ones) using Python's sqlite3, in the schema of
#   src/history_store.rs,
# - runs `minebench history --db ... --csv DIR --json`, then `otava analyze` on each exported
#   CSV (DIR/otava.yaml), with the default options and again with a small window, a looser
#   p-value and a minimum magnitude,
# - fails unless both find the same change points (indexes) in every series.
# Prints one line per series and options, then "otava: N passed, M failed"; exits 1 on any
# failure, 2 when the setup fails. Uses $MINEBENCH if set, else builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "${MINEBENCH:-}" ]; then
    minebench=$MINEBENCH
else
    cargo build --release --quiet
    minebench=target/release/minebench
fi
minebench=$(cd "$(dirname "$minebench")" && pwd)/$(basename "$minebench")

venv=${OTAVA_VENV:-$work/venv}
if [ ! -x "$venv/bin/otava" ]; then
    echo "== installing apache-otava==0.8.0 into $venv"
    python3 -m venv "$venv" || { echo "python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check apache-otava==0.8.0 \
        || { echo "pip install apache-otava==0.8.0 failed" >&2; exit 2; }
fi
py=$venv/bin/python

echo "== synthetic series"
# name, then (points, level) segments, relative noise (uniform ±), seed. Levels are relative to
# 10 MH/s. Every series is ≥ 15 points; the step ones are 10 % unless said otherwise.
"$py" - "$work/history.sqlite" <<'EOF'
import datetime, random, sqlite3, sys

SERIES = [
    ("flat",          [(40, 1.00)],                           0.01, 1),
    ("flat-short",    [(15, 1.00)],                           0.01, 2),
    ("step",          [(10, 1.00), (8, 1.10)],                0.01, 3),
    ("regression",    [(18, 1.00), (12, 0.90)],               0.01, 4),
    ("two-steps",     [(15, 1.00), (15, 1.10), (15, 1.21)],   0.01, 5),
    ("noisy-step",    [(35, 1.00), (25, 1.08)],               0.05, 6),
    ("noisy-flat",    [(60, 1.00)],                           0.05, 7),
    ("long",          [(40, 1.00), (45, 1.05), (35, 0.97)],   0.02, 8),
    ("up-down",       [(12, 1.00), (12, 1.10), (12, 0.95)],   0.01, 9),
]
# And a dozen drawn at random (fixed seeds): 1 to 4 segments of 5 to 40 points, levels within
# ±15 %, noise 0.5 to 5 %: shapes nobody picked by hand.
for seed in range(100, 112):
    rng = random.Random(seed)
    segments = [(rng.randint(5, 40), rng.uniform(0.85, 1.15)) for _ in range(rng.randint(1, 4))]
    SERIES.append((f"random-{seed}", segments, rng.uniform(0.005, 0.05), seed))

db = sqlite3.connect(sys.argv[1])
# The schema of src/history_store.rs (SCHEMA_VERSION 1).
db.executescript("""
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
CREATE TABLE cases (
    id INTEGER PRIMARY KEY, scenario TEXT NOT NULL, case_id TEXT NOT NULL,
    machine TEXT NOT NULL, started_at TEXT NOT NULL, git_commit TEXT, git_dirty INTEGER,
    wall_median REAL NOT NULL, cpu_median REAL, samples INTEGER NOT NULL,
    report_path TEXT NOT NULL, UNIQUE (started_at, scenario, machine, case_id));
""")
t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
for name, segments, noise, seed in SERIES:
    rng = random.Random(seed)
    i = 0
    for n, level in segments:
        for _ in range(n):
            value = 1e7 * level * (1 + noise * (2 * rng.random() - 1))
            at = (t0 + datetime.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            db.execute(
                "INSERT INTO cases (scenario, case_id, machine, started_at, git_commit, "
                "git_dirty, wall_median, cpu_median, samples, report_path) "
                "VALUES (?, ?, ?, ?, ?, 0, ?, NULL, 8, 'check-otava')",
                ("check-otava", f"{name}/x/t1/zb1", "check-otava", at, f"{i:040x}", value),
            )
            i += 1
    bounds, at = [], 0
    for n, _ in segments[:-1]:
        at += n
        bounds.append(at)
    print(f"  {name}: {sum(n for n, _ in segments)} points, steps injected at {bounds}")
db.commit()
EOF

passed=0
failed=0
# minebench flags | the same options in otava's words
for opts in "|" "--window 20 --p-value 0.01 --min-magnitude 3|--window 20 -P 0.01 --magnitude 0.03"; do
    mb_opts=${opts%%|*}
    ot_opts=${opts#*|}
    echo "== options: ${mb_opts:-defaults (window 50, p-value 0.001, no minimum magnitude)}"
    csv="$work/csv"
    rm -rf "$csv"
    # shellcheck disable=SC2086 # the options are words on purpose
    "$minebench" history --db "$work/history.sqlite" --csv "$csv" --json $mb_opts \
        >"$work/minebench.json" 2>"$work/minebench.log" \
        || { cat "$work/minebench.log" >&2; echo "minebench history failed" >&2; exit 2; }
    for stem in $("$py" -c 'import json,sys; [print(s["stem"]) for s in json.load(open(sys.argv[1]))["series"]]' "$work/minebench.json"); do
        # shellcheck disable=SC2086
        OTAVA_CONFIG="$csv/otava.yaml" "$venv/bin/otava" analyze "$stem" --output json \
            --since 1970-01-01 --until 2100-01-01 $ot_opts >"$work/otava.out" 2>"$work/otava.log" \
            || { cat "$work/otava.log" >&2; echo "otava analyze $stem failed" >&2; exit 2; }
        if "$py" - "$work/minebench.json" "$work/otava.out" "$stem" <<'EOF'
import json, sys
mb_doc, otava_out, stem = sys.argv[1:]
series = next(s for s in json.load(open(mb_doc))["series"] if s["stem"] == stem)
mine = [c["index"] for c in series["change_points"]]
# otava prints log lines before the JSON document: take the last line that is one.
doc = next(json.loads(l) for l in reversed(open(otava_out).read().splitlines()) if l.startswith("{"))
theirs = sorted(c["index"] for group in doc[stem] for c in group["changes"])
name = series["case_id"].split("/")[0]
same = mine == theirs
print(f"{'ok  ' if same else 'FAIL'}  {name:<12} minebench {mine}  otava {theirs}")
sys.exit(0 if same else 1)
EOF
        then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
done

echo "otava: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
