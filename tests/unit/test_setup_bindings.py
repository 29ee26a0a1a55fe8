"""`setup`'s IAM bindings (`run.setup.job_bindings`, `grant_command`): each role once, on the narrowest resource
the config names; and `make setup`'s command. The tables `setup` makes are tested against the emulator
(tests/integration/test_setup_least_privilege.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.run.setup import Binding, grant_command, job_bindings

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "europe-west1-docker.pkg.dev/acme-data/beam-api-pipeline/beam-api-pipeline:abc1234"


def config(**changes) -> PipelineConfig:
    api = {"base_url": "https://api.example.com", "endpoints": {"items": {"path": "/items"}}}
    api["auth_config"] = {"auth_type": "bearer", "auth_credentials": {"token": "${secret:projects/s/secrets/t}"}}
    store = {"type": "bigquery", "table": "ctl-proj.ctl.w"}
    base = {"pipeline_id": "acme_items", "api_config": api, "watermark_store": store}
    return PipelineConfig.model_validate(base | changes)


def test_bigquery_outputs_and_a_dead_letter_table_get_data_editor_on_their_datasets_once_each():
    outputs = [
        {"type": "bigquery", "config": {"dataset_id": "raw", "table_id": "{endpoint}"}},
        {"type": "bigquery", "config": {"project": "lake-proj", "dataset_id": "raw", "table_id": "t"}},
        {"type": "bigquery", "config": {"dataset_id": "raw", "table_id": "again"}},
        {"type": "gcs", "enabled": False, "config": {"bucket": "off"}},
    ]
    bindings = job_bindings(config(output=outputs, dead_letter={"table": "ops-proj.dl.rows"}), "acme-data", image=IMAGE)
    assert bindings == [
        Binding("roles/dataflow.worker", "project", "acme-data", "run the launcher VM and the workers"),
        Binding("roles/bigquery.jobUser", "project", "acme-data", "queries on the control tables, load jobs, MERGE"),
        Binding(
            "roles/bigquery.dataEditor",
            "dataset",
            "ctl-proj:ctl",
            "read and write the control tables (watermarks, runs, schema versions, leases, validators)",
        ),
        Binding("roles/bigquery.dataEditor", "dataset", "acme-data:raw", "output.0: write rows; output.2: write rows"),
        Binding("roles/bigquery.dataEditor", "dataset", "lake-proj:raw", "output.1: write rows"),
        Binding("roles/bigquery.dataEditor", "dataset", "ops-proj:dl", "dead_letter: write rows"),
        Binding("roles/secretmanager.secretAccessor", "secret", "projects/s/secrets/t", "resolve it on the workers"),
        Binding(
            "roles/artifactregistry.reader",
            "repository",
            "projects/acme-data/locations/europe-west1/repositories/beam-api-pipeline",
            "pull the image",
        ),
    ]
    member = "serviceAccount:sa@acme-data.iam.gserviceaccount.com"
    assert grant_command(bindings[-1], member) == (
        "gcloud artifacts repositories add-iam-policy-binding beam-api-pipeline --project acme-data --location "
        f'europe-west1 --member "{member}" --role roles/artifactregistry.reader'
    )


def test_a_local_store_has_no_control_dataset_and_an_image_elsewhere_no_repository_binding():
    local = config(watermark_store={"type": "local", "path": "/tmp/x.db"})
    roles = [(b.role, b.resource) for b in job_bindings(local, "p", image="gcr.io/p/image:1")]
    assert roles == [
        ("roles/dataflow.worker", "p"),
        ("roles/bigquery.jobUser", "p"),
        ("roles/secretmanager.secretAccessor", "projects/s/secrets/t"),
    ]


def test_make_setup_passes_the_project_bucket_and_image():
    variables = ["CONFIG=c.yaml", "PROJECT=acme-data", "REGION=europe-west1", "BUCKET=acme-lake", "TAG=abc1234"]
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "setup", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    command = " ".join(done.stdout.replace("\\\n", " ").split()).split(" || ")[-1].split("; } ")[-1]
    assert command == (
        '.venv/bin/python -m beam_api_pipeline setup --config "c.yaml" --project "acme-data" --service_account '
        '"beam-api-pipeline@acme-data.iam.gserviceaccount.com" --temp_location "gs://acme-lake/temp" '
        f'--sdk_container_image "{IMAGE}"'
    )
