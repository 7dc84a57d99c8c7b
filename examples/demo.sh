#!/usr/bin/env bash
# The main job (grows with each issue): for now, show the bundled DAG.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/codedag dag show tests/fuzz/corpus/dag_loader/valid_small.json
