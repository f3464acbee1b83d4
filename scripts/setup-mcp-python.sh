#!/usr/bin/env bash
# Installs the pinned Python `mcp` package (an independent MCP client the HTTP tests drive) into
# its own venv in the user cache, keyed by mcp and Python version, and prints nothing on a re-run.
# The tests find its python through test/helpers/python-mcp.ts (same cache path). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

MCP_VERSION="${RAY_MCP_PY_MCP_VERSION:-2.3.0}"
PYTHON="${PYTHON:-python3}"
CACHE="${RAY_MCP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ray-mcp}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup-mcp-python: $PYTHON not found. Install Python 3.10-3.12, or set PYTHON=/path/to/python3." >&2
  exit 1
fi
PYV=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
VENV="$CACHE/venvs/mcp-$MCP_VERSION-py$PYV"

if [ ! -f "$VENV/.complete" ] || [ ! -x "$VENV/bin/python" ]; then
  echo "setup-mcp-python: installing mcp==$MCP_VERSION for Python $PYV into $VENV" >&2
  rm -rf "$VENV"
  mkdir -p "$CACHE/pip" "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --cache-dir "$CACHE/pip" "mcp==$MCP_VERSION"
  touch "$VENV/.complete"
fi
# Where the tests look when RAY_MCP_PY_MCP_PYTHON is not set.
printf '%s\n' "$VENV/bin/python" > "$CACHE/mcp-python-path"
