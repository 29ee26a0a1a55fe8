#!/bin/sh
# make bench: every workload side by side; this pipeline runs on DirectRunner with 4 threads (W3 and W5: no options).
set -e
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" -m benchmarks.run --runner-args "--direct_num_workers=4 --direct_running_mode=multi_threading" "$@"
