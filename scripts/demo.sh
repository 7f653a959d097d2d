#!/usr/bin/env bash
# The main job: a demo conversation in which an assistant writes Python and a user proxy runs it.
# Uses OPENAI_API_KEY (and OPENAI_BASE_URL) when set, otherwise a scripted model. Extra arguments
# go to `parley demo` (see `parley demo --help`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The core install only: the demo needs no Docker, Jupyter, Redis or test tools.
PARLEY_EXTRAS=core bash scripts/setup.sh
if [ "$#" -eq 0 ]; then set -- README.md; fi
exec .venv/bin/parley demo "$@"
