#!/usr/bin/env bash
# Interop check: a Stratum v1 client written elsewhere (the npm package
# `stratum`, pocesar/node-stratum, pinned in scripts/stratum-interop/) mines
# against `minebench pool` on loopback. The client must get 5 shares accepted,
# a share above the target rejected with 23 and a duplicate rejected with 22;
# then the pool's report must show the same for that connection.
#
#   scripts/check-stratum-interop.sh [path/to/minebench]   (default target/release/minebench)
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${1:-target/release/minebench}
DIFFICULTY=${STRATUM_INTEROP_DIFFICULTY:-0.00002} # ~86k sha256d per share, well under a second in JS
DURATION=90s                                       # backstop only: stopped with SIGINT once the client is done

if [[ ! -x "$BIN" ]]; then
  echo "check-stratum-interop: no minebench binary at $BIN (build it first: cargo build --release)" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

scripts/stratum-interop/setup.sh check-stratum-interop

OUT=$(mktemp -d "${TMPDIR:-/tmp}/stratum-interop.XXXXXX")
POOL_PID=
cleanup() {
  if [[ -n "$POOL_PID" ]] && kill -0 "$POOL_PID" 2>/dev/null; then
    kill "$POOL_PID" 2>/dev/null || true
    wait "$POOL_PID" 2>/dev/null || true
  fi
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

"$BIN" pool --listen "127.0.0.1:$PORT" --difficulty "$DIFFICULTY" --duration "$DURATION" \
  --out "$OUT" --json >"$OUT/pool.jsonl" 2>"$OUT/pool.stderr" &
POOL_PID=$!

# Wait for the pool to say it is listening (a probe connection would show up in its report).
for _ in $(seq 1 100); do
  grep -q 'pool listening on' "$OUT/pool.stderr" && break
  if ! kill -0 "$POOL_PID" 2>/dev/null; then
    echo "check-stratum-interop: the pool exited early:" >&2
    cat "$OUT/pool.stderr" >&2
    exit 1
  fi
  sleep 0.1
done

if ! node scripts/stratum-interop/client.js 127.0.0.1 "$PORT"; then
  echo "check-stratum-interop: the npm stratum client failed; pool stderr:" >&2
  tail -n 20 "$OUT/pool.stderr" >&2
  exit 1
fi

# Ctrl-C is how `minebench pool` ends early; it still writes the report.
kill -INT "$POOL_PID"
POOL_RC=0
wait "$POOL_PID" || POOL_RC=$?
POOL_PID=
if [[ $POOL_RC -ne 0 ]]; then
  echo "check-stratum-interop: the pool exited with status $POOL_RC:" >&2
  tail -n 20 "$OUT/pool.stderr" >&2
  exit 1
fi

python3 - "$OUT" <<'EOF'
import glob, json, sys

out = sys.argv[1]
reports = glob.glob(f"{out}/pool-*/report.json")
if len(reports) != 1:
    sys.exit(f"check-stratum-interop: expected one pool-*/report.json under {out}, found {reports}")
report = json.load(open(reports[0]))
cases = report.get("cases", [])
if len(cases) != 1:
    sys.exit(f"check-stratum-interop: expected 1 case in the report, got {len(cases)}; "
             f"skipped: {json.dumps(report.get('skipped'))}")
case = cases[0]
ext = case["external"]
pool = ext["pool"]
want = {"accepted": 5, "rejected": {"low_difficulty": 1, "duplicate": 1},
        "protocol_errors": 0, "worker": "npm-stratum"}
got = {"accepted": pool.get("accepted"), "rejected": pool.get("rejected"),
       "protocol_errors": pool.get("protocol_errors"), "worker": ext.get("name")}
if got != want:
    sys.exit(f"check-stratum-interop: report case {case.get('id')}: "
             f"expected {json.dumps(want, sort_keys=True)}, got {json.dumps(got, sort_keys=True)}")
print(f"check-stratum-interop: OK: report case {case.get('id')}: "
      f"accepted {got['accepted']}, rejected {json.dumps(got['rejected'], sort_keys=True)}")
EOF
