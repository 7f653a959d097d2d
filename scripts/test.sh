#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k executor).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PARLEY_EXTRAS=all bash scripts/setup.sh
.venv/bin/python -m ipykernel install --user --name python3 >/dev/null 2>&1 || true
# Docker, its daemon and the test image parley-sandbox:test. On CI a failure here fails the run;
# elsewhere the Docker tests then skip, each saying why.
CI="${CI:-}"
if ! bash scripts/docker_setup.sh; then
  if [[ "${CI,,}" =~ ^(1|true|yes)$ ]]; then echo "[test] Docker setup failed (required on CI)" >&2; exit 1; fi
  echo "[test] Docker setup failed; the Docker tests will be skipped" >&2
fi
# A second dockerd on a loopback TCP port, with its own data root: the "remote" Docker host.
if PARLEY_TEST_DOCKER_HOST="$(bash scripts/docker_remote_setup.sh)"; then
  export PARLEY_TEST_DOCKER_HOST
else
  if [[ "${CI,,}" =~ ^(1|true|yes)$ ]]; then echo "[test] remote Docker setup failed (required on CI)" >&2; exit 1; fi
  echo "[test] remote Docker setup failed; the remote Docker tests will be skipped" >&2
fi
# Jupyter Enterprise Gateway in a venv of its own (it pins jupyter-client<7), for the gateway tests.
if PARLEY_ENTERPRISE_GATEWAY_PYTHON="$(PYTHON="$(.venv/bin/python -c 'import sys; print(sys._base_executable)')" \
    bash scripts/enterprise_gateway_setup.sh)"; then
  export PARLEY_ENTERPRISE_GATEWAY_PYTHON
else
  if [[ "${CI,,}" =~ ^(1|true|yes)$ ]]; then echo "[test] Enterprise Gateway setup failed (required on CI)" >&2; exit 1; fi
  echo "[test] Enterprise Gateway setup failed; its tests will be skipped" >&2
fi
# A Redis server for the cache tests; its URL reaches them as PARLEY_TEST_REDIS_URL.
if PARLEY_TEST_REDIS_URL="$(bash scripts/redis_setup.sh)"; then
  export PARLEY_TEST_REDIS_URL
else
  if [[ "${CI,,}" =~ ^(1|true|yes)$ ]]; then echo "[test] Redis setup failed (required on CI)" >&2; exit 1; fi
  echo "[test] Redis setup failed; the Redis cache tests will be skipped" >&2
fi

echo "[test] ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] mypy --strict"
.venv/bin/mypy
echo "[test] pytest"
.venv/bin/pytest -p no:cacheprovider "$@"
