#!/usr/bin/env bash
# Node, npm (Debian's, installed when missing) and this folder's pinned packages (npm ci): what
# both stratum interop checks need. Usage: scripts/stratum-interop/setup.sh NAME (NAME prefixes
# the messages).
set -euo pipefail
NAME=${1:-stratum-interop}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "$NAME: installing nodejs and npm" >&2
  (apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null) ||
    (sleep 10 && apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null)
fi
cd "$(dirname "$0")" && npm ci --no-audit --no-fund --loglevel=error
