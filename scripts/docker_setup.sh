#!/usr/bin/env bash
# Make Docker ready for parley's Docker tests and benchmarks, on a fresh Debian/Ubuntu machine:
#
#   1. install docker.io (and debootstrap) with apt-get when they are missing;
#   2. start dockerd in the background when no daemon answers, and wait until it does;
#   3. build the test image parley-sandbox:test locally (no image registry is reachable here):
#      `debootstrap --variant=minbase --include=python3 bookworm`, then `docker import`.
#
# Every step is skipped when its result is already there. The root filesystem is cached as
# ~/.cache/parley/sandbox-<version>.tar.gz, so rebuilding the image on the same machine (after
# `docker rmi`, or a fresh daemon) takes seconds, not minutes. A cold build downloads about
# 40 MB of packages from the Debian mirror that apt uses.
#
# Settings (environment):
#   PARLEY_SANDBOX_IMAGE   image to build (default parley-sandbox:test)
#   PARLEY_DEBIAN_MIRROR   Debian mirror for debootstrap (default: apt's configured Debian mirror)
#   PARLEY_CACHE_DIR       where the rootfs tarball is cached (default ~/.cache/parley)
#   PARLEY_DOCKERD_WAIT    seconds to wait for a started dockerd to answer (default 60)
#   PARLEY_DOCKERD_FLAGS   extra flags for a dockerd started here (e.g. --storage-driver=vfs)
#
# Exit status 0 when `docker info` answers and the image exists; otherwise non-zero, with the
# reason on stderr. scripts/test.sh decides whether that fails the run (it does when CI=true).
set -euo pipefail

IMAGE="${PARLEY_SANDBOX_IMAGE:-parley-sandbox:test}"
SUITE="bookworm"
# Bump when the image's contents change: the cached tarball and the image are keyed by it.
VERSION="1-${SUITE}-minbase-python3"
CACHE_DIR="${PARLEY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}"
DOCKERD_WAIT="${PARLEY_DOCKERD_WAIT:-60}"
DOCKERD_FLAGS="${PARLEY_DOCKERD_FLAGS:-}"
DOCKERD_LOG="${TMPDIR:-/tmp}/parley-dockerd.log"

say() { echo "[docker-setup] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "'$*' needs root, and sudo is not installed"; fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$* missing and apt-get is not available; install $* by hand"
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- 1. the docker client and daemon --------------------------------------------------------
if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
fi

# --- 2. a daemon that answers ----------------------------------------------------------------
daemon_answers() { docker info >/dev/null 2>&1; }

dockerd_running() {  # without relying on procps (pgrep), which minimal machines may lack
  local comm
  for comm in /proc/[0-9]*/comm; do
    [ "$(cat "$comm" 2>/dev/null)" = dockerd ] && return 0
  done
  return 1
}

start_dockerd() {  # $@: extra dockerd flags
  say "starting dockerd $* in the background (log: $DOCKERD_LOG)"
  local pid waited=0
  pid="$(as_root sh -c "nohup dockerd $DOCKERD_FLAGS $* >'$DOCKERD_LOG' 2>&1 & echo \$!")"
  while ! daemon_answers; do
    if [ "$waited" -ge "$DOCKERD_WAIT" ]; then as_root kill "$pid" 2>/dev/null || true; return 1; fi
    if [ ! -d "/proc/$pid" ]; then say "dockerd exited:"; tail -n 5 "$DOCKERD_LOG" >&2 || true; return 1; fi
    sleep 1
    waited=$((waited + 1))
  done
  say "dockerd (pid $pid) answers after ${waited} s"
}

if ! daemon_answers && dockerd_running; then
  # A daemon is starting (or hung): give it the same bounded wait before starting another.
  say "a dockerd is running but does not answer yet; waiting up to ${DOCKERD_WAIT} s"
  for _ in $(seq "$DOCKERD_WAIT"); do daemon_answers && break; sleep 1; done
fi
if ! daemon_answers; then
  # Where iptables or a bridge cannot be set up (some nested sandboxes), run without them: the
  # tests use network_mode="none" and need neither.
  start_dockerd || start_dockerd --iptables=false --ip6tables=false --bridge=none || {
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer within ${DOCKERD_WAIT} s (log above and in $DOCKERD_LOG)"
  }
fi

# --- 3. the test image ----------------------------------------------------------------------
label_of() { docker image inspect --format '{{ index .Config.Labels "parley.sandbox.version" }}' "$1" 2>/dev/null; }

if [ "$(label_of "$IMAGE" || true)" = "$VERSION" ]; then
  say "image $IMAGE is ready (version $VERSION)"
  exit 0
fi

debian_mirror() {
  if [ -n "${PARLEY_DEBIAN_MIRROR:-}" ]; then echo "$PARLEY_DEBIAN_MIRROR"; return; fi
  # The first Debian archive (not the security one) that apt is configured with, in either the
  # one-line (sources.list) or deb822 (*.sources) format.
  local found
  found="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -v '^[[:space:]]*#' | grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' | tr -d '[:space:]' \
    | grep -v -- '-security' | head -n 1 || true)"
  echo "${found:-http://deb.debian.org/debian}"
}

apt_proxy() { apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -n 1; }

tarball="$CACHE_DIR/sandbox-$VERSION-$(uname -m).tar.gz"
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  mirror="$(debian_mirror)"
  proxy="$(apt_proxy || true)"
  rootfs="$(as_root mktemp -d /var/tmp/parley-rootfs.XXXXXX)"
  trap 'as_root rm -rf "$rootfs"' EXIT
  say "debootstrap $SUITE (minbase + python3) from $mirror${proxy:+ via proxy $proxy}; a few minutes, once"
  start=$(date +%s)
  as_root env ${proxy:+http_proxy="$proxy"} debootstrap --variant=minbase --include=python3 \
    "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    die "debootstrap from $mirror failed (set PARLEY_DEBIAN_MIRROR to a reachable Debian mirror)"
  }
  rm -f "$rootfs.log"
  as_root rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  mkdir -p "$CACHE_DIR"
  as_root tar -C "$rootfs" -c . | gzip -1 >"$tarball.partial"
  mv "$tarball.partial" "$tarball"
  say "rootfs built in $(($(date +%s) - start)) s and cached as $tarball"
fi

say "docker import $tarball as $IMAGE"
docker import \
  --change "LABEL parley.sandbox.version=$VERSION" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["sleep", "infinity"]' \
  "$tarball" "$IMAGE" >/dev/null
say "image $IMAGE is ready (version $VERSION)"
