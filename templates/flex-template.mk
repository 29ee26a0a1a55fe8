# Flex Template targets, included by the Makefile. Set PROJECT, REGION and BUCKET (and PIPELINE_CONFIG to run):
#   make template-build PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket
#   make template-run   PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket \
#        PIPELINE_CONFIG=gs://my-bucket/pipelines/acme_issues.yaml
#   make setup CONFIG=acme_issues.yaml PROJECT=my-project BUCKET=my-bucket   (once, as an admin)
# docs/deploy.md explains the service account, its roles and the network these commands expect.

PROJECT ?=
REGION ?=
BUCKET ?=
REPOSITORY ?= beam-api-pipeline
TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d-%H%M%S)
IMAGE ?= $(REGION)-docker.pkg.dev/$(PROJECT)/$(REPOSITORY)/beam-api-pipeline:$(TAG)
TEMPLATE_FILE ?= gs://$(BUCKET)/templates/beam-api-pipeline-$(TAG).json
SERVICE_ACCOUNT ?= beam-api-pipeline@$(PROJECT).iam.gserviceaccount.com
SUBNETWORK ?= regions/$(REGION)/subnetworks/default
MAX_WORKERS ?= 10
USE_PUBLIC_IPS ?= false
PIPELINE_CONFIG ?=
# More `launch` options: LAUNCH_ARGS="--end_time 2024-01-08T00:00:00Z --env_config env.yaml"
LAUNCH_ARGS ?=

# The full lock of what the image installs (requirements.lock), compiled from requirements.txt by uv for the
# image's Python and platform; `make lock-check` (CI, with registry access) fails when it is out of date: when a
# compile held to the lock's own versions (-c) gives another lock, requirements.txt asks for something the lock
# does not have (a package, a version), or the lock is not one consistent resolution. New releases elsewhere on
# PyPI do not fail it; `make lock` takes them.
UV_VERSION := 0.9.5
UV := .tools/uv-$(UV_VERSION)/bin/uv
LOCK_COMPILE = $(UV) pip compile requirements.txt --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--annotation-style line --custom-compile-command "make lock" --quiet

.PHONY: _template-vars template-image template-build template-run setup lock lock-check image-env-check

_template-vars:
	@test -n "$(PROJECT)" -a -n "$(REGION)" -a -n "$(BUCKET)" || \
		{ echo "set PROJECT, REGION and BUCKET, e.g. make $(MAKECMDGOALS) PROJECT=p REGION=europe-west1 BUCKET=b"; exit 2; }

# The image for the launcher and the workers, pushed to Artifact Registry; built for linux/amd64, the machines
# Dataflow runs (an arm64 build, the default on Apple silicon, would not start on them).
template-image: _template-vars
	docker build --platform linux/amd64 -f templates/Dockerfile --build-arg IMAGE="$(IMAGE)" -t "$(IMAGE)" .
	docker push "$(IMAGE)"

# The template spec file in GCS: the image and metadata.json (the parameters and their checks).
template-build: template-image
	gcloud dataflow flex-template build "$(TEMPLATE_FILE)" \
		--project "$(PROJECT)" \
		--image "$(IMAGE)" \
		--sdk-language PYTHON \
		--metadata-file metadata.json

# One run of the template through `launch` (the launch body every path sends, beam_api_pipeline/gcp/dataflow.py):
# the config checked for Dataflow, the pipeline's lease taken and the run recorded; workers on this IMAGE, without
# public IPs (unless USE_PUBLIC_IPS=true), in SUBNETWORK, as SERVICE_ACCOUNT. PIPELINE_CONFIG: a gs:// path the job
# reads, or a local file passed inline.
template-run: _template-vars $(INSTALLED)
	@test -n "$(PIPELINE_CONFIG)" || { echo "set PIPELINE_CONFIG, e.g. gs://$(BUCKET)/pipelines/acme_issues.yaml"; exit 2; }
	$(PY) -m beam_api_pipeline launch --config "$(PIPELINE_CONFIG)" \
		--project "$(PROJECT)" \
		--region "$(REGION)" \
		--template_path "$(TEMPLATE_FILE)" \
		--sdk_container_image "$(IMAGE)" \
		--service_account "$(SERVICE_ACCOUNT)" \
		--staging_location "gs://$(BUCKET)/staging" \
		--temp_location "gs://$(BUCKET)/temp" \
		--subnetwork "$(SUBNETWORK)" \
		$(if $(filter true,$(USE_PUBLIC_IPS)),,--no_use_public_ips) \
		--max_workers $(MAX_WORKERS) $(LAUNCH_ARGS)

# Once per pipeline, as an account that may create BigQuery datasets: the control dataset and tables, and the IAM
# bindings the job's service account needs (printed; docs/deploy.md). PROJECT and BUCKET are optional here.
setup: $(INSTALLED)
	@test -n "$(CONFIG)" || { echo "set CONFIG, e.g. make setup CONFIG=templates/pipelines/dataflow/github_issues.yaml"; exit 2; }
	$(PY) -m beam_api_pipeline setup --config "$(CONFIG)" \
		$(if $(PROJECT),--project "$(PROJECT)" --service_account "$(SERVICE_ACCOUNT)") \
		$(if $(BUCKET),--temp_location "gs://$(BUCKET)/temp") \
		$(if $(and $(PROJECT),$(REGION)),--sdk_container_image "$(IMAGE)")

$(UV):
	$(PYTHON) -m venv .tools/uv-$(UV_VERSION)
	.tools/uv-$(UV_VERSION)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

lock: $(UV)
	$(LOCK_COMPILE) -o requirements.lock

LOCK_CHECK := $(or $(TMPDIR),/tmp)/requirements.lock.check
lock-check: $(UV)
	$(LOCK_COMPILE) -c requirements.lock -o $(LOCK_CHECK)
	sed -e 's/ *#.*//' -e '/^$$/d' requirements.lock > $(LOCK_CHECK).locked
	sed -e 's/ *#.*//' -e '/^$$/d' $(LOCK_CHECK) > $(LOCK_CHECK).compiled
	diff -u $(LOCK_CHECK).locked $(LOCK_CHECK).compiled || { echo "requirements.lock is out of date: run make lock"; exit 1; }

# The image's Python environment from the lock, without Docker, and a dry-run job from it (registry access needed).
image-env-check: $(UV)
	UV=$(abspath $(UV)) PYTHON=$(PYTHON) templates/image_env_check.sh
