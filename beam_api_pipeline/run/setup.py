"""`setup`: what a pipeline's jobs need made once, by an account with the right to make it, and the IAM bindings
the jobs need, so that `run`, `launch` and the workers get by with least privilege (docs/deploy.md).

It creates the BigQuery control dataset and tables (`control.bigquery.create_control_tables`) when the
watermark store is BigQuery, and lists each role the job's service account needs, on the narrowest resource the
config names: the project (Dataflow worker, BigQuery jobs), each BigQuery dataset it writes (control tables,
outputs, dead-letter table), each bucket (outputs, dead letters, temp files), each secret it reads, and the
image's Artifact Registry repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.references import secret_names
from beam_api_pipeline.core.bigquery_names import TableName

#: An Artifact Registry Docker image: LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG|@DIGEST].
_REGISTRY_IMAGE = re.compile(r"(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repository>[^/]+)/.+")
_SECRET = re.compile(r"projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)")


@dataclass(frozen=True)
class Binding:
    """One IAM role on one resource, and why the job needs it."""

    role: str
    kind: str  # project | dataset | bucket | secret | repository
    resource: str
    why: str


def job_bindings(
    config: PipelineConfig,
    project: str,
    temp_location: str | None = None,
    image: str | None = None,
) -> list[Binding]:
    """The roles the service account of a Dataflow job of `config` in `project` needs (its launcher and workers
    both run as it), each once, on the narrowest resource."""
    bindings = [
        Binding("roles/dataflow.worker", "project", project, "run the launcher VM and the workers"),
        Binding("roles/bigquery.jobUser", "project", project, "queries on the control tables, load jobs, MERGE"),
    ]
    if config.watermark_store.type == "bigquery":
        table = TableName.parse(config.watermark_store.table)
        why = "read and write the control tables (watermarks, runs, schema versions, leases, validators)"
        bindings.append(Binding("roles/bigquery.dataEditor", "dataset", f"{table.project}:{table.dataset}", why))
    for index, output in config.enabled_outputs():
        if output.type == "bigquery":
            dataset = f"{output.config.project or project}:{output.config.dataset_id}"
            bindings.append(Binding("roles/bigquery.dataEditor", "dataset", dataset, f"output.{index}: write rows"))
        elif output.type == "gcs":
            bindings.append(_bucket(output.config.bucket, f"output.{index}: write files"))
        elif output.type == "local" and output.config.path.startswith("gs://"):
            bindings.append(_bucket(output.config.path, f"output.{index}: write files"))
    dead_letter = config.dead_letter
    if dead_letter is not None and dead_letter.table is not None:
        table = TableName.parse(str(dead_letter.table))
        dataset = f"{table.project}:{table.dataset}"
        bindings.append(Binding("roles/bigquery.dataEditor", "dataset", dataset, "dead_letter: write rows"))
    elif dead_letter is not None and dead_letter.path and dead_letter.path.startswith("gs://"):
        bindings.append(_bucket(dead_letter.path, "dead_letter: write files"))
    if temp_location:
        bindings.append(_bucket(temp_location, "temp and staging files"))
    for name in secret_names(config):
        bindings.append(Binding("roles/secretmanager.secretAccessor", "secret", name, "resolve it on the workers"))
    match = _REGISTRY_IMAGE.fullmatch(image or "")
    if match:
        repository = f"projects/{match['project']}/locations/{match['location']}/repositories/{match['repository']}"
        bindings.append(Binding("roles/artifactregistry.reader", "repository", repository, "pull the image"))
    return _merged(bindings)


def _bucket(path: str, why: str) -> Binding:
    bucket = path.removeprefix("gs://").split("/", 1)[0]
    return Binding("roles/storage.objectAdmin", "bucket", f"gs://{bucket}", why)


def _merged(bindings: list[Binding]) -> list[Binding]:
    """One binding per (role, resource), its reasons joined, in first-seen order."""
    merged: dict[tuple[str, str], Binding] = {}
    for binding in bindings:
        key = (binding.role, binding.resource)
        if key in merged:
            first = merged[key]
            merged[key] = Binding(first.role, first.kind, first.resource, f"{first.why}; {binding.why}")
        else:
            merged[key] = binding
    return list(merged.values())


def grant_command(binding: Binding, member: str) -> str:
    """The command that grants `binding` to `member` (`serviceAccount:...`)."""
    tail = f'--member "{member}" --role {binding.role}'
    if binding.kind == "project":
        return f"gcloud projects add-iam-policy-binding {binding.resource} {tail}"
    if binding.kind == "bucket":
        return f"gcloud storage buckets add-iam-policy-binding {binding.resource} {tail}"
    if binding.kind == "secret":
        secret = _SECRET.fullmatch(binding.resource)
        return f"gcloud secrets add-iam-policy-binding {secret['secret']} --project {secret['project']} {tail}"
    if binding.kind == "repository":
        parts = binding.resource.split("/")
        return (
            f"gcloud artifacts repositories add-iam-policy-binding {parts[5]} --project {parts[1]} "
            f"--location {parts[3]} {tail}"
        )
    return f"bq add-iam-policy-binding {tail} {binding.resource}"


def format_setup(created: list[str], control_table: str | None, bindings: list[Binding], account: str) -> str:
    """What `setup` prints: the control tables made (or found), the bindings, and the commands that grant them."""
    lines = []
    if control_table is None:
        lines.append("control tables: none (watermark_store is local)")
    elif created:
        lines.append(f"control tables: created {', '.join(created)}")
    else:
        lines.append(f"control tables: {control_table} and its _runs, _schema_versions, _leases exist")
    lines.append(f"IAM bindings for the job's service account {account}:")
    width = max(len(binding.role) for binding in bindings)
    lines.extend(f"  {b.role:<{width}}  {b.kind} {b.resource}: {b.why}" for b in bindings)
    lines.append("to grant them:")
    lines.extend(f"  {grant_command(binding, f'serviceAccount:{account}')}" for binding in bindings)
    return "\n".join(lines)
