#!/usr/bin/env bash
# The JS end-to-end test needs Node.js >= 18 and npm; install them from Debian if missing.
set -euo pipefail
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -ge 18 ]; then exit 0; fi
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Node.js >= 18 and npm are needed for the end-to-end test; install them and retry." >&2
  exit 1
fi
echo "Installing Node.js and npm from Debian packages..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
