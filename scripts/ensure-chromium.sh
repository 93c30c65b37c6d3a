#!/usr/bin/env bash
# The web client's browser test (tests/e2e/test_web_client.py) drives Debian's chromium
# with playwright-core; install it from Debian if missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "/usr/bin/chromium is needed for the web client test; install Debian's chromium and retry." >&2
  exit 1
fi
echo "Installing chromium from Debian packages..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
