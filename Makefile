# Each target sets itself up: a fresh machine needs only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench lint format clean

$(INSTALLED): requirements.txt requirements-test.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(PY) -m beam_api_pipeline demo

# The whole suite, with the BigQuery and GCS emulators running for tests/integration (own virtualenv,
# free 127.0.0.1 ports, stopped by PID when pytest ends); see docs/testing.md.
test: $(INSTALLED) lint
	PYTHON=$(PYTHON) tests/integration/emulators.sh run $(PY) -m pytest -q

bench: $(INSTALLED)
	PYTHON=$(PY) ./benchmarks/run.sh

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .venv-emulators demo-output .state output *.egg-info

include templates/flex-template.mk
