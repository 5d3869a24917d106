#!/usr/bin/env bash
# CI with containers: a project-local engine, the base images (cached under the engine's state),
# both images built, then the test command given as arguments (.ci/run passes `make test`, the
# README's, so the container tier runs inside it against these images; default: the container
# tests alone), then a push to a local registry and a pull back. Whatever this script started (engine, registry) it stops by PID
# on exit, whatever happens; an engine or registry that was already running is left running.
# The engine state outlives the run (.ci/run keeps it under ~/.cache), so the run ends by dropping
# what only it needed (tidy, below; best-effort on failure too): its git-SHA tags, the registry's
# copies, untagged images and the stopped registry's storage. Kept: the base images (python:3.11-slim
# stand-in, local/debian-min:bookworm) and the :latest tags, the next run's build cache.
#
# Environment: DOCKER_CACHE_DIR (engine state, default .cache/docker), PYTHON (default .venv/bin/python),
# IMAGE_PREFIX (default sagemaker-steps), PYTEST_ARGS (extra pytest arguments), KEEP_IMAGES=1 (no tidy),
# CONFORMANCE=1 (make conformance after the test command).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export DOCKER_CACHE_DIR="${DOCKER_CACHE_DIR:-$REPO/.cache/docker}"
export IMAGE_PREFIX="${IMAGE_PREFIX:-sagemaker-steps}"
PYTHON="${PYTHON:-.venv/bin/python}"
ENGINE="$REPO/containers/engine.sh"
REGISTRY="127.0.0.1:5000"
MAKE=(make --no-print-directory IMAGE_PREFIX="$IMAGE_PREFIX" ENGINE_CACHE="$DOCKER_CACHE_DIR")

say() { printf '\n=== [containers] %s\n' "$*"; }
timed() {  # label command...: run, then print how long it took
    local label="$1" t0 rc=0; shift
    t0=$(date +%s)
    "$@" || rc=$?
    printf '=== [containers] %s: %d s (exit %d)\n' "$label" "$(( $(date +%s) - t0 ))" "$rc"
    return "$rc"
}

GIT_SHA="$(git rev-parse --short=12 HEAD)"
TRAIN_REPO="$IMAGE_PREFIX-train"
PROCESS_REPO="$IMAGE_PREFIX-process"

started_engine=0
started_registry=0
engine_ready=0  # DOCKER_HOST names this script's engine, which answers
tidied=0
# Each step checked explicitly: called from `timed` and `||`, where set -e does not apply.
tidy() {
    [ "${KEEP_IMAGES:-0}" = 1 ] && { echo "KEEP_IMAGES=1: images and registry storage kept"; return 0; }
    "${MAKE[@]}" clean-images GIT_SHA="$GIT_SHA" REGISTRY="$REGISTRY" || return 1
    if [ "$started_registry" = 1 ]; then
        "$ENGINE" registry-down || return 1
        started_registry=0
    fi
    case "$("$ENGINE" status)" in
        *"registry: pid"*) echo "registry left running (not started here): its storage is kept" ;;
        *) "$ENGINE" registry-clear || return 1 ;;
    esac
    docker system df || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$tidied" = 0 ] && [ "$engine_ready" = 1 ]; then
        say "tidy (best-effort)"
        tidy || echo "tidy failed (ignored)" >&2
    fi
    [ "$started_registry" = 1 ] && { "$ENGINE" registry-down || true; }
    [ "$started_engine" = 1 ] && { "$ENGINE" down || true; }
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "engine"
"$ENGINE" deps
eval "$("$ENGINE" env)"
case "$("$ENGINE" status)" in *"dockerd: pid"*) ;; *) started_engine=1 ;; esac
timed "engine up" "$ENGINE" up
engine_ready=1
timed "base images (debootstrap bookworm + python:3.11-slim stand-in; cached)" "$ENGINE" base

[ -x "$PYTHON" ] || timed "make setup" make --no-print-directory setup

say "build $TRAIN_REPO:$GIT_SHA and $PROCESS_REPO:$GIT_SHA"
"${MAKE[@]}" lock-check
timed "make build" "${MAKE[@]}" build GIT_SHA="$GIT_SHA"
docker image ls --filter "reference=$IMAGE_PREFIX-*"

say "tests: ${*:-pytest tests/containers}"
export TRAIN_IMAGE="$TRAIN_REPO:$GIT_SHA" PROCESS_IMAGE="$PROCESS_REPO:$GIT_SHA"
# CI=true (set by CI) turns a missing engine or image into a failure instead of a skip.
if [ "$#" -gt 0 ]; then
    timed "$*" "$@"
else
    # shellcheck disable=SC2086
    timed "pytest tests/containers" "$PYTHON" -m pytest tests/containers -m container -p no:cacheprovider ${PYTEST_ARGS:-}
fi
# CONFORMANCE=1 (.ci/run): then the conformance tier, AWS's SageMaker SDK in local mode running
# these images and the generated pipeline (make conformance), while the engine is still up.
if [ "${CONFORMANCE:-0}" = 1 ]; then
    say "conformance: the SageMaker SDK's local mode"
    timed "make conformance" make --no-print-directory conformance
fi

say "push to a local registry and pull back"
case "$("$ENGINE" status)" in *"registry: pid"*) ;; *) started_registry=1 ;; esac
"$ENGINE" registry-up
timed "make push" "${MAKE[@]}" push REGISTRY="$REGISTRY" GIT_SHA="$GIT_SHA" PUSH_LATEST=1

ids=()
for repo in "$TRAIN_REPO" "$PROCESS_REPO"; do
    ids+=("$(docker image inspect --format '{{.Id}}' "$repo:$GIT_SHA")")
done
# Drop every tag of both images so the pull has to fetch their own layers from the registry.
for repo in "$TRAIN_REPO" "$PROCESS_REPO"; do
    docker image rm "$repo:$GIT_SHA" "$repo:latest" "$REGISTRY/$repo:$GIT_SHA" "$REGISTRY/$repo:latest" >/dev/null
done
for id in "${ids[@]}"; do
    if docker image inspect "$id" >/dev/null 2>&1; then echo "image $id still present after removing its tags" >&2; exit 1; fi
done
pull_back() {
    local repo
    for repo in "$TRAIN_REPO" "$PROCESS_REPO"; do
        docker pull -q "$REGISTRY/$repo:$GIT_SHA"
        docker pull -q "$REGISTRY/$repo:latest"
    done
}
timed "pull back" pull_back
i=0
for repo in "$TRAIN_REPO" "$PROCESS_REPO"; do
    got="$(docker image inspect --format '{{.Id}}' "$REGISTRY/$repo:$GIT_SHA")"
    [ "$got" = "${ids[$i]}" ] || { echo "$repo: pulled $got, pushed ${ids[$i]}" >&2; exit 1; }
    [ "$(docker image inspect --format '{{.Id}}' "$REGISTRY/$repo:latest")" = "$got" ] \
        || { echo "$repo: latest differs from $GIT_SHA in the registry" >&2; exit 1; }
    # Restore the local names (make build's tags).
    docker tag "$got" "$repo:$GIT_SHA"
    docker tag "$got" "$repo:latest"
    i=$((i + 1))
done
echo "pulled images match the pushed ones: ${ids[*]}"

say "tidy: this run's tags, the registry's copies and storage, untagged images"
timed "tidy" tidy
tidied=1
say "container tier passed"
