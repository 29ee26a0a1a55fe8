#!/usr/bin/env bash
# The BigQuery and GCS emulators for the integration tests.
#
#   emulators.sh install            create .venv-emulators from requirements-emulators.txt (once per change)
#   emulators.sh run CMD [ARGS...]  start both emulators on free 127.0.0.1 ports, wait until they answer,
#                                   run CMD with BIGQUERY_EMULATOR_HOST / STORAGE_EMULATOR_HOST / ... exported,
#                                   then stop both by PID (also when CMD fails or the script is interrupted)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${EMULATORS_VENV:-$ROOT/.venv-emulators}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
PROJECT="${EMULATOR_PROJECT:-test-project}"
BUCKET="${EMULATOR_BUCKET:-test-bucket}"
START_TIMEOUT="${EMULATOR_START_TIMEOUT:-60}"

# bqemulator's gaps against BigQuery's documented behaviour, fixed in its installed source (docs/testing.md), applied
# in this order: schema changes (tables.patch, ALTER TABLE ADD COLUMN, load jobs' schemaUpdateOptions, a load into a
# missing table), then the columns of Avro / Parquet / ORC loads matched by name, not position.
BQEMULATOR_PATCHES=(
  "$ROOT/tests/integration/bqemulator-schema-evolution.patch"
  "$ROOT/tests/integration/bqemulator-self-describing-loads.patch"
)

patch_bqemulator() {  # apply each of BQEMULATOR_PATCHES once; stop loudly when one no longer applies
  local site patch_file
  site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  for patch_file in "${BQEMULATOR_PATCHES[@]}"; do
    if patch -p1 -R --dry-run --force --quiet -d "$site" <"$patch_file" >/dev/null 2>&1; then
      continue  # applied already
    fi
    if ! patch -p1 --forward --force --dry-run --quiet -d "$site" <"$patch_file" >&2; then
      echo "emulators.sh: $patch_file does not apply to the bqemulator in $site (nothing changed);" \
        "update the patch for the version requirements-emulators.txt pins, or make the virtualenv again" >&2
      return 1
    fi
    patch -p1 --forward --force --quiet -d "$site" <"$patch_file"
  done
}

patched_since() {  # whether the stamp file $1 is newer than every patch
  local patch_file
  for patch_file in "${BQEMULATOR_PATCHES[@]}"; do
    [[ "$1" -nt "$patch_file" ]] || return 1
  done
}

install() {
  local stamp="$VENV/.installed"
  if [[ -f "$stamp" && "$stamp" -nt "$ROOT/requirements-emulators.txt" ]] && patched_since "$stamp"; then
    return
  fi
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements-emulators.txt"
  # bqemulator loads these duckdb extensions at start-up; installing them from the wheels avoids a download.
  "$VENV/bin/python" -c 'from duckdb_extensions import import_extension as i; i("spatial"); i("avro")'
  patch_bqemulator
  touch "$stamp"
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {  # wait_for NAME URL PID
  local name=$1 url=$2 pid=$3 deadline=$((SECONDS + START_TIMEOUT))
  until "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "emulators.sh: the $name emulator exited during start-up; its log:" >&2
      cat "$STATE/$name.log" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "emulators.sh: the $name emulator did not answer $url within ${START_TIMEOUT}s" >&2
      return 1
    fi
    sleep 0.2
  done
}

PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$STATE"
}

run() {
  install
  STATE="$(mktemp -d "${TMPDIR:-/tmp}/beam-api-emulators.XXXXXX")"
  trap stop_all EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$STATE/gcs"
  local gcs_port bq_port grpc_port started=$SECONDS
  gcs_port=$(free_port)
  bq_port=$(free_port)
  grpc_port=$(free_port)

  STORAGE_BASE="$STATE/gcs" "$VENV/bin/gcp-storage-emulator" start --host 127.0.0.1 --port "$gcs_port" \
    --default-bucket "$BUCKET" >"$STATE/gcs.log" 2>&1 &
  PIDS+=($!)
  # Load jobs read gs:// files straight from the GCS emulator's storage folder (buckets under .cloudstorage/).
  BQEMU_GCS_LOCAL_ROOT="$STATE/gcs/.cloudstorage" "$VENV/bin/bqemulator" start --rest-host 127.0.0.1 --rest-port "$bq_port" \
    --grpc-port "$grpc_port" --project "$PROJECT" --log-level warning >"$STATE/bigquery.log" 2>&1 &
  PIDS+=($!)

  wait_for gcs "http://127.0.0.1:$gcs_port/storage/v1/b" "${PIDS[0]}"
  wait_for bigquery "http://127.0.0.1:$bq_port/healthz" "${PIDS[1]}"
  echo "emulators.sh: GCS on 127.0.0.1:$gcs_port, BigQuery on 127.0.0.1:$bq_port, up in $((SECONDS - started))s"

  export STORAGE_EMULATOR_HOST="http://127.0.0.1:$gcs_port"
  export BIGQUERY_EMULATOR_HOST="http://127.0.0.1:$bq_port"
  export EMULATOR_PROJECT="$PROJECT" EMULATOR_BUCKET="$BUCKET" NO_GCE_CHECK=true
  "$@"
}

case "${1:-}" in
  install) install ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 install | run CMD [ARGS...]" >&2; exit 2 ;;
esac
