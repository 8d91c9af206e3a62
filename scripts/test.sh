#!/usr/bin/env bash
# The whole test suite: unit tests against independent references, notebook hygiene, and the
# full notebook chain on the `smoke` profile. Extra arguments go to pytest (e.g. -k parity).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${QMTL_PYTHON:-.venv/bin/python}
exec "$PY" -m pytest -n 2 "$@"
