# Container targets: build and push the two images, run the project-local engine.
# Included by the main Makefile (`-include containers/docker.mk`); self-contained otherwise:
#   make -f containers/docker.mk build
#
#   make engine-up                  project-local dockerd + base images (prints nothing to eval:
#                                   use DOCKER_HOST=unix://$(ENGINE_CACHE)/docker.sock, see engine-env)
#   make build [BASE_IMAGE=...] [CACHE_REGISTRY=host[:port][/path]]
#   make push REGISTRY=host[:port][/path] [PUSH_LATEST=1]
#   make engine-down                stop registry and dockerd (by PID)
#   make clean-images [GIT_SHA=...] [REGISTRY=...]
#                                   drop the GIT_SHA tags (and REGISTRY's copies), then untagged images
#   make lock                       regenerate containers/requirements-*.lock (hashes) from the pins

PYTHON ?= .venv/bin/python
DOCKER ?= docker
IMAGE_PREFIX ?= sagemaker-steps
TRAIN_REPO ?= $(IMAGE_PREFIX)-train
PROCESS_REPO ?= $(IMAGE_PREFIX)-process
BASE_IMAGE ?= python:3.11-slim
GIT_SHA ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo nogit)
GIT_BRANCH ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
# Extra flags for every `docker build` (e.g. --pull, --no-cache, --progress=plain).
DOCKER_BUILD_FLAGS ?=
# A registry whose `latest` (and `buildcache`, the builder stage) images seed the build cache.
CACHE_REGISTRY ?=
# Where `push` sends the images; an ECR host (*.dkr.ecr.REGION.amazonaws.com) gets a login first.
REGISTRY ?=
# Push `latest` too: on main by default, or PUSH_LATEST=1.
PUSH_LATEST ?= $(if $(filter main,$(GIT_BRANCH)),1,)
# Also push the builder stage as :buildcache (for CACHE_REGISTRY on the next build).
PUSH_BUILD_CACHE ?= $(if $(CACHE_REGISTRY),1,)
DOCKER_MK_DIR := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
DOCKER_CONTEXT_DIR := $(abspath $(DOCKER_MK_DIR)..)
ENGINE_CACHE ?= $(DOCKER_CONTEXT_DIR)/.cache/docker
ENGINE_SH ?= $(DOCKER_MK_DIR)engine.sh
ECR_REGION = $(or $(word 4,$(subst ., ,$(REGISTRY))),$(AWS_REGION),$(AWS_DEFAULT_REGION))

.PHONY: build build-train build-process push push-train push-process login \
	engine-up engine-down engine-env registry-up registry-down images clean-images lock lock-check

build: build-train build-process

# $(1) repository name, $(2) Dockerfile. With CACHE_REGISTRY: pull its buildcache/latest (misses are
# fine), build the builder stage as $(1):buildcache, then the image, both with --cache-from.
# BUILDKIT_INLINE_CACHE=1 makes the images usable as a cache by BuildKit builders (ignored otherwise).
define build_image
	@set -e; cache=""; \
	if [ -n "$(CACHE_REGISTRY)" ]; then \
	  for tag in buildcache latest; do \
	    ref="$(CACHE_REGISTRY)/$(1):$$tag"; \
	    if $(DOCKER) pull -q "$$ref" >/dev/null 2>&1; then cache="$$cache --cache-from $$ref"; \
	    else echo "build cache: $$ref not available"; fi; \
	  done; \
	  echo "+ docker build --target builder -t $(1):buildcache"; \
	  $(DOCKER) build --network host $(DOCKER_BUILD_FLAGS) --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	    --build-arg BUILDKIT_INLINE_CACHE=1 $$cache -f $(2) --target builder -t $(1):buildcache $(DOCKER_CONTEXT_DIR); \
	  cache="$$cache --cache-from $(1):buildcache"; \
	fi; \
	echo "+ docker build -f $(2) -t $(1):$(GIT_SHA) -t $(1):latest"; \
	$(DOCKER) build --network host $(DOCKER_BUILD_FLAGS) --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  --build-arg BUILDKIT_INLINE_CACHE=1 $$cache -f $(2) \
	  --label org.opencontainers.image.revision=$(GIT_SHA) \
	  -t $(1):$(GIT_SHA) -t $(1):latest $(DOCKER_CONTEXT_DIR)
endef

build-train:
	$(call build_image,$(TRAIN_REPO),$(DOCKER_CONTEXT_DIR)/Dockerfile.train)

build-process:
	$(call build_image,$(PROCESS_REPO),$(DOCKER_CONTEXT_DIR)/Dockerfile.process)

images:
	@$(DOCKER) image ls --filter "reference=$(IMAGE_PREFIX)-*"

# Disk hygiene for an engine that outlives its builds (CI keeps its state between runs): untag
# <repo>:GIT_SHA and, with REGISTRY, REGISTRY/<repo>:GIT_SHA and :latest, then prune untagged
# images older than PRUNE_AFTER. Kept: <repo>:latest, the next build's cache (re-tagged from one of those when missing),
# and every other tagged image (the base images among them).
# Untagged images younger than this stay: the legacy builder's dependency stage is one of them, and
# pruning it would make the next build reinstall every dependency (about 100 s).
PRUNE_AFTER ?= 168h
clean-images:
	@set -e; for repo in $(TRAIN_REPO) $(PROCESS_REPO); do \
	  for ref in "$$repo:$(GIT_SHA)" $(if $(REGISTRY),"$(REGISTRY)/$$repo:$(GIT_SHA)" "$(REGISTRY)/$$repo:latest"); do \
	    $(DOCKER) image inspect "$$ref" >/dev/null 2>&1 || continue; \
	    $(DOCKER) image inspect "$$repo:latest" >/dev/null 2>&1 || $(DOCKER) tag "$$ref" "$$repo:latest"; \
	    echo "+ docker image rm $$ref"; \
	    $(DOCKER) image rm "$$ref" >/dev/null; \
	  done; \
	done; \
	echo "+ docker image prune -f --filter until=$(PRUNE_AFTER)"; \
	pruned="$$($(DOCKER) image prune -f --filter "until=$(PRUNE_AFTER)")"; printf '%s\n' "$$pruned" | tail -n 1

# ECR needs a login (the repositories must exist); any other registry (127.0.0.1:5000) none.
login:
	@case "$(REGISTRY)" in \
	  "") echo "REGISTRY is required (e.g. make push REGISTRY=127.0.0.1:5000)" >&2; exit 2 ;; \
	  *.dkr.ecr.*.amazonaws.com|*.dkr.ecr.*.amazonaws.com/*) \
	    echo "+ aws ecr get-login-password --region $(ECR_REGION) | docker login $(firstword $(subst /, ,$(REGISTRY)))"; \
	    aws ecr get-login-password --region $(ECR_REGION) \
	      | $(DOCKER) login --username AWS --password-stdin $(firstword $(subst /, ,$(REGISTRY))) ;; \
	  *) echo "registry $(REGISTRY): no login" ;; \
	esac

# $(1) repository name: the git-SHA tag always, latest when PUSH_LATEST=1, buildcache when asked.
define push_image
	@set -e; \
	for tag in $(GIT_SHA) $(if $(filter 1 true yes,$(PUSH_LATEST)),latest) \
	           $(if $(filter 1 true yes,$(PUSH_BUILD_CACHE)),buildcache); do \
	  $(DOCKER) tag "$(1):$$tag" "$(REGISTRY)/$(1):$$tag"; \
	  echo "+ docker push $(REGISTRY)/$(1):$$tag"; \
	  $(DOCKER) push -q "$(REGISTRY)/$(1):$$tag"; \
	done
endef

push: login push-train push-process

push-train: login
	$(call push_image,$(TRAIN_REPO))

push-process: login
	$(call push_image,$(PROCESS_REPO))

engine-up:
	DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) deps
	DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) up
	DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) base
	@echo "export DOCKER_HOST=unix://$(ENGINE_CACHE)/docker.sock"

engine-down:
	DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) registry-down
	DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) down

engine-env:
	@DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) env

registry-up:
	DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) registry-up

registry-down:
	DOCKER_CACHE_DIR=$(ENGINE_CACHE) $(ENGINE_SH) registry-down

# Hash-locked requirements, resolved by pip-tools in a throwaway venv (Linux, CPython 3.11).
LOCK_VENV ?= $(DOCKER_CONTEXT_DIR)/.cache/pip-tools
PIP_COMPILE = env -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { python3 -m venv $(LOCK_VENV) && \
	  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(LOCK_VENV)/bin/pip install -q pip-tools; }
	cd $(DOCKER_MK_DIR) && $(PIP_COMPILE) --output-file requirements-process.lock requirements-process.txt
	cd $(DOCKER_MK_DIR) && $(PIP_COMPILE) --output-file requirements-train.lock requirements-train.txt

# Every `name==version` pin of requirements-*.txt must be in its lock (a stale lock fails here).
lock-check:
	@set -e; cd $(DOCKER_MK_DIR)..; for kind in process train; do \
	  pins="$$(sed -e 's/#.*//' -e 's/[[:space:]]//g' containers/requirements-$$kind.txt | grep '==' || true)"; \
	  [ "$$kind" = train ] && pins="$$pins $$(sed -e 's/#.*//' -e 's/[[:space:]]//g' containers/requirements-process.txt | grep '==' || true)"; \
	  for pin in $$pins; do \
	    name="$$(echo "$${pin%%==*}" | tr 'A-Z_.' 'a-z--')"; ver="$${pin#*==}"; \
	    grep -qiE "^$$name==$$ver( |$$)" containers/requirements-$$kind.lock \
	      || { echo "containers/requirements-$$kind.lock lacks $$pin: run make lock" >&2; exit 1; }; \
	  done; \
	done; echo "lock files match the pins"
