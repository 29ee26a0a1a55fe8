#!/usr/bin/env bash
# run_suite.sh PYTHON WORKERS SERIAL_WORKERS [PYTEST_ARGS...]: the whole suite, as `make test` runs it, in two
# passes: every test not marked `serial` on WORKERS pytest-xdist workers (`--dist loadgroup`: the tests that
# share a server on one worker, as tests/conftest.py says), then the `serial` ones (real rates and latencies) on
# SERIAL_WORKERS, with nothing else running. Both passes run even when the first fails; the exit code is the
# first non-zero one. PYTEST_ARGS (paths, -k, ...) go to both passes.
set -uo pipefail
python=$1 workers=$2 serial_workers=$3
shift 3

"$python" -m pytest -q -n "$workers" --dist loadgroup -m "not serial" "$@"
parallel=$?
echo "run_suite.sh: the parallel pass ended with exit code $parallel; now the serial pass" >&2
"$python" -m pytest -q -n "$serial_workers" --dist loadgroup -m serial "$@"
serial=$?
[ "$serial" -eq 5 ] && [ "$#" -gt 0 ] && serial=0  # PYTEST_ARGS chose no serial test: nothing to run
if [ "$parallel" -ne 0 ]; then
  echo "run_suite.sh: the parallel pass failed (exit code $parallel)" >&2
  exit "$parallel"
fi
exit "$serial"
