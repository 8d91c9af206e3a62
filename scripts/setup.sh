#!/usr/bin/env bash
# Create .venv with the pinned environment (requirements.txt) and install qmtl_utils in editable
# mode. Idempotent: with requirements.txt and pyproject.toml unchanged it returns in a second.
# Set PYTHON to choose the interpreter (3.10-3.12; default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_BIN=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.qmtl-setup-stamp
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  echo "setup: environment in $VENV is up to date"
  exit 0
fi

if ! "$PYTHON_BIN" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))'; then
  echo "setup: $PYTHON_BIN is $("$PYTHON_BIN" --version 2>&1); the companion needs Python 3.10-3.12 (set PYTHON=...)" >&2
  exit 2
fi

[ -x "$VENV/bin/python" ] || "$PYTHON_BIN" -m venv "$VENV"
echo "setup: installing the pinned environment into $VENV (first time: a few minutes, ~4 GB with torch)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "$want" > "$STAMP"
echo "setup: done ($("$VENV/bin/python" -c 'import torch, pennylane; print(f"torch {torch.__version__}, pennylane {pennylane.__version__}")'))"
