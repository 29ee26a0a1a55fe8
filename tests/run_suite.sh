#!/usr/bin/env bash
# run_suite.sh PYTHON WORKERS SERIAL_WORKERS [PYTEST_ARGS...]: the whole suite, as `make test` runs it, in two
# passes at once: the tests marked `serial` (real rates and latencies) on SERIAL_WORKERS pytest-xdist workers at
# the normal CPU priority, and beside them every other test on WORKERS workers (`--dist loadgroup`: the tests
# that share a server on one worker, as tests/conftest.py says) at the idle priority (`chrt --idle`, else
# `nice -n 19`): a serial test gets a core the moment it wants one; the parallel pass has whatever is left,
# which is most of the machine, as serial tests mostly wait. The parallel pass prints as it goes, the serial pass
# when both are over. The exit code is the parallel pass's when it failed, else the serial pass's. PYTEST_ARGS
# (paths, -k, ...) go to both.
set -uo pipefail
python=$1 workers=$2 serial_workers=$3
shift 3

serial_log=$(mktemp)
trap 'cat "$serial_log"; rm -f "$serial_log"' EXIT

idle=(nice -n 19)
chrt --idle 0 true 2>/dev/null && idle=(chrt --idle 0 nice -n 19)

"${idle[@]}" "$python" -m pytest -q -n "$workers" --dist loadgroup -m "not serial" "$@" &
parallel_pid=$!
"$python" -m pytest -q -n "$serial_workers" --dist loadgroup -m serial "$@" >"$serial_log" 2>&1
serial=$?
wait "$parallel_pid"
parallel=$?
echo "run_suite.sh: the parallel pass ended with exit code $parallel, the serial pass with $serial; its output:" >&2
if [ "$#" -gt 0 ]; then  # PYTEST_ARGS may choose no test of one pass: it had nothing to run
  [ "$parallel" -eq 5 ] && parallel=0
  [ "$serial" -eq 5 ] && serial=0
fi
if [ "$parallel" -ne 0 ]; then
  exit "$parallel"
fi
exit "$serial"
