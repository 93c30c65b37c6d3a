#!/usr/bin/env bash
# The multi-node tests start a real redis-server; install it from Debian if missing.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "redis-server is needed for the multi-node tests; install it (apt-get install redis-server) and retry." >&2
  exit 1
fi
echo "Installing redis-server from Debian packages..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
# The package starts a system service on :6379; the tests run their own servers.
(systemctl stop redis-server || service redis-server stop || true) >/dev/null 2>&1
