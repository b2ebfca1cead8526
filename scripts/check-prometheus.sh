#!/usr/bin/env bash
# Prometheus check: a real Prometheus (Debian's `prometheus` package, installed if missing)
# scrapes `minebench run --metrics` every second while a one-case scenario runs; afterwards
# the per-case hash rate Prometheus computes from `minebench_hashes_total`
# (median over the run of `sum by (case) (rate(minebench_hashes_total[3s]))`) must agree
# with the report's `hash_rate.median` for that case within 10 %. Prometheus must also have
# seen the target up at least once.
#
#   scripts/check-prometheus.sh [path/to/minebench]   (default target/release/minebench)
#
# Prints both rates and their ratio; exits 1 on disagreement, when Prometheus never scraped
# the target or has no data for the case, 2 when the binary or Prometheus is missing.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${1:-target/release/minebench}
TOLERANCE=${PROMETHEUS_CHECK_TOLERANCE:-0.10}
RUN_TIMEOUT=${PROMETHEUS_CHECK_TIMEOUT:-120} # seconds; the scenario itself takes ~13 s

if [[ ! -x "$BIN" ]]; then
  echo "check-prometheus: no minebench binary at $BIN (build it first: cargo build --release)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/prometheus-check.XXXXXX")
PROM_PID=
BENCH_PID=
stop() { # PID: terminate it and reap it
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$BENCH_PID"
  stop "$PROM_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Prometheus ---------------------------------------------------------------------------
# The package's postinst enables (and, where no policy-rc.d forbids it, starts) its own service
# on :9090; it is not used here: this script runs its own instance on a free loopback port.
PROM=$(command -v prometheus || true)
if [[ -z "$PROM" ]]; then
  echo "check-prometheus: installing prometheus" >&2
  (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null) ||
    (sleep 10 && apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null) ||
    echo "check-prometheus: apt-get install prometheus failed; trying its unpacked binary" >&2
  PROM=$(command -v prometheus || true)
  # dpkg unpacks before it configures: a failed postinst still leaves the binary in place.
  if [[ -z "$PROM" && -x /usr/bin/prometheus ]]; then PROM=/usr/bin/prometheus; fi
  if [[ -z "$PROM" ]]; then # last resort: the package's files without installing it
    (cd "$WORK" && apt-get download prometheus >/dev/null 2>&1 && dpkg -x prometheus_*.deb "$WORK/deb") || true
    if [[ -x "$WORK/deb/usr/bin/prometheus" ]]; then PROM=$WORK/deb/usr/bin/prometheus; fi
  fi
fi
if [[ -z "$PROM" ]]; then
  echo "check-prometheus: no prometheus binary (apt-get install prometheus)" >&2
  exit 2
fi
echo "check-prometheus: $("$PROM" --version 2>&1 | head -n 1) ($PROM)"

read -r PROM_PORT METRICS_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()')
PROM_URL=http://127.0.0.1:$PROM_PORT

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: minebench
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
EOF

"$PROM" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!

for i in $(seq 1 300); do
  curl -fsS "$PROM_URL/-/ready" >/dev/null 2>&1 && break
  if ! kill -0 "$PROM_PID" 2>/dev/null || [[ $i -eq 300 ]]; then
    echo "check-prometheus: prometheus did not become ready on $PROM_URL:" >&2
    tail -n 20 "$WORK/prometheus.log" >&2
    exit 1
  fi
  sleep 0.1
done

# Prometheus hands new targets to its scrape loop only every few seconds after it starts; wait
# for its first scrape (`up` 0: nothing listens yet) so that the run is scraped from its start.
for i in $(seq 1 300); do
  curl -fsS "$PROM_URL/api/v1/query" --data-urlencode 'query=up{job="minebench"}' 2>/dev/null |
    grep -q '"value"' && break
  if [[ $i -eq 300 ]]; then
    echo "check-prometheus: prometheus did not start scraping its target within 30 s:" >&2
    tail -n 20 "$WORK/prometheus.log" >&2
    exit 1
  fi
  sleep 0.1
done

# --- minebench ----------------------------------------------------------------------------
cat >"$WORK/prometheus-check.toml" <<'EOF'
name = "prometheus-check"
[work]
header = "synthetic"
seed = 1
difficulty = { zero_bits = 24 }
[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic"]
threads = [1]
[measure]
warmup = "1s"
samples = 12
sample = { duration = "1s" }
EOF

START=$(date +%s.%N)
"$BIN" run "$WORK/prometheus-check.toml" --metrics "127.0.0.1:$METRICS_PORT" --out "$WORK/out" \
  --no-profile >"$WORK/minebench.stdout" 2>"$WORK/minebench.stderr" &
BENCH_PID=$!
DEADLINE=$((SECONDS + RUN_TIMEOUT))
while kill -0 "$BENCH_PID" 2>/dev/null; do
  if ((SECONDS >= DEADLINE)); then
    echo "check-prometheus: minebench still running after ${RUN_TIMEOUT}s; stderr:" >&2
    tail -n 20 "$WORK/minebench.stderr" >&2
    exit 1
  fi
  sleep 0.2
done
BENCH_RC=0
wait "$BENCH_PID" || BENCH_RC=$?
BENCH_PID=
END=$(date +%s.%N)
if [[ $BENCH_RC -ne 0 ]]; then
  echo "check-prometheus: minebench exited with status $BENCH_RC; stderr:" >&2
  tail -n 20 "$WORK/minebench.stderr" >&2
  exit 1
fi

# --- compare ------------------------------------------------------------------------------
python3 - "$WORK/out" "$PROM_URL" "$START" "$END" "$TOLERANCE" "$METRICS_PORT" <<'EOF'
import glob, json, statistics, sys, urllib.parse, urllib.request

out, prom, start, end, tolerance, metrics_port = sys.argv[1:]
start, end, tolerance = float(start), float(end), float(tolerance)

def fail(msg):
    sys.exit(f"check-prometheus: FAIL: {msg}")

reports = glob.glob(f"{out}/prometheus-check-*/report.json")
if len(reports) != 1:
    fail(f"expected one prometheus-check-*/report.json under {out}, found {reports}")
report = json.load(open(reports[0]))
cases = report.get("cases", [])
if len(cases) != 1:
    fail(f"expected 1 case in the report, got {len(cases)}; skipped: {json.dumps(report.get('skipped'))}")
case_id = cases[0]["id"]
reported = float(cases[0]["hash_rate"]["median"])

def query_range(q):
    params = urllib.parse.urlencode({"query": q, "start": f"{start:.3f}", "end": f"{end + 1:.3f}", "step": "1s"})
    with urllib.request.urlopen(f"{prom}/api/v1/query_range?{params}", timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        fail(f"prometheus query {q!r} failed: {body}")
    return body["data"]["result"]

up = [float(v) for s in query_range('up{job="minebench"}') for _, v in s["values"]]
if not any(v == 1 for v in up):
    fail(f"prometheus never scraped minebench's metrics at 127.0.0.1:{metrics_port} "
         f"(up was {'never recorded' if not up else 'always 0'} during the run)")

query = 'sum by (case) (rate(minebench_hashes_total{job="minebench"}[3s]))'
series = {s["metric"].get("case"): s["values"] for s in query_range(query)}
if case_id not in series:
    fail(f"prometheus has no minebench_hashes_total for case=\"{case_id}\" "
         f"(cases it has: {sorted(k for k in series if k is not None) or 'none'})")
values = [float(v) for _, v in series[case_id]]
# Flat stretches (rate 0) are where the case was not hashing: minebench keeps serving the
# counter while it writes the report, until it exits. They are not part of the case's rate.
rising = [v for v in values if v > 0]
if not rising:
    fail(f"minebench_hashes_total for case=\"{case_id}\" never increased ({len(values)} points)")
scraped = statistics.median(rising)
ratio = scraped / reported if reported else float("inf")
print(f"check-prometheus: case {case_id}: prometheus median rate {scraped:,.0f} H/s "
      f"over {len(rising)} points ({len(values) - len(rising)} flat), "
      f"report hash_rate.median {reported:,.0f} H/s, ratio {ratio:.3f}")
if abs(ratio - 1) > tolerance:
    fail(f"prometheus and the report disagree by more than {tolerance:.0%} (ratio {ratio:.3f}); "
         f"prometheus rates, 1 s apart: {', '.join(f'{v:,.0f}' for v in values)}")
print("check-prometheus: OK")
EOF
