#!/usr/bin/env bash
# The image's Python environment built the way templates/Dockerfile builds it, without Docker: a fresh virtualenv
# (Python 3.11), requirements.lock, the package with --no-deps, `pip check`; then, from that environment alone,
# the entry point's --help and a Dataflow job of templates/pipelines/dataflow/github_issues.yaml built with
# Beam's --dry_run (nothing sent). Needs the package registry (PyPI). `make image-env-check`.
#
#   UV=path/to/uv PYTHON=python3.11 templates/image_env_check.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
UV="${UV:?set UV to a uv binary (make image-env-check installs one)}"
PYTHON="${PYTHON:-$(command -v python3.11)}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$UV" venv --quiet --seed --python "$PYTHON" "$WORK/env"  # with pip, as the image has
"$UV" pip install --quiet --python "$WORK/env/bin/python" -r "$ROOT/requirements.lock"
mkdir "$WORK/src"
cp -r "$ROOT/setup.py" "$ROOT/pyproject.toml" "$ROOT/beam_api_pipeline" "$WORK/src/"
"$UV" pip install --quiet --python "$WORK/env/bin/python" --no-deps "$WORK/src"
"$UV" pip check --python "$WORK/env/bin/python"

cd "$WORK"  # away from the repository: the environment's own copy of the package is imported
"$WORK/env/bin/python" -m beam_api_pipeline.flex_template --help >/dev/null
"$WORK/env/bin/python" - "$ROOT/templates/pipelines/dataflow/github_issues.yaml" <<'PY'
import sys
from datetime import UTC, datetime

import beam_api_pipeline
from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.control.local import LocalWatermarkStore
from beam_api_pipeline.run.prepare import prepare_run
from beam_api_pipeline.run.validate import check_config

assert "/env/" in beam_api_pipeline.__file__, beam_api_pipeline.__file__
config = load_pipeline_config(sys.argv[1])
args = ["--runner=DataflowRunner", "--project=my-project", "--region=europe-west1", "--dry_run=True",
        "--temp_location=gs://my-bucket/temp", "--sdk_container_image=europe-west1-docker.pkg.dev/p/r/i:1"]
check_config(config, sys.argv[1], args)
pipeline, _ = prepare_run(config, LocalWatermarkStore("control.db"), args, datetime(2025, 1, 1, tzinfo=UTC),
                          datetime(2025, 1, 8, tzinfo=UTC), run_id="20250108T000000Z-0a1b2c3d")
job = pipeline.run().job
print(f"image-env-check: the dry-run job of {config.pipeline_id} built, "
      f"{len(job.proto_pipeline.SerializeToString())} bytes")
PY
