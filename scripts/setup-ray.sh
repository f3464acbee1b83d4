#!/usr/bin/env bash
# Makes .venv hold the pinned ray[default,serve]. The venv itself lives in the
# user cache, keyed by Ray and Python version, and .venv links to it: a fresh
# clone (or CI) re-uses it in well under a second, and a first install re-uses
# pip's cached wheels. The extras it holds are recorded in .extras: a venv built
# with fewer (an older ray-mcp's ray[default]) gains the missing ones in place,
# so every clone linked to it keeps working. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

RAY_VERSION="${RAY_MCP_RAY_VERSION:-2.60.0}"
PYTHON="${PYTHON:-python3}"
CACHE="${RAY_MCP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ray-mcp}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup-ray: $PYTHON not found. Install Python 3.10-3.12, or set PYTHON=/path/to/python3." >&2
  exit 1
fi
PYV=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
VENV="$CACHE/venvs/ray-$RAY_VERSION-py$PYV"

EXTRAS="default,serve"

if [ ! -f "$VENV/.complete" ] || [ ! -x "$VENV/bin/ray" ]; then
  echo "setup-ray: installing ray[$EXTRAS]==$RAY_VERSION for Python $PYV into $VENV" >&2
  rm -rf "$VENV"
  mkdir -p "$CACHE/pip" "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --cache-dir "$CACHE/pip" "ray[$EXTRAS]==$RAY_VERSION"
  echo "$EXTRAS" > "$VENV/.extras"
  touch "$VENV/.complete"
elif [ "$(cat "$VENV/.extras" 2>/dev/null || echo default)" != "$EXTRAS" ]; then
  echo "setup-ray: adding ray[$EXTRAS]==$RAY_VERSION to $VENV" >&2
  mkdir -p "$CACHE/pip"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --cache-dir "$CACHE/pip" "ray[$EXTRAS]==$RAY_VERSION"
  echo "$EXTRAS" > "$VENV/.extras"
fi

# `ray-mcp setup` (an installed package) sets RAY_MCP_VENV_LINK=0: the server finds the venv in the cache.
if [ "${RAY_MCP_VENV_LINK:-1}" = "0" ]; then
  exit 0
fi

if [ "$(readlink .venv 2>/dev/null)" != "$VENV" ]; then
  if [ -e .venv ] && [ ! -L .venv ]; then
    echo "setup-ray: .venv exists and is not ours (not a link); leaving it. Pass --ray-bin to use $VENV/bin/ray." >&2
    exit 0
  fi
  ln -sfn "$VENV" .venv
fi
