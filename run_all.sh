#!/usr/bin/env bash
# Execute the companion notebooks in order (see `bash run_all.sh --help`).
# Interpreter: $QMTL_PYTHON if set, else .venv/bin/python if present, else python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ -n "${QMTL_PYTHON:-}" ]]; then
    PY="$QMTL_PYTHON"
elif [[ -x .venv/bin/python ]]; then
    PY=.venv/bin/python
else
    PY=python3
fi

if ! "$PY" -c "import importlib.util as u; raise SystemExit(u.find_spec('papermill') is None)" >/dev/null 2>&1; then
    echo "run_all.sh: papermill is not installed for $PY; run \`bash scripts/setup.sh\` first (or activate the conda env from environment.yml)" >&2
    exit 2
fi

exec "$PY" -m qmtl_utils.runtime.pipeline "$@"
