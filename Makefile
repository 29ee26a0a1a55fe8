# Each target sets itself up: a fresh machine needs only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Beam's portable runner, built from source with the Go toolchain (the Go module proxy serves this version);
# the runner tests name it with --prism_location. With internet access Beam would download it itself.
PRISM_VERSION := v2.77.0
PRISM := .tools/prism

# Debian's Redis server: the rate-limit tests and benchmark start their own on 127.0.0.1 (rate_limit_mode shared).
REDIS_SERVER := /usr/bin/redis-server

.PHONY: demo demo-streaming test bench lint format clean prism redis

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

$(PRISM):
	GOBIN=$(abspath .tools) go install github.com/apache/beam/sdks/v2/go/cmd/prism@$(PRISM_VERSION)

# The whole suite in a network namespace of its own (tests/isolated.sh), with the BigQuery and GCS emulators
# running for tests/integration (own virtualenv, free 127.0.0.1 ports, stopped by PID when pytest ends) and
# Prism built for tests/runners, and redis-server installed for tests/rate_limits; see docs/testing.md.
test: $(INSTALLED) $(PRISM) $(REDIS_SERVER) lint
	PYTHON=$(PYTHON) tests/integration/emulators.sh install
	PRISM_LOCATION=$(abspath $(PRISM)) PYTHON=$(PYTHON) tests/isolated.sh tests/integration/emulators.sh run \
		$(PY) -m pytest -q

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
