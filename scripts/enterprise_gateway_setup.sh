#!/usr/bin/env bash
# Install Jupyter Enterprise Gateway into a virtual environment of its own, for the tests and
# benchmarks that run JupyterCodeExecutor against it (parley.testing.LocalEnterpriseGateway).
#
# Its releases pin jupyter-client<7 and jupyter-server<2, so it cannot share parley's .venv. The
# venv is made from the same base Python as .venv and cached outside the checkout; a finished
# install is marked, so running this again costs nothing. A cold install takes about 40 s.
#
# Settings (environment):
#   PARLEY_ENTERPRISE_GATEWAY_VENV   where the venv lives (default ~/.cache/parley/enterprise-gateway)
#   PARLEY_ENTERPRISE_GATEWAY_SPEC   what pip installs (default jupyter_enterprise_gateway==3.3.0)
#   PYTHON                           the base interpreter (default python3)
#
# Prints the venv's python on stdout; progress and errors go to stderr.
set -euo pipefail
VENV="${PARLEY_ENTERPRISE_GATEWAY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/parley/enterprise-gateway}"
SPEC="${PARLEY_ENTERPRISE_GATEWAY_SPEC:-jupyter_enterprise_gateway==3.3.0}"
PY="${PYTHON:-python3}"
marker="$VENV/.parley-ready"
want="$SPEC ipykernel matplotlib"  # matplotlib: the kernel suite checks figures come back as images
say() { echo "[enterprise-gateway-setup] $*" >&2; }

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  say "ready: $VENV"
else
  say "installing $want into $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $want 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$VENV/bin/python" -c "import enterprise_gateway, ipykernel" || { say "the install failed"; exit 1; }
  # Its own python3 kernel spec, which LocalEnterpriseGateway's kernels run.
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
  echo "$want" > "$marker"
  say "installed in $VENV"
fi
echo "$VENV/bin/python"
