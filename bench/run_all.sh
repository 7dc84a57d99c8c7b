#!/usr/bin/env bash
# Runs every benchmark (bench/*_bench.py); each writes bench/results/<name>.json with CodeDAG's and
# its peers' figures measured side by side in the same run.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install -q --disable-pip-version-check -r bench/requirements.txt
mkdir -p bench/results
failed=()
for script in bench/*_bench.py; do
  echo "== $script"
  .venv/bin/python "$script" --out "bench/results/$(basename "$script" _bench.py).json" || failed+=("$script")
done
# The tracer again under every other interpreter `make test` built (.venv-py3.12, .venv-py3.13):
# its hook differs there (sys.monitoring), and so do the peers' costs.
for venv in .venv-py3.*; do
  [ -x "$venv/bin/python" ] || continue
  v=${venv#.venv-py}
  echo "== bench/tracer_bench.py under Python $v"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check viztracer
  "$venv/bin/python" bench/tracer_bench.py --out "bench/results/tracer-py$v.json" || failed+=("tracer_bench.py ($v)")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "✗ failed: ${failed[*]}"
  exit 1
fi
echo "✓ all benchmarks written to bench/results/"
