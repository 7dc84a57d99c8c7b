"""`codedag dag svg` and the DAG section of `codedag report`, as a user runs them."""

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
AUDIO = REPO / "examples" / "dags" / "audio_pipeline.json"


def test_svg_of_a_dag_with_and_without_a_plan(run_cli, tmp_path):
    run_cli("optimize", AUDIO, "--gpus", "1", "-o", tmp_path / "plan.json", check=True)
    plan = json.loads((tmp_path / "plan.json").read_text())
    moved = set(plan["context_device_map"])
    assert moved, "the audio pipeline's GPU plan moves something"

    r = run_cli("dag", "svg", AUDIO, "--plan", tmp_path / "plan.json", "-o", tmp_path / "dag.svg", check=True)
    nodes = len(json.loads(AUDIO.read_text())["nodes"])
    assert f"wrote {tmp_path / 'dag.svg'}: {nodes} contexts" in r.stderr and "off the cpu workers" in r.stderr
    svg = (tmp_path / "dag.svg").read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert len(re.findall(r'class="node"', svg)) == nodes
    executors = set(re.findall(r'data-executor="([^"]+)"', svg))
    assert "cpu" in executors and executors & {"cuda:0", "batch:cpu"}
    assert 'class="data transfer"' in svg  # data crossing from the workers to the moved stage

    plain = run_cli("dag", "svg", AUDIO, "-o", "-", "--no-calls", check=True).stdout
    assert set(re.findall(r'data-executor="([^"]+)"', plain)) == {"cpu"} and 'class="call"' not in plain
    # The same input draws the same picture.
    assert plain == run_cli("dag", "svg", AUDIO, "-o", "-", "--no-calls", check=True).stdout


def test_svg_errors_and_empty_dags(run_cli, tmp_path):
    r = run_cli("dag", "svg", tmp_path / "missing.json", "-o", tmp_path / "x.svg")
    assert r.returncode == 2 and "missing.json" in r.stderr and not (tmp_path / "x.svg").exists()
    r = run_cli("dag", "svg", AUDIO)
    assert r.returncode != 0 and "--output" in r.stderr
    (tmp_path / "empty.json").write_text(json.dumps({"schema": "codedag.dag/1", "meta": {}, "nodes": [], "edges": []}))
    r = run_cli("dag", "svg", tmp_path / "empty.json", "-o", tmp_path / "empty.svg", check=True)
    assert "no context" in r.stderr and "empty DAG" in (tmp_path / "empty.svg").read_text()
    (tmp_path / "other_plan.json").write_text(json.dumps(
        {"schema": "codedag.plan/1", "context_device_map": {"somewhere.else": "cuda:0"},
         "cost": 1, "baseline_cost": 1, "predicted_speedup": 1}))
    r = run_cli("dag", "svg", AUDIO, "--plan", tmp_path / "other_plan.json", "-o", tmp_path / "o.svg", check=True)
    assert "moves no context of this DAG" in r.stderr


def test_report_draws_the_dag(run_cli, tmp_path):
    result = tmp_path / "result.json"
    result.write_text(json.dumps({
        "experiment_name": "demo", "timestamp": 1700000000.0, "datetime": "2023-11-14T22:13:20",
        "modes": {"baseline": {"config": {}, "batch_times": [[0, 0.2], [1, 0.21]],
                               "resource_usage": {"cpu_usage": [], "memory_usage": [], "gpu_usage": {}, "gpu_memory": {}},
                               "metrics": {"losses": [], "accuracies": []}}}}))
    run_cli("optimize", AUDIO, "--gpus", "1", "-o", tmp_path / "plan.json", check=True)
    run_cli("report", result, "--dag", AUDIO, "--plan", tmp_path / "plan.json", check=True)
    html = (tmp_path / "result_report.html").read_text()
    assert "<h2>Pipeline DAG</h2>" in html and 'class="codedag-dag"' in html and "<script" not in html
    r = run_cli("report", result, "--plan", tmp_path / "plan.json")
    assert r.returncode == 2 and "--dag" in r.stderr
