#!/usr/bin/env bash
# bench/run.sh a|b|c|d|smoke [options]: one command per benchmark scenario (see bench/README.md).
# Installs socket.io-client (npm ci) on first use; starts its own `safechat serve` on loopback.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$here/node_modules/socket.io-client" ]; then
  bash "$here/../scripts/ensure-node.sh"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/bench.mjs" "$@"
