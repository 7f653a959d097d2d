#!/usr/bin/env bash
# Create .venv and install pyparley (imported as parley) with the extras in PARLEY_EXTRAS: "all"
# (the default, what the tests need), "core" (no extra: what the demo needs), or a comma list such
# as "docker,jupyter". Safe to run again: it reinstalls only when pyproject.toml changed.
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
  target="."
  if [ "$EXTRAS" != "core" ]; then target=".[$EXTRAS]"; fi
  echo "[setup] installing pyparley ($EXTRAS) into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  # a plain .pth path entry, no import hook (see package-dir in pyproject.toml)
  .venv/bin/python -m pip install --quiet -e "$target" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c "import parley" # fail here, loudly, if the install did not work
  echo "$want" > "$stamp"
fi
