#!/usr/bin/env bash
# The demo of the graph engine: optimise a bundled BirdCLEF-style audio pipeline DAG for a machine
# without a GPU (the main process takes the batched tail) and for one GPU, and print both plans.
set -euo pipefail
cd "$(dirname "$0")/.."
CODEDAG="${CODEDAG:-.venv/bin/codedag}"
DAG=examples/dags/audio_pipeline.json

"$CODEDAG" dag show "$DAG" --top 8
echo
"$CODEDAG" optimize "$DAG" --workers 4 --export-dir results/demo
echo
"$CODEDAG" optimize "$DAG" --workers 4 --gpus 1 --export-dir results/demo-gpu
echo
echo "plan without a GPU (results/demo/plan.json):"
grep -E '"(default_device|cost|baseline_cost|predicted_speedup)"|": "(batch:cpu|cuda:[0-9]+)"' results/demo/plan.json || true
echo
echo "plan with one GPU (results/demo-gpu/plan.json):"
grep -E '"(default_device|cost|baseline_cost|predicted_speedup)"|": "(batch:cpu|cuda:[0-9]+)"' results/demo-gpu/plan.json || true
echo
echo "human-readable reports: results/demo/summary.md, results/demo-gpu/summary.md"
