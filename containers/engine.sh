#!/usr/bin/env bash
# Project-local container engine: a dockerd with its state under a cache directory, a Debian base
# image bootstrapped without any registry, a python:3.11-slim stand-in built FROM it, and a local
# image registry on 127.0.0.1:5000. Everything is started and stopped by PID (pidfiles), never by name.
#
# Usage: containers/engine.sh COMMAND
#   deps           apt-get install docker.io debootstrap docker-registry docker-compose (only those missing)
#   up             start dockerd (no-op if it already answers)
#   down           stop dockerd by its pidfile
#   base           build local/debian-min:bookworm and the python:3.11-slim stand-in (skipped if present)
#   registry-up    start the local registry on 127.0.0.1:5000 (no-op if running)
#   registry-down  stop the local registry by its pidfile
#   registry-clear delete the stopped registry's stored images (refused while it runs)
#   status         show what runs
#   env            print `export DOCKER_HOST=...` (use: eval "$(containers/engine.sh env)")
#   all-down       registry-down + down
#
# Environment:
#   DOCKER_CACHE_DIR  state directory (default: <repo>/.cache/docker; .cache/ is gitignored)
#   REGISTRY_ADDR     registry listen address (default: 127.0.0.1:5000)
#   BASE_PYTHON_TAG   tag given to the stand-in (default: python:3.11-slim)
#   RETRIES           attempts of each network step: apt-get, debootstrap, the stand-in's build (default: 3)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DOCKER_CACHE_DIR:-$REPO/.cache/docker}"
REGISTRY_ADDR="${REGISTRY_ADDR:-127.0.0.1:5000}"
BASE_DEBIAN_TAG="local/debian-min:bookworm"
BASE_PYTHON_TAG="${BASE_PYTHON_TAG:-python:3.11-slim}"

SOCK="$CACHE/docker.sock"
PIDFILE="$CACHE/dockerd.pid"
REG_PIDFILE="$CACHE/registry.pid"
export DOCKER_HOST="unix://$SOCK"

log() { printf '[engine] %s\n' "$*" >&2; }
die() { printf '[engine] error: %s\n' "$*" >&2; exit 1; }

retry() {  # command...: run it up to RETRIES times, 10 s, 20 s, ... apart (mirrors and proxies have bad minutes)
    local attempt=1 max="${RETRIES:-3}"
    until "$@"; do
        if [ "$attempt" -ge "$max" ]; then
            log "failed $attempt time(s): $*"
            return 1
        fi
        log "attempt $attempt of $max failed: $*; retrying in $((attempt * 10)) s"
        sleep $((attempt * 10))
        attempt=$((attempt + 1))
    done
}

# dockerd's exec-root holds unix sockets (containerd's among them), whose paths are limited to
# about 100 bytes: use a short directory under /run when the cache path is long.
exec_root() {
    local d="$CACHE/exec"
    if [ "${#d}" -gt 60 ]; then
        d="/run/dockerd-$(printf '%s' "$CACHE" | sha1sum | cut -c1-10)"
    fi
    printf '%s' "$d"
}

pid_alive() {  # pidfile -> 0 if the PID in it runs
    local f="$1" pid
    [ -s "$f" ] || return 1
    pid="$(cat "$f")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

cmd_deps() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
    # the SageMaker SDK's local mode (make conformance) runs its jobs through docker-compose
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    if [ "${#missing[@]}" -eq 0 ]; then
        log "deps present (dockerd, debootstrap, docker-registry, docker-compose)"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    retry apt-get update -qq
    retry apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

cmd_up() {
    mkdir -p "$CACHE"
    if pid_alive "$PIDFILE" && engine_answers; then
        log "dockerd already running (pid $(cat "$PIDFILE")), DOCKER_HOST=$DOCKER_HOST"
        return 0
    fi
    command -v dockerd >/dev/null 2>&1 || cmd_deps
    if pid_alive "$PIDFILE"; then
        # Running but not (yet) answering: give it time below instead of starting a second one.
        log "dockerd pid $(cat "$PIDFILE") exists but does not answer yet; waiting"
    else
        rm -f "$PIDFILE" "$SOCK"
        local er; er="$(exec_root)"
        mkdir -p "$CACHE/data" "$er"
        log "starting dockerd (data $CACHE/data, exec-root $er, log $CACHE/dockerd.log)"
        # setsid: the engine outlives this shell; it is stopped by `down` through its pidfile.
        setsid dockerd \
            --data-root "$CACHE/data" \
            --exec-root "$er" \
            --pidfile "$PIDFILE" \
            -H "unix://$SOCK" \
            --bridge=none --iptables=false --ip-masq=false \
            --insecure-registry "$REGISTRY_ADDR" \
            >"$CACHE/dockerd.log" 2>&1 </dev/null &
    fi
    local i
    for i in $(seq 1 120); do
        if engine_answers; then
            log "dockerd up (pid $(cat "$PIDFILE")), DOCKER_HOST=$DOCKER_HOST"
            return 0
        fi
        sleep 0.5
    done
    tail -n 30 "$CACHE/dockerd.log" >&2 || true
    die "dockerd did not answer within 60 s"
}

stop_pidfile() {  # pidfile name
    local f="$1" name="$2" pid i
    if ! pid_alive "$f"; then
        log "$name not running"
        rm -f "$f"
        return 0
    fi
    pid="$(cat "$f")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$f"; log "$name stopped"; return 0; }
        sleep 0.5
    done
    log "$name did not stop in 30 s; sending SIGKILL to pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
}

# dockerd leaves its default network namespace bind-mounted under the exec-root (and, after a crash,
# overlay mounts under the data root): unmount what is left under our own directories only.
unmount_leftovers() {
    local er m; er="$(exec_root)"
    command -v findmnt >/dev/null 2>&1 || return 0
    findmnt -rn -o TARGET | { grep -F -e "$er/" -e "$CACHE/data/" || true; } | sort -r \
        | while IFS= read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}

cmd_down() {
    stop_pidfile "$PIDFILE" dockerd
    pid_alive "$PIDFILE" || unmount_leftovers
}

# The Debian mirror this machine's apt uses (first non-security URI in /etc/apt/sources*).
debian_mirror() {
    local m
    m="$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } \
        | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' \
        | grep -v -e security -e '^#' | head -n 1)"
    if [ -z "$m" ]; then
        m="$( { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
            | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
            | grep -v security | grep -i debian | head -n 1)"
    fi
    [ -n "$m" ] || die "no Debian mirror found in /etc/apt/sources*"
    printf '%s' "$m"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

bootstrap_rootfs() {  # rootfs mirror: a fresh minbase bookworm (each attempt starts from nothing)
    rm -rf "$1" && debootstrap --variant=minbase bookworm "$1" "$2" >"$CACHE/debootstrap.log" 2>&1
}

cmd_base() {
    engine_answers || die "engine not running (run: $0 up)"
    if image_exists "$BASE_DEBIAN_TAG"; then
        log "$BASE_DEBIAN_TAG present"
    else
        command -v debootstrap >/dev/null 2>&1 || cmd_deps
        local mirror rootfs t0
        mirror="$(debian_mirror)"
        rootfs="$CACHE/rootfs-bookworm"
        t0=$(date +%s)
        log "debootstrap bookworm (minbase) into $rootfs"
        retry bootstrap_rootfs "$rootfs" "$mirror" \
            || { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE_DEBIAN_TAG" >/dev/null
        rm -rf "$rootfs"
        log "$BASE_DEBIAN_TAG built in $(( $(date +%s) - t0 )) s"
    fi
    if image_exists "$BASE_PYTHON_TAG"; then
        log "$BASE_PYTHON_TAG present"
    else
        local ctx t0
        ctx="$CACHE/base-python-ctx"
        t0=$(date +%s)
        rm -rf "$ctx"; mkdir -p "$ctx/certs"
        # The machine's extra CA certificates (a TLS-intercepting proxy sits between builds and the
        # package index); none is fine too.
        cp /usr/local/share/ca-certificates/*.crt "$ctx/certs/" 2>/dev/null || true
        cp "$REPO/containers/python-slim-standin.Dockerfile" "$ctx/Dockerfile"
        log "building $BASE_PYTHON_TAG stand-in FROM $BASE_DEBIAN_TAG"
        # its RUN step apt-gets from the network
        retry docker build --network host -q -t "$BASE_PYTHON_TAG" \
            --build-arg "DEBIAN_IMAGE=$BASE_DEBIAN_TAG" "$ctx" >/dev/null
        rm -rf "$ctx"
        log "$BASE_PYTHON_TAG built in $(( $(date +%s) - t0 )) s"
    fi
}

cmd_registry_up() {
    mkdir -p "$CACHE/registry"
    if pid_alive "$REG_PIDFILE"; then
        log "registry already running (pid $(cat "$REG_PIDFILE")) on $REGISTRY_ADDR"
        return 0
    fi
    command -v docker-registry >/dev/null 2>&1 || cmd_deps
    cat >"$CACHE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $CACHE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
    setsid docker-registry serve "$CACHE/registry.yml" >"$CACHE/registry.log" 2>&1 </dev/null &
    echo $! >"$REG_PIDFILE"
    local i
    for i in $(seq 1 40); do
        if python3 - "$REGISTRY_ADDR" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen("http://%s/v2/" % sys.argv[1], timeout=1).read()
PY
        then
            log "registry up (pid $(cat "$REG_PIDFILE")) on $REGISTRY_ADDR"
            return 0
        fi
        pid_alive "$REG_PIDFILE" || break
        sleep 0.25
    done
    tail -n 20 "$CACHE/registry.log" >&2 || true
    stop_pidfile "$REG_PIDFILE" registry
    die "registry did not come up on $REGISTRY_ADDR"
}

cmd_registry_down() { stop_pidfile "$REG_PIDFILE" registry; }

cmd_registry_clear() {
    pid_alive "$REG_PIDFILE" && die "registry running (pid $(cat "$REG_PIDFILE")); stop it first: $0 registry-down"
    if [ -d "$CACHE/registry" ]; then
        log "clearing the registry's storage $CACHE/registry ($(du -sh "$CACHE/registry" 2>/dev/null | cut -f1))"
        rm -rf "$CACHE/registry"
    fi
}

cmd_status() {
    if pid_alive "$PIDFILE"; then echo "dockerd: pid $(cat "$PIDFILE") ($DOCKER_HOST)"; else echo "dockerd: stopped"; fi
    if pid_alive "$REG_PIDFILE"; then echo "registry: pid $(cat "$REG_PIDFILE") ($REGISTRY_ADDR)"; else echo "registry: stopped"; fi
}

case "${1:-}" in
    deps) cmd_deps ;;
    up) cmd_up ;;
    down) cmd_down ;;
    base) cmd_base ;;
    registry-up) cmd_registry_up ;;
    registry-down) cmd_registry_down ;;
    registry-clear) cmd_registry_clear ;;
    all-down) cmd_registry_down; cmd_down ;;
    status) cmd_status ;;
    env) printf 'export DOCKER_HOST=%q\n' "$DOCKER_HOST" ;;
    *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
