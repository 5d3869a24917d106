# Two commands on a fresh machine: `make run` (the whole local pipeline) and `make test`.
# Both create the virtual environment on first use.

PYTHON_BASE ?= python3
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
READY := $(VENV)/.ready
WORK ?= work
ENGINE ?= process
PORT ?= 8080

# make run DATA=path.csv TARGET=column POSITIVE=label [IDS=col1,col2] [ENGINE=docker]
RUN_ARGS = --engine $(ENGINE) --work-dir $(WORK) \
	$(if $(DATA),--data $(DATA)) $(if $(TARGET),--target $(TARGET)) \
	$(if $(POSITIVE),--positive-label $(POSITIVE)) $(if $(IDS),--id-columns $(IDS))

.PHONY: setup run test test-unit test-containers serve bench clean

setup: $(READY)

$(READY): requirements-dev.txt containers/requirements-train.txt containers/requirements-process.txt
	@$(PYTHON_BASE) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "Python 3.11 is needed (as in the images): set PYTHON_BASE=python3.11" >&2; exit 1; }
	test -x $(PYTHON) || $(PYTHON_BASE) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
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

# The model of the latest `make run`, as an endpoint serves it, on 127.0.0.1:$(PORT) until Ctrl-C.
SERVE_TREE ?= $(WORK)/latest/jobs/serve/algo-1
serve: $(READY)
	@test -f $(SERVE_TREE)/model/metadata.json || { echo "no model in $(SERVE_TREE): run 'make run' first" >&2; exit 2; }
	SAGEMAKER_BASE_DIR=$(SERVE_TREE) SAGEMAKER_BIND_TO_PORT=$(PORT) SERVING_HOST=127.0.0.1 $(PYTHON) scripts/serve

# Every benchmark under bench/: each prints its table, then its ratios as name=value pairs.
bench: $(READY)
	@for b in bench/*_bench.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done

clean:
	rm -rf $(WORK) .pytest_cache

-include containers/docker.mk
