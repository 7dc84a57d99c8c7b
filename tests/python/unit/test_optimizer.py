"""The optimizer through the Python API: results, exports, plans, and clear errors for bad input."""

import json

import pytest

import codedag
from codedag.optimizer.optimizer_manager import OptimizerManager as SeedAlias

# A small pipeline: load (cpu only) -> crop -> stft -> mel -> collate, with a shared helper function.
PIPE = {
    "schema": "codedag.dag/1",
    "meta": {"batches": 1, "samples": 8, "workers": 2},
    "nodes": [
        {
            "id": 1,
            "name": "load",
            "qualname": "pkg.load",
            "calls": 8,
            "cpu_ns": 4_000_000,
            "out_bytes": 1_000_000,
        },
        {
            "id": 2,
            "name": "crop",
            "qualname": "pkg.crop",
            "calls": 8,
            "cpu_ns": 1_000_000,
            "gpu_eligible": True,
        },
        {
            "id": 3,
            "name": "stft",
            "qualname": "pkg.stft",
            "calls": 8,
            "cpu_ns": 20_000_000,
            "gpu_eligible": True,
        },
        {
            "id": 4,
            "name": "mel",
            "qualname": "pkg.mel",
            "calls": 8,
            "cpu_ns": 8_000_000,
            "gpu_eligible": True,
        },
        {
            "id": 5,
            "name": "helper",
            "qualname": "pkg.helper",
            "parent": 4,
            "depth": 1,
            "calls": 8,
            "cpu_ns": 500_000,
            "gpu_eligible": True,
        },
        {
            "id": 6,
            "name": "collate",
            "qualname": "pkg.collate",
            "calls": 1,
            "cpu_ns": 1_000_000,
            "gpu_eligible": True,
        },
    ],
    "edges": [
        {"src": 1, "dst": 2, "kind": "data", "bytes": 1_000_000, "count": 8},
        {"src": 2, "dst": 3, "kind": "data", "bytes": 500_000, "count": 8},
        {"src": 3, "dst": 4, "kind": "data", "bytes": 2_000_000, "count": 8},
        {"src": 4, "dst": 6, "kind": "data", "bytes": 200_000, "count": 8},
        {"src": 4, "dst": 5, "kind": "call", "count": 8},
    ],
}


@pytest.fixture
def dag():
    return codedag.Dag.from_dict(PIPE)


def test_optimize_returns_a_better_plan_than_all_cpu(dag):
    res = codedag.OptimizerManager(k=2, gpu_count=0).optimize(dag)
    assert set(res["optimized_partitions"]) == {n.id for n in res["coarsened_dag"].nodes}
    assert res["optimized_partitions"][1] == 0, "load is not eligible: it stays on cpu"
    assert res["cost"] < res["baseline_cost"]
    assert res["predicted_speedup"] == pytest.approx(res["baseline_cost"] / res["cost"])
    assert res["lower_bound"] <= res["cost"] + 1e-6
    assert res["proved_optimal"] and res["gap"] == pytest.approx(0.0)
    assert res["executors"][0] == "cpu" and set(res["executors"]) <= {"cpu", "batch:cpu"}
    assert isinstance(res["coarsened_dag"], codedag.Dag)


def test_coarsening_folds_deep_contexts_into_their_ancestor(dag):
    res = codedag.OptimizerManager(coarsen_max_depth=0, gpu_count=0).optimize(dag)
    coarse = res["coarsened_dag"]
    assert 5 not in coarse
    assert coarse.node(4).cpu_ns == 8_500_000  # helper's time now runs inside mel


def test_gpu_plan_and_evaluate_plan_agree(dag):
    opt = codedag.OptimizerManager(k=2, gpu_count=1)
    res = opt.optimize(dag)
    plan = res["plan"]
    assert "cuda:0" in plan["context_device_map"].values()
    assert plan["default_device"] == "cuda:0"
    score = codedag.evaluate_plan(res["coarsened_dag"], plan)
    assert score["cost"] == pytest.approx(res["cost"])
    assert set(score["stage_ns"]) >= {"cpu", "batch:cpu", "cuda:0"}
    assert score["bottleneck"] in score["stage_ns"]


def test_get_migration_plan_without_gpus_uses_the_main_process(dag):
    cpu_only = codedag.OptimizerManager(k=2, gpu_count=0)
    res = cpu_only.optimize(dag)
    plan = cpu_only.get_migration_plan(res["optimized_partitions"], res["coarsened_dag"], gpu_count=0)
    assert set(plan["context_device_map"].values()) == {"batch:cpu"}
    assert all(mode == "batched" for mode in plan["modes"].values()), "traced with workers: batched mode"
    assert plan["cost"] == pytest.approx(res["cost"])
    assert codedag.evaluate_plan(res["coarsened_dag"], plan)["cost"] == pytest.approx(plan["cost"])

    # A GPU plan on a machine without one: the moved partition lands on batch:cpu, or stays on cpu
    # when that would be slower than not moving at all — never an infeasible or worse plan.
    opt = codedag.OptimizerManager(k=2, gpu_count=1)
    gpu = opt.optimize(dag)
    fallback = opt.get_migration_plan(gpu["optimized_partitions"], gpu["coarsened_dag"], gpu_count=0)
    assert set(fallback["context_device_map"].values()) <= {"batch:cpu"}
    assert fallback["cost"] <= fallback["baseline_cost"]
    with_gpu = opt.get_migration_plan(gpu["optimized_partitions"], gpu["coarsened_dag"], gpu_count=1)
    assert with_gpu["cost"] == pytest.approx(gpu["cost"])


def test_export_dir_receives_every_file(dag, tmp_path):
    out = tmp_path / "results"
    codedag.OptimizerManager(gpu_count=1).optimize(dag, export_dir=str(out))
    for name in ["dag.json", "coarsened_dag.json", "partitions.json", "plan.json", "dag.dot", "summary.md"]:
        assert (out / name).stat().st_size > 0, name
    codedag.Dag.load(str(out / "dag.json"))
    codedag.Dag.load(str(out / "coarsened_dag.json"))
    plan = codedag.load_plan(str(out / "plan.json"))
    assert plan["schema"] == "codedag.plan/1"
    parts = json.loads((out / "partitions.json").read_text())
    assert parts["optimized_partitions"] and parts["cost"] == pytest.approx(plan["cost"])
    assert "predicted speedup" in (out / "summary.md").read_text()
    assert "digraph" in (out / "dag.dot").read_text()


def test_deterministic_for_a_seed():
    big = codedag.random_layered_dag(600, seed=3)
    a = codedag.OptimizerManager(k=3, gpu_count=2, seed=7).optimize(big)
    b = codedag.OptimizerManager(k=3, gpu_count=2, seed=7).optimize(big)
    assert a["optimized_partitions"] == b["optimized_partitions"]
    assert a["cost"] == b["cost"] and a["lower_bound"] <= a["cost"] * (1 + 1e-9)
    assert a["cost"] <= a["greedy_cost"] * (1 + 1e-9)


def test_plan_save_load_round_trip_and_validation(dag, tmp_path):
    res = codedag.OptimizerManager(gpu_count=1).optimize(dag)
    path = tmp_path / "plan.json"
    codedag.save_plan(res["plan"], str(path))
    assert codedag.load_plan(str(path))["context_device_map"] == res["plan"]["context_device_map"]
    bad = dict(res["plan"], context_device_map={"pkg.stft": "tpu:0"})
    with pytest.raises(codedag.FormatError, match="context_device_map.pkg.stft"):
        codedag.save_plan(bad, str(tmp_path / "bad.json"))
    assert not (tmp_path / "bad.json").exists(), "a rejected plan writes nothing"
    (tmp_path / "wrong.json").write_text('{"schema": "codedag.plan/9"}')
    with pytest.raises(codedag.FormatError, match="unknown schema"):
        codedag.load_plan(str(tmp_path / "wrong.json"))


def test_device_model_defaults_load_save(tmp_path):
    model = codedag.DeviceModel.defaults(workers=4)
    doc = model.to_dict()
    assert doc["schema"] == "codedag.device_model/1" and doc["workers"] == 4
    assert doc["transfer"]["cpu->batch:cpu"]["bytes_per_s"] is None
    path = tmp_path / "device.json"
    model.save(str(path))
    assert codedag.DeviceModel.load(str(path)).to_dict() == doc
    assert model.transfer_ns("batch:cpu", "cuda:0", 1.2e10, 1) == pytest.approx(1e9 + 10_000)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.update(workers=-1), "workers"),
        (lambda d: d["transfer"].update({"cpu->tpu": {"latency_ns": 1}}), "transfer.cpu->tpu"),
        (lambda d: d["transfer"]["default"].update(bytes_per_s=0), "bytes_per_s"),
        (lambda d: d["estimate"].update(gpu_speedup=-1), "estimate.gpu_speedup"),
        (lambda d: d["train_ns"].update(cpu=5), "train_ns.cpu"),
        (lambda d: d.update(colour="red"), "colour"),
    ],
)
def test_bad_device_model_is_rejected_naming_the_field(edit, match):
    doc = codedag.DeviceModel.defaults().to_dict()
    edit(doc)
    with pytest.raises(codedag.FormatError, match=match):
        codedag.OptimizerManager(device_model=doc)


def test_infeasible_plan_to_evaluate_names_the_constraint(dag):
    plan = {
        "schema": "codedag.plan/1",
        "context_device_map": {"pkg.load": "cuda:0"},
        "cost": 0,
        "baseline_cost": 0,
    }
    with pytest.raises(codedag.InfeasiblePlanError, match="non-eligible"):
        codedag.evaluate_plan(dag, plan)
    back = {
        "schema": "codedag.plan/1",
        "context_device_map": {"pkg.crop": "batch:cpu"},
        "cost": 0,
        "baseline_cost": 0,
    }
    with pytest.raises(codedag.InfeasiblePlanError, match="back to cpu"):
        codedag.evaluate_plan(dag, back)


def test_partitions_splitting_one_function_are_refused():
    doc = json.loads(json.dumps(PIPE))
    doc["nodes"][3]["qualname"] = "pkg.stft"  # mel shares stft's function object
    shared = codedag.Dag.from_dict(doc)
    opt = codedag.OptimizerManager(gpu_count=0)
    with pytest.raises(codedag.InfeasiblePlanError, match="one function, one executor"):
        opt.get_migration_plan({1: 0, 2: 1, 3: 1, 4: 2, 6: 2}, shared, gpu_count=1)
    with pytest.raises(codedag.InputError, match="not in the DAG"):
        opt.get_migration_plan({99: 1}, shared, gpu_count=1)


@pytest.mark.parametrize("k", [1, 0, -3, "2", 2.5, True])
def test_bad_k_is_a_clear_error(k):
    with pytest.raises(codedag.InputError, match="k must"):
        codedag.OptimizerManager(k=k)


def test_other_bad_arguments():
    with pytest.raises(codedag.InputError, match="algorithm"):
        codedag.OptimizerManager(algorithm="annealing")
    with pytest.raises(codedag.InputError, match="gpu_count"):
        codedag.OptimizerManager(gpu_count=-1)
    with pytest.raises(codedag.InputError, match="expected a codedag.Dag"):
        codedag.OptimizerManager(gpu_count=0).optimize(42)
    with pytest.raises(codedag.NotFoundError):
        codedag.OptimizerManager(gpu_count=0).optimize("/nonexistent/dag.json")


def test_seed_alias_module():
    assert SeedAlias is codedag.OptimizerManager


def test_bundled_audio_dag_moves_the_mel_stage_to_one_gpu():
    # AmplitudeToDB.forward is called directly from a __getitem__ that touches pandas: as a call
    # site of its own it no longer pins the STFT/mel stage to the workers (docs/optimizer.md).
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "examples" / "dags" / "audio_pipeline.json"
    cpu_only = codedag.OptimizerManager(gpu_count=0).optimize(str(path))
    gpu = codedag.OptimizerManager(gpu_count=1).optimize(str(path))
    placed = gpu["plan"]["context_device_map"]
    site = "birdclef.data.BirdDataset.__getitem__->torchaudio.transforms.AmplitudeToDB.forward"
    assert placed.get("birdclef.features.LogMel.__call__") == "cuda:0", placed
    assert placed.get(site) == "cuda:0", placed
    assert gpu["predicted_speedup"] > 1.5 * cpu_only["predicted_speedup"], (gpu["predicted_speedup"],
                                                                              cpu_only["predicted_speedup"])
    assert cpu_only["predicted_speedup"] >= 1.07
    for plan in (gpu["plan"], cpu_only["plan"]):
        for key in plan["context_device_map"]:
            assert key.startswith("birdclef.") and "default_collate" not in key, key
