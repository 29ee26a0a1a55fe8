#!/usr/bin/env bash
# Create or update a Cloud Scheduler job that launches the Flex Template on a cron. The job POSTs to Dataflow's
# flexTemplates.launch the body that `python -m beam_api_pipeline launch --print_request` prints: what `launch`
# sends, without a run id (each job makes its own) and with the Dataflow job named after the pipeline alone, so
# Dataflow refuses a launch while the previous scheduled job still runs. docs/deploy.md, "Scheduling runs".
#
#   PROJECT=my-project REGION=europe-west1 SCHEDULE="0 3 * * *" \
#   TEMPLATE_PATH=gs://my-bucket/templates/beam-api-pipeline-TAG.json \
#   CONFIG=acme_issues.yaml CONFIG_GCS_PATH=gs://my-bucket/pipelines/acme_issues.yaml \
#       templates/orchestration/cloud_scheduler.sh
#
# Required:
#   PROJECT, REGION       where the Dataflow jobs (and the scheduler job) run
#   SCHEDULE              unix-cron, e.g. "0 3 * * *"
#   TEMPLATE_PATH         gs:// path of the template spec (make template-build)
#   CONFIG                the pipeline config file; checked here, and passed inline unless CONFIG_GCS_PATH is set
# Optional:
#   CONFIG_GCS_PATH       the gs:// copy of CONFIG that the job reads
#   ENV_CONFIG            the environment file, passed inline
#   TIME_ZONE             of SCHEDULE (default Etc/UTC)
#   SCHEDULER_JOB         the scheduler job's name (default launch-<CONFIG's file name without extension>)
#   SERVICE_ACCOUNT       the Dataflow job runs as it (default beam-api-pipeline@$PROJECT.iam.gserviceaccount.com)
#   SCHEDULER_ACCOUNT     Cloud Scheduler calls Dataflow with its OAuth token
#                         (default beam-api-scheduler@$PROJECT.iam.gserviceaccount.com)
#   SDK_CONTAINER_IMAGE   the workers' image, the template's own (default: the image the template's launcher runs in)
#   SUBNETWORK            the workers' subnetwork, regions/$REGION/subnetworks/NAME
#   USE_PUBLIC_IPS        false: workers with private IPs only (launch's --no_use_public_ips)
#   MAX_WORKERS, TEMP_LOCATION, STAGING_LOCATION   the job's environment, as launch's options of those names
#   PYTHON                a Python with beam_api_pipeline installed (default: the repository's .venv/bin/python)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${SCHEDULE:?set SCHEDULE}"
: "${TEMPLATE_PATH:?set TEMPLATE_PATH}" "${CONFIG:?set CONFIG}"
config_name="$(basename "$CONFIG")"
SCHEDULER_JOB="${SCHEDULER_JOB:-launch-${config_name%.*}}"
TIME_ZONE="${TIME_ZONE:-Etc/UTC}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-beam-api-pipeline@$PROJECT.iam.gserviceaccount.com}"
SCHEDULER_ACCOUNT="${SCHEDULER_ACCOUNT:-beam-api-scheduler@$PROJECT.iam.gserviceaccount.com}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

launch_args=(--config "$CONFIG" --project "$PROJECT" --region "$REGION" --template_path "$TEMPLATE_PATH"
  --service_account "$SERVICE_ACCOUNT")
if [[ -n "${CONFIG_GCS_PATH:-}" ]]; then launch_args+=(--config_gcs_path "$CONFIG_GCS_PATH"); fi
if [[ -n "${ENV_CONFIG:-}" ]]; then launch_args+=(--env_config "$ENV_CONFIG"); fi
if [[ -n "${MAX_WORKERS:-}" ]]; then launch_args+=(--max_workers "$MAX_WORKERS"); fi
if [[ -n "${TEMP_LOCATION:-}" ]]; then launch_args+=(--temp_location "$TEMP_LOCATION"); fi
if [[ -n "${STAGING_LOCATION:-}" ]]; then launch_args+=(--staging_location "$STAGING_LOCATION"); fi
if [[ -n "${SDK_CONTAINER_IMAGE:-}" ]]; then launch_args+=(--sdk_container_image "$SDK_CONTAINER_IMAGE"); fi
if [[ -n "${SUBNETWORK:-}" ]]; then launch_args+=(--subnetwork "$SUBNETWORK"); fi
if [[ "${USE_PUBLIC_IPS:-}" == false ]]; then launch_args+=(--no_use_public_ips); fi

body="$(mktemp)"
trap 'rm -f "$body"' EXIT
"$PYTHON" -m beam_api_pipeline launch "${launch_args[@]}" --print_request >"$body"

where=(--project "$PROJECT" --location "$REGION")
job=("${where[@]}"
  --schedule "$SCHEDULE" --time-zone "$TIME_ZONE"
  --uri "https://dataflow.googleapis.com/v1b3/projects/$PROJECT/locations/$REGION/flexTemplates:launch"
  --http-method POST --message-body-from-file "$body"
  --oauth-service-account-email "$SCHEDULER_ACCOUNT" --oauth-token-scope https://www.googleapis.com/auth/cloud-platform)
if gcloud scheduler jobs describe "$SCHEDULER_JOB" "${where[@]}" >/dev/null 2>&1; then
  gcloud scheduler jobs update http "$SCHEDULER_JOB" "${job[@]}" --update-headers Content-Type=application/json
else
  gcloud scheduler jobs create http "$SCHEDULER_JOB" "${job[@]}" --headers Content-Type=application/json
fi
