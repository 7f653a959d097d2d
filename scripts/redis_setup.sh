#!/usr/bin/env bash
# Make a Redis server ready for parley's cache tests, on a fresh Debian/Ubuntu machine:
#
#   1. install redis-server (with redis-cli) with apt-get when it is missing;
#   2. start `redis-server --daemonize yes` on 127.0.0.1 when nothing answers PING on the port,
#      with persistence off, and wait (bounded) until it answers;
#   3. print the server's URL on stdout, e.g. redis://127.0.0.1:6379/0. Nothing else goes to
#      stdout, so `export PARLEY_TEST_REDIS_URL="$(bash scripts/redis_setup.sh)"` works.
#
# A server that already answers is reused as it is; the tests only touch keys under a prefix of
# their own and delete them afterwards, never the whole database.
#
# Settings (environment):
#   PARLEY_REDIS_PORT   the port (default 6379)
#   PARLEY_REDIS_WAIT   seconds to wait for a started server to answer (default 20)
#
# Exit status 0 when the server answers; otherwise non-zero, with the reason on stderr.
# scripts/test.sh decides whether that fails the run (it does when CI=true).
set -euo pipefail

PORT="${PARLEY_REDIS_PORT:-6379}"
WAIT="${PARLEY_REDIS_WAIT:-20}"
LOG="${TMPDIR:-/tmp}/parley-redis-${PORT}.log"

say() { echo "[redis-setup] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "'$*' needs root, and sudo is not installed"; fi
}

# --- 1. the server and its client ------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "redis-server is missing and apt-get is not available; install Redis by hand"
  say "apt-get install redis-server"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi

# --- 2. a server that answers ----------------------------------------------------------------
answers() { [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = "PONG" ]; }

if ! answers; then
  say "starting redis-server on 127.0.0.1:$PORT (log: $LOG)"
  redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "$LOG" >&2 || die "redis-server did not start (log: $LOG)"
  waited=0
  until answers; do
    if [ "$waited" -ge "$((WAIT * 10))" ]; then
      tail -n 20 "$LOG" >&2 || true
      die "redis-server did not answer on port $PORT within ${WAIT} s (log above)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  say "redis-server answers"
fi

# --- 3. its URL --------------------------------------------------------------------------------
echo "redis://127.0.0.1:${PORT}/0"
