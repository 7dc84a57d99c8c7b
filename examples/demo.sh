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
"$CODEDAG" dag svg "$DAG" --plan "$OUT/dag-plan-gpu/plan.json" -o "$OUT/dag-plan-gpu/dag.svg"
echo
echo "== 3. the same DAG with the worker count decided too, on this machine's cores =="
"$CODEDAG" optimize "$DAG" --workers auto --export-dir "$OUT/dag-plan-workers"
echo
# The closing lines: step 1's outcome (rounded, written by optimization.py) and where everything is.
echo "✓ demo finished"
sed 's/^/  /' "$OUT/closing.txt"
echo "  pipeline picture with the one-GPU plan: $OUT/dag-plan-gpu/dag.svg"
echo "  plans and summaries: $OUT/dag-plan-cpu/, $OUT/dag-plan-gpu/, $OUT/dag-plan-workers/"
