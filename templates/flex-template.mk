# Flex Template targets, included by the Makefile. Set PROJECT, REGION and BUCKET (and PIPELINE_CONFIG to run):
#   make template-build PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket
#   make template-run   PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket \
#        PIPELINE_CONFIG=gs://my-bucket/pipelines/acme_issues.yaml
# docs/deploy.md explains the service account, its roles and the network these commands expect.

PROJECT ?=
REGION ?=
BUCKET ?=
REPOSITORY ?= beam-api-pipeline
TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d-%H%M%S)
IMAGE ?= $(REGION)-docker.pkg.dev/$(PROJECT)/$(REPOSITORY)/beam-api-pipeline:$(TAG)
TEMPLATE_FILE ?= gs://$(BUCKET)/templates/beam-api-pipeline-$(TAG).json
JOB_NAME ?= beam-api-pipeline-$(shell date +%Y%m%d-%H%M%S)
SERVICE_ACCOUNT ?= beam-api-pipeline@$(PROJECT).iam.gserviceaccount.com
SUBNETWORK ?= regions/$(REGION)/subnetworks/default
MAX_WORKERS ?= 10
PIPELINE_CONFIG ?=
# More template parameters, comma-separated: PARAMETERS=end_time=2024-01-08T00:00:00Z,log_level=DEBUG
PARAMETERS ?=
comma := ,

.PHONY: _template-vars template-image template-build template-run

_template-vars:
	@test -n "$(PROJECT)" -a -n "$(REGION)" -a -n "$(BUCKET)" || \
		{ echo "set PROJECT, REGION and BUCKET, e.g. make $(MAKECMDGOALS) PROJECT=p REGION=europe-west1 BUCKET=b"; exit 2; }

# The image for the launcher and the workers, pushed to Artifact Registry.
template-image: _template-vars
	docker build -f templates/Dockerfile -t "$(IMAGE)" .
	docker push "$(IMAGE)"

# The template spec file in GCS: the image and metadata.json (the parameters and their checks).
template-build: template-image
	gcloud dataflow flex-template build "$(TEMPLATE_FILE)" \
		--project "$(PROJECT)" \
		--image "$(IMAGE)" \
		--sdk-language PYTHON \
		--metadata-file metadata.json

# One run of the template: workers without public IPs, in SUBNETWORK, as SERVICE_ACCOUNT, on this image.
template-run: _template-vars
	@test -n "$(PIPELINE_CONFIG)" || { echo "set PIPELINE_CONFIG, e.g. gs://$(BUCKET)/pipelines/acme_issues.yaml"; exit 2; }
	gcloud dataflow flex-template run "$(JOB_NAME)" \
		--project "$(PROJECT)" \
		--region "$(REGION)" \
		--template-file-gcs-location "$(TEMPLATE_FILE)" \
		--service-account-email "$(SERVICE_ACCOUNT)" \
		--staging-location "gs://$(BUCKET)/staging" \
		--temp-location "gs://$(BUCKET)/temp" \
		--subnetwork "$(SUBNETWORK)" \
		--disable-public-ips \
		--max-workers $(MAX_WORKERS) \
		--parameters "sdk_container_image=$(IMAGE),pipeline_config=$(PIPELINE_CONFIG)$(if $(PARAMETERS),$(comma)$(PARAMETERS))"
