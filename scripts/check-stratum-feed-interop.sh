#!/usr/bin/env bash
# Interop check of minebench's stratum *client* (`run --pool`): a pool written elsewhere — the
# npm package `stratum`'s Server (pocesar/node-stratum, pinned in scripts/stratum-interop/),
# driven by scripts/stratum-interop/server.js, which verifies every share itself with node's
# crypto — hands out jobs (a new one every second, a clean one every 3 s) at a low share
# difficulty; minebench mines one short case against it. Checks: minebench exits 0; its report's
# single case has pool_client.accepted >= 3, rejections only `stale` / `job_not_found` (work on a
# job a clean switch replaced), nothing unanswered, no reconnect; the pool saw exactly one
# connection, the same number of submits and accepted/rejected shares as the report says, and
# not one share that failed its verification.
#
#   scripts/check-stratum-feed-interop.sh [path/to/minebench]   (default target/release/minebench)
#
# Environment: STRATUM_FEED_INTEROP_DIFFICULTY (share difficulty, default 0.0002),
# STRATUM_FEED_INTEROP_MIN_ACCEPTED (default 3), STRATUM_FEED_INTEROP_KEEP=1 (keep the temp dir
# with the wire log, the pool's output and the report).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${1:-target/release/minebench}
DIFFICULTY=${STRATUM_FEED_INTEROP_DIFFICULTY:-0.0002} # ~0.86M sha256d per share: ~12/s at 10 MH/s
MIN_ACCEPTED=${STRATUM_FEED_INTEROP_MIN_ACCEPTED:-3}
USER_NAME=npm-stratum-feed

if [[ ! -x "$BIN" ]]; then
  echo "check-stratum-feed-interop: no minebench binary at $BIN (build it first: cargo build --release)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

scripts/stratum-interop/setup.sh check-stratum-feed-interop
T_START=$(date +%s.%N) # the check itself, after npm ci

OUT=$(mktemp -d "${TMPDIR:-/tmp}/stratum-feed-interop.XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "${STRATUM_FEED_INTEROP_KEEP:-}" ]]; then
    echo "check-stratum-feed-interop: kept $OUT (wire.log, server.*, run.*, reports/)" >&2
  else
    rm -rf "$OUT"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "check-stratum-feed-interop: FAIL: $*" >&2
  echo "--- pool (server.js) stderr:" >&2
  tail -n 20 "$OUT/server.stderr" >&2 || true
  echo "--- first lines on the wire (#connection, <- from minebench, -> to minebench):" >&2
  head -n 12 "$OUT/wire.log" 2>/dev/null | cut -c1-400 >&2 || true
  exit 1
}

# The [work] pool below is a placeholder that --pool / --pool-user must override (the report's
# url and user are checked). (With --pool a scenario needs no [work] at all; this one has one to
# check the override.)
cat >"$OUT/feed-interop.toml" <<'EOF'
name = "feed-interop"

[work]
pool = { url = "stratum+tcp://127.0.0.1:9", user = "overridden-by-pool-user" }

[matrix]
backend = ["sha2-midstate"]
scheduler = ["atomic"]
threads = [1]

[measure]
warmup = "300ms"
samples = 5
sample = { duration = "500ms" }
EOF

# Port 0: the server picks a free port and says which (no probe connection, no race).
node scripts/stratum-interop/server.js --host 127.0.0.1 --port 0 --difficulty "$DIFFICULTY" \
  --timeout 300 --log "$OUT/wire.log" >"$OUT/server.json" 2>"$OUT/server.stderr" &
SERVER_PID=$!

PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$OUT/server.stderr")
  [[ -n "$PORT" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "the pool (server.js) exited early"
  sleep 0.1
done
[[ -n "$PORT" ]] || fail "the pool (server.js) did not start listening within 10 s"

RUN_RC=0
timeout 240 "$BIN" run "$OUT/feed-interop.toml" --pool "stratum+tcp://127.0.0.1:$PORT" \
  --pool-user "$USER_NAME" --no-profile --out "$OUT/reports" \
  >"$OUT/run.stdout" 2>"$OUT/run.stderr" || RUN_RC=$?
if [[ $RUN_RC -ne 0 ]]; then
  echo "--- minebench run stderr:" >&2
  tail -n 20 "$OUT/run.stderr" >&2
  fail "minebench run --pool exited with status $RUN_RC"
fi

# SIGTERM: the server prints its totals as one JSON line and exits.
kill -TERM "$SERVER_PID"
SERVER_RC=0
wait "$SERVER_PID" || SERVER_RC=$?
SERVER_PID=
[[ $SERVER_RC -eq 0 ]] || fail "the pool (server.js) exited with status $SERVER_RC"

T_END=$(date +%s.%N)
if ! python3 - "$OUT" "$USER_NAME" "$DIFFICULTY" "$MIN_ACCEPTED" "$T_START" "$T_END" "$PORT" <<'EOF'; then
import glob, json, sys

out, user, difficulty, min_accepted, t_start, t_end, port = sys.argv[1:8]
difficulty, min_accepted = float(difficulty), int(min_accepted)
STALE = {"stale", "job_not_found"}
problems = []

def need(cond, msg):
    if not cond:
        problems.append(msg)
    return cond

def stop():
    for p in problems:
        print(f"check-stratum-feed-interop: {p}", file=sys.stderr)
    sys.exit(1)

lines = [l for l in open(f"{out}/server.json").read().splitlines() if l.strip()]
if not need(len(lines) == 1, f"expected one JSON line of totals from server.js, got {len(lines)}"):
    stop()
srv = json.loads(lines[0])

reports = glob.glob(f"{out}/reports/feed-interop-*/report.json")
if not need(len(reports) == 1, f"expected one feed-interop-*/report.json, found {reports}"):
    stop()
report = json.load(open(reports[0]))
cases = report.get("cases", [])
if not need(len(cases) == 1, f"expected 1 case in the report, got {len(cases)}; "
            f"failed: {json.dumps(report.get('failed'))}; skipped: {json.dumps(report.get('skipped'))}"):
    stop()
case = cases[0]
pc = case.get("pool_client")
if not need(pc is not None, f"case {case.get('id')} has no pool_client"):
    stop()

# minebench's side.
need(pc["accepted"] >= min_accepted, f"report: pool_client.accepted {pc['accepted']} < {min_accepted}")
bad = {k: v for k, v in pc["rejected"].items() if k not in STALE}
need(not bad, f"report: rejections other than stale/job_not_found: {json.dumps(bad)}")
need(pc["unanswered"] == 0, f"report: {pc['unanswered']} shares unanswered")
need(pc["reconnects"] == 0, f"report: {pc['reconnects']} reconnects")
need(pc["not_sent"] == 0, f"report: {pc['not_sent']} shares not sent")
need(pc["url"] == f"stratum+tcp://127.0.0.1:{port}",
     f"report: pool_client.url {pc['url']!r}, expected the --pool URL")
need(pc["user"] == user, f"report: pool_client.user {pc['user']!r}, expected {user!r}")
need(pc["difficulty"] == [difficulty], f"report: pool_client.difficulty {pc['difficulty']}, expected [{difficulty}]")
need(pc["jobs"] >= 1, f"report: pool_client.jobs {pc['jobs']}")

# The pool's side.
conns = srv["connections"]
if not need(len(conns) == 1, f"server: expected 1 connection, saw {len(conns)}"):
    stop()
c = conns[0]
need(srv["invalid"] == 0 and c["invalid"] == 0,
     f"server: {srv['invalid']} shares failed verification: {json.dumps(srv['rejected'])} (see its stderr)")
sbad = {k: v for k, v in c["rejected"].items() if k not in STALE}
need(not sbad, f"server: rejections other than stale/job_not_found: {json.dumps(sbad)}")
need(c["with_version_bits"] == 0, f"server: {c['with_version_bits']} submits carried version bits (never agreed)")
need(c["user"] == user, f"server: authorized user {c['user']!r}, expected {user!r}")

# Both sides agree.
s_rej = sum(c["rejected"].values())
r_rej = sum(pc["rejected"].values())
need(pc["submitted"] == c["submitted"],
     f"submitted: report {pc['submitted']}, server {c['submitted']}")
need(pc["accepted"] == c["accepted"],
     f"accepted: report {pc['accepted']}, server {c['accepted']}")
need(r_rej == s_rej,
     f"rejected: report {json.dumps(pc['rejected'])}, server {json.dumps(c['rejected'])}")
need(pc["jobs"] <= c["jobs"], f"jobs: report {pc['jobs']} > server's {c['jobs']}")

if problems:
    stop()

lat = pc.get("submit_latency") or {}
p50 = lat.get("p50_ns")
print(f"check-stratum-feed-interop: OK in {float(t_end) - float(t_start):.1f} s: "
      f"minebench case {case.get('id')} vs npm stratum@{srv['stratum_version']} Server "
      f"at difficulty {difficulty}:")
print(f"  report: submitted {pc['submitted']}, accepted {pc['accepted']}, "
      f"rejected {json.dumps(pc['rejected'], sort_keys=True)}, jobs {pc['jobs']} "
      f"(clean {pc['clean_jobs']}), stale_fraction {pc['stale_fraction']:.3f}"
      + (f", submit p50 {p50 / 1e6:.2f} ms" if p50 else ""))
print(f"  pool:   submitted {c['submitted']}, accepted {c['accepted']}, "
      f"rejected {json.dumps(c['rejected'], sort_keys=True)}, jobs {c['jobs']} "
      f"(clean {c['clean_jobs']}), invalid {c['invalid']}")
print(f"  mining.configure answered by the package: {c['configure_answer']}")
EOF
  fail "see above"
fi
