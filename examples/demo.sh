#!/usr/bin/env bash
# `make demo`: the seed-001 experiment end to end on the BirdCLEF-like audio pipeline — baseline
# training, CodeDAG's closed loop (trace one batch, optimize placement and worker count, verify
# outputs, measure in interleaved rounds: it prints the speedup's interval and the workers chosen),
# the same training with the plan applied, the result JSON and the comparison report — then the
# engine's view of a bundled pipeline DAG on a machine without and with a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
CODEDAG="${CODEDAG:-.venv/bin/codedag}"
OUT="${OUT:-results/demo}"

echo "== 1. seed-001 experiment: baseline vs CodeDAG-optimised training (a few minutes on 2 cores) =="
"$PY" examples/audio/optimization.py --out "$OUT"

echo
echo "== 2. the optimizer on a bundled pipeline DAG (batch 32, 4 workers): no GPU, then one GPU =="
DAG=examples/dags/audio_pipeline.json
"$CODEDAG" optimize "$DAG" --workers 4 --export-dir "$OUT/dag-plan-cpu"
echo
"$CODEDAG" optimize "$DAG" --workers 4 --gpus 1 --export-dir "$OUT/dag-plan-gpu"
echo
echo "== 3. the same DAG with the worker count decided too, on this machine's cores =="
"$CODEDAG" optimize "$DAG" --workers auto --export-dir "$OUT/dag-plan-workers"
echo
echo "✓ demo finished: results, report and plans in $OUT/ (open the .html report in a browser)"
