#!/usr/bin/env bash
# Opens every case's CPU profile (`.pb`) of a report with a pprof nobody here wrote
# (`go tool pprof`, Debian's golang-go) and checks, per profiled case:
# - it parses, and its total CPU (`-sample_index=cpu`) is within 10 % of the CPU time the
#   case's workers used in its samples (`samples[].cpu_ns`; the profile also spans the short
#   gaps between samples and the main thread, hence the tolerance);
# - `-lines` resolves samples to file:line of this workspace's sources (`src/…rs:N`).
#
#   scripts/check-pprof.sh REPORT_DIR
#
# Prints one line per case (total, workers' CPU, ratio, hottest line), then
# "pprof: N passed, M failed"; exits 1 on any failure, 2 when go or the report is missing.
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1/report.json" ] || { echo "usage: $0 REPORT_DIR" >&2; exit 2; }
command -v go >/dev/null 2>&1 || { echo "go not found: apt-get install -y golang-go" >&2; exit 2; }
python3 - "$1" <<'PY'
import json, os, re, subprocess, sys

d = sys.argv[1]
report = json.load(open(os.path.join(d, "report.json")))
units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "mins": 60.0, "hrs": 3600.0}

def seconds(q):
    m = re.fullmatch(r"([0-9.]+)([a-zµ]+)", q)
    return float(m.group(1)) * units[m.group(2)]

def pprof(*args):
    return subprocess.run(["go", "tool", "pprof", *args], capture_output=True, text=True, check=True).stdout

passed = failed = 0
for case in report["cases"]:
    p = case.get("profile")
    if not p:
        continue
    pb = os.path.join(d, p["pprof"])
    workers = sum(s["cpu_ns"] for s in case["samples"]) / 1e9
    try:
        top = pprof("-top", "-sample_index=cpu", pb)
        m = re.search(r"of ([0-9.]+[a-zµ]+) total", top)
        total = seconds(m.group(1)) if m else 0.0
        lines = pprof("-top", "-lines", "-sample_index=cpu", "-nodecount=1", pb)
        hot = next((l.split()[-1] for l in lines.splitlines() if re.search(r"src/\S+\.rs:\d+", l)), None)
    except subprocess.CalledProcessError as e:
        failed += 1
        print(f"FAIL  {case['id']}: go tool pprof failed: {e.stderr.strip()}")
        continue
    ratio = total / workers if workers else 0.0
    ok = 0.9 <= ratio <= 1.1
    lines_any = pprof("-top", "-lines", "-sample_index=cpu", pb)
    ok_lines = re.search(r"src/\S+\.rs:\d+", lines_any) is not None
    status = "ok   " if ok and ok_lines else "FAIL "
    passed += ok and ok_lines
    failed += not (ok and ok_lines)
    print(f"{status} {case['id']}: pprof total {total:.3f} s, workers {workers:.3f} s, ratio {ratio:.3f}, "
          f"hottest line {hot or '(none in src/)'}" + ("" if ok_lines else " (no src/ line in -lines)"))
print(f"pprof: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
