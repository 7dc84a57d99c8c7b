"""`codedag optimize` run as a subprocess: the printed plan, the files it writes, and bad input."""

import json
from pathlib import Path

import pytest

import codedag


@pytest.fixture
def audio(repo_root):
    return repo_root / "examples" / "dags" / "audio_pipeline.json"


def test_optimize_prints_the_plan_and_writes_files(run_cli, audio, tmp_path):
    out = tmp_path / "demo"
    plan_path = tmp_path / "plan.json"
    proc = run_cli("optimize", audio, "--workers", "4", "--export-dir", out, "-o", plan_path, check=True)
    text = proc.stdout
    for expected in [
        "CodeDAG optimize",
        "executors",
        "predicted speedup",
        "lower bound",
        "cost per batch",
        "✓",
    ]:
        assert expected in text, expected
    assert "batch:cpu" in text
    for name in ["dag.json", "coarsened_dag.json", "partitions.json", "plan.json", "dag.dot", "summary.md"]:
        assert (out / name).exists(), name
    plan = codedag.load_plan(str(plan_path))
    assert set(plan["context_device_map"].values()) <= {"batch:cpu"}
    assert plan["predicted_speedup"] > 1.0
    coarse = codedag.Dag.load(str(out / "coarsened_dag.json"))
    assert codedag.evaluate_plan(coarse, plan)["cost"] == pytest.approx(plan["cost"])
    assert "soundfile.read" not in plan["context_device_map"], "decoding cannot leave the workers"


LIBRARIES = ("torch.", "torchaudio.", "numpy.", "PIL.", "cv2.", "librosa.")


def test_optimize_with_a_gpu_moves_user_functions_only(run_cli, audio, tmp_path):
    plan_path = tmp_path / "plan.json"
    run_cli("optimize", audio, "--gpus", "1", "--workers", "4", "-o", plan_path, check=True)
    plan = json.loads(plan_path.read_text())
    moved = {k: v for k, v in plan["context_device_map"].items() if v != "cpu"}
    assert moved and set(moved.values()) == {"cuda:0"}
    assert plan["default_device"] == "cuda:0"
    # Library calls (torch.stft, ...) fold into the user function that makes them: the migrator
    # patches user code, never the library, so a plan key must name a user function (or a
    # library root with no user caller, such as the DataLoader's collate).
    roots = {n["qualname"] for n in json.loads(Path(audio).read_text())["nodes"] if n.get("parent") is None}
    under_user_code = [k for k in moved if k.startswith(LIBRARIES) and k not in roots]
    assert under_user_code == [], under_user_code
    assert all(plan["modes"][k] == "batched" for k in moved)


def test_optimize_with_a_device_model_file(run_cli, audio, tmp_path):
    model = codedag.DeviceModel.defaults(workers=8).to_dict()
    model["train_ns"]["batch:cpu"] = 500_000_000  # a slow training step dominates everything
    path = tmp_path / "device.json"
    path.write_text(json.dumps(model))
    proc = run_cli("optimize", audio, "--device-model", path, "-o", tmp_path / "p.json", check=True)
    assert "workers" in proc.stdout and "8" in proc.stdout
    plan = json.loads((tmp_path / "p.json").read_text())
    assert plan["cost"] >= 500_000_000


def test_bad_inputs_exit_2_with_a_clear_message(run_cli, audio, tmp_path):
    proc = run_cli("optimize", tmp_path / "missing.json")
    assert proc.returncode == 2 and "missing.json" in proc.stderr

    bad_model = tmp_path / "device.json"
    bad_model.write_text('{"schema": "codedag.device_model/1", "workers": -1}')
    proc = run_cli("optimize", audio, "--device-model", bad_model)
    assert proc.returncode == 2 and "workers" in proc.stderr and "✗" in proc.stderr

    proc = run_cli("optimize", audio, "--k", "1")
    assert proc.returncode == 2 and "--k: a whole number from 2" in proc.stderr

    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"schema": "codedag.dag/1", "nodes": [{"id": 1, "name": "a"}], "edges": [{"src": 1, "dst": 9}]}'
    )
    proc = run_cli("optimize", broken)
    assert proc.returncode == 2 and "edges[0]" in proc.stderr
    assert not (tmp_path / "plan.json").exists()


def test_an_empty_or_trivial_dag_is_refused_with_its_cause(run_cli, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"schema": "codedag.dag/1", "meta": {"producer": "codedag.EnhancedTracer",
                                                                     "unarmed_batches": 1},
                                 "nodes": [], "edges": []}))
    proc = run_cli("optimize", empty)
    assert proc.returncode == 2
    assert "0 contexts" in proc.stderr and "before any EnhancedTracer existed" in proc.stderr
    shown = run_cli("dag", "show", empty)
    assert shown.returncode == 1
    assert "✗" in shown.stdout + shown.stderr and "0 contexts" in shown.stdout + shown.stderr
    library = tmp_path / "library.json"
    node = {"id": 1, "name": "melspectrogram", "qualname": "librosa.feature.melspectrogram",
            "module": "librosa.feature", "kind": "python", "depth": 1, "calls": 4, "cpu_ns": 1e6,
            "total_ns": 1e6, "library": True}
    library.write_text(json.dumps({"schema": "codedag.dag/1", "meta": {}, "nodes": [node], "edges": []}))
    proc = run_cli("optimize", library)
    assert proc.returncode == 2 and "all work in library code" in proc.stderr
