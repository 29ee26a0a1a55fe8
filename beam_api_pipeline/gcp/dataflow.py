"""Launching the Flex Template on Dataflow and reading job states, through google-cloud-dataflow-client, and
the job labels that name the service.

`DATAFLOW_ENDPOINT` (e.g. `http://127.0.0.1:9070`) points the clients at another endpoint, with anonymous
credentials (the rule of `clients`): that is how the tests talk to a local fake of the Dataflow REST API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from beam_api_pipeline.config.env import ServiceConfig
from beam_api_pipeline.config.options import PATTERNS
from beam_api_pipeline.gcp.clients import DATAFLOW_ENDPOINT_VARIABLE, client_kwargs

#: What a GCP label value may not contain; a value is at most 63 characters.
_NOT_IN_LABEL = re.compile(r"[^a-z0-9_-]")
_LABEL_LENGTH = 63
#: flexTemplates.launch's `ipConfiguration` for `LaunchSettings.use_public_ips` (None: left to Dataflow).
_IP_CONFIGURATION = {True: "WORKER_IP_PUBLIC", False: "WORKER_IP_PRIVATE"}


@dataclass(frozen=True)
class LaunchSettings:
    """Where and how to launch: the project, region, template spec and Dataflow environment. `sdk_container_image`
    is the workers' image (the template's own, `make template-build`'s IMAGE); `subnetwork` the workers' subnetwork
    (`regions/R/subnetworks/S` or a URL); `use_public_ips=False` starts workers with private IPs only (None:
    Dataflow's default, public IPs)."""

    project: str
    region: str
    template_path: str
    max_workers: int | None = None
    service_account: str | None = None
    temp_location: str | None = None
    extra_parameters: dict[str, str] = field(default_factory=dict)
    sdk_container_image: str | None = None
    subnetwork: str | None = None
    use_public_ips: bool | None = None
    staging_location: str | None = None


def job_name(pipeline_id: str, run_id: str | None = None) -> str:
    """The name `launch` gives a job: the pipeline id with dashes, then the run id in lower case when the launch
    made one (a scheduled launch does not: one name, so Dataflow refuses a second job while one runs)."""
    return pipeline_id.replace("_", "-") + (f"-{run_id.lower()}" if run_id else "")


def job_name_pattern(pipeline_id: str) -> str:
    """A regular expression matching the names `job_name` gives the jobs of `pipeline_id`, and no others."""
    run_id = PATTERNS["run_id"].strip("^$").lower()
    return f"^{job_name(pipeline_id)}(-{run_id})?$"


def launch_body(
    job_name: str, settings: LaunchSettings, parameters: dict[str, str], labels: dict[str, str]
) -> dict[str, Any]:
    """The JSON body of a flexTemplates.launch request, built here alone for every launch path (`launch`, its
    `--print_request` for Cloud Scheduler and Airflow, `make template-run`): the job name, template, `parameters`
    with the workers' image as `sdk_container_image` (as Google's Flex Template samples pass it), and the
    environment settings given (workers, service account, locations, subnetwork, IP configuration), with the job
    `labels`."""
    environment: dict[str, Any] = {
        "maxWorkers": settings.max_workers,
        "serviceAccountEmail": settings.service_account,
        "tempLocation": settings.temp_location,
        "stagingLocation": settings.staging_location,
        "subnetwork": settings.subnetwork,
        "ipConfiguration": _IP_CONFIGURATION.get(settings.use_public_ips),
        "additionalUserLabels": labels or None,
    }
    image = {"sdk_container_image": settings.sdk_container_image} if settings.sdk_container_image else {}
    return {
        "launchParameter": {
            "jobName": job_name,
            "containerSpecGcsPath": settings.template_path,
            "parameters": {**parameters, **image},
            "environment": {key: value for key, value in environment.items() if value},
        }
    }


def service_labels(service: ServiceConfig) -> dict[str, str]:
    """Job labels `service_name` and `service_version` for the parts of `service` given, made to follow GCP's
    label rules: lower case, every character outside a-z, 0-9, _ and - as _, at most 63 characters."""
    given = {"service_name": service.name, "service_version": service.version}
    return {key: _NOT_IN_LABEL.sub("_", value.lower())[:_LABEL_LENGTH] for key, value in given.items() if value}


class DataflowClient:
    """flexTemplates.launch and jobs.get for one project and region."""

    def __init__(self, project: str, region: str):
        from google.cloud import dataflow_v1beta3 as dataflow

        self._dataflow = dataflow
        self.project = project
        self.region = region
        self._templates = dataflow.FlexTemplatesServiceClient(
            transport="rest", **client_kwargs(DATAFLOW_ENDPOINT_VARIABLE)
        )
        self._jobs = dataflow.JobsV1Beta3Client(transport="rest", **client_kwargs(DATAFLOW_ENDPOINT_VARIABLE))

    def launch(self, body: dict[str, Any]) -> str:
        """Send flexTemplates.launch with `body` (`launch_body`); returns the new job's id."""
        request = self._dataflow.LaunchFlexTemplateRequest(
            project_id=self.project,
            location=self.region,
            launch_parameter=self._dataflow.LaunchFlexTemplateParameter.from_json(json.dumps(body["launchParameter"])),
        )
        return self._templates.launch_flex_template(request=request).job.id

    def job_state(self, job_id: str) -> str:
        """The job's current state, e.g. `JOB_STATE_RUNNING`."""
        request = self._dataflow.GetJobRequest(project_id=self.project, location=self.region, job_id=job_id)
        return self._dataflow.JobState(self._jobs.get_job(request=request).current_state).name
