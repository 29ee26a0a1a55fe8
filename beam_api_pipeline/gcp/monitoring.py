"""Alerting on GCP as code: `alerts apply` renders the log-based metrics and alert policies in
`templates/monitoring/` for one pipeline and creates or updates them through the Cloud Logging (v2) and Cloud
Monitoring (v3) REST APIs.

Which policies: one per condition in `alerts.on` (`templates/monitoring/policies/<condition>.yaml`), and the
others (Dataflow job failed, worker memory, worker disk) always; every log-based metric always. A policy is
found again by its user labels (`managed_by`, `pipeline_id`, `policy`), so a second apply updates it, or leaves it
as it is when it already says what the file says; notification channels and `enabled` set in Cloud Monitoring
are kept.

`MONITORING_ENDPOINT` (e.g. `http://127.0.0.1:9071`) points both APIs at another endpoint, with anonymous
credentials (the rule of `clients`): that is how the tests talk to a local fake of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Any, get_args

import yaml

from beam_api_pipeline.config import AlertCondition, PipelineConfig, format_duration
from beam_api_pipeline.core.errors import ApiError, ConfigError
from beam_api_pipeline.gcp.clients import MONITORING_ENDPOINT_VARIABLE, authorized_session, emulator_endpoint
from beam_api_pipeline.gcp.dataflow import job_name_pattern

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "monitoring"

_LOGGING = "https://logging.googleapis.com"
_MONITORING = "https://monitoring.googleapis.com"
_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_TIMEOUT = 30
_MANAGED_BY = "beam_api_pipeline"
#: A placeholder that is the whole string: replaced by the value itself, so that numbers stay numbers.
_WHOLE_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def apply_alerts(config: PipelineConfig, project: str) -> list[str]:
    """Create or update the pipeline's log-based metrics and alert policies in `project`; one line per metric
    and policy: `created`, `updated` or `unchanged`, then its kind and name."""
    if config.alerts is None:
        raise ConfigError(f"alerts: pipeline {config.pipeline_id} has no alerts section; add one to apply alerts")
    values = template_values(config)
    api = _Api(project)
    lines = [api.apply_metric(render(path, values)) for path in sorted((TEMPLATES / "metrics").glob("*.yaml"))]
    existing = api.managed_policies(config.pipeline_id)
    for key, path in policy_files(config.alerts.on).items():
        policy = render(path, values)
        policy["userLabels"] = {"managed_by": _MANAGED_BY, "pipeline_id": config.pipeline_id, "policy": key}
        lines.append(api.apply_policy(policy, existing.get(key)))
    return lines


def policy_files(on: list[AlertCondition]) -> dict[str, Path]:
    """The policy files to apply, by policy key (the file's name): a condition's only when it is in `on`."""
    files = {path.stem: path for path in sorted((TEMPLATES / "policies").glob("*.yaml"))}
    return {key: path for key, path in files.items() if key in on or key not in get_args(AlertCondition)}


def template_values(config: PipelineConfig) -> dict[str, Any]:
    """What the placeholders of the files stand for, for `config` (which has an `alerts` section)."""
    alerts = config.alerts
    stale_seconds = int(alerts.stale_after.total_seconds())
    return {
        "pipeline_id": config.pipeline_id,
        "job_name_pattern": job_name_pattern(config.pipeline_id),
        "runs_metric": f"beam_api_pipeline_{config.pipeline_id}_runs",
        "rate_limited_share": alerts.rate_limited_share,
        "stale_after": f"{stale_seconds}s",
        "stale_after_text": format_duration(alerts.stale_after),
    }


def render(path: Path, values: dict[str, Any]) -> dict[str, Any]:
    """The YAML file at `path` with its `${name}` placeholders filled in from `values`."""
    return _fill(yaml.safe_load(path.read_text()), values)


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, str):
        whole = _WHOLE_PLACEHOLDER.fullmatch(node)
        return values[whole.group(1)] if whole else Template(node).substitute(values)
    return node


def contains(actual: Any, wanted: Any) -> bool:
    """Whether `actual` says everything `wanted` says: every key of a wanted mapping, the same items of a
    wanted list, the same scalars. Fields the API adds (names, records) do not count, and a missing field is
    its default (0, "", false, empty), which the APIs leave out of their answers."""
    if actual is None and not wanted:
        return True
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(contains(actual.get(key), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(contains(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    return actual == wanted


class _Api:
    """The calls `apply` makes: Logging projects.metrics get/create/update, Monitoring projects.alertPolicies
    list/create/patch."""

    def __init__(self, project: str):
        endpoint = emulator_endpoint(MONITORING_ENDPOINT_VARIABLE)
        self._metrics = f"{endpoint or _LOGGING}/v2/projects/{project}/metrics"
        self._monitoring = f"{endpoint or _MONITORING}/v3"
        self._policies = f"{self._monitoring}/projects/{project}/alertPolicies"
        self._session = authorized_session(MONITORING_ENDPOINT_VARIABLE, _SCOPES)

    def apply_metric(self, metric: dict[str, Any]) -> str:
        """Create the log-based metric, or update it when it says something else; returns the line to print."""
        what = f'log metric "{metric["name"]}"'
        existing = self._call("GET", f"{self._metrics}/{metric['name']}", what, missing_ok=True)
        if existing is None:
            self._call("POST", self._metrics, what, body=metric)
            return f"created {what}"
        if contains(existing, metric):
            return f"unchanged {what}"
        self._call("PUT", f"{self._metrics}/{metric['name']}", what, body=metric)
        return f"updated {what}"

    def managed_policies(self, pipeline_id: str) -> dict[str, dict[str, Any]]:
        """The alert policies `apply` made for the pipeline, by policy key."""
        found: dict[str, dict[str, Any]] = {}
        params = {"pageSize": 100}
        while True:
            page = self._call("GET", self._policies, "alert policies", params=params)
            for policy in page.get("alertPolicies", []):
                labels = policy.get("userLabels", {})
                if labels.get("managed_by") == _MANAGED_BY and labels.get("pipeline_id") == pipeline_id:
                    found[labels.get("policy", "")] = policy
            if not page.get("nextPageToken"):
                return found
            params = {**params, "pageToken": page["nextPageToken"]}

    def apply_policy(self, policy: dict[str, Any], existing: dict[str, Any] | None) -> str:
        """Create the policy, or patch the fields it sets when `existing` says something else (each condition
        keeping the id of the one in its place, as the API advises for a changed threshold); returns the line to
        print."""
        what = f'policy "{policy["displayName"]}"'
        if existing is None:
            self._call("POST", self._policies, what, body=policy)
            return f"created {what}"
        if contains(existing, policy):
            return f"unchanged {what}"
        kept = [condition["name"] for condition in existing.get("conditions", [])]
        conditions = [{**c, "name": kept[i]} if i < len(kept) else c for i, c in enumerate(policy["conditions"])]
        labels = {**existing.get("userLabels", {}), **policy["userLabels"]}
        body = {**policy, "conditions": conditions, "userLabels": labels}
        url = f"{self._monitoring}/{existing['name']}"
        self._call("PATCH", url, what, body=body, params={"updateMask": ",".join(policy)})
        return f"updated {what}"

    def _call(
        self,
        method: str,
        url: str,
        what: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        response = self._session.request(method, url, json=body, params=params, timeout=_TIMEOUT)
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            service = "Cloud Logging" if url.startswith(self._metrics) else "Cloud Monitoring"
            raise ApiError(
                f"{what}: {service} answered {response.status_code}: {_reason(response)}", response.status_code
            )
        return response.json()


def _reason(response) -> str:
    """The error message of an error answer, on one line."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text or response.reason
    return " ".join(str(message).split())[:300]
