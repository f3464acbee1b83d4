#!/usr/bin/env bash
# Installs the pinned moto[server] (the AWS emulator the EKS tests run against) into its own
# venv in the user cache, keyed by moto and Python version, and prints nothing on a re-run.
# The tests find moto_server through test/helpers/moto.ts (same cache path). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="${RAY_MCP_MOTO_VERSION:-5.2.5}"
PYTHON="${PYTHON:-python3}"
CACHE="${RAY_MCP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ray-mcp}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup-moto: $PYTHON not found. Install Python 3.10-3.12, or set PYTHON=/path/to/python3." >&2
  exit 1
fi
PYV=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
VENV="$CACHE/venvs/moto-$MOTO_VERSION-py$PYV"

if [ ! -f "$VENV/.complete" ] || [ ! -x "$VENV/bin/moto_server" ]; then
  echo "setup-moto: installing moto[server]==$MOTO_VERSION for Python $PYV into $VENV" >&2
  rm -rf "$VENV"
  mkdir -p "$CACHE/pip" "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --cache-dir "$CACHE/pip" "moto[server]==$MOTO_VERSION"
  touch "$VENV/.complete"
fi
# Where the tests look when RAY_MCP_MOTO_SERVER is not set.
printf '%s\n' "$VENV/bin/moto_server" > "$CACHE/moto-server-path"
