"""The seed's monitoring scripts (examples/seed_monitoring), changed only in their import prefix,
run to completion and leave a valid result file and report."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import python_env

REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "docs/schemas/monitor_result.schema.json").read_text())


def run_example(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples/seed_monitoring", work)
    # The package under test, whichever these tests imported (installed, or a dev build).
    env = python_env(CODEDAG_HOME=str(tmp_path / "home"))
    return subprocess.run(
        [sys.executable, script], cwd=work, env=env, capture_output=True, text=True, timeout=240
    )


def test_seed_3_3_baseline_against_optimisation(tmp_path):
    proc = run_example(tmp_path, "monitor_example.py")
    assert proc.returncode == 0, proc.stderr
    results = list((tmp_path / "work/results").glob("BirdCLEF_2023_*.json"))
    assert len(results) == 1
    doc = json.loads(results[0].read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert list(doc["modes"]) == ["baseline", "optimization"]
    assert len(doc["modes"]["baseline"]["batch_times"]) == 2 * 16
    assert doc["modes"]["optimization"]["summary"]["loss"]["final"] is not None
    assert (tmp_path / "work/results" / (results[0].stem + "_report.html")).exists()
    assert (tmp_path / "work/results" / (results[0].stem + "_report.svg")).exists()
    assert "results saved to" in proc.stdout and "report written to" in proc.stdout


def test_seed_q4_monitor_without_optimising(tmp_path):
    proc = run_example(tmp_path, "baseline_only.py")
    assert proc.returncode == 0, proc.stderr
    (result,) = (tmp_path / "work/results").glob("baseline_only_*.json")
    doc = json.loads(result.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["modes"]["baseline"]["config"] == {}


def test_seed_7_2_birdclef_full_loop(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("seed §7.2 calls .cuda() on the model and batches: it needs a CUDA GPU")
    proc = run_example(tmp_path, "birdclef_experiment.py")
    assert proc.returncode == 0, proc.stderr
    (result,) = (tmp_path / "work/results").glob("BirdCLEF_2023_*.json")
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(result.read_text()))
