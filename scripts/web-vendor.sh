#!/usr/bin/env bash
# The web client at / (docs/web-client.md) needs socket.io-client's browser build: taken
# from npm at install time (never a CDN) and copied next to the client's static files, so
# `safechat serve` serves it (package data of a wheel built after this step, too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node.sh
(cd web && npm ci --no-audit --no-fund --loglevel=error)
mkdir -p src/safechat/web/vendor
cp web/node_modules/socket.io-client/dist/socket.io.esm.min.js src/safechat/web/vendor/
