#!/usr/bin/env bash
# Create .venv and install parley with every extra. Safe to run again: it reinstalls only when
# pyproject.toml changed. Sourced by demo.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
EXTRAS="${PARLEY_EXTRAS:-all}"
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=".venv/.parley-installed-$EXTRAS"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing parley[$EXTRAS] into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  # compat mode: a plain .pth path entry instead of an import hook that costs every Python start ~10 ms
  .venv/bin/python -m pip install --quiet -e ".[$EXTRAS]" --config-settings editable_mode=compat 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c "import parley" # fail here, loudly, if the install did not work
  echo "$want" > "$stamp"
fi
