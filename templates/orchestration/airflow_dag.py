"""A Cloud Composer (Airflow 2) DAG that launches the pipeline's Flex Template on a schedule.

It sends the body `python -m beam_api_pipeline launch ... --print_request` printed into a file named like this one,
with `.json` for `.py` (`acme_issues.py` reads `acme_issues.json`), both uploaded to the environment's DAG folder;
docs/deploy.md, "Scheduling runs", has the commands. The body goes out as it is but for the Dataflow job name,
which gets the run's logical time; `max_active_runs=1` keeps two runs from overlapping. The project and region
are the Airflow Variables `dataflow_project` and `dataflow_region`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow import DAG
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator

SCHEDULE = "0 3 * * *"
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
BODY_FILE = Path(__file__).with_suffix(".json")


def launch_body(path: Path) -> dict[str, Any]:
    """The launch body in `path`, its job name suffixed with the run's logical time (rendered by Airflow), so that
    each DAG run starts a job of its own name."""
    body = json.loads(path.read_text())
    body["launchParameter"]["jobName"] += "-{{ ts_nodash | lower }}"
    return body


with DAG(
    dag_id=BODY_FILE.stem,
    schedule=SCHEDULE,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
) as dag:
    DataflowStartFlexTemplateOperator(
        task_id="launch",
        project_id="{{ var.value.dataflow_project }}",
        location="{{ var.value.dataflow_region }}",
        body=launch_body(BODY_FILE),
        append_job_name=False,  # the name above is unique per run already; keep it readable
    )
