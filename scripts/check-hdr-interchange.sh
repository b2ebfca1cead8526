#!/usr/bin/env bash
# Decodes every latency histogram of a report with an HdrHistogram implementation nobody here
# wrote (the Python `hdrhistogram` package from PyPI, in a throw-away venv) and checks it holds
# the very histogram minebench summarised: the same count, min and max, and at every stored
# percentile the value that rank rule gives on the decoded buckets. Proves `histogram_b64` is
# the interchange encoding (compressed V2) other tools read, not one only minebench reads.
#
#   scripts/check-hdr-interchange.sh REPORT.json
#
# Prints one line per histogram, then "hdr: N passed, M failed"; exits 1 on any failure, 2 when
# the setup fails. Uses $HDR_VENV if it already holds the package.
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: $0 REPORT.json" >&2; exit 2; }
report=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
venv=${HDR_VENV:-$work/venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import hdrh' 2>/dev/null; then
    python3 -m venv "$venv" || exit 2
    "$venv/bin/pip" install --quiet hdrhistogram==0.10.8 \
        || { sleep 10 && "$venv/bin/pip" install --quiet hdrhistogram==0.10.8; } || exit 2
fi
"$venv/bin/python" - "$report" <<'PY'
import json, math, sys
from hdrh.histogram import HdrHistogram

report = json.load(open(sys.argv[1]))
passed = failed = 0
for case in report["cases"]:
    for name, lat in case["latency"].items():
        if not lat:
            continue
        h = HdrHistogram.decode(lat["histogram_b64"])
        buckets = [(it.value_iterated_to, it.count_at_value_iterated_to)
                   for it in h.get_recorded_iterator()]
        total = h.get_total_count()

        def at_quantile(q):
            # minebench's rule (the Rust hdrhistogram crate): the first bucket whose cumulative
            # count reaches ceil(q * total), at its highest equivalent value.
            want = max(1, math.ceil(q * total))
            seen = 0
            for value, count in buckets:
                seen += count
                if seen >= want:
                    return h.get_highest_equivalent_value(value)
            return 0

        got = {
            "count": total,
            "min_ns": h.get_min_value() if total else 0,
            "max_ns": h.get_max_value() if total else 0,
            "p50_ns": at_quantile(0.5), "p90_ns": at_quantile(0.9),
            "p99_ns": at_quantile(0.99), "p999_ns": at_quantile(0.999),
        }
        diff = {k: (got[k], lat[k]) for k in got if got[k] != lat[k]}
        if diff:
            failed += 1
            print(f"FAIL  {case['id']} {name}: (decoded, stored) {diff}")
        else:
            passed += 1
            print(f"ok    {case['id']} {name}: {total} values")
print(f"hdr: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
PY
