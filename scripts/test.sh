#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k executor).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PARLEY_EXTRAS=all bash scripts/setup.sh
.venv/bin/python -m ipykernel install --user --name python3 >/dev/null 2>&1 || true

echo "[test] ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] mypy --strict"
.venv/bin/mypy
echo "[test] pytest"
.venv/bin/pytest -p no:cacheprovider "$@"
