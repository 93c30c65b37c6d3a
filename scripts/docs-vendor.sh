#!/usr/bin/env bash
# The API reference at /docs (docs/protocol.md §7) renders with two browser bundles taken
# from npm at install time (never a CDN): AsyncAPI's React component, standalone build
# (Apache-2.0, ~3 MB), and Swagger UI (Apache-2.0, ~1.9 MB). Copied next to the page's
# own files, so `safechat serve` serves them (package data of a wheel built after this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node.sh
(cd apidocs && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
out=src/safechat/apidocs/vendor
mkdir -p "$out"
asyncapi=apidocs/node_modules/@asyncapi/react-component
swagger=apidocs/node_modules/swagger-ui-dist
cp "$asyncapi/browser/standalone/index.js" "$out/asyncapi-standalone.js"
cp "$asyncapi/styles/default.min.css" "$out/asyncapi.css"
cp "$asyncapi/LICENSE" "$out/LICENSE.asyncapi-react-component"
cp "$swagger/swagger-ui-bundle.js" "$out/swagger-ui-bundle.js"
cp "$swagger/swagger-ui.css" "$out/swagger-ui.css"
cp "$swagger/LICENSE" "$out/LICENSE.swagger-ui"
cp "$swagger/NOTICE" "$out/NOTICE.swagger-ui"
