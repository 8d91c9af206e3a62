#!/usr/bin/env bash
# What the paper profile needs from a GPU, measured in one short run (at most ~8 minutes on one GPU):
# the fast simulator on CUDA (batch 256-8,192, against PennyLane on the same device), DenseNet121
# training steps at 320 px, BERT-base encoding throughput, the noisy density-matrix path, and the
# `run_all.sh --plan` calibration with the whole paper profile's plan on this device.
# Writes one JSON (default gpu_check.json; $OUT/gpu_check.json when $OUT is set, as on the device tool).
#   bash scripts/gpu_check.sh [--device cuda] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${QMTL_PYTHON:-}" ]]; then PY=$QMTL_PYTHON
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
else PY=python3; fi
exec "$PY" benchmarks/gpu_check.py --out "${OUT:-.}/gpu_check.json" "$@"
