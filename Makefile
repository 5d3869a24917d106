# Two commands on a fresh machine: `make run` (the whole local pipeline) and `make test`.
# Both create the virtual environment on first use.

PYTHON_BASE ?= python3
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
READY := $(VENV)/.ready
TASK ?= classifier
# each task's runs, registry and endpoints in a work directory of their own
WORK ?= $(if $(filter classifier,$(TASK)),work,work/$(TASK))
ENGINE ?= process

# Values reach the shell single-quoted, so labels such as >50K, spaces and quotes pass unchanged.
q = '$(subst ','\'',$(1))'

# make run [DATA=path.csv TARGET=column POSITIVE=label] [IDS=col1,col2] [HP="n_estimators=200 max_depth=4"]
#          [TEXT=col DATES=col FEATURES=col CATEGORICAL=col NUMERIC=col ROLES=roles.json LEAKAGE=refuse]
#          [PARAMS="GateFloor=0.8 GateMargin=0.01"] [ENGINE=docker] [FROM=train] [NO_CACHE=1]
# make run DATA=three_classes.csv TARGET=column                   (multi-class: no POSITIVE)
# make run DATA=folder/ TARGET=column HOSTS=2                     (clean on 2 instances, one set of roles)
# make run TASK=regression [DATA=path.csv TARGET=numeric_column]   (default: data/diabetes.csv)
# make run TASK=forecast [DATA=long.csv SERIES=column TIME=column VALUE=column] [HORIZON=n] [HOSTS=n]
#   (HOSTS=n is PARAMS="TrainInstanceCount=n", the definition's parameter)
# make run TASK=forecast SYNTHETIC=2000 HOSTS=4
RUN_ARGS = --task $(call q,$(TASK)) --engine $(call q,$(ENGINE)) --work-dir $(call q,$(WORK)) \
	$(if $(SERIES),--series $(call q,$(SERIES))) $(if $(TIME),--time $(call q,$(TIME))) \
	$(if $(VALUE),--value $(call q,$(VALUE))) $(if $(HORIZON),--horizon $(call q,$(HORIZON))) \
	$(if $(HOSTS),--hosts $(call q,$(HOSTS))) $(if $(SYNTHETIC),--synthetic $(call q,$(SYNTHETIC))) \
	$(if $(DATA),--data $(call q,$(DATA))) $(if $(TARGET),--target $(call q,$(TARGET))) \
	$(if $(POSITIVE),--positive-label $(call q,$(POSITIVE))) $(if $(IDS),--id-columns $(call q,$(IDS))) \
	$(if $(TEXT),--text-columns $(call q,$(TEXT))) $(if $(DATES),--datetime-columns $(call q,$(DATES))) \
	$(if $(FEATURES),--feature-columns $(call q,$(FEATURES))) $(if $(CATEGORICAL),--categorical-columns $(call q,$(CATEGORICAL))) \
	$(if $(NUMERIC),--numeric-columns $(call q,$(NUMERIC))) $(if $(ROLES),--roles $(call q,$(ROLES))) \
	$(if $(LEAKAGE),--leakage $(call q,$(LEAKAGE))) \
	$(foreach hp,$(HP),-p $(call q,$(hp))) $(foreach param,$(PARAMS),--param $(call q,$(param))) $(if $(FROM),--from $(call q,$(FROM))) $(if $(NO_CACHE),--no-cache)

.PHONY: setup run test test-unit test-containers hardening conformance serve endpoints stop-endpoints delete-endpoint registry deploy drift transform runs lineage bench clean

setup: $(READY)

$(READY): Makefile requirements-dev.txt containers/requirements-train.txt containers/requirements-process.txt
	@$(PYTHON_BASE) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "Python 3.11 is needed (as in the images): set PYTHON_BASE=python3.11" >&2; exit 1; }
	test -x $(PYTHON) || $(PYTHON_BASE) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# scripts/ importable as inside the images (/opt/program), and localrun beside it
	printf '%s\n%s\n' "$(CURDIR)/scripts" "$(CURDIR)" > "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/sagemaker-steps.pth"
	touch $@

run: $(READY)
	OMP_NUM_THREADS=1 $(PYTHON) -m localrun $(RUN_ARGS)

# Every test: unit, steps as processes, the real toolkit, end to end, serving over HTTP,
# and the container tier (skipped without a Docker engine, a failure without one when CI=true).
test: $(READY)
	$(PYTHON) -m pytest

test-unit: $(READY)
	$(PYTHON) -m pytest -m "not container"

test-containers: $(READY)
	$(PYTHON) -m pytest -m container

# The hardening suite (issue-driven: property tests, kill tests, a short serving soak, IAM policy
# checks); `.ci/run` runs it after `make test`. SOAK_SECONDS=300 for the full soak by hand.
hardening: $(READY)
	$(PYTHON) -m pytest -m hardening

# The conformance tier: AWS's SageMaker SDK (local mode, in .venv-pipelines) runs the built images and the
# generated pipeline; results are compared with the runner's. Needs a Docker engine with the images
# (DOCKER_HOST) and docker-compose: `bash .ci/containers.sh make conformance` gives both.
conformance: $(READY)
	$(PYTHON) -m pytest -m conformance -p no:cacheprovider $(PYTEST_ARGS)

# What deploy deployed, served by the local control plane (it outlives `make run`): its URL, and how to stop it.
serve: $(READY)
	@$(PYTHON) -m localrun.serve --work-dir $(call q,$(WORK)) --engine $(call q,$(ENGINE))

# The local endpoints: list them; stop the control plane and every endpoint it hosts (they come back with
# `make serve`); delete one with what belongs to it: make delete-endpoint ENDPOINT=classifier
endpoints: $(READY)
	@$(PYTHON) -m localrun.controlplane endpoints --state-dir $(call q,$(WORK)/controlplane)

stop-endpoints: $(READY)
	@$(PYTHON) -m localrun.controlplane stop --state-dir $(call q,$(WORK)/controlplane)

delete-endpoint: $(READY)
	@$(PYTHON) -m localrun.controlplane delete-endpoint $(call q,$(if $(ENDPOINT),$(ENDPOINT),classifier)) --state-dir $(call q,$(WORK)/controlplane)

# The person in the loop, on the local registry (python -m registry --help): make registry CMD="list classifier",
# CMD="show classifier/2", CMD="approve classifier/2 --reason 'checked the errors'", CMD="reject ...", CMD=history
registry: $(READY)
	@url=$$($(PYTHON) -m localrun.controlplane start --state-dir $(call q,$(WORK)/controlplane)) && \
	$(PYTHON) -m registry --endpoint-url "$$url" --audit-log $(call q,$(WORK)/registry/audit.jsonl) $(CMD)

# After an approval: the group's latest Approved package onto the endpoint (give the last run's DATA/TARGET/...:
# its steps come from the cache, register finds nothing new, deploy runs)
deploy:
	@$(MAKE) --no-print-directory run FROM=deploy

# New rows, or what the endpoint captured (default), against the served model's baselines:
# make drift [DATA=batch.csv] [FAIL=1]
drift: $(READY)
	@$(PYTHON) -m localrun.drift --work-dir $(call q,$(WORK)) $(if $(DATA),--data $(call q,$(DATA))) $(if $(FAIL),--fail-on-violation)

# The score pipeline's Batch Transform, run locally as SageMaker runs it: every file under DATA split by line
# (headerless), scored by the latest Approved package (MODEL=<model.tar.gz> to choose; the latest run's model when
# none is approved), <name>.out per file and manifest.json; prints where they are. ENGINE=docker: the serving image.
# make transform DATA=<file or folder> [MODEL=model.tar.gz] [INSTANCES=2] [TRANSFORM_ARGS="--batch-strategy SingleRecord"]
transform: $(READY)
	@test -n $(call q,$(DATA)) || { echo "make transform DATA=<file or folder> [MODEL=<model.tar.gz>]" >&2; exit 2; }
	@$(PYTHON) -m localrun.transform --work-dir $(call q,$(WORK)) --data $(call q,$(DATA)) \
		$(if $(MODEL),--model $(call q,$(MODEL))) $(if $(INSTANCES),--instances $(call q,$(INSTANCES))) \
		$(if $(ENGINE),--engine $(call q,$(ENGINE))) $(TRANSFORM_ARGS)

# Local runs and what made a model: make lineage MODEL=<model.tar.gz or SHA-256>
runs: $(READY)
	@$(PYTHON) -m localrun runs --work-dir $(call q,$(WORK))

lineage: $(READY)
	@$(PYTHON) -m localrun lineage --work-dir $(call q,$(WORK)) $(call q,$(if $(MODEL),$(MODEL),$(WORK)/latest/s3/train/model/model.tar.gz))

# Every benchmark under bench/: each prints its table, then its ratios as name=value pairs.
bench: $(READY)
	@for b in bench/*_bench.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done

clean:
	@# the control plane and its endpoints live in $(WORK)/controlplane: stop them before their state goes
	-@test ! -x $(PYTHON) || $(PYTHON) -m localrun.controlplane stop --state-dir $(call q,$(WORK)/controlplane) >/dev/null
	rm -rf $(WORK) .pytest_cache

# ---- the SageMaker Pipeline definition (the SDK lives in its own venv: it needs protobuf<7) ----
# make pipeline-definition [PIPELINE=classifier] [IMAGE_URIS=image-uris.json] [ROLE_ARN=arn:...] [MODEL_ROLE_ARN=arn:...] [BUCKET=name]
#                          [DEFINITION_ARGS="--subnet subnet-1 --security-group sg-1 --tag team=ml"]
PIPELINES_VENV ?= .venv-pipelines
PIPELINES_PYTHON ?= $(PIPELINES_VENV)/bin/python
PIPELINES_READY := $(PIPELINES_VENV)/.ready
PIPELINE ?= classifier
DEFINITION ?= $(WORK)/pipelines/$(PIPELINE).json
DEFINITION_OPTS = --pipeline $(call q,$(PIPELINE)) \
	$(if $(IMAGE_URIS),--image-uris $(call q,$(IMAGE_URIS))) $(if $(ROLE_ARN),--role-arn $(call q,$(ROLE_ARN))) $(if $(MODEL_ROLE_ARN),--model-role-arn $(call q,$(MODEL_ROLE_ARN))) \
	$(if $(BUCKET),--bucket $(call q,$(BUCKET))) $(DEFINITION_ARGS)

.PHONY: pipelines-setup pipeline-definition pipeline-validate pipeline-upsert pipeline-start

pipelines-setup: $(PIPELINES_READY)

$(PIPELINES_READY): requirements-pipelines.txt
	test -x $(PIPELINES_PYTHON) || $(PYTHON_BASE) -m venv $(PIPELINES_VENV)
	$(PIPELINES_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-pipelines.txt
	printf '%s\n%s\n' "$(CURDIR)/scripts" "$(CURDIR)" > "$$($(PIPELINES_PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/sagemaker-steps.pth"
	touch $@

# The definition JSON, as Terraform's aws_sagemaker_pipeline pipeline_definition takes it; then checked
# against the SageMaker service model (botocore) before anything is written.
pipeline-definition: $(PIPELINES_READY)
	@$(PIPELINES_PYTHON) -m pipelines definition $(DEFINITION_OPTS) --out $(call q,$(DEFINITION))

pipeline-validate: $(PIPELINES_READY)
	@$(PIPELINES_PYTHON) -m pipelines validate $(call q,$(DEFINITION))

# Need AWS credentials (and a real ROLE_ARN): create or update the pipeline, then start an execution.
pipeline-upsert: $(PIPELINES_READY)
	@$(PIPELINES_PYTHON) -m pipelines upsert $(DEFINITION_OPTS)

pipeline-start: $(PIPELINES_READY)
	@$(PIPELINES_PYTHON) -m pipelines start --pipeline $(call q,$(PIPELINE)) $(START_ARGS)

-include containers/docker.mk

# The definition tests need the SDK venv: make test creates it on first use, as it does .venv.
test hardening conformance: $(PIPELINES_READY)
