"""Scheduled launches (templates/orchestration/): the Cloud Scheduler job that `cloud_scheduler.sh` creates, then
updates, and the Airflow DAG send the body that `launch` sends to (a local fake of) Dataflow, but for the job name
and the run id, which a scheduled job makes itself. `gcloud` is a fake on PATH that records its calls; `airflow`
is the stand-in in tests/fakes/airflow; the run `launch` records goes to the BigQuery emulator's control table."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from beam_api_pipeline.cli import main
from tests.fakes.dataflow_api import FakeDataflow
from tests.support import dataflow_items_config, write_yaml

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATION = ROOT / "templates" / "orchestration"
FAKE_AIRFLOW = ROOT / "tests" / "fakes" / "airflow"
PROJECT, REGION = "acme-data", "europe-west1"
TEMPLATE = "gs://acme-lake/templates/api.json"
CONFIG_GCS_PATH = "gs://acme-lake/pipelines/acme_items.yaml"
SERVICE_ACCOUNT = f"beam-api-pipeline@{PROJECT}.iam.gserviceaccount.com"  # cloud_scheduler.sh's default
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/beam-api-pipeline/beam-api-pipeline:abc1234"
SUBNETWORK = f"regions/{REGION}/subnetworks/dataflow"
LAUNCH_URI = f"https://dataflow.googleapis.com/v1b3/projects/{PROJECT}/locations/{REGION}/flexTemplates:launch"

#: A fake `gcloud`: appends its arguments to calls.jsonl, keeps a copy of the message body per scheduler verb
#: (create.json, update.json), and knows the scheduler job once it was created.
FAKE_GCLOUD = """#!{python}
import json, shutil, sys
from pathlib import Path

here = Path(__file__).parent
args = sys.argv[1:]
with open(here / "calls.jsonl", "a") as calls:
    calls.write(json.dumps(args) + "\\n")
if args[2] == "describe":
    sys.exit(0 if (here / "job_exists").exists() else 1)
shutil.copy(args[args.index("--message-body-from-file") + 1], here / (args[2] + ".json"))
(here / "job_exists").touch()
"""


@dataclass(frozen=True)
class Settings:
    """A pipeline fit for Dataflow and how to launch it: as `launch` options and as cloud_scheduler.sh's
    variables."""

    config: Path
    env_config: Path
    config_gcs_path: str | None

    def launch_args(self) -> list[str]:
        args = ["--config", str(self.config), "--env_config", str(self.env_config), "--project", PROJECT]
        args += ["--region", REGION, "--template_path", TEMPLATE, "--service_account", SERVICE_ACCOUNT]
        args += [
            "--max_workers",
            "4",
            "--temp_location",
            "gs://acme-lake/tmp",
            "--staging_location",
            "gs://acme-lake/st",
        ]
        args += ["--sdk_container_image", IMAGE, "--subnetwork", SUBNETWORK, "--no_use_public_ips"]
        return args + (["--config_gcs_path", self.config_gcs_path] if self.config_gcs_path else [])

    def scheduler_variables(self) -> dict[str, str]:
        variables = {"PROJECT": PROJECT, "REGION": REGION, "TEMPLATE_PATH": TEMPLATE, "CONFIG": str(self.config)}
        variables |= {"ENV_CONFIG": str(self.env_config), "MAX_WORKERS": "4", "TEMP_LOCATION": "gs://acme-lake/tmp"}
        variables |= {"STAGING_LOCATION": "gs://acme-lake/st", "SDK_CONTAINER_IMAGE": IMAGE}
        variables |= {"SUBNETWORK": SUBNETWORK, "USE_PUBLIC_IPS": "false"}
        variables |= {"SCHEDULE": "0 3 * * *", "TIME_ZONE": "Europe/Berlin"}
        return variables | ({"CONFIG_GCS_PATH": self.config_gcs_path} if self.config_gcs_path else {})

    def passed_config(self, parameter: str) -> Any:
        """What the `pipeline_config` parameter passes: the gs:// path, or the config itself inline."""
        return parameter if self.config_gcs_path else json.loads(parameter)

    def expected_config(self) -> Any:
        return self.config_gcs_path or yaml.safe_load(self.config.read_text())


@pytest.fixture(params=[CONFIG_GCS_PATH, None], ids=["config-in-gcs", "config-inline"])
def settings(request, tmp_path, control_table) -> Settings:
    config = dataflow_items_config(tmp_path, control_table)
    env = write_yaml(tmp_path / "env.yaml", {"service": {"name": "acme-etl", "version": "2.1.0"}})
    return Settings(write_yaml(tmp_path / "acme_items.yaml", config), env, request.param)


@pytest.fixture
def launched(settings, monkeypatch, capsys) -> tuple[str, dict[str, Any]]:
    """The run id the real `launch` made and the body (a fake of) Dataflow received from it."""
    with FakeDataflow() as dataflow, monkeypatch.context() as patch:
        patch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        assert main(["launch", *settings.launch_args()]) == 0
    (request,) = dataflow.requests
    assert request["path"] == f"/v1b3/projects/{PROJECT}/locations/{REGION}/flexTemplates:launch"
    return json.loads(capsys.readouterr().out)["run_id"], enum_names(request["body"])


def enum_names(body: dict[str, Any]) -> dict[str, Any]:
    """`body` as Dataflow received it from the client library, which sends enums as numbers
    (`"ipConfiguration": 2`), with their names as in the JSON that `--print_request` prints."""
    from google.cloud.dataflow_v1beta3 import WorkerIPAddressConfiguration

    body = copy.deepcopy(body)
    environment = body["launchParameter"]["environment"]
    if "ipConfiguration" in environment:
        environment["ipConfiguration"] = WorkerIPAddressConfiguration(environment["ipConfiguration"]).name
    return body


def scheduled(launched_body: dict[str, Any], job_name: str) -> dict[str, Any]:
    """The body `launch` sent, with `job_name` and without the `run_id` parameter."""
    body = copy.deepcopy(launched_body)
    body["launchParameter"]["jobName"] = job_name
    del body["launchParameter"]["parameters"]["run_id"]
    return body


def print_request(settings: Settings, capsys) -> str:
    assert main(["launch", *settings.launch_args(), "--print_request"]) == 0
    return capsys.readouterr().out


def test_print_request_is_the_launch_body_without_the_run_id_and_named_after_the_pipeline(settings, launched, capsys):
    run_id, body = launched
    parameter = body["launchParameter"]
    assert parameter["jobName"] == f"acme-items-{run_id.lower()}"
    assert parameter["containerSpecGcsPath"] == TEMPLATE
    assert parameter["environment"] == {
        "maxWorkers": 4,
        "serviceAccountEmail": SERVICE_ACCOUNT,
        "tempLocation": "gs://acme-lake/tmp",
        "stagingLocation": "gs://acme-lake/st",
        "subnetwork": SUBNETWORK,
        "ipConfiguration": "WORKER_IP_PRIVATE",
        "additionalUserLabels": {"service_name": "acme-etl", "service_version": "2_1_0"},
    }
    assert set(parameter["parameters"]) == {"pipeline_config", "env_config", "run_id", "sdk_container_image"}
    assert parameter["parameters"]["sdk_container_image"] == IMAGE
    assert parameter["parameters"]["run_id"] == run_id
    assert settings.passed_config(parameter["parameters"]["pipeline_config"]) == settings.expected_config()

    assert json.loads(print_request(settings, capsys)) == scheduled(body, "acme-items")


def test_cloud_scheduler_job_is_created_then_updated_and_posts_the_launch_body(settings, launched, tmp_path):
    _, body = launched
    gcloud = tmp_path / "bin" / "gcloud"
    gcloud.parent.mkdir()
    gcloud.write_text(FAKE_GCLOUD.format(python=sys.executable))
    gcloud.chmod(0o755)
    environment = {"PATH": f"{gcloud.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": sys.executable}
    for _ in range(2):
        done = subprocess.run(
            ["bash", str(ORCHESTRATION / "cloud_scheduler.sh")],
            env=environment | settings.scheduler_variables(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    calls = [json.loads(line) for line in (gcloud.parent / "calls.jsonl").read_text().splitlines()]
    body_files = {call[call.index("--message-body-from-file") + 1] for call in calls if call[2] != "describe"}
    assert not any(Path(path).exists() for path in body_files)  # the script's temporary files are gone
    calls = [["BODY" if argument in body_files else argument for argument in call] for call in calls]
    where = ["--project", PROJECT, "--location", REGION]
    job = [*where, "--schedule", "0 3 * * *", "--time-zone", "Europe/Berlin", "--uri", LAUNCH_URI]
    job += ["--http-method", "POST", "--message-body-from-file", "BODY"]
    job += ["--oauth-service-account-email", f"beam-api-scheduler@{PROJECT}.iam.gserviceaccount.com"]
    job += ["--oauth-token-scope", "https://www.googleapis.com/auth/cloud-platform"]
    jobs, name, header = ["scheduler", "jobs"], "launch-acme_items", "Content-Type=application/json"
    assert calls == [
        [*jobs, "describe", name, *where],
        [*jobs, "create", "http", name, *job, "--headers", header],
        [*jobs, "describe", name, *where],
        [*jobs, "update", "http", name, *job, "--update-headers", header],
    ]
    for verb in ("create", "update"):
        assert json.loads((gcloud.parent / f"{verb}.json").read_text()) == scheduled(body, "acme-items")


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_airflow_dag_sends_the_launch_body_with_a_job_name_per_run(settings, launched, tmp_path, monkeypatch, capsys):
    _, body = launched
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "acme_items.json").write_text(print_request(settings, capsys))
    shutil.copy(ORCHESTRATION / "airflow_dag.py", dags / "acme_items.py")
    monkeypatch.syspath_prepend(str(FAKE_AIRFLOW))

    dag = import_file(dags / "acme_items.py").dag

    assert dag.kwargs == {
        "dag_id": "acme_items",
        "schedule": "0 3 * * *",
        "start_date": datetime(2024, 1, 1, tzinfo=UTC),
        "catchup": False,
        "max_active_runs": 1,
    }
    (operator,) = dag.tasks
    assert operator.kwargs == {
        "task_id": "launch",
        "project_id": "{{ var.value.dataflow_project }}",
        "location": "{{ var.value.dataflow_region }}",
        "body": scheduled(body, "acme-items-{{ ts_nodash | lower }}"),
        "append_job_name": False,
    }


def test_a_streaming_pipeline_is_launched_as_a_streaming_job(settings, monkeypatch, capsys):
    config = yaml.safe_load(settings.config.read_text())
    write_yaml(settings.config, {**config, "streaming": {"enabled": True, "poll_interval": "1m"}})
    with FakeDataflow() as dataflow, monkeypatch.context() as patch:
        patch.setenv("DATAFLOW_ENDPOINT", dataflow.url)
        assert main(["launch", *settings.launch_args()]) == 0
    (request,) = dataflow.requests
    parameters = request["body"]["launchParameter"]["parameters"]
    assert set(parameters) == {"pipeline_config", "env_config", "run_id", "streaming", "sdk_container_image"}
    assert parameters["streaming"] == "true"
    assert settings.passed_config(parameters["pipeline_config"]) == settings.expected_config()
    assert json.loads(capsys.readouterr().out)["run_id"] == parameters["run_id"]


@pytest.mark.parametrize("settings", [None], indirect=True, ids=["config-inline"])
def test_make_template_run_launches_through_launch_with_the_image_and_private_workers(settings, capsys):
    printed = json.loads(print_request(settings, capsys))
    variables = {"PROJECT": PROJECT, "REGION": REGION, "BUCKET": "acme-lake", "TEMPLATE_FILE": TEMPLATE}
    variables |= {"IMAGE": IMAGE, "SUBNETWORK": SUBNETWORK, "MAX_WORKERS": "4", "PIPELINE_CONFIG": str(settings.config)}
    variables |= {"LAUNCH_ARGS": f"--env_config {settings.env_config}", "PY": sys.executable}
    make_variables = [f"{name}={value}" for name, value in variables.items()]
    with FakeDataflow() as dataflow:
        done = subprocess.run(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "template-run", *make_variables],
            env={**os.environ, "DATAFLOW_ENDPOINT": dataflow.url, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    run_id = json.loads(done.stdout.splitlines()[-1])["run_id"]
    (request,) = dataflow.requests
    expected = copy.deepcopy(printed)
    expected["launchParameter"]["jobName"] = f"acme-items-{run_id.lower()}"
    expected["launchParameter"]["parameters"]["run_id"] = run_id
    expected["launchParameter"]["environment"] |= {"tempLocation": "gs://acme-lake/temp"}
    expected["launchParameter"]["environment"] |= {"stagingLocation": "gs://acme-lake/staging"}
    assert enum_names(request["body"]) == expected
    assert request["body"]["launchParameter"]["parameters"]["sdk_container_image"] == IMAGE
