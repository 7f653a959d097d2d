#!/usr/bin/env bash
# A second Docker daemon for the remote-host tests: it listens on a loopback TCP port only, with
# a data root of its own, so it shares nothing with the main daemon but the kernel. parley's
# Docker executor talks to it as it would to a daemon on another machine (docker_host="tcp://..."):
# no bind mount, files through the archive API. Needs the main daemon and its test image
# (scripts/docker_setup.sh), which is copied in with `docker save | docker load` once.
#
# Settings (environment):
#   PARLEY_REMOTE_DOCKER_PORT   the TCP port on 127.0.0.1 (default 23751)
#   PARLEY_REMOTE_DOCKER_ROOT   its data root (default /var/lib/parley-docker-remote)
#   PARLEY_SANDBOX_IMAGE        the image to copy in (default parley-sandbox:test)
#   PARLEY_DOCKERD_WAIT         seconds to wait for it to answer (default 60)
#
# Prints the daemon's address (tcp://127.0.0.1:<port>) on stdout; progress goes to stderr.
set -euo pipefail
PORT="${PARLEY_REMOTE_DOCKER_PORT:-23751}"
ROOT_DIR="${PARLEY_REMOTE_DOCKER_ROOT:-/var/lib/parley-docker-remote}"
IMAGE="${PARLEY_SANDBOX_IMAGE:-parley-sandbox:test}"
WAIT="${PARLEY_DOCKERD_WAIT:-60}"
HOST="tcp://127.0.0.1:$PORT"
EXEC_ROOT="/run/parley-docker-remote"
LOG="${TMPDIR:-/tmp}/parley-dockerd-remote.log"
say() { echo "[docker-remote-setup] $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
answers() { DOCKER_HOST="$HOST" docker info >/dev/null 2>&1; }

if ! answers; then
  say "starting a second dockerd on $HOST (data root $ROOT_DIR, log $LOG)"
  # No bridge and no iptables: the sandbox runs with network_mode="none", and this daemon must
  # not touch the main daemon's network setup.
  pid="$(as_root env TMPDIR=/tmp sh -c "nohup dockerd -H '$HOST' --data-root '$ROOT_DIR' --exec-root '$EXEC_ROOT' \
    --pidfile '$EXEC_ROOT.pid' --bridge=none --iptables=false --ip6tables=false >'$LOG' 2>&1 & echo \$!")"
  waited=0
  until answers; do
    if [ "$waited" -ge "$WAIT" ] || [ ! -d "/proc/$pid" ]; then
      tail -n 20 "$LOG" >&2 || true
      say "ERROR: the second dockerd did not answer within ${WAIT} s"
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "it answers after ${waited} s"
fi
label() { docker "$@" image inspect --format '{{ index .Config.Labels "parley.sandbox.version" }}' "$IMAGE" 2>/dev/null || true; }
if [ "$(DOCKER_HOST="$HOST" label)" != "$(label)" ] || [ -z "$(label)" ]; then
  say "copying $IMAGE into it"
  docker save "$IMAGE" | DOCKER_HOST="$HOST" docker load >/dev/null
fi
say "ready: $HOST with $IMAGE"
echo "$HOST"
